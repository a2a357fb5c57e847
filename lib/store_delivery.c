/* The dispatcher of the delivery calls of store.h (filters, autoreplies,
 * forwarding targets, counters, webhook queue): argument checks and debug
 * logging, then the driver. Kept apart from store.c so the mail-level and
 * the delivery-level interfaces can grow independently. */
#include "store_driver.h"

#include "log.h"
#include "pool.h"

#include <string.h>

/* Longest counter key, webhook URL and filter query accepted. */
#define KEY_MAX 1024
#define URL_MAX 2048
#define FILTER_FIELD_MAX 4096
#define TARGETS_MAX 100

#define CHECK_ID(op, id) \
	do { \
		if ((id) == NULL || !store_id_valid(id)) \
			return store_call_reject(store, op, STORE_ERR_NOT_FOUND, "no such id", error_r); \
	} while (0)

static bool field_ok(const char *s, size_t max)
{
	return s == NULL || strnlen(s, max + 1) <= max;
}

int store_filter_add(struct store *store, const char *user_id,
		     const struct store_filter *filter, char id_r[STORE_ID_SIZE],
		     const char **error_r)
{
	static const char op[] = "filter_add";
	store_call_begin(store, op, user_id);
	CHECK_ID(op, user_id);
	const char *fields[] = { filter->name, filter->from, filter->to, filter->subject,
				 filter->list_id, filter->text, filter->mailbox, filter->forward,
				 filter->webhook };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!field_ok(fields[i], FILTER_FIELD_MAX))
			return store_call_reject(store, op, STORE_ERR_INVALID, "filter field too long", error_r);
	if (filter->mailbox != NULL && !store_id_valid(filter->mailbox))
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad mailbox id", error_r);
	if (filter->webhook != NULL && strncmp(filter->webhook, "http://", 7) != 0 &&
	    strncmp(filter->webhook, "https://", 8) != 0)
		return store_call_reject(store, op, STORE_ERR_INVALID, "webhook is not an http(s) URL", error_r);
	return store_call_end(store, op, store->driver->filter_add(store, user_id, filter, id_r), error_r);
}

int store_filter_delete(struct store *store, const char *user_id, const char *filter_id,
			const char **error_r)
{
	static const char op[] = "filter_delete";
	store_call_begin(store, op, filter_id);
	CHECK_ID(op, user_id);
	CHECK_ID(op, filter_id);
	return store_call_end(store, op, store->driver->filter_delete(store, user_id, filter_id), error_r);
}

int store_filter_list(struct store *store, const char *user_id, struct pool *pool,
		      struct store_filter **filters_r, unsigned int *count_r,
		      const char **error_r)
{
	static const char op[] = "filter_list";
	store_call_begin(store, op, user_id);
	CHECK_ID(op, user_id);
	return store_call_end(store, op, store->driver->filter_list(store, user_id, pool, filters_r, count_r),
		   error_r);
}

int store_autoreply_set(struct store *store, const char *user_id,
			const struct store_autoreply *autoreply, const char **error_r)
{
	static const char op[] = "autoreply_set";
	store_call_begin(store, op, user_id);
	CHECK_ID(op, user_id);
	if (!field_ok(autoreply->subject, 1024) || !field_ok(autoreply->name, 1024))
		return store_call_reject(store, op, STORE_ERR_INVALID, "autoreply field too long", error_r);
	return store_call_end(store, op, store->driver->autoreply_set(store, user_id, autoreply), error_r);
}

int store_autoreply_get(struct store *store, const char *user_id, struct pool *pool,
			struct store_autoreply **autoreply_r, const char **error_r)
{
	static const char op[] = "autoreply_get";
	store_call_begin(store, op, user_id);
	CHECK_ID(op, user_id);
	return store_call_end(store, op, store->driver->autoreply_get(store, user_id, pool, autoreply_r),
		   error_r);
}

int store_autoreply_delete(struct store *store, const char *user_id, const char **error_r)
{
	static const char op[] = "autoreply_delete";
	store_call_begin(store, op, user_id);
	CHECK_ID(op, user_id);
	return store_call_end(store, op, store->driver->autoreply_delete(store, user_id), error_r);
}

int store_user_targets_set(struct store *store, const char *user_id,
			   const char *const *targets, unsigned int count, const char **error_r)
{
	static const char op[] = "user_targets_set";
	store_call_begin(store, op, user_id);
	CHECK_ID(op, user_id);
	if (count > TARGETS_MAX)
		return store_call_reject(store, op, STORE_ERR_INVALID, "too many targets", error_r);
	struct pool *pool = pool_create(1024);
	const char *joined = NULL;
	for (unsigned int i = 0; i < count; i++) {
		if (targets[i] == NULL || targets[i][0] == '\0' || strpbrk(targets[i], "\r\n") ||
		    !field_ok(targets[i], URL_MAX)) {
			pool_destroy(&pool);
			return store_call_reject(store, op, STORE_ERR_INVALID, "bad target", error_r);
		}
		joined = joined == NULL ? targets[i] : pool_printf(pool, "%s\n%s", joined, targets[i]);
	}
	int ret = store->driver->targets_set(store, user_id, joined);
	pool_destroy(&pool);
	return store_call_end(store, op, ret, error_r);
}

int store_user_targets_get(struct store *store, const char *user_id, struct pool *pool,
			   const char *const **targets_r, unsigned int *count_r,
			   const char **error_r)
{
	static const char op[] = "user_targets_get";
	store_call_begin(store, op, user_id);
	CHECK_ID(op, user_id);
	const char *joined = NULL;
	*targets_r = NULL;
	*count_r = 0;
	int ret = store->driver->targets_get(store, user_id, pool, &joined);
	if (ret == 0 && joined != NULL && joined[0] != '\0') {
		unsigned int n = 1;
		for (const char *p = joined; *p != '\0'; p++)
			n += *p == '\n';
		const char **list = pool_alloc(pool, n * sizeof(*list));
		char *copy = pool_strdup(pool, joined), *save = NULL;
		unsigned int i = 0;
		for (char *t = strtok_r(copy, "\n", &save); t != NULL && i < n;
		     t = strtok_r(NULL, "\n", &save))
			list[i++] = t;
		*targets_r = list;
		*count_r = i;
	}
	return store_call_end(store, op, ret, error_r);
}

int store_counter_add(struct store *store, const char *key, int64_t delta, int64_t ttl_secs,
		      int64_t *value_r, const char **error_r)
{
	static const char op[] = "counter_add";
	store_call_begin(store, op, key);
	if (key == NULL || key[0] == '\0' || !field_ok(key, KEY_MAX) || ttl_secs <= 0)
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad counter key or ttl", error_r);
	return store_call_end(store, op, store->driver->counter_add(store, key, delta, ttl_secs, value_r),
		   error_r);
}

int store_webhook_enqueue(struct store *store, const char *user_id, const char *url,
			  const char *event, const char *payload, const char **error_r)
{
	static const char op[] = "webhook_enqueue";
	store_call_begin(store, op, url);
	CHECK_ID(op, user_id);
	if (url == NULL || !field_ok(url, URL_MAX) || event == NULL)
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad webhook", error_r);
	return store_call_end(store, op, store->driver->webhook_enqueue(store, user_id, url, event, payload),
		   error_r);
}
