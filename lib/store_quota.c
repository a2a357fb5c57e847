/* Storage recount over store_user_get, store_mailbox_list and
 * store_mailbox_counts (see store_quota.h). */
#include "store_quota.h"

#include "store.h"

#include <string.h>

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
