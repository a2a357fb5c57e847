/* SQLite driver: user listings, message pages, tree blobs without
 * attachments, API access tokens (schema step 4) and the user-wide
 * journal. Reads run in one statement each, so they need no transaction. */
#include "store_sqlite.h"

#include "pool.h"

#include <stdio.h>
#include <string.h>

int sqlite_user_list(struct store *store, const char *after_id, bool backwards,
		     unsigned int limit, struct pool *pool, struct store_user **users_r,
		     unsigned int *count_r)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT %s FROM users WHERE ?1 IS NULL OR id %s ?1 "
		 "ORDER BY id %s LIMIT ?2", sqlite_user_cols, backwards ? "<" : ">",
		 backwards ? "DESC" : "ASC");
	sqlite3_stmt *stmt = sqlite_prepare_once(store, sql);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, after_id);
	sqlite3_bind_int(stmt, 2, (int)limit);
	struct store_user *users = pool_alloc(pool, limit * sizeof(*users));
	unsigned int n = 0;
	int rc;
	while (n < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		sqlite_user_row(pool, stmt, &users[n++]);
	if (n == limit)
		rc = SQLITE_DONE;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(store, rc, "user list");
	*users_r = users;
	*count_r = n;
	return 0;
}

int sqlite_user_count(struct store *store, uint64_t *count_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT count(*) FROM users");
	if (stmt == NULL)
		return -1;
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*count_r = (uint64_t)sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "user count");
}

int sqlite_message_page(struct store *store, const char *mailbox_id, uint32_t first,
			uint32_t last, bool descending, unsigned int limit,
			store_message_cb *callback, void *context)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT %s FROM messages WHERE mailbox = ?1 AND uid "
		 "BETWEEN ?2 AND ?3 ORDER BY uid %s LIMIT ?4", sqlite_message_cols,
		 descending ? "DESC" : "ASC");
	sqlite3_stmt *stmt = sqlite_prepare_once(store, sql);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, first);
	sqlite3_bind_int64(stmt, 3, last);
	sqlite3_bind_int(stmt, 4, (int)limit);
	struct pool *pool = pool_create(4096);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_message msg;
		sqlite_message_row(pool, stmt, &msg);
		int stop = callback(&msg, context);
		pool_clear(pool);
		if (stop != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(stmt);
	pool_destroy(&pool);
	return rc == SQLITE_DONE ? 0 : sqlite_fail(store, rc, "message page");
}

int sqlite_message_tree(struct store *store, const char *message_id, struct pool *pool,
			const unsigned char **tree_r, size_t *len_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_MESSAGE_TREE);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, message_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
		unsigned char *tree = pool_alloc(pool, len + 1);
		if (len > 0)
			memcpy(tree, sqlite3_column_blob(stmt, 0), len);
		*tree_r = tree;
		*len_r = len;
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such message");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "message tree");
}

int sqlite_token_add(struct store *store, const char *user_id, const char *token_hash,
		     int64_t expires)
{
	/* expired tokens go whenever a new one comes */
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "DELETE FROM api_tokens WHERE expires < "
				     "CAST(strftime('%s', 'now') AS INTEGER)");
	if (stmt == NULL || sqlite_run_once(store, stmt, "token purge") < 0)
		return -1;
	stmt = sqlite_prepare_once(store, "INSERT INTO api_tokens (hash, user, created, expires) "
		       "SELECT ?1, id, CAST(strftime('%s', 'now') AS INTEGER), ?3 FROM users "
		       "WHERE id = ?2");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, token_hash);
	sqlite_bind_text(stmt, 2, user_id);
	sqlite3_bind_int64(stmt, 3, expires);
	if (sqlite_run_once(store, stmt, "token add") < 0)
		return -1;
	if (sqlite3_changes(sqlite_ctx(store)->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return 0;
}

int sqlite_token_get(struct store *store, const char *token_hash, int64_t now,
		     char user_id_r[STORE_ID_SIZE])
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT user FROM api_tokens WHERE hash = ?1 "
				     "AND expires > ?2");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, token_hash);
	sqlite3_bind_int64(stmt, 2, now);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		sqlite_col_id(stmt, 0, user_id_r);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such token");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "token");
}

int sqlite_token_delete(struct store *store, const char *token_hash)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "DELETE FROM api_tokens WHERE hash = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, token_hash);
	if (sqlite_run_once(store, stmt, "token delete") < 0)
		return -1;
	return sqlite3_changes(sqlite_ctx(store)->db) == 0 ?
		store_set_error(store, STORE_ERR_NOT_FOUND, "no such token") : 0;
}

int sqlite_journal_user_since(struct store *store, const char *user_id, int64_t after,
			      unsigned int limit, store_journal_user_cb *callback, void *context)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT j.id, j.mailbox, j.command, j.uid, j.modseq, "
		"j.message, j.flags FROM journal j WHERE j.mailbox IN "
		"(SELECT id FROM mailboxes WHERE user = ?1) AND j.id > ?2 ORDER BY j.id LIMIT ?3");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, after);
	sqlite3_bind_int(stmt, 3, (int)limit);
	struct pool *pool = pool_create(1024);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_journal_user_entry e = {
			.position = sqlite3_column_int64(stmt, 0),
			.entry = {
				.command = (enum store_journal_command)sqlite3_column_int(stmt, 2),
				.uid = (uint32_t)sqlite3_column_int64(stmt, 3),
				.modseq = (uint64_t)sqlite3_column_int64(stmt, 4),
				.message = sqlite_col_text(pool, stmt, 5),
			},
		};
		sqlite_col_id(stmt, 1, e.mailbox);
		if (e.entry.command > STORE_JOURNAL_FLAGS) {
			/* a mailbox change, kept on the INBOX (mailbox_journal()) */
			snprintf(e.mailbox, sizeof(e.mailbox), "%s",
				 e.entry.message != NULL ? e.entry.message : "");
			e.entry.message = NULL;
			e.entry.path = sqlite_col_text(pool, stmt, 6);
		} else {
			store_flags_split(pool, sqlite_col_text(pool, stmt, 6), &e.entry.flags,
					  &e.entry.flags_count);
		}
		int stop = callback(&e, context);
		pool_clear(pool);
		if (stop != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(stmt);
	pool_destroy(&pool);
	return rc == SQLITE_DONE ? 0 : sqlite_fail(store, rc, "journal");
}

int sqlite_journal_user_last(struct store *store, const char *user_id, int64_t *position_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT coalesce(max(id), 0) FROM journal WHERE "
				     "mailbox IN (SELECT id FROM mailboxes WHERE user = ?1)");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*position_r = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "journal last");
}
