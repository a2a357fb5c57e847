/* MongoDB driver: appending, listing and reading messages, and the
 * content-addressed attachments in the GridFS bucket "attachments"
 * (attachments.files with _id = the SHA-256 hex and the reference count in
 * metadata.c, as WildDuck keeps them; attachments.chunks of 255 KiB).
 *
 * The bucket is written with plain collection calls rather than mongoc's
 * upload streams so that two deliveries of one new attachment cannot hurt
 * each other: chunks are upserted by (files_id, n), which is idempotent for
 * identical bytes, and the files document, inserted last, is what makes the
 * attachment exist; losing that insert race turns into one more reference.
 * The files document counts references; the last release deletes it
 * (conditionally on the count) and then its chunks. */
#include "store_mongodb.h"

#include "mem.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#define CHUNK_SIZE (255 * 1024)
/* Smaller attachments are not worth a codec tag and a decompression. */
#define COMPRESS_MIN_SIZE 512

/* ---- attachments ---- */

int mongo_attachment_ref(struct store *store, const char *attachment_id)
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(attachment_id));
	bson_t *update = BCON_NEW("$inc", "{", "metadata.c", BCON_INT64(1), "}");
	int64_t matched = 0;
	int ret = mongo_update(store, COL_ATT_FILES, filter, update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret < 0)
		return -1;
	return matched > 0 ? 0 : 1;
}

static int upload_chunks(struct store *store, const char *id, const unsigned char *data,
			 size_t len)
{
	size_t chunks = len == 0 ? 0 : (len + CHUNK_SIZE - 1) / CHUNK_SIZE;
	for (size_t n = 0; n < chunks; n++) {
		size_t off = n * CHUNK_SIZE, part = len - off < CHUNK_SIZE ? len - off : CHUNK_SIZE;
		bson_t *filter = BCON_NEW("files_id", BCON_UTF8(id), "n", BCON_INT32((int32_t)n));
		bson_t update = BSON_INITIALIZER, set;
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		bson_append_binary(&set, "data", -1, BSON_SUBTYPE_BINARY, data + off, (uint32_t)part);
		bson_append_document_end(&update, &set);
		int ret = mongo_update(store, COL_ATT_CHUNKS, filter, &update, false, true, NULL);
		/* two upserts of one new chunk raced: the other one wrote it */
		if (ret < 0 && store->error == STORE_ERR_EXISTS)
			ret = mongo_update(store, COL_ATT_CHUNKS, filter, &update, false, false, NULL);
		bson_destroy(filter);
		bson_destroy(&update);
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* Stores a new attachment with one reference, or references it if another
 * delivery stored it first. */
static int attachment_store(struct store *store, const struct store_attachment *att,
			    int compress_level)
{
	const unsigned char *bytes = att->data;
	size_t stored = att->len;
	unsigned char *packed = NULL;
	const char *codec = "none";
	if (compress_level > 0 && att->len >= COMPRESS_MIN_SIZE) {
		size_t bound = ZSTD_compressBound(att->len);
		packed = xmalloc(bound);
		size_t n = ZSTD_compress(packed, bound, att->data, att->len, compress_level);
		/* keep the bytes as they are unless zstd saves at least 1/16 */
		if (!ZSTD_isError(n) && n < att->len - att->len / 16) {
			bytes = packed;
			stored = n;
			codec = "zstd";
		}
	}
	int ret = -1;
	for (int attempt = 0; attempt < 10; attempt++) {
		if (upload_chunks(store, att->id, bytes, stored) < 0)
			break;
		bson_t doc = BSON_INITIALIZER, meta;
		BSON_APPEND_UTF8(&doc, "_id", att->id);
		BSON_APPEND_INT64(&doc, "length", (int64_t)stored);
		BSON_APPEND_INT32(&doc, "chunkSize", CHUNK_SIZE);
		bson_append_date_time(&doc, "uploadDate", -1, (int64_t)time(NULL) * 1000);
		BSON_APPEND_UTF8(&doc, "filename", att->id);
		BSON_APPEND_DOCUMENT_BEGIN(&doc, "metadata", &meta);
		BSON_APPEND_INT64(&meta, "c", 1);
		BSON_APPEND_INT64(&meta, "size", (int64_t)att->len);
		BSON_APPEND_UTF8(&meta, "codec", codec);
		bson_append_document_end(&doc, &meta);
		ret = mongo_insert(store, COL_ATT_FILES, &doc);
		bson_destroy(&doc);
		if (ret == 0 || store->error != STORE_ERR_EXISTS)
			break;
		/* stored meanwhile by someone else: reference theirs */
		ret = mongo_attachment_ref(store, att->id);
		if (ret <= 0)
			break;
		ret = -1;	/* and gone again: store it once more */
	}
	free(packed);
	if (ret > 0)
		ret = store_set_error(store, STORE_ERR_TEMPORARY, "attachment %s: contention",
				      att->id);
	return ret;
}

int mongo_attachment_unref(struct store *store, const char *attachment_id)
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(attachment_id));
	bson_t *update = BCON_NEW("$inc", "{", "metadata.c", BCON_INT64(-1), "}");
	bson_t doc;
	int ret = mongo_find_modify(store, COL_ATT_FILES, filter, update, false, &doc);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret <= 0)
		return ret;
	int64_t left = mongo_int(&doc, "metadata.c");
	bson_destroy(&doc);
	if (left > 0)
		return 0;
	/* only if nobody took a new reference in between */
	filter = BCON_NEW("_id", BCON_UTF8(attachment_id), "metadata.c", "{", "$lte",
			  BCON_INT64(0), "}");
	int64_t deleted = 0;
	ret = mongo_delete(store, COL_ATT_FILES, filter, false, &deleted);
	bson_destroy(filter);
	if (ret == 0 && deleted > 0) {
		filter = BCON_NEW("files_id", BCON_UTF8(attachment_id));
		ret = mongo_delete(store, COL_ATT_CHUNKS, filter, true, NULL);
		bson_destroy(filter);
	}
	return ret;
}

int mongo_message_release(struct store *store, const bson_t *msg_doc)
{
	struct pool *pool = pool_create(512);
	const char *const *ids;
	unsigned int count;
	mongo_strings(pool, msg_doc, "attachments", &ids, &count);
	int ret = 0;
	for (unsigned int i = 0; ret == 0 && i < count; i++)
		ret = mongo_attachment_unref(store, ids[i]);
	pool_destroy(&pool);
	return ret;
}

int mongo_attachment_info(struct store *store, const char *attachment_id,
			  struct pool *pool, struct store_attachment_info *info_r)
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(attachment_id));
	bson_t doc;
	int ret = mongo_find_one(store, COL_ATT_FILES, filter, NULL, &doc);
	bson_destroy(filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such attachment");
	if (ret < 0)
		return -1;
	info_r->size = (uint64_t)mongo_int(&doc, "metadata.size");
	info_r->stored_size = (uint64_t)mongo_int(&doc, "length");
	int64_t refs = mongo_int(&doc, "metadata.c");
	info_r->refcount = refs < 0 ? 0 : (uint32_t)refs;
	info_r->codec = mongo_str(pool, &doc, "metadata.codec");
	if (info_r->codec == NULL)
		info_r->codec = "none";
	bson_destroy(&doc);
	return 0;
}

int mongo_attachment_get(struct store *store, const char *attachment_id,
			 struct pool *pool, const unsigned char **data_r, size_t *len_r)
{
	struct store_attachment_info info;
	if (mongo_attachment_info(store, attachment_id, pool, &info) < 0)
		return -1;
	bool zstd = strcmp(info.codec, "zstd") == 0;
	unsigned char *stored = zstd ? xmalloc(info.stored_size + 1) :
		pool_alloc(pool, info.stored_size + 1);
	size_t got = 0;
	bson_t *filter = BCON_NEW("files_id", BCON_UTF8(attachment_id));
	bson_t *opts = BCON_NEW("sort", "{", "n", BCON_INT32(1), "}");
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
		mongo_col(store, COL_ATT_CHUNKS), filter, opts, NULL);
	bson_destroy(filter);
	bson_destroy(opts);
	const bson_t *doc;
	int ret = 0;
	while (ret == 0 && mongoc_cursor_next(cursor, &doc)) {
		bson_iter_t it;
		bson_subtype_t subtype;
		uint32_t len = 0;
		const uint8_t *data = NULL;
		if (bson_iter_init_find(&it, doc, "data") && BSON_ITER_HOLDS_BINARY(&it))
			bson_iter_binary(&it, &subtype, &len, &data);
		if (mongo_int(doc, "n") != (int64_t)(got / CHUNK_SIZE) || got + len > info.stored_size)
			ret = store_set_error(store, STORE_ERR_INTERNAL,
					      "attachment %s: bad chunks", attachment_id);
		else if (len > 0)
			memcpy(stored + got, data, len);
		got += len;
	}
	bson_error_t error;
	if (ret == 0 && mongoc_cursor_error(cursor, &error))
		ret = mongo_fail(store, &error, "attachment chunks");
	mongoc_cursor_destroy(cursor);
	if (ret == 0 && got != info.stored_size)
		ret = store_set_error(store, STORE_ERR_INTERNAL, "attachment %s: %zu of %llu bytes",
				      attachment_id, got, (unsigned long long)info.stored_size);
	if (ret == 0 && zstd) {
		unsigned char *out = pool_alloc(pool, info.size + 1);
		size_t n = ZSTD_decompress(out, info.size, stored, info.stored_size);
		if (ZSTD_isError(n) || n != info.size)
			ret = store_set_error(store, STORE_ERR_INTERNAL,
					      "attachment %s: corrupt zstd data", attachment_id);
		*data_r = out;
		*len_r = info.size;
	} else if (ret == 0) {
		*data_r = stored;
		*len_r = info.stored_size;
	}
	if (zstd)
		free(stored);
	return ret;
}

/* ---- messages ---- */

static void append_message_doc(bson_t *doc, const char *id, const char *mailbox_id,
			       const char *user_id, uint32_t uid, uint64_t modseq,
			       const struct store_message_new *msg, const char *const *att_ids,
			       unsigned int att_count)
{
	bson_oid_t oid, mailbox, user;
	mongo_oid(&oid, id);
	mongo_oid(&mailbox, mailbox_id);
	mongo_oid(&user, user_id);
	BSON_APPEND_OID(doc, "_id", &oid);
	BSON_APPEND_OID(doc, "mailbox", &mailbox);
	BSON_APPEND_OID(doc, "user", &user);
	BSON_APPEND_INT64(doc, "uid", uid);
	BSON_APPEND_INT64(doc, "modseq", (int64_t)modseq);
	mongo_append_strings(doc, "flags", msg->flags, msg->flags_count);
	bool seen = store_flags_contains(msg->flags, msg->flags_count, "\\Seen");
	BSON_APPEND_BOOL(doc, "seen", seen);
	BSON_APPEND_BOOL(doc, "unseen", !seen);
	BSON_APPEND_BOOL(doc, "flagged", store_flags_contains(msg->flags, msg->flags_count,
							       "\\Flagged"));
	BSON_APPEND_BOOL(doc, "deleted", store_flags_contains(msg->flags, msg->flags_count,
							       "\\Deleted"));
	BSON_APPEND_BOOL(doc, "draft", store_flags_contains(msg->flags, msg->flags_count,
							     "\\Draft"));
	mongo_append_date(doc, "idate", msg->idate);
	mongo_append_date(doc, "hdate", msg->hdate);
	BSON_APPEND_INT64(doc, "size", (int64_t)msg->size);
	mongo_append_str(doc, "msgid", msg->msgid);
	mongo_append_str(doc, "subject", msg->subject);
	mongo_append_str(doc, "envelope", msg->envelope);
	mongo_append_str(doc, "bodystructure", msg->bodystructure);
	mongo_append_str(doc, "thread", msg->thread);
	bson_append_binary(doc, "mimeTree", -1, BSON_SUBTYPE_BINARY,
			   msg->tree == NULL ? (const uint8_t *)"" : msg->tree,
			   (uint32_t)msg->tree_len);
	mongo_append_strings(doc, "attachments", att_ids, att_count);
}

/* Attachments are referenced before a UID is taken and released again if
 * the append fails later: a crash in between leaves a reference too many
 * (bytes kept), never a message whose attachment is gone. */
int mongo_message_append(struct store *store, const char *mailbox_id,
			 const struct store_message_new *msg, unsigned int flags,
			 struct store_append_result *result_r)
{
	struct mongo_mailbox_state state;
	if (mongo_mailbox_state(store, mailbox_id, &state) < 0)
		return -1;
	if ((flags & STORE_APPEND_CHECK_QUOTA) != 0 &&
	    mongo_quota_check(store, state.user, msg->size) < 0)
		return -1;
	const char **ids = xcalloc(msg->attachments_count + 1, sizeof(*ids));
	unsigned int count = 0;
	int ret = 0;
	for (unsigned int i = 0; ret == 0 && i < msg->attachments_count; i++) {
		const struct store_attachment *att = &msg->attachments[i];
		bool dup = false;
		for (unsigned int j = 0; j < count && !dup; j++)
			dup = strcmp(ids[j], att->id) == 0;
		if (dup)
			continue;
		ret = mongo_attachment_ref(store, att->id);
		if (ret > 0)
			ret = attachment_store(store, att, mongo_ctx(store)->compress_level);
		if (ret == 0)
			ids[count++] = att->id;
	}
	if (ret == 0)
		ret = mongo_mailbox_alloc(store, mailbox_id, 1, &state);
	if (ret == 0) {
		bson_oid_t oid;
		bson_oid_init(&oid, NULL);
		mongo_oid_str(&oid, result_r->id);
		result_r->uid = state.uid_next;
		result_r->uid_validity = state.uid_validity;
		result_r->modseq = state.modify_index;
		bson_t doc = BSON_INITIALIZER;
		append_message_doc(&doc, result_r->id, mailbox_id, state.user, result_r->uid,
				   result_r->modseq, msg, ids, count);
		ret = mongo_insert(store, COL_MESSAGES, &doc);
		bson_destroy(&doc);
	}
	if (ret < 0) {
		struct store saved = *store;
		for (unsigned int i = 0; i < count; i++)
			(void)mongo_attachment_unref(store, ids[i]);
		store->error = saved.error;
		memcpy(store->error_msg, saved.error_msg, sizeof(store->error_msg));
		free(ids);
		return -1;
	}
	free(ids);
	if (mongo_storage_add(store, state.user, (int64_t)msg->size) < 0)
		return -1;
	return mongo_journal_add(store, state.user, mailbox_id, STORE_JOURNAL_EXISTS, result_r->uid,
				 result_r->modseq, result_r->id, msg->flags, msg->flags_count);
}

void mongo_message_fill(struct store_message *msg, struct pool *pool, const bson_t *doc)
{
	memset(msg, 0, sizeof(*msg));
	mongo_id(doc, "_id", msg->id);
	mongo_id(doc, "mailbox", msg->mailbox);
	mongo_id(doc, "user", msg->user);
	msg->uid = (uint32_t)mongo_int(doc, "uid");
	msg->modseq = (uint64_t)mongo_int(doc, "modseq");
	mongo_strings(pool, doc, "flags", &msg->flags, &msg->flags_count);
	msg->seen = mongo_bool(doc, "seen");
	msg->flagged = mongo_bool(doc, "flagged");
	msg->deleted = mongo_bool(doc, "deleted");
	msg->draft = mongo_bool(doc, "draft");
	msg->idate = mongo_date(doc, "idate");
	msg->hdate = mongo_date(doc, "hdate");
	msg->size = (uint64_t)mongo_int(doc, "size");
	msg->msgid = mongo_str(pool, doc, "msgid");
	msg->subject = mongo_str(pool, doc, "subject");
	msg->envelope = mongo_str(pool, doc, "envelope");
	msg->bodystructure = mongo_str(pool, doc, "bodystructure");
	msg->thread = mongo_str(pool, doc, "thread");
}

int mongo_message_list(struct store *store, const char *mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       store_message_cb *callback, void *context)
{
	static const struct store_uid_range all = { 1, UINT32_MAX };
	struct mongo_mailbox_state state;
	if (mongo_mailbox_state(store, mailbox_id, &state) < 0)
		return -1;
	if (ranges_count == 0) {
		ranges = &all;
		ranges_count = 1;
	}
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *opts = BCON_NEW("sort", "{", "uid", BCON_INT32(1), "}",
				"projection", "{", "mimeTree", BCON_INT32(0), "}");
	struct pool *pool = pool_create(2048);
	int ret = 0;
	bool stop = false;
	for (unsigned int i = 0; ret == 0 && !stop && i < ranges_count; i++) {
		bson_t *filter = BCON_NEW("mailbox", BCON_OID(&oid), "uid", "{",
					  "$gte", BCON_INT64(ranges[i].first),
					  "$lte", BCON_INT64(ranges[i].last), "}");
		mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
			mongo_col(store, COL_MESSAGES), filter, opts, NULL);
		bson_destroy(filter);
		const bson_t *doc;
		while (!stop && mongoc_cursor_next(cursor, &doc)) {
			struct store_message msg;
			mongo_message_fill(&msg, pool, doc);
			stop = callback(&msg, context) != 0;
			pool_clear(pool);
		}
		bson_error_t error;
		if (!stop && mongoc_cursor_error(cursor, &error))
			ret = mongo_fail(store, &error, "message list");
		mongoc_cursor_destroy(cursor);
	}
	bson_destroy(opts);
	pool_destroy(&pool);
	return ret;
}

int mongo_message_get(struct store *store, const char *mailbox_id, uint32_t uid,
		      struct pool *pool, struct store_message **msg_r)
{
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *filter = BCON_NEW("mailbox", BCON_OID(&oid), "uid", BCON_INT64(uid));
	bson_t *opts = BCON_NEW("projection", "{", "mimeTree", BCON_INT32(0), "}");
	bson_t doc;
	int ret = mongo_find_one(store, COL_MESSAGES, filter, opts, &doc);
	bson_destroy(filter);
	bson_destroy(opts);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such message");
	if (ret < 0)
		return -1;
	*msg_r = pool_alloc(pool, sizeof(**msg_r));
	mongo_message_fill(*msg_r, pool, &doc);
	bson_destroy(&doc);
	return 0;
}

/* WildDuck's field "thread"; by (mailbox, uid), the unique index. */
int mongo_message_thread_set(struct store *store, const char *mailbox_id, uint32_t uid,
			     const char *thread)
{
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *filter = BCON_NEW("mailbox", BCON_OID(&oid), "uid", BCON_INT64(uid));
	bson_t update = BSON_INITIALIZER, set;
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	mongo_append_str(&set, "thread", thread);
	bson_append_document_end(&update, &set);
	int64_t matched = 0;
	int ret = mongo_update(store, COL_MESSAGES, filter, &update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(&update);
	if (ret == 0 && matched == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no message %s:%u", mailbox_id,
				       uid);
	return ret;
}

/* By message id alone (the interface's key): on a sharded cluster this
 * one query is not targeted by the shard key. */
int mongo_message_content(struct store *store, const char *message_id, struct pool *pool,
			  struct store_message_content **content_r)
{
	bson_oid_t oid;
	mongo_oid(&oid, message_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
	bson_t *opts = BCON_NEW("projection", "{", "mimeTree", BCON_INT32(1), "attachments",
				BCON_INT32(1), "}");
	bson_t doc;
	int ret = mongo_find_one(store, COL_MESSAGES, filter, opts, &doc);
	bson_destroy(filter);
	bson_destroy(opts);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such message");
	if (ret < 0)
		return -1;
	struct store_message_content *content = pool_alloc(pool, sizeof(*content));
	memset(content, 0, sizeof(*content));
	content->tree = mongo_bin(pool, &doc, "mimeTree", &content->tree_len);
	const char *const *ids;
	unsigned int count;
	mongo_strings(pool, &doc, "attachments", &ids, &count);
	bson_destroy(&doc);
	content->attachments = pool_alloc(pool, (count + 1) * sizeof(*content->attachments));
	for (unsigned int i = 0; i < count; i++) {
		struct store_attachment *att = &content->attachments[i];
		snprintf(att->id, sizeof(att->id), "%s", ids[i]);
		if (mongo_attachment_get(store, att->id, pool, &att->data, &att->len) < 0)
			return -1;
	}
	content->attachments_count = count;
	*content_r = content;
	return 0;
}
