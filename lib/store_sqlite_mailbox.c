/* SQLite driver: mailboxes, UID/MODSEQ allocation, the journal and the
 * per-user storage counter. */
#include "store_sqlite.h"

#include "pool.h"

#include <string.h>
#include <time.h>

int sqlite_mailbox_insert(struct store *store, const char *user_id, const char *path,
			  enum store_special_use special_use, char id_r[STORE_ID_SIZE])
{
	/* UIDVALIDITY is the creation time as in WildDuck, but never reused:
	 * a mailbox deleted and created again within one second must not get
	 * the old value (RFC 3501 2.3.1.1). */
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_UIDVALIDITY_NEXT);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (int64_t)time(NULL));
	int rc = sqlite3_step(stmt);
	int64_t uid_validity = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW)
		return sqlite_fail(store, rc, "uidvalidity");

	store_id_generate(id_r);
	if ((stmt = sqlite_stmt(store, STMT_MAILBOX_INSERT)) == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, id_r);
	sqlite_bind_text(stmt, 2, user_id);
	sqlite_bind_text(stmt, 3, path);
	sqlite3_bind_int(stmt, 4, (int)special_use);
	sqlite3_bind_int64(stmt, 5, uid_validity & 0xffffffff);
	return sqlite_exec_stmt(store, stmt, "mailbox");
}

static int user_check(struct store *store, const char *user_id)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_USER_QUOTA);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	int rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "user");
}

/* A mailbox change for the user-wide journal. journal.mailbox must name
 * an existing mailbox (FK, cascade), and a deleted mailbox's rows go with
 * it, so these rows hang off the user's INBOX, which cannot be deleted:
 * message holds the changed mailbox's id, flags its path. Per-mailbox
 * reads (STMT_JOURNAL_SINCE) skip them; sqlite_journal_user_since() turns
 * them back into entries of the changed mailbox. */
static int mailbox_journal(struct store *store, const char *user_id,
			   enum store_journal_command command, const char *mailbox_id,
			   const char *path)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "INSERT INTO journal (mailbox, command, "
		"uid, modseq, message, flags, created) SELECT id, ?2, 0, 0, ?3, ?4, ?5 "
		"FROM mailboxes WHERE user = ?1 AND special_use = ?6 LIMIT 1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite3_bind_int(stmt, 2, (int)command);
	sqlite_bind_text(stmt, 3, mailbox_id);
	sqlite_bind_text(stmt, 4, path);
	sqlite3_bind_int64(stmt, 5, (int64_t)time(NULL));
	sqlite3_bind_int(stmt, 6, (int)STORE_SPECIAL_INBOX);
	return sqlite_run_once(store, stmt, "journal");
}

int sqlite_mailbox_create(struct store *store, const char *user_id, const char *path,
			  enum store_special_use special_use, char id_r[STORE_ID_SIZE])
{
	if (sqlite_tx_begin(store) < 0)
		return -1;
	if (user_check(store, user_id) < 0 ||
	    sqlite_mailbox_insert(store, user_id, path, special_use, id_r) < 0 ||
	    mailbox_journal(store, user_id, STORE_JOURNAL_MAILBOX_CREATE, id_r, path) < 0)
		return sqlite_tx_fail(store);
	return sqlite_tx_commit(store);
}

static void mailbox_from_row(struct pool *pool, sqlite3_stmt *stmt, struct store_mailbox *box)
{
	memset(box, 0, sizeof(*box));
	sqlite_col_id(stmt, 0, box->id);
	sqlite_col_id(stmt, 1, box->user);
	box->path = sqlite_col_text(pool, stmt, 2);
	box->special_use = (enum store_special_use)sqlite3_column_int(stmt, 3);
	box->uid_validity = (uint32_t)sqlite3_column_int64(stmt, 4);
	box->uid_next = (uint32_t)sqlite3_column_int64(stmt, 5);
	box->modify_index = (uint64_t)sqlite3_column_int64(stmt, 6);
	box->subscribed = sqlite3_column_int(stmt, 7) != 0;
	box->retention_msecs = sqlite3_column_int64(stmt, 8);
}

int sqlite_mailbox_get(struct store *store, const char *mailbox_id, const char *user_id,
		       const char *path, struct pool *pool, struct store_mailbox **mailbox_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, mailbox_id != NULL ? STMT_MAILBOX_GET :
					 STMT_MAILBOX_GET_PATH);
	if (stmt == NULL)
		return -1;
	if (mailbox_id != NULL) {
		sqlite_bind_text(stmt, 1, mailbox_id);
	} else {
		sqlite_bind_text(stmt, 1, user_id);
		sqlite_bind_text(stmt, 2, path);
	}
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*mailbox_r = pool_alloc(pool, sizeof(**mailbox_r));
		mailbox_from_row(pool, stmt, *mailbox_r);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such mailbox");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "mailbox");
}

int sqlite_mailbox_list(struct store *store, const char *user_id, struct pool *pool,
			struct store_mailbox **mailboxes_r, unsigned int *count_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MAILBOX_LIST);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	unsigned int count = 0, cap = 16;
	struct store_mailbox *list = pool_alloc(pool, cap * sizeof(*list));
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (count == cap) {
			struct store_mailbox *bigger = pool_alloc(pool, cap * 2 * sizeof(*list));
			memcpy(bigger, list, cap * sizeof(*list));
			list = bigger;
			cap *= 2;
		}
		mailbox_from_row(pool, stmt, &list[count++]);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(store, rc, "mailbox list");
	*mailboxes_r = list;
	*count_r = count;
	return 0;
}

int sqlite_mailbox_rename(struct store *store, const char *mailbox_id, const char *new_path)
{
	struct pool *pool = pool_create(512);
	struct store_mailbox *box, *other;
	if (sqlite_tx_begin(store) < 0) {
		pool_destroy(&pool);
		return -1;
	}
	int ret = sqlite_mailbox_get(store, mailbox_id, NULL, NULL, pool, &box);
	size_t old_len = ret == 0 ? strlen(box->path) : 0;
	if (ret < 0) {
		/* keep the error */
	} else if (strcmp(box->path, new_path) == 0) {
		ret = store_set_error(store, STORE_ERR_EXISTS, "mailbox already exists");
	} else if (strncmp(new_path, box->path, old_len) == 0 && new_path[old_len] == '/') {
		ret = store_set_error(store, STORE_ERR_INVALID, "cannot rename into itself");
	} else if (sqlite_mailbox_get(store, NULL, box->user, new_path, pool, &other) == 0) {
		ret = store_set_error(store, STORE_ERR_EXISTS, "mailbox already exists");
	} else if (store_last_error(store) != STORE_ERR_NOT_FOUND) {
		ret = -1;
	} else {
		sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MAILBOX_RENAME);
		ret = stmt == NULL ? -1 : 0;
		if (ret == 0) {
			sqlite_bind_text(stmt, 1, box->user);
			sqlite_bind_text(stmt, 2, box->path);
			sqlite_bind_text(stmt, 3, new_path);
			/* a child's new path may be taken: UNIQUE -> EXISTS */
			ret = sqlite_exec_stmt(store, stmt, "mailbox");
		}
	}
	/* one RENAME per moved mailbox, with its new path */
	struct store_mailbox *all;
	unsigned int count = 0;
	size_t new_len = strlen(new_path);
	if (ret == 0)
		ret = sqlite_mailbox_list(store, box->user, pool, &all, &count);
	for (unsigned int i = 0; ret == 0 && i < count; i++)
		if (strncmp(all[i].path, new_path, new_len) == 0 &&
		    (all[i].path[new_len] == '\0' || all[i].path[new_len] == '/'))
			ret = mailbox_journal(store, box->user, STORE_JOURNAL_MAILBOX_RENAME,
					      all[i].id, all[i].path);
	pool_destroy(&pool);
	return ret < 0 ? sqlite_tx_fail(store) : sqlite_tx_commit(store);
}

int sqlite_mailbox_delete(struct store *store, const char *mailbox_id)
{
	struct pool *pool = pool_create(512);
	struct store_mailbox *box;
	if (sqlite_tx_begin(store) < 0) {
		pool_destroy(&pool);
		return -1;
	}
	int ret = sqlite_mailbox_get(store, mailbox_id, NULL, NULL, pool, &box);
	if (ret == 0 && box->special_use == STORE_SPECIAL_INBOX)
		ret = store_set_error(store, STORE_ERR_INVALID, "INBOX cannot be deleted");
	sqlite3_stmt *stmt = ret < 0 ? NULL : sqlite_stmt(store, STMT_MAILBOX_DELETE);
	if (stmt == NULL) {
		pool_destroy(&pool);
		return sqlite_tx_fail(store);
	}
	/* messages, their attachment references and the journal follow by
	 * FK cascade and triggers, storage used included */
	sqlite_bind_text(stmt, 1, mailbox_id);
	ret = sqlite_exec_stmt(store, stmt, "mailbox delete");
	if (ret == 0)
		ret = mailbox_journal(store, box->user, STORE_JOURNAL_MAILBOX_DELETE, mailbox_id,
				      box->path);
	pool_destroy(&pool);
	return ret < 0 ? sqlite_tx_fail(store) : sqlite_tx_commit(store);
}

int sqlite_mailbox_subscribe(struct store *store, const char *mailbox_id, bool subscribed)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MAILBOX_SUBSCRIBE);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, mailbox_id);
	sqlite3_bind_int(stmt, 2, subscribed);
	if (sqlite_exec_stmt(store, stmt, "mailbox") < 0)
		return -1;
	if (sqlite3_changes(sqlite_ctx(store)->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such mailbox");
	return 0;
}

int sqlite_mailbox_counts(struct store *store, const char *mailbox_id,
			  struct store_mailbox_counts *counts_r)
{
	/* one read transaction, so counts and HIGHESTMODSEQ agree */
	struct sqlite_store *ctx = sqlite_ctx(store);
	struct sqlite_mailbox_state state;
	if (sqlite3_exec(ctx->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return sqlite_fail(store, sqlite3_errcode(ctx->db), "begin");
	int ret = sqlite_mailbox_state(store, mailbox_id, &state);
	sqlite3_stmt *stmt = ret < 0 ? NULL : sqlite_stmt(store, STMT_MAILBOX_COUNTS);
	if (stmt != NULL) {
		sqlite_bind_text(stmt, 1, mailbox_id);
		int rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			counts_r->messages = (uint32_t)sqlite3_column_int64(stmt, 0);
			counts_r->unseen = (uint32_t)sqlite3_column_int64(stmt, 1);
			counts_r->deleted = (uint32_t)sqlite3_column_int64(stmt, 2);
			counts_r->size = (uint64_t)sqlite3_column_int64(stmt, 3);
		} else {
			ret = sqlite_fail(store, rc, "counts");
		}
		sqlite3_reset(stmt);
	} else {
		ret = -1;
	}
	sqlite_reset_all(store);
	(void)sqlite3_exec(ctx->db, "COMMIT", NULL, NULL, NULL);
	counts_r->uid_next = state.uid_next;
	counts_r->uid_validity = state.uid_validity;
	counts_r->highest_modseq = state.modify_index;
	return ret;
}

int sqlite_mailbox_state(struct store *store, const char *mailbox_id,
			 struct sqlite_mailbox_state *state_r)
{
	memset(state_r, 0, sizeof(*state_r));
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MAILBOX_STATE);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, mailbox_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		sqlite_col_id(stmt, 0, state_r->user);
		state_r->uid_next = (uint32_t)sqlite3_column_int64(stmt, 1);
		state_r->uid_validity = (uint32_t)sqlite3_column_int64(stmt, 2);
		state_r->modify_index = (uint64_t)sqlite3_column_int64(stmt, 3);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such mailbox");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "mailbox");
}

int sqlite_mailbox_alloc(struct store *store, const char *mailbox_id,
			 const struct sqlite_mailbox_state *state, uint32_t count)
{
	if ((uint64_t)state->uid_next + count > UINT32_MAX)
		return store_set_error(store, STORE_ERR_INVALID, "mailbox ran out of uids");
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MAILBOX_ALLOC);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, count);
	return sqlite_exec_stmt(store, stmt, "mailbox alloc");
}

int sqlite_journal_add(struct store *store, const char *mailbox_id,
		       enum store_journal_command command, uint32_t uid, uint64_t modseq,
		       const char *message_id, const char *flags)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_JOURNAL_INSERT);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, mailbox_id);
	sqlite3_bind_int(stmt, 2, (int)command);
	sqlite3_bind_int64(stmt, 3, uid);
	sqlite3_bind_int64(stmt, 4, (int64_t)modseq);
	sqlite_bind_text(stmt, 5, message_id);
	sqlite_bind_text(stmt, 6, flags);
	sqlite3_bind_int64(stmt, 7, (int64_t)time(NULL));
	return sqlite_exec_stmt(store, stmt, "journal");
}

int sqlite_journal_since(struct store *store, const char *mailbox_id, uint64_t since,
			 store_journal_cb *callback, void *context)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_JOURNAL_SINCE);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, (int64_t)since);
	sqlite3_bind_int(stmt, 3, (int)STORE_JOURNAL_FLAGS);
	struct pool *pool = pool_create(1024);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_journal_entry entry = {
			.command = (enum store_journal_command)sqlite3_column_int(stmt, 0),
			.uid = (uint32_t)sqlite3_column_int64(stmt, 1),
			.modseq = (uint64_t)sqlite3_column_int64(stmt, 2),
			.message = sqlite_col_text(pool, stmt, 3),
		};
		store_flags_split(pool, sqlite_col_text(pool, stmt, 4), &entry.flags,
				  &entry.flags_count);
		int stop = callback(&entry, context);
		pool_clear(pool);
		if (stop != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(stmt);
	pool_destroy(&pool);
	return rc == SQLITE_DONE ? 0 : sqlite_fail(store, rc, "journal");
}

int sqlite_storage_add(struct store *store, const char *user_id, int64_t delta)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_USER_STORAGE_ADD);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, delta);
	return sqlite_exec_stmt(store, stmt, "storage");
}

/* wdctl quota recalc: rare, so not a cached statement. */
int sqlite_user_storage_set(struct store *store, const char *user_id, uint64_t expected,
			    uint64_t value, bool *applied_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "UPDATE users SET storage_used = ?2 "
						 "WHERE id = ?1 AND (storage_used = ?3 OR "
						 "(?3 = 0 AND storage_used < 0))");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, (int64_t)value);
	sqlite3_bind_int64(stmt, 3, (int64_t)expected);
	if (sqlite_run_once(store, stmt, "storage set") < 0)
		return -1;
	*applied_r = sqlite3_changes(sqlite_ctx(store)->db) > 0;
	if (*applied_r)
		return 0;
	stmt = sqlite_prepare_once(store, "SELECT 1 FROM users WHERE id = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	int rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "storage set");
}

int sqlite_quota_check(struct store *store, const char *user_id, uint64_t bytes)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_USER_QUOTA);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	int rc = sqlite3_step(stmt);
	uint64_t quota = 0, used = 0;
	if (rc == SQLITE_ROW) {
		quota = (uint64_t)sqlite3_column_int64(stmt, 0);
		used = (uint64_t)sqlite3_column_int64(stmt, 1);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	if (rc != SQLITE_ROW)
		return sqlite_fail(store, rc, "quota");
	if (quota > 0 && used + bytes > quota)
		return store_set_error(store, STORE_ERR_OVER_QUOTA,
				       "quota exceeded (%llu + %llu > %llu bytes)",
				       (unsigned long long)used, (unsigned long long)bytes,
				       (unsigned long long)quota);
	return 0;
}
