/* The SQLite backend of the full-text index (fts_backend.h): FTS5 with the
 * trigram tokenizer over text we fold ourselves (the tokenizer's and LIKE's
 * folding are ASCII-only, so the table is case_sensitive and queries use
 * GLOB, which the trigram index answers and SQLite then checks against the
 * stored text: exact substring matches). detail=none keeps the postings
 * small; GLOB needs no positions. One file for one host, with the thread
 * tables beside, every batch of the indexer in one transaction. Not for the
 * store's data: everything here can be rebuilt from the store. */
#include "fts_backend.h"

#include "buffer.h"
#include "mem.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static sqlite3 *db_of(struct fts *fts)
{
	return fts->ctx;
}

static int fail(struct fts *fts, const char *what)
{
	return fts_set_error(fts, "%s: %s", what, sqlite3_errmsg(db_of(fts)));
}

int fts_sqlite_open(struct fts *fts, const char *path, bool create)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		fts_set_error(fts, "open %s: %s", path,
			      db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* WAL: searches never wait for the indexer; NORMAL survives kill -9,
	 * and a power loss costs at most a re-index of the last batch. */
	if (sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
			 "PRAGMA secure_delete = OFF;", NULL, NULL, NULL) != SQLITE_OK) {
		fts_set_error(fts, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (create) {
		char *msg = NULL;
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			fts_set_error(fts, "%s: schema: %s", path,
				      msg != NULL ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			goto fail;
		}
	} else {
		/* a reader of a file no indexer has made yet */
		sqlite3_stmt *st;
		bool ok = sqlite3_prepare_v2(db, "SELECT 1 FROM docs, positions LIMIT 0", -1,
					     &st, NULL) == SQLITE_OK;
		sqlite3_finalize(st);
		if (!ok) {
			fts_set_error(fts, "%s: no index yet", path);
			goto fail;
		}
	}
	fts->ctx = db;
	return 0;
fail:
	sqlite3_close(db);
	return -1;
}

static void sqlite_close(struct fts *fts)
{
	sqlite3_close_v2(db_of(fts));
	fts->ctx = NULL;
}

static int sqlite_begin(struct fts *fts, bool write)
{
	if (sqlite3_exec(db_of(fts), write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL,
			 NULL) != SQLITE_OK)
		return fail(fts, "begin");
	return 0;
}

static void sqlite_rollback(struct fts *fts)
{
	if (sqlite3_get_autocommit(db_of(fts)) == 0)
		sqlite3_exec(db_of(fts), "ROLLBACK", NULL, NULL, NULL);
}

static int sqlite_commit(struct fts *fts)
{
	if (sqlite3_exec(db_of(fts), "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail(fts, "commit");
		sqlite_rollback(fts);
		return -1;
	}
	return 0;
}

/* Cached statements: a handle runs a handful of them many times. */
static sqlite3_stmt *prepare(struct fts *fts, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(db_of(fts), sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
			       NULL) != SQLITE_OK) {
		fail(fts, "prepare");
		return NULL;
	}
	return st;
}

static int step_done(struct fts *fts, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(fts, what);
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

/* A statement with up to three text parameters, run to its end. */
static int exec_bound(struct fts *fts, const char *sql, const char *a, const char *b,
		      const char *c, const char *what)
{
	sqlite3_stmt *st = prepare(fts, sql);
	if (st == NULL)
		return -1;
	const char *args[] = { a, b, c };
	for (int i = 0; i < 3; i++)
		if (args[i] != NULL)
			sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	return step_done(fts, st, what);
}

static int sqlite_remove(struct fts *fts, const char *mailbox_id, uint32_t uid)
{
	sqlite3_stmt *st = prepare(fts, "SELECT id FROM docs WHERE mailbox = ?1 AND uid = ?2");
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
		return fail(fts, "remove");
	}
	sqlite3_int64 id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if ((st = prepare(fts, "DELETE FROM text WHERE rowid = ?1")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (step_done(fts, st, "remove text") < 0)
		return -1;
	if ((st = prepare(fts, "DELETE FROM docs WHERE id = ?1")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return step_done(fts, st, "remove doc");
}

static int sqlite_add(struct fts *fts, const char *mailbox_id, uint32_t uid,
		      const struct fts_doc *doc)
{
	if (sqlite_remove(fts, mailbox_id, uid) < 0)
		return -1;
	sqlite3_stmt *st = prepare(fts, "INSERT INTO docs (mailbox, uid, user, message, thread) "
				   "VALUES (?1, ?2, ?3, ?4, ?5)");
	if (st == NULL)
		return -1;
	bind_text(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	bind_text(st, 3, doc->user);
	bind_text(st, 4, doc->message);
	bind_text(st, 5, doc->thread);
	if (step_done(fts, st, "add doc") < 0)
		return -1;
	sqlite3_int64 id = sqlite3_last_insert_rowid(db_of(fts));
	st = prepare(fts, "INSERT INTO text (rowid, subject, hfrom, hto, hcc, hbcc, headers, body, "
		     "files) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	for (int i = 0; i < FTS_FIELD_COUNT; i++)
		sqlite3_bind_text(st, i + 2, doc->fields[i] != NULL ? doc->fields[i] : "", -1,
				  SQLITE_STATIC);
	return step_done(fts, st, "add text");
}

static int sqlite_remove_mailbox(struct fts *fts, const char *user_id, const char *mailbox_id)
{
	if (exec_bound(fts, "DELETE FROM text WHERE rowid IN (SELECT id FROM docs WHERE "
		       "mailbox = ?1 AND user = ?2)", mailbox_id, user_id, NULL,
		       "remove mailbox text") < 0)
		return -1;
	return exec_bound(fts, "DELETE FROM docs WHERE mailbox = ?1 AND user = ?2", mailbox_id,
			  user_id, NULL, "remove mailbox docs");
}

static int sqlite_remove_user(struct fts *fts, const char *user_id)
{
	if (exec_bound(fts, "DELETE FROM text WHERE rowid IN (SELECT id FROM docs WHERE user = ?1)",
		       user_id, NULL, NULL, "remove user text") < 0)
		return -1;
	return exec_bound(fts, "DELETE FROM docs WHERE user = ?1", user_id, NULL, NULL,
			  "remove user docs");
}

/* Inside the caller's transaction: dropping first is atomic with the adds. */
static int sqlite_reindex_start(struct fts *fts, const char *user_id)
{
	return sqlite_remove_user(fts, user_id);
}

static int sqlite_reindex_finish(struct fts *fts, const char *user_id)
{
	return 0;
}

static int sqlite_position_get(struct fts *fts, const char *user_id, int64_t *position_r,
			       bool *found_r)
{
	sqlite3_stmt *st = prepare(fts, "SELECT position FROM positions WHERE user = ?1");
	if (st == NULL)
		return -1;
	bind_text(st, 1, user_id);
	int rc = sqlite3_step(st);
	*found_r = rc == SQLITE_ROW;
	*position_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(fts, "position");
}

static int sqlite_position_set(struct fts *fts, const char *user_id, int64_t position)
{
	sqlite3_stmt *st = prepare(fts, "INSERT INTO positions (user, position, updated) "
				   "VALUES (?1, ?2, strftime('%s', 'now')) ON CONFLICT (user) DO "
				   "UPDATE SET position = excluded.position, updated = excluded.updated");
	if (st == NULL)
		return -1;
	bind_text(st, 1, user_id);
	sqlite3_bind_int64(st, 2, position);
	return step_done(fts, st, "position set");
}

static int sqlite_position_clear(struct fts *fts, const char *user_id)
{
	return exec_bound(fts, "DELETE FROM positions WHERE user = ?1", user_id, NULL, NULL,
			  "position clear");
}

static int collect_uids(struct fts *fts, sqlite3_stmt *st, uint32_t **uids_r, size_t *count_r)
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
		return fail(fts, "query");
	}
	*uids_r = uids;
	*count_r = n;
	return 0;
}

static int sqlite_indexed(struct fts *fts, const char *mailbox_id, uint32_t **uids_r,
			  size_t *count_r)
{
	sqlite3_stmt *st = prepare(fts, "SELECT uid FROM docs WHERE mailbox = ?1 ORDER BY uid");
	if (st == NULL)
		return -1;
	bind_text(st, 1, mailbox_id);
	return collect_uids(fts, st, uids_r, count_r);
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

static int sqlite_query(struct fts *fts, const char *mailbox_id, enum fts_field field,
			const char *folded, uint32_t **uids_r, size_t *count_r)
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
	sqlite3_stmt *st = prepare(fts, sql);
	if (st == NULL)
		return -1;
	char *pattern = glob_pattern(folded);
	bind_text(st, 1, mailbox_id);
	sqlite3_bind_text(st, 2, pattern, -1, SQLITE_TRANSIENT);
	free(pattern);
	return collect_uids(fts, st, uids_r, count_r);
}

static int sqlite_count(struct fts *fts, const char *user_id, uint64_t *count_r)
{
	sqlite3_stmt *st = prepare(fts, user_id != NULL ?
				   "SELECT count(*) FROM docs WHERE user = ?1" :
				   "SELECT count(*) FROM docs");
	if (st == NULL)
		return -1;
	if (user_id != NULL)
		bind_text(st, 1, user_id);
	int rc = sqlite3_step(st);
	*count_r = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(fts, "count");
}

static int sqlite_threads(struct fts *fts, const char *user_id, int64_t cursor,
			  unsigned int limit, fts_thread_cb *cb, void *ctx)
{
	/* SQLite takes the bare columns of a max() aggregate from its row */
	sqlite3_stmt *st = prepare(fts, "SELECT thread, count(*), mailbox, uid, max(id) AS last "
				   "FROM docs WHERE user = ?1 AND thread IS NOT NULL "
				   "GROUP BY thread HAVING ?2 = 0 OR last < ?2 "
				   "ORDER BY last DESC LIMIT ?3");
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
	return rc == SQLITE_DONE ? 0 : fail(fts, "threads");
}

/* ---- thread tables: thread_refs (user, message id -> thread) and
 * thread_subjects (user, normalised subject -> the thread that last used
 * it) ---- */

static int sqlite_thread_find(struct fts *fts, const char *user_id, const char *const *refs,
			      size_t count, fts_thread_found_cb *cb, void *ctx)
{
	sqlite3_stmt *st = prepare(fts, "SELECT thread FROM thread_refs WHERE user = ?1 AND "
				   "ref = ?2");
	if (st == NULL)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < count && ret == 0; i++) {
		sqlite3_reset(st);
		bind_text(st, 1, user_id);
		bind_text(st, 2, refs[i]);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			ret = cb((const char *)sqlite3_column_text(st, 0), ctx);
		else if (rc != SQLITE_DONE)
			ret = fail(fts, "thread find");
	}
	sqlite3_finalize(st);
	return ret < 0 ? -1 : 0;
}

static int sqlite_thread_subject_get(struct fts *fts, const char *user_id, const char *subject,
				     char thread_r[FTS_THREAD_SIZE], bool *found_r)
{
	sqlite3_stmt *st = prepare(fts, "SELECT thread FROM thread_subjects WHERE user = ?1 AND "
				   "subject = ?2");
	if (st == NULL)
		return -1;
	bind_text(st, 1, user_id);
	bind_text(st, 2, subject);
	int rc = sqlite3_step(st);
	*found_r = false;
	if (rc == SQLITE_ROW && strlen((const char *)sqlite3_column_text(st, 0)) < FTS_THREAD_SIZE) {
		snprintf(thread_r, FTS_THREAD_SIZE, "%s", sqlite3_column_text(st, 0));
		*found_r = true;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(fts, "thread subject");
}

static int sqlite_thread_link(struct fts *fts, const char *user_id, const char *thread,
			      const char *const *refs, size_t count, const char *subject)
{
	for (size_t i = 0; i < count; i++)
		if (exec_bound(fts, "INSERT INTO thread_refs (user, ref, thread) VALUES (?1, ?2, ?3) "
			       "ON CONFLICT (user, ref) DO UPDATE SET thread = excluded.thread",
			       user_id, refs[i], thread, "thread link") < 0)
			return -1;
	if (subject[0] != '\0' &&
	    exec_bound(fts, "INSERT INTO thread_subjects (user, subject, thread) VALUES (?1, ?2, ?3) "
		       "ON CONFLICT (user, subject) DO UPDATE SET thread = excluded.thread",
		       user_id, subject, thread, "thread subject") < 0)
		return -1;
	return 0;
}

static int sqlite_thread_move(struct fts *fts, const char *user_id, const char *from,
			      const char *to)
{
	if (exec_bound(fts, "UPDATE thread_refs SET thread = ?3 WHERE user = ?1 AND thread = ?2",
		       user_id, from, to, "thread move") < 0 ||
	    exec_bound(fts, "UPDATE thread_subjects SET thread = ?3 WHERE user = ?1 AND thread = ?2",
		       user_id, from, to, "thread move") < 0 ||
	    exec_bound(fts, "UPDATE docs SET thread = ?3 WHERE user = ?1 AND thread = ?2",
		       user_id, from, to, "thread move") < 0)
		return -1;
	return 0;
}

static int sqlite_thread_docs(struct fts *fts, const char *user_id, const char *thread,
			      fts_thread_doc_cb *cb, void *ctx)
{
	sqlite3_stmt *st = prepare(fts, "SELECT mailbox, uid FROM docs WHERE user = ?1 AND "
				   "thread = ?2");
	if (st == NULL)
		return -1;
	bind_text(st, 1, user_id);
	bind_text(st, 2, thread);
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		char mailbox[FTS_THREAD_SIZE];
		snprintf(mailbox, sizeof(mailbox), "%s", sqlite3_column_text(st, 0));
		if (cb(mailbox, (uint32_t)sqlite3_column_int64(st, 1), ctx) != 0)
			ret = fts_set_error(fts, "thread docs: stopped");
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(fts, "thread docs");
	sqlite3_finalize(st);
	return ret;
}

const struct fts_ops fts_sqlite_ops = {
	.name = "sqlite",
	.transactions = true,
	.close = sqlite_close,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.add = sqlite_add,
	.remove = sqlite_remove,
	.remove_mailbox = sqlite_remove_mailbox,
	.remove_user = sqlite_remove_user,
	.reindex_start = sqlite_reindex_start,
	.reindex_finish = sqlite_reindex_finish,
	.position_get = sqlite_position_get,
	.position_set = sqlite_position_set,
	.position_clear = sqlite_position_clear,
	.indexed = sqlite_indexed,
	.query = sqlite_query,
	.count = sqlite_count,
	.threads = sqlite_threads,
	.thread_find = sqlite_thread_find,
	.thread_subject_get = sqlite_thread_subject_get,
	.thread_link = sqlite_thread_link,
	.thread_move = sqlite_thread_move,
	.thread_docs = sqlite_thread_docs,
};
