/* The full-text index's dispatcher (one call per backend op, the error
 * text kept in the handle) and what does not depend on a backend: folding,
 * HTML to text, which strings the index can answer, and the per-thread
 * readers of IMAP and the API. */
#include "fts_backend.h"

#include "buffer.h"
#include "config.h"
#include "log.h"
#include "mem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

int fts_set_error(struct fts *fts, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fts->error, sizeof(fts->error), fmt, ap);
	va_end(ap);
	return -1;
}

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

size_t fts_uids_sort(uint32_t *uids, size_t count)
{
	if (count == 0)
		return 0;
	qsort(uids, count, sizeof(*uids), cmp_uid);
	size_t n = 1;
	for (size_t i = 1; i < count; i++)
		if (uids[i] != uids[n - 1])
			uids[n++] = uids[i];
	return n;
}

char *fts_path_from_config(const struct config *config)
{
	const char *p = config->indexer_settings.index_path;
	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s/%s", config->data_dir, p);
}

const char *fts_backend_from_config(const struct config *config)
{
	const char *b = config->indexer_settings.backend;
	if (b != NULL && strcmp(b, "sqlite") == 0)
		return "sqlite";
	if (b != NULL && strcmp(b, "mongodb") == 0)
		return "mongodb";
	return config->store.driver != NULL && strcmp(config->store.driver, "mongodb") == 0 ?
		"mongodb" : "sqlite";
}

static int open_with(const struct fts_ops *ops, const char *where, const char *database,
		     bool create, struct fts **fts_r, const char **error_r)
{
	static __thread char err[512];
	struct fts *fts = xcalloc(1, sizeof(*fts));
	fts->ops = ops;
	int ret = ops == &fts_sqlite_ops ? fts_sqlite_open(fts, where, create) :
		fts_mongodb_open(fts, where, database, create);
	if (ret < 0) {
		snprintf(err, sizeof(err), "%s", fts->error);
		*error_r = err;
		free(fts);
		return -1;
	}
	*fts_r = fts;
	return 0;
}

int fts_open(const char *path, bool create, struct fts **fts_r, const char **error_r)
{
	return open_with(&fts_sqlite_ops, path, NULL, create, fts_r, error_r);
}

int fts_open_mongodb(const char *uri, const char *database, bool create, struct fts **fts_r,
		     const char **error_r)
{
	return open_with(&fts_mongodb_ops, uri, database, create, fts_r, error_r);
}

int fts_open_config(const struct config *config, bool create, struct fts **fts_r,
		    const char **error_r)
{
	if (strcmp(fts_backend_from_config(config), "mongodb") == 0)
		return fts_open_mongodb(config->store.mongodb_uri, config->store.mongodb_database,
					create, fts_r, error_r);
	char *path = fts_path_from_config(config);
	int ret = fts_open(path, create, fts_r, error_r);
	free(path);
	return ret;
}

void fts_close(struct fts **fts)
{
	if (*fts == NULL)
		return;
	if ((*fts)->in_tx)
		fts_rollback(*fts);
	(*fts)->ops->close(*fts);
	free(*fts);
	*fts = NULL;
}

const char *fts_backend_name(const struct fts *fts)
{
	return fts->ops->name;
}

bool fts_transactional(const struct fts *fts)
{
	return fts->ops->transactions;
}

/* The dispatcher: the backend's result, its error text through error_r. */
#define CALL(fts, error_r, call) \
	do { \
		if ((fts)->ops->call < 0) { \
			*(error_r) = (fts)->error; \
			return -1; \
		} \
		return 0; \
	} while (0)

int fts_begin(struct fts *fts, bool write, const char **error_r)
{
	if (fts->ops->begin(fts, write) < 0) {
		*error_r = fts->error;
		return -1;
	}
	fts->in_tx = true;
	return 0;
}

int fts_commit(struct fts *fts, const char **error_r)
{
	fts->in_tx = false;
	CALL(fts, error_r, commit(fts));
}

void fts_rollback(struct fts *fts)
{
	fts->ops->rollback(fts);
	fts->in_tx = false;
}

int fts_add(struct fts *fts, const char *mailbox_id, uint32_t uid, const struct fts_doc *doc,
	    const char **error_r)
{
	CALL(fts, error_r, add(fts, mailbox_id, uid, doc));
}

int fts_remove(struct fts *fts, const char *mailbox_id, uint32_t uid, const char **error_r)
{
	CALL(fts, error_r, remove(fts, mailbox_id, uid));
}

int fts_remove_mailbox(struct fts *fts, const char *user_id, const char *mailbox_id,
		       const char **error_r)
{
	CALL(fts, error_r, remove_mailbox(fts, user_id, mailbox_id));
}

int fts_remove_user(struct fts *fts, const char *user_id, const char **error_r)
{
	CALL(fts, error_r, remove_user(fts, user_id));
}

int fts_reindex_start(struct fts *fts, const char *user_id, const char **error_r)
{
	CALL(fts, error_r, reindex_start(fts, user_id));
}

int fts_reindex_finish(struct fts *fts, const char *user_id, const char **error_r)
{
	CALL(fts, error_r, reindex_finish(fts, user_id));
}

int fts_position_get(struct fts *fts, const char *user_id, int64_t *position_r, bool *found_r,
		     const char **error_r)
{
	CALL(fts, error_r, position_get(fts, user_id, position_r, found_r));
}

int fts_position_set(struct fts *fts, const char *user_id, int64_t position,
		     const char **error_r)
{
	CALL(fts, error_r, position_set(fts, user_id, position));
}

int fts_position_clear(struct fts *fts, const char *user_id, const char **error_r)
{
	CALL(fts, error_r, position_clear(fts, user_id));
}

int fts_indexed(struct fts *fts, const char *mailbox_id, uint32_t **uids_r, size_t *count_r,
		const char **error_r)
{
	CALL(fts, error_r, indexed(fts, mailbox_id, uids_r, count_r));
}

int fts_query(struct fts *fts, const char *mailbox_id, enum fts_field field,
	      const char *folded, uint32_t **uids_r, size_t *count_r, const char **error_r)
{
	if (fts->ops->query(fts, mailbox_id, field, folded, uids_r, count_r) < 0) {
		*error_r = fts->error;
		return -1;
	}
	log_debug("event=fts_query backend=%s mailbox=%s field=%d hits=%zu", fts->ops->name,
		  mailbox_id, (int)field, *count_r);
	return 0;
}

int fts_count(struct fts *fts, const char *user_id, uint64_t *count_r, const char **error_r)
{
	CALL(fts, error_r, count(fts, user_id, count_r));
}

int fts_threads(struct fts *fts, const char *user_id, int64_t cursor, unsigned int limit,
		fts_thread_cb *cb, void *ctx, const char **error_r)
{
	CALL(fts, error_r, threads(fts, user_id, cursor, limit, cb, ctx));
}

int fts_thread_find(struct fts *fts, const char *user_id, const char *const *refs, size_t count,
		    fts_thread_found_cb *cb, void *ctx, const char **error_r)
{
	CALL(fts, error_r, thread_find(fts, user_id, refs, count, cb, ctx));
}

int fts_thread_subject_get(struct fts *fts, const char *user_id, const char *subject,
			   char thread_r[FTS_THREAD_SIZE], bool *found_r, const char **error_r)
{
	CALL(fts, error_r, thread_subject_get(fts, user_id, subject, thread_r, found_r));
}

int fts_thread_link(struct fts *fts, const char *user_id, const char *thread,
		    const char *const *refs, size_t count, const char *subject,
		    const char **error_r)
{
	CALL(fts, error_r, thread_link(fts, user_id, thread, refs, count, subject));
}

int fts_thread_move(struct fts *fts, const char *user_id, const char *from, const char *to,
		    const char **error_r)
{
	CALL(fts, error_r, thread_move(fts, user_id, from, to));
}

int fts_thread_docs(struct fts *fts, const char *user_id, const char *thread,
		    fts_thread_doc_cb *cb, void *ctx, const char **error_r)
{
	CALL(fts, error_r, thread_docs(fts, user_id, thread, cb, ctx));
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
	/* a shared index (mongodb) is read even where this host runs no
	 * indexer: another host's keeps it */
	if (config == NULL ||
	    (!config->indexer.enabled && strcmp(fts_backend_from_config(config), "sqlite") == 0))
		return NULL;
	pthread_once(&reader_once, reader_key_make);
	struct fts *fts = pthread_getspecific(reader_key);
	if (fts != NULL || time(NULL) < next_try)
		return fts;
	const char *error;
	if (fts_open_config(config, false, &fts, &error) < 0) {
		log_debug("event=fts_unavailable error=\"%s\"", error);
		/* a missing SQLite file costs one failed open to find again, and
		 * the indexer makes it any moment: only a server is left alone */
		if (strcmp(fts_backend_from_config(config), "sqlite") != 0)
			next_try = time(NULL) + 5;
		fts = NULL;
	} else {
		pthread_setspecific(reader_key, fts);
	}
	return fts;
}
