/* The full-text index: an SQLite FTS5 trigram table of folded message text
 * (NFC + u8_casefold) keyed by (mailbox id, uid), the indexer's journal
 * position per user, and the thread tables (lib/thread.h). wd-indexer
 * writes it; IMAP SEARCH and the API only query it. It is not the store:
 * losing it loses nothing (wdctl reindex rebuilds it). */
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

/* Opens (create: making the file and schema if missing) the index. A
 * handle belongs to one thread. Never open before fork(). */
int fts_open(const char *path, bool create, struct fts **fts_r, const char **error_r);
void fts_close(struct fts **fts);

/* Write transactions (BEGIN IMMEDIATE, waiting for other writers) and read
 * snapshots (BEGIN): queries inside one see one state of the index. */
int fts_begin(struct fts *fts, bool write, const char **error_r);
int fts_commit(struct fts *fts, const char **error_r);
void fts_rollback(struct fts *fts);

/* Adds or replaces the message (mailbox, uid). */
int fts_add(struct fts *fts, const char *mailbox_id, uint32_t uid, const struct fts_doc *doc,
	    const char **error_r);
/* Removes it (expunged); removing what is not there is no error. */
int fts_remove(struct fts *fts, const char *mailbox_id, uint32_t uid, const char **error_r);
/* Removes every message of a user (before a reindex). */
int fts_remove_user(struct fts *fts, const char *user_id, const char **error_r);

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
 * and closed when the thread exits; NULL when the indexer is off or has
 * not made the file yet (tried again every few seconds). For store
 * threads of IMAP and the API. */
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

/* The underlying connection, for lib/thread.c's tables in the same file. */
struct sqlite3 *fts_db(struct fts *fts);

#endif
