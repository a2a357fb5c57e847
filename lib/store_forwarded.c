/* Forwarded addresses (WildDuck's "forwarded" address type): an address
 * that has forwarding targets and no mailbox. Kept as API objects of kind
 * "forwarded" keyed by the address's delivery key (dots and +label
 * ignored, as store_address_resolve() does), the doc being
 * {"address": "...", "targets": ["...", ...]}. Built over store_object_*,
 * so it needs no schema step and works wherever API objects do. Not
 * for: user addresses, or per-user targets
 * (store_user_targets_*). */
#include "store.h"

#include "address.h"
#include "pool.h"

#include <jansson.h>
#include <string.h>

#define FORWARDED_KIND "forwarded"
#define FORWARDED_TARGETS_MAX 100

static int forwarded_key(struct pool *pool, const char *address, const char **key_r,
			 const char **error_r)
{
	const char *norm;
	if (address == NULL || address_normalize(pool, address, 0, &norm, error_r) < 0) {
		if (address == NULL)
			*error_r = "no address";
		return -1;
	}
	address_delivery_key(pool, norm, key_r, NULL);
	return 0;
}

int store_forwarded_set(struct store *store, const char *address, const char *const *targets,
			unsigned int count, const char **error_r)
{
	struct pool *pool = pool_create(1024);
	struct store_object *objs;
	unsigned int n;
	const char *key;
	int ret = -1;
	if (forwarded_key(pool, address, &key, error_r) < 0)
		goto out;
	if (count > FORWARDED_TARGETS_MAX) {
		*error_r = "too many targets";
		goto out;
	}
	json_t *list = json_array();
	for (unsigned int i = 0; i < count; i++) {
		if (targets[i] == NULL || targets[i][0] == '\0' || strpbrk(targets[i], "\r\n") ||
		    strchr(targets[i], '@') == NULL) {
			json_decref(list);
			*error_r = "bad target";
			goto out;
		}
		json_array_append_new(list, json_string(targets[i]));
	}
	if (store_object_list(store, FORWARDED_KIND, NULL, key, pool, &objs, &n, error_r) < 0) {
		json_decref(list);
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (store_object_delete(store, FORWARDED_KIND, objs[i].id, error_r) < 0) {
			json_decref(list);
			goto out;
		}
	}
	if (count == 0) {
		json_decref(list);
		ret = 0;
		goto out;
	}
	json_t *doc = json_pack("{s:s, s:o}", "address", address, "targets", list);
	char *text = json_dumps(doc, JSON_COMPACT);
	char id[STORE_ID_SIZE];
	ret = text == NULL ? -1 :
	      store_object_add(store, FORWARDED_KIND, NULL, key, text, true, id, error_r);
	if (text == NULL)
		*error_r = "json_dumps failed";
	free(text);
	json_decref(doc);
out:
	pool_destroy(&pool);
	return ret;
}

int store_forwarded_get(struct store *store, const char *address, struct pool *pool,
			const char **address_r, const char *const **targets_r,
			unsigned int *count_r, const char **error_r)
{
	struct store_object *objs;
	unsigned int n;
	const char *key;
	*targets_r = NULL;
	*count_r = 0;
	if (forwarded_key(pool, address, &key, error_r) < 0 ||
	    store_object_list(store, FORWARDED_KIND, NULL, key, pool, &objs, &n, error_r) < 0)
		return -1;
	if (n == 0)
		return 0;
	json_t *doc = json_loads(objs[0].doc, 0, NULL);
	json_t *list = doc != NULL ? json_object_get(doc, "targets") : NULL;
	if (!json_is_array(list)) {
		json_decref(doc);
		*error_r = "malformed forwarded address document";
		return -1;
	}
	size_t size = json_array_size(list);
	const char **targets = pool_alloc(pool, (size + 1) * sizeof(*targets));
	unsigned int count = 0;
	for (size_t i = 0; i < size; i++) {
		const char *t = json_string_value(json_array_get(list, i));
		if (t != NULL && t[0] != '\0')
			targets[count++] = pool_strdup(pool, t);
	}
	if (address_r != NULL) {
		const char *stored = json_string_value(json_object_get(doc, "address"));
		*address_r = pool_strdup(pool, stored != NULL ? stored : address);
	}
	json_decref(doc);
	*targets_r = targets;
	*count_r = count;
	return 0;
}
