/* Quota bookkeeping checks over the generic store calls: recount what a
 * user's messages take and compare it with the storage used the store keeps.
 * Not a driver: it works the same on every backend. */
#ifndef WD_STORE_QUOTA_H
#define WD_STORE_QUOTA_H

#include <stdint.h>

struct pool;
struct store;

struct store_quota_recount {
	uint64_t counted;	/* sum of the sizes of all messages of the user */
	uint64_t used;		/* the user's storage_used as stored */
	uint64_t quota;		/* bytes, 0: unlimited */
	uint32_t messages;	/* messages counted */
	unsigned int mailboxes;
};

/* Recounts the user's storage from its mailboxes' message sizes. Not one
 * snapshot: mail arriving meanwhile can make counted and used differ by a
 * message. */
int store_quota_recount(struct store *store, const char *user_id, struct pool *pool,
			struct store_quota_recount *result_r, const char **error_r);

#endif
