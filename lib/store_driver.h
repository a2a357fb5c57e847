/* What a store driver implements: the vtable store.c dispatches to, and the
 * helpers drivers share (errors, flag lists, validation). Only store.c and
 * the store_<driver>*.c files include it. */
#ifndef WD_STORE_DRIVER_H
#define WD_STORE_DRIVER_H

#include "store.h"

#include <stdarg.h>

struct store_driver {
	const char *name;
	/* fills store->ctx; returns -1 with store_set_error() on failure */
	int (*open)(struct store *store, const struct store_settings *set);
	void (*close)(struct store *store);

	int (*user_create)(struct store *store, const struct store_user *user,
			   const char *unameview, const char *addrview, const char *domain,
			   char id_r[STORE_ID_SIZE]);
	int (*user_get)(struct store *store, const char *user_id, const char *unameview,
			struct pool *pool, struct store_user **user_r);
	int (*user_update)(struct store *store, const char *user_id, unsigned int fields,
			   const struct store_user *user);
	int (*user_delete)(struct store *store, const char *user_id);

	int (*address_add)(struct store *store, const char *user_id, const char *address,
			   const char *addrview, const char *domain, bool wildcard, bool main);
	int (*address_delete)(struct store *store, const char *address);
	int (*address_list)(struct store *store, const char *user_id, struct pool *pool,
			    struct store_address **addresses_r, unsigned int *count_r);
	/* by the exact normalised address (addrview NULL) or by addrview */
	int (*address_find)(struct store *store, const char *address, const char *addrview,
			    struct pool *pool, struct store_address **address_r);
	/* the wildcard addresses of a domain (both "*@d" and "p*@d") */
	int (*address_wildcards)(struct store *store, const char *domain, struct pool *pool,
				 struct store_address **addresses_r, unsigned int *count_r);
	int (*domain_alias_add)(struct store *store, const char *alias, const char *domain);
	int (*domain_alias_delete)(struct store *store, const char *alias);
	int (*domain_alias_get)(struct store *store, const char *alias, struct pool *pool,
				const char **domain_r);

	int (*mailbox_create)(struct store *store, const char *user_id, const char *path,
			      enum store_special_use special_use, char id_r[STORE_ID_SIZE]);
	int (*mailbox_get)(struct store *store, const char *mailbox_id, const char *user_id,
			   const char *path, struct pool *pool, struct store_mailbox **mailbox_r);
	int (*mailbox_list)(struct store *store, const char *user_id, struct pool *pool,
			    struct store_mailbox **mailboxes_r, unsigned int *count_r);
	int (*mailbox_rename)(struct store *store, const char *mailbox_id, const char *new_path);
	int (*mailbox_delete)(struct store *store, const char *mailbox_id);
	int (*mailbox_subscribe)(struct store *store, const char *mailbox_id, bool subscribed);
	int (*mailbox_counts)(struct store *store, const char *mailbox_id,
			      struct store_mailbox_counts *counts_r);

	int (*message_append)(struct store *store, const char *mailbox_id,
			      const struct store_message_new *msg, unsigned int flags,
			      struct store_append_result *result_r);
	int (*message_list)(struct store *store, const char *mailbox_id,
			    const struct store_uid_range *ranges, unsigned int ranges_count,
			    store_message_cb *callback, void *context);
	int (*message_get)(struct store *store, const char *mailbox_id, uint32_t uid,
			   struct pool *pool, struct store_message **msg_r);
	int (*message_content)(struct store *store, const char *message_id, struct pool *pool,
			       struct store_message_content **content_r);
	int (*flags_update)(struct store *store, const char *mailbox_id,
			    const struct store_uid_range *ranges, unsigned int ranges_count,
			    const struct store_flags_update *update, struct pool *pool,
			    struct store_flags_result *result_r);
	int (*message_copy)(struct store *store, const char *src_mailbox_id,
			    const struct store_uid_range *ranges, unsigned int ranges_count,
			    const char *dst_mailbox_id, unsigned int flags, struct pool *pool,
			    struct store_copy_result *result_r);
	int (*message_expunge)(struct store *store, const char *mailbox_id,
			       const struct store_uid_range *ranges, unsigned int ranges_count,
			       struct pool *pool, uint32_t **uids_r, unsigned int *count_r);

	int (*attachment_get)(struct store *store, const char *attachment_id,
			      struct pool *pool, const unsigned char **data_r, size_t *len_r);
	int (*attachment_info)(struct store *store, const char *attachment_id,
			       struct pool *pool, struct store_attachment_info *info_r);
	/* Optional: bytes [offset, offset+len) of an attachment as given,
	 * without reading all of it (NULL: the dispatcher slices a full read). */
	int (*attachment_read)(struct store *store, const char *attachment_id, uint64_t offset,
			       size_t len, unsigned char *buf);

	int (*journal_since)(struct store *store, const char *mailbox_id, uint64_t since,
			     store_journal_cb *callback, void *context);

	/* delivery (store_delivery.c); ids are checked by the dispatcher */
	int (*filter_add)(struct store *store, const char *user_id,
			  const struct store_filter *filter, char id_r[STORE_ID_SIZE]);
	int (*filter_delete)(struct store *store, const char *user_id, const char *filter_id);
	int (*filter_list)(struct store *store, const char *user_id, struct pool *pool,
			   struct store_filter **filters_r, unsigned int *count_r);
	int (*autoreply_set)(struct store *store, const char *user_id,
			     const struct store_autoreply *autoreply);
	int (*autoreply_get)(struct store *store, const char *user_id, struct pool *pool,
			     struct store_autoreply **autoreply_r);
	int (*autoreply_delete)(struct store *store, const char *user_id);
	/* targets joined by '\n' (NULL: none) */
	int (*targets_set)(struct store *store, const char *user_id, const char *joined);
	int (*targets_get)(struct store *store, const char *user_id, struct pool *pool,
			   const char **joined_r);
	int (*counter_add)(struct store *store, const char *key, int64_t delta, int64_t ttl_secs,
			   int64_t *value_r);
	int (*webhook_enqueue)(struct store *store, const char *user_id, const char *url,
			       const char *event, const char *payload);

	/* authentication data (store_auth.c); scopes arrive validated and
	 * joined by spaces */
	int (*asp_create)(struct store *store, const char *user_id, const char *description,
			  const char *scopes, const char *password_hash, char id_r[STORE_ID_SIZE]);
	int (*asp_list)(struct store *store, const char *user_id, struct pool *pool,
			struct store_asp **asps_r, unsigned int *count_r);
	int (*asp_delete)(struct store *store, const char *user_id, const char *asp_id);
	int (*asp_touch)(struct store *store, const char *asp_id, int64_t when);
	int (*totp_get)(struct store *store, const char *user_id, struct pool *pool,
			const char **secret_r, bool *enabled_r);
	int (*totp_set)(struct store *store, const char *user_id, const char *secret,
			bool enabled);
	int (*totp_use)(struct store *store, const char *user_id, uint64_t step);
	int (*authlog_add)(struct store *store, const struct store_authlog_entry *entry);
	int (*authlog_list)(struct store *store, const char *user_id, int64_t now,
			    unsigned int limit, struct pool *pool,
			    struct store_authlog_entry **entries_r, unsigned int *count_r);
	int (*authlog_purge)(struct store *store, int64_t now, unsigned int *purged_r);

	/* API (store_api.c); message_page and message_tree may be NULL (the
	 * dispatcher then falls back to message_list / message_content) */
	int (*user_list)(struct store *store, const char *after_id, bool backwards,
			 unsigned int limit, struct pool *pool, struct store_user **users_r,
			 unsigned int *count_r);
	int (*user_count)(struct store *store, uint64_t *count_r);
	/* may be NULL; domain and query normalised, either may be NULL */
	int (*address_page)(struct store *store, const char *domain, const char *query,
			    const char *after, bool backwards, unsigned int limit,
			    struct pool *pool, struct store_address **addresses_r,
			    unsigned int *count_r);
	int (*message_page)(struct store *store, const char *mailbox_id, uint32_t first,
			    uint32_t last, bool descending, unsigned int limit,
			    store_message_cb *callback, void *context);
	int (*message_tree)(struct store *store, const char *message_id, struct pool *pool,
			    const unsigned char **tree_r, size_t *len_r);
	int (*token_add)(struct store *store, const char *user_id, const char *token_hash,
			 int64_t expires);
	int (*token_get)(struct store *store, const char *token_hash, int64_t now,
			 char user_id_r[STORE_ID_SIZE]);
	int (*token_delete)(struct store *store, const char *token_hash);
	int (*journal_user_since)(struct store *store, const char *user_id, int64_t after,
				  unsigned int limit, store_journal_user_cb *callback,
				  void *context);
	int (*journal_user_last)(struct store *store, const char *user_id, int64_t *position_r);

	/* API objects and the webhook queue (store_objects.c); may be NULL */
	int (*object_add)(struct store *store, const char *kind, const char *user_id,
			  const char *key, const char *doc, bool unique, char id_r[STORE_ID_SIZE]);
	int (*object_list)(struct store *store, const char *kind, const char *user_id,
			   const char *key, struct pool *pool, struct store_object **objects_r,
			   unsigned int *count_r);
	int (*object_get)(struct store *store, const char *kind, const char *id,
			  struct pool *pool, struct store_object **object_r);
	int (*object_delete)(struct store *store, const char *kind, const char *id);
	int (*object_update)(struct store *store, const char *kind, const char *id,
			     const char *doc);
	int (*webhook_claim)(struct store *store, int64_t now, int64_t lease_secs,
			     unsigned int limit, struct pool *pool,
			     struct store_webhook_call **calls_r, unsigned int *count_r);
	int (*webhook_done)(struct store *store, int64_t id);
	int (*webhook_retry)(struct store *store, int64_t id, int64_t next_try);

	/* store_thread.h; may be NULL */
	int (*message_thread_set)(struct store *store, const char *mailbox_id, uint32_t uid,
				  const char *thread);
	/* store_quota.h; may be NULL. Sets storage used to value if it is
	 * expected (a negative stored value counts as 0); *applied_r false
	 * if not. */
	int (*user_storage_set)(struct store *store, const char *user_id, uint64_t expected,
				uint64_t value, bool *applied_r);
};

struct store {
	const struct store_driver *driver;
	void *ctx;			/* the driver's handle */
	enum store_error error;
	char error_msg[256];
};

extern const struct store_driver store_driver_sqlite;
extern const struct store_driver store_driver_mongodb;

/* The frame the dispatchers (store*.c) put around one driver call: begin
 * clears the last error and logs the call at debug level; end logs a
 * failure (error level for TEMPORARY and INTERNAL, the faults of the
 * server) and hands its text to *error_r; reject fails a call before it
 * reaches the driver. end and reject return ret / -1. */
void store_call_begin(struct store *store, const char *op, const char *arg);
int store_call_end(struct store *store, const char *op, int ret, const char **error_r);
int store_call_reject(struct store *store, const char *op, enum store_error error,
		      const char *msg, const char **error_r);

/* Records the error of the current call; always returns -1. */
int store_set_error(struct store *store, enum store_error error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Flag lists. Flags compare without case (RFC 3501); the first spelling
 * seen is kept. A list is stored as one space-separated string. */
bool store_flags_contains(const char *const *flags, unsigned int count, const char *flag);
/* Applies op to a current list (space-separated); the result string is
 * allocated from pool. */
const char *store_flags_apply(struct pool *pool, const char *current, enum store_flags_op op,
			      const char *const *flags, unsigned int count);
/* Joins an array into the stored form, dropping duplicates. */
const char *store_flags_join(struct pool *pool, const char *const *flags, unsigned int count);
/* Splits the stored form into an array allocated from pool. */
void store_flags_split(struct pool *pool, const char *joined, const char *const **flags_r,
		       unsigned int *count_r);
/* True if the stored form holds this flag (without case). */
bool store_flags_has(const char *joined, const char *flag);

/* True for 24 lowercase hex digits (64 for an attachment id). */
bool store_id_valid(const char *id);
bool store_attachment_id_valid(const char *id);
/* True if uid lies in one of the ranges (or ranges_count is 0). */
bool store_uid_in_ranges(uint32_t uid, const struct store_uid_range *ranges,
			 unsigned int ranges_count);

#endif
