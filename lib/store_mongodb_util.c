/* MongoDB driver: error mapping and the small BSON and collection helpers
 * every store_mongodb_*.c file uses (declared in store_mongodb.h). */
#include "store_mongodb.h"

#include "pool.h"

#include <stdio.h>
#include <string.h>

static bool transient_code(uint32_t code)
{
	switch (code) {
	/* network, not primary, shutting down, time limits, write concern */
	case 6: case 7: case 64: case 89: case 91: case 189: case 262: case 9001: case 10107:
	case 11600: case 11602: case 13435: case 13436: case 50:
		return true;
	default:
		return false;
	}
}

int mongo_fail(struct store *store, const bson_error_t *error, const char *what)
{
	if (error->code == 11000 || error->code == 11001)
		return store_set_error(store, STORE_ERR_EXISTS, "%s: already exists", what);
	if (error->domain == MONGOC_ERROR_STREAM ||
	    error->domain == MONGOC_ERROR_SERVER_SELECTION ||
	    error->domain == MONGOC_ERROR_CLIENT || transient_code(error->code))
		return store_set_error(store, STORE_ERR_TEMPORARY, "%s: %s", what, error->message);
	return store_set_error(store, STORE_ERR_INTERNAL, "%s: %s (%u/%u)", what, error->message,
			       error->domain, error->code);
}

void mongo_oid(bson_oid_t *oid, const char *id)
{
	if (bson_oid_is_valid(id, strlen(id)) && strlen(id) == 24)
		bson_oid_init_from_string(oid, id);
	else
		memset(oid, 0, sizeof(*oid));
}

void mongo_oid_str(const bson_oid_t *oid, char id_r[STORE_ID_SIZE])
{
	bson_oid_to_string(oid, id_r);
}

static bool find_field(const bson_t *doc, const char *key, bson_iter_t *it)
{
	if (strchr(key, '.') != NULL) {
		bson_iter_t top;
		return bson_iter_init(&top, doc) && bson_iter_find_descendant(&top, key, it);
	}
	return bson_iter_init_find(it, doc, key);
}

const char *mongo_str(struct pool *pool, const bson_t *doc, const char *key)
{
	bson_iter_t it;
	if (!find_field(doc, key, &it) || !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	uint32_t len;
	const char *s = bson_iter_utf8(&it, &len);
	return pool_strndup(pool, s, len);
}

int64_t mongo_int(const bson_t *doc, const char *key)
{
	bson_iter_t it;
	if (!find_field(doc, key, &it))
		return 0;
	if (BSON_ITER_HOLDS_DATE_TIME(&it))
		return bson_iter_date_time(&it) / 1000;
	return bson_iter_as_int64(&it);
}

bool mongo_bool(const bson_t *doc, const char *key)
{
	bson_iter_t it;
	return find_field(doc, key, &it) && bson_iter_as_bool(&it);
}

int64_t mongo_date(const bson_t *doc, const char *key)
{
	return mongo_int(doc, key);
}

void mongo_id(const bson_t *doc, const char *key, char id_r[STORE_ID_SIZE])
{
	bson_iter_t it;
	id_r[0] = '\0';
	if (!find_field(doc, key, &it))
		return;
	if (BSON_ITER_HOLDS_OID(&it)) {
		bson_oid_to_string(bson_iter_oid(&it), id_r);
	} else if (BSON_ITER_HOLDS_UTF8(&it)) {
		snprintf(id_r, STORE_ID_SIZE, "%s", bson_iter_utf8(&it, NULL));
	}
}

const unsigned char *mongo_bin(struct pool *pool, const bson_t *doc, const char *key,
			       size_t *len_r)
{
	bson_iter_t it;
	*len_r = 0;
	unsigned char *out;
	if (!find_field(doc, key, &it) || !BSON_ITER_HOLDS_BINARY(&it)) {
		out = pool_alloc(pool, 1);
		out[0] = '\0';
		return out;
	}
	bson_subtype_t subtype;
	uint32_t len;
	const uint8_t *data;
	bson_iter_binary(&it, &subtype, &len, &data);
	out = pool_alloc(pool, (size_t)len + 1);
	if (len > 0)
		memcpy(out, data, len);
	out[len] = '\0';
	*len_r = len;
	return out;
}

void mongo_strings(struct pool *pool, const bson_t *doc, const char *key,
		   const char *const **list_r, unsigned int *count_r)
{
	bson_iter_t it, child;
	unsigned int count = 0;
	if (find_field(doc, key, &it) && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &child)) {
		while (bson_iter_next(&child))
			count++;
	}
	const char **list = pool_alloc(pool, (count + 1) * sizeof(*list));
	unsigned int n = 0;
	if (count > 0 && bson_iter_recurse(&it, &child)) {
		while (bson_iter_next(&child) && n < count)
			if (BSON_ITER_HOLDS_UTF8(&child))
				list[n++] = pool_strdup(pool, bson_iter_utf8(&child, NULL));
	}
	list[n] = NULL;
	*list_r = list;
	*count_r = n;
}

void mongo_append_strings(bson_t *doc, const char *key, const char *const *list,
			  unsigned int count)
{
	bson_t arr;
	char idx[16];
	const char *k;
	unsigned int n = 0;
	bson_append_array_begin(doc, key, -1, &arr);
	for (unsigned int i = 0; i < count; i++) {
		if (list[i] == NULL)
			continue;
		bson_uint32_to_string(n++, &k, idx, sizeof(idx));
		bson_append_utf8(&arr, k, -1, list[i], -1);
	}
	bson_append_array_end(doc, &arr);
}

void mongo_append_date(bson_t *doc, const char *key, int64_t secs)
{
	bson_append_date_time(doc, key, -1, secs * 1000);
}

void mongo_append_str(bson_t *doc, const char *key, const char *s)
{
	if (s == NULL)
		bson_append_null(doc, key, -1);
	else
		bson_append_utf8(doc, key, -1, s, -1);
}

int mongo_find_one(struct store *store, enum mongo_col col, const bson_t *filter,
		   const bson_t *opts, bson_t *doc_r)
{
	bson_t o = BSON_INITIALIZER;
	if (opts != NULL)
		bson_copy_to_excluding_noinit(opts, &o, "limit", NULL);
	BSON_APPEND_INT64(&o, "limit", 1);
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(mongo_col(store, col), filter,
								   &o, NULL);
	bson_destroy(&o);
	const bson_t *doc;
	int ret = 0;
	if (mongoc_cursor_next(cursor, &doc)) {
		bson_copy_to(doc, doc_r);
		ret = 1;
	}
	bson_error_t error;
	if (ret == 0 && mongoc_cursor_error(cursor, &error))
		ret = mongo_fail(store, &error, mongo_col_names[col]);
	mongoc_cursor_destroy(cursor);
	return ret;
}

int mongo_update(struct store *store, enum mongo_col col, const bson_t *filter,
		 const bson_t *update, bool many, bool upsert, int64_t *matched_r)
{
	bson_t opts = BSON_INITIALIZER, reply;
	bson_error_t error;
	if (upsert)
		BSON_APPEND_BOOL(&opts, "upsert", true);
	bool ok = many ?
		mongoc_collection_update_many(mongo_col(store, col), filter, update, &opts,
					      &reply, &error) :
		mongoc_collection_update_one(mongo_col(store, col), filter, update, &opts,
					     &reply, &error);
	bson_destroy(&opts);
	if (ok && matched_r != NULL)
		*matched_r = mongo_int(&reply, "matchedCount") + mongo_int(&reply, "upsertedCount");
	bson_destroy(&reply);
	return ok ? 0 : mongo_fail(store, &error, mongo_col_names[col]);
}

int mongo_delete(struct store *store, enum mongo_col col, const bson_t *filter, bool many,
		 int64_t *deleted_r)
{
	bson_t reply;
	bson_error_t error;
	bool ok = many ?
		mongoc_collection_delete_many(mongo_col(store, col), filter, NULL, &reply, &error) :
		mongoc_collection_delete_one(mongo_col(store, col), filter, NULL, &reply, &error);
	if (ok && deleted_r != NULL)
		*deleted_r = mongo_int(&reply, "deletedCount");
	bson_destroy(&reply);
	return ok ? 0 : mongo_fail(store, &error, mongo_col_names[col]);
}

int mongo_insert(struct store *store, enum mongo_col col, const bson_t *doc)
{
	bson_error_t error;
	if (mongoc_collection_insert_one(mongo_col(store, col), doc, NULL, NULL, &error))
		return 0;
	return mongo_fail(store, &error, mongo_col_names[col]);
}

int mongo_find_modify_sorted(struct store *store, enum mongo_col col, const bson_t *filter,
			     const bson_t *sort, const bson_t *update, bool upsert,
			     bson_t *doc_r)
{
	bson_t reply;
	bson_error_t error;
	if (!mongoc_collection_find_and_modify(mongo_col(store, col), filter, sort, update, NULL,
					       false, upsert, true, &reply, &error)) {
		bson_destroy(&reply);
		return mongo_fail(store, &error, mongo_col_names[col]);
	}
	bson_iter_t it;
	int ret = 0;
	if (bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		uint32_t len;
		const uint8_t *data;
		bson_iter_document(&it, &len, &data);
		bson_t value;
		if (bson_init_static(&value, data, len)) {
			bson_copy_to(&value, doc_r);
			ret = 1;
		}
	}
	bson_destroy(&reply);
	return ret;
}

int mongo_find_modify(struct store *store, enum mongo_col col, const bson_t *filter,
		      const bson_t *update, bool upsert, bson_t *doc_r)
{
	return mongo_find_modify_sorted(store, col, filter, NULL, update, upsert, doc_r);
}

int mongo_count(struct store *store, enum mongo_col col, const bson_t *filter,
		int64_t *count_r)
{
	bson_error_t error;
	int64_t n = mongoc_collection_count_documents(mongo_col(store, col), filter, NULL, NULL,
						      NULL, &error);
	if (n < 0)
		return mongo_fail(store, &error, mongo_col_names[col]);
	*count_r = n;
	return 0;
}

int mongo_find_all(struct store *store, enum mongo_col col, const bson_t *filter,
		   const bson_t *opts, struct pool *pool, size_t size, mongo_fill_fn *fill,
		   const char *what, void **items_r, unsigned int *count_r)
{
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(mongo_col(store, col), filter,
								   opts, NULL);
	unsigned int count = 0, cap = 8;
	unsigned char *items = pool_alloc(pool, cap * size);
	const bson_t *doc;
	while (mongoc_cursor_next(cursor, &doc)) {
		if (count == cap) {
			unsigned char *bigger = pool_alloc(pool, 2 * cap * size);
			memcpy(bigger, items, count * size);
			items = bigger;
			cap *= 2;
		}
		fill(pool, doc, items + count++ * size);
	}
	bson_error_t error;
	int ret = mongoc_cursor_error(cursor, &error) ? mongo_fail(store, &error, what) : 0;
	mongoc_cursor_destroy(cursor);
	*items_r = items;
	*count_r = count;
	return ret;
}

int mongo_user_check(struct store *store, const bson_oid_t *user)
{
	bson_t *filter = BCON_NEW("_id", BCON_OID(user));
	int64_t n = 0;
	int ret = mongo_count(store, COL_USERS, filter, &n);
	bson_destroy(filter);
	if (ret == 0 && n == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return ret;
}

int mongo_counter_next(struct store *store, enum mongo_col col, const bson_t *filter,
		       const bson_t *update, const char *name, int64_t *value_r)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		bson_t doc;
		int ret = mongo_find_modify(store, col, filter, update, true, &doc);
		if (ret < 0 && store->error == STORE_ERR_EXISTS)
			continue;	/* two first upserts raced */
		if (ret <= 0)
			return ret < 0 ? -1 : store_set_error(store, STORE_ERR_INTERNAL,
							      "%s: no counter", name);
		*value_r = mongo_int(&doc, "value");
		bson_destroy(&doc);
		return 0;
	}
	return store_set_error(store, STORE_ERR_TEMPORARY, "%s: too much contention", name);
}
