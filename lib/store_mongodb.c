/* The MongoDB store driver: the production store that any number of
 * instances share. This file holds the options of its client pools
 * (mongo_pool.c keeps them), opening a handle (indexes created idempotently), error mapping, BSON helpers, and
 * users, addresses and domain aliases; the other store_mongodb_*.c files
 * hold mailboxes, messages, updates and the delivery/auth data.
 *
 * Consistency without transactions: every step is one atomic single-
 * document write, ordered so that a crash between two steps leaves at most
 * a gap (an unused UID, an orphan attachment reference), never a message
 * that points at something missing. UIDs and MODSEQs come from
 * findAndModify $inc on the mailbox document, as in WildDuck. */
#include "store_mongodb.h"

#include "log.h"
#include "mongo_pool.h"
#include "mem.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_WTIMEOUT_MSECS 10000

/* WildDuck's names (attachments: the GridFS bucket "attachments"). */
const char *const mongo_col_names[COL_COUNT] = {
	[COL_USERS] = "users",
	[COL_ADDRESSES] = "addresses",
	[COL_DOMAINALIASES] = "domainaliases",
	[COL_MAILBOXES] = "mailboxes",
	[COL_MESSAGES] = "messages",
	[COL_JOURNAL] = "journal",
	[COL_ATT_FILES] = "attachments.files",
	[COL_ATT_CHUNKS] = "attachments.chunks",
	[COL_FILTERS] = "filters",
	[COL_AUTOREPLIES] = "autoreplies",
	[COL_COUNTERS] = "counters",
	[COL_WEBHOOKQUEUE] = "webhookqueue",
	[COL_ASPS] = "asps",
	[COL_AUTHLOG] = "authlog",
	[COL_SETTINGS] = "settings",
	[COL_TOTPUSED] = "totpused",
	[COL_ACCESSTOKENS] = "accesstokens",
	[COL_WEBHOOKS] = "webhooks",
	[COL_DKIM] = "dkim",
	[COL_CERTS] = "certs",
	[COL_AUDITS] = "audits",
	[COL_APIOBJECTS] = "apiobjects",
};

/* The store's pools (mongo_pool.c): an acknowledged delivery must survive
 * the loss of the primary, so the write concern is majority unless the URI
 * says otherwise; a lagging replica set fails the write (TEMPORARY) after
 * 10 s instead of holding it. An unreachable store fails a command
 * (TEMPORARY: NO, 451, 503) within seconds (the registry's timeouts). */
static const struct mongo_pool_options pool_options = {
	.appname = "wildduck-c",
	.majority_wtimeout_msecs = DEFAULT_WTIMEOUT_MSECS,
};

/* ---- open: indexes ---- */
/* create_index: 0 made (or there), 1 a TTL index the server lacks, -1. */

struct index_def {
	enum mongo_col col;
	const char *name;
	const char *keys;	/* "field:1,field:-1" */
	bool unique;
	int64_t ttl;		/* expireAfterSeconds, -1: none */
};

/* Unique indexes carry correctness (names, addresses, uids); the TTL ones
 * are housekeeping that the server may lack (FerretDB does): the driver
 * never relies on them (authlog_purge and counter expiry check dates). */
static const struct index_def indexes[] = {
	{ COL_USERS, "unameview", "unameview:1", true, -1 },
	{ COL_ADDRESSES, "addrview", "addrview:1", true, -1 },
	{ COL_ADDRESSES, "address", "address:1", true, -1 },
	{ COL_ADDRESSES, "user", "user:1", false, -1 },
	{ COL_ADDRESSES, "wildcard", "domain:1,wildcard:1", false, -1 },
	{ COL_DOMAINALIASES, "alias", "alias:1", true, -1 },
	{ COL_MAILBOXES, "user_path", "user:1,path:1", true, -1 },
	{ COL_MESSAGES, "mailbox_uid", "mailbox:1,uid:1", true, -1 },
	{ COL_MESSAGES, "mailbox_seen", "mailbox:1,seen:1", false, -1 },
	{ COL_MESSAGES, "user", "user:1", false, -1 },
	{ COL_JOURNAL, "mailbox_modseq", "mailbox:1,modseq:1", false, -1 },
	{ COL_JOURNAL, "user_position", "user:1,position:1", false, -1 },
	{ COL_ACCESSTOKENS, "user", "user:1", false, -1 },
	{ COL_ATT_CHUNKS, "files_id_1_n_1", "files_id:1,n:1", true, -1 },
	{ COL_FILTERS, "user", "user:1", false, -1 },
	{ COL_AUTOREPLIES, "user", "user:1", true, -1 },
	{ COL_ASPS, "user", "user:1", false, -1 },
	{ COL_TOTPUSED, "user_step", "user:1,step:1", true, -1 },
	{ COL_AUTHLOG, "user_created", "user:1,created:-1", false, -1 },
	{ COL_AUTHLOG, "expires_ttl", "expires:1", false, 0 },
	{ COL_COUNTERS, "expires_ttl", "expires:1", false, 0 },
	/* API objects (store_mongodb_objects.c): kind_ukey is what makes a
	 * unique key unique */
	{ COL_WEBHOOKS, "kind_ukey", "kind:1,ukey:1", true, -1 },
	{ COL_WEBHOOKS, "kind_key", "kind:1,key:1", false, -1 },
	{ COL_WEBHOOKS, "user", "user:1", false, -1 },
	{ COL_DKIM, "kind_ukey", "kind:1,ukey:1", true, -1 },
	{ COL_DKIM, "kind_key", "kind:1,key:1", false, -1 },
	{ COL_DKIM, "user", "user:1", false, -1 },
	{ COL_CERTS, "kind_ukey", "kind:1,ukey:1", true, -1 },
	{ COL_CERTS, "kind_key", "kind:1,key:1", false, -1 },
	{ COL_CERTS, "user", "user:1", false, -1 },
	{ COL_SETTINGS, "kind_ukey", "kind:1,ukey:1", true, -1 },
	{ COL_SETTINGS, "kind_key", "kind:1,key:1", false, -1 },
	{ COL_SETTINGS, "user", "user:1", false, -1 },
	{ COL_AUDITS, "kind_ukey", "kind:1,ukey:1", true, -1 },
	{ COL_AUDITS, "kind_key", "kind:1,key:1", false, -1 },
	{ COL_AUDITS, "user", "user:1", false, -1 },
	{ COL_APIOBJECTS, "kind_ukey", "kind:1,ukey:1", true, -1 },
	{ COL_APIOBJECTS, "kind_key", "kind:1,key:1", false, -1 },
	{ COL_APIOBJECTS, "user", "user:1", false, -1 },
	{ COL_WEBHOOKQUEUE, "due", "nextTry:1,_id:1", false, -1 },
	{ COL_JOURNAL, "created_ttl", "created:1", false, 30 * 86400 },
};

static void index_keys(bson_t *doc, const char *keys)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", keys);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		*colon = '\0';
		BSON_APPEND_INT32(doc, tok, atoi(colon + 1));
	}
}

static int create_index(struct store *store, const struct index_def *def)
{
	bson_t cmd = BSON_INITIALIZER, arr, idx, key, reply;
	BSON_APPEND_UTF8(&cmd, "createIndexes", mongo_col_names[def->col]);
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
	BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &idx);
	BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
	index_keys(&key, def->keys);
	bson_append_document_end(&idx, &key);
	BSON_APPEND_UTF8(&idx, "name", def->name);
	if (def->unique)
		BSON_APPEND_BOOL(&idx, "unique", true);
	if (def->ttl >= 0)
		BSON_APPEND_INT64(&idx, "expireAfterSeconds", def->ttl);
	bson_append_document_end(&arr, &idx);
	bson_append_array_end(&cmd, &arr);
	bson_error_t error;
	bool att = def->col == COL_ATT_FILES || def->col == COL_ATT_CHUNKS;
	bool ok = mongoc_database_write_command_with_opts(att ? mongo_ctx(store)->att_db :
							   mongo_ctx(store)->db, &cmd, NULL,
							   &reply, &error);
	bson_destroy(&cmd);
	bson_destroy(&reply);
	if (ok)
		return 0;
	if (def->ttl >= 0 && error.domain != MONGOC_ERROR_STREAM &&
	    error.domain != MONGOC_ERROR_SERVER_SELECTION) {
		log_debug("event=mongodb_capability feature=ttl_index collection=%s "
			  "available=no error=\"%s\"", mongo_col_names[def->col], error.message);
		return 1;
	}
	return mongo_fail(store, &error, "create index");
}

/* Once per process, URI and database: createIndexes is idempotent, but
 * not free. */
static int ensure_indexes(struct store *store, struct mongo_pool *pool, const char *dbname)
{
	if (mongo_pool_indexed(pool, dbname))
		return 0;
	unsigned int missing = 0;
	for (size_t i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++) {
		int ret = create_index(store, &indexes[i]);
		if (ret < 0)
			return -1;
		missing += ret;
	}
	/* TTL indexes are housekeeping: without them (FerretDB) expired auth
	 * log entries go by authlog_purge, counters by their date check, and
	 * the journal is kept */
	log_info("event=mongodb_indexes database=%s count=%zu ttl=%s", dbname,
		 sizeof(indexes) / sizeof(indexes[0]) - missing, missing == 0 ? "yes" : "no");
	mongo_pool_indexed_set(pool, dbname);
	return 0;
}

static void mongodb_close(struct store *store)
{
	struct mongo_store *ctx = mongo_ctx(store);
	for (unsigned int i = 0; i < COL_COUNT; i++)
		if (ctx->cols[i] != NULL)
			mongoc_collection_destroy(ctx->cols[i]);
	if (ctx->db != NULL)
		mongoc_database_destroy(ctx->db);
	if (ctx->att_db != NULL)
		mongoc_database_destroy(ctx->att_db);
	if (ctx->client != NULL)
		mongoc_client_pool_push(ctx->pool, ctx->client);
	XFREE(store->ctx);
}

static int mongodb_open(struct store *store, const struct store_settings *set)
{
	if (set->path == NULL || set->path[0] == '\0')
		return store_set_error(store, STORE_ERR_INVALID, "mongodb store needs a URI");
	const char *dbname = set->database == NULL || set->database[0] == '\0' ? "wildduck" :
		set->database;
	bson_error_t error;
	struct mongo_pool *pool = mongo_pool_get(set->path, &pool_options, &error);
	if (pool == NULL)
		return store_set_error(store, STORE_ERR_INVALID, "mongodb URI: %s", error.message);
	struct mongo_store *ctx = xcalloc(1, sizeof(*ctx));
	store->ctx = ctx;
	ctx->pool = mongo_pool_clients(pool);
	ctx->compress_level = set->compress_level;
	ctx->client = mongoc_client_pool_pop(ctx->pool);
	const char *att_dbname = set->attachments_database == NULL ||
		set->attachments_database[0] == '\0' ? dbname : set->attachments_database;
	ctx->db = mongoc_client_get_database(ctx->client, dbname);
	ctx->att_db = mongoc_client_get_database(ctx->client, att_dbname);
	for (unsigned int i = 0; i < COL_COUNT; i++)
		ctx->cols[i] = mongoc_client_get_collection(
			ctx->client, i == COL_ATT_FILES || i == COL_ATT_CHUNKS ? att_dbname : dbname,
			mongo_col_names[i]);
	char *index_key = xasprintf("%s/%s", dbname, att_dbname);
	int indexed = ensure_indexes(store, pool, index_key);
	free(index_key);
	if (indexed < 0) {
		mongodb_close(store);
		return -1;
	}
	return 0;
}

static int user_exists(struct store *store, const char *user_id);

/* ---- users ---- */

static const struct {
	const char *path;
	enum store_special_use use;
} default_mailboxes[] = {
	{ "INBOX", STORE_SPECIAL_INBOX },
	{ "Sent Mail", STORE_SPECIAL_SENT },
	{ "Drafts", STORE_SPECIAL_DRAFTS },
	{ "Trash", STORE_SPECIAL_TRASH },
	{ "Junk", STORE_SPECIAL_JUNK },
	{ "Archive", STORE_SPECIAL_ARCHIVE },
};

static int insert_address(struct store *store, const char *user_id, const char *address,
			  const char *addrview, const char *domain, bool wildcard, bool main)
{
	bson_oid_t id, user;
	bson_oid_init(&id, NULL);
	mongo_oid(&user, user_id);
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_OID(&doc, "user", &user);
	BSON_APPEND_UTF8(&doc, "address", address);
	BSON_APPEND_UTF8(&doc, "addrview", addrview);
	BSON_APPEND_UTF8(&doc, "domain", domain);
	BSON_APPEND_BOOL(&doc, "wildcard", wildcard);
	BSON_APPEND_BOOL(&doc, "main", main);
	mongo_append_date(&doc, "created", (int64_t)time(NULL));
	int ret = mongo_insert(store, COL_ADDRESSES, &doc);
	bson_destroy(&doc);
	return ret;
}

static void append_user_limits(bson_t *doc, const struct store_user *user)
{
	BSON_APPEND_INT64(doc, "imapMaxConnections", user->limits.imap_max_connections);
	BSON_APPEND_INT64(doc, "recipients", user->limits.recipients_per_day);
	BSON_APPEND_INT64(doc, "forwards", user->limits.forwards_per_day);
}

static int by_oid(struct store *store, enum mongo_col col, const char *key, const char *id)
{
	bson_oid_t oid;
	mongo_oid(&oid, id);
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_OID(&filter, key, &oid);
	int ret = mongo_delete(store, col, &filter, true, NULL);
	bson_destroy(&filter);
	return ret;
}

/* user, address and mailboxes are three kinds of document: without a
 * transaction, "all or nothing" means undoing what was done on failure. */
static int mongodb_user_create(struct store *store, const struct store_user *user,
			       const char *unameview, const char *addrview, const char *domain,
			       char id_r[STORE_ID_SIZE])
{
	bson_oid_t id;
	bson_oid_init(&id, NULL);
	mongo_oid_str(&id, id_r);
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_UTF8(&doc, "username", user->username);
	BSON_APPEND_UTF8(&doc, "unameview", unameview);
	mongo_append_str(&doc, "password", user->password_hash);
	mongo_append_str(&doc, "address", user->address);
	BSON_APPEND_INT64(&doc, "quota", (int64_t)user->quota);
	BSON_APPEND_INT64(&doc, "storageUsed", 0);
	BSON_APPEND_BOOL(&doc, "disabled", user->disabled);
	BSON_APPEND_BOOL(&doc, "suspended", user->suspended);
	mongo_append_strings(&doc, "tags", user->tags, user->tags_count);
	append_user_limits(&doc, user);
	mongo_append_str(&doc, "settings", user->settings);
	mongo_append_date(&doc, "created", (int64_t)time(NULL));
	int ret = mongo_insert(store, COL_USERS, &doc);
	bson_destroy(&doc);
	if (ret < 0) {
		if (store->error == STORE_ERR_EXISTS)
			store_set_error(store, STORE_ERR_EXISTS, "username already exists");
		return -1;
	}
	if (user->address != NULL &&
	    insert_address(store, id_r, user->address, addrview, domain, false, true) < 0)
		goto undo;
	for (size_t i = 0; i < sizeof(default_mailboxes) / sizeof(default_mailboxes[0]); i++) {
		char mailbox_id[STORE_ID_SIZE];
		if (mongo_mailbox_insert(store, id_r, default_mailboxes[i].path,
					 default_mailboxes[i].use, mailbox_id) < 0)
			goto undo;
	}
	return 0;
undo:;
	/* keep the error of the failed step, not the cleanup's */
	struct store saved = *store;
	(void)by_oid(store, COL_MAILBOXES, "user", id_r);
	(void)by_oid(store, COL_ADDRESSES, "user", id_r);
	(void)by_oid(store, COL_USERS, "_id", id_r);
	store->error = saved.error;
	memcpy(store->error_msg, saved.error_msg, sizeof(store->error_msg));
	return -1;
}

void mongo_user_fill(struct pool *pool, const bson_t *doc, struct store_user *user)
{
	memset(user, 0, sizeof(*user));
	mongo_id(doc, "_id", user->id);
	user->username = mongo_str(pool, doc, "username");
	user->password_hash = mongo_str(pool, doc, "password");
	user->address = mongo_str(pool, doc, "address");
	user->quota = (uint64_t)mongo_int(doc, "quota");
	int64_t used = mongo_int(doc, "storageUsed");
	user->storage_used = used < 0 ? 0 : (uint64_t)used;
	user->disabled = mongo_bool(doc, "disabled");
	user->suspended = mongo_bool(doc, "suspended");
	mongo_strings(pool, doc, "tags", &user->tags, &user->tags_count);
	user->limits.imap_max_connections = (uint32_t)mongo_int(doc, "imapMaxConnections");
	user->limits.recipients_per_day = (uint32_t)mongo_int(doc, "recipients");
	user->limits.forwards_per_day = (uint32_t)mongo_int(doc, "forwards");
	user->settings = mongo_str(pool, doc, "settings");
	user->created = mongo_date(doc, "created");
}

static int mongodb_user_get(struct store *store, const char *user_id, const char *unameview,
			    struct pool *pool, struct store_user **user_r)
{
	bson_t filter = BSON_INITIALIZER, doc;
	if (user_id != NULL) {
		bson_oid_t oid;
		mongo_oid(&oid, user_id);
		BSON_APPEND_OID(&filter, "_id", &oid);
	} else {
		BSON_APPEND_UTF8(&filter, "unameview", unameview);
	}
	int ret = mongo_find_one(store, COL_USERS, &filter, NULL, &doc);
	bson_destroy(&filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	if (ret < 0)
		return -1;
	*user_r = pool_alloc(pool, sizeof(**user_r));
	mongo_user_fill(pool, &doc, *user_r);
	bson_destroy(&doc);
	return 0;
}

static int mongodb_user_update(struct store *store, const char *user_id, unsigned int fields,
			       const struct store_user *user)
{
	if (fields == 0)	/* an empty $set is refused */
		return user_exists(store, user_id);
	bson_oid_t oid;
	mongo_oid(&oid, user_id);
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	BSON_APPEND_OID(&filter, "_id", &oid);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	if (fields & STORE_USER_PASSWORD)
		mongo_append_str(&set, "password", user->password_hash);
	if (fields & STORE_USER_QUOTA)
		BSON_APPEND_INT64(&set, "quota", (int64_t)user->quota);
	if (fields & STORE_USER_DISABLED)
		BSON_APPEND_BOOL(&set, "disabled", user->disabled);
	if (fields & STORE_USER_SUSPENDED)
		BSON_APPEND_BOOL(&set, "suspended", user->suspended);
	if (fields & STORE_USER_TAGS)
		mongo_append_strings(&set, "tags", user->tags, user->tags_count);
	if (fields & STORE_USER_LIMITS)
		append_user_limits(&set, user);
	if (fields & STORE_USER_SETTINGS)
		mongo_append_str(&set, "settings", user->settings);
	bson_append_document_end(&update, &set);
	int64_t matched = 0;
	int ret = mongo_update(store, COL_USERS, &filter, &update, false, false, &matched);
	bson_destroy(&filter);
	bson_destroy(&update);
	if (ret == 0 && matched == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return ret;
}

/* The user document goes first, so the user is gone at once; what it owned
 * is removed after (a crash leaves orphans, never a half user). */
static int mongodb_user_delete(struct store *store, const char *user_id)
{
	bson_oid_t oid;
	mongo_oid(&oid, user_id);
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_OID(&filter, "_id", &oid);
	int64_t deleted = 0;
	int ret = mongo_delete(store, COL_USERS, &filter, false, &deleted);
	bson_destroy(&filter);
	if (ret < 0)
		return -1;
	if (deleted == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	if (by_oid(store, COL_ADDRESSES, "user", user_id) < 0)
		return -1;
	struct pool *pool = pool_create(1024);
	struct store_mailbox *boxes;
	unsigned int count;
	ret = mongo_mailbox_list(store, user_id, pool, &boxes, &count);
	for (unsigned int i = 0; ret == 0 && i < count; i++) {
		ret = mongo_mailbox_purge(store, boxes[i].id);
		if (ret == 0)
			ret = by_oid(store, COL_MAILBOXES, "_id", boxes[i].id);
	}
	pool_destroy(&pool);
	/* what is left: the entries of mailboxes deleted before */
	if (ret == 0)
		ret = by_oid(store, COL_JOURNAL, "user", user_id);
	if (ret == 0)
		ret = mongo_extra_user_delete(store, &oid);
	if (ret == 0)
		ret = mongo_objects_user_delete(store, &oid);
	return ret;
}

/* ---- addresses and domain aliases ---- */

static int user_exists(struct store *store, const char *user_id)
{
	bson_oid_t oid;
	mongo_oid(&oid, user_id);
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_OID(&filter, "_id", &oid);
	int64_t n = 0;
	int ret = mongo_count(store, COL_USERS, &filter, &n);
	bson_destroy(&filter);
	if (ret == 0 && n == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return ret;
}

static int mongodb_address_add(struct store *store, const char *user_id, const char *address,
			       const char *addrview, const char *domain, bool wildcard, bool main)
{
	if (user_exists(store, user_id) < 0 ||
	    insert_address(store, user_id, address, addrview, domain, wildcard, main) < 0)
		return -1;
	if (!main)
		return 0;
	/* the new main address exists: now demote the old one */
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user), "main", BCON_BOOL(true),
				  "address", "{", "$ne", BCON_UTF8(address), "}");
	bson_t *update = BCON_NEW("$set", "{", "main", BCON_BOOL(false), "}");
	int ret = mongo_update(store, COL_ADDRESSES, filter, update, true, false, NULL);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret == 0) {
		filter = BCON_NEW("_id", BCON_OID(&user));
		update = BCON_NEW("$set", "{", "address", BCON_UTF8(address), "}");
		ret = mongo_update(store, COL_USERS, filter, update, false, false, NULL);
		bson_destroy(filter);
		bson_destroy(update);
	}
	return ret;
}

static void address_from_doc(struct pool *pool, const bson_t *doc, void *item)
{
	struct store_address *addr = item;
	memset(addr, 0, sizeof(*addr));
	mongo_id(doc, "_id", addr->id);
	mongo_id(doc, "user", addr->user);
	addr->address = mongo_str(pool, doc, "address");
	addr->main = mongo_bool(doc, "main");
	addr->created = mongo_date(doc, "created");
}

static int mongodb_address_find(struct store *store, const char *address, const char *addrview,
				struct pool *pool, struct store_address **address_r)
{
	bson_t filter = BSON_INITIALIZER, doc;
	if (address != NULL)
		BSON_APPEND_UTF8(&filter, "address", address);
	else
		BSON_APPEND_UTF8(&filter, "addrview", addrview);
	int ret = mongo_find_one(store, COL_ADDRESSES, &filter, NULL, &doc);
	bson_destroy(&filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such address");
	if (ret < 0)
		return -1;
	*address_r = pool_alloc(pool, sizeof(**address_r));
	address_from_doc(pool, &doc, *address_r);
	bson_destroy(&doc);
	return 0;
}

static int address_docs(struct store *store, const bson_t *filter, const bson_t *opts,
			struct pool *pool, struct store_address **addresses_r,
			unsigned int *count_r)
{
	void *list = NULL;
	int ret = mongo_find_all(store, COL_ADDRESSES, filter, opts, pool,
				 sizeof(struct store_address), address_from_doc, "addresses",
				 &list, count_r);
	*addresses_r = list;
	return ret;
}

static int mongodb_address_list(struct store *store, const char *user_id, struct pool *pool,
				struct store_address **addresses_r, unsigned int *count_r)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user));
	bson_t *opts = BCON_NEW("sort", "{", "main", BCON_INT32(-1), "address", BCON_INT32(1), "}");
	int ret = address_docs(store, filter, opts, pool, addresses_r, count_r);
	bson_destroy(filter);
	bson_destroy(opts);
	return ret;
}

static int mongodb_address_wildcards(struct store *store, const char *domain, struct pool *pool,
				     struct store_address **addresses_r, unsigned int *count_r)
{
	bson_t *filter = BCON_NEW("domain", BCON_UTF8(domain), "wildcard", BCON_BOOL(true));
	int ret = address_docs(store, filter, NULL, pool, addresses_r, count_r);
	bson_destroy(filter);
	return ret;
}

/* query as a regular expression matching itself */
static const char *regex_quote(struct pool *pool, const char *query)
{
	size_t len = strlen(query);
	char *out = pool_alloc(pool, len * 2 + 1), *p = out;
	for (const char *q = query; *q != '\0'; q++) {
		if (strchr("\\^$.|?*+()[]{}", *q) != NULL)
			*p++ = '\\';
		*p++ = *q;
	}
	*p = '\0';
	return out;
}

static int mongodb_address_page(struct store *store, const char *domain, const char *query,
				const char *after, bool backwards, unsigned int limit,
				struct pool *pool, struct store_address **addresses_r,
				unsigned int *count_r)
{
	bson_t filter = BSON_INITIALIZER, cond;
	if (domain != NULL)
		BSON_APPEND_UTF8(&filter, "domain", domain);
	if (query != NULL || after != NULL) {
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "address", &cond);
		if (query != NULL)
			BSON_APPEND_REGEX(&cond, "$regex", regex_quote(pool, query), "");
		if (after != NULL)
			BSON_APPEND_UTF8(&cond, backwards ? "$lt" : "$gt", after);
		bson_append_document_end(&filter, &cond);
	}
	bson_t *opts = BCON_NEW("sort", "{", "address", BCON_INT32(backwards ? -1 : 1), "}",
				"limit", BCON_INT64(limit));
	int ret = address_docs(store, &filter, opts, pool, addresses_r, count_r);
	bson_destroy(&filter);
	bson_destroy(opts);
	if (ret == 0 && *count_r > limit)
		*count_r = limit;
	return ret;
}

static int mongodb_address_delete(struct store *store, const char *address)
{
	bson_t *filter = BCON_NEW("address", BCON_UTF8(address), "main", "{", "$ne",
				  BCON_BOOL(true), "}");
	int64_t deleted = 0;
	int ret = mongo_delete(store, COL_ADDRESSES, filter, false, &deleted);
	bson_destroy(filter);
	if (ret < 0 || deleted > 0)
		return ret;
	struct pool *pool = pool_create(256);
	struct store_address *found;
	ret = mongodb_address_find(store, address, NULL, pool, &found);
	pool_destroy(&pool);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_INVALID,
				       "the main address cannot be deleted");
	return -1;
}

static int mongodb_domain_alias_add(struct store *store, const char *alias, const char *domain)
{
	bson_oid_t id;
	bson_oid_init(&id, NULL);
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_UTF8(&doc, "alias", alias);
	BSON_APPEND_UTF8(&doc, "domain", domain);
	mongo_append_date(&doc, "created", (int64_t)time(NULL));
	int ret = mongo_insert(store, COL_DOMAINALIASES, &doc);
	bson_destroy(&doc);
	return ret;
}

static int mongodb_domain_alias_delete(struct store *store, const char *alias)
{
	bson_t *filter = BCON_NEW("alias", BCON_UTF8(alias));
	int64_t deleted = 0;
	int ret = mongo_delete(store, COL_DOMAINALIASES, filter, false, &deleted);
	bson_destroy(filter);
	if (ret == 0 && deleted == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such domain alias");
	return ret;
}

static int mongodb_domain_alias_get(struct store *store, const char *alias, struct pool *pool,
				    const char **domain_r)
{
	bson_t *filter = BCON_NEW("alias", BCON_UTF8(alias));
	bson_t doc;
	int ret = mongo_find_one(store, COL_DOMAINALIASES, filter, NULL, &doc);
	bson_destroy(filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such domain alias");
	if (ret < 0)
		return -1;
	*domain_r = mongo_str(pool, &doc, "domain");
	bson_destroy(&doc);
	return 0;
}

const struct store_driver store_driver_mongodb = {
	.name = "mongodb",
	.open = mongodb_open,
	.close = mongodb_close,
	.user_create = mongodb_user_create,
	.user_get = mongodb_user_get,
	.user_update = mongodb_user_update,
	.user_delete = mongodb_user_delete,
	.address_add = mongodb_address_add,
	.address_delete = mongodb_address_delete,
	.address_list = mongodb_address_list,
	.address_page = mongodb_address_page,
	.address_find = mongodb_address_find,
	.address_wildcards = mongodb_address_wildcards,
	.domain_alias_add = mongodb_domain_alias_add,
	.domain_alias_delete = mongodb_domain_alias_delete,
	.domain_alias_get = mongodb_domain_alias_get,
	.mailbox_create = mongo_mailbox_create,
	.mailbox_get = mongo_mailbox_get,
	.mailbox_list = mongo_mailbox_list,
	.mailbox_rename = mongo_mailbox_rename,
	.mailbox_delete = mongo_mailbox_delete,
	.mailbox_subscribe = mongo_mailbox_subscribe,
	.mailbox_counts = mongo_mailbox_counts,
	.message_append = mongo_message_append,
	.message_list = mongo_message_list,
	.message_get = mongo_message_get,
	.message_content = mongo_message_content,
	.flags_update = mongo_flags_update,
	.message_copy = mongo_message_copy,
	.message_expunge = mongo_message_expunge,
	.attachment_get = mongo_attachment_get,
	.attachment_info = mongo_attachment_info,
	.journal_since = mongo_journal_since,
	.filter_add = mongo_filter_add,
	.filter_delete = mongo_filter_delete,
	.filter_list = mongo_filter_list,
	.autoreply_set = mongo_autoreply_set,
	.autoreply_get = mongo_autoreply_get,
	.autoreply_delete = mongo_autoreply_delete,
	.targets_set = mongo_targets_set,
	.targets_get = mongo_targets_get,
	.counter_add = mongo_counter_add,
	.webhook_enqueue = mongo_webhook_enqueue,
	.object_add = mongo_object_add,
	.object_list = mongo_object_list,
	.object_get = mongo_object_get,
	.object_update = mongo_object_update,
	.object_delete = mongo_object_delete,
	.webhook_claim = mongo_webhook_claim,
	.webhook_done = mongo_webhook_done,
	.webhook_retry = mongo_webhook_retry,
	.asp_create = mongo_asp_create,
	.asp_list = mongo_asp_list,
	.asp_delete = mongo_asp_delete,
	.asp_touch = mongo_asp_touch,
	.totp_get = mongo_totp_get,
	.totp_set = mongo_totp_set,
	.totp_use = mongo_totp_use,
	.authlog_add = mongo_authlog_add,
	.authlog_list = mongo_authlog_list,
	.authlog_purge = mongo_authlog_purge,
	.user_list = mongo_user_list,
	.user_count = mongo_user_count,
	.message_page = mongo_message_page,
	.message_tree = mongo_message_tree,
	.token_add = mongo_token_add,
	.token_get = mongo_token_get,
	.token_delete = mongo_token_delete,
	.journal_user_since = mongo_journal_user_since,
	.journal_user_last = mongo_journal_user_last,
	.message_thread_set = mongo_message_thread_set,
	.user_storage_set = mongo_user_storage_set,
};
