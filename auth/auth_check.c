/* One authentication decision; see auth_check.h. WildDuck's rules:
 * unknown and deleted users fail as "invalid" after a dummy verification
 * (same time as a wrong password); disabled or suspended users fail; with
 * TOTP enabled the account password is good only for scope "master" (the
 * API, which then asks for the code), mail clients need an ASP; an ASP
 * whose scopes lack the requested one fails. */
#include "auth_check.h"

#include "log.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *auth_check_scope(const char *service, const char *scope)
{
	static const char *const scopes[] = { "imap", "pop3", "smtp", "master" };
	const char *want = scope != NULL && scope[0] != '\0' ? scope :
		strcmp(service, "api") == 0 ? "master" : service;
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
		if (strcmp(want, scopes[i]) == 0)
			return scopes[i];
	return NULL;
}

static bool asp_has_scope(const struct store_asp *asp, const char *scope)
{
	for (unsigned int i = 0; i < asp->scopes_count; i++)
		if (strcmp(asp->scopes[i], "*") == 0 || strcmp(asp->scopes[i], scope) == 0)
			return true;
	return false;
}

/* An ASP as typed: 16 letters, maybe in groups with spaces (WildDuck
 * shows "abcd efgh ijkl mnop"); NULL if the secret cannot be one. */
static const char *asp_normalize(const char *secret, char out[PASSWORD_ASP_LEN + 1])
{
	size_t n = 0;
	for (const char *p = secret; *p != '\0'; p++) {
		if (*p == ' ')
			continue;
		if (n == PASSWORD_ASP_LEN || !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return NULL;
		out[n++] = (char)(*p | 0x20);
	}
	out[n] = '\0';
	return n == PASSWORD_ASP_LEN ? out : NULL;
}

static void finish(struct auth_check *c, enum auth_status status, const char *reason)
{
	c->status = status;
	c->reason = reason;
	c->counts_failure = status == AUTH_FAIL;
}

static void authlog(struct store *store, const struct auth_check_settings *set,
		    const struct auth_check *c, const char *asp_id)
{
	struct store_authlog_entry e = {
		.created = (int64_t)time(NULL),
		.service = c->service,
		.remote_ip = c->remote_ip,
		.success = c->status == AUTH_OK,
		.reason = c->reason,
		.asp = asp_id,
	};
	e.expires = e.created + (int64_t)set->authlog_days * 86400;
	memcpy(e.user, c->user_id, STORE_ID_SIZE);
	const char *error;
	if (store_authlog_add(store, &e, &error) < 0)
		log_warn("event=authlog_failed user=%s error=\"%s\"", c->user_id, error);
}

static void rehash(struct store *store, const struct auth_check_settings *set,
		   const struct auth_check *c, const char *hash)
{
	if (!set->rehash || !password_needs_rehash(&set->hash, hash))
		return;
	char *fresh = password_hash(&set->hash, c->secret);
	if (fresh == NULL)
		return;
	struct store_user up = { .password_hash = fresh };
	const char *error;
	if (store_user_update(store, c->user_id, STORE_USER_PASSWORD, &up, &error) < 0)
		log_warn("event=rehash_failed user=%s error=\"%s\"", c->user_id, error);
	else
		log_info("event=rehashed user=%s from=%s to=%s", c->user_id,
			 password_scheme_name(password_scheme_of(hash)),
			 password_scheme_name(set->hash.scheme));
	free(fresh);
}

static bool store_down(struct store *store)
{
	enum store_error e = store_last_error(store);
	return e == STORE_ERR_TEMPORARY || e == STORE_ERR_INTERNAL;
}

static int find_user(struct store *store, struct pool *pool, const char *username,
		     struct store_user **user_r)
{
	const char *error;
	if (strchr(username, '@') != NULL) {
		/* login by address, as WildDuck allows */
		struct store_address_resolved res;
		if (store_address_resolve(store, username, pool, &res, &error) < 0)
			return -1;
		return store_user_get(store, res.user, pool, user_r, &error);
	}
	return store_user_get_by_username(store, username, pool, user_r, &error);
}

void auth_check_run(struct store *store, const struct auth_check_settings *set,
		    struct auth_check *c)
{
	c->flags[0] = '\0';
	c->user_id[0] = '\0';
	if (store == NULL) {
		finish(c, AUTH_TEMPFAIL, "store");
		return;
	}
	struct pool *pool = pool_create(2048);
	struct store_user *user = NULL;
	const char *error, *asp_used = NULL;
	if (find_user(store, pool, c->username, &user) < 0) {
		if (store_down(store)) {
			finish(c, AUTH_TEMPFAIL, "store");
		} else {
			password_dummy_verify(&set->hash, c->secret);
			finish(c, AUTH_FAIL, "invalid");
		}
		pool_destroy(&pool);
		return;
	}
	memcpy(c->user_id, user->id, STORE_ID_SIZE);
	snprintf(c->username_out, sizeof(c->username_out), "%s", user->username);

	const char *totp_secret;
	bool totp_enabled = false;
	if (store_totp_get(store, user->id, pool, &totp_secret, &totp_enabled, &error) < 0) {
		totp_enabled = false;
		if (store_down(store)) {
			finish(c, AUTH_TEMPFAIL, "store");
			pool_destroy(&pool);
			return;
		}
	}

	int master = user->password_hash == NULL ? -1 :
		password_verify(c->secret, user->password_hash);
	if (master < 0 && user->password_hash != NULL)
		log_warn("event=bad_hash user=%s scheme=%s", user->id,
			 password_scheme_name(password_scheme_of(user->password_hash)));
	if (user->disabled || user->suspended) {
		finish(c, AUTH_FAIL, "disabled");
	} else if (master == 1) {
		if (totp_enabled && strcmp(c->scope, "master") != 0) {
			finish(c, AUTH_FAIL, "2fa-required");
		} else {
			finish(c, AUTH_OK, "password");
			if (totp_enabled)
				snprintf(c->flags, sizeof(c->flags), "require2fa");
			rehash(store, set, c, user->password_hash);
		}
	} else {
		char asp_buf[PASSWORD_ASP_LEN + 1];
		const char *asp = asp_normalize(c->secret, asp_buf);
		struct store_asp *asps = NULL;
		unsigned int count = 0;
		finish(c, AUTH_FAIL, "invalid");
		if (asp != NULL && store_asp_list(store, user->id, pool, &asps, &count, &error) < 0 &&
		    store_down(store))
			finish(c, AUTH_TEMPFAIL, "store");
		for (unsigned int i = 0; asp != NULL && i < count; i++) {
			if (password_verify(asp, asps[i].password_hash) != 1)
				continue;
			asp_used = pool_strdup(pool, asps[i].id);
			if (strcmp(c->scope, "master") == 0 || !asp_has_scope(&asps[i], c->scope)) {
				finish(c, AUTH_FAIL, "scope");
			} else {
				finish(c, AUTH_OK, "asp");
				snprintf(c->flags, sizeof(c->flags), "asp=%s", asps[i].id);
				(void)store_asp_touch(store, asps[i].id, (int64_t)time(NULL), &error);
			}
			break;
		}
	}
	if (c->status != AUTH_TEMPFAIL)
		authlog(store, set, c, asp_used);
	pool_destroy(&pool);
}
