/* MongoDB driver: the API objects (store_objects.c: webhooks, DKIM keys,
 * certificates, forwarded addresses, settings, audits) and the webhook
 * queue (enqueue, and the sender's claim with a lease, done, retry).
 *
 * Objects: one collection per kind where WildDuck has one ("webhooks",
 * "dkim", "certs", "settings", "audits"), "apiobjects" for the others.
 * A document is { _id: ObjectId, kind, user: ObjectId (absent if none),
 * key, ukey, doc: the JSON text, created: date }. Uniqueness is the unique
 * index { kind, ukey }: ukey is the key when the object was added as
 * unique, else "#" and the object's own id, which nothing else can hold,
 * so two racing unique adds cannot both succeed (no check-then-insert, and
 * no partial or sparse index, which FerretDB lacks). A unique add therefore
 * conflicts with the unique objects of its kind only; the callers use one
 * mode per kind. Every document of an object collection carries kind and
 * ukey (the counters kept in "settings" get a ukey of their own).
 *
 * Queue: { _id: int64 (a counter, since the interface's ids are
 * integers), user, url, event, payload, created, attempts, nextTry: unix
 * seconds }. A claim takes one due call per findAndModify that moves its
 * nextTry past the lease, so two senders never get the same call. Entries
 * queued before (ObjectId ids, no nextTry, never sent: the driver had no
 * sender calls) are renumbered by the first claim of a handle. */
#include "store_mongodb.h"

#include "log.h"
#include "pool.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define SEQ_WEBHOOKQUEUE "seq:webhookqueue"

static enum mongo_col kind_col(const char *kind)
{
	static const struct {
		const char *kind;
		enum mongo_col col;
	} map[] = {
		{ "webhook", COL_WEBHOOKS },
		{ "dkim", COL_DKIM },
		{ "cert", COL_CERTS },
		{ "setting", COL_SETTINGS },
		{ "audit", COL_AUDITS },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].kind, kind) == 0)
			return map[i].col;
	return COL_APIOBJECTS;
}

int mongo_object_add(struct store *store, const char *kind, const char *user_id,
		     const char *key, const char *doc, bool unique, char id_r[STORE_ID_SIZE])
{
	bson_oid_t id, user;
	if (user_id != NULL) {
		mongo_oid(&user, user_id);
		if (mongo_user_check(store, &user) < 0)
			return -1;
	}
	bson_oid_init(&id, NULL);
	char own[STORE_ID_SIZE + 1];
	own[0] = '#';
	mongo_oid_str(&id, own + 1);
	bson_t d = BSON_INITIALIZER;
	BSON_APPEND_OID(&d, "_id", &id);
	BSON_APPEND_UTF8(&d, "kind", kind);
	if (user_id != NULL)
		BSON_APPEND_OID(&d, "user", &user);
	mongo_append_str(&d, "key", key);
	BSON_APPEND_UTF8(&d, "ukey", unique && key != NULL ? key : own);
	BSON_APPEND_UTF8(&d, "doc", doc);
	mongo_append_date(&d, "created", (int64_t)time(NULL));
	int ret = mongo_insert(store, kind_col(kind), &d);
	bson_destroy(&d);
	if (ret < 0 && store->error == STORE_ERR_EXISTS)
		return store_set_error(store, STORE_ERR_EXISTS, "%s %s exists", kind, key);
	if (ret == 0)
		memcpy(id_r, own + 1, STORE_ID_SIZE);
	return ret;
}

static void object_fill(struct pool *pool, const bson_t *doc, void *item)
{
	struct store_object *o = item;
	memset(o, 0, sizeof(*o));
	mongo_id(doc, "_id", o->id);
	o->kind = mongo_str(pool, doc, "kind");
	mongo_id(doc, "user", o->user);
	o->key = mongo_str(pool, doc, "key");
	o->doc = mongo_str(pool, doc, "doc");
	if (o->doc == NULL)
		o->doc = "{}";
	o->created = mongo_date(doc, "created");
}

int mongo_object_list(struct store *store, const char *kind, const char *user_id,
		      const char *key, struct pool *pool, struct store_object **objects_r,
		      unsigned int *count_r)
{
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "kind", kind);
	if (user_id != NULL) {
		bson_oid_t user;
		mongo_oid(&user, user_id);
		BSON_APPEND_OID(&filter, "user", &user);
	}
	if (key != NULL)
		BSON_APPEND_UTF8(&filter, "key", key);
	bson_t *opts = BCON_NEW("sort", "{", "created", BCON_INT32(1), "_id", BCON_INT32(1), "}");
	enum mongo_col col = kind_col(kind);
	void *objs = NULL;
	unsigned int n = 0;
	int ret = mongo_find_all(store, col, &filter, opts, pool, sizeof(struct store_object),
				 object_fill, mongo_col_names[col], &objs, &n);
	bson_destroy(&filter);
	bson_destroy(opts);
	if (ret == 0) {
		*objects_r = objs;
		*count_r = n;
	}
	return ret;
}

int mongo_object_get(struct store *store, const char *kind, const char *id,
		     struct pool *pool, struct store_object **object_r)
{
	bson_oid_t oid;
	mongo_oid(&oid, id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid), "kind", BCON_UTF8(kind));
	bson_t doc;
	int ret = mongo_find_one(store, kind_col(kind), filter, NULL, &doc);
	bson_destroy(filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such %s", kind);
	if (ret < 0)
		return -1;
	*object_r = pool_alloc(pool, sizeof(**object_r));
	object_fill(pool, &doc, *object_r);
	bson_destroy(&doc);
	return 0;
}

int mongo_object_delete(struct store *store, const char *kind, const char *id)
{
	bson_oid_t oid;
	mongo_oid(&oid, id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid), "kind", BCON_UTF8(kind));
	int64_t deleted = 0;
	int ret = mongo_delete(store, kind_col(kind), filter, false, &deleted);
	bson_destroy(filter);
	if (ret == 0 && deleted == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such %s", kind);
	return ret;
}

int mongo_object_update(struct store *store, const char *kind, const char *id,
			const char *doc)
{
	bson_oid_t oid;
	mongo_oid(&oid, id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid), "kind", BCON_UTF8(kind));
	bson_t *update = BCON_NEW("$set", "{", "doc", BCON_UTF8(doc), "}");
	int64_t matched = 0;
	int ret = mongo_update(store, kind_col(kind), filter, update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret == 0 && matched == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such %s", kind);
	return ret;
}

int mongo_objects_user_delete(struct store *store, const bson_oid_t *user)
{
	static const enum mongo_col cols[] = {
		COL_WEBHOOKS, COL_DKIM, COL_CERTS, COL_SETTINGS, COL_AUDITS, COL_APIOBJECTS,
	};
	/* "kind" keeps the counters of "settings" out of it */
	bson_t *filter = BCON_NEW("user", BCON_OID(user), "kind", "{", "$exists",
				  BCON_BOOL(true), "}");
	int ret = 0;
	for (size_t i = 0; ret == 0 && i < sizeof(cols) / sizeof(cols[0]); i++)
		ret = mongo_delete(store, cols[i], filter, true, NULL);
	bson_destroy(filter);
	return ret;
}

/* ---- the webhook queue ---- */

/* The next queue id: $inc on one counter document (no "expires": the
 * counters' expiry never takes it). */
static int next_seq(struct store *store, const char *name, int64_t *value_r)
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(name));
	bson_t *update = BCON_NEW("$inc", "{", "value", BCON_INT64(1), "}");
	int ret = mongo_counter_next(store, COL_COUNTERS, filter, update, name, value_r);
	bson_destroy(filter);
	bson_destroy(update);
	return ret;
}

int mongo_webhook_enqueue(struct store *store, const char *user_id, const char *url,
			  const char *event, const char *payload)
{
	int64_t id = 0;
	if (next_seq(store, SEQ_WEBHOOKQUEUE, &id) < 0)
		return -1;
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_INT64(&doc, "_id", id);
	if (user_id != NULL && store_id_valid(user_id)) {
		bson_oid_t user;
		mongo_oid(&user, user_id);
		BSON_APPEND_OID(&doc, "user", &user);
	}
	BSON_APPEND_UTF8(&doc, "url", url);
	BSON_APPEND_UTF8(&doc, "event", event);
	mongo_append_str(&doc, "payload", payload);
	mongo_append_date(&doc, "created", (int64_t)time(NULL));
	BSON_APPEND_INT64(&doc, "attempts", 0);
	BSON_APPEND_INT64(&doc, "nextTry", 0);
	int ret = mongo_insert(store, COL_WEBHOOKQUEUE, &doc);
	bson_destroy(&doc);
	return ret;
}

/* The oldest due call, leased until lease_until: 1 (doc_r set), 0 none. */
static int claim_one(struct store *store, int64_t now, int64_t lease_until, bson_t *doc_r)
{
	bson_t *query = BCON_NEW("nextTry", "{", "$lte", BCON_INT64(now), "}");
	bson_t *sort = BCON_NEW("nextTry", BCON_INT32(1), "_id", BCON_INT32(1));
	bson_t *update = BCON_NEW("$set", "{", "nextTry", BCON_INT64(lease_until), "}");
	int ret = mongo_find_modify_sorted(store, COL_WEBHOOKQUEUE, query, sort, update, false,
					   doc_r);
	bson_destroy(query);
	bson_destroy(sort);
	bson_destroy(update);
	return ret;
}

/* Takes each entry of the older form off the queue (findAndModify remove,
 * so two senders never both take one) and queues it again as a new entry;
 * a crash between the two loses that one call. */
static int queue_convert(struct store *store)
{
	bson_t *query = BCON_NEW("nextTry", "{", "$exists", BCON_BOOL(false), "}");
	int ret = 0, converted = 0;
	for (;;) {
		bson_t reply;
		bson_error_t error;
		if (!mongoc_collection_find_and_modify(mongo_col(store, COL_WEBHOOKQUEUE), query,
						       NULL, NULL, NULL, true, false, false,
						       &reply, &error)) {
			bson_destroy(&reply);
			ret = mongo_fail(store, &error, "webhook queue convert");
			break;
		}
		bson_iter_t it;
		if (!bson_iter_init_find(&it, &reply, "value") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
			bson_destroy(&reply);
			break;
		}
		uint32_t len;
		const uint8_t *data;
		bson_iter_document(&it, &len, &data);
		bson_t old;
		struct pool *pool = pool_create(1024);
		const char *url = NULL, *event = NULL, *payload = NULL;
		char user[STORE_ID_SIZE] = "";
		if (bson_init_static(&old, data, len)) {
			url = mongo_str(pool, &old, "url");
			event = mongo_str(pool, &old, "event");
			payload = mongo_str(pool, &old, "payload");
			mongo_id(&old, "user", user);
		}
		bson_destroy(&reply);
		if (url != NULL && event != NULL)
			ret = mongo_webhook_enqueue(store, user[0] != '\0' ? user : NULL, url,
						    event, payload);
		pool_destroy(&pool);
		if (ret < 0)
			break;
		converted++;
	}
	bson_destroy(query);
	if (converted > 0)
		log_info("event=webhook_queue_converted entries=%d", converted);
	return ret;
}

int mongo_webhook_claim(struct store *store, int64_t now, int64_t lease_secs,
			unsigned int limit, struct pool *pool,
			struct store_webhook_call **calls_r, unsigned int *count_r)
{
	if (!mongo_ctx(store)->queue_converted) {
		if (queue_convert(store) < 0)
			return -1;
		mongo_ctx(store)->queue_converted = true;
	}
	struct store_webhook_call *calls = pool_alloc(pool, limit * sizeof(*calls));
	unsigned int count = 0;
	while (count < limit) {
		bson_t doc;
		int ret = claim_one(store, now, now + lease_secs, &doc);
		if (ret < 0) {
			/* what was claimed comes back after the lease */
			if (count > 0)
				break;
			return -1;
		}
		if (ret == 0)
			break;
		struct store_webhook_call *c = &calls[count++];
		memset(c, 0, sizeof(*c));
		c->id = mongo_int(&doc, "_id");
		mongo_id(&doc, "user", c->user);
		c->url = mongo_str(pool, &doc, "url");
		c->event = mongo_str(pool, &doc, "event");
		c->payload = mongo_str(pool, &doc, "payload");
		c->attempts = (unsigned int)mongo_int(&doc, "attempts");
		c->created = mongo_date(&doc, "created");
		bson_destroy(&doc);
	}
	store->error = STORE_OK;
	store->error_msg[0] = '\0';
	*calls_r = calls;
	*count_r = count;
	return 0;
}

int mongo_webhook_done(struct store *store, int64_t id)
{
	bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
	int ret = mongo_delete(store, COL_WEBHOOKQUEUE, filter, false, NULL);
	bson_destroy(filter);
	return ret;
}

int mongo_webhook_retry(struct store *store, int64_t id, int64_t next_try)
{
	bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
	bson_t *update = BCON_NEW("$inc", "{", "attempts", BCON_INT64(1), "}",
				  "$set", "{", "nextTry", BCON_INT64(next_try), "}");
	int64_t matched = 0;
	int ret = mongo_update(store, COL_WEBHOOKQUEUE, filter, update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret == 0 && matched == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "webhook retry: not found");
	return ret;
}
