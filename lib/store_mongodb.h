/* Internals shared by the files of the MongoDB store driver
 * (store_mongodb*.c): the per-handle client and collections, error
 * mapping, and small BSON helpers. Collections and field names follow
 * WildDuck; nothing here depends on transactions or change streams, only
 * on MongoDB's atomic single-document writes (findAndModify $inc for UIDs
 * and MODSEQs, unique indexes for names and addresses). */
#ifndef WD_STORE_MONGODB_H
#define WD_STORE_MONGODB_H

#include "store_driver.h"

#include <mongoc/mongoc.h>

enum mongo_col {
	COL_USERS,
	COL_ADDRESSES,
	COL_DOMAINALIASES,
	COL_MAILBOXES,
	COL_MESSAGES,
	COL_JOURNAL,
	COL_ATT_FILES,		/* GridFS bucket "attachments" */
	COL_ATT_CHUNKS,
	COL_FILTERS,
	COL_AUTOREPLIES,
	COL_COUNTERS,
	COL_WEBHOOKQUEUE,
	COL_ASPS,
	COL_AUTHLOG,
	/* counters (uidvalidity) and "setting" objects: every document
	 * needs a distinct {kind, ukey} (the objects' unique index; FerretDB
	 * has no partial index to leave the others out), so a counter
	 * upsert sets kind "#counter" and ukey its name with $setOnInsert */
	COL_SETTINGS,
	COL_TOTPUSED,
	COL_ACCESSTOKENS,
	/* API objects by kind (store_mongodb_objects.c); "setting" objects
	 * share COL_SETTINGS */
	COL_WEBHOOKS,
	COL_DKIM,
	COL_CERTS,
	COL_AUDITS,
	COL_APIOBJECTS,		/* every other kind */
	COL_COUNT
};

struct mongo_store {
	mongoc_client_pool_t *pool;	/* process-wide, not ours */
	mongoc_client_t *client;	/* popped from pool for this handle */
	mongoc_database_t *db;
	mongoc_database_t *att_db;	/* the attachments bucket's database */
	mongoc_collection_t *cols[COL_COUNT];
	int compress_level;
	bool queue_converted;	/* older webhook queue entries renumbered */
};

/* Collection names by enum mongo_col (store_mongodb.c). */
extern const char *const mongo_col_names[COL_COUNT];

static inline struct mongo_store *mongo_ctx(struct store *store)
{
	return store->ctx;
}

static inline mongoc_collection_t *mongo_col(struct store *store, enum mongo_col col)
{
	return mongo_ctx(store)->cols[col];
}

/* Sets the store error from a mongoc error (duplicate key -> EXISTS,
 * network, server selection and not-primary -> TEMPORARY); returns -1. */
int mongo_fail(struct store *store, const bson_error_t *error, const char *what);

/* ObjectId from a validated 24-hex id, and back. */
void mongo_oid(bson_oid_t *oid, const char *id);
void mongo_oid_str(const bson_oid_t *oid, char id_r[STORE_ID_SIZE]);

/* Field readers: missing fields read as NULL / 0 / false / "". */
const char *mongo_str(struct pool *pool, const bson_t *doc, const char *key);
int64_t mongo_int(const bson_t *doc, const char *key);
bool mongo_bool(const bson_t *doc, const char *key);
/* A date field in unix seconds. */
int64_t mongo_date(const bson_t *doc, const char *key);
/* An ObjectId (or string) field as 24 hex digits, "" if missing. */
void mongo_id(const bson_t *doc, const char *key, char id_r[STORE_ID_SIZE]);
/* A binary field, copied into pool (NUL-terminated for convenience). */
const unsigned char *mongo_bin(struct pool *pool, const bson_t *doc, const char *key,
			       size_t *len_r);
/* An array of strings, copied into pool. */
void mongo_strings(struct pool *pool, const bson_t *doc, const char *key,
		   const char *const **list_r, unsigned int *count_r);
/* Appends a string array (NULL entries skipped). */
void mongo_append_strings(bson_t *doc, const char *key, const char *const *list,
			  unsigned int count);
/* Appends a date from unix seconds. */
void mongo_append_date(bson_t *doc, const char *key, int64_t secs);
/* Appends a string, or null if s is NULL. */
void mongo_append_str(bson_t *doc, const char *key, const char *s);

/* The first document matching filter: 1 found (copied into *doc_r, to be
 * destroyed by the caller), 0 not found, -1 error. */
int mongo_find_one(struct store *store, enum mongo_col col, const bson_t *filter,
		   const bson_t *opts, bson_t *doc_r);
/* updateOne/updateMany; *matched_r (may be NULL) gets matchedCount. */
int mongo_update(struct store *store, enum mongo_col col, const bson_t *filter,
		 const bson_t *update, bool many, bool upsert, int64_t *matched_r);
int mongo_delete(struct store *store, enum mongo_col col, const bson_t *filter, bool many,
		 int64_t *deleted_r);
int mongo_insert(struct store *store, enum mongo_col col, const bson_t *doc);
/* findAndModify returning the new document: 1 (doc_r set), 0 none, -1;
 * _sorted: the first of sort's order (sort may be NULL). */
int mongo_find_modify(struct store *store, enum mongo_col col, const bson_t *filter,
		      const bson_t *update, bool upsert, bson_t *doc_r);
int mongo_find_modify_sorted(struct store *store, enum mongo_col col, const bson_t *filter,
			     const bson_t *sort, const bson_t *update, bool upsert,
			     bson_t *doc_r);
int mongo_count(struct store *store, enum mongo_col col, const bson_t *filter,
		int64_t *count_r);
/* Every document filter and opts find, each filled by fill into an array
 * of items of size bytes from pool (*items_r, *count_r set also on -1:
 * what was read). what names the collection in an error. */
typedef void mongo_fill_fn(struct pool *pool, const bson_t *doc, void *item);
int mongo_find_all(struct store *store, enum mongo_col col, const bson_t *filter,
		   const bson_t *opts, struct pool *pool, size_t size, mongo_fill_fn *fill,
		   const char *what, void **items_r, unsigned int *count_r);
/* 0 if the user exists, else -1 (STORE_ERR_NOT_FOUND, or the failure). */
int mongo_user_check(struct store *store, const bson_oid_t *user);
/* The "value" of a counter document after update (an upsert by filter,
 * with an $inc), retried when two first upserts race; name says which
 * counter in an error. */
int mongo_counter_next(struct store *store, enum mongo_col col, const bson_t *filter,
		       const bson_t *update, const char *name, int64_t *value_r);

/* store_mongodb_mailbox.c */
int mongo_mailbox_insert(struct store *store, const char *user_id, const char *path,
			 enum store_special_use special_use, char id_r[STORE_ID_SIZE]);
int mongo_mailbox_create(struct store *store, const char *user_id, const char *path,
			 enum store_special_use special_use, char id_r[STORE_ID_SIZE]);
int mongo_mailbox_get(struct store *store, const char *mailbox_id, const char *user_id,
		      const char *path, struct pool *pool, struct store_mailbox **mailbox_r);
int mongo_mailbox_list(struct store *store, const char *user_id, struct pool *pool,
		       struct store_mailbox **mailboxes_r, unsigned int *count_r);
int mongo_mailbox_rename(struct store *store, const char *mailbox_id, const char *new_path);
int mongo_mailbox_delete(struct store *store, const char *mailbox_id);
int mongo_mailbox_subscribe(struct store *store, const char *mailbox_id, bool subscribed);
int mongo_mailbox_counts(struct store *store, const char *mailbox_id,
			 struct store_mailbox_counts *counts_r);
int mongo_journal_since(struct store *store, const char *mailbox_id, uint64_t since,
			store_journal_cb *callback, void *context);

/* A mailbox's owner and counters, as allocated or read. */
struct mongo_mailbox_state {
	char user[STORE_ID_SIZE];
	uint32_t uid_next, uid_validity;
	uint64_t modify_index;
};
int mongo_mailbox_state(struct store *store, const char *mailbox_id,
			struct mongo_mailbox_state *state_r);
/* Allocates count uids and one modseq with findAndModify $inc: the first
 * new uid is state_r->uid_next, the modseq state_r->modify_index. */
int mongo_mailbox_alloc(struct store *store, const char *mailbox_id, uint32_t count,
			struct mongo_mailbox_state *state_r);
/* Journal entries also carry the owner and a per-user position (a counter
 * on the user document) for the API's user-wide journal. */
int mongo_journal_add(struct store *store, const char *user_id, const char *mailbox_id,
		      enum store_journal_command command, uint32_t uid, uint64_t modseq,
		      const char *message_id, const char *const *flags, unsigned int flags_count);
int mongo_storage_add(struct store *store, const char *user_id, int64_t delta);
int mongo_user_storage_set(struct store *store, const char *user_id, uint64_t expected,
			   uint64_t value, bool *applied_r);
int mongo_quota_check(struct store *store, const char *user_id, uint64_t bytes);
/* Removes every message of a mailbox (attachments released, storage
 * returned), then its journal. */
int mongo_mailbox_purge(struct store *store, const char *mailbox_id);

/* store_mongodb_messages.c */
int mongo_message_append(struct store *store, const char *mailbox_id,
			 const struct store_message_new *msg, unsigned int flags,
			 struct store_append_result *result_r);
int mongo_message_list(struct store *store, const char *mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       store_message_cb *callback, void *context);
int mongo_message_get(struct store *store, const char *mailbox_id, uint32_t uid,
		      struct pool *pool, struct store_message **msg_r);
int mongo_message_content(struct store *store, const char *message_id, struct pool *pool,
			  struct store_message_content **content_r);
int mongo_message_thread_set(struct store *store, const char *mailbox_id, uint32_t uid,
			     const char *thread);
int mongo_attachment_get(struct store *store, const char *attachment_id,
			 struct pool *pool, const unsigned char **data_r, size_t *len_r);
int mongo_attachment_info(struct store *store, const char *attachment_id,
			  struct pool *pool, struct store_attachment_info *info_r);
/* One more reference to an attachment that exists (0), or 1 if it is
 * gone; -1 on error. */
int mongo_attachment_ref(struct store *store, const char *attachment_id);
/* One reference less; the bytes go with the last one. */
int mongo_attachment_unref(struct store *store, const char *attachment_id);
/* Releases the attachments listed in a message document. */
int mongo_message_release(struct store *store, const bson_t *msg_doc);
/* Builds the stored form of a message (fields shared by append and copy). */
void mongo_message_fill(struct store_message *msg, struct pool *pool, const bson_t *doc);

/* store_mongodb_update.c */
int mongo_flags_update(struct store *store, const char *mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       const struct store_flags_update *update, struct pool *pool,
		       struct store_flags_result *result_r);
int mongo_message_copy(struct store *store, const char *src_mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       const char *dst_mailbox_id, unsigned int flags, struct pool *pool,
		       struct store_copy_result *result_r);
int mongo_message_expunge(struct store *store, const char *mailbox_id,
			  const struct store_uid_range *ranges, unsigned int ranges_count,
			  struct pool *pool, uint32_t **uids_r, unsigned int *count_r);

/* store_mongodb_extra.c: delivery and authentication data */
int mongo_filter_add(struct store *store, const char *user_id,
		     const struct store_filter *filter, char id_r[STORE_ID_SIZE]);
int mongo_filter_delete(struct store *store, const char *user_id, const char *filter_id);
int mongo_filter_list(struct store *store, const char *user_id, struct pool *pool,
		      struct store_filter **filters_r, unsigned int *count_r);
int mongo_autoreply_set(struct store *store, const char *user_id,
			const struct store_autoreply *autoreply);
int mongo_autoreply_get(struct store *store, const char *user_id, struct pool *pool,
			struct store_autoreply **autoreply_r);
int mongo_autoreply_delete(struct store *store, const char *user_id);
int mongo_targets_set(struct store *store, const char *user_id, const char *joined);
int mongo_targets_get(struct store *store, const char *user_id, struct pool *pool,
		      const char **joined_r);
int mongo_counter_add(struct store *store, const char *key, int64_t delta, int64_t ttl_secs,
		      int64_t *value_r);
int mongo_asp_create(struct store *store, const char *user_id, const char *description,
		     const char *scopes, const char *password_hash, char id_r[STORE_ID_SIZE]);
int mongo_asp_list(struct store *store, const char *user_id, struct pool *pool,
		   struct store_asp **asps_r, unsigned int *count_r);
int mongo_asp_delete(struct store *store, const char *user_id, const char *asp_id);
int mongo_asp_touch(struct store *store, const char *asp_id, int64_t when);
int mongo_totp_get(struct store *store, const char *user_id, struct pool *pool,
		   const char **secret_r, bool *enabled_r);
int mongo_totp_set(struct store *store, const char *user_id, const char *secret, bool enabled);
int mongo_totp_use(struct store *store, const char *user_id, uint64_t step);
int mongo_authlog_add(struct store *store, const struct store_authlog_entry *entry);
int mongo_authlog_list(struct store *store, const char *user_id, int64_t now,
		       unsigned int limit, struct pool *pool,
		       struct store_authlog_entry **entries_r, unsigned int *count_r);
int mongo_authlog_purge(struct store *store, int64_t now, unsigned int *purged_r);
/* store_mongodb_api.c: listings, access tokens, the user-wide journal */
int mongo_user_list(struct store *store, const char *after_id, bool backwards,
		    unsigned int limit, struct pool *pool, struct store_user **users_r,
		    unsigned int *count_r);
int mongo_user_count(struct store *store, uint64_t *count_r);
int mongo_message_page(struct store *store, const char *mailbox_id, uint32_t first,
		       uint32_t last, bool descending, unsigned int limit,
		       store_message_cb *callback, void *context);
int mongo_message_tree(struct store *store, const char *message_id, struct pool *pool,
		       const unsigned char **tree_r, size_t *len_r);
int mongo_token_add(struct store *store, const char *user_id, const char *token_hash,
		    int64_t expires);
int mongo_token_get(struct store *store, const char *token_hash, int64_t now,
		    char user_id_r[STORE_ID_SIZE]);
int mongo_token_delete(struct store *store, const char *token_hash);
int mongo_journal_user_since(struct store *store, const char *user_id, int64_t after,
			     unsigned int limit, store_journal_user_cb *callback, void *context);
int mongo_journal_user_last(struct store *store, const char *user_id, int64_t *position_r);
/* store_mongodb.c: a user document as struct store_user. */
void mongo_user_fill(struct pool *pool, const bson_t *doc, struct store_user *user);
/* store_mongodb_mailbox.c: "EXISTS", "EXPUNGE", "FETCH" back to the enum. */
enum store_journal_command mongo_journal_command(const char *name);

/* Removes what the user owns in the collections of this file. */
int mongo_extra_user_delete(struct store *store, const bson_oid_t *user);

/* store_mongodb_objects.c: API objects and the webhook queue's sender */
int mongo_object_add(struct store *store, const char *kind, const char *user_id,
		     const char *key, const char *doc, bool unique, char id_r[STORE_ID_SIZE]);
int mongo_object_list(struct store *store, const char *kind, const char *user_id,
		      const char *key, struct pool *pool, struct store_object **objects_r,
		      unsigned int *count_r);
int mongo_object_get(struct store *store, const char *kind, const char *id,
		     struct pool *pool, struct store_object **object_r);
int mongo_object_delete(struct store *store, const char *kind, const char *id);
int mongo_object_update(struct store *store, const char *kind, const char *id,
			const char *doc);
int mongo_webhook_enqueue(struct store *store, const char *user_id, const char *url,
			  const char *event, const char *payload);
int mongo_webhook_claim(struct store *store, int64_t now, int64_t lease_secs,
			unsigned int limit, struct pool *pool,
			struct store_webhook_call **calls_r, unsigned int *count_r);
int mongo_webhook_done(struct store *store, int64_t id);
int mongo_webhook_retry(struct store *store, int64_t id, int64_t next_try);
/* Removes the user's API objects. */
int mongo_objects_user_delete(struct store *store, const bson_oid_t *user);

#endif
