/* MongoDB driver: what LMTP applies to a delivery (filters, autoreplies,
 * forwarding targets on the user as WildDuck's `targets`, counters; the
 * webhook queue is in store_mongodb_objects.c) and the authentication
 * data (asps, the TOTP seed on the user, used TOTP steps, authlog). Each call is one or two single-document
 * operations; none needs a transaction. */
#include "store_mongodb.h"

#include "pool.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Used TOTP steps older than this many steps are forgotten. */
#define TOTP_STEPS_KEPT 10

static const char *empty_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* Tri-state fields (-1: any / leave) are stored only when set. */
static void append_tristate(bson_t *doc, const char *key, int value)
{
	if (value >= 0)
		BSON_APPEND_BOOL(doc, key, value > 0);
}

static int read_tristate(const bson_t *doc, const char *key)
{
	bson_iter_t it, top;
	if (!bson_iter_init(&top, doc) || !bson_iter_find_descendant(&top, key, &it) ||
	    BSON_ITER_HOLDS_NULL(&it))
		return -1;
	return bson_iter_as_bool(&it) ? 1 : 0;
}

static void append_opt_str(bson_t *doc, const char *key, const char *s)
{
	if (empty_null(s) != NULL)
		BSON_APPEND_UTF8(doc, key, s);
}

int mongo_filter_add(struct store *store, const char *user_id,
		     const struct store_filter *f, char id_r[STORE_ID_SIZE])
{
	bson_oid_t id, user;
	mongo_oid(&user, user_id);
	if (mongo_user_check(store, &user) < 0)
		return -1;
	bson_oid_init(&id, NULL);
	mongo_oid_str(&id, id_r);
	bson_t doc = BSON_INITIALIZER, query, headers, action;
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_OID(&doc, "user", &user);
	mongo_append_str(&doc, "name", f->name);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "query", &query);
	BSON_APPEND_DOCUMENT_BEGIN(&query, "headers", &headers);
	append_opt_str(&headers, "from", f->from);
	append_opt_str(&headers, "to", f->to);
	append_opt_str(&headers, "subject", f->subject);
	append_opt_str(&headers, "listId", f->list_id);
	bson_append_document_end(&query, &headers);
	append_opt_str(&query, "text", f->text);
	append_tristate(&query, "ha", f->has_attachment);
	if (f->size != 0)
		BSON_APPEND_INT64(&query, "size", f->size);
	bson_append_document_end(&doc, &query);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "action", &action);
	append_tristate(&action, "seen", f->seen);
	append_tristate(&action, "flag", f->flag);
	append_tristate(&action, "spam", f->spam);
	BSON_APPEND_BOOL(&action, "delete", f->delete_message);
	append_opt_str(&action, "mailbox", f->mailbox);
	append_opt_str(&action, "targets", f->forward);
	append_opt_str(&action, "url", f->webhook);
	bson_append_document_end(&doc, &action);
	BSON_APPEND_BOOL(&doc, "disabled", f->disabled);
	mongo_append_date(&doc, "created", (int64_t)time(NULL));
	int ret = mongo_insert(store, COL_FILTERS, &doc);
	bson_destroy(&doc);
	return ret;
}

int mongo_filter_delete(struct store *store, const char *user_id, const char *filter_id)
{
	bson_oid_t id, user;
	mongo_oid(&id, filter_id);
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&id), "user", BCON_OID(&user));
	int64_t deleted = 0;
	int ret = mongo_delete(store, COL_FILTERS, filter, false, &deleted);
	bson_destroy(filter);
	if (ret == 0 && deleted == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such filter");
	return ret;
}

static void filter_fill(struct pool *pool, const bson_t *doc, void *item)
{
	struct store_filter *f = item;
	memset(f, 0, sizeof(*f));
	mongo_id(doc, "_id", f->id);
	mongo_id(doc, "user", f->user);
	f->name = mongo_str(pool, doc, "name");
	f->from = mongo_str(pool, doc, "query.headers.from");
	f->to = mongo_str(pool, doc, "query.headers.to");
	f->subject = mongo_str(pool, doc, "query.headers.subject");
	f->list_id = mongo_str(pool, doc, "query.headers.listId");
	f->text = mongo_str(pool, doc, "query.text");
	f->has_attachment = read_tristate(doc, "query.ha");
	f->size = mongo_int(doc, "query.size");
	f->seen = read_tristate(doc, "action.seen");
	f->flag = read_tristate(doc, "action.flag");
	f->spam = read_tristate(doc, "action.spam");
	f->delete_message = mongo_bool(doc, "action.delete");
	f->mailbox = mongo_str(pool, doc, "action.mailbox");
	f->forward = mongo_str(pool, doc, "action.targets");
	f->webhook = mongo_str(pool, doc, "action.url");
	f->disabled = mongo_bool(doc, "disabled");
	f->created = mongo_date(doc, "created");
}

int mongo_filter_list(struct store *store, const char *user_id, struct pool *pool,
		      struct store_filter **filters_r, unsigned int *count_r)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user));
	bson_t *opts = BCON_NEW("sort", "{", "created", BCON_INT32(1), "_id", BCON_INT32(1), "}");
	void *list = NULL;
	int ret = mongo_find_all(store, COL_FILTERS, filter, opts, pool, sizeof(struct store_filter),
				 filter_fill, "filters", &list, count_r);
	bson_destroy(filter);
	bson_destroy(opts);
	*filters_r = list;
	return ret;
}

int mongo_autoreply_set(struct store *store, const char *user_id,
			const struct store_autoreply *ar)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	if (mongo_user_check(store, &user) < 0)
		return -1;
	bson_t *filter = BCON_NEW("user", BCON_OID(&user));
	bson_t update = BSON_INITIALIZER, set;
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_BOOL(&set, "status", ar->status);
	mongo_append_date(&set, "start", ar->start);
	mongo_append_date(&set, "end", ar->end);
	mongo_append_str(&set, "name", ar->name);
	mongo_append_str(&set, "subject", ar->subject);
	mongo_append_str(&set, "text", ar->text);
	mongo_append_str(&set, "html", ar->html);
	mongo_append_date(&set, "created", (int64_t)time(NULL));
	bson_append_document_end(&update, &set);
	int ret = mongo_update(store, COL_AUTOREPLIES, filter, &update, false, true, NULL);
	if (ret < 0 && store->error == STORE_ERR_EXISTS)	/* two first upserts raced */
		ret = mongo_update(store, COL_AUTOREPLIES, filter, &update, false, false, NULL);
	bson_destroy(filter);
	bson_destroy(&update);
	return ret;
}

int mongo_autoreply_get(struct store *store, const char *user_id, struct pool *pool,
			struct store_autoreply **autoreply_r)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user));
	bson_t doc;
	int ret = mongo_find_one(store, COL_AUTOREPLIES, filter, NULL, &doc);
	bson_destroy(filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no autoreply");
	if (ret < 0)
		return -1;
	struct store_autoreply *ar = pool_alloc(pool, sizeof(*ar));
	ar->status = mongo_bool(&doc, "status");
	ar->start = mongo_date(&doc, "start");
	ar->end = mongo_date(&doc, "end");
	ar->name = mongo_str(pool, &doc, "name");
	ar->subject = mongo_str(pool, &doc, "subject");
	ar->text = mongo_str(pool, &doc, "text");
	ar->html = mongo_str(pool, &doc, "html");
	ar->created = mongo_date(&doc, "created");
	bson_destroy(&doc);
	*autoreply_r = ar;
	return 0;
}

int mongo_autoreply_delete(struct store *store, const char *user_id)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user));
	int ret = mongo_delete(store, COL_AUTOREPLIES, filter, true, NULL);
	bson_destroy(filter);
	return ret;
}

int mongo_targets_set(struct store *store, const char *user_id, const char *joined)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&user));
	bson_t update = BSON_INITIALIZER, set;
	struct pool *pool = pool_create(512);
	if (joined == NULL) {
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &set);
		BSON_APPEND_UTF8(&set, "targets", "");
	} else {
		/* joined by '\n': split into WildDuck's array */
		unsigned int count = 1;
		for (const char *p = joined; *p != '\0'; p++)
			count += *p == '\n';
		const char **list = pool_alloc(pool, (count + 1) * sizeof(*list));
		const char *p = joined;
		for (unsigned int i = 0; i < count; i++) {
			const char *end = strchrnul(p, '\n');
			list[i] = pool_strndup(pool, p, (size_t)(end - p));
			p = *end == '\0' ? end : end + 1;
		}
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		mongo_append_strings(&set, "targets", list, count);
	}
	bson_append_document_end(&update, &set);
	int64_t matched = 0;
	int ret = mongo_update(store, COL_USERS, filter, &update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(&update);
	pool_destroy(&pool);
	if (ret == 0 && joined != NULL && matched == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return ret;
}

int mongo_targets_get(struct store *store, const char *user_id, struct pool *pool,
		      const char **joined_r)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&user));
	bson_t *opts = BCON_NEW("projection", "{", "targets", BCON_INT32(1), "}");
	bson_t doc;
	int ret = mongo_find_one(store, COL_USERS, filter, opts, &doc);
	bson_destroy(filter);
	bson_destroy(opts);
	*joined_r = NULL;
	if (ret <= 0)
		return ret;
	const char *const *list;
	unsigned int count;
	mongo_strings(pool, &doc, "targets", &list, &count);
	bson_destroy(&doc);
	if (count == 0)
		return 0;
	size_t len = 1;
	for (unsigned int i = 0; i < count; i++)
		len += strlen(list[i]) + 1;
	char *out = pool_alloc(pool, len), *p = out;
	*p = '\0';
	for (unsigned int i = 0; i < count; i++)
		p = stpcpy(stpcpy(p, i == 0 ? "" : "\n"), list[i]);
	*joined_r = out;
	return 0;
}

/* Redis-like INCRBY + EXPIRE NX on one document: $inc while it lives, and
 * a fresh insert (unique _id decides the race) once it expired. */
int mongo_counter_add(struct store *store, const char *key, int64_t delta, int64_t ttl_secs,
		      int64_t *value_r)
{
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	for (int attempt = 0; attempt < 20; attempt++) {
		bson_t *filter = BCON_NEW("_id", BCON_UTF8(key), "expires", "{", "$gt",
					  BCON_DATE_TIME(now_ms), "}");
		bson_t *update = BCON_NEW("$inc", "{", "value", BCON_INT64(delta), "}");
		bson_t doc;
		int ret = mongo_find_modify(store, COL_COUNTERS, filter, update, false, &doc);
		bson_destroy(filter);
		bson_destroy(update);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			*value_r = mongo_int(&doc, "value");
			bson_destroy(&doc);
			return 0;
		}
		filter = BCON_NEW("_id", BCON_UTF8(key), "expires", "{", "$lte",
				  BCON_DATE_TIME(now_ms), "}");
		ret = mongo_delete(store, COL_COUNTERS, filter, false, NULL);
		bson_destroy(filter);
		if (ret < 0)
			return -1;
		bson_t *fresh = BCON_NEW("_id", BCON_UTF8(key), "value", BCON_INT64(delta),
					 "expires", BCON_DATE_TIME(now_ms + ttl_secs * 1000));
		ret = mongo_insert(store, COL_COUNTERS, fresh);
		bson_destroy(fresh);
		if (ret == 0) {
			*value_r = delta;
			return 0;
		}
		if (store->error != STORE_ERR_EXISTS)
			return -1;
	}
	return store_set_error(store, STORE_ERR_TEMPORARY, "counter %s: too much contention", key);
}

/* ---- authentication data ---- */

int mongo_asp_create(struct store *store, const char *user_id, const char *description,
		     const char *scopes, const char *password_hash, char id_r[STORE_ID_SIZE])
{
	bson_oid_t id, user;
	mongo_oid(&user, user_id);
	if (mongo_user_check(store, &user) < 0)
		return -1;
	struct pool *pool = pool_create(256);
	const char *const *list;
	unsigned int count;
	store_flags_split(pool, scopes, &list, &count);
	bson_oid_init(&id, NULL);
	mongo_oid_str(&id, id_r);
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_OID(&doc, "user", &user);
	mongo_append_str(&doc, "description", description);
	mongo_append_strings(&doc, "scopes", list, count);
	BSON_APPEND_UTF8(&doc, "password", password_hash);
	mongo_append_date(&doc, "created", (int64_t)time(NULL));
	BSON_APPEND_INT64(&doc, "lastUse", 0);
	int ret = mongo_insert(store, COL_ASPS, &doc);
	bson_destroy(&doc);
	pool_destroy(&pool);
	return ret;
}

static void asp_fill(struct pool *pool, const bson_t *doc, void *item)
{
	struct store_asp *a = item;
	memset(a, 0, sizeof(*a));
	mongo_id(doc, "_id", a->id);
	mongo_id(doc, "user", a->user);
	a->description = mongo_str(pool, doc, "description");
	mongo_strings(pool, doc, "scopes", &a->scopes, &a->scopes_count);
	a->password_hash = mongo_str(pool, doc, "password");
	a->created = mongo_date(doc, "created");
	a->last_use = mongo_date(doc, "lastUse");
}

int mongo_asp_list(struct store *store, const char *user_id, struct pool *pool,
		   struct store_asp **asps_r, unsigned int *count_r)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user));
	bson_t *opts = BCON_NEW("sort", "{", "created", BCON_INT32(1), "_id", BCON_INT32(1), "}");
	void *asps = NULL;
	int ret = mongo_find_all(store, COL_ASPS, filter, opts, pool, sizeof(struct store_asp),
				 asp_fill, "asps", &asps, count_r);
	bson_destroy(filter);
	bson_destroy(opts);
	*asps_r = asps;
	return ret;
}

int mongo_asp_delete(struct store *store, const char *user_id, const char *asp_id)
{
	bson_oid_t id, user;
	mongo_oid(&id, asp_id);
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&id), "user", BCON_OID(&user));
	int64_t deleted = 0;
	int ret = mongo_delete(store, COL_ASPS, filter, false, &deleted);
	bson_destroy(filter);
	if (ret == 0 && deleted == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such application password");
	return ret;
}

int mongo_asp_touch(struct store *store, const char *asp_id, int64_t when)
{
	bson_oid_t id;
	mongo_oid(&id, asp_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&id));
	bson_t *update = BCON_NEW("$set", "{", "lastUse", BCON_DATE_TIME(when * 1000), "}");
	int64_t matched = 0;
	int ret = mongo_update(store, COL_ASPS, filter, update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret == 0 && matched == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such application password");
	return ret;
}

/* The seed lives on the user as in WildDuck (`seed`, `enabled2fa`). */
int mongo_totp_get(struct store *store, const char *user_id, struct pool *pool,
		   const char **secret_r, bool *enabled_r)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&user));
	bson_t *opts = BCON_NEW("projection", "{", "seed", BCON_INT32(1), "enabled2fa",
				BCON_INT32(1), "}");
	bson_t doc;
	int ret = mongo_find_one(store, COL_USERS, filter, opts, &doc);
	bson_destroy(filter);
	bson_destroy(opts);
	if (ret < 0)
		return -1;
	const char *seed = ret > 0 ? mongo_str(pool, &doc, "seed") : NULL;
	if (ret > 0) {
		const char *const *list;
		unsigned int count;
		mongo_strings(pool, &doc, "enabled2fa", &list, &count);
		*enabled_r = store_flags_contains(list, count, "totp");
		bson_destroy(&doc);
	}
	if (seed == NULL)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no TOTP secret");
	*secret_r = seed;
	return 0;
}

int mongo_totp_set(struct store *store, const char *user_id, const char *secret, bool enabled)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&user));
	bson_t *update;
	if (secret == NULL)
		update = BCON_NEW("$unset", "{", "seed", BCON_UTF8(""), "}",
				  "$set", "{", "enabled2fa", "[", "]", "}");
	else if (enabled)
		update = BCON_NEW("$set", "{", "seed", BCON_UTF8(secret), "enabled2fa", "[",
				  BCON_UTF8("totp"), "]", "}");
	else
		update = BCON_NEW("$set", "{", "seed", BCON_UTF8(secret), "enabled2fa", "[",
				  "]", "}");
	int64_t matched = 0;
	int ret = mongo_update(store, COL_USERS, filter, update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret == 0 && secret != NULL && matched == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return ret;
}

/* A unique (user, step) document: the second use of a step fails on the
 * index, atomically, wherever it is tried. */
int mongo_totp_use(struct store *store, const char *user_id, uint64_t step)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	if (mongo_user_check(store, &user) < 0)
		return -1;
	char id[64];
	snprintf(id, sizeof(id), "%s:%llu", user_id, (unsigned long long)step);
	bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "user", BCON_OID(&user), "step",
			       BCON_INT64((int64_t)step), "created",
			       BCON_DATE_TIME((int64_t)time(NULL) * 1000));
	int ret = mongo_insert(store, COL_TOTPUSED, doc);
	bson_destroy(doc);
	if (ret < 0) {
		if (store->error == STORE_ERR_EXISTS)
			store_set_error(store, STORE_ERR_EXISTS, "TOTP code already used");
		return -1;
	}
	bson_t *filter = BCON_NEW("user", BCON_OID(&user), "step", "{", "$lt",
				  BCON_INT64((int64_t)step - TOTP_STEPS_KEPT), "}");
	ret = mongo_delete(store, COL_TOTPUSED, filter, true, NULL);
	bson_destroy(filter);
	return ret;
}

int mongo_authlog_add(struct store *store, const struct store_authlog_entry *e)
{
	bson_oid_t id, user;
	mongo_oid(&user, e->user);
	if (mongo_user_check(store, &user) < 0)
		return -1;
	bson_oid_init(&id, NULL);
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_OID(&doc, "user", &user);
	BSON_APPEND_UTF8(&doc, "action", "authentication");
	BSON_APPEND_UTF8(&doc, "result", e->success ? "success" : "fail");
	mongo_append_str(&doc, "protocol", e->service);
	mongo_append_str(&doc, "ip", e->remote_ip);
	mongo_append_str(&doc, "reason", e->reason);
	mongo_append_str(&doc, "asp", e->asp);
	mongo_append_date(&doc, "created", e->created);
	/* the TTL index (where the server has one) removes it at expires */
	mongo_append_date(&doc, "expires", e->expires);
	int ret = mongo_insert(store, COL_AUTHLOG, &doc);
	bson_destroy(&doc);
	return ret;
}

int mongo_authlog_list(struct store *store, const char *user_id, int64_t now,
		       unsigned int limit, struct pool *pool,
		       struct store_authlog_entry **entries_r, unsigned int *count_r)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user), "expires", "{", "$gt",
				  BCON_DATE_TIME(now * 1000), "}");
	bson_t *opts = BCON_NEW("sort", "{", "created", BCON_INT32(-1), "_id", BCON_INT32(-1), "}",
				"limit", BCON_INT64(limit));
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
		mongo_col(store, COL_AUTHLOG), filter, opts, NULL);
	bson_destroy(filter);
	bson_destroy(opts);
	struct store_authlog_entry *out = pool_alloc(pool, (limit + 1) * sizeof(*out));
	unsigned int n = 0;
	const bson_t *doc;
	while (n < limit && mongoc_cursor_next(cursor, &doc)) {
		struct store_authlog_entry *e = &out[n++];
		memset(e, 0, sizeof(*e));
		mongo_id(doc, "_id", e->id);
		mongo_id(doc, "user", e->user);
		e->created = mongo_date(doc, "created");
		e->expires = mongo_date(doc, "expires");
		e->service = mongo_str(pool, doc, "protocol");
		e->remote_ip = mongo_str(pool, doc, "ip");
		const char *result = mongo_str(pool, doc, "result");
		e->success = result != NULL && strcmp(result, "success") == 0;
		e->reason = mongo_str(pool, doc, "reason");
		e->asp = mongo_str(pool, doc, "asp");
	}
	bson_error_t error;
	int ret = mongoc_cursor_error(cursor, &error) ? mongo_fail(store, &error, "authlog") : 0;
	mongoc_cursor_destroy(cursor);
	*entries_r = out;
	*count_r = n;
	return ret;
}

int mongo_authlog_purge(struct store *store, int64_t now, unsigned int *purged_r)
{
	bson_t *filter = BCON_NEW("expires", "{", "$lte", BCON_DATE_TIME(now * 1000), "}");
	int64_t deleted = 0;
	int ret = mongo_delete(store, COL_AUTHLOG, filter, true, &deleted);
	bson_destroy(filter);
	*purged_r = (unsigned int)deleted;
	return ret;
}

int mongo_extra_user_delete(struct store *store, const bson_oid_t *user)
{
	static const enum mongo_col cols[] = {
		COL_FILTERS, COL_AUTOREPLIES, COL_ASPS, COL_AUTHLOG, COL_TOTPUSED,
		COL_ACCESSTOKENS,
	};
	bson_t *filter = BCON_NEW("user", BCON_OID(user));
	int ret = 0;
	for (size_t i = 0; ret == 0 && i < sizeof(cols) / sizeof(cols[0]); i++)
		ret = mongo_delete(store, cols[i], filter, true, NULL);
	bson_destroy(filter);
	return ret;
}
