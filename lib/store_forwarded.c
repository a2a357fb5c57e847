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
#include <stdlib.h>
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

/* The targets as a JSON array, NULL (with *error_r) when one is bad. */
static json_t *targets_json(const char *const *targets, unsigned int count,
			    const char **error_r)
{
	if (count > FORWARDED_TARGETS_MAX) {
		*error_r = "too many targets";
		return NULL;
	}
	json_t *list = json_array();
	for (unsigned int i = 0; i < count; i++) {
		if (targets[i] == NULL || targets[i][0] == '\0' || strpbrk(targets[i], "\r\n") ||
		    strchr(targets[i], '@') == NULL) {
			json_decref(list);
			*error_r = "bad target";
			return NULL;
		}
		json_array_append_new(list, json_string(targets[i]));
	}
	return list;
}

static char *forwarded_doc(const char *address, json_t *list)
{
	json_t *doc = json_pack("{s:s, s:o}", "address", address, "targets", list);
	char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return text;
}

int store_forwarded_set(struct store *store, const char *address, const char *const *targets,
			unsigned int count, const char **error_r)
{
	struct pool *pool = pool_create(1024);
	struct store_object *objs;
	unsigned int n;
	const char *key;
	json_t *list = NULL;
	int ret = -1;
	if (forwarded_key(pool, address, &key, error_r) < 0 ||
	    (list = targets_json(targets, count, error_r)) == NULL)
		goto out;
	if (store_object_list(store, FORWARDED_KIND, NULL, key, pool, &objs, &n, error_r) < 0)
		goto out;
	for (unsigned int i = 0; i < n; i++) {
		if (store_object_delete(store, FORWARDED_KIND, objs[i].id, error_r) < 0)
			goto out;
	}
	if (count == 0) {
		ret = 0;
		goto out;
	}
	char *text = forwarded_doc(address, json_incref(list));
	char id[STORE_ID_SIZE];
	ret = text == NULL ? -1 :
	      store_object_add(store, FORWARDED_KIND, NULL, key, text, true, id, error_r);
	if (text == NULL)
		*error_r = "json_dumps failed";
	free(text);
out:
	json_decref(list);
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

/* A store_forwarded from an object; -1 if its doc is malformed. */
static int forwarded_from_object(struct pool *pool, const struct store_object *obj,
				 struct store_forwarded *fwd_r, const char **error_r)
{
	json_t *doc = json_loads(obj->doc, 0, NULL);
	json_t *list = json_object_get(doc, "targets");
	const char *address = json_string_value(json_object_get(doc, "address"));
	if (!json_is_array(list) || address == NULL) {
		json_decref(doc);
		*error_r = "malformed forwarded address document";
		return -1;
	}
	memset(fwd_r, 0, sizeof(*fwd_r));
	memcpy(fwd_r->id, obj->id, sizeof(fwd_r->id));
	fwd_r->address = pool_strdup(pool, address);
	fwd_r->created = obj->created;
	size_t size = json_array_size(list);
	const char **targets = pool_alloc(pool, (size + 1) * sizeof(*targets));
	unsigned int count = 0;
	for (size_t i = 0; i < size; i++) {
		const char *t = json_string_value(json_array_get(list, i));
		if (t != NULL && t[0] != '\0')
			targets[count++] = pool_strdup(pool, t);
	}
	fwd_r->targets = targets;
	fwd_r->count = count;
	json_decref(doc);
	return 0;
}

int store_forwarded_add(struct store *store, const char *address, const char *const *targets,
			unsigned int count, char id_r[STORE_ID_SIZE], const char **error_r)
{
	struct pool *pool = pool_create(1024);
	const char *key;
	int ret = -1;
	if (forwarded_key(pool, address, &key, error_r) < 0)
		goto out;
	if (count == 0) {
		*error_r = "no targets";
		goto out;
	}
	json_t *list = targets_json(targets, count, error_r);
	if (list == NULL)
		goto out;
	char *text = forwarded_doc(address, list);
	if (text == NULL) {
		*error_r = "json_dumps failed";
		goto out;
	}
	/* unique on the delivery key: a racing second add gets EXISTS */
	ret = store_object_add(store, FORWARDED_KIND, NULL, key, text, true, id_r, error_r);
	free(text);
out:
	pool_destroy(&pool);
	return ret;
}

int store_forwarded_get_id(struct store *store, const char *id, struct pool *pool,
			   struct store_forwarded *fwd_r, const char **error_r)
{
	struct store_object *obj;
	if (store_object_get(store, FORWARDED_KIND, id, pool, &obj, error_r) < 0)
		return -1;
	return forwarded_from_object(pool, obj, fwd_r, error_r);
}

int store_forwarded_update_id(struct store *store, const char *id,
			      const char *const *targets, unsigned int count,
			      const char **error_r)
{
	struct pool *pool = pool_create(1024);
	struct store_forwarded cur;
	int ret = -1;
	if (store_forwarded_get_id(store, id, pool, &cur, error_r) < 0)
		goto out;
	if (count == 0) {
		*error_r = "no targets";
		goto out;
	}
	json_t *list = targets_json(targets, count, error_r);
	if (list == NULL)
		goto out;
	char *text = forwarded_doc(cur.address, list);
	if (text == NULL) {
		*error_r = "json_dumps failed";
		goto out;
	}
	ret = store_object_update(store, FORWARDED_KIND, id, text, error_r);
	free(text);
out:
	pool_destroy(&pool);
	return ret;
}

int store_forwarded_delete_id(struct store *store, const char *id, const char **error_r)
{
	return store_object_delete(store, FORWARDED_KIND, id, error_r);
}

static int forwarded_cmp(const void *a, const void *b)
{
	const struct store_forwarded *x = a, *y = b;
	return strcmp(x->address, y->address);
}

int store_forwarded_list(struct store *store, struct pool *pool,
			 struct store_forwarded **list_r, unsigned int *count_r,
			 const char **error_r)
{
	struct store_object *objs;
	unsigned int n;
	*list_r = NULL;
	*count_r = 0;
	if (store_object_list(store, FORWARDED_KIND, NULL, NULL, pool, &objs, &n, error_r) < 0)
		return -1;
	struct store_forwarded *list = pool_alloc(pool, (n + 1) * sizeof(*list));
	unsigned int count = 0;
	for (unsigned int i = 0; i < n; i++) {
		const char *error;
		/* one malformed document does not hide the others */
		if (forwarded_from_object(pool, &objs[i], &list[count], &error) == 0)
			count++;
	}
	qsort(list, count, sizeof(*list), forwarded_cmp);
	*list_r = list;
	*count_r = count;
	return 0;
}
