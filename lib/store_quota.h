/* Quota bookkeeping checks over the generic store calls: recount what a
 * user's messages take, compare it with the storage used the store keeps,
 * and correct the stored value (store_user_storage_set(), a driver call). */
#ifndef WD_STORE_QUOTA_H
#define WD_STORE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct pool;
struct store;

struct store_quota_recount {
	uint64_t counted;	/* sum of the sizes of all messages of the user */
	uint64_t used;		/* the user's storage_used as stored */
	uint64_t quota;		/* bytes, 0: unlimited */
	uint32_t messages;	/* messages counted */
	unsigned int mailboxes;
	/* store_quota_recalc(): used was set to counted (previous: what it
	 * was) */
	bool corrected;
	uint64_t previous;
};

/* Recounts the user's storage from its mailboxes' message sizes. Not one
 * snapshot: mail arriving meanwhile can make counted and used differ by a
 * message. */
int store_quota_recount(struct store *store, const char *user_id, struct pool *pool,
			struct store_quota_recount *result_r, const char **error_r);

/* Sets the user's storage used to value if it still is expected (a stored
 * value below 0 counts as 0); *applied_r is false if it changed meanwhile.
 * NOT_FOUND if there is no such user. */
int store_user_storage_set(struct store *store, const char *user_id, uint64_t expected,
			   uint64_t value, bool *applied_r, const char **error_r);

/* Recounts, and sets the storage used to the recount when they differ.
 * The stored value is read before the recount and only replaced if it has
 * not moved since, so mail that arrives or goes meanwhile makes it count
 * again (a few times, then TEMPORARY) instead of being lost or counted
 * twice. result_r is the last recount, with used as it is now. */
int store_quota_recalc(struct store *store, const char *user_id, struct pool *pool,
		       struct store_quota_recount *result_r, const char **error_r);

#endif
