/* MongoDB driver: what the HTTP API reads besides the mail calls: user
 * listings by id, message pages, tree blobs, access tokens (kept as their
 * hash in "accesstokens"; WildDuck keeps them in Redis) and the user-wide
 * journal, ordered by the per-user position mongo_journal_add() takes. */
#include "store_mongodb.h"

#include "pool.h"

#include <string.h>
#include <time.h>

int mongo_user_list(struct store *store, const char *after_id, bool backwards,
		    unsigned int limit, struct pool *pool, struct store_user **users_r,
		    unsigned int *count_r)
{
	bson_t filter = BSON_INITIALIZER;
	if (after_id != NULL) {
		bson_oid_t after;
		mongo_oid(&after, after_id);
		bson_t cond;
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &cond);
		BSON_APPEND_OID(&cond, backwards ? "$lt" : "$gt", &after);
		bson_append_document_end(&filter, &cond);
	}
	bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(backwards ? -1 : 1), "}",
				"limit", BCON_INT64(limit));
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
		mongo_col(store, COL_USERS), &filter, opts, NULL);
	bson_destroy(&filter);
	bson_destroy(opts);
	struct store_user *users = pool_alloc(pool, (limit + 1) * sizeof(*users));
	unsigned int n = 0;
	const bson_t *doc;
	while (n < limit && mongoc_cursor_next(cursor, &doc))
		mongo_user_fill(pool, doc, &users[n++]);
	bson_error_t error;
	int ret = mongoc_cursor_error(cursor, &error) ? mongo_fail(store, &error, "users") : 0;
	mongoc_cursor_destroy(cursor);
	*users_r = users;
	*count_r = n;
	return ret;
}

int mongo_user_count(struct store *store, uint64_t *count_r)
{
	bson_t filter = BSON_INITIALIZER;
	int64_t n = 0;
	int ret = mongo_count(store, COL_USERS, &filter, &n);
	bson_destroy(&filter);
	*count_r = (uint64_t)n;
	return ret;
}

int mongo_message_page(struct store *store, const char *mailbox_id, uint32_t first,
		       uint32_t last, bool descending, unsigned int limit,
		       store_message_cb *callback, void *context)
{
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *filter = BCON_NEW("mailbox", BCON_OID(&oid), "uid", "{", "$gte", BCON_INT64(first),
				  "$lte", BCON_INT64(last), "}");
	bson_t *opts = BCON_NEW("sort", "{", "uid", BCON_INT32(descending ? -1 : 1), "}",
				"projection", "{", "mimeTree", BCON_INT32(0), "}",
				"limit", BCON_INT64(limit));
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
		mongo_col(store, COL_MESSAGES), filter, opts, NULL);
	bson_destroy(filter);
	bson_destroy(opts);
	struct pool *pool = pool_create(4096);
	const bson_t *doc;
	bool stop = false;
	while (!stop && mongoc_cursor_next(cursor, &doc)) {
		struct store_message msg;
		mongo_message_fill(&msg, pool, doc);
		stop = callback(&msg, context) != 0;
		pool_clear(pool);
	}
	bson_error_t error;
	int ret = !stop && mongoc_cursor_error(cursor, &error) ?
		mongo_fail(store, &error, "message page") : 0;
	mongoc_cursor_destroy(cursor);
	pool_destroy(&pool);
	return ret;
}

int mongo_message_tree(struct store *store, const char *message_id, struct pool *pool,
		       const unsigned char **tree_r, size_t *len_r)
{
	bson_oid_t oid;
	mongo_oid(&oid, message_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
	bson_t *opts = BCON_NEW("projection", "{", "mimeTree", BCON_INT32(1), "}");
	bson_t doc;
	int ret = mongo_find_one(store, COL_MESSAGES, filter, opts, &doc);
	bson_destroy(filter);
	bson_destroy(opts);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such message");
	if (ret < 0)
		return -1;
	*tree_r = mongo_bin(pool, &doc, "mimeTree", len_r);
	bson_destroy(&doc);
	return 0;
}

int mongo_token_add(struct store *store, const char *user_id, const char *token_hash,
		    int64_t expires)
{
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	/* expired tokens go whenever a new one comes */
	bson_t *filter = BCON_NEW("expires", "{", "$lt", BCON_DATE_TIME(now_ms), "}");
	int ret = mongo_delete(store, COL_ACCESSTOKENS, filter, true, NULL);
	bson_destroy(filter);
	if (ret < 0)
		return -1;
	bson_oid_t user;
	mongo_oid(&user, user_id);
	filter = BCON_NEW("_id", BCON_OID(&user));
	int64_t n = 0;
	ret = mongo_count(store, COL_USERS, filter, &n);
	bson_destroy(filter);
	if (ret < 0)
		return -1;
	if (n == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	bson_t *doc = BCON_NEW("_id", BCON_UTF8(token_hash), "user", BCON_OID(&user),
			       "created", BCON_DATE_TIME(now_ms),
			       "expires", BCON_DATE_TIME(expires * 1000));
	ret = mongo_insert(store, COL_ACCESSTOKENS, doc);
	bson_destroy(doc);
	return ret;
}

int mongo_token_get(struct store *store, const char *token_hash, int64_t now,
		    char user_id_r[STORE_ID_SIZE])
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(token_hash), "expires", "{", "$gt",
				  BCON_DATE_TIME(now * 1000), "}");
	bson_t doc;
	int ret = mongo_find_one(store, COL_ACCESSTOKENS, filter, NULL, &doc);
	bson_destroy(filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such token");
	if (ret < 0)
		return -1;
	mongo_id(&doc, "user", user_id_r);
	bson_destroy(&doc);
	return 0;
}

int mongo_token_delete(struct store *store, const char *token_hash)
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(token_hash));
	int64_t deleted = 0;
	int ret = mongo_delete(store, COL_ACCESSTOKENS, filter, false, &deleted);
	bson_destroy(filter);
	if (ret == 0 && deleted == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such token");
	return ret;
}

int mongo_journal_user_since(struct store *store, const char *user_id, int64_t after,
			     unsigned int limit, store_journal_user_cb *callback, void *context)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user), "position", "{", "$gt",
				  BCON_INT64(after), "}");
	bson_t *opts = BCON_NEW("sort", "{", "position", BCON_INT32(1), "}",
				"limit", BCON_INT64(limit));
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
		mongo_col(store, COL_JOURNAL), filter, opts, NULL);
	bson_destroy(filter);
	bson_destroy(opts);
	struct pool *pool = pool_create(1024);
	const bson_t *doc;
	bool stop = false;
	while (!stop && mongoc_cursor_next(cursor, &doc)) {
		struct store_journal_user_entry e = {
			.position = mongo_int(doc, "position"),
			.entry = {
				.command = mongo_journal_command(mongo_str(pool, doc, "command")),
				.uid = (uint32_t)mongo_int(doc, "uid"),
				.modseq = (uint64_t)mongo_int(doc, "modseq"),
			},
		};
		mongo_id(doc, "mailbox", e.mailbox);
		char message[STORE_ID_SIZE];
		mongo_id(doc, "message", message);
		e.entry.message = message[0] == '\0' ? NULL : pool_strdup(pool, message);
		mongo_strings(pool, doc, "flags", &e.entry.flags, &e.entry.flags_count);
		if (e.entry.command > STORE_JOURNAL_FLAGS)
			e.entry.path = mongo_str(pool, doc, "path");
		stop = callback(&e, context) != 0;
		pool_clear(pool);
	}
	bson_error_t error;
	int ret = !stop && mongoc_cursor_error(cursor, &error) ?
		mongo_fail(store, &error, "journal") : 0;
	mongoc_cursor_destroy(cursor);
	pool_destroy(&pool);
	return ret;
}

int mongo_journal_user_last(struct store *store, const char *user_id, int64_t *position_r)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user));
	bson_t *opts = BCON_NEW("sort", "{", "position", BCON_INT32(-1), "}");
	bson_t doc;
	int ret = mongo_find_one(store, COL_JOURNAL, filter, opts, &doc);
	bson_destroy(filter);
	bson_destroy(opts);
	*position_r = 0;
	if (ret > 0) {
		*position_r = mongo_int(&doc, "position");
		bson_destroy(&doc);
	}
	return ret < 0 ? -1 : 0;
}
