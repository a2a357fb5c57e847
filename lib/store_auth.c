/* The dispatcher of the authentication calls of store.h (application
 * passwords, TOTP, the auth log): argument checks and debug logging, then
 * the driver. Secrets and hashes are never logged. */
#include "store_driver.h"

#include "log.h"
#include "pool.h"

#include <string.h>
#include <unistr.h>

#define DESCRIPTION_MAX 1024
#define FIELD_MAX 1024
#define ASP_SCOPES_MAX 8
#define AUTHLOG_LIST_MAX 10000

/* NULL, or UTF-8 without control characters and at most max bytes. */
static bool text_ok(const char *s, size_t max)
{
	if (s == NULL)
		return true;
	size_t len = strlen(s);
	if (len > max || u8_check((const uint8_t *)s, len) != NULL)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool scope_valid(const char *scope)
{
	static const char *const scopes[] = { "imap", "pop3", "smtp", "*" };
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
		if (scope != NULL && strcmp(scope, scopes[i]) == 0)
			return true;
	return false;
}

#define CHECK_ID(id) \
	do { \
		if (!store_id_valid(id)) \
			return store_call_reject(store, op, STORE_ERR_INVALID, "malformed id", error_r); \
	} while (0)

int store_asp_create(struct store *store, const char *user_id, const struct store_asp *asp,
		     char id_r[STORE_ID_SIZE], const char **error_r)
{
	static const char op[] = "asp_create";
	store_call_begin(store, op, user_id);
	CHECK_ID(user_id);
	if (asp->scopes_count == 0 || asp->scopes_count > ASP_SCOPES_MAX || asp->scopes == NULL)
		return store_call_reject(store, op, STORE_ERR_INVALID, "an application password needs scopes", error_r);
	for (unsigned int i = 0; i < asp->scopes_count; i++)
		if (!scope_valid(asp->scopes[i]))
			return store_call_reject(store, op, STORE_ERR_INVALID, "unknown scope (imap, pop3, smtp or *)", error_r);
	if (!text_ok(asp->description, DESCRIPTION_MAX))
		return store_call_reject(store, op, STORE_ERR_INVALID, "invalid description", error_r);
	if (asp->password_hash == NULL || asp->password_hash[0] == '\0' ||
	    !text_ok(asp->password_hash, FIELD_MAX))
		return store_call_reject(store, op, STORE_ERR_INVALID, "missing password hash", error_r);
	struct pool *pool = pool_create(256);
	const char *scopes = store_flags_join(pool, asp->scopes, asp->scopes_count);
	int ret = store->driver->asp_create(store, user_id, asp->description, scopes,
					    asp->password_hash, id_r);
	pool_destroy(&pool);
	return store_call_end(store, op, ret, error_r);
}

int store_asp_list(struct store *store, const char *user_id, struct pool *pool,
		   struct store_asp **asps_r, unsigned int *count_r, const char **error_r)
{
	static const char op[] = "asp_list";
	store_call_begin(store, op, user_id);
	CHECK_ID(user_id);
	return store_call_end(store, op, store->driver->asp_list(store, user_id, pool, asps_r, count_r),
		   error_r);
}

int store_asp_delete(struct store *store, const char *user_id, const char *asp_id,
		     const char **error_r)
{
	static const char op[] = "asp_delete";
	store_call_begin(store, op, asp_id);
	CHECK_ID(user_id);
	CHECK_ID(asp_id);
	return store_call_end(store, op, store->driver->asp_delete(store, user_id, asp_id), error_r);
}

int store_asp_touch(struct store *store, const char *asp_id, int64_t when,
		    const char **error_r)
{
	static const char op[] = "asp_touch";
	store_call_begin(store, op, asp_id);
	CHECK_ID(asp_id);
	return store_call_end(store, op, store->driver->asp_touch(store, asp_id, when), error_r);
}

int store_totp_get(struct store *store, const char *user_id, struct pool *pool,
		   const char **secret_r, bool *enabled_r, const char **error_r)
{
	static const char op[] = "totp_get";
	store_call_begin(store, op, user_id);
	CHECK_ID(user_id);
	return store_call_end(store, op, store->driver->totp_get(store, user_id, pool, secret_r, enabled_r),
		   error_r);
}

int store_totp_set(struct store *store, const char *user_id, const char *secret, bool enabled,
		   const char **error_r)
{
	static const char op[] = "totp_set";
	store_call_begin(store, op, user_id);
	CHECK_ID(user_id);
	if (secret != NULL && (secret[0] == '\0' || !text_ok(secret, FIELD_MAX)))
		return store_call_reject(store, op, STORE_ERR_INVALID, "invalid secret", error_r);
	return store_call_end(store, op, store->driver->totp_set(store, user_id, secret, enabled), error_r);
}

int store_totp_use(struct store *store, const char *user_id, uint64_t step,
		   const char **error_r)
{
	static const char op[] = "totp_use";
	store_call_begin(store, op, user_id);
	CHECK_ID(user_id);
	if (step > INT64_MAX)
		return store_call_reject(store, op, STORE_ERR_INVALID, "step out of range", error_r);
	return store_call_end(store, op, store->driver->totp_use(store, user_id, step), error_r);
}

int store_authlog_add(struct store *store, const struct store_authlog_entry *entry,
		      const char **error_r)
{
	static const char op[] = "authlog_add";
	store_call_begin(store, op, entry->user);
	CHECK_ID(entry->user);
	if (entry->asp != NULL)
		CHECK_ID(entry->asp);
	if (!text_ok(entry->service, FIELD_MAX) || !text_ok(entry->remote_ip, FIELD_MAX) ||
	    !text_ok(entry->reason, FIELD_MAX))
		return store_call_reject(store, op, STORE_ERR_INVALID, "invalid text field", error_r);
	if (entry->expires <= entry->created)
		return store_call_reject(store, op, STORE_ERR_INVALID, "entry expires before it is made", error_r);
	return store_call_end(store, op, store->driver->authlog_add(store, entry), error_r);
}

int store_authlog_list(struct store *store, const char *user_id, int64_t now,
		       unsigned int limit, struct pool *pool,
		       struct store_authlog_entry **entries_r, unsigned int *count_r,
		       const char **error_r)
{
	static const char op[] = "authlog_list";
	store_call_begin(store, op, user_id);
	CHECK_ID(user_id);
	if (limit == 0 || limit > AUTHLOG_LIST_MAX)
		limit = AUTHLOG_LIST_MAX;
	return store_call_end(store, op, store->driver->authlog_list(store, user_id, now, limit, pool,
							  entries_r, count_r), error_r);
}

int store_authlog_purge(struct store *store, int64_t now, unsigned int *purged_r,
			const char **error_r)
{
	static const char op[] = "authlog_purge";
	store_call_begin(store, op, NULL);
	unsigned int dummy;
	return store_call_end(store, op, store->driver->authlog_purge(store, now,
							   purged_r != NULL ? purged_r : &dummy),
		   error_r);
}
