/* Runtime settings (root only, WildDuck's /settings): list, read and set
 * the keys of lib/settings.c's table. A stored value is one API object of
 * kind "setting" per key; the daemons pick a change up within
 * settings_cache (see lib/settings.h). Unknown keys and values outside a
 * key's range are refused with 400. */
#include "api.h"

#include "pool.h"
#include "settings.h"

#include <stdlib.h>
#include <string.h>

static const struct api_field setting_fields[] = {
	/* the range is the key's (checked below); the validator only bounds it */
	{ "value", API_INT, true, 0, 1LL << 53, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

/* The stored object of key, if any (NULL), from pool. -1 with the reply
 * set if the store fails. */
static int stored(struct store *store, struct api_req *r, const char *key, struct pool *pool,
		  struct store_object **obj_r)
{
	struct store_object *objs;
	unsigned int count;
	const char *error;
	*obj_r = NULL;
	if (store_object_list(store, SETTINGS_KIND, NULL, key, pool, &objs, &count, &error) < 0) {
		api_store_error(r, store, error, "SettingNotFound");
		return -1;
	}
	if (count > 0)
		*obj_r = &objs[count - 1];
	return 0;
}

static bool stored_value(const struct store_object *o, long long *value_r)
{
	json_t *doc = o != NULL ? json_loads(o->doc, 0, NULL) : NULL;
	json_t *v = json_object_get(doc, "value");
	bool ok = json_is_integer(v);
	if (ok)
		*value_r = (long long)json_integer_value(v);
	json_decref(doc);
	return ok;
}

static json_t *setting_json(const struct settings_key *k, const struct store_object *o)
{
	long long def = settings_key_default(k, api_config()), value = def, min, max;
	bool custom = stored_value(o, &value);
	settings_key_range(k, &min, &max);
	return json_pack("{s:s, s:I, s:I, s:b, s:s, s:s, s:o, s:I, s:I}", "key", k->key,
			 "value", (json_int_t)value, "default", (json_int_t)def, "custom", custom,
			 "type", settings_type_name(k->type), "description", k->description,
			 "option", k->option != NULL ? json_string(k->option) : json_null(),
			 "min", (json_int_t)min, "max", (json_int_t)max);
}

static const struct settings_key *key_param(struct api_req *r)
{
	const struct settings_key *k = settings_key_find(api_param(r, "key"));
	if (k == NULL)
		api_error(r, 400, "InputValidationError", "Unknown setting key");
	return k;
}

static void settings_list(struct store *store, struct api_req *r)
{
	const char *filter = api_query(r, "filter");
	struct pool *pool = pool_create(2048);
	json_t *results = json_array();
	for (const struct settings_key *k = settings_keys; k->key != NULL; k++) {
		if (filter != NULL && strcasestr(k->key, filter) == NULL)
			continue;
		struct store_object *o;
		if (stored(store, r, k->key, pool, &o) < 0) {
			json_decref(results);
			pool_destroy(&pool);
			return;
		}
		json_array_append_new(results, setting_json(k, o));
	}
	api_ok(r, json_pack("{s:o, s:o}", "filter", filter != NULL ? json_string(filter) :
			    json_null(), "settings", results));
	pool_destroy(&pool);
}

static void setting_get(struct store *store, struct api_req *r)
{
	const struct settings_key *k = key_param(r);
	if (k == NULL)
		return;
	struct pool *pool = pool_create(1024);
	struct store_object *o;
	if (stored(store, r, k->key, pool, &o) == 0) {
		json_t *s = setting_json(k, o);
		api_ok(r, json_pack("{s:s, s:O}", "key", k->key, "value",
				    json_object_get(s, "value")));
		json_decref(s);
	}
	pool_destroy(&pool);
}

static void setting_set(struct store *store, struct api_req *r)
{
	const struct settings_key *k = key_param(r);
	if (k == NULL)
		return;
	long long value = api_json_int(r->body, "value", 0), min, max;
	settings_key_range(k, &min, &max);
	if (value < min || value > max) {
		api_error(r, 400, "InputValidationError", "value must be from %lld to %lld", min,
			  max);
		return;
	}
	struct pool *pool = pool_create(1024);
	json_t *doc = json_pack("{s:I}", "value", (json_int_t)value);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	char id[STORE_ID_SIZE];
	const char *error;
	/* no update call: replace the object; a concurrent set of the same key
	 * makes the add fail with EXISTS, and the second attempt wins */
	int ret = -1;
	for (int attempt = 0; attempt < 2 && ret < 0; attempt++) {
		struct store_object *o;
		if (stored(store, r, k->key, pool, &o) < 0)
			goto out;
		if (o != NULL && store_object_delete(store, SETTINGS_KIND, o->id, &error) < 0 &&
		    store_last_error(store) != STORE_ERR_NOT_FOUND) {
			api_store_error(r, store, error, "SettingNotFound");
			goto out;
		}
		ret = store_object_add(store, SETTINGS_KIND, NULL, k->key, text, true, id, &error);
		if (ret < 0 && store_last_error(store) != STORE_ERR_EXISTS) {
			api_store_error(r, store, error, "SettingNotFound");
			goto out;
		}
	}
	if (ret < 0) {
		api_error(r, 409, "Conflict", "The setting changed concurrently; try again");
		goto out;
	}
	settings_invalidate();
	api_ok(r, json_pack("{s:s, s:I}", "key", k->key, "value", (json_int_t)value));
out:
	free(text);
	pool_destroy(&pool);
}

const struct api_route api_routes_settings[] = {
	{ EVHTTP_REQ_GET, "/settings", settings_list, NULL, API_ROOT, NULL,
	  "List the runtime settings with their values and defaults" },
	{ EVHTTP_REQ_GET, "/settings/:key", setting_get, NULL, API_ROOT, NULL,
	  "Read one runtime setting" },
	{ EVHTTP_REQ_POST, "/settings/:key", setting_set, NULL, API_ROOT, setting_fields,
	  "Change one runtime setting (takes effect within settings_cache)" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
