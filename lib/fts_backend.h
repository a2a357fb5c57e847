/* The backends of the full-text index (lib/fts.h): what each one
 * implements behind fts.c's dispatcher. fts_sqlite.c keeps everything in
 * one SQLite file with transactions; fts_mongodb.c keeps it in collections
 * of the store's MongoDB database without transactions, so each of its
 * writes is idempotent and callers order them (lib/fts_indexer.c). Not a
 * public interface: callers use fts.h. */
#ifndef WD_FTS_BACKEND_H
#define WD_FTS_BACKEND_H

#include "fts.h"

struct fts_ops {
	const char *name;
	/* whether begin/commit/rollback make writes atomic (SQLite) or only
	 * mark a batch (MongoDB) */
	bool transactions;
	void (*close)(struct fts *fts);
	int (*begin)(struct fts *fts, bool write);
	int (*commit)(struct fts *fts);
	void (*rollback)(struct fts *fts);
	int (*add)(struct fts *fts, const char *mailbox_id, uint32_t uid, const struct fts_doc *doc);
	int (*remove)(struct fts *fts, const char *mailbox_id, uint32_t uid);
	int (*remove_mailbox)(struct fts *fts, const char *user_id, const char *mailbox_id);
	int (*remove_user)(struct fts *fts, const char *user_id);
	int (*reindex_start)(struct fts *fts, const char *user_id);
	int (*reindex_finish)(struct fts *fts, const char *user_id);
	int (*position_get)(struct fts *fts, const char *user_id, int64_t *position_r,
			    bool *found_r);
	int (*position_set)(struct fts *fts, const char *user_id, int64_t position);
	int (*position_clear)(struct fts *fts, const char *user_id);
	int (*indexed)(struct fts *fts, const char *mailbox_id, uint32_t **uids_r, size_t *count_r);
	int (*query)(struct fts *fts, const char *mailbox_id, enum fts_field field,
		     const char *folded, uint32_t **uids_r, size_t *count_r);
	int (*count)(struct fts *fts, const char *user_id, uint64_t *count_r);
	int (*threads)(struct fts *fts, const char *user_id, int64_t cursor, unsigned int limit,
		       fts_thread_cb *cb, void *ctx);
	int (*thread_find)(struct fts *fts, const char *user_id, const char *const *refs,
			   size_t count, fts_thread_found_cb *cb, void *ctx);
	int (*thread_subject_get)(struct fts *fts, const char *user_id, const char *subject,
				  char thread_r[FTS_THREAD_SIZE], bool *found_r);
	int (*thread_link)(struct fts *fts, const char *user_id, const char *thread,
			   const char *const *refs, size_t count, const char *subject);
	int (*thread_move)(struct fts *fts, const char *user_id, const char *from, const char *to);
	int (*thread_docs)(struct fts *fts, const char *user_id, const char *thread,
			   fts_thread_doc_cb *cb, void *ctx);
};

struct fts {
	const struct fts_ops *ops;
	void *ctx;		/* the backend's */
	bool in_tx;
	char error[512];
};

/* Formats fts->error; returns -1. */
int fts_set_error(struct fts *fts, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sorted, without duplicates, in place; returns the new count. */
size_t fts_uids_sort(uint32_t *uids, size_t count);

extern const struct fts_ops fts_sqlite_ops;
extern const struct fts_ops fts_mongodb_ops;

/* fts_sqlite.c, fts_mongodb.c: open the backend's state into fts->ctx. */
int fts_sqlite_open(struct fts *fts, const char *path, bool create);
int fts_mongodb_open(struct fts *fts, const char *uri, const char *database, bool create);

#endif
