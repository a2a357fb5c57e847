/* The full-text index in SQLite: FTS5 with the trigram tokenizer over text
 * we fold ourselves (the tokenizer's and LIKE's folding are ASCII-only, so
 * the table is case_sensitive and queries use GLOB, which the trigram index
 * answers and SQLite then checks against the stored text: exact substring
 * matches). detail=none keeps the postings small; GLOB needs no positions.
 * Not for the store's data: everything here can be rebuilt from the store. */
#include "fts.h"

#include "buffer.h"
#include "config.h"
#include "mem.h"

#include "log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

#define BUSY_TIMEOUT_MS 10000

static const char *const field_columns[FTS_FIELD_COUNT] = {
	"subject", "hfrom", "hto", "hcc", "hbcc", "headers", "body", "files",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, mailbox TEXT NOT NULL,"
	" uid INTEGER NOT NULL, user TEXT NOT NULL, message TEXT, thread TEXT,"
	" UNIQUE (mailbox, uid));"
	"CREATE INDEX IF NOT EXISTS docs_user ON docs (user);"
	"CREATE INDEX IF NOT EXISTS docs_thread ON docs (thread);"
	"CREATE VIRTUAL TABLE IF NOT EXISTS text USING fts5(subject, hfrom, hto, hcc, hbcc,"
	" headers, body, files, tokenize = 'trigram case_sensitive 1', detail = none);"
	"CREATE TABLE IF NOT EXISTS positions (user TEXT PRIMARY KEY,"
	" position INTEGER NOT NULL, updated INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS thread_refs (user TEXT NOT NULL, ref TEXT NOT NULL,"
	" thread TEXT NOT NULL, PRIMARY KEY (user, ref)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS thread_refs_thread ON thread_refs (thread);"
	"CREATE TABLE IF NOT EXISTS thread_subjects (user TEXT NOT NULL, subject TEXT NOT NULL,"
	" thread TEXT NOT NULL, PRIMARY KEY (user, subject)) WITHOUT ROWID;";

struct fts {
	sqlite3 *db;
	bool in_tx;
	char error[256];
};

static int fail(struct fts *fts, const char *what, const char **error_r)
{
	snprintf(fts->error, sizeof(fts->error), "%s: %s", what, sqlite3_errmsg(fts->db));
	*error_r = fts->error;
	return -1;
}

char *fts_path_from_config(const struct config *config)
{
	const char *p = config->indexer_settings.index_path;
	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s/%s", config->data_dir, p);
}

int fts_open(const char *path, bool create, struct fts **fts_r, const char **error_r)
{
	static __thread char err[512];
	struct fts *fts = xcalloc(1, sizeof(*fts));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &fts->db, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, sizeof(err), "open %s: %s", path,
			 fts->db != NULL ? sqlite3_errmsg(fts->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(fts->db, BUSY_TIMEOUT_MS);
	/* WAL: searches never wait for the indexer; NORMAL survives kill -9,
	 * and a power loss costs at most a re-index of the last batch. */
	if (sqlite3_exec(fts->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
			 "PRAGMA secure_delete = OFF;", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, sizeof(err), "%s: %s", path, sqlite3_errmsg(fts->db));
		goto fail;
	}
	if (create) {
		char *msg = NULL;
		if (sqlite3_exec(fts->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(fts->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(fts->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, sizeof(err), "%s: schema: %s", path,
				 msg != NULL ? msg : sqlite3_errmsg(fts->db));
			sqlite3_free(msg);
			goto fail;
		}
	} else {
		/* a reader of a file no indexer has made yet */
		sqlite3_stmt *st;
		bool ok = sqlite3_prepare_v2(fts->db, "SELECT 1 FROM docs, positions LIMIT 0", -1,
					     &st, NULL) == SQLITE_OK;
		sqlite3_finalize(st);
		if (!ok) {
			snprintf(err, sizeof(err), "%s: no index yet", path);
			goto fail;
		}
	}
	*fts_r = fts;
	return 0;
fail:
	sqlite3_close(fts->db);
	free(fts);
	*error_r = err;
	return -1;
}

void fts_close(struct fts **fts)
{
	if (*fts == NULL)
		return;
	if ((*fts)->in_tx)
		fts_rollback(*fts);
	sqlite3_close_v2((*fts)->db);
	free(*fts);
	*fts = NULL;
}

sqlite3 *fts_db(struct fts *fts)
{
	return fts->db;
}

int fts_begin(struct fts *fts, bool write, const char **error_r)
{
	if (sqlite3_exec(fts->db, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return fail(fts, "begin", error_r);
	fts->in_tx = true;
	return 0;
}

int fts_commit(struct fts *fts, const char **error_r)
{
	if (sqlite3_exec(fts->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail(fts, "commit", error_r);
		fts_rollback(fts);
		return -1;
	}
	fts->in_tx = false;
	return 0;
}

void fts_rollback(struct fts *fts)
{
	if (sqlite3_get_autocommit(fts->db) == 0)
		sqlite3_exec(fts->db, "ROLLBACK", NULL, NULL, NULL);
	fts->in_tx = false;
}

/* Cached statements: a handle runs a handful of them many times. */
static sqlite3_stmt *prepare(struct fts *fts, const char *sql, const char **error_r)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(fts->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		fail(fts, "prepare", error_r);
		return NULL;
	}
	return st;
}

static int step_done(struct fts *fts, sqlite3_stmt *st, const char *what, const char **error_r)
{
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(fts, what, error_r);
	sqlite3_finalize(st);
	return ret;
}

static void bind_text(sqlite3_stmt *st, int idx, const char *text)
{
	if (text == NULL)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_text(st, idx, text, -1, SQLITE_STATIC);
}

int fts_remove(struct fts *fts, const char *mailbox_id, uint32_t uid, const char **error_r)
{
	sqlite3_stmt *st = prepare(fts, "SELECT id FROM docs WHERE mailbox = ?1 AND uid = ?2",
				   error_r);
	if (st == NULL)
		return -1;
	bind_text(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return fail(fts, "remove", error_r);
	}
	sqlite3_int64 id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if ((st = prepare(fts, "DELETE FROM text WHERE rowid = ?1", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (step_done(fts, st, "remove text", error_r) < 0)
		return -1;
	if ((st = prepare(fts, "DELETE FROM docs WHERE id = ?1", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return step_done(fts, st, "remove doc", error_r);
}

int fts_add(struct fts *fts, const char *mailbox_id, uint32_t uid, const struct fts_doc *doc,
	    const char **error_r)
{
	if (fts_remove(fts, mailbox_id, uid, error_r) < 0)
		return -1;
	sqlite3_stmt *st = prepare(fts, "INSERT INTO docs (mailbox, uid, user, message, thread) "
				   "VALUES (?1, ?2, ?3, ?4, ?5)", error_r);
	if (st == NULL)
		return -1;
	bind_text(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	bind_text(st, 3, doc->user);
	bind_text(st, 4, doc->message);
	bind_text(st, 5, doc->thread);
	if (step_done(fts, st, "add doc", error_r) < 0)
		return -1;
	sqlite3_int64 id = sqlite3_last_insert_rowid(fts->db);
	st = prepare(fts, "INSERT INTO text (rowid, subject, hfrom, hto, hcc, hbcc, headers, body, "
		     "files) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	for (int i = 0; i < FTS_FIELD_COUNT; i++)
		sqlite3_bind_text(st, i + 2, doc->fields[i] != NULL ? doc->fields[i] : "", -1,
				  SQLITE_STATIC);
	return step_done(fts, st, "add text", error_r);
}

int fts_remove_user(struct fts *fts, const char *user_id, const char **error_r)
{
	sqlite3_stmt *st = prepare(fts, "DELETE FROM text WHERE rowid IN "
				   "(SELECT id FROM docs WHERE user = ?1)", error_r);
	if (st == NULL)
		return -1;
	bind_text(st, 1, user_id);
	if (step_done(fts, st, "remove user text", error_r) < 0)
		return -1;
	if ((st = prepare(fts, "DELETE FROM docs WHERE user = ?1", error_r)) == NULL)
		return -1;
	bind_text(st, 1, user_id);
	return step_done(fts, st, "remove user docs", error_r);
}

int fts_position_get(struct fts *fts, const char *user_id, int64_t *position_r, bool *found_r,
		     const char **error_r)
{
	sqlite3_stmt *st = prepare(fts, "SELECT position FROM positions WHERE user = ?1", error_r);
	if (st == NULL)
		return -1;
	bind_text(st, 1, user_id);
	int rc = sqlite3_step(st);
	*found_r = rc == SQLITE_ROW;
	*position_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(fts, "position", error_r);
}

int fts_position_set(struct fts *fts, const char *user_id, int64_t position,
		     const char **error_r)
{
	sqlite3_stmt *st = prepare(fts, "INSERT INTO positions (user, position, updated) "
				   "VALUES (?1, ?2, strftime('%s', 'now')) ON CONFLICT (user) DO "
				   "UPDATE SET position = excluded.position, updated = excluded.updated",
				   error_r);
	if (st == NULL)
		return -1;
	bind_text(st, 1, user_id);
	sqlite3_bind_int64(st, 2, position);
	return step_done(fts, st, "position set", error_r);
}

int fts_position_clear(struct fts *fts, const char *user_id, const char **error_r)
{
	sqlite3_stmt *st = prepare(fts, "DELETE FROM positions WHERE user = ?1", error_r);
	if (st == NULL)
		return -1;
	bind_text(st, 1, user_id);
	return step_done(fts, st, "position clear", error_r);
}

static int collect_uids(struct fts *fts, sqlite3_stmt *st, uint32_t **uids_r, size_t *count_r,
			const char **error_r)
{
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			uids = xrealloc(uids, cap * sizeof(*uids));
		}
		uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(uids);
		return fail(fts, "query", error_r);
	}
	*uids_r = uids;
	*count_r = n;
	return 0;
}

int fts_indexed(struct fts *fts, const char *mailbox_id, uint32_t **uids_r, size_t *count_r,
		const char **error_r)
{
	sqlite3_stmt *st = prepare(fts, "SELECT uid FROM docs WHERE mailbox = ?1 ORDER BY uid",
				   error_r);
	if (st == NULL)
		return -1;
	bind_text(st, 1, mailbox_id);
	return collect_uids(fts, st, uids_r, count_r, error_r);
}

bool fts_query_usable(const char *folded)
{
	if (strchr(folded, FTS_SEP) != NULL)
		return false;
	size_t len = strlen(folded);
	if (u8_check((const uint8_t *)folded, len) != NULL)
		return false;
	return u8_mbsnlen((const uint8_t *)folded, len) >= FTS_MIN_CHARS;
}

/* "*str*" with GLOB's special characters as one-character classes. */
static char *glob_pattern(const char *s)
{
	struct buffer b = BUFFER_INIT;
	buffer_append_c(&b, '*');
	for (; *s != '\0'; s++) {
		if (*s == '*' || *s == '?' || *s == '[') {
			buffer_append_c(&b, '[');
			buffer_append_c(&b, (unsigned char)*s);
			buffer_append_c(&b, ']');
		} else {
			buffer_append_c(&b, (unsigned char)*s);
		}
	}
	buffer_append_c(&b, '*');
	return buffer_steal(&b, NULL);
}

int fts_query(struct fts *fts, const char *mailbox_id, enum fts_field field,
	      const char *folded, uint32_t **uids_r, size_t *count_r, const char **error_r)
{
	char sql[512];
	if (field == FTS_TEXT)
		snprintf(sql, sizeof(sql), "SELECT uid FROM docs WHERE mailbox = ?1 AND id IN "
			 "(SELECT rowid FROM text WHERE headers GLOB ?2 UNION "
			 "SELECT rowid FROM text WHERE body GLOB ?2) ORDER BY uid");
	else
		snprintf(sql, sizeof(sql), "SELECT uid FROM docs WHERE mailbox = ?1 AND id IN "
			 "(SELECT rowid FROM text WHERE %s GLOB ?2) ORDER BY uid",
			 field_columns[field]);
	sqlite3_stmt *st = prepare(fts, sql, error_r);
	if (st == NULL)
		return -1;
	char *pattern = glob_pattern(folded);
	bind_text(st, 1, mailbox_id);
	sqlite3_bind_text(st, 2, pattern, -1, SQLITE_TRANSIENT);
	free(pattern);
	return collect_uids(fts, st, uids_r, count_r, error_r);
}

int fts_count(struct fts *fts, const char *user_id, uint64_t *count_r, const char **error_r)
{
	sqlite3_stmt *st = prepare(fts, user_id != NULL ?
				   "SELECT count(*) FROM docs WHERE user = ?1" :
				   "SELECT count(*) FROM docs", error_r);
	if (st == NULL)
		return -1;
	if (user_id != NULL)
		bind_text(st, 1, user_id);
	int rc = sqlite3_step(st);
	*count_r = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(fts, "count", error_r);
}

char *fts_fold(const char *text, size_t len, size_t *len_r)
{
	size_t out_len = 0;
	uint8_t *out = u8_casefold((const uint8_t *)text, len, NULL, UNINORM_NFC, NULL, &out_len);
	if (out == NULL)
		return NULL;
	out = realloc(out, out_len + 1);
	if (out == NULL)
		abort();
	out[out_len] = '\0';
	if (len_r != NULL)
		*len_r = out_len;
	return (char *)out;
}

/* ---- HTML to text ---- */

static const char *const inline_tags[] = {
	"a", "b", "i", "u", "s", "em", "strong", "span", "font", "small", "big", "sub", "sup",
	"code", "abbr", "cite", "q", "mark", "tt", "strike", "del", "ins", "label", "wbr", NULL,
};

static const struct {
	const char *name;
	const char *utf8;
} entities[] = {
	{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" }, { "apos", "'" },
	{ "nbsp", "\xc2\xa0" }, { "copy", "\xc2\xa9" }, { "reg", "\xc2\xae" },
	{ "euro", "\xe2\x82\xac" }, { "hellip", "\xe2\x80\xa6" }, { "mdash", "\xe2\x80\x94" },
	{ "ndash", "\xe2\x80\x93" }, { "laquo", "\xc2\xab" }, { "raquo", "\xc2\xbb" },
	{ "lsquo", "\xe2\x80\x98" }, { "rsquo", "\xe2\x80\x99" }, { "ldquo", "\xe2\x80\x9c" },
	{ "rdquo", "\xe2\x80\x9d" }, { "bull", "\xe2\x80\xa2" }, { "middot", "\xc2\xb7" },
	{ "auml", "\xc3\xa4" }, { "ouml", "\xc3\xb6" }, { "uuml", "\xc3\xbc" },
	{ "Auml", "\xc3\x84" }, { "Ouml", "\xc3\x96" }, { "Uuml", "\xc3\x9c" },
	{ "szlig", "\xc3\x9f" }, { "eacute", "\xc3\xa9" }, { "egrave", "\xc3\xa8" },
	{ NULL, NULL },
};

/* Decodes the entity at html[i] ('&'); returns bytes consumed, 0 if none. */
static size_t html_entity(const char *html, size_t len, size_t i, struct buffer *out)
{
	size_t j = i + 1;
	while (j < len && j - i < 12 && html[j] != ';' &&
	       ((html[j] >= 'a' && html[j] <= 'z') || (html[j] >= 'A' && html[j] <= 'Z') ||
		(html[j] >= '0' && html[j] <= '9') || html[j] == '#'))
		j++;
	if (j >= len || html[j] != ';' || j == i + 1)
		return 0;
	const char *name = html + i + 1;
	size_t nlen = j - i - 1;
	if (name[0] == '#') {
		char num[16];
		if (nlen < 2 || nlen > sizeof(num) - 1)
			return 0;
		memcpy(num, name + 1, nlen - 1);
		num[nlen - 1] = '\0';
		char *end;
		unsigned long cp = num[0] == 'x' || num[0] == 'X' ? strtoul(num + 1, &end, 16)
								   : strtoul(num, &end, 10);
		if (*end != '\0' || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		uint8_t u[6];
		int n = u8_uctomb(u, (ucs4_t)cp, sizeof(u));
		if (n <= 0)
			return 0;
		buffer_append(out, u, (size_t)n);
		return j - i + 1;
	}
	for (size_t e = 0; entities[e].name != NULL; e++) {
		if (strlen(entities[e].name) == nlen && memcmp(entities[e].name, name, nlen) == 0) {
			buffer_append_str(out, entities[e].utf8);
			return j - i + 1;
		}
	}
	return 0;
}

static bool tag_is(const char *tag, size_t tlen, const char *name)
{
	return strlen(name) == tlen && strncasecmp(tag, name, tlen) == 0;
}

void fts_html_text(const char *html, size_t len, struct buffer *out)
{
	size_t i = 0;
	while (i < len) {
		char c = html[i];
		if (c == '&') {
			size_t n = html_entity(html, len, i, out);
			if (n > 0) {
				i += n;
				continue;
			}
			buffer_append_c(out, '&');
			i++;
			continue;
		}
		if (c != '<') {
			buffer_append_c(out, (unsigned char)c);
			i++;
			continue;
		}
		if (len - i >= 4 && memcmp(html + i, "<!--", 4) == 0) {
			const char *end = memmem(html + i + 4, len - i - 4, "-->", 3);
			i = end != NULL ? (size_t)(end - html) + 3 : len;
			continue;
		}
		size_t j = i + 1;
		bool closing = j < len && html[j] == '/';
		if (closing)
			j++;
		size_t name_start = j;
		while (j < len && ((html[j] >= 'a' && html[j] <= 'z') ||
				   (html[j] >= 'A' && html[j] <= 'Z') || (html[j] >= '0' && html[j] <= '9')))
			j++;
		size_t name_len = j - name_start;
		if (name_len == 0 && !(j < len && (html[j] == '!' || html[j] == '?'))) {
			buffer_append_c(out, '<'); /* a lone '<' in text */
			i++;
			continue;
		}
		/* the end of the tag, skipping quoted attribute values */
		char quote = 0;
		while (j < len && (quote != 0 || html[j] != '>')) {
			if (quote != 0 && html[j] == quote)
				quote = 0;
			else if (quote == 0 && (html[j] == '"' || html[j] == '\''))
				quote = html[j];
			j++;
		}
		const char *name = html + name_start;
		i = j < len ? j + 1 : len;
		if (!closing && (tag_is(name, name_len, "script") || tag_is(name, name_len, "style"))) {
			/* skip to the matching end tag */
			char endtag[10];
			snprintf(endtag, sizeof(endtag), "</%.*s", (int)name_len, name);
			size_t k = i;
			while (k < len && !(len - k >= name_len + 2 &&
					    strncasecmp(html + k, endtag, name_len + 2) == 0))
				k++;
			while (k < len && html[k] != '>')
				k++;
			i = k < len ? k + 1 : len;
			continue;
		}
		bool is_inline = false;
		for (size_t t = 0; inline_tags[t] != NULL; t++)
			if (tag_is(name, name_len, inline_tags[t]))
				is_inline = true;
		if (!is_inline && name_len > 0)
			buffer_append_c(out, '\n');
	}
}

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_close(void *p)
{
	struct fts *fts = p;
	fts_close(&fts);
}

static void reader_key_make(void)
{
	(void)pthread_key_create(&reader_key, reader_close);
}

struct fts *fts_thread_reader(const struct config *config)
{
	static __thread time_t next_try;
	if (config == NULL || !config->indexer.enabled)
		return NULL;
	pthread_once(&reader_once, reader_key_make);
	struct fts *fts = pthread_getspecific(reader_key);
	if (fts != NULL || time(NULL) < next_try)
		return fts;
	char *path = fts_path_from_config(config);
	const char *error;
	if (fts_open(path, false, &fts, &error) < 0) {
		log_debug("event=fts_unavailable error=\"%s\"", error);
		next_try = time(NULL) + 5;
		fts = NULL;
	} else {
		pthread_setspecific(reader_key, fts);
	}
	free(path);
	return fts;
}

int fts_threads(struct fts *fts, const char *user_id, int64_t cursor, unsigned int limit,
		fts_thread_cb *cb, void *ctx, const char **error_r)
{
	/* SQLite takes the bare columns of a max() aggregate from its row */
	sqlite3_stmt *st = prepare(fts, "SELECT thread, count(*), mailbox, uid, max(id) AS last "
				   "FROM docs WHERE user = ?1 AND thread IS NOT NULL "
				   "GROUP BY thread HAVING ?2 = 0 OR last < ?2 "
				   "ORDER BY last DESC LIMIT ?3", error_r);
	if (st == NULL)
		return -1;
	bind_text(st, 1, user_id);
	sqlite3_bind_int64(st, 2, cursor);
	sqlite3_bind_int64(st, 3, limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct fts_thread_row row = {
			.thread = (const char *)sqlite3_column_text(st, 0),
			.messages = (uint64_t)sqlite3_column_int64(st, 1),
			.mailbox = (const char *)sqlite3_column_text(st, 2),
			.uid = (uint32_t)sqlite3_column_int64(st, 3),
			.last = sqlite3_column_int64(st, 4),
		};
		if (cb(&row, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(fts, "threads", error_r);
	return 0;
}
