/* Storage recount over store_user_get, store_mailbox_list and
 * store_mailbox_counts, and its correction (see store_quota.h). */
#include "store_quota.h"

#include "store_driver.h"

#include <string.h>

#define RECALC_ATTEMPTS 5

int store_quota_recount(struct store *store, const char *user_id, struct pool *pool,
			struct store_quota_recount *result_r, const char **error_r)
{
	struct store_user *user;
	struct store_mailbox *boxes;
	unsigned int count;
	memset(result_r, 0, sizeof(*result_r));
	if (store_user_get(store, user_id, pool, &user, error_r) < 0 ||
	    store_mailbox_list(store, user_id, pool, &boxes, &count, error_r) < 0)
		return -1;
	for (unsigned int i = 0; i < count; i++) {
		struct store_mailbox_counts c;
		if (store_mailbox_counts(store, boxes[i].id, &c, error_r) < 0)
			return -1;
		result_r->counted += c.size;
		result_r->messages += c.messages;
	}
	result_r->mailboxes = count;
	result_r->used = user->storage_used;
	result_r->quota = user->quota;
	return 0;
}

int store_user_storage_set(struct store *store, const char *user_id, uint64_t expected,
			   uint64_t value, bool *applied_r, const char **error_r)
{
	static const char op[] = "user_storage_set";
	store_call_begin(store, op, user_id);
	*applied_r = false;
	if (store->driver->user_storage_set == NULL) {
		store_set_error(store, STORE_ERR_INTERNAL, "%s is not supported by the %s driver",
				op, store->driver->name);
		return store_call_end(store, op, -1, error_r);
	}
	if (user_id == NULL || !store_id_valid(user_id))
		return store_call_reject(store, op, STORE_ERR_NOT_FOUND, "no such user", error_r);
	if (expected > INT64_MAX || value > INT64_MAX)
		return store_call_reject(store, op, STORE_ERR_INVALID, "storage out of range",
					 error_r);
	return store_call_end(store, op, store->driver->user_storage_set(store, user_id, expected,
									 value, applied_r),
			      error_r);
}

int store_quota_recalc(struct store *store, const char *user_id, struct pool *pool,
		       struct store_quota_recount *result_r, const char **error_r)
{
	for (int attempt = 0; attempt < RECALC_ATTEMPTS; attempt++) {
		if (store_quota_recount(store, user_id, pool, result_r, error_r) < 0)
			return -1;
		if (result_r->counted == result_r->used)
			return 0;
		bool applied;
		if (store_user_storage_set(store, user_id, result_r->used, result_r->counted,
					   &applied, error_r) < 0)
			return -1;
		if (applied) {
			result_r->corrected = true;
			result_r->previous = result_r->used;
			result_r->used = result_r->counted;
			return 0;
		}
	}
	store_set_error(store, STORE_ERR_TEMPORARY, "storage used keeps changing; try again");
	*error_r = store->error_msg;
	return -1;
}
