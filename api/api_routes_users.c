/* Users and addresses: /users, /users/:user, /users/:user/addresses. */
#include "api.h"

#include "address.h"
#include "audit.h"
#include "password.h"
#include "pool.h"
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTA_MAX (1LL << 53)

static const struct api_field user_create_fields[] = {
	{ "username", API_STRING, true, 1, 128, NULL, false },
	{ "password", API_STRING, false, 0, 256, NULL, true },
	{ "address", API_STRING, false, 3, 320, NULL, true },
	{ "name", API_STRING, false, 0, 256, NULL, true },
	{ "quota", API_INT, false, 0, QUOTA_MAX, NULL, false },
	{ "tags", API_STRING_ARRAY, false, 0, 64, NULL, false },
	{ "disabled", API_BOOL, false, 0, 0, NULL, false },
	{ "suspended", API_BOOL, false, 0, 0, NULL, false },
	{ "recipients", API_INT, false, 0, 1000000, NULL, false },
	{ "forwards", API_INT, false, 0, 1000000, NULL, false },
	{ "imapMaxConnections", API_INT, false, 0, 100000, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field user_update_fields[] = {
	{ "password", API_STRING, false, 0, 256, NULL, true },
	{ "name", API_STRING, false, 0, 256, NULL, true },
	{ "quota", API_INT, false, 0, QUOTA_MAX, NULL, false },
	{ "tags", API_STRING_ARRAY, false, 0, 64, NULL, false },
	{ "disabled", API_BOOL, false, 0, 0, NULL, false },
	{ "suspended", API_BOOL, false, 0, 0, NULL, false },
	{ "recipients", API_INT, false, 0, 1000000, NULL, false },
	{ "forwards", API_INT, false, 0, 1000000, NULL, false },
	{ "imapMaxConnections", API_INT, false, 0, 100000, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field address_fields[] = {
	{ "address", API_STRING, true, 3, 320, NULL, false },
	{ "main", API_BOOL, false, 0, 0, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static char *hash_password(const char *password)
{
	const struct config *c = api_config();
	struct password_settings ps = {
		.bcrypt_cost = c->auth_settings.bcrypt_cost,
		.pbkdf2_iterations = c->auth_settings.pbkdf2_iterations,
	};
	(void)password_scheme_parse(c->auth_settings.hash, &ps.scheme);
	return password_hash(&ps, password);
}

static void string_list(struct pool *pool, json_t *arr, const char *const **items_r,
			unsigned int *count_r)
{
	size_t n = json_array_size(arr);
	const char **items = pool_alloc(pool, (n + 1) * sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = json_string_value(json_array_get(arr, i));
	*items_r = items;
	*count_r = (unsigned int)n;
}

/* The name lives in the settings object (the store has no field of its own). */
static const char *settings_with_name(struct pool *pool, const char *settings, json_t *name)
{
	json_t *obj = settings != NULL ? json_loads(settings, 0, NULL) : NULL;
	if (!json_is_object(obj)) {
		json_decref(obj);
		obj = json_object();
	}
	if (json_is_string(name))
		json_object_set(obj, "name", name);
	else
		json_object_del(obj, "name");
	char *text = json_dumps(obj, JSON_COMPACT);
	const char *out = pool_strdup(pool, text);
	free(text);
	json_decref(obj);
	return out;
}

static json_t *user_name(const struct store_user *u)
{
	json_t *obj = u->settings != NULL ? json_loads(u->settings, 0, NULL) : NULL;
	json_t *name = json_string_value(json_object_get(obj, "name")) != NULL ?
		json_incref(json_object_get(obj, "name")) : json_string("");
	json_decref(obj);
	return name;
}

static json_t *user_json(const struct store_user *u, bool full)
{
	json_t *tags = json_array();
	for (unsigned int i = 0; i < u->tags_count; i++) {
		json_t *t = json_string(u->tags[i]);
		if (t != NULL)
			json_array_append_new(tags, t);
	}
	json_t *addr = u->address != NULL ? json_string(u->address) : NULL;
	json_t *out = json_pack("{s:s, s:s, s:o, s:o, s:o, s:{s:I, s:I}, s:b, s:b, s:b, s:b}",
				"id", u->id, "username", u->username, "name", user_name(u),
				"address", addr != NULL ? addr : json_string(""), "tags", tags,
				"quota", "allowed", (json_int_t)u->quota, "used",
				(json_int_t)u->storage_used, "disabled", u->disabled,
				"suspended", u->suspended, "hasPasswordSet",
				u->password_hash != NULL && u->password_hash[0] != '\0',
				"activated", true);
	if (full) {
		char created[32];
		api_time_iso(u->created, created);
		json_object_set_new(out, "created", json_string(created));
		json_object_set_new(out, "limits", json_pack("{s:I, s:I, s:I}",
			"recipients", (json_int_t)u->limits.recipients_per_day,
			"forwards", (json_int_t)u->limits.forwards_per_day,
			"imapMaxConnections", (json_int_t)u->limits.imap_max_connections));
	}
	return out;
}

/* An address that is already forwarded (/addresses/forwarded) cannot also
 * be a user's: it would take the forwarded address's mail. True with the
 * reply set when it is (409) or the lookup failed. */
static bool address_forwarded(struct store *store, struct api_req *r, const char *address)
{
	struct pool *pool = pool_create(512);
	const char *const *targets, *error;
	unsigned int count = 0;
	bool refused = false;
	if (address == NULL || address_is_wildcard(address)) {
		pool_destroy(&pool);
		return false;
	}
	if (store_forwarded_get(store, address, pool, NULL, &targets, &count, &error) < 0) {
		/* a malformed address: store_address_add() says why */
		if (store_last_error(store) == STORE_ERR_TEMPORARY) {
			api_store_error(r, store, error, "AddressNotFound");
			refused = true;
		}
	} else if (count > 0) {
		api_error(r, 409, "AddressExistsError", "This address is already forwarded");
		refused = true;
	}
	pool_destroy(&pool);
	return refused;
}

static void user_create(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_user u;
	memset(&u, 0, sizeof(u));
	u.username = api_json_str(r->body, "username");
	const char *password = api_json_str(r->body, "password");
	char *hash = password != NULL && password[0] != '\0' ? hash_password(password) : NULL;
	u.password_hash = hash;
	u.address = api_json_str(r->body, "address");
	/* without a quota of its own: the runtime default (/settings) */
	u.quota = api_json_has(r->body, "quota") ?
		  (uint64_t)api_json_int(r->body, "quota", 0) :
		  (uint64_t)settings_get_int(store, "const:max:storage", 0);
	u.disabled = api_json_bool(r->body, "disabled", false);
	u.suspended = api_json_bool(r->body, "suspended", false);
	string_list(pool, json_object_get(r->body, "tags"), &u.tags, &u.tags_count);
	u.limits.recipients_per_day = (uint32_t)api_json_int(r->body, "recipients", 0);
	u.limits.forwards_per_day = (uint32_t)api_json_int(r->body, "forwards", 0);
	u.limits.imap_max_connections = (uint32_t)api_json_int(r->body, "imapMaxConnections", 0);
	json_t *name = json_object_get(r->body, "name");
	if (json_is_string(name))
		u.settings = settings_with_name(pool, NULL, name);
	char id[STORE_ID_SIZE];
	const char *error;
	if (address_forwarded(store, r, u.address)) {
		/* the reply is set */
	} else if (store_user_create(store, &u, id, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		api_ok(r, json_pack("{s:s}", "id", id));
		api_webhook_event(store, id, "user.created",
				  json_pack("{s:s, s:s}", "user", id, "username", u.username));
	}
	free(hash);
	pool_destroy(&pool);
}

static void user_list(struct store *store, struct api_req *r)
{
	unsigned int limit;
	const char *next, *previous;
	if (api_page_params(r, &limit, &next, &previous) < 0)
		return;
	const char *cursor = next != NULL ? next : previous;
	if (cursor != NULL && !api_id_valid(cursor)) {
		api_error(r, 400, "InputValidationError", "bad cursor");
		return;
	}
	const char *query = api_query(r, "query");
	struct pool *pool = pool_create(8192);
	struct store_user *users;
	unsigned int count;
	uint64_t total = 0;
	const char *error;
	if (store_user_list(store, cursor, previous != NULL, limit + 1, pool, &users, &count,
			    &error) < 0 || store_user_count(store, &total, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		pool_destroy(&pool);
		return;
	}
	/* the hidden stores of /audit are not counted either (one per audit) */
	struct store_object *audits;
	unsigned int audits_count;
	if (store_object_list(store, AUDIT_KIND, NULL, NULL, pool, &audits, &audits_count,
			      &error) == 0)
		total = total > audits_count ? total - audits_count : 0;
	bool more = count > limit;
	if (more)
		count = limit;
	json_t *results = json_array();
	for (unsigned int i = 0; i < count; i++) {
		/* backwards pages come newest-first: show them in id order */
		const struct store_user *u = &users[previous != NULL ? count - 1 - i : i];
		if (query != NULL && strcasestr(u->username, query) == NULL &&
		    (u->address == NULL || strcasestr(u->address, query) == NULL))
			continue;
		/* the hidden stores of /audit: a page may come out short, as
		 * with query, and the cursors still walk every user */
		if (audit_is_store_user(u->settings))
			continue;
		json_array_append_new(results, user_json(u, false));
	}
	json_t *first = count > 0 ? json_string(users[previous != NULL ? count - 1 : 0].id) : NULL;
	json_t *last = count > 0 ? json_string(users[previous != NULL ? 0 : count - 1].id) : NULL;
	json_t *next_c, *prev_c;
	if (previous != NULL) {
		next_c = last != NULL ? json_incref(last) : json_false();
		prev_c = more && first != NULL ? json_incref(first) : json_false();
	} else {
		next_c = more && last != NULL ? json_incref(last) : json_false();
		prev_c = next != NULL && first != NULL ? json_incref(first) : json_false();
	}
	json_decref(first);
	json_decref(last);
	api_ok(r, json_pack("{s:I, s:o, s:o, s:o}", "total", (json_int_t)total, "nextCursor",
			    next_c, "previousCursor", prev_c, "results", results));
	pool_destroy(&pool);
}

static void user_get(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_user *u;
	const char *error, *secret;
	bool enabled = false;
	if (store_user_get(store, api_param(r, "user"), pool, &u, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		json_t *out = user_json(u, true);
		if (store_totp_get(store, u->id, pool, &secret, &enabled, &error) < 0)
			enabled = false;
		json_t *twofa = json_array();
		if (enabled)
			json_array_append_new(twofa, json_string("totp"));
		json_object_set_new(out, "enabled2fa", twofa);
		api_ok(r, out);
	}
	pool_destroy(&pool);
}

static void user_update(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_user u;
	memset(&u, 0, sizeof(u));
	unsigned int fields = 0;
	char *hash = NULL;
	const char *error;
	const char *user_id = api_param(r, "user");
	struct store_user *cur;
	if (!r->root) {
		/* a user may change its password and name, not its limits */
		const char *key;
		json_t *v;
		json_object_foreach(r->body, key, v) {
			if (strcmp(key, "password") != 0 && strcmp(key, "name") != 0 &&
			    strcmp(key, "sess") != 0 && strcmp(key, "ip") != 0) {
				api_error(r, 403, "MissingPrivileges",
					  "Only the root token may change %s", key);
				pool_destroy(&pool);
				return;
			}
		}
	}
	if (store_user_get(store, user_id, pool, &cur, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		pool_destroy(&pool);
		return;
	}
	if (json_object_get(r->body, "password") != NULL) {
		const char *password = api_json_str(r->body, "password");
		hash = password != NULL && password[0] != '\0' ? hash_password(password) : NULL;
		u.password_hash = hash;
		fields |= STORE_USER_PASSWORD;
	}
	if (api_json_has(r->body, "quota")) {
		u.quota = (uint64_t)api_json_int(r->body, "quota", 0);
		fields |= STORE_USER_QUOTA;
	}
	if (api_json_has(r->body, "disabled")) {
		u.disabled = api_json_bool(r->body, "disabled", false);
		fields |= STORE_USER_DISABLED;
	}
	if (api_json_has(r->body, "suspended")) {
		u.suspended = api_json_bool(r->body, "suspended", false);
		fields |= STORE_USER_SUSPENDED;
	}
	if (api_json_has(r->body, "tags")) {
		string_list(pool, json_object_get(r->body, "tags"), &u.tags, &u.tags_count);
		fields |= STORE_USER_TAGS;
	}
	if (api_json_has(r->body, "recipients") || api_json_has(r->body, "forwards") ||
	    api_json_has(r->body, "imapMaxConnections")) {
		u.limits = cur->limits;
		u.limits.recipients_per_day = (uint32_t)api_json_int(r->body, "recipients",
			cur->limits.recipients_per_day);
		u.limits.forwards_per_day = (uint32_t)api_json_int(r->body, "forwards",
			cur->limits.forwards_per_day);
		u.limits.imap_max_connections = (uint32_t)api_json_int(r->body,
			"imapMaxConnections", cur->limits.imap_max_connections);
		fields |= STORE_USER_LIMITS;
	}
	if (json_object_get(r->body, "name") != NULL) {
		u.settings = settings_with_name(pool, cur->settings,
						json_object_get(r->body, "name"));
		fields |= STORE_USER_SETTINGS;
	}
	if (fields != 0 && store_user_update(store, user_id, fields, &u, &error) < 0)
		api_store_error(r, store, error, "UserNotFound");
	else
		api_ok(r, NULL);
	free(hash);
	pool_destroy(&pool);
}

static void user_delete(struct store *store, struct api_req *r)
{
	const char *error;
	if (store_user_delete(store, api_param(r, "user"), &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		return;
	}
	api_changed(r, api_param(r, "user"));
	api_ok(r, NULL);
	api_webhook_event(store, api_param(r, "user"), "user.deleted",
			  json_pack("{s:s}", "user", api_param(r, "user")));
}

/* ---- addresses ---- */

static void address_list(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_address *addrs;
	unsigned int count;
	const char *error;
	if (store_address_list(store, api_param(r, "user"), pool, &addrs, &count, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		json_t *results = json_array();
		for (unsigned int i = 0; i < count; i++) {
			char created[32];
			api_time_iso(addrs[i].created, created);
			json_t *a = json_string(addrs[i].address);
			json_array_append_new(results, json_pack("{s:s, s:o, s:b, s:s}", "id",
				addrs[i].id, "address", a != NULL ? a : json_string(""), "main",
				addrs[i].main, "created", created));
		}
		api_ok(r, json_pack("{s:o}", "results", results));
	}
	pool_destroy(&pool);
}

static bool user_exists(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(512);
	struct store_user *u;
	const char *error;
	bool ok = store_user_get(store, api_param(r, "user"), pool, &u, &error) == 0;
	if (!ok)
		api_store_error(r, store, error, "UserNotFound");
	pool_destroy(&pool);
	return ok;
}

static void address_add(struct store *store, struct api_req *r)
{
	const char *user_id = api_param(r, "user"), *error;
	const char *address = api_json_str(r->body, "address");
	if (!user_exists(store, r) || address_forwarded(store, r, address))
		return;
	if (store_address_add(store, user_id, address, api_json_bool(r->body, "main", false),
			      &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		return;
	}
	/* the store normalises the address: find the new row by listing */
	struct pool *pool = pool_create(1024);
	struct store_address *addrs;
	unsigned int count;
	const char *id = NULL;
	int64_t newest = -1;
	if (store_address_list(store, user_id, pool, &addrs, &count, &error) == 0) {
		for (unsigned int i = 0; i < count; i++) {
			if (strcasecmp(addrs[i].address, address) == 0) {
				id = addrs[i].id;
				break;
			}
			if (addrs[i].created >= newest) {
				newest = addrs[i].created;
				id = addrs[i].id;
			}
		}
	}
	api_ok(r, json_pack("{s:s}", "id", id != NULL ? id : ""));
	api_webhook_event(store, user_id, "address.user.created",
			  json_pack("{s:s, s:s, s:s}", "user", user_id, "address", address,
				    "id", id != NULL ? id : ""));
	pool_destroy(&pool);
}

static void address_delete(struct store *store, struct api_req *r)
{
	const char *user_id = api_param(r, "user"), *key = api_param(r, "address"), *error;
	struct pool *pool = pool_create(1024);
	struct store_address *addrs;
	unsigned int count;
	if (store_address_list(store, user_id, pool, &addrs, &count, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		pool_destroy(&pool);
		return;
	}
	const struct store_address *found = NULL;
	for (unsigned int i = 0; i < count; i++)
		if (strcmp(addrs[i].id, key) == 0 || strcasecmp(addrs[i].address, key) == 0)
			found = &addrs[i];
	if (found == NULL)
		api_error(r, 404, "AddressNotFound", "No such address of this user");
	else if (found->main)
		api_error(r, 400, "NotPermitted", "The main address can not be deleted");
	else if (store_address_delete(store, found->address, &error) < 0)
		api_store_error(r, store, error, "AddressNotFound");
	else {
		api_ok(r, NULL);
		api_webhook_event(store, user_id, "address.user.deleted",
				  json_pack("{s:s, s:s, s:s}", "user", user_id, "address",
					    found->address, "id", found->id));
	}
	pool_destroy(&pool);
}

static void health(struct store *store, struct api_req *r)
{
	uint64_t n;
	const char *error;
	if (store_user_count(store, &n, &error) < 0) {
		api_error(r, 503, "StoreUnavailable", "Store unavailable");
		return;
	}
	api_ok(r, NULL);
}

const struct api_route api_routes_users[] = {
	{ EVHTTP_REQ_GET, "/health", health, NULL, API_PUBLIC, NULL, "Service health" },
	{ EVHTTP_REQ_POST, "/users", user_create, NULL, API_ROOT, user_create_fields,
	  "Create a user" },
	{ EVHTTP_REQ_GET, "/users", user_list, NULL, API_ROOT, NULL, "List users (paged)" },
	{ EVHTTP_REQ_GET, "/users/:user", user_get, NULL, 0, NULL, "Get a user" },
	{ EVHTTP_REQ_PUT, "/users/:user", user_update, NULL, 0, user_update_fields,
	  "Update a user" },
	{ EVHTTP_REQ_DELETE, "/users/:user", user_delete, NULL, API_ROOT, NULL, "Delete a user" },
	{ EVHTTP_REQ_GET, "/users/:user/addresses", address_list, NULL, 0, NULL,
	  "List a user's addresses" },
	{ EVHTTP_REQ_POST, "/users/:user/addresses", address_add, NULL, API_ROOT, address_fields,
	  "Add an address" },
	{ EVHTTP_REQ_DELETE, "/users/:user/addresses/:address", address_delete, NULL, API_ROOT, NULL,
	  "Delete an address" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
