/* The dispatcher of the API object and webhook queue calls of store.h:
 * argument checks and debug logging, then the driver (which may lack
 * them: then INTERNAL "not supported"). */
#include "store_driver.h"

#include "log.h"

#include <string.h>

#define KIND_MAX 32
#define KEY_MAX 1024
#define DOC_MAX (1 << 20)

static int call_begin(struct store *store, const char *op, const char *arg, const void *fn)
{
	store->error = STORE_OK;
	store->error_msg[0] = '\0';
	log_debug("event=store_call driver=%s op=%s arg=%s", store->driver->name, op,
		  arg == NULL ? "-" : arg);
	if (fn == NULL)
		return store_set_error(store, STORE_ERR_INTERNAL, "%s is not supported by the %s "
				       "driver", op, store->driver->name);
	return 0;
}

static bool kind_ok(const char *kind)
{
	return kind != NULL && kind[0] != '\0' && strnlen(kind, KIND_MAX + 1) <= KIND_MAX;
}

#define BEGIN(op, arg, fn) \
	do { \
		if (call_begin(store, op, arg, (const void *)(fn)) < 0) \
			return store_call_end(store, op, -1, error_r); \
	} while (0)
#define INVALID(op, cond, msg) \
	do { \
		if (cond) { \
			store_set_error(store, STORE_ERR_INVALID, "%s", msg); \
			return store_call_end(store, op, -1, error_r); \
		} \
	} while (0)

int store_object_add(struct store *store, const char *kind, const char *user_id,
		     const char *key, const char *doc, bool unique, char id_r[STORE_ID_SIZE],
		     const char **error_r)
{
	static const char op[] = "object_add";
	BEGIN(op, kind, store->driver->object_add);
	INVALID(op, !kind_ok(kind) || doc == NULL || strnlen(doc, DOC_MAX + 1) > DOC_MAX ||
		(key != NULL && strnlen(key, KEY_MAX + 1) > KEY_MAX), "bad object");
	INVALID(op, user_id != NULL && !store_id_valid(user_id), "bad user id");
	return store_call_end(store, op, store->driver->object_add(store, kind, user_id, key, doc,
							     unique, id_r), error_r);
}

int store_object_list(struct store *store, const char *kind, const char *user_id,
		      const char *key, struct pool *pool, struct store_object **objects_r,
		      unsigned int *count_r, const char **error_r)
{
	static const char op[] = "object_list";
	BEGIN(op, kind, store->driver->object_list);
	INVALID(op, !kind_ok(kind), "bad kind");
	*objects_r = NULL;
	*count_r = 0;
	return store_call_end(store, op, store->driver->object_list(store, kind, user_id, key, pool,
							      objects_r, count_r), error_r);
}

int store_object_get(struct store *store, const char *kind, const char *id, struct pool *pool,
		     struct store_object **object_r, const char **error_r)
{
	static const char op[] = "object_get";
	BEGIN(op, id, store->driver->object_get);
	INVALID(op, !kind_ok(kind), "bad kind");
	if (id == NULL || !store_id_valid(id)) {
		store_set_error(store, STORE_ERR_NOT_FOUND, "no such id");
		return store_call_end(store, op, -1, error_r);
	}
	return store_call_end(store, op, store->driver->object_get(store, kind, id, pool, object_r),
			error_r);
}

int store_object_delete(struct store *store, const char *kind, const char *id,
			const char **error_r)
{
	static const char op[] = "object_delete";
	BEGIN(op, id, store->driver->object_delete);
	INVALID(op, !kind_ok(kind), "bad kind");
	if (id == NULL || !store_id_valid(id)) {
		store_set_error(store, STORE_ERR_NOT_FOUND, "no such id");
		return store_call_end(store, op, -1, error_r);
	}
	return store_call_end(store, op, store->driver->object_delete(store, kind, id), error_r);
}

int store_object_update(struct store *store, const char *kind, const char *id,
			const char *doc, const char **error_r)
{
	static const char op[] = "object_update";
	BEGIN(op, id, store->driver->object_update);
	INVALID(op, !kind_ok(kind) || doc == NULL || strnlen(doc, DOC_MAX + 1) > DOC_MAX,
		"bad object");
	if (id == NULL || !store_id_valid(id)) {
		store_set_error(store, STORE_ERR_NOT_FOUND, "no such id");
		return store_call_end(store, op, -1, error_r);
	}
	return store_call_end(store, op, store->driver->object_update(store, kind, id, doc),
			      error_r);
}

int store_webhook_claim(struct store *store, int64_t now, int64_t lease_secs,
			unsigned int limit, struct pool *pool, struct store_webhook_call **calls_r,
			unsigned int *count_r, const char **error_r)
{
	static const char op[] = "webhook_claim";
	BEGIN(op, NULL, store->driver->webhook_claim);
	INVALID(op, limit == 0 || limit > 1000 || lease_secs <= 0, "bad limit or lease");
	*calls_r = NULL;
	*count_r = 0;
	return store_call_end(store, op, store->driver->webhook_claim(store, now, lease_secs, limit,
								pool, calls_r, count_r),
			error_r);
}

int store_webhook_done(struct store *store, int64_t id, const char **error_r)
{
	static const char op[] = "webhook_done";
	BEGIN(op, NULL, store->driver->webhook_done);
	return store_call_end(store, op, store->driver->webhook_done(store, id), error_r);
}

int store_webhook_retry(struct store *store, int64_t id, int64_t next_try,
			const char **error_r)
{
	static const char op[] = "webhook_retry";
	BEGIN(op, NULL, store->driver->webhook_retry);
	return store_call_end(store, op, store->driver->webhook_retry(store, id, next_try), error_r);
}
