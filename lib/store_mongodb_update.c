/* MongoDB driver: writes on existing messages (flags with CONDSTORE, copy,
 * move, expunge). Each message is changed by one single-document write
 * whose filter carries the shard key (mailbox, uid); a flag change also
 * carries the modseq it was computed from, so a concurrent change is
 * noticed and the message is read again instead of being overwritten. */
#include "store_mongodb.h"

#include "mem.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

/* Messages of a mailbox in uid ranges, as whole documents. */
struct doc_list {
	bson_t **docs;
	unsigned int count, cap;
};

static void doc_list_free(struct doc_list *list)
{
	for (unsigned int i = 0; i < list->count; i++)
		bson_destroy(list->docs[i]);
	free(list->docs);
	memset(list, 0, sizeof(*list));
}

static int collect(struct store *store, const char *mailbox_id,
		   const struct store_uid_range *ranges, unsigned int ranges_count,
		   bool deleted_only, bool with_tree, struct doc_list *list_r)
{
	static const struct store_uid_range all = { 1, UINT32_MAX };
	if (ranges_count == 0) {
		ranges = &all;
		ranges_count = 1;
	}
	memset(list_r, 0, sizeof(*list_r));
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *opts = with_tree ? BCON_NEW("sort", "{", "uid", BCON_INT32(1), "}") :
		BCON_NEW("sort", "{", "uid", BCON_INT32(1), "}",
			 "projection", "{", "mimeTree", BCON_INT32(0), "}");
	int ret = 0;
	for (unsigned int i = 0; ret == 0 && i < ranges_count; i++) {
		bson_t *filter = BCON_NEW("mailbox", BCON_OID(&oid), "uid", "{",
					  "$gte", BCON_INT64(ranges[i].first),
					  "$lte", BCON_INT64(ranges[i].last), "}");
		if (deleted_only)
			BSON_APPEND_BOOL(filter, "deleted", true);
		mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
			mongo_col(store, COL_MESSAGES), filter, opts, NULL);
		bson_destroy(filter);
		const bson_t *doc;
		while (mongoc_cursor_next(cursor, &doc)) {
			if (list_r->count == list_r->cap) {
				list_r->cap = list_r->cap == 0 ? 64 : list_r->cap * 2;
				list_r->docs = xrealloc(list_r->docs,
							list_r->cap * sizeof(*list_r->docs));
			}
			list_r->docs[list_r->count++] = bson_copy(doc);
		}
		bson_error_t error;
		if (mongoc_cursor_error(cursor, &error))
			ret = mongo_fail(store, &error, "messages");
		mongoc_cursor_destroy(cursor);
	}
	bson_destroy(opts);
	if (ret < 0)
		doc_list_free(list_r);
	return ret;
}

static bool flags_same_set(const char *const *a, unsigned int na, const char *const *b,
			   unsigned int nb)
{
	if (na != nb)
		return false;
	for (unsigned int i = 0; i < na; i++)
		if (!store_flags_contains(b, nb, a[i]))
			return false;
	return true;
}

/* Writes new flags if the message still has old_modseq: 1 written, 0 it
 * changed meanwhile, -1 error. */
static int write_flags(struct store *store, const bson_oid_t *mailbox, uint32_t uid,
		       uint64_t old_modseq, const char *const *flags, unsigned int count,
		       uint64_t modseq)
{
	bson_t *filter = BCON_NEW("mailbox", BCON_OID(mailbox), "uid", BCON_INT64(uid),
				  "modseq", BCON_INT64((int64_t)old_modseq));
	bson_t update = BSON_INITIALIZER, set;
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	mongo_append_strings(&set, "flags", flags, count);
	bool seen = store_flags_contains(flags, count, "\\Seen");
	BSON_APPEND_BOOL(&set, "seen", seen);
	BSON_APPEND_BOOL(&set, "unseen", !seen);
	BSON_APPEND_BOOL(&set, "flagged", store_flags_contains(flags, count, "\\Flagged"));
	BSON_APPEND_BOOL(&set, "deleted", store_flags_contains(flags, count, "\\Deleted"));
	BSON_APPEND_BOOL(&set, "draft", store_flags_contains(flags, count, "\\Draft"));
	BSON_APPEND_INT64(&set, "modseq", (int64_t)modseq);
	bson_append_document_end(&update, &set);
	int64_t matched = 0;
	int ret = mongo_update(store, COL_MESSAGES, filter, &update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(&update);
	return ret < 0 ? -1 : matched > 0;
}

/* The flags a message gets (NULL if they would not change). */
static const char *new_flags(struct pool *pool, const char *const *cur, unsigned int cur_count,
			     const struct store_flags_update *update)
{
	const char *joined = store_flags_join(pool, cur, cur_count);
	const char *flags = store_flags_apply(pool, joined, update->op, update->flags,
					      update->flags_count);
	const char *const *list;
	unsigned int count;
	store_flags_split(pool, flags, &list, &count);
	return flags_same_set(list, count, cur, cur_count) ? NULL : flags;
}

static int flags_apply(struct store *store, const char *user_id, const char *mailbox_id,
		       struct doc_list *rows,
		       const struct store_flags_update *update, struct pool *pool,
		       struct store_flags_result *result)
{
	bson_oid_t mailbox;
	mongo_oid(&mailbox, mailbox_id);
	result->changed = pool_alloc(pool, (rows->count + 1) * sizeof(*result->changed));
	result->modified = pool_alloc(pool, (rows->count + 1) * sizeof(*result->modified));
	struct mongo_mailbox_state state;
	for (unsigned int i = 0; i < rows->count; i++) {
		bson_t *doc = rows->docs[i];
		uint32_t uid = (uint32_t)mongo_int(doc, "uid");
		for (int attempt = 0;; attempt++) {
			uint64_t modseq = (uint64_t)mongo_int(doc, "modseq");
			if (update->unchanged_since != 0 && modseq > update->unchanged_since) {
				result->modified[result->modified_count++] = uid;
				break;
			}
			const char *const *cur;
			unsigned int cur_count;
			mongo_strings(pool, doc, "flags", &cur, &cur_count);
			const char *flags = new_flags(pool, cur, cur_count, update);
			if (flags == NULL)
				break;
			/* the first real change takes the one new modseq */
			if (result->modseq == 0) {
				if (mongo_mailbox_alloc(store, mailbox_id, 0, &state) < 0)
					return -1;
				result->modseq = state.modify_index;
			}
			const char *const *list;
			unsigned int count;
			store_flags_split(pool, flags, &list, &count);
			int ret = write_flags(store, &mailbox, uid, modseq, list, count,
					      result->modseq);
			if (ret < 0)
				return -1;
			if (ret > 0) {
				struct store_flags_changed *ch =
					&result->changed[result->changed_count++];
				ch->uid = uid;
				ch->modseq = result->modseq;
				ch->flags = list;
				ch->flags_count = count;
				char id[STORE_ID_SIZE];
				mongo_id(doc, "_id", id);
				if (mongo_journal_add(store, user_id, mailbox_id,
						      STORE_JOURNAL_FLAGS, uid,
						      result->modseq, id, list, count) < 0)
					return -1;
				break;
			}
			/* changed under us: read it again (gone: expunged, skip) */
			bson_t *filter = BCON_NEW("mailbox", BCON_OID(&mailbox), "uid",
						  BCON_INT64(uid));
			bson_t fresh;
			ret = attempt < 20 ? mongo_find_one(store, COL_MESSAGES, filter, NULL,
							    &fresh) : -1;
			bson_destroy(filter);
			if (ret < 0)
				return attempt < 20 ? -1 :
					store_set_error(store, STORE_ERR_TEMPORARY,
							"flags: too much contention");
			if (ret == 0)
				break;
			bson_destroy(doc);
			doc = rows->docs[i] = bson_copy(&fresh);
			bson_destroy(&fresh);
		}
	}
	return 0;
}

int mongo_flags_update(struct store *store, const char *mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       const struct store_flags_update *update, struct pool *pool,
		       struct store_flags_result *result_r)
{
	struct mongo_mailbox_state state;
	struct doc_list rows;
	memset(result_r, 0, sizeof(*result_r));
	if (mongo_mailbox_state(store, mailbox_id, &state) < 0 ||
	    collect(store, mailbox_id, ranges, ranges_count, false, false, &rows) < 0)
		return -1;
	int ret = flags_apply(store, state.user, mailbox_id, &rows, update, pool, result_r);
	doc_list_free(&rows);
	if (ret < 0)
		memset(result_r, 0, sizeof(*result_r));
	return ret;
}

static int copy_one(struct store *store, const bson_t *src, const char *dst_mailbox_id,
		    const char *dst_user, uint32_t uid, uint64_t modseq, char new_id[STORE_ID_SIZE])
{
	struct pool *pool = pool_create(512);
	const char *const *ids;
	unsigned int count;
	mongo_strings(pool, src, "attachments", &ids, &count);
	int ret = 0;
	unsigned int refs = 0;
	while (ret == 0 && refs < count) {
		ret = mongo_attachment_ref(store, ids[refs]);
		if (ret > 0)
			ret = store_set_error(store, STORE_ERR_INTERNAL,
					      "attachment %s of a message is gone", ids[refs]);
		if (ret == 0)
			refs++;
	}
	if (ret == 0) {
		bson_oid_t oid, mailbox, user;
		bson_oid_init(&oid, NULL);
		mongo_oid_str(&oid, new_id);
		mongo_oid(&mailbox, dst_mailbox_id);
		mongo_oid(&user, dst_user);
		bson_t doc = BSON_INITIALIZER;
		BSON_APPEND_OID(&doc, "_id", &oid);
		BSON_APPEND_OID(&doc, "mailbox", &mailbox);
		BSON_APPEND_OID(&doc, "user", &user);
		BSON_APPEND_INT64(&doc, "uid", uid);
		BSON_APPEND_INT64(&doc, "modseq", (int64_t)modseq);
		bson_copy_to_excluding_noinit(src, &doc, "_id", "mailbox", "user", "uid", "modseq",
					      NULL);
		ret = mongo_insert(store, COL_MESSAGES, &doc);
		bson_destroy(&doc);
	}
	if (ret < 0) {
		struct store saved = *store;
		for (unsigned int i = 0; i < refs; i++)
			(void)mongo_attachment_unref(store, ids[i]);
		store->error = saved.error;
		memcpy(store->error_msg, saved.error_msg, sizeof(store->error_msg));
	}
	pool_destroy(&pool);
	return ret;
}

/* A move keeps the message (and its id), relabelled in the target. */
static int move_one(struct store *store, const bson_t *src, const char *dst_mailbox_id,
		    const char *dst_user, uint32_t uid, uint64_t modseq)
{
	bson_oid_t mailbox, user, src_mailbox;
	mongo_oid(&mailbox, dst_mailbox_id);
	mongo_oid(&user, dst_user);
	char src_id[STORE_ID_SIZE];
	mongo_id(src, "mailbox", src_id);
	mongo_oid(&src_mailbox, src_id);
	bson_t *filter = BCON_NEW("mailbox", BCON_OID(&src_mailbox), "uid",
				  BCON_INT64(mongo_int(src, "uid")));
	bson_t *update = BCON_NEW("$set", "{", "mailbox", BCON_OID(&mailbox), "user",
				  BCON_OID(&user), "uid", BCON_INT64(uid), "modseq",
				  BCON_INT64((int64_t)modseq), "}");
	int64_t matched = 0;
	int ret = mongo_update(store, COL_MESSAGES, filter, update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret == 0 && matched == 0)
		ret = store_set_error(store, STORE_ERR_TEMPORARY,
				      "message moved or expunged meanwhile");
	return ret;
}

static int copy_docs(struct store *store, const char *src_mailbox_id, struct doc_list *rows,
		     const char *dst_mailbox_id, unsigned int flags, struct pool *pool,
		     struct store_copy_result *result)
{
	bool move = (flags & STORE_COPY_MOVE) != 0;
	struct mongo_mailbox_state src, dst;
	if (mongo_mailbox_state(store, src_mailbox_id, &src) < 0 ||
	    mongo_mailbox_state(store, dst_mailbox_id, &dst) < 0)
		return -1;
	result->dst_uid_validity = dst.uid_validity;
	if (rows->count == 0)
		return 0;
	uint64_t bytes = 0;
	for (unsigned int i = 0; i < rows->count; i++)
		bytes += (uint64_t)mongo_int(rows->docs[i], "size");
	bool same_user = strcmp(src.user, dst.user) == 0;
	if ((flags & STORE_COPY_CHECK_QUOTA) != 0 && !(move && same_user) &&
	    mongo_quota_check(store, dst.user, bytes) < 0)
		return -1;
	if (mongo_mailbox_alloc(store, dst_mailbox_id, rows->count, &dst) < 0)
		return -1;
	result->uids = pool_alloc(pool, rows->count * sizeof(*result->uids));
	uint64_t done_bytes = 0;
	int ret = 0;
	for (unsigned int i = 0; ret == 0 && i < rows->count; i++) {
		const bson_t *doc = rows->docs[i];
		uint32_t uid = dst.uid_next + i;
		char new_id[STORE_ID_SIZE];
		mongo_id(doc, "_id", new_id);
		ret = move ? move_one(store, doc, dst_mailbox_id, dst.user, uid, dst.modify_index) :
			copy_one(store, doc, dst_mailbox_id, dst.user, uid, dst.modify_index, new_id);
		if (ret < 0)
			break;
		done_bytes += (uint64_t)mongo_int(doc, "size");
		const char *const *fl;
		unsigned int fl_count;
		mongo_strings(pool, doc, "flags", &fl, &fl_count);
		ret = mongo_journal_add(store, dst.user, dst_mailbox_id, STORE_JOURNAL_EXISTS, uid,
					dst.modify_index, new_id, fl, fl_count);
		result->uids[i].src_uid = (uint32_t)mongo_int(doc, "uid");
		result->uids[i].dst_uid = uid;
		result->uids_count = i + 1;
	}
	/* storage follows what was really done, even after a failure */
	if (done_bytes > 0 && !(move && same_user)) {
		struct store saved = *store;
		if (move)
			(void)mongo_storage_add(store, src.user, -(int64_t)done_bytes);
		(void)mongo_storage_add(store, dst.user, (int64_t)done_bytes);
		*store = saved;
	}
	if (ret < 0 || !move)
		return ret;
	if (mongo_mailbox_alloc(store, src_mailbox_id, 0, &src) < 0)
		return -1;
	for (unsigned int i = 0; i < result->uids_count; i++) {
		char id[STORE_ID_SIZE];
		mongo_id(rows->docs[i], "_id", id);
		if (mongo_journal_add(store, src.user, src_mailbox_id, STORE_JOURNAL_EXPUNGE,
				      result->uids[i].src_uid, src.modify_index, id, NULL, 0) < 0)
			return -1;
	}
	return 0;
}

int mongo_message_copy(struct store *store, const char *src_mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       const char *dst_mailbox_id, unsigned int flags, struct pool *pool,
		       struct store_copy_result *result_r)
{
	struct doc_list rows;
	memset(result_r, 0, sizeof(*result_r));
	bool move = (flags & STORE_COPY_MOVE) != 0;
	struct mongo_mailbox_state state;
	if (mongo_mailbox_state(store, src_mailbox_id, &state) < 0 ||
	    collect(store, src_mailbox_id, ranges, ranges_count, false, !move, &rows) < 0)
		return -1;
	int ret = copy_docs(store, src_mailbox_id, &rows, dst_mailbox_id, flags, pool, result_r);
	doc_list_free(&rows);
	if (ret < 0)
		memset(result_r, 0, sizeof(*result_r));
	return ret;
}

int mongo_message_expunge(struct store *store, const char *mailbox_id,
			  const struct store_uid_range *ranges, unsigned int ranges_count,
			  struct pool *pool, uint32_t **uids_r, unsigned int *count_r)
{
	struct mongo_mailbox_state state;
	struct doc_list rows;
	*uids_r = NULL;
	*count_r = 0;
	if (mongo_mailbox_state(store, mailbox_id, &state) < 0 ||
	    collect(store, mailbox_id, ranges, ranges_count, true, false, &rows) < 0)
		return -1;
	if (rows.count == 0) {
		doc_list_free(&rows);
		return 0;
	}
	int ret = mongo_mailbox_alloc(store, mailbox_id, 0, &state);
	uint32_t *uids = pool_alloc(pool, rows.count * sizeof(*uids));
	unsigned int count = 0;
	bson_oid_t mailbox;
	mongo_oid(&mailbox, mailbox_id);
	for (unsigned int i = 0; ret == 0 && i < rows.count; i++) {
		const bson_t *doc = rows.docs[i];
		uint32_t uid = (uint32_t)mongo_int(doc, "uid");
		bson_t *filter = BCON_NEW("mailbox", BCON_OID(&mailbox), "uid", BCON_INT64(uid));
		int64_t deleted = 0;
		ret = mongo_delete(store, COL_MESSAGES, filter, false, &deleted);
		bson_destroy(filter);
		if (ret < 0 || deleted == 0)
			continue;	/* another session expunged it first */
		char id[STORE_ID_SIZE], user[STORE_ID_SIZE];
		mongo_id(doc, "_id", id);
		mongo_id(doc, "user", user);
		ret = mongo_message_release(store, doc);
		if (ret == 0)
			ret = mongo_storage_add(store, user, -mongo_int(doc, "size"));
		if (ret == 0)
			ret = mongo_journal_add(store, state.user, mailbox_id, STORE_JOURNAL_EXPUNGE, uid,
						state.modify_index, id, NULL, 0);
		uids[count++] = uid;
	}
	doc_list_free(&rows);
	if (ret < 0)
		return -1;
	*uids_r = uids;
	*count_r = count;
	return 0;
}
