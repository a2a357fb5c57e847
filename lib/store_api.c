/* The dispatcher of the API's store calls of store.h (user listings,
 * message pages, access tokens, the user-wide journal): argument checks
 * and debug logging, then the driver. Token hashes are never logged. */
#include "store_driver.h"

#include "address.h"
#include "log.h"
#include "pool.h"

#include <stdlib.h>
#include <unicase.h>
#include <uninorm.h>

#include <string.h>

#define LIST_LIMIT_MAX 1000
#define TOKEN_HASH_LEN 64

static bool token_hash_valid(const char *hash)
{
	if (hash == NULL || strlen(hash) != TOKEN_HASH_LEN)
		return false;
	for (size_t i = 0; i < TOKEN_HASH_LEN; i++)
		if (strchr("0123456789abcdef", hash[i]) == NULL)
			return false;
	return true;
}

/* Drivers that do not have a call yet fail it cleanly instead of crashing. */
#define CHECK_DRIVER(fn) \
	do { \
		if (store->driver->fn == NULL) { \
			store_set_error(store, STORE_ERR_INTERNAL, "%s: not supported by the %s " \
					"driver", op, store->driver->name); \
			return store_call_end(store, op, -1, error_r); \
		} \
	} while (0)

#define CHECK_ID(id) \
	do { \
		if (!store_id_valid(id)) \
			return store_call_reject(store, op, STORE_ERR_INVALID, "malformed id", error_r); \
	} while (0)

int store_user_list(struct store *store, const char *after_id, bool backwards,
		    unsigned int limit, struct pool *pool, struct store_user **users_r,
		    unsigned int *count_r, const char **error_r)
{
	const char *op = "user_list";
	store_call_begin(store, op, after_id);
	CHECK_DRIVER(user_list);
	if (after_id != NULL)
		CHECK_ID(after_id);
	if (limit == 0 || limit > LIST_LIMIT_MAX)
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad limit", error_r);
	return store_call_end(store, op, store->driver->user_list(store, after_id, backwards, limit, pool,
						       users_r, count_r), error_r);
}

int store_address_page(struct store *store, const char *domain, const char *query,
		       const char *after, bool backwards, unsigned int limit,
		       struct pool *pool, struct store_address **addresses_r,
		       unsigned int *count_r, const char **error_r)
{
	const char *op = "address_page";
	store_call_begin(store, op, domain != NULL ? domain : query);
	CHECK_DRIVER(address_page);
	*addresses_r = NULL;
	*count_r = 0;
	if (limit == 0 || limit > LIST_LIMIT_MAX)
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad limit", error_r);
	if (domain != NULL && address_normalize_domain(pool, domain, &domain, error_r) < 0)
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad domain", error_r);
	if (query != NULL && query[0] == '\0')
		query = NULL;
	if (query != NULL) {
		/* the stored addresses are NFC and lower case: so is the query */
		size_t len = 0;
		uint8_t *low = u8_tolower((const uint8_t *)query, strlen(query), NULL,
					  UNINORM_NFC, NULL, &len);
		if (low == NULL)
			return store_call_reject(store, op, STORE_ERR_INVALID, "bad query", error_r);
		query = pool_strndup(pool, (const char *)low, len);
		free(low);
	}
	return store_call_end(store, op, store->driver->address_page(store, domain, query, after,
								      backwards, limit, pool,
								      addresses_r, count_r),
			      error_r);
}

int store_user_count(struct store *store, uint64_t *count_r, const char **error_r)
{
	const char *op = "user_count";
	store_call_begin(store, op, NULL);
	CHECK_DRIVER(user_count);
	return store_call_end(store, op, store->driver->user_count(store, count_r), error_r);
}

/* Without a driver's own page call: list the range and keep the wanted end. */
struct page_fallback {
	struct pool *pool;
	struct store_message *msgs;
	unsigned int count, limit;
	bool descending;
};

static int page_collect(const struct store_message *msg, void *context)
{
	struct page_fallback *p = context;
	if (!p->descending && p->count == p->limit)
		return 1;
	if (p->count == p->limit) {
		memmove(&p->msgs[0], &p->msgs[1], (p->limit - 1) * sizeof(p->msgs[0]));
		p->count--;
	}
	struct store_message *m = &p->msgs[p->count++];
	*m = *msg;
	m->msgid = msg->msgid == NULL ? NULL : pool_strdup(p->pool, msg->msgid);
	m->subject = msg->subject == NULL ? NULL : pool_strdup(p->pool, msg->subject);
	m->envelope = msg->envelope == NULL ? NULL : pool_strdup(p->pool, msg->envelope);
	m->bodystructure = NULL;
	m->thread = msg->thread == NULL ? NULL : pool_strdup(p->pool, msg->thread);
	const char **flags = pool_alloc(p->pool, (msg->flags_count + 1) * sizeof(*flags));
	for (unsigned int i = 0; i < msg->flags_count; i++)
		flags[i] = pool_strdup(p->pool, msg->flags[i]);
	m->flags = flags;
	return 0;
}

static int page_fallback(struct store *store, const char *mailbox_id, uint32_t first,
			 uint32_t last, bool descending, unsigned int limit,
			 store_message_cb *callback, void *context)
{
	struct page_fallback p = { .pool = pool_create(8192), .limit = limit,
				   .descending = descending };
	p.msgs = pool_alloc(p.pool, limit * sizeof(*p.msgs));
	struct store_uid_range range = { first, last };
	const char *error;
	int ret = store_message_list(store, mailbox_id, &range, 1, page_collect, &p, &error);
	for (unsigned int i = 0; ret == 0 && i < p.count; i++) {
		unsigned int k = descending ? p.count - 1 - i : i;
		if (callback(&p.msgs[k], context) != 0)
			break;
	}
	pool_destroy(&p.pool);
	return ret;
}

int store_message_page(struct store *store, const char *mailbox_id, uint32_t first,
		       uint32_t last, bool descending, unsigned int limit,
		       store_message_cb *callback, void *context, const char **error_r)
{
	const char *op = "message_page";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(mailbox_id);
	if (limit == 0 || limit > LIST_LIMIT_MAX || first > last)
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad range or limit", error_r);
	if (store->driver->message_page == NULL)
		return page_fallback(store, mailbox_id, first, last, descending, limit, callback,
				     context) < 0 ? store_call_end(store, op, -1, error_r) : 0;
	return store_call_end(store, op, store->driver->message_page(store, mailbox_id, first, last,
							  descending, limit, callback, context),
		   error_r);
}

int store_message_tree(struct store *store, const char *message_id, struct pool *pool,
		       const unsigned char **tree_r, size_t *len_r, const char **error_r)
{
	const char *op = "message_tree";
	store_call_begin(store, op, message_id);
	CHECK_ID(message_id);
	if (store->driver->message_tree == NULL) {
		struct store_message_content *content;
		int ret = store->driver->message_content(store, message_id, pool, &content);
		if (ret == 0) {
			*tree_r = content->tree;
			*len_r = content->tree_len;
		}
		return store_call_end(store, op, ret, error_r);
	}
	return store_call_end(store, op, store->driver->message_tree(store, message_id, pool, tree_r, len_r),
		   error_r);
}

int store_token_add(struct store *store, const char *user_id, const char *token_hash,
		    int64_t expires, const char **error_r)
{
	const char *op = "token_add";
	store_call_begin(store, op, user_id);
	CHECK_DRIVER(token_add);
	CHECK_ID(user_id);
	if (!token_hash_valid(token_hash))
		return store_call_reject(store, op, STORE_ERR_INVALID, "malformed token hash", error_r);
	return store_call_end(store, op, store->driver->token_add(store, user_id, token_hash, expires),
		   error_r);
}

int store_token_get(struct store *store, const char *token_hash, int64_t now,
		    char user_id_r[STORE_ID_SIZE], const char **error_r)
{
	const char *op = "token_get";
	store_call_begin(store, op, NULL);
	CHECK_DRIVER(token_get);
	if (!token_hash_valid(token_hash))
		return store_call_reject(store, op, STORE_ERR_INVALID, "malformed token hash", error_r);
	return store_call_end(store, op, store->driver->token_get(store, token_hash, now, user_id_r),
		   error_r);
}

int store_token_delete(struct store *store, const char *token_hash, const char **error_r)
{
	const char *op = "token_delete";
	store_call_begin(store, op, NULL);
	CHECK_DRIVER(token_delete);
	if (!token_hash_valid(token_hash))
		return store_call_reject(store, op, STORE_ERR_INVALID, "malformed token hash", error_r);
	return store_call_end(store, op, store->driver->token_delete(store, token_hash), error_r);
}

int store_journal_user_since(struct store *store, const char *user_id, int64_t after,
			     unsigned int limit, store_journal_user_cb *callback, void *context,
			     const char **error_r)
{
	const char *op = "journal_user_since";
	store_call_begin(store, op, user_id);
	CHECK_DRIVER(journal_user_since);
	CHECK_ID(user_id);
	if (limit == 0 || limit > 100000 || after < 0)
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad position or limit", error_r);
	return store_call_end(store, op, store->driver->journal_user_since(store, user_id, after, limit,
								callback, context), error_r);
}

int store_journal_user_last(struct store *store, const char *user_id, int64_t *position_r,
			    const char **error_r)
{
	const char *op = "journal_user_last";
	store_call_begin(store, op, user_id);
	CHECK_DRIVER(journal_user_last);
	CHECK_ID(user_id);
	return store_call_end(store, op, store->driver->journal_user_last(store, user_id, position_r),
		   error_r);
}
