/* The store dispatcher: validates and normalises arguments, logs every call
 * at debug level and failures of the store itself at error level, then
 * hands the call to the driver (OpenSMTPD queue_backend.c style). */
#include "store_driver.h"

#include "address.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistr.h>

#define MAILBOX_PATH_MAX 1024
#define MAILBOX_LEVELS_MAX 128
#define FLAG_MAX 256

static const struct store_driver *const drivers[] = {
	&store_driver_sqlite,
	&store_driver_mongodb,
};

void store_settings_from_config(struct store_settings *set, const struct config *config)
{
	memset(set, 0, sizeof(*set));
	set->driver = config->store.driver;
	if (set->driver != NULL && strcmp(set->driver, "mongodb") == 0) {
		set->path = config->store.mongodb_uri;
		set->database = config->store.mongodb_database;
		set->attachments_database = config->store.mongodb_attachments_database;
	} else {
		set->path = config->store.sqlite_path;
	}
}

int store_set_error(struct store *store, enum store_error error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(store->error_msg, sizeof(store->error_msg), fmt, ap);
	va_end(ap);
	store->error = error;
	return -1;
}

void store_call_begin(struct store *store, const char *op, const char *arg)
{
	store->error = STORE_OK;
	store->error_msg[0] = '\0';
	log_debug("event=store_call driver=%s op=%s arg=%s", store->driver->name, op,
		  arg == NULL ? "-" : arg);
}

int store_call_end(struct store *store, const char *op, int ret, const char **error_r)
{
	if (ret == 0)
		return 0;
	if (store->error == STORE_OK)
		store_set_error(store, STORE_ERR_INTERNAL, "driver failed without a reason");
	/* NOT_FOUND, EXISTS, OVER_QUOTA and INVALID are answers to the client,
	 * not faults of the server: logging them as errors would drown the
	 * real ones (TEMPORARY, INTERNAL). */
	if (store->error == STORE_ERR_TEMPORARY || store->error == STORE_ERR_INTERNAL) {
		metrics_store_error(store->error == STORE_ERR_TEMPORARY ? METRICS_STORE_TEMPORARY
				    : METRICS_STORE_INTERNAL);
		log_error("event=store_error driver=%s op=%s code=%s error=%s",
			  store->driver->name, op, store_error_name(store->error),
			  store->error_msg);
	} else {
		log_debug("event=store_fail driver=%s op=%s code=%s error=%s",
			  store->driver->name, op, store_error_name(store->error),
			  store->error_msg);
	}
	*error_r = store->error_msg;
	return -1;
}

int store_call_reject(struct store *store, const char *op, enum store_error error,
		      const char *msg, const char **error_r)
{
	store_set_error(store, error, "%s", msg);
	return store_call_end(store, op, -1, error_r);
}

const char *store_error_name(enum store_error error)
{
	static const char *const names[] = {
		"ok", "not_found", "exists", "over_quota", "temporary", "invalid", "internal",
	};
	if ((unsigned int)error < sizeof(names) / sizeof(names[0]))
		return names[error];
	return "unknown";
}

enum store_error store_last_error(const struct store *store)
{
	return store->error;
}

int store_open(const struct store_settings *set, struct store **store_r,
	       const char **error_r)
{
	static __thread char open_error[256];
	const char *name = set->driver == NULL ? "sqlite" : set->driver;
	const struct store_driver *driver = NULL;
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drivers[i]->name, name) == 0)
			driver = drivers[i];
	if (driver == NULL) {
		snprintf(open_error, sizeof(open_error), "unknown store driver '%s'", name);
		*error_r = open_error;
		return -1;
	}
	struct store *store = xcalloc(1, sizeof(*store));
	store->driver = driver;
	store_call_begin(store, "open", set->path);
	if (driver->open(store, set) < 0) {
		(void)store_call_end(store, "open", -1, error_r);
		snprintf(open_error, sizeof(open_error), "%s", store->error_msg);
		*error_r = open_error;
		free(store);
		return -1;
	}
	*store_r = store;
	return 0;
}

void store_close(struct store **storep)
{
	struct store *store = *storep;
	if (store == NULL)
		return;
	log_debug("event=store_call driver=%s op=close", store->driver->name);
	store->driver->close(store);
	free(store);
	*storep = NULL;
}

void store_id_generate(char id_r[STORE_ID_SIZE])
{
	/* 4 bytes of time as in an ObjectId, then 8 random bytes: no counter or
	 * machine id that a fork() could duplicate between processes. */
	unsigned char raw[12];
	uint32_t now = (uint32_t)time(NULL);
	raw[0] = (unsigned char)(now >> 24);
	raw[1] = (unsigned char)(now >> 16);
	raw[2] = (unsigned char)(now >> 8);
	raw[3] = (unsigned char)now;
	size_t got = 0;
	while (got < 8) {
		ssize_t n = getrandom(raw + 4 + got, 8 - got, 0);
		if (n < 0)
			log_fatal("event=getrandom_failed error=%m");
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id_r + i * 2, 3, "%02x", raw[i]);
}

static bool hex_string(const char *s, size_t len)
{
	if (s == NULL || strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool store_id_valid(const char *id)
{
	return hex_string(id, STORE_ID_SIZE - 1);
}

bool store_attachment_id_valid(const char *id)
{
	return hex_string(id, STORE_ATTACHMENT_ID_SIZE - 1);
}

bool store_uid_in_ranges(uint32_t uid, const struct store_uid_range *ranges,
			 unsigned int ranges_count)
{
	if (ranges_count == 0)
		return true;
	for (unsigned int i = 0; i < ranges_count; i++)
		if (uid >= ranges[i].first && uid <= ranges[i].last)
			return true;
	return false;
}

const char *store_special_use_name(enum store_special_use use)
{
	static const char *const names[] = {
		NULL, "\\Inbox", "\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive",
	};
	if ((unsigned int)use < sizeof(names) / sizeof(names[0]))
		return names[use];
	return NULL;
}

/* ---- argument checks shared by the calls below ---- */

static bool path_valid(const char *path, const char **why_r)
{
	size_t len = path == NULL ? 0 : strlen(path);
	unsigned int levels = 1;
	if (len == 0 || len > MAILBOX_PATH_MAX) {
		*why_r = "mailbox path empty or too long";
		return false;
	}
	if (u8_check((const uint8_t *)path, len) != NULL) {
		*why_r = "mailbox path is not UTF-8";
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f) {
			*why_r = "control character in mailbox path";
			return false;
		}
		if (path[i] == '/') {
			levels++;
			if (i == 0 || i == len - 1 || path[i + 1] == '/') {
				*why_r = "empty level in mailbox path";
				return false;
			}
		}
	}
	if (levels > MAILBOX_LEVELS_MAX) {
		*why_r = "mailbox path too deep";
		return false;
	}
	return true;
}

static bool flag_valid(const char *flag)
{
	size_t len = strlen(flag);
	if (len == 0 || len > FLAG_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)flag[i];
		/* atom-specials of RFC 3501, plus '\' except in front */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"]", c) != NULL ||
		    (c == '\\' && i > 0))
			return false;
	}
	return true;
}

static bool flags_valid(const char *const *flags, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		if (flags[i] == NULL || !flag_valid(flags[i]))
			return false;
	return true;
}

static bool ranges_valid(const struct store_uid_range *ranges, unsigned int count)
{
	if (count > 0 && ranges == NULL)
		return false;
	for (unsigned int i = 0; i < count; i++)
		if (ranges[i].first == 0 || ranges[i].first > ranges[i].last)
			return false;
	return true;
}

/* Tags are stored joined by newlines. */
static bool tags_valid(const char *const *tags, unsigned int count)
{
	if (count > 0 && tags == NULL)
		return false;
	for (unsigned int i = 0; i < count; i++) {
		if (tags[i] == NULL || tags[i][0] == '\0')
			return false;
		for (const char *p = tags[i]; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20)
				return false;
	}
	return true;
}

static int range_cmp(const void *a, const void *b)
{
	const struct store_uid_range *ra = a, *rb = b;
	return ra->first < rb->first ? -1 : ra->first > rb->first;
}

/* A sorted copy of ranges with overlaps merged, so that drivers visit each
 * uid once and in order (free() it). */
static struct store_uid_range *ranges_normalize(const struct store_uid_range *ranges,
						unsigned int count, unsigned int *count_r)
{
	struct store_uid_range *out = xcalloc(count + 1, sizeof(*out));
	if (count > 0)
		memcpy(out, ranges, count * sizeof(*out));
	qsort(out, count, sizeof(*out), range_cmp);
	unsigned int n = 0;
	for (unsigned int i = 0; i < count; i++) {
		if (n > 0 && (uint64_t)out[i].first <= (uint64_t)out[n - 1].last + 1) {
			if (out[i].last > out[n - 1].last)
				out[n - 1].last = out[i].last;
			continue;
		}
		out[n++] = out[i];
	}
	*count_r = n;
	return out;
}

#define CHECK_ID(store, op, id, error_r) \
	do { \
		if (!store_id_valid(id)) \
			return store_call_reject(store, op, STORE_ERR_INVALID, \
					   "malformed id", error_r); \
	} while (0)

/* ---- users ---- */

int store_user_create(struct store *store, const struct store_user *user,
		      char id_r[STORE_ID_SIZE], const char **error_r)
{
	static const char op[] = "user_create";
	store_call_begin(store, op, user->username);
	struct pool *pool = pool_create(1024);
	struct store_user copy = *user;
	const char *unameview, *addrview = NULL, *domain = NULL, *local, *why = NULL;
	int ret;

	if (user->username == NULL ||
	    address_username_key(pool, user->username, &unameview, &why) < 0) {
		ret = store_set_error(store, STORE_ERR_INVALID, "username: %s",
				      why == NULL ? "missing" : why);
	} else if (user->address != NULL &&
		   address_normalize(pool, user->address, 0, &copy.address, &why) < 0) {
		ret = store_set_error(store, STORE_ERR_INVALID, "address: %s", why);
	} else if (!tags_valid(user->tags, user->tags_count)) {
		ret = store_set_error(store, STORE_ERR_INVALID, "invalid tag");
	} else {
		if (copy.address != NULL) {
			addrview = address_without_dots(pool, copy.address);
			address_split(pool, copy.address, &local, &domain);
		}
		ret = store->driver->user_create(store, &copy, unameview, addrview, domain, id_r);
	}
	pool_destroy(&pool);
	return store_call_end(store, op, ret, error_r);
}

int store_user_get(struct store *store, const char *user_id, struct pool *pool,
		   struct store_user **user_r, const char **error_r)
{
	static const char op[] = "user_get";
	store_call_begin(store, op, user_id);
	CHECK_ID(store, op, user_id, error_r);
	int ret = store->driver->user_get(store, user_id, NULL, pool, user_r);
	return store_call_end(store, op, ret, error_r);
}

int store_user_get_by_username(struct store *store, const char *username,
			       struct pool *pool, struct store_user **user_r,
			       const char **error_r)
{
	static const char op[] = "user_get_by_username";
	store_call_begin(store, op, username);
	const char *key, *why;
	if (username == NULL || address_username_key(pool, username, &key, &why) < 0)
		return store_call_reject(store, op, STORE_ERR_NOT_FOUND, "no such user", error_r);
	int ret = store->driver->user_get(store, NULL, key, pool, user_r);
	return store_call_end(store, op, ret, error_r);
}

int store_user_update(struct store *store, const char *user_id, unsigned int fields,
		      const struct store_user *user, const char **error_r)
{
	static const char op[] = "user_update";
	store_call_begin(store, op, user_id);
	CHECK_ID(store, op, user_id, error_r);
	if ((fields & STORE_USER_TAGS) != 0 && !tags_valid(user->tags, user->tags_count))
		return store_call_reject(store, op, STORE_ERR_INVALID, "invalid tag", error_r);
	int ret = store->driver->user_update(store, user_id, fields, user);
	return store_call_end(store, op, ret, error_r);
}

int store_user_delete(struct store *store, const char *user_id, const char **error_r)
{
	static const char op[] = "user_delete";
	store_call_begin(store, op, user_id);
	CHECK_ID(store, op, user_id, error_r);
	int ret = store->driver->user_delete(store, user_id);
	return store_call_end(store, op, ret, error_r);
}

/* ---- addresses ---- */

int store_address_add(struct store *store, const char *user_id, const char *address,
		      bool main, const char **error_r)
{
	static const char op[] = "address_add";
	store_call_begin(store, op, address);
	CHECK_ID(store, op, user_id, error_r);
	struct pool *pool = pool_create(512);
	const char *norm, *addrview, *local, *domain, *why;
	int ret;
	if (address == NULL ||
	    address_normalize(pool, address, ADDRESS_ALLOW_WILDCARD, &norm, &why) < 0) {
		ret = store_set_error(store, STORE_ERR_INVALID, "address: %s",
				      address == NULL ? "missing" : why);
	} else {
		bool wildcard = address_is_wildcard(norm);
		address_split(pool, norm, &local, &domain);
		addrview = address_without_dots(pool, norm);
		if (wildcard && (main || strchr(local, '+') != NULL))
			ret = store_set_error(store, STORE_ERR_INVALID,
					      "a wildcard can be no main address and has no +label");
		else
			ret = store->driver->address_add(store, user_id, norm, addrview, domain,
							 wildcard, main);
	}
	pool_destroy(&pool);
	return store_call_end(store, op, ret, error_r);
}

int store_address_delete(struct store *store, const char *address, const char **error_r)
{
	static const char op[] = "address_delete";
	store_call_begin(store, op, address);
	struct pool *pool = pool_create(512);
	const char *norm, *why;
	int ret;
	if (address == NULL ||
	    address_normalize(pool, address, ADDRESS_ALLOW_WILDCARD, &norm, &why) < 0)
		ret = store_set_error(store, STORE_ERR_NOT_FOUND, "no such address");
	else
		ret = store->driver->address_delete(store, norm);
	pool_destroy(&pool);
	return store_call_end(store, op, ret, error_r);
}

int store_address_list(struct store *store, const char *user_id, struct pool *pool,
		       struct store_address **addresses_r, unsigned int *count_r,
		       const char **error_r)
{
	static const char op[] = "address_list";
	store_call_begin(store, op, user_id);
	CHECK_ID(store, op, user_id, error_r);
	int ret = store->driver->address_list(store, user_id, pool, addresses_r, count_r);
	return store_call_end(store, op, ret, error_r);
}

/* Returns 1 and fills *found_r if the driver found it, 0 if not, -1 on a
 * real error. */
static int find_address(struct store *store, const char *address, const char *addrview,
			struct pool *pool, struct store_address **found_r)
{
	if (store->driver->address_find(store, address, addrview, pool, found_r) == 0)
		return 1;
	if (store->error != STORE_ERR_NOT_FOUND)
		return -1;
	store->error = STORE_OK;
	return 0;
}

/* The best wildcard of domain for the dotless, label-less local part key:
 * the longest matching "prefix*", else "*". */
static int find_wildcard(struct store *store, const char *key, const char *domain,
			 struct pool *pool, struct store_address **found_r,
			 enum store_address_match *match_r)
{
	struct store_address *list;
	unsigned int count;
	if (store->driver->address_wildcards(store, domain, pool, &list, &count) < 0)
		return -1;
	size_t best_len = 0;
	struct store_address *best = NULL;
	for (unsigned int i = 0; i < count; i++) {
		const char *view;
		address_delivery_key(pool, list[i].address, &view, NULL);
		size_t prefix_len = (size_t)(strchr(view, '*') - view);
		if (strncmp(view, key, prefix_len) != 0)
			continue;
		if (best == NULL || prefix_len > best_len) {
			best = &list[i];
			best_len = prefix_len;
		}
	}
	if (best == NULL)
		return 0;
	*found_r = best;
	*match_r = best_len > 0 ? STORE_ADDRESS_MATCH_PREFIX : STORE_ADDRESS_MATCH_WILDCARD;
	return 1;
}

static int resolve_in_domain(struct store *store, const char *local, const char *domain,
			     struct pool *pool, struct store_address_resolved *resolved_r)
{
	const char *exact = pool_printf(pool, "%s@%s", local, domain);
	const char *view, *label, *key_local, *key_domain;
	struct store_address *found = NULL;
	address_delivery_key(pool, exact, &view, &label);
	int ret = find_address(store, exact, NULL, pool, &found);
	resolved_r->match = STORE_ADDRESS_MATCH_EXACT;
	if (ret == 0) {
		/* dots never count; a stored "a+b@d" still wins over "a@d" */
		ret = find_address(store, NULL, address_without_dots(pool, exact), pool, &found);
		resolved_r->match = STORE_ADDRESS_MATCH_NORMALIZED;
	}
	if (ret == 0) {
		resolved_r->label = label;
		ret = find_address(store, NULL, view, pool, &found);
	}
	if (ret == 0) {
		address_split(pool, view, &key_local, &key_domain);
		ret = find_wildcard(store, key_local, domain, pool, &found, &resolved_r->match);
	}
	if (ret == 1) {
		memcpy(resolved_r->user, found->user, STORE_ID_SIZE);
		resolved_r->address = found->address;
	}
	return ret;
}

int store_address_resolve(struct store *store, const char *address, struct pool *pool,
			  struct store_address_resolved *resolved_r, const char **error_r)
{
	static const char op[] = "address_resolve";
	store_call_begin(store, op, address);
	const char *norm, *local, *domain, *target, *why;
	if (address == NULL || address_normalize(pool, address, 0, &norm, &why) < 0)
		return store_call_reject(store, op, STORE_ERR_NOT_FOUND, "no such address", error_r);
	memset(resolved_r, 0, sizeof(*resolved_r));
	address_split(pool, norm, &local, &domain);
	int ret = resolve_in_domain(store, local, domain, pool, resolved_r);
	if (ret == 0) {
		/* one hop only: an alias of an alias is not followed */
		if (store->driver->domain_alias_get(store, domain, pool, &target) == 0) {
			resolved_r->via_domain_alias = true;
			ret = resolve_in_domain(store, local, target, pool, resolved_r);
		} else {
			ret = store->error == STORE_ERR_NOT_FOUND ? 0 : -1;
		}
	}
	if (ret == 0)
		return store_call_reject(store, op, STORE_ERR_NOT_FOUND, "no such address", error_r);
	return store_call_end(store, op, ret < 0 ? -1 : 0, error_r);
}

static int normalize_domain_arg(struct store *store, struct pool *pool, const char *domain,
				const char **norm_r)
{
	const char *why;
	if (domain == NULL || address_normalize_domain(pool, domain, norm_r, &why) < 0)
		return store_set_error(store, STORE_ERR_INVALID, "domain: %s",
				       domain == NULL ? "missing" : why);
	return 0;
}

int store_domain_alias_add(struct store *store, const char *alias, const char *domain,
			   const char **error_r)
{
	static const char op[] = "domain_alias_add";
	store_call_begin(store, op, alias);
	struct pool *pool = pool_create(512);
	const char *a, *d;
	int ret = -1;
	if (normalize_domain_arg(store, pool, alias, &a) == 0 &&
	    normalize_domain_arg(store, pool, domain, &d) == 0) {
		if (strcmp(a, d) == 0)
			ret = store_set_error(store, STORE_ERR_INVALID, "alias of itself");
		else
			ret = store->driver->domain_alias_add(store, a, d);
	}
	pool_destroy(&pool);
	return store_call_end(store, op, ret, error_r);
}

int store_domain_alias_delete(struct store *store, const char *alias, const char **error_r)
{
	static const char op[] = "domain_alias_delete";
	store_call_begin(store, op, alias);
	struct pool *pool = pool_create(512);
	const char *a;
	int ret = normalize_domain_arg(store, pool, alias, &a);
	if (ret == 0)
		ret = store->driver->domain_alias_delete(store, a);
	pool_destroy(&pool);
	return store_call_end(store, op, ret, error_r);
}

int store_domain_alias_get(struct store *store, const char *alias, struct pool *pool,
			   const char **domain_r, const char **error_r)
{
	static const char op[] = "domain_alias_get";
	store_call_begin(store, op, alias);
	const char *a;
	int ret = normalize_domain_arg(store, pool, alias, &a);
	if (ret == 0)
		ret = store->driver->domain_alias_get(store, a, pool, domain_r);
	return store_call_end(store, op, ret, error_r);
}

/* ---- mailboxes ---- */

int store_mailbox_create(struct store *store, const char *user_id, const char *path,
			 enum store_special_use special_use, char id_r[STORE_ID_SIZE],
			 const char **error_r)
{
	static const char op[] = "mailbox_create";
	store_call_begin(store, op, path);
	CHECK_ID(store, op, user_id, error_r);
	const char *why;
	if (!path_valid(path, &why))
		return store_call_reject(store, op, STORE_ERR_INVALID, why, error_r);
	if ((unsigned int)special_use > STORE_SPECIAL_ARCHIVE)
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad special use", error_r);
	int ret = store->driver->mailbox_create(store, user_id, path, special_use, id_r);
	return store_call_end(store, op, ret, error_r);
}

int store_mailbox_get(struct store *store, const char *mailbox_id, struct pool *pool,
		      struct store_mailbox **mailbox_r, const char **error_r)
{
	static const char op[] = "mailbox_get";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	int ret = store->driver->mailbox_get(store, mailbox_id, NULL, NULL, pool, mailbox_r);
	return store_call_end(store, op, ret, error_r);
}

int store_mailbox_get_by_path(struct store *store, const char *user_id, const char *path,
			      struct pool *pool, struct store_mailbox **mailbox_r,
			      const char **error_r)
{
	static const char op[] = "mailbox_get_by_path";
	store_call_begin(store, op, path);
	CHECK_ID(store, op, user_id, error_r);
	if (path == NULL)
		return store_call_reject(store, op, STORE_ERR_NOT_FOUND, "no such mailbox", error_r);
	int ret = store->driver->mailbox_get(store, NULL, user_id, path, pool, mailbox_r);
	return store_call_end(store, op, ret, error_r);
}

int store_mailbox_list(struct store *store, const char *user_id, struct pool *pool,
		       struct store_mailbox **mailboxes_r, unsigned int *count_r,
		       const char **error_r)
{
	static const char op[] = "mailbox_list";
	store_call_begin(store, op, user_id);
	CHECK_ID(store, op, user_id, error_r);
	int ret = store->driver->mailbox_list(store, user_id, pool, mailboxes_r, count_r);
	return store_call_end(store, op, ret, error_r);
}

int store_mailbox_rename(struct store *store, const char *mailbox_id, const char *new_path,
			 const char **error_r)
{
	static const char op[] = "mailbox_rename";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	const char *why;
	if (!path_valid(new_path, &why))
		return store_call_reject(store, op, STORE_ERR_INVALID, why, error_r);
	int ret = store->driver->mailbox_rename(store, mailbox_id, new_path);
	return store_call_end(store, op, ret, error_r);
}

int store_mailbox_delete(struct store *store, const char *mailbox_id, const char **error_r)
{
	static const char op[] = "mailbox_delete";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	int ret = store->driver->mailbox_delete(store, mailbox_id);
	return store_call_end(store, op, ret, error_r);
}

int store_mailbox_subscribe(struct store *store, const char *mailbox_id, bool subscribed,
			    const char **error_r)
{
	static const char op[] = "mailbox_subscribe";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	int ret = store->driver->mailbox_subscribe(store, mailbox_id, subscribed);
	return store_call_end(store, op, ret, error_r);
}

int store_mailbox_counts(struct store *store, const char *mailbox_id,
			 struct store_mailbox_counts *counts_r, const char **error_r)
{
	static const char op[] = "mailbox_counts";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	memset(counts_r, 0, sizeof(*counts_r));
	int ret = store->driver->mailbox_counts(store, mailbox_id, counts_r);
	return store_call_end(store, op, ret, error_r);
}

/* ---- messages ---- */

static const char *check_new_message(const struct store_message_new *msg)
{
	if (msg->flags_count > 0 && (msg->flags == NULL || !flags_valid(msg->flags, msg->flags_count)))
		return "invalid flag";
	if (msg->tree_len > 0 && msg->tree == NULL)
		return "tree blob missing";
	if (msg->attachments_count > 0 && msg->attachments == NULL)
		return "attachments missing";
	for (unsigned int i = 0; i < msg->attachments_count; i++) {
		const struct store_attachment *att = &msg->attachments[i];
		if (!store_attachment_id_valid(att->id))
			return "malformed attachment id";
		if (att->len > 0 && att->data == NULL)
			return "attachment data missing";
	}
	return NULL;
}

int store_message_append(struct store *store, const char *mailbox_id,
			 const struct store_message_new *msg, unsigned int flags,
			 struct store_append_result *result_r, const char **error_r)
{
	static const char op[] = "message_append";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	const char *why = check_new_message(msg);
	if (why != NULL)
		return store_call_reject(store, op, STORE_ERR_INVALID, why, error_r);
	int ret = store->driver->message_append(store, mailbox_id, msg, flags, result_r);
	return store_call_end(store, op, ret, error_r);
}

int store_message_list(struct store *store, const char *mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       store_message_cb *callback, void *context, const char **error_r)
{
	static const char op[] = "message_list";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	if (!ranges_valid(ranges, ranges_count))
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad uid range", error_r);
	unsigned int sorted_count;
	struct store_uid_range *sorted = ranges_normalize(ranges, ranges_count, &sorted_count);
	int ret = store->driver->message_list(store, mailbox_id, sorted, sorted_count,
					      callback, context);
	free(sorted);
	return store_call_end(store, op, ret, error_r);
}

int store_message_get(struct store *store, const char *mailbox_id, uint32_t uid,
		      struct pool *pool, struct store_message **msg_r,
		      const char **error_r)
{
	static const char op[] = "message_get";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	int ret = store->driver->message_get(store, mailbox_id, uid, pool, msg_r);
	return store_call_end(store, op, ret, error_r);
}

int store_message_content(struct store *store, const char *message_id, struct pool *pool,
			  struct store_message_content **content_r, const char **error_r)
{
	static const char op[] = "message_content";
	store_call_begin(store, op, message_id);
	CHECK_ID(store, op, message_id, error_r);
	int ret = store->driver->message_content(store, message_id, pool, content_r);
	return store_call_end(store, op, ret, error_r);
}

int store_flags_update(struct store *store, const char *mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       const struct store_flags_update *update, struct pool *pool,
		       struct store_flags_result *result_r, const char **error_r)
{
	static const char op[] = "flags_update";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	if (!ranges_valid(ranges, ranges_count))
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad uid range", error_r);
	if ((unsigned int)update->op > STORE_FLAGS_REMOVE ||
	    (update->flags_count > 0 && update->flags == NULL) ||
	    !flags_valid(update->flags, update->flags_count))
		return store_call_reject(store, op, STORE_ERR_INVALID, "invalid flag", error_r);
	memset(result_r, 0, sizeof(*result_r));
	unsigned int sorted_count;
	struct store_uid_range *sorted = ranges_normalize(ranges, ranges_count, &sorted_count);
	int ret = store->driver->flags_update(store, mailbox_id, sorted, sorted_count, update,
					      pool, result_r);
	free(sorted);
	return store_call_end(store, op, ret, error_r);
}

int store_message_copy(struct store *store, const char *src_mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       const char *dst_mailbox_id, unsigned int flags, struct pool *pool,
		       struct store_copy_result *result_r, const char **error_r)
{
	const char *op = (flags & STORE_COPY_MOVE) != 0 ? "message_move" : "message_copy";
	store_call_begin(store, op, src_mailbox_id);
	CHECK_ID(store, op, src_mailbox_id, error_r);
	CHECK_ID(store, op, dst_mailbox_id, error_r);
	if (!ranges_valid(ranges, ranges_count))
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad uid range", error_r);
	if (strcmp(src_mailbox_id, dst_mailbox_id) == 0 && (flags & STORE_COPY_MOVE) != 0)
		return store_call_reject(store, op, STORE_ERR_INVALID, "move into the same mailbox",
				   error_r);
	memset(result_r, 0, sizeof(*result_r));
	unsigned int sorted_count;
	struct store_uid_range *sorted = ranges_normalize(ranges, ranges_count, &sorted_count);
	int ret = store->driver->message_copy(store, src_mailbox_id, sorted, sorted_count,
					      dst_mailbox_id, flags, pool, result_r);
	free(sorted);
	return store_call_end(store, op, ret, error_r);
}

int store_message_expunge(struct store *store, const char *mailbox_id,
			  const struct store_uid_range *ranges, unsigned int ranges_count,
			  struct pool *pool, uint32_t **uids_r, unsigned int *count_r,
			  const char **error_r)
{
	static const char op[] = "message_expunge";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	if (!ranges_valid(ranges, ranges_count))
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad uid range", error_r);
	*uids_r = NULL;
	*count_r = 0;
	unsigned int sorted_count;
	struct store_uid_range *sorted = ranges_normalize(ranges, ranges_count, &sorted_count);
	int ret = store->driver->message_expunge(store, mailbox_id, sorted, sorted_count,
						 pool, uids_r, count_r);
	free(sorted);
	return store_call_end(store, op, ret, error_r);
}

/* ---- attachments, journal ---- */

int store_attachment_get(struct store *store, const char *attachment_id, struct pool *pool,
			 const unsigned char **data_r, size_t *len_r, const char **error_r)
{
	static const char op[] = "attachment_get";
	store_call_begin(store, op, attachment_id);
	if (!store_attachment_id_valid(attachment_id))
		return store_call_reject(store, op, STORE_ERR_INVALID, "malformed id", error_r);
	int ret = store->driver->attachment_get(store, attachment_id, pool, data_r, len_r);
	return store_call_end(store, op, ret, error_r);
}

int store_attachment_read(struct store *store, const char *attachment_id, uint64_t offset,
			  size_t len, unsigned char *buf, const char **error_r)
{
	static const char op[] = "attachment_read";
	store_call_begin(store, op, attachment_id);
	if (!store_attachment_id_valid(attachment_id))
		return store_call_reject(store, op, STORE_ERR_INVALID, "malformed id", error_r);
	int ret;
	if (store->driver->attachment_read != NULL) {
		ret = store->driver->attachment_read(store, attachment_id, offset, len, buf);
	} else {
		/* drivers without slices: read it all, copy the slice */
		struct pool *pool = pool_create(4096);
		const unsigned char *data;
		size_t size;
		ret = store->driver->attachment_get(store, attachment_id, pool, &data, &size);
		if (ret == 0 && (offset > size || len > size - offset))
			ret = store_set_error(store, STORE_ERR_INVALID, "range past the attachment");
		else if (ret == 0 && len > 0)
			memcpy(buf, data + offset, len);
		pool_destroy(&pool);
	}
	return store_call_end(store, op, ret, error_r);
}

int store_attachment_info(struct store *store, const char *attachment_id, struct pool *pool,
			  struct store_attachment_info *info_r, const char **error_r)
{
	static const char op[] = "attachment_info";
	store_call_begin(store, op, attachment_id);
	if (!store_attachment_id_valid(attachment_id))
		return store_call_reject(store, op, STORE_ERR_INVALID, "malformed id", error_r);
	int ret = store->driver->attachment_info(store, attachment_id, pool, info_r);
	return store_call_end(store, op, ret, error_r);
}

int store_journal_since(struct store *store, const char *mailbox_id, uint64_t since,
			store_journal_cb *callback, void *context, const char **error_r)
{
	static const char op[] = "journal_since";
	store_call_begin(store, op, mailbox_id);
	CHECK_ID(store, op, mailbox_id, error_r);
	int ret = store->driver->journal_since(store, mailbox_id, since, callback, context);
	return store_call_end(store, op, ret, error_r);
}
