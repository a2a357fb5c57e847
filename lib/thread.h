/* Message threads as WildDuck and Gmail make them: a message joins the
 * thread of any message it names (Message-ID, In-Reply-To, References),
 * else, when it looks like a reply, the thread with its normalised subject;
 * otherwise it starts one. A parent that arrives after its children joins
 * (and merges) their threads, so the indexer repairs ids of messages
 * already stored. The tables live in the full-text index (lib/fts.h).
 * Not IMAP THREAD (RFC 5256): that orders and nests; this only groups. */
#ifndef WD_THREAD_H
#define WD_THREAD_H

#include <stdbool.h>
#include <stddef.h>

struct fts;
struct pool;

/* The subject without reply/forward prefixes (Re:, Fwd:, AW:, SV:, [list]
 * tags, "(fwd)") and surrounding space, folded; "" for none. *reply_r
 * tells whether a reply/forward prefix was there. Allocated from pool. */
const char *thread_subject_normalize(struct pool *pool, const char *subject, bool *reply_r);

/* Appends the message ids ("<a@b>", brackets and case kept as written but
 * without the brackets) of a header value to ids (count at *count_r,
 * capacity max). */
void thread_refs_parse(struct pool *pool, const char *value, const char **ids, size_t max,
		       size_t *count_r);

/* A message to thread. */
struct thread_message {
	const char *user;
	const char *message_id;		/* Message-ID, may be NULL */
	const char *in_reply_to;	/* header values, may be NULL */
	const char *references;
	const char *subject;		/* decoded subject, may be NULL */
};

/* A thread whose id changed: every message that had thread `from` now has
 * `to` (the caller updates the store). */
typedef int thread_merge_cb(const char *from, const char *to, void *ctx);

/* Finds or makes the thread of a message (inside the indexer's batch of
 * fts), recording its ids and subject; when the message links threads
 * that were apart, merges them into the one with the smallest id (the
 * oldest, to the second) and calls merged for each
 * one that went away. thread_r: STORE_ID_SIZE bytes. */
int thread_assign(struct fts *fts, const struct thread_message *msg, thread_merge_cb *merged,
		  void *ctx, char *thread_r, const char **error_r);

#endif
