/* SQLite driver: appending, listing and reading messages, and the
 * content-addressed, reference-counted attachments. */
#include "store_sqlite.h"

#include "mem.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

/* Smaller attachments are not worth a codec tag and a decompression. */
#define COMPRESS_MIN_SIZE 512

/* An attachment of a message being appended, packed for storage. */
struct packed_attachment {
	const struct store_attachment *att;
	unsigned char *packed;		/* malloc()ed if compressed */
	size_t packed_len;
	const char *codec;
	bool prepared;
};

static void pack_attachment(struct sqlite_store *ctx, struct packed_attachment *pa)
{
	const struct store_attachment *att = pa->att;
	pa->prepared = true;
	pa->codec = "none";
	pa->packed = NULL;
	pa->packed_len = att->len;
	if (ctx->compress_level <= 0 || att->len < COMPRESS_MIN_SIZE)
		return;
	size_t bound = ZSTD_compressBound(att->len);
	unsigned char *out = xmalloc(bound);
	size_t n = ZSTD_compress(out, bound, att->data, att->len, ctx->compress_level);
	/* keep the bytes as they are unless zstd saves at least 1/16 */
	if (ZSTD_isError(n) || n >= att->len - att->len / 16) {
		free(out);
		return;
	}
	pa->packed = out;
	pa->packed_len = n;
	pa->codec = "zstd";
}

static bool attachment_exists(struct store *store, const char *id)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_ATTACHMENT_EXISTS);
	if (stmt == NULL)
		return false;
	sqlite_bind_text(stmt, 1, id);
	bool exists = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_reset(stmt);
	return exists;
}

/* Distinct attachments of msg, compressed before the write lock is taken
 * for those the store does not hold yet. */
static struct packed_attachment *prepare_attachments(struct store *store,
						     const struct store_message_new *msg,
						     unsigned int *count_r)
{
	struct packed_attachment *list = xcalloc(msg->attachments_count + 1, sizeof(*list));
	unsigned int count = 0;
	for (unsigned int i = 0; i < msg->attachments_count; i++) {
		const struct store_attachment *att = &msg->attachments[i];
		bool dup = false;
		for (unsigned int j = 0; j < count && !dup; j++)
			dup = strcmp(list[j].att->id, att->id) == 0;
		if (dup)
			continue;
		list[count].att = att;
		if (!attachment_exists(store, att->id))
			pack_attachment(sqlite_ctx(store), &list[count]);
		count++;
	}
	sqlite_reset_all(store);
	*count_r = count;
	return list;
}

static void free_attachments(struct packed_attachment *list, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		free(list[i].packed);
	free(list);
}

/* One reference more to the attachment, inserting it if it is new. */
static int reference_attachment(struct store *store, const char *message_id,
				struct packed_attachment *pa, unsigned int idx)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_ATTACHMENT_REF);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, pa->att->id);
	if (sqlite_exec_stmt(store, stmt, "attachment ref") < 0)
		return -1;
	if (sqlite3_changes(ctx->db) == 0) {
		/* freed by another process since prepare_attachments() */
		if (!pa->prepared)
			pack_attachment(ctx, pa);
		if ((stmt = sqlite_stmt(store, STMT_ATTACHMENT_INSERT)) == NULL)
			return -1;
		sqlite_bind_text(stmt, 1, pa->att->id);
		sqlite3_bind_int64(stmt, 2, (int64_t)pa->att->len);
		sqlite3_bind_int64(stmt, 3, (int64_t)pa->packed_len);
		sqlite_bind_text(stmt, 4, pa->codec);
		sqlite3_bind_int64(stmt, 5, (int64_t)time(NULL));
		if (sqlite_exec_stmt(store, stmt, "attachment insert") < 0 ||
		    (stmt = sqlite_stmt(store, STMT_ATTACHMENT_DATA_INSERT)) == NULL)
			return -1;
		sqlite_bind_text(stmt, 1, pa->att->id);
		sqlite3_bind_blob64(stmt, 2, pa->packed != NULL ? pa->packed :
				    pa->att->len == 0 ? (const void *)"" : pa->att->data,
				    pa->packed_len, SQLITE_STATIC);
		if (sqlite_exec_stmt(store, stmt, "attachment insert") < 0)
			return -1;
	}
	if ((stmt = sqlite_stmt(store, STMT_MSGATT_INSERT)) == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, message_id);
	sqlite_bind_text(stmt, 2, pa->att->id);
	sqlite3_bind_int(stmt, 3, (int)idx);
	return sqlite_exec_stmt(store, stmt, "message attachment");
}

static int insert_message(struct store *store, const char *mailbox_id, const char *user_id,
			  const struct store_message_new *msg, const char *flags,
			  const struct store_append_result *res)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MESSAGE_INSERT);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, res->id);
	sqlite_bind_text(stmt, 2, mailbox_id);
	sqlite_bind_text(stmt, 3, user_id);
	sqlite3_bind_int64(stmt, 4, res->uid);
	sqlite3_bind_int64(stmt, 5, (int64_t)res->modseq);
	sqlite_bind_text(stmt, 6, flags);
	sqlite3_bind_int(stmt, 7, store_flags_has(flags, "\\Seen"));
	sqlite3_bind_int(stmt, 8, store_flags_has(flags, "\\Flagged"));
	sqlite3_bind_int(stmt, 9, store_flags_has(flags, "\\Deleted"));
	sqlite3_bind_int(stmt, 10, store_flags_has(flags, "\\Draft"));
	sqlite3_bind_int64(stmt, 11, msg->idate);
	sqlite3_bind_int64(stmt, 12, msg->hdate);
	sqlite3_bind_int64(stmt, 13, (int64_t)msg->size);
	sqlite_bind_text(stmt, 14, msg->msgid);
	sqlite_bind_text(stmt, 15, msg->subject);
	sqlite_bind_text(stmt, 16, msg->envelope);
	sqlite_bind_text(stmt, 17, msg->bodystructure);
	sqlite_bind_text(stmt, 18, msg->thread);
	sqlite3_bind_blob64(stmt, 19, msg->tree == NULL ? (const void *)"" : msg->tree,
			    msg->tree_len, SQLITE_STATIC);
	return sqlite_exec_stmt(store, stmt, "message insert");
}

static int append_locked(struct store *store, const char *mailbox_id,
			 const struct store_message_new *msg, unsigned int flags,
			 const char *joined_flags, struct packed_attachment *atts,
			 unsigned int atts_count, struct store_append_result *result_r)
{
	struct sqlite_mailbox_state state;
	if (sqlite_mailbox_state(store, mailbox_id, &state) < 0)
		return -1;
	if ((flags & STORE_APPEND_CHECK_QUOTA) != 0 &&
	    sqlite_quota_check(store, state.user, msg->size) < 0)
		return -1;
	if (sqlite_mailbox_alloc(store, mailbox_id, &state, 1) < 0)
		return -1;
	store_id_generate(result_r->id);
	result_r->uid = state.uid_next;
	result_r->uid_validity = state.uid_validity;
	result_r->modseq = state.modify_index + 1;
	if (insert_message(store, mailbox_id, state.user, msg, joined_flags, result_r) < 0)
		return -1;
	for (unsigned int i = 0; i < atts_count; i++)
		if (reference_attachment(store, result_r->id, &atts[i], i) < 0)
			return -1;
	if (sqlite_storage_add(store, state.user, (int64_t)msg->size) < 0)
		return -1;
	return sqlite_journal_add(store, mailbox_id, STORE_JOURNAL_EXISTS, result_r->uid,
				  result_r->modseq, result_r->id, joined_flags);
}

int sqlite_message_append(struct store *store, const char *mailbox_id,
			  const struct store_message_new *msg, unsigned int flags,
			  struct store_append_result *result_r)
{
	struct pool *pool = pool_create(512);
	const char *joined = store_flags_join(pool, msg->flags, msg->flags_count);
	unsigned int atts_count;
	struct packed_attachment *atts = prepare_attachments(store, msg, &atts_count);
	int ret = sqlite_tx_begin(store);
	if (ret == 0) {
		ret = append_locked(store, mailbox_id, msg, flags, joined, atts, atts_count,
				    result_r);
		ret = ret < 0 ? sqlite_tx_fail(store) : sqlite_tx_commit(store);
	}
	free_attachments(atts, atts_count);
	pool_destroy(&pool);
	return ret;
}

static void message_from_row(struct pool *pool, sqlite3_stmt *stmt, struct store_message *msg)
{
	memset(msg, 0, sizeof(*msg));
	sqlite_col_id(stmt, 0, msg->id);
	sqlite_col_id(stmt, 1, msg->mailbox);
	sqlite_col_id(stmt, 2, msg->user);
	msg->uid = (uint32_t)sqlite3_column_int64(stmt, 3);
	msg->modseq = (uint64_t)sqlite3_column_int64(stmt, 4);
	store_flags_split(pool, sqlite_col_text(pool, stmt, 5), &msg->flags, &msg->flags_count);
	msg->seen = sqlite3_column_int(stmt, 6) != 0;
	msg->flagged = sqlite3_column_int(stmt, 7) != 0;
	msg->deleted = sqlite3_column_int(stmt, 8) != 0;
	msg->draft = sqlite3_column_int(stmt, 9) != 0;
	msg->idate = sqlite3_column_int64(stmt, 10);
	msg->hdate = sqlite3_column_int64(stmt, 11);
	msg->size = (uint64_t)sqlite3_column_int64(stmt, 12);
	msg->msgid = sqlite_col_text(pool, stmt, 13);
	msg->subject = sqlite_col_text(pool, stmt, 14);
	msg->envelope = sqlite_col_text(pool, stmt, 15);
	msg->bodystructure = sqlite_col_text(pool, stmt, 16);
	msg->thread = sqlite_col_text(pool, stmt, 17);
}

void sqlite_message_row(struct pool *pool, sqlite3_stmt *stmt, struct store_message *msg)
{
	message_from_row(pool, stmt, msg);
}

/* Opens a read transaction so that several statements see one snapshot. */
static int read_begin(struct store *store)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	int rc = sqlite3_exec(ctx->db, "BEGIN", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : sqlite_fail(store, rc, "begin");
}

static void read_end(struct store *store)
{
	sqlite_reset_all(store);
	(void)sqlite3_exec(sqlite_ctx(store)->db, "COMMIT", NULL, NULL, NULL);
}

static int list_range(struct store *store, const char *mailbox_id, uint32_t first,
		      uint32_t last, store_message_cb *callback, void *context, bool *stop_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MESSAGE_LIST);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, first);
	sqlite3_bind_int64(stmt, 3, last);
	struct pool *pool = pool_create(2048);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_message msg;
		message_from_row(pool, stmt, &msg);
		int stop = callback(&msg, context);
		pool_clear(pool);
		if (stop != 0) {
			*stop_r = true;
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(stmt);
	pool_destroy(&pool);
	return rc == SQLITE_DONE ? 0 : sqlite_fail(store, rc, "message list");
}

int sqlite_message_list(struct store *store, const char *mailbox_id,
			const struct store_uid_range *ranges, unsigned int ranges_count,
			store_message_cb *callback, void *context)
{
	static const struct store_uid_range all = { 1, UINT32_MAX };
	struct sqlite_mailbox_state state;
	if (ranges_count == 0) {
		ranges = &all;
		ranges_count = 1;
	}
	if (read_begin(store) < 0)
		return -1;
	int ret = sqlite_mailbox_state(store, mailbox_id, &state);
	bool stop = false;
	for (unsigned int i = 0; ret == 0 && !stop && i < ranges_count; i++)
		ret = list_range(store, mailbox_id, ranges[i].first, ranges[i].last,
				 callback, context, &stop);
	read_end(store);
	return ret;
}

int sqlite_message_get(struct store *store, const char *mailbox_id, uint32_t uid,
		       struct pool *pool, struct store_message **msg_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MESSAGE_GET);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*msg_r = pool_alloc(pool, sizeof(**msg_r));
		message_from_row(pool, stmt, *msg_r);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such message");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "message");
}

/* The indexer's thread ids (store_thread.h): rare, so not a cached
 * statement. */
int sqlite_message_thread_set(struct store *store, const char *mailbox_id, uint32_t uid,
			      const char *thread)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "UPDATE messages SET thread = ?1 "
						 "WHERE mailbox = ?2 AND uid = ?3");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, thread);
	sqlite_bind_text(stmt, 2, mailbox_id);
	sqlite3_bind_int64(stmt, 3, uid);
	if (sqlite_run_once(store, stmt, "message thread") < 0)
		return -1;
	if (sqlite3_changes(sqlite_ctx(store)->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no message %s:%u", mailbox_id,
				       uid);
	return 0;
}

int sqlite_attachment_get(struct store *store, const char *attachment_id,
			  struct pool *pool, const unsigned char **data_r, size_t *len_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_ATTACHMENT_GET);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, attachment_id);
	int rc = sqlite3_step(stmt), ret = 0;
	if (rc == SQLITE_DONE) {
		ret = store_set_error(store, STORE_ERR_NOT_FOUND, "no such attachment");
	} else if (rc != SQLITE_ROW) {
		ret = sqlite_fail(store, rc, "attachment");
	} else {
		const char *codec = (const char *)sqlite3_column_text(stmt, 0);
		size_t size = (size_t)sqlite3_column_int64(stmt, 1);
		const void *blob = sqlite3_column_blob(stmt, 2);
		size_t blob_len = (size_t)sqlite3_column_bytes(stmt, 2);
		unsigned char *out = pool_alloc(pool, size + 1);
		if (codec != NULL && strcmp(codec, "zstd") == 0) {
			size_t n = ZSTD_decompress(out, size, blob, blob_len);
			if (ZSTD_isError(n) || n != size)
				ret = store_set_error(store, STORE_ERR_INTERNAL,
						      "attachment %s: corrupt zstd data",
						      attachment_id);
		} else if (blob_len != size) {
			ret = store_set_error(store, STORE_ERR_INTERNAL,
					      "attachment %s: wrong size", attachment_id);
		} else if (size > 0) {
			memcpy(out, blob, size);
		}
		*data_r = out;
		*len_r = size;
	}
	sqlite3_reset(stmt);
	return ret;
}

int sqlite_attachment_info(struct store *store, const char *attachment_id,
			   struct pool *pool, struct store_attachment_info *info_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_ATTACHMENT_INFO);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, attachment_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		info_r->size = (uint64_t)sqlite3_column_int64(stmt, 0);
		info_r->stored_size = (uint64_t)sqlite3_column_int64(stmt, 1);
		info_r->refcount = (uint32_t)sqlite3_column_int64(stmt, 2);
		info_r->codec = sqlite_col_text(pool, stmt, 3);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such attachment");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "attachment");
}

static int content_locked(struct store *store, const char *message_id, struct pool *pool,
			  struct store_message_content *content)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MESSAGE_TREE);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, message_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such message");
	if (rc != SQLITE_ROW)
		return sqlite_fail(store, rc, "message");
	content->tree_len = (size_t)sqlite3_column_bytes(stmt, 0);
	unsigned char *tree = pool_alloc(pool, content->tree_len + 1);
	if (content->tree_len > 0)
		memcpy(tree, sqlite3_column_blob(stmt, 0), content->tree_len);
	content->tree = tree;
	sqlite3_reset(stmt);

	if ((stmt = sqlite_stmt(store, STMT_MSGATT_LIST)) == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, message_id);
	unsigned int cap = 4;
	content->attachments = pool_alloc(pool, cap * sizeof(*content->attachments));
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (content->attachments_count == cap) {
			struct store_attachment *bigger = pool_alloc(pool, cap * 2 * sizeof(*bigger));
			memcpy(bigger, content->attachments, cap * sizeof(*bigger));
			content->attachments = bigger;
			cap *= 2;
		}
		struct store_attachment *att = &content->attachments[content->attachments_count++];
		snprintf(att->id, sizeof(att->id), "%s", (const char *)sqlite3_column_text(stmt, 0));
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(store, rc, "message attachments");
	for (unsigned int i = 0; i < content->attachments_count; i++) {
		struct store_attachment *att = &content->attachments[i];
		if (sqlite_attachment_get(store, att->id, pool, &att->data, &att->len) < 0)
			return -1;
	}
	return 0;
}

int sqlite_message_content(struct store *store, const char *message_id, struct pool *pool,
			   struct store_message_content **content_r)
{
	struct store_message_content *content = pool_alloc(pool, sizeof(*content));
	if (read_begin(store) < 0)
		return -1;
	int ret = content_locked(store, message_id, pool, content);
	read_end(store);
	if (ret == 0)
		*content_r = content;
	return ret;
}

/* A slice of an attachment: uncompressed bytes come straight from the
 * row with incremental blob I/O (a 20 MB body is never read whole);
 * zstd-compressed ones are decompressed whole and sliced. */
int sqlite_attachment_read(struct store *store, const char *attachment_id, uint64_t offset,
			   size_t len, unsigned char *buf)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(ctx->db, "SELECT a.codec, a.size, d.rowid FROM attachments a "
				    "JOIN attachment_data d ON d.id = a.id WHERE a.id = ?1", -1,
				    &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_fail(store, rc, "attachment");
	sqlite_bind_text(stmt, 1, attachment_id);
	rc = sqlite3_step(stmt);
	bool zstd = false;
	uint64_t size = 0;
	sqlite3_int64 rowid = 0;
	if (rc == SQLITE_ROW) {
		const char *codec = (const char *)sqlite3_column_text(stmt, 0);
		zstd = codec != NULL && strcmp(codec, "zstd") == 0;
		size = (uint64_t)sqlite3_column_int64(stmt, 1);
		rowid = sqlite3_column_int64(stmt, 2);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such attachment");
	if (rc != SQLITE_ROW)
		return sqlite_fail(store, rc, "attachment");
	if (offset > size || len > size - offset)
		return store_set_error(store, STORE_ERR_INVALID, "range past the attachment");
	if (zstd) {
		struct pool *pool = pool_create(4096);
		const unsigned char *data;
		size_t n;
		int ret = sqlite_attachment_get(store, attachment_id, pool, &data, &n);
		if (ret == 0 && len > 0)
			memcpy(buf, data + offset, len);
		pool_destroy(&pool);
		return ret;
	}
	sqlite3_blob *blob;
	rc = sqlite3_blob_open(ctx->db, "main", "attachment_data", "data", rowid, 0, &blob);
	if (rc != SQLITE_OK)
		return sqlite_fail(store, rc, "attachment blob");
	rc = len > 0 ? sqlite3_blob_read(blob, buf, (int)len, (int)offset) : SQLITE_OK;
	sqlite3_blob_close(blob);
	return rc == SQLITE_OK ? 0 : sqlite_fail(store, rc, "attachment blob");
}
