/* Account routes: POST /authenticate (through wd-auth, scope master),
 * application-specific passwords, TOTP 2FA, the authentication log,
 * filters and the autoreply. */
#include "api.h"

#include "auth_client.h"
#include "log.h"
#include "mem.h"
#include "password.h"
#include "pool.h"
#include "totp.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- POST /authenticate ---- */

static const struct api_field authenticate_fields[] = {
	{ "username", API_STRING, true, 1, 256, NULL, false },
	{ "password", API_STRING, true, 1, 256, NULL, false },
	{ "scope", API_STRING, false, 1, 16, NULL, false },
	{ "token", API_BOOL, false, 0, 0, NULL, false },
	{ "protocol", API_STRING, false, 0, 64, NULL, false },
	{ "appId", API_STRING, false, 0, 256, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

struct authn {
	char user[STORE_ID_SIZE];
	char *username;
	char token[41];
	bool require2fa;
};

static void authn_store_token(struct store *store, struct api_req *r)
{
	struct authn *a = r->ctx;
	char hash[65];
	const char *error;
	if (a->require2fa)
		api_token_hash_pending(a->token, hash);
	else
		api_token_hash(a->token, hash);
	int64_t expires = (int64_t)time(NULL) + api_config()->api_settings.token_ttl / 1000;
	if (store_token_add(store, a->user, hash, expires, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		return;
	}
	json_t *username = json_string(a->username);
	api_ok(r, json_pack("{s:s, s:o, s:s, s:s, s:b}", "id", a->user, "username",
			    username != NULL ? username : json_string(""), "scope", "master",
			    "token", a->token, "require2fa", a->require2fa));
}

static void authn_finish(struct api_req *r)
{
	struct authn *a = r->ctx;
	r->ctx = NULL;
	free(a->username);
	free(a);
	api_finish(r);
}

static void authn_done(const struct auth_result *res, void *context)
{
	struct api_req *r = context;
	struct authn *a = r->ctx;
	if (res->status == AUTH_TEMPFAIL) {
		api_error(r, 503, "AuthUnavailable", "Authentication temporarily unavailable");
		authn_finish(r);
		return;
	}
	if (res->status != AUTH_OK) {
		if (strcmp(res->reason, "ratelimited") == 0)
			api_error(r, 429, "RateLimited", "Too many failed attempts, retry in %u s",
				  res->retry_after);
		else
			api_error(r, 403, "AuthFailed", "Authentication failed");
		authn_finish(r);
		return;
	}
	snprintf(a->user, sizeof(a->user), "%s", res->user_id);
	a->username = xstrdup(res->username);
	a->require2fa = strstr(res->flags, "require2fa") != NULL;
	unsigned char rnd[20];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		api_error(r, 500, "InternalError", "No randomness");
		authn_finish(r);
		return;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(a->token + 2 * i, 3, "%02x", rnd[i]);
	if (!api_json_bool(r->body, "token", true)) {
		json_t *username = json_string(a->username);
		api_ok(r, json_pack("{s:s, s:o, s:s, s:b}", "id", a->user, "username",
				    username != NULL ? username : json_string(""), "scope",
				    "master", "require2fa", a->require2fa));
		authn_finish(r);
		return;
	}
	api_submit_then(r, authn_store_token, authn_finish);
}

void api_authenticate(struct api_req *r)
{
	const char *scope = api_json_str(r->body, "scope");
	if (scope != NULL && strcmp(scope, "master") != 0) {
		api_error(r, 400, "InputValidationError", "only scope master is supported");
		api_finish(r);
		return;
	}
	struct auth_client *auth = api_auth_client();
	if (auth == NULL) {
		api_error(r, 503, "AuthUnavailable", "No authentication service configured");
		api_finish(r);
		return;
	}
	r->ctx = xcalloc(1, sizeof(struct authn));
	struct auth_query q = {
		.service = "api",
		.username = api_json_str(r->body, "username"),
		.secret = api_json_str(r->body, "password"),
		.remote_ip = r->remote_ip,
		.scope = "master",
	};
	auth_client_lookup(auth, &q, authn_done, r);
}

/* ---- application-specific passwords ---- */

static const struct api_field asp_fields[] = {
	{ "description", API_STRING, true, 1, 1024, NULL, false },
	{ "scopes", API_STRING_ARRAY, false, 1, 4, NULL, false },
	{ "generateMobileconfig", API_BOOL, false, 0, 0, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static json_t *string_array(const char *const *items, unsigned int count)
{
	json_t *arr = json_array();
	for (unsigned int i = 0; i < count; i++) {
		json_t *s = json_string(items[i]);
		if (s != NULL)
			json_array_append_new(arr, s);
	}
	return arr;
}

static void asp_list(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_asp *asps;
	unsigned int count;
	const char *error;
	if (store_asp_list(store, api_param(r, "user"), pool, &asps, &count, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		json_t *results = json_array();
		for (unsigned int i = 0; i < count; i++) {
			char created[32], used[32];
			api_time_iso(asps[i].created, created);
			api_time_iso(asps[i].last_use, used);
			json_t *d = json_string(asps[i].description != NULL ?
						asps[i].description : "");
			json_array_append_new(results, json_pack("{s:s, s:o, s:o, s:s, s:o}",
				"id", asps[i].id, "description", d != NULL ? d : json_string(""),
				"scopes", string_array(asps[i].scopes, asps[i].scopes_count),
				"created", created, "lastUse",
				asps[i].last_use != 0 ? json_string(used) : json_null()));
		}
		api_ok(r, json_pack("{s:o}", "results", results));
	}
	pool_destroy(&pool);
}

static void asp_create(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	json_t *scopes = json_object_get(r->body, "scopes");
	const char *list[4] = { "*" };
	unsigned int n = 1;
	if (scopes != NULL) {
		n = 0;
		size_t i;
		json_t *v;
		json_array_foreach(scopes, i, v)
			list[n++] = json_string_value(v);
	}
	char password[PASSWORD_ASP_LEN + 1];
	password_asp_generate(password);
	const struct config *c = api_config();
	struct password_settings ps = { .bcrypt_cost = c->auth_settings.bcrypt_cost,
					.pbkdf2_iterations = c->auth_settings.pbkdf2_iterations };
	(void)password_scheme_parse(c->auth_settings.hash, &ps.scheme);
	char *hash = password_hash(&ps, password);
	struct store_asp asp = {
		.description = api_json_str(r->body, "description"),
		.scopes = list,
		.scopes_count = n,
		.password_hash = hash,
	};
	char id[STORE_ID_SIZE];
	const char *error;
	if (hash == NULL)
		api_error(r, 500, "InternalError", "Hashing failed");
	else if (store_asp_create(store, api_param(r, "user"), &asp, id, &error) < 0)
		api_store_error(r, store, error, "UserNotFound");
	else {
		api_ok(r, json_pack("{s:s, s:s}", "id", id, "password", password));
		api_webhook_event(store, api_param(r, "user"), "asp.created",
				  json_pack("{s:s, s:s}", "user", api_param(r, "user"), "asp", id));
	}
	free(hash);
	pool_destroy(&pool);
}

static void asp_delete(struct store *store, struct api_req *r)
{
	const char *error;
	if (!api_id_valid(api_param(r, "asp")))
		api_error(r, 400, "InputValidationError", "asp must be a 24-digit hex id");
	else if (store_asp_delete(store, api_param(r, "user"), api_param(r, "asp"), &error) < 0)
		api_store_error(r, store, error, "AspNotFound");
	else {
		api_ok(r, NULL);
		api_webhook_event(store, api_param(r, "user"), "asp.deleted",
				  json_pack("{s:s, s:s}", "user", api_param(r, "user"), "asp",
					    api_param(r, "asp")));
	}
}

/* ---- TOTP ---- */

static const struct api_field totp_setup_fields[] = {
	{ "issuer", API_STRING, false, 0, 128, NULL, false },
	{ "label", API_STRING, false, 0, 128, NULL, false },
	{ "fresh", API_BOOL, false, 0, 0, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field totp_token_fields[] = {
	{ "token", API_STRING, true, 6, 6, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static void uri_escape(struct buffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			buffer_append_c(out, c);
		else
			buffer_printf(out, "%%%02X", c);
	}
}

static void totp_setup(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	const char *error, *secret;
	bool enabled = false;
	struct store_user *u;
	if (store_user_get(store, api_param(r, "user"), pool, &u, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		goto out;
	}
	if (store_totp_get(store, u->id, pool, &secret, &enabled, &error) == 0 && enabled) {
		api_error(r, 400, "TotpEnabled", "TOTP 2FA is already enabled");
		goto out;
	}
	char fresh[TOTP_SECRET_B32_LEN + 1];
	totp_secret_generate(fresh);
	if (store_totp_set(store, u->id, fresh, false, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		goto out;
	}
	const char *issuer = api_json_str(r->body, "issuer");
	const char *label = api_json_str(r->body, "label");
	struct buffer url = BUFFER_INIT;
	buffer_append_str(&url, "otpauth://totp/");
	uri_escape(&url, label != NULL ? label : u->username);
	buffer_printf(&url, "?secret=%s&issuer=", fresh);
	uri_escape(&url, issuer != NULL ? issuer : "WildDuck");
	api_ok(r, json_pack("{s:s, s:s}", "seed", fresh, "otpauth", buffer_cstr(&url)));
	buffer_free(&url);
out:
	pool_destroy(&pool);
}

/* Checks the token against the stored secret; marks the step used. */
static bool totp_token_ok(struct store *store, struct api_req *r, const char **secret_r,
			  bool *enabled_r, struct pool *pool)
{
	const char *error;
	uint64_t step;
	if (store_totp_get(store, api_param(r, "user"), pool, secret_r, enabled_r, &error) < 0) {
		if (store_last_error(store) == STORE_ERR_NOT_FOUND)
			api_error(r, 400, "TotpNotSetUp", "Set up TOTP first");
		else
			api_store_error(r, store, error, "UserNotFound");
		return false;
	}
	int ok = totp_verify_b32(*secret_r, api_json_str(r->body, "token"), time(NULL), &step);
	if (ok != 1) {
		api_error(r, 403, "InvalidToken", "Invalid authentication token");
		return false;
	}
	if (store_totp_use(store, api_param(r, "user"), step, &error) < 0) {
		if (store_last_error(store) == STORE_ERR_EXISTS)
			api_error(r, 403, "InvalidToken", "This token was already used");
		else
			api_store_error(r, store, error, "UserNotFound");
		return false;
	}
	return true;
}

static void totp_enable(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(512);
	const char *secret, *error;
	bool enabled;
	if (totp_token_ok(store, r, &secret, &enabled, pool)) {
		if (store_totp_set(store, api_param(r, "user"), secret, true, &error) < 0) {
			api_store_error(r, store, error, "UserNotFound");
		} else {
			api_ok(r, NULL);
			api_webhook_event(store, api_param(r, "user"), "mfa.totp.enabled",
					  json_pack("{s:s}", "user", api_param(r, "user")));
		}
	}
	pool_destroy(&pool);
}

/* The second factor of a pending token is verified: the token gets its
 * full hash (and a fresh lifetime) instead of the pending one. */
static int token_verified(struct store *store, struct api_req *r)
{
	char hash[65];
	const char *error;
	api_token_hash(r->token, hash);
	int64_t expires = (int64_t)time(NULL) + api_config()->api_settings.token_ttl / 1000;
	if (store_token_add(store, r->user, hash, expires, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		return -1;
	}
	api_token_hash_pending(r->token, hash);
	if (store_token_delete(store, hash, &error) < 0 &&
	    store_last_error(store) != STORE_ERR_NOT_FOUND) {
		api_store_error(r, store, error, "UserNotFound");
		return -1;
	}
	r->pending_2fa = false;
	return 0;
}

static void totp_check(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(512);
	const char *secret;
	bool enabled;
	if (totp_token_ok(store, r, &secret, &enabled, pool)) {
		if (!enabled)
			api_error(r, 400, "TotpNotEnabled", "TOTP 2FA is not enabled");
		else if (r->pending_2fa && token_verified(store, r) < 0)
			;
		else
			api_ok(r, NULL);
	}
	pool_destroy(&pool);
}

static void twofa_disable(struct store *store, struct api_req *r)
{
	const char *error;
	if (store_totp_set(store, api_param(r, "user"), NULL, false, &error) < 0 &&
	    store_last_error(store) != STORE_ERR_NOT_FOUND) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		api_ok(r, NULL);
		api_webhook_event(store, api_param(r, "user"), "mfa.disabled",
				  json_pack("{s:s}", "user", api_param(r, "user")));
	}
}

/* ---- authlog ---- */

static void authlog(struct store *store, struct api_req *r)
{
	unsigned int limit;
	const char *next, *previous, *error;
	if (api_page_params(r, &limit, &next, &previous) < 0)
		return;
	struct pool *pool = pool_create(4096);
	struct store_authlog_entry *e;
	unsigned int count;
	if (store_authlog_list(store, api_param(r, "user"), (int64_t)time(NULL), limit, pool, &e,
			       &count, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		json_t *results = json_array();
		for (unsigned int i = 0; i < count; i++) {
			char created[32];
			api_time_iso(e[i].created, created);
			json_t *reason = json_string(e[i].reason != NULL ? e[i].reason : "");
			json_t *ip = json_string(e[i].remote_ip != NULL ? e[i].remote_ip : "");
			json_t *svc = json_string(e[i].service != NULL ? e[i].service : "");
			json_array_append_new(results, json_pack(
				"{s:s, s:s, s:o, s:o, s:b, s:o, s:o}", "id", e[i].id, "created",
				created, "protocol", svc != NULL ? svc : json_string(""), "ip",
				ip != NULL ? ip : json_string(""), "success", e[i].success,
				"result", json_string(e[i].success ? "success" : "fail"),
				"reason", reason != NULL ? reason : json_string("")));
		}
		api_ok(r, json_pack("{s:o, s:o, s:o}", "results", results, "nextCursor",
				    json_false(), "previousCursor", json_false()));
	}
	pool_destroy(&pool);
}

/* ---- filters ---- */

static const struct api_field filter_query_fields[] = {
	{ "from", API_STRING, false, 0, 1024, NULL, true },
	{ "to", API_STRING, false, 0, 1024, NULL, true },
	{ "subject", API_STRING, false, 0, 1024, NULL, true },
	{ "listId", API_STRING, false, 0, 1024, NULL, true },
	{ "text", API_STRING, false, 0, 1024, NULL, true },
	{ "ha", API_BOOL, false, 0, 0, NULL, true },
	{ "size", API_INT, false, -(1LL << 40), 1LL << 40, NULL, true },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field filter_action_fields[] = {
	{ "seen", API_BOOL, false, 0, 0, NULL, true },
	{ "flag", API_BOOL, false, 0, 0, NULL, true },
	{ "delete", API_BOOL, false, 0, 0, NULL, true },
	{ "spam", API_BOOL, false, 0, 0, NULL, true },
	{ "mailbox", API_STRING, false, 24, 24, NULL, true },
	{ "targets", API_STRING_ARRAY, false, 0, 32, NULL, true },
	{ "webhook", API_STRING, false, 0, 2048, NULL, true },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field filter_fields[] = {
	{ "name", API_STRING, false, 0, 256, NULL, true },
	{ "query", API_OBJECT, true, 0, 0, filter_query_fields, false },
	{ "action", API_OBJECT, true, 0, 0, filter_action_fields, false },
	{ "disabled", API_BOOL, false, 0, 0, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static int tri(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	return json_is_boolean(v) ? json_is_true(v) : -1;
}

static json_t *tri_json(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

static json_t *str_json(const char *s)
{
	json_t *v = s != NULL ? json_string(s) : NULL;
	return v != NULL ? v : json_null();
}

static void filter_list(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(2048);
	struct store_filter *f;
	unsigned int count;
	const char *error;
	if (store_filter_list(store, api_param(r, "user"), pool, &f, &count, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		json_t *results = json_array();
		for (unsigned int i = 0; i < count; i++) {
			char created[32];
			api_time_iso(f[i].created, created);
			json_t *targets = json_array();
			if (f[i].forward != NULL) {
				char *copy = xstrdup(f[i].forward), *save = NULL;
				for (char *t = strtok_r(copy, ",", &save); t != NULL;
				     t = strtok_r(NULL, ",", &save))
					json_array_append_new(targets, str_json(t));
				free(copy);
			}
			json_array_append_new(results, json_pack(
				"{s:s, s:o, s:s, s:b, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o},"
				" s:{s:o, s:o, s:b, s:o, s:o, s:o, s:o}}",
				"id", f[i].id, "name", str_json(f[i].name), "created", created,
				"disabled", f[i].disabled, "query",
				"from", str_json(f[i].from), "to", str_json(f[i].to),
				"subject", str_json(f[i].subject), "listId", str_json(f[i].list_id),
				"text", str_json(f[i].text), "ha", tri_json(f[i].has_attachment),
				"size", f[i].size != 0 ? json_integer(f[i].size) : json_null(),
				"action", "seen", tri_json(f[i].seen), "flag", tri_json(f[i].flag),
				"delete", f[i].delete_message, "spam", tri_json(f[i].spam),
				"mailbox", str_json(f[i].mailbox), "targets", targets,
				"webhook", str_json(f[i].webhook)));
		}
		api_ok(r, json_pack("{s:o}", "results", results));
	}
	pool_destroy(&pool);
}

static void filter_create(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(2048);
	json_t *q = json_object_get(r->body, "query"), *a = json_object_get(r->body, "action");
	struct store_filter f;
	memset(&f, 0, sizeof(f));
	f.name = api_json_str(r->body, "name");
	f.from = api_json_str(q, "from");
	f.to = api_json_str(q, "to");
	f.subject = api_json_str(q, "subject");
	f.list_id = api_json_str(q, "listId");
	f.text = api_json_str(q, "text");
	f.has_attachment = tri(q, "ha");
	f.size = api_json_int(q, "size", 0);
	f.seen = tri(a, "seen");
	f.flag = tri(a, "flag");
	f.spam = tri(a, "spam");
	f.delete_message = api_json_bool(a, "delete", false);
	f.mailbox = api_json_str(a, "mailbox");
	f.webhook = api_json_str(a, "webhook");
	f.disabled = api_json_bool(r->body, "disabled", false);
	json_t *targets = json_object_get(a, "targets");
	if (json_array_size(targets) > 0) {
		struct buffer b = BUFFER_INIT;
		size_t i;
		json_t *t;
		json_array_foreach(targets, i, t) {
			if (strchr(json_string_value(t), ',') != NULL) {
				api_error(r, 400, "InputValidationError", "bad forwarding target");
				buffer_free(&b);
				goto out;
			}
			if (i > 0)
				buffer_append_c(&b, ',');
			buffer_append_str(&b, json_string_value(t));
		}
		f.forward = pool_strdup(pool, buffer_cstr(&b));
		buffer_free(&b);
	}
	if (f.mailbox != NULL && api_mailbox_load(store, r, f.mailbox, pool) == NULL)
		goto out;
	char id[STORE_ID_SIZE];
	const char *error;
	if (store_filter_add(store, api_param(r, "user"), &f, id, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		api_ok(r, json_pack("{s:s}", "id", id));
		api_webhook_event(store, api_param(r, "user"), "filter.created",
				  json_pack("{s:s, s:s}", "user", api_param(r, "user"), "filter",
					    id));
	}
out:
	pool_destroy(&pool);
}

static void filter_delete(struct store *store, struct api_req *r)
{
	const char *error;
	if (!api_id_valid(api_param(r, "filter")))
		api_error(r, 400, "InputValidationError", "filter must be a 24-digit hex id");
	else if (store_filter_delete(store, api_param(r, "user"), api_param(r, "filter"),
				     &error) < 0) {
		api_store_error(r, store, error, "FilterNotFound");
	} else {
		api_ok(r, NULL);
		api_webhook_event(store, api_param(r, "user"), "filter.deleted",
				  json_pack("{s:s, s:s}", "user", api_param(r, "user"), "filter",
					    api_param(r, "filter")));
	}
}

/* ---- autoreply ---- */

static const struct api_field autoreply_fields[] = {
	{ "status", API_BOOL, false, 0, 0, NULL, false },
	{ "name", API_STRING, false, 0, 256, NULL, true },
	{ "subject", API_STRING, false, 0, 1024, NULL, true },
	{ "text", API_TEXT, false, 0, 128 * 1024, NULL, true },
	{ "html", API_TEXT, false, 0, 128 * 1024, NULL, true },
	{ "start", API_STRING, false, 0, 64, NULL, true },
	{ "end", API_STRING, false, 0, 64, NULL, true },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};


static void autoreply_get(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_autoreply *a;
	const char *error;
	if (store_autoreply_get(store, api_param(r, "user"), pool, &a, &error) < 0) {
		if (store_last_error(store) == STORE_ERR_NOT_FOUND)
			api_ok(r, json_pack("{s:b, s:s, s:s, s:s, s:s, s:b, s:b}", "status", false,
					    "name", "", "subject", "", "text", "", "html", "",
					    "start", false, "end", false));
		else
			api_store_error(r, store, error, "UserNotFound");
	} else {
		char start[32], end[32];
		api_time_iso(a->start, start);
		api_time_iso(a->end, end);
		api_ok(r, json_pack("{s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "status", a->status,
				    "name", str_json(a->name), "subject", str_json(a->subject),
				    "text", str_json(a->text), "html", str_json(a->html),
				    "start", a->start != 0 ? json_string(start) : json_false(),
				    "end", a->end != 0 ? json_string(end) : json_false()));
	}
	pool_destroy(&pool);
}

static void autoreply_set(struct store *store, struct api_req *r)
{
	struct store_autoreply a;
	memset(&a, 0, sizeof(a));
	a.status = api_json_bool(r->body, "status", true);
	a.name = api_json_str(r->body, "name");
	a.subject = api_json_str(r->body, "subject");
	a.text = api_json_str(r->body, "text");
	a.html = api_json_str(r->body, "html");
	const char *error;
	if (api_time_parse(api_json_str(r->body, "start"), &a.start) < 0 ||
	    api_time_parse(api_json_str(r->body, "end"), &a.end) < 0) {
		api_error(r, 400, "InputValidationError", "start and end must be ISO dates");
		return;
	}
	if (a.start != 0 && a.end != 0 && a.end < a.start) {
		api_error(r, 400, "InputValidationError", "end is before start");
		return;
	}
	if (store_autoreply_set(store, api_param(r, "user"), &a, &error) < 0)
		api_store_error(r, store, error, "UserNotFound");
	else
		api_ok(r, NULL);
}

static void autoreply_delete(struct store *store, struct api_req *r)
{
	const char *error;
	if (store_autoreply_delete(store, api_param(r, "user"), &error) < 0 &&
	    store_last_error(store) != STORE_ERR_NOT_FOUND)
		api_store_error(r, store, error, "UserNotFound");
	else
		api_ok(r, NULL);
}

static void updates_placeholder(struct store *store, struct api_req *r) { (void)store; (void)r; }

const struct api_route api_routes_account[] = {
	{ EVHTTP_REQ_POST, "/authenticate", NULL, api_authenticate, API_PUBLIC,
	  authenticate_fields, "Check a password and issue a user access token" },
	{ EVHTTP_REQ_GET, "/users/:user/asps", asp_list, NULL, 0, NULL,
	  "List application-specific passwords" },
	{ EVHTTP_REQ_POST, "/users/:user/asps", asp_create, NULL, 0, asp_fields,
	  "Create an application-specific password" },
	{ EVHTTP_REQ_DELETE, "/users/:user/asps/:asp", asp_delete, NULL, 0, NULL,
	  "Delete an application-specific password" },
	{ EVHTTP_REQ_POST, "/users/:user/2fa/totp/setup", totp_setup, NULL, 0, totp_setup_fields,
	  "Generate a TOTP seed" },
	{ EVHTTP_REQ_POST, "/users/:user/2fa/totp/enable", totp_enable, NULL, 0,
	  totp_token_fields, "Enable TOTP 2FA with a first code" },
	{ EVHTTP_REQ_POST, "/users/:user/2fa/totp/check", totp_check, NULL, API_2FA_PENDING,
	  totp_token_fields,
	  "Check a TOTP code" },
	{ EVHTTP_REQ_DELETE, "/users/:user/2fa", twofa_disable, NULL, 0, NULL,
	  "Disable 2FA" },
	{ EVHTTP_REQ_GET, "/users/:user/authlog", authlog, NULL, 0, NULL,
	  "List authentication events" },
	{ EVHTTP_REQ_GET, "/users/:user/filters", filter_list, NULL, 0, NULL, "List filters" },
	{ EVHTTP_REQ_POST, "/users/:user/filters", filter_create, NULL, 0, filter_fields,
	  "Create a filter" },
	{ EVHTTP_REQ_DELETE, "/users/:user/filters/:filter", filter_delete, NULL, 0, NULL,
	  "Delete a filter" },
	{ EVHTTP_REQ_GET, "/users/:user/autoreply", autoreply_get, NULL, 0, NULL,
	  "Get the autoreply" },
	{ EVHTTP_REQ_PUT, "/users/:user/autoreply", autoreply_set, NULL, 0, autoreply_fields,
	  "Set the autoreply" },
	{ EVHTTP_REQ_DELETE, "/users/:user/autoreply", autoreply_delete, NULL, 0, NULL,
	  "Delete the autoreply" },
	{ EVHTTP_REQ_GET, "/users/:user/updates", updates_placeholder, api_updates, 0, NULL,
	  "Event stream of the user's changes (text/event-stream)" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
