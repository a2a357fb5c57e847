/* Internals shared by the files of the embedded SQLite store driver
 * (store_sqlite*.c): the per-handle connection, its prepared-statement
 * cache, transactions with SQLITE_BUSY retry, and error mapping. */
#ifndef WD_STORE_SQLITE_H
#define WD_STORE_SQLITE_H

#include "store_driver.h"

#include <sqlite3.h>

/* Every statement the driver runs; prepared once per handle, on first use. */
enum sqlite_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_UIDVALIDITY_NEXT,
	STMT_USER_INSERT,
	STMT_USER_GET,
	STMT_USER_GET_BY_NAME,
	STMT_USER_UPDATE,
	STMT_USER_DELETE,
	STMT_USER_QUOTA,
	STMT_USER_STORAGE_ADD,
	STMT_USER_SET_ADDRESS,
	STMT_ADDRESS_INSERT,
	STMT_ADDRESS_DELETE,
	STMT_ADDRESS_GET,
	STMT_ADDRESS_GET_VIEW,
	STMT_ADDRESS_LIST,
	STMT_ADDRESS_WILDCARDS,
	STMT_ADDRESS_CLEAR_MAIN,
	STMT_ALIAS_INSERT,
	STMT_ALIAS_DELETE,
	STMT_ALIAS_GET,
	STMT_MAILBOX_INSERT,
	STMT_MAILBOX_GET,
	STMT_MAILBOX_GET_PATH,
	STMT_MAILBOX_LIST,
	STMT_MAILBOX_RENAME,
	STMT_MAILBOX_DELETE,
	STMT_MAILBOX_SUBSCRIBE,
	STMT_MAILBOX_COUNTS,
	STMT_MAILBOX_ALLOC,
	STMT_MAILBOX_STATE,
	STMT_MESSAGE_INSERT,
	STMT_MESSAGE_LIST,
	STMT_MESSAGE_GET,
	STMT_MESSAGE_TREE,
	STMT_MESSAGE_FLAGS_RANGE,
	STMT_MESSAGE_SET_FLAGS,
	STMT_MESSAGE_COPY,
	STMT_MESSAGE_MOVE,
	STMT_MESSAGE_DELETED_RANGE,
	STMT_MESSAGE_DELETE,
	STMT_MSGATT_INSERT,
	STMT_MSGATT_LIST,
	STMT_MSGATT_COPY,
	STMT_ATTACHMENT_EXISTS,
	STMT_ATTACHMENT_REF,
	STMT_ATTACHMENT_REF_MESSAGE,
	STMT_ATTACHMENT_INSERT,
	STMT_ATTACHMENT_DATA_INSERT,
	STMT_ATTACHMENT_GET,
	STMT_ATTACHMENT_INFO,
	STMT_JOURNAL_INSERT,
	STMT_JOURNAL_SINCE,
	STMT_COUNT
};

struct sqlite_store {
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT];
	unsigned int busy_timeout_msecs;
	int compress_level;
	bool in_tx;
};

static inline struct sqlite_store *sqlite_ctx(struct store *store)
{
	return store->ctx;
}

/* The cached statement, reset and with its bindings cleared; NULL (with
 * the store error set) if it cannot be prepared. */
sqlite3_stmt *sqlite_stmt(struct store *store, enum sqlite_stmt which);
/* Sets the store error from a failed sqlite call (BUSY -> TEMPORARY,
 * UNIQUE -> EXISTS, ...); returns -1. */
int sqlite_fail(struct store *store, int rc, const char *what);
/* An uncached statement for the calls of one schema step's file; NULL
 * with the store error set on failure. */
sqlite3_stmt *sqlite_prepare_once(struct store *store, const char *sql);
/* Steps an uncached statement once and finalizes it; 0 or -1 via
 * sqlite_fail(). */
int sqlite_run_once(struct store *store, sqlite3_stmt *stmt, const char *what);
/* Steps a statement that returns no rows; 0 or -1 via sqlite_fail(). */
int sqlite_exec_stmt(struct store *store, sqlite3_stmt *stmt, const char *what);

/* Resets every cached statement, ending any read snapshot they hold. */
void sqlite_reset_all(struct store *store);

/* BEGIN IMMEDIATE, retried while the database is busy, up to the busy
 * timeout; -1 with STORE_ERR_TEMPORARY after it. */
int sqlite_tx_begin(struct store *store);
int sqlite_tx_commit(struct store *store);
/* Rolls back if a transaction is open; always returns -1 for tail calls. */
int sqlite_tx_fail(struct store *store);

/* Binding helpers: NULL strings become SQL NULL. */
void sqlite_bind_text(sqlite3_stmt *stmt, int idx, const char *text);
/* A column as a string allocated from pool (NULL for SQL NULL). */
const char *sqlite_col_text(struct pool *pool, sqlite3_stmt *stmt, int col);
void sqlite_col_id(sqlite3_stmt *stmt, int col, char id_r[STORE_ID_SIZE]);

/* store_sqlite_objects.c: API objects and the webhook queue's sender side */
int sqlite_object_add(struct store *store, const char *kind, const char *user_id,
		      const char *key, const char *doc, bool unique, char id_r[STORE_ID_SIZE]);
int sqlite_object_list(struct store *store, const char *kind, const char *user_id,
		       const char *key, struct pool *pool, struct store_object **objects_r,
		       unsigned int *count_r);
int sqlite_object_get(struct store *store, const char *kind, const char *id,
		      struct pool *pool, struct store_object **object_r);
int sqlite_object_delete(struct store *store, const char *kind, const char *id);
int sqlite_object_update(struct store *store, const char *kind, const char *id,
			 const char *doc);
int sqlite_webhook_claim(struct store *store, int64_t now, int64_t lease_secs,
			 unsigned int limit, struct pool *pool,
			 struct store_webhook_call **calls_r, unsigned int *count_r);
int sqlite_webhook_done(struct store *store, int64_t id);
int sqlite_webhook_retry(struct store *store, int64_t id, int64_t next_try);

/* store_sqlite_mailbox.c: mailboxes, also used by user creation. */
int sqlite_mailbox_insert(struct store *store, const char *user_id, const char *path,
			  enum store_special_use special_use, char id_r[STORE_ID_SIZE]);
int sqlite_mailbox_create(struct store *store, const char *user_id, const char *path,
			  enum store_special_use special_use, char id_r[STORE_ID_SIZE]);
int sqlite_mailbox_get(struct store *store, const char *mailbox_id, const char *user_id,
		       const char *path, struct pool *pool, struct store_mailbox **mailbox_r);
int sqlite_mailbox_list(struct store *store, const char *user_id, struct pool *pool,
			struct store_mailbox **mailboxes_r, unsigned int *count_r);
int sqlite_mailbox_rename(struct store *store, const char *mailbox_id, const char *new_path);
int sqlite_mailbox_delete(struct store *store, const char *mailbox_id);
int sqlite_mailbox_subscribe(struct store *store, const char *mailbox_id, bool subscribed);
int sqlite_mailbox_counts(struct store *store, const char *mailbox_id,
			  struct store_mailbox_counts *counts_r);
int sqlite_journal_since(struct store *store, const char *mailbox_id, uint64_t since,
			 store_journal_cb *callback, void *context);

/* store_sqlite_messages.c */
int sqlite_message_append(struct store *store, const char *mailbox_id,
			  const struct store_message_new *msg, unsigned int flags,
			  struct store_append_result *result_r);
int sqlite_message_list(struct store *store, const char *mailbox_id,
			const struct store_uid_range *ranges, unsigned int ranges_count,
			store_message_cb *callback, void *context);
int sqlite_message_get(struct store *store, const char *mailbox_id, uint32_t uid,
		       struct pool *pool, struct store_message **msg_r);
int sqlite_message_content(struct store *store, const char *message_id, struct pool *pool,
			   struct store_message_content **content_r);
int sqlite_message_thread_set(struct store *store, const char *mailbox_id, uint32_t uid,
			      const char *thread);
int sqlite_attachment_get(struct store *store, const char *attachment_id,
			  struct pool *pool, const unsigned char **data_r, size_t *len_r);
int sqlite_attachment_read(struct store *store, const char *attachment_id, uint64_t offset,
			   size_t len, unsigned char *buf);
int sqlite_attachment_info(struct store *store, const char *attachment_id,
			   struct pool *pool, struct store_attachment_info *info_r);

/* store_sqlite_update.c: flags, copy, move, expunge */
int sqlite_flags_update(struct store *store, const char *mailbox_id,
			const struct store_uid_range *ranges, unsigned int ranges_count,
			const struct store_flags_update *update, struct pool *pool,
			struct store_flags_result *result_r);
int sqlite_message_copy(struct store *store, const char *src_mailbox_id,
			const struct store_uid_range *ranges, unsigned int ranges_count,
			const char *dst_mailbox_id, unsigned int flags, struct pool *pool,
			struct store_copy_result *result_r);
int sqlite_message_expunge(struct store *store, const char *mailbox_id,
			   const struct store_uid_range *ranges, unsigned int ranges_count,
			   struct pool *pool, uint32_t **uids_r, unsigned int *count_r);

/* Loads a mailbox row (user, uid_next, modify_index, uid_validity) inside
 * a transaction; NOT_FOUND if it does not exist. */
struct sqlite_mailbox_state {
	char user[STORE_ID_SIZE];
	uint32_t uid_next, uid_validity;
	uint64_t modify_index;
};
int sqlite_mailbox_state(struct store *store, const char *mailbox_id,
			 struct sqlite_mailbox_state *state_r);
/* Allocates count uids and one modseq in a mailbox (inside a transaction):
 * the first new uid is state->uid_next, the modseq state->modify_index+1. */
int sqlite_mailbox_alloc(struct store *store, const char *mailbox_id,
			 const struct sqlite_mailbox_state *state, uint32_t count);
int sqlite_journal_add(struct store *store, const char *mailbox_id,
		       enum store_journal_command command, uint32_t uid, uint64_t modseq,
		       const char *message_id, const char *flags);
int sqlite_storage_add(struct store *store, const char *user_id, int64_t delta);
int sqlite_user_storage_set(struct store *store, const char *user_id, uint64_t expected,
			    uint64_t value, bool *applied_r);
/* OVER_QUOTA if adding bytes to the user's storage would pass the quota. */
int sqlite_quota_check(struct store *store, const char *user_id, uint64_t bytes);

/* store_sqlite_delivery.c: filters, autoreplies, targets, counters, webhooks */
int sqlite_filter_add(struct store *store, const char *user_id,
		      const struct store_filter *filter, char id_r[STORE_ID_SIZE]);
int sqlite_filter_delete(struct store *store, const char *user_id, const char *filter_id);
int sqlite_filter_list(struct store *store, const char *user_id, struct pool *pool,
		       struct store_filter **filters_r, unsigned int *count_r);
int sqlite_autoreply_set(struct store *store, const char *user_id,
			 const struct store_autoreply *autoreply);
int sqlite_autoreply_get(struct store *store, const char *user_id, struct pool *pool,
			 struct store_autoreply **autoreply_r);
int sqlite_autoreply_delete(struct store *store, const char *user_id);
int sqlite_targets_set(struct store *store, const char *user_id, const char *joined);
int sqlite_targets_get(struct store *store, const char *user_id, struct pool *pool,
		       const char **joined_r);
int sqlite_counter_add(struct store *store, const char *key, int64_t delta, int64_t ttl_secs,
		       int64_t *value_r);
int sqlite_webhook_enqueue(struct store *store, const char *user_id, const char *url,
			   const char *event, const char *payload);

/* store_sqlite_auth.c: ASPs, TOTP, the auth log (schema step 3) */
int sqlite_asp_create(struct store *store, const char *user_id, const char *description,
		      const char *scopes, const char *password_hash, char id_r[STORE_ID_SIZE]);
int sqlite_asp_list(struct store *store, const char *user_id, struct pool *pool,
		    struct store_asp **asps_r, unsigned int *count_r);
int sqlite_asp_delete(struct store *store, const char *user_id, const char *asp_id);
int sqlite_asp_touch(struct store *store, const char *asp_id, int64_t when);
int sqlite_totp_get(struct store *store, const char *user_id, struct pool *pool,
		    const char **secret_r, bool *enabled_r);
int sqlite_totp_set(struct store *store, const char *user_id, const char *secret, bool enabled);
int sqlite_totp_use(struct store *store, const char *user_id, uint64_t step);
int sqlite_authlog_add(struct store *store, const struct store_authlog_entry *entry);
int sqlite_authlog_list(struct store *store, const char *user_id, int64_t now,
			unsigned int limit, struct pool *pool,
			struct store_authlog_entry **entries_r, unsigned int *count_r);
int sqlite_authlog_purge(struct store *store, int64_t now, unsigned int *purged_r);

/* store_sqlite_api.c: listings, tokens, the user journal (schema step 4) */
void sqlite_user_row(struct pool *pool, sqlite3_stmt *stmt, struct store_user *user);
extern const char sqlite_user_cols[];
extern const char sqlite_message_cols[];
void sqlite_message_row(struct pool *pool, sqlite3_stmt *stmt, struct store_message *msg);
int sqlite_user_list(struct store *store, const char *after_id, bool backwards,
		     unsigned int limit, struct pool *pool, struct store_user **users_r,
		     unsigned int *count_r);
int sqlite_user_count(struct store *store, uint64_t *count_r);
int sqlite_message_page(struct store *store, const char *mailbox_id, uint32_t first,
			uint32_t last, bool descending, unsigned int limit,
			store_message_cb *callback, void *context);
int sqlite_message_tree(struct store *store, const char *message_id, struct pool *pool,
			const unsigned char **tree_r, size_t *len_r);
int sqlite_token_add(struct store *store, const char *user_id, const char *token_hash,
		     int64_t expires);
int sqlite_token_get(struct store *store, const char *token_hash, int64_t now,
		     char user_id_r[STORE_ID_SIZE]);
int sqlite_token_delete(struct store *store, const char *token_hash);
int sqlite_journal_user_since(struct store *store, const char *user_id, int64_t after,
			      unsigned int limit, store_journal_user_cb *callback, void *context);
int sqlite_journal_user_last(struct store *store, const char *user_id, int64_t *position_r);

#endif
