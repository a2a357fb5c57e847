/* Indexing a user's mail into lib/fts: the text a message is searched by
 * (exactly what IMAP SEARCH's scan compares, so index answers equal scan
 * answers), following the user's journal from the stored position one
 * batch at a time, and full re-indexing. A batch is one transaction on
 * SQLite; on MongoDB its writes are idempotent and the position is written
 * after them, so a crash re-applies the batch without losing or doubling
 * anything. Shared by wd-indexer and
 * `wdctl reindex`; both only need a store handle and an index handle. */
#ifndef WD_FTS_INDEXER_H
#define WD_FTS_INDEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fts.h"

struct buffer;
struct pool;
struct store;
struct mime_text;
struct mime_message;

/* Fills doc->fields (folded, from pool) from a parsed message and its
 * decoded text (text may be NULL when decoding failed). */
void fts_doc_extract(const struct mime_message *msg, const struct mime_text *text,
		     struct pool *pool, struct fts_doc *doc);

struct fts_index_stats {
	uint64_t indexed, removed, threads_changed;
};

/* Indexes up to batch journal entries of the user after its position in
 * one batch (a user never indexed gets a full re-index instead).
 * Returns 1 when more entries may wait, 0 when caught up, -1 on error. */
int fts_index_user(struct store *store, struct fts *fts, const char *user_id,
		   unsigned int batch, struct fts_index_stats *stats, const char **error_r);

typedef void fts_progress_cb(uint64_t done, uint64_t total, void *ctx);
/* Replaces the user's index rows by every message of the user indexed
 * again (fts_reindex_start/finish), reporting progress; the position moves to the
 * journal's end as it was before the listing (later entries are applied
 * again harmlessly: adding is a replace). */
int fts_reindex_user(struct store *store, struct fts *fts, const char *user_id,
		     fts_progress_cb *progress, void *ctx, struct fts_index_stats *stats,
		     const char **error_r);

#endif
