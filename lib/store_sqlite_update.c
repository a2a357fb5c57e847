/* SQLite driver: the writes on existing messages, each one BEGIN IMMEDIATE
 * transaction: flag changes with CONDSTORE, copy, move and expunge. */
#include "store_sqlite.h"

#include "pool.h"

#include <string.h>

struct msg_row {
	uint32_t uid;
	uint64_t modseq;
	const char *flags;
	char id[STORE_ID_SIZE];
	uint64_t size;
};

/* Growable array of rows in a pool. */
struct row_list {
	struct msg_row *rows;
	unsigned int count, cap;
};

static struct msg_row *row_add(struct pool *pool, struct row_list *list)
{
	if (list->count == list->cap) {
		unsigned int cap = list->cap == 0 ? 64 : list->cap * 2;
		struct msg_row *bigger = pool_alloc(pool, cap * sizeof(*bigger));
		if (list->count > 0)
			memcpy(bigger, list->rows, list->count * sizeof(*bigger));
		list->rows = bigger;
		list->cap = cap;
	}
	return &list->rows[list->count++];
}

/* Collects the messages in ranges (all if ranges_count is 0) with
 * STMT_MESSAGE_FLAGS_RANGE, or only the \Deleted ones. */
static int collect_rows(struct store *store, const char *mailbox_id,
			const struct store_uid_range *ranges, unsigned int ranges_count,
			bool deleted_only, struct pool *pool, struct row_list *list_r)
{
	static const struct store_uid_range all = { 1, UINT32_MAX };
	if (ranges_count == 0) {
		ranges = &all;
		ranges_count = 1;
	}
	memset(list_r, 0, sizeof(*list_r));
	for (unsigned int i = 0; i < ranges_count; i++) {
		sqlite3_stmt *stmt = sqlite_stmt(store, deleted_only ? STMT_MESSAGE_DELETED_RANGE :
						 STMT_MESSAGE_FLAGS_RANGE);
		if (stmt == NULL)
			return -1;
		sqlite_bind_text(stmt, 1, mailbox_id);
		sqlite3_bind_int64(stmt, 2, ranges[i].first);
		sqlite3_bind_int64(stmt, 3, ranges[i].last);
		int rc;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			struct msg_row *row = row_add(pool, list_r);
			row->uid = (uint32_t)sqlite3_column_int64(stmt, 0);
			if (deleted_only) {
				sqlite_col_id(stmt, 1, row->id);
				continue;
			}
			row->modseq = (uint64_t)sqlite3_column_int64(stmt, 1);
			row->flags = sqlite_col_text(pool, stmt, 2);
			sqlite_col_id(stmt, 3, row->id);
			row->size = (uint64_t)sqlite3_column_int64(stmt, 4);
		}
		sqlite3_reset(stmt);
		if (rc != SQLITE_DONE)
			return sqlite_fail(store, rc, "message scan");
	}
	return 0;
}

static bool flags_same_set(struct pool *pool, const char *a, const char *b)
{
	const char *const *fa, *const *fb;
	unsigned int na, nb;
	store_flags_split(pool, a, &fa, &na);
	store_flags_split(pool, b, &fb, &nb);
	if (na != nb)
		return false;
	for (unsigned int i = 0; i < na; i++)
		if (!store_flags_contains(fb, nb, fa[i]))
			return false;
	return true;
}

static int set_flags(struct store *store, const char *mailbox_id, uint32_t uid,
		     const char *flags, uint64_t modseq)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MESSAGE_SET_FLAGS);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite_bind_text(stmt, 3, flags);
	sqlite3_bind_int(stmt, 4, store_flags_has(flags, "\\Seen"));
	sqlite3_bind_int(stmt, 5, store_flags_has(flags, "\\Flagged"));
	sqlite3_bind_int(stmt, 6, store_flags_has(flags, "\\Deleted"));
	sqlite3_bind_int(stmt, 7, store_flags_has(flags, "\\Draft"));
	sqlite3_bind_int64(stmt, 8, (int64_t)modseq);
	return sqlite_exec_stmt(store, stmt, "flags");
}

static int flags_locked(struct store *store, const char *mailbox_id,
			const struct store_uid_range *ranges, unsigned int ranges_count,
			const struct store_flags_update *update, struct pool *pool,
			struct store_flags_result *result)
{
	struct sqlite_mailbox_state state;
	struct row_list rows;
	if (sqlite_mailbox_state(store, mailbox_id, &state) < 0 ||
	    collect_rows(store, mailbox_id, ranges, ranges_count, false, pool, &rows) < 0)
		return -1;
	result->changed = pool_alloc(pool, (rows.count + 1) * sizeof(*result->changed));
	result->modified = pool_alloc(pool, (rows.count + 1) * sizeof(*result->modified));
	for (unsigned int i = 0; i < rows.count; i++) {
		struct msg_row *row = &rows.rows[i];
		if (update->unchanged_since != 0 && row->modseq > update->unchanged_since) {
			result->modified[result->modified_count++] = row->uid;
			continue;
		}
		const char *flags = store_flags_apply(pool, row->flags, update->op,
						      update->flags, update->flags_count);
		if (flags_same_set(pool, flags, row->flags))
			continue;
		struct store_flags_changed *ch = &result->changed[result->changed_count++];
		ch->uid = row->uid;
		row->flags = flags;	/* remembered for the update below */
		store_flags_split(pool, flags, &ch->flags, &ch->flags_count);
	}
	if (result->changed_count == 0)
		return 0;
	if (sqlite_mailbox_alloc(store, mailbox_id, &state, 0) < 0)
		return -1;
	result->modseq = state.modify_index + 1;
	for (unsigned int i = 0, c = 0; c < result->changed_count; i++) {
		struct msg_row *row = &rows.rows[i];
		if (row->uid != result->changed[c].uid)
			continue;
		result->changed[c++].modseq = result->modseq;
		if (set_flags(store, mailbox_id, row->uid, row->flags, result->modseq) < 0 ||
		    sqlite_journal_add(store, mailbox_id, STORE_JOURNAL_FLAGS, row->uid,
				       result->modseq, row->id, row->flags) < 0)
			return -1;
	}
	return 0;
}

int sqlite_flags_update(struct store *store, const char *mailbox_id,
			const struct store_uid_range *ranges, unsigned int ranges_count,
			const struct store_flags_update *update, struct pool *pool,
			struct store_flags_result *result_r)
{
	if (sqlite_tx_begin(store) < 0)
		return -1;
	if (flags_locked(store, mailbox_id, ranges, ranges_count, update, pool, result_r) < 0) {
		memset(result_r, 0, sizeof(*result_r));
		return sqlite_tx_fail(store);
	}
	return sqlite_tx_commit(store);
}

/* Inserts a copy of message src_id as new_id (tree, attachments with one
 * more reference each). */
static int copy_one(struct store *store, const char *src_id, const char *new_id,
		    const char *dst_mailbox_id, const struct sqlite_mailbox_state *dst,
		    uint32_t uid, uint64_t modseq)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MESSAGE_COPY);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, new_id);
	sqlite_bind_text(stmt, 2, dst_mailbox_id);
	sqlite_bind_text(stmt, 3, dst->user);
	sqlite3_bind_int64(stmt, 4, uid);
	sqlite3_bind_int64(stmt, 5, (int64_t)modseq);
	sqlite_bind_text(stmt, 6, src_id);
	if (sqlite_exec_stmt(store, stmt, "message copy") < 0 ||
	    (stmt = sqlite_stmt(store, STMT_MSGATT_COPY)) == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, new_id);
	sqlite_bind_text(stmt, 2, src_id);
	if (sqlite_exec_stmt(store, stmt, "message copy") < 0 ||
	    (stmt = sqlite_stmt(store, STMT_ATTACHMENT_REF_MESSAGE)) == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, new_id);
	return sqlite_exec_stmt(store, stmt, "message copy");
}

/* A move keeps the message (and its id), relabelled in the target. */
static int move_one(struct store *store, const char *id, const char *dst_mailbox_id,
		    const struct sqlite_mailbox_state *dst, uint32_t uid, uint64_t modseq)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MESSAGE_MOVE);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, id);
	sqlite_bind_text(stmt, 2, dst_mailbox_id);
	sqlite_bind_text(stmt, 3, dst->user);
	sqlite3_bind_int64(stmt, 4, uid);
	sqlite3_bind_int64(stmt, 5, (int64_t)modseq);
	return sqlite_exec_stmt(store, stmt, "message move");
}

static int storage_transfer(struct store *store, const struct sqlite_mailbox_state *src,
			    const struct sqlite_mailbox_state *dst, bool move, uint64_t bytes,
			    bool check_quota)
{
	bool same_user = strcmp(src->user, dst->user) == 0;
	if (move && same_user)
		return 0;
	if (check_quota && sqlite_quota_check(store, dst->user, bytes) < 0)
		return -1;
	if (move && sqlite_storage_add(store, src->user, -(int64_t)bytes) < 0)
		return -1;
	return sqlite_storage_add(store, dst->user, (int64_t)bytes);
}

static int copy_locked(struct store *store, const char *src_mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       const char *dst_mailbox_id, unsigned int flags, struct pool *pool,
		       struct store_copy_result *result)
{
	bool move = (flags & STORE_COPY_MOVE) != 0;
	struct sqlite_mailbox_state src, dst;
	struct row_list rows;
	if (sqlite_mailbox_state(store, src_mailbox_id, &src) < 0 ||
	    sqlite_mailbox_state(store, dst_mailbox_id, &dst) < 0 ||
	    collect_rows(store, src_mailbox_id, ranges, ranges_count, false, pool, &rows) < 0)
		return -1;
	result->dst_uid_validity = dst.uid_validity;
	if (rows.count == 0)
		return 0;
	uint64_t bytes = 0;
	for (unsigned int i = 0; i < rows.count; i++)
		bytes += rows.rows[i].size;
	if (storage_transfer(store, &src, &dst, move, bytes,
			     (flags & STORE_COPY_CHECK_QUOTA) != 0) < 0 ||
	    sqlite_mailbox_alloc(store, dst_mailbox_id, &dst, rows.count) < 0)
		return -1;
	uint64_t dst_modseq = dst.modify_index + 1;
	result->uids = pool_alloc(pool, rows.count * sizeof(*result->uids));
	for (unsigned int i = 0; i < rows.count; i++) {
		struct msg_row *row = &rows.rows[i];
		uint32_t uid = dst.uid_next + i;
		char new_id[STORE_ID_SIZE];
		memcpy(new_id, row->id, sizeof(new_id));
		if (!move)
			store_id_generate(new_id);
		if ((move ? move_one(store, row->id, dst_mailbox_id, &dst, uid, dst_modseq) :
		     copy_one(store, row->id, new_id, dst_mailbox_id, &dst, uid, dst_modseq)) < 0 ||
		    sqlite_journal_add(store, dst_mailbox_id, STORE_JOURNAL_EXISTS, uid,
				       dst_modseq, new_id, row->flags) < 0)
			return -1;
		result->uids[i].src_uid = row->uid;
		result->uids[i].dst_uid = uid;
	}
	result->uids_count = rows.count;
	if (!move)
		return 0;
	/* the source's modseq is read again: src and dst may be one mailbox */
	if (sqlite_mailbox_state(store, src_mailbox_id, &src) < 0 ||
	    sqlite_mailbox_alloc(store, src_mailbox_id, &src, 0) < 0)
		return -1;
	for (unsigned int i = 0; i < rows.count; i++)
		if (sqlite_journal_add(store, src_mailbox_id, STORE_JOURNAL_EXPUNGE,
				       rows.rows[i].uid, src.modify_index + 1, rows.rows[i].id,
				       NULL) < 0)
			return -1;
	return 0;
}

int sqlite_message_copy(struct store *store, const char *src_mailbox_id,
			const struct store_uid_range *ranges, unsigned int ranges_count,
			const char *dst_mailbox_id, unsigned int flags, struct pool *pool,
			struct store_copy_result *result_r)
{
	if (sqlite_tx_begin(store) < 0)
		return -1;
	if (copy_locked(store, src_mailbox_id, ranges, ranges_count, dst_mailbox_id, flags,
			pool, result_r) < 0) {
		memset(result_r, 0, sizeof(*result_r));
		return sqlite_tx_fail(store);
	}
	return sqlite_tx_commit(store);
}

static int expunge_locked(struct store *store, const char *mailbox_id,
			  const struct store_uid_range *ranges, unsigned int ranges_count,
			  struct pool *pool, uint32_t **uids_r, unsigned int *count_r)
{
	struct sqlite_mailbox_state state;
	struct row_list rows;
	if (sqlite_mailbox_state(store, mailbox_id, &state) < 0 ||
	    collect_rows(store, mailbox_id, ranges, ranges_count, true, pool, &rows) < 0)
		return -1;
	if (rows.count == 0)
		return 0;
	if (sqlite_mailbox_alloc(store, mailbox_id, &state, 0) < 0)
		return -1;
	uint64_t modseq = state.modify_index + 1;
	uint32_t *uids = pool_alloc(pool, rows.count * sizeof(*uids));
	for (unsigned int i = 0; i < rows.count; i++) {
		sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MESSAGE_DELETE);
		if (stmt == NULL)
			return -1;
		/* the triggers release attachments and storage used */
		sqlite_bind_text(stmt, 1, rows.rows[i].id);
		if (sqlite_exec_stmt(store, stmt, "expunge") < 0 ||
		    sqlite_journal_add(store, mailbox_id, STORE_JOURNAL_EXPUNGE, rows.rows[i].uid,
				       modseq, rows.rows[i].id, NULL) < 0)
			return -1;
		uids[i] = rows.rows[i].uid;
	}
	*uids_r = uids;
	*count_r = rows.count;
	return 0;
}

int sqlite_message_expunge(struct store *store, const char *mailbox_id,
			   const struct store_uid_range *ranges, unsigned int ranges_count,
			   struct pool *pool, uint32_t **uids_r, unsigned int *count_r)
{
	if (sqlite_tx_begin(store) < 0)
		return -1;
	if (expunge_locked(store, mailbox_id, ranges, ranges_count, pool, uids_r, count_r) < 0) {
		*uids_r = NULL;
		*count_r = 0;
		return sqlite_tx_fail(store);
	}
	return sqlite_tx_commit(store);
}
