/* The full-text index: folded message text (NFC + u8_casefold) keyed by
 * (mailbox id, uid), the indexer's journal position per user, and the
 * thread tables (lib/thread.h), behind one of two backends (indexer.backend):
 * an SQLite file with an FTS5 trigram table for one host (fts_sqlite.c), or
 * collections of the store's MongoDB database that every host shares
 * (fts_mongodb.c: trigram arrays, then an exact check). wd-indexer writes
 * it; IMAP SEARCH and the API only query it. Answers are exact substring
 * matches either way. It is not the store: losing it loses nothing (wdctl
 * reindex rebuilds it). */
#ifndef WD_FTS_H
#define WD_FTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct buffer;
struct fts;

/* The searchable fields, one FTS5 column each. HEADERS is every header
 * value (TEXT and HEADER ""), BODY the decoded text/plain and the text of
 * text/html parts. Pieces of one field (two From: fields, raw and decoded
 * values, two text parts) are joined by FTS_SEP, which is why a search
 * string containing it is not answered by the index. */
enum fts_field {
	FTS_SUBJECT,
	FTS_FROM,
	FTS_TO,
	FTS_CC,
	FTS_BCC,
	FTS_HEADERS,
	FTS_BODY,
	FTS_FILES,	/* attachment file names (the API; IMAP has no key) */
	FTS_FIELD_COUNT,
	/* queries only: HEADERS or BODY (IMAP TEXT) */
	FTS_TEXT = FTS_FIELD_COUNT,
};
#define FTS_SEP '\n'
/* Search strings shorter than this (in code points, folded) use a scan. */
#define FTS_MIN_CHARS 3

/* One message's folded text, and where it lives. */
struct fts_doc {
	const char *user;		/* user id */
	const char *message;		/* message id in the store, may be NULL */
	const char *thread;		/* thread id, may be NULL */
	const char *fields[FTS_FIELD_COUNT];	/* folded text, NULL: "" */
};

/* The index file of a config: indexer.index_path, relative to data_dir;
 * allocated. */
char *fts_path_from_config(const struct config *config);
/* The backend a config selects: "sqlite" or "mongodb" (indexer.backend;
 * auto: mongodb when store.driver is mongodb). */
const char *fts_backend_from_config(const struct config *config);

/* Opens (create: making the file or collections' indexes if missing) the
 * index of the config's backend: the SQLite file at fts_path_from_config(),
 * or the database store.mongodb_database at store.mongodb_uri. A handle
 * belongs to one thread. Never open before fork(). */
int fts_open_config(const struct config *config, bool create, struct fts **fts_r,
		    const char **error_r);
/* The SQLite backend on a file. */
int fts_open(const char *path, bool create, struct fts **fts_r, const char **error_r);
/* The MongoDB backend on a database (database NULL or "": "wildduck"). */
int fts_open_mongodb(const char *uri, const char *database, bool create, struct fts **fts_r,
		     const char **error_r);
void fts_close(struct fts **fts);
/* "sqlite" or "mongodb". */
const char *fts_backend_name(const struct fts *fts);
/* Whether fts_begin()/fts_commit() make a batch atomic (SQLite). Without
 * (MongoDB) every write stands on its own and is idempotent: the indexer
 * writes the position last, so a crash re-applies a batch harmlessly, and a
 * rollback undoes nothing. */
bool fts_transactional(const struct fts *fts);

/* Write transactions (BEGIN IMMEDIATE, waiting for other writers) and read
 * snapshots (BEGIN): queries inside one see one state of the index. No-ops
 * on MongoDB (see fts_transactional()). */
int fts_begin(struct fts *fts, bool write, const char **error_r);
int fts_commit(struct fts *fts, const char **error_r);
void fts_rollback(struct fts *fts);

/* Adds or replaces the message (mailbox, uid). */
int fts_add(struct fts *fts, const char *mailbox_id, uint32_t uid, const struct fts_doc *doc,
	    const char **error_r);
/* Removes it (expunged); removing what is not there is no error. */
int fts_remove(struct fts *fts, const char *mailbox_id, uint32_t uid, const char **error_r);
/* Removes every message of a deleted mailbox of the user. */
int fts_remove_mailbox(struct fts *fts, const char *user_id, const char *mailbox_id,
		       const char **error_r);
/* Removes every message of a user. */
int fts_remove_user(struct fts *fts, const char *user_id, const char **error_r);
/* A full re-index of a user: start, fts_add() every message, finish. When
 * it finishes, the user's rows are exactly those added in between; rows of
 * before stay searchable until then where the backend has no transactions
 * (a crash before finish leaves them, and the next re-index drops them). */
int fts_reindex_start(struct fts *fts, const char *user_id, const char **error_r);
int fts_reindex_finish(struct fts *fts, const char *user_id, const char **error_r);

/* The journal position of a user (0 and *found_r false when never indexed). */
int fts_position_get(struct fts *fts, const char *user_id, int64_t *position_r, bool *found_r,
		     const char **error_r);
int fts_position_set(struct fts *fts, const char *user_id, int64_t position,
		     const char **error_r);
int fts_position_clear(struct fts *fts, const char *user_id, const char **error_r);

/* Sorted uids of the mailbox's indexed messages (malloc'd, may be NULL
 * with count 0). */
int fts_indexed(struct fts *fts, const char *mailbox_id, uint32_t **uids_r, size_t *count_r,
		const char **error_r);
/* Sorted uids of the mailbox's indexed messages whose field contains the
 * folded string (an exact substring match; see fts_query_usable()). */
int fts_query(struct fts *fts, const char *mailbox_id, enum fts_field field,
	      const char *folded, uint32_t **uids_r, size_t *count_r, const char **error_r);
/* Whether fts_query() can answer this folded string exactly. */
bool fts_query_usable(const char *folded);
/* Indexed messages of a user (NULL: all users). */
int fts_count(struct fts *fts, const char *user_id, uint64_t *count_r, const char **error_r);

/* NFC + u8_casefold of UTF-8 text (as IMAP SEARCH compares); malloc'd,
 * NULL when the text is not valid UTF-8. */
char *fts_fold(const char *text, size_t len, size_t *len_r);
/* Appends the text of HTML (tags dropped, script and style skipped,
 * entities decoded, block tags as line breaks) to out. */
void fts_html_text(const char *html, size_t len, struct buffer *out);

/* This thread's read handle on the index of config, opened on first use
 * and closed when the thread exits; NULL when the indexer is off (sqlite:
 * a mongodb index is shared, so it is read where indexer.enabled is false
 * too) or the index cannot be opened (tried again every few seconds). For
 * store threads of IMAP and the API. */
struct fts *fts_thread_reader(const struct config *config);

/* One thread of a user: its id, how many indexed messages it has, and
 * the last indexed one (mailbox, uid) with its position as a cursor. */
struct fts_thread_row {
	const char *thread;
	uint64_t messages;
	const char *mailbox;
	uint32_t uid;
	int64_t last;
};
typedef int fts_thread_cb(const struct fts_thread_row *row, void *ctx);
/* The user's threads, the one with the most recently indexed message
 * first, at most limit, only those whose last message is before cursor
 * (0: no bound). cb returning non-zero stops (not an error). */
int fts_threads(struct fts *fts, const char *user_id, int64_t cursor, unsigned int limit,
		fts_thread_cb *cb, void *ctx, const char **error_r);

/* ---- the thread tables, for lib/thread.c and lib/fts_indexer.c ---- */
#define FTS_THREAD_SIZE 25	/* a thread id and its NUL (STORE_ID_SIZE) */
typedef int fts_thread_found_cb(const char *thread, void *ctx);
/* Calls cb once for each distinct thread that one of the message ids
 * (refs) belongs to. */
int fts_thread_find(struct fts *fts, const char *user_id, const char *const *refs, size_t count,
		    fts_thread_found_cb *cb, void *ctx, const char **error_r);
/* The thread that last used the normalised subject. */
int fts_thread_subject_get(struct fts *fts, const char *user_id, const char *subject,
			   char thread_r[FTS_THREAD_SIZE], bool *found_r, const char **error_r);
/* Records that the message ids belong to thread, and that it used subject
 * last ("": none). Repeating it changes nothing. */
int fts_thread_link(struct fts *fts, const char *user_id, const char *thread,
		    const char *const *refs, size_t count, const char *subject,
		    const char **error_r);
/* Everything of thread from (its ids, subjects and indexed messages) goes
 * to thread to; repeating it changes nothing. */
int fts_thread_move(struct fts *fts, const char *user_id, const char *from, const char *to,
		    const char **error_r);
typedef int fts_thread_doc_cb(const char *mailbox_id, uint32_t uid, void *ctx);
/* The indexed messages of a thread; cb returning non-zero stops with -1. */
int fts_thread_docs(struct fts *fts, const char *user_id, const char *thread,
		    fts_thread_doc_cb *cb, void *ctx, const char **error_r);

#endif
