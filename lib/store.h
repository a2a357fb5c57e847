/* The one interface to all durable state (users, addresses, mailboxes,
 * messages, attachments, the change journal), in mail terms; a driver
 * ("sqlite", later "mongodb") implements it behind store.c's dispatcher.
 * Calls block: run them on store threads, one struct store per thread. */
#ifndef WD_STORE_H
#define WD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;
struct store;

/* 24 hex digits (ObjectId-like) plus NUL. */
#define STORE_ID_SIZE 25
/* An attachment id: 64 hex digits of the SHA-256 of its bytes, plus NUL. */
#define STORE_ATTACHMENT_ID_SIZE 65

/* What went wrong, for the protocols to map to NO / -ERR / 4xx / 5xx. */
enum store_error {
	STORE_OK = 0,
	STORE_ERR_NOT_FOUND,	/* no such user, mailbox, message, ... */
	STORE_ERR_EXISTS,	/* unique name or address already taken */
	STORE_ERR_OVER_QUOTA,	/* the user's storage quota would be exceeded */
	STORE_ERR_TEMPORARY,	/* busy or unavailable: retry later (4xx) */
	STORE_ERR_INVALID,	/* malformed input (bad address, path, ...) */
	STORE_ERR_INTERNAL,	/* a bug or a corrupt store */
};

struct store_settings {
	const char *driver;		/* "sqlite" (default) or "mongodb" */
	/* sqlite: the database file (its directory must exist);
	 * mongodb: the connection URI */
	const char *path;
	const char *database;		/* mongodb database name */
	/* mongodb: database of the attachments bucket (e.g. on other disks);
	 * NULL or "": the same database */
	const char *attachments_database;
	unsigned int busy_timeout_msecs;/* 0: 5000 */
	/* zstd level for attachments at rest, 0: store uncompressed */
	int compress_level;
	/* write durability: true gives up "no acknowledged mail lost on power
	 * loss" for speed (sqlite synchronous=NORMAL); tests and benches only */
	bool relaxed_sync;
};

struct config;
/* Fills *set (zeroed first) from the store.* options of a loaded config:
 * the driver, and the file or the MongoDB URI and database it names. */
void store_settings_from_config(struct store_settings *set, const struct config *config);

/* Opens a store handle. Never call before fork(): open one per process and
 * per thread after it. */
int store_open(const struct store_settings *set, struct store **store_r,
	       const char **error_r);
void store_close(struct store **store);
/* The error code of the last failed call on this handle. */
enum store_error store_last_error(const struct store *store);
const char *store_error_name(enum store_error error);
/* Makes a new ObjectId-like id (time + random), unique across processes. */
void store_id_generate(char id_r[STORE_ID_SIZE]);

/* ---- users ---- */

struct store_user_limits {
	uint32_t imap_max_connections;	/* 0: server default */
	uint32_t recipients_per_day;
	uint32_t forwards_per_day;
};

struct store_user {
	char id[STORE_ID_SIZE];
	const char *username;
	/* opaque to everything but the auth daemon */
	const char *password_hash;
	const char *address;		/* main address (normalised), or NULL */
	uint64_t quota;			/* bytes, 0: unlimited */
	uint64_t storage_used;		/* bytes, exact */
	bool disabled, suspended;
	const char *const *tags;
	unsigned int tags_count;
	struct store_user_limits limits;
	const char *settings;		/* other settings, JSON object text or NULL */
	int64_t created;		/* unix time, seconds */
};

/* Creates the user, its six mailboxes (INBOX, Sent Mail, Drafts, Trash,
 * Junk, Archive) and its main address (if user->address is set), all or
 * nothing. id, storage_used and created of *user are ignored. */
int store_user_create(struct store *store, const struct store_user *user,
		      char id_r[STORE_ID_SIZE], const char **error_r);
int store_user_get(struct store *store, const char *user_id, struct pool *pool,
		   struct store_user **user_r, const char **error_r);
/* Matches the username without case and dots, as WildDuck does. */
int store_user_get_by_username(struct store *store, const char *username,
			       struct pool *pool, struct store_user **user_r,
			       const char **error_r);

enum store_user_field {
	STORE_USER_PASSWORD	= 1 << 0,
	STORE_USER_QUOTA	= 1 << 1,
	STORE_USER_DISABLED	= 1 << 2,
	STORE_USER_SUSPENDED	= 1 << 3,
	STORE_USER_TAGS		= 1 << 4,
	STORE_USER_LIMITS	= 1 << 5,
	STORE_USER_SETTINGS	= 1 << 6,
};
/* Changes the fields named in the store_user_field mask to their values in
 * *user. */
int store_user_update(struct store *store, const char *user_id, unsigned int fields,
		      const struct store_user *user, const char **error_r);
/* Removes the user with its addresses, mailboxes and messages, and releases
 * the attachments they referenced. */
int store_user_delete(struct store *store, const char *user_id, const char **error_r);

/* ---- addresses ---- */

struct store_address {
	char id[STORE_ID_SIZE];
	char user[STORE_ID_SIZE];
	const char *address;		/* normalised, as shown */
	bool main;
	int64_t created;
};

enum store_address_match {
	STORE_ADDRESS_MATCH_EXACT,	/* the address as given */
	STORE_ADDRESS_MATCH_NORMALIZED,	/* without dots and +label */
	STORE_ADDRESS_MATCH_PREFIX,	/* a prefix*@domain wildcard */
	STORE_ADDRESS_MATCH_WILDCARD,	/* *@domain */
};

struct store_address_resolved {
	char user[STORE_ID_SIZE];
	const char *address;		/* the stored address that matched */
	const char *label;		/* "+label" of the input without '+', or NULL */
	enum store_address_match match;
	bool via_domain_alias;
};

/* Adds an address (wildcards "*@d" and "prefix*@d" allowed) to a user;
 * main makes it the user's main address. */
int store_address_add(struct store *store, const char *user_id, const char *address,
		      bool main, const char **error_r);
int store_address_delete(struct store *store, const char *address, const char **error_r);
int store_address_list(struct store *store, const char *user_id, struct pool *pool,
		       struct store_address **addresses_r, unsigned int *count_r,
		       const char **error_r);
/* Finds the recipient of a delivery: exact address, then without dots and
 * +label, then prefix*@domain wildcards (longest prefix first), then
 * *@domain, then all of that again through a domain alias. */
int store_address_resolve(struct store *store, const char *address, struct pool *pool,
			  struct store_address_resolved *resolved_r, const char **error_r);

/* Mail to anything@alias is delivered as if sent to anything@domain. */
int store_domain_alias_add(struct store *store, const char *alias, const char *domain,
			   const char **error_r);
int store_domain_alias_delete(struct store *store, const char *alias,
			      const char **error_r);
/* The domain an alias points to (NOT_FOUND if it is no alias). */
int store_domain_alias_get(struct store *store, const char *alias, struct pool *pool,
			   const char **domain_r, const char **error_r);

/* ---- mailboxes ---- */

enum store_special_use {
	STORE_SPECIAL_NONE = 0,
	STORE_SPECIAL_INBOX,
	STORE_SPECIAL_SENT,
	STORE_SPECIAL_DRAFTS,
	STORE_SPECIAL_TRASH,
	STORE_SPECIAL_JUNK,
	STORE_SPECIAL_ARCHIVE,
};
/* "\\Sent" etc.; "\\Inbox" for INBOX, NULL for NONE. */
const char *store_special_use_name(enum store_special_use use);

struct store_mailbox {
	char id[STORE_ID_SIZE];
	char user[STORE_ID_SIZE];
	const char *path;		/* UTF-8, '/' separates levels */
	enum store_special_use special_use;
	uint32_t uid_validity;
	uint32_t uid_next;
	uint64_t modify_index;		/* HIGHESTMODSEQ */
	bool subscribed;
	int64_t retention_msecs;	/* 0: keep forever */
};

/* Creates one mailbox (parents are not created). */
int store_mailbox_create(struct store *store, const char *user_id, const char *path,
			 enum store_special_use special_use, char id_r[STORE_ID_SIZE],
			 const char **error_r);
int store_mailbox_get(struct store *store, const char *mailbox_id, struct pool *pool,
		      struct store_mailbox **mailbox_r, const char **error_r);
int store_mailbox_get_by_path(struct store *store, const char *user_id, const char *path,
			      struct pool *pool, struct store_mailbox **mailbox_r,
			      const char **error_r);
/* All mailboxes of a user, ordered by path. */
int store_mailbox_list(struct store *store, const char *user_id, struct pool *pool,
		       struct store_mailbox **mailboxes_r, unsigned int *count_r,
		       const char **error_r);
/* Renames a mailbox and every mailbox below it ("a" -> "b" also moves
 * "a/x" to "b/x"), keeping their UIDVALIDITY. EXISTS if any new path is
 * taken; INBOX's special rename is the IMAP layer's job. */
int store_mailbox_rename(struct store *store, const char *mailbox_id, const char *new_path,
			 const char **error_r);
/* Removes the mailbox (not its children) and its messages, releasing their
 * attachments and storage. */
int store_mailbox_delete(struct store *store, const char *mailbox_id, const char **error_r);
int store_mailbox_subscribe(struct store *store, const char *mailbox_id, bool subscribed,
			    const char **error_r);

struct store_mailbox_counts {
	uint32_t messages, unseen, deleted;
	uint32_t uid_next, uid_validity;
	uint64_t highest_modseq;
	uint64_t size;			/* bytes of all messages */
};
int store_mailbox_counts(struct store *store, const char *mailbox_id,
			 struct store_mailbox_counts *counts_r, const char **error_r);

/* ---- messages ---- */

/* Inclusive UID range; {1, UINT32_MAX} is "1:*". */
struct store_uid_range {
	uint32_t first, last;
};

/* Bytes of an attachment as the MIME layer cut them out. */
struct store_attachment {
	char id[STORE_ATTACHMENT_ID_SIZE];
	const unsigned char *data;
	size_t len;
};

struct store_message_new {
	int64_t idate;			/* INTERNALDATE, unix seconds */
	int64_t hdate;			/* Date: header, unix seconds */
	uint64_t size;			/* RFC822.SIZE, counted against quota */
	const char *msgid, *subject;	/* may be NULL */
	const char *envelope;		/* cached ENVELOPE, may be NULL */
	const char *bodystructure;	/* cached BODYSTRUCTURE, may be NULL */
	const char *thread;		/* thread id, may be NULL */
	const char *const *flags;	/* system flags and keywords */
	unsigned int flags_count;
	const unsigned char *tree;	/* the MIME tree blob, opaque */
	size_t tree_len;
	const struct store_attachment *attachments;
	unsigned int attachments_count;
};

enum store_append_flags {
	STORE_APPEND_CHECK_QUOTA = 1 << 0,	/* fail with OVER_QUOTA */
};

struct store_append_result {
	char id[STORE_ID_SIZE];
	uint32_t uid, uid_validity;
	uint64_t modseq;
};

/* Appends a message: uid = uidNext++, modseq = ++modifyIndex, attachments
 * stored once and referenced, storage used grows by msg->size, EXISTS is
 * journalled. */
int store_message_append(struct store *store, const char *mailbox_id,
			 const struct store_message_new *msg, unsigned int flags,
			 struct store_append_result *result_r, const char **error_r);

struct store_message {
	char id[STORE_ID_SIZE];
	char mailbox[STORE_ID_SIZE];
	char user[STORE_ID_SIZE];
	uint32_t uid;
	uint64_t modseq;
	const char *const *flags;
	unsigned int flags_count;
	bool seen, flagged, deleted, draft;
	int64_t idate, hdate;
	uint64_t size;
	const char *msgid, *subject, *envelope, *bodystructure, *thread;
};

/* Called for each message in uid order; the message is valid only during
 * the call. Return non-zero to stop early. Do not call the store from the
 * callback and keep it short: a read snapshot is held while it runs. */
typedef int store_message_cb(const struct store_message *msg, void *context);

/* Messages with uids in the ranges (NULL, 0: all), in uid order. */
int store_message_list(struct store *store, const char *mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       store_message_cb *callback, void *context, const char **error_r);
int store_message_get(struct store *store, const char *mailbox_id, uint32_t uid,
		      struct pool *pool, struct store_message **msg_r,
		      const char **error_r);

struct store_message_content {
	const unsigned char *tree;
	size_t tree_len;
	struct store_attachment *attachments;	/* decompressed bytes */
	unsigned int attachments_count;
};
/* The tree blob and attachments of a message, by message id. */
int store_message_content(struct store *store, const char *message_id, struct pool *pool,
			  struct store_message_content **content_r, const char **error_r);

enum store_flags_op {
	STORE_FLAGS_SET,
	STORE_FLAGS_ADD,
	STORE_FLAGS_REMOVE,
};

struct store_flags_update {
	enum store_flags_op op;
	const char *const *flags;
	unsigned int flags_count;
	/* CONDSTORE UNCHANGEDSINCE; 0: unconditional */
	uint64_t unchanged_since;
};

struct store_flags_changed {
	uint32_t uid;
	uint64_t modseq;
	const char *const *flags;	/* the new flags */
	unsigned int flags_count;
};

struct store_flags_result {
	/* messages whose flags changed (all get one new modseq) */
	struct store_flags_changed *changed;
	unsigned int changed_count;
	/* uids that failed UNCHANGEDSINCE (RFC 7162 MODIFIED) */
	uint32_t *modified;
	unsigned int modified_count;
	uint64_t modseq;		/* the new modseq, 0 if nothing changed */
};

/* Sets, adds or removes flags over the uid ranges; messages whose flags
 * really change get a new modseq and a FLAGS journal entry. Results are
 * allocated from pool. */
int store_flags_update(struct store *store, const char *mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       const struct store_flags_update *update, struct pool *pool,
		       struct store_flags_result *result_r, const char **error_r);

struct store_uid_map {
	uint32_t src_uid, dst_uid;
};

struct store_copy_result {
	struct store_uid_map *uids;	/* in source uid order (COPYUID) */
	unsigned int uids_count;
	uint32_t dst_uid_validity;
};

enum store_copy_flags {
	STORE_COPY_MOVE = 1 << 0,	/* expunge the sources (RFC 6851) */
	STORE_COPY_CHECK_QUOTA = 1 << 1,
};

/* Copies (or moves) the messages in ranges to another mailbox: new uids
 * and modseqs there, EXISTS journalled in the target and, for a move,
 * EXPUNGE in the source. A copy references the attachments again. */
int store_message_copy(struct store *store, const char *src_mailbox_id,
		       const struct store_uid_range *ranges, unsigned int ranges_count,
		       const char *dst_mailbox_id, unsigned int flags, struct pool *pool,
		       struct store_copy_result *result_r, const char **error_r);

/* Removes the \Deleted messages (only those in ranges if ranges_count > 0:
 * UID EXPUNGE), journals EXPUNGE, frees storage and attachments. The
 * expunged uids (ascending) are allocated from pool. */
int store_message_expunge(struct store *store, const char *mailbox_id,
			  const struct store_uid_range *ranges, unsigned int ranges_count,
			  struct pool *pool, uint32_t **uids_r, unsigned int *count_r,
			  const char **error_r);

/* ---- attachments ---- */

struct store_attachment_info {
	uint64_t size;			/* bytes as given */
	uint64_t stored_size;		/* bytes at rest */
	uint32_t refcount;
	const char *codec;		/* "none" or "zstd" */
};
int store_attachment_get(struct store *store, const char *attachment_id, struct pool *pool,
			 const unsigned char **data_r, size_t *len_r, const char **error_r);
int store_attachment_info(struct store *store, const char *attachment_id, struct pool *pool,
			  struct store_attachment_info *info_r, const char **error_r);
/* Copies bytes [offset, offset+len) of an attachment (as given, i.e.
 * decompressed) into buf: lets a server stream a big body in slices. */
int store_attachment_read(struct store *store, const char *attachment_id, uint64_t offset,
			  size_t len, unsigned char *buf, const char **error_r);

/* ---- journal ---- */

enum store_journal_command {
	STORE_JOURNAL_EXISTS = 1,
	STORE_JOURNAL_EXPUNGE,
	STORE_JOURNAL_FLAGS,
	/* Mailbox changes: store_mailbox_create(), one RENAME per mailbox a
	 * rename moves (children too), store_mailbox_delete(). Only the
	 * user-wide journal (store_journal_user_since()) returns them, with the
	 * mailbox's id as the entry's mailbox, and path set; uid and modseq 0. */
	STORE_JOURNAL_MAILBOX_CREATE,
	STORE_JOURNAL_MAILBOX_RENAME,
	STORE_JOURNAL_MAILBOX_DELETE,
};

struct store_journal_entry {
	enum store_journal_command command;
	uint32_t uid;
	uint64_t modseq;
	const char *message;		/* message id */
	const char *const *flags;	/* EXISTS, FLAGS: the flags then */
	unsigned int flags_count;
	const char *path;		/* MAILBOX_*: the path (after a rename) */
};

typedef int store_journal_cb(const struct store_journal_entry *entry, void *context);

/* Message entries (EXISTS, EXPUNGE, FLAGS) of the mailbox with modseq >
 * since, in modseq order. */
int store_journal_since(struct store *store, const char *mailbox_id, uint64_t since,
			store_journal_cb *callback, void *context, const char **error_r);

/* ---- delivery: filters, autoreplies, forwarding, counters, webhooks ----
 * What LMTP applies to each delivered message (store_delivery.c); the API
 * manages them. */

/* A server-side filter: when every set query field matches, the actions
 * apply. Text queries match as substrings without case. */
struct store_filter {
	char id[STORE_ID_SIZE];
	char user[STORE_ID_SIZE];
	const char *name;		/* may be NULL */
	/* query; NULL or "": any */
	const char *from, *to, *subject, *list_id, *text;
	int has_attachment;		/* -1: any, 0: none, 1: at least one */
	int64_t size;			/* > 0: larger than, < 0: smaller than -size */
	/* actions; -1: leave as is */
	int seen, flag, spam;		/* spam 1: to Junk, 0: never Junk */
	bool delete_message;		/* drop it, acknowledged as delivered */
	const char *mailbox;		/* mailbox id to store into, or NULL */
	const char *forward;		/* targets separated by ',' or NULL */
	const char *webhook;		/* URL called with the message, or NULL */
	bool disabled;
	int64_t created;
};

/* Adds a filter (id, user and created of *filter are ignored). */
int store_filter_add(struct store *store, const char *user_id,
		     const struct store_filter *filter, char id_r[STORE_ID_SIZE],
		     const char **error_r);
int store_filter_delete(struct store *store, const char *user_id, const char *filter_id,
			const char **error_r);
/* The user's filters in the order they were added. */
int store_filter_list(struct store *store, const char *user_id, struct pool *pool,
		      struct store_filter **filters_r, unsigned int *count_r,
		      const char **error_r);

/* Vacation reply of a user (one per user). */
struct store_autoreply {
	bool status;			/* enabled */
	int64_t start, end;		/* unix seconds, 0: open */
	const char *name;		/* From: display name, may be NULL */
	const char *subject, *text, *html; /* may be NULL */
	int64_t created;
};
int store_autoreply_set(struct store *store, const char *user_id,
			const struct store_autoreply *autoreply, const char **error_r);
/* NOT_FOUND if the user has none. */
int store_autoreply_get(struct store *store, const char *user_id, struct pool *pool,
			struct store_autoreply **autoreply_r, const char **error_r);
int store_autoreply_delete(struct store *store, const char *user_id, const char **error_r);

/* Where all mail of a user is forwarded as well ("addr@domain", later
 * "smtp://host:port" relays); count 0 removes them. */
int store_user_targets_set(struct store *store, const char *user_id,
			   const char *const *targets, unsigned int count, const char **error_r);
int store_user_targets_get(struct store *store, const char *user_id, struct pool *pool,
			   const char *const **targets_r, unsigned int *count_r,
			   const char **error_r);

/* Forwarded addresses (store_forwarded.c): an address with forwarding
 * targets and no mailbox (WildDuck's "forwarded" address). Matched by its
 * delivery key (dots and +label ignored). Set replaces the targets; count
 * 0 removes the address. Get gives count 0 when there is none, and the
 * address as it was set (address_r may be NULL). */
int store_forwarded_set(struct store *store, const char *address, const char *const *targets,
			unsigned int count, const char **error_r);
int store_forwarded_get(struct store *store, const char *address, struct pool *pool,
			const char **address_r, const char *const **targets_r,
			unsigned int *count_r, const char **error_r);
/* The same by the API's id: add refuses an address already forwarded
 * (EXISTS) and gives the new id; update replaces the targets (count >= 1)
 * keeping the id; list gives all of them ordered by the bytes of their
 * address as it was set. */
struct store_forwarded {
	char id[STORE_ID_SIZE];
	const char *address;
	const char *const *targets;
	unsigned int count;
	int64_t created;
};
int store_forwarded_add(struct store *store, const char *address, const char *const *targets,
			unsigned int count, char id_r[STORE_ID_SIZE], const char **error_r);
int store_forwarded_get_id(struct store *store, const char *id, struct pool *pool,
			   struct store_forwarded *fwd_r, const char **error_r);
int store_forwarded_update_id(struct store *store, const char *id,
			      const char *const *targets, unsigned int count,
			      const char **error_r);
int store_forwarded_delete_id(struct store *store, const char *id, const char **error_r);
int store_forwarded_list(struct store *store, struct pool *pool,
			 struct store_forwarded **list_r, unsigned int *count_r,
			 const char **error_r);

/* Adds delta to a named counter and returns its new value. A counter
 * starts at 0 and is forgotten ttl_secs after it was created, like a
 * Redis INCRBY + EXPIRE NX (used where Redis is not configured). */
int store_counter_add(struct store *store, const char *key, int64_t delta, int64_t ttl_secs,
		      int64_t *value_r, const char **error_r);

/* Queues a webhook call (url, event name, JSON payload) for the API's
 * sender. */
int store_webhook_enqueue(struct store *store, const char *user_id, const char *url,
			  const char *event, const char *payload, const char **error_r);

/* ---- authentication data (wd-auth reads, the API and wdctl write) ---- */

/* Application-specific password: a generated password with scopes, used
 * by mail clients instead of the account password (required with 2FA). */
struct store_asp {
	char id[STORE_ID_SIZE];
	char user[STORE_ID_SIZE];
	const char *description;
	const char *const *scopes;	/* "imap", "pop3", "smtp" or "*" (all) */
	unsigned int scopes_count;
	const char *password_hash;	/* opaque to everything but the auth daemon */
	int64_t created;		/* unix seconds */
	int64_t last_use;		/* unix seconds, 0: never */
};

/* Stores an ASP whose password the caller generated and hashed (see
 * password.h: the plain password is shown to the user once, never
 * stored). id, user, created and last_use of *asp are ignored. */
int store_asp_create(struct store *store, const char *user_id, const struct store_asp *asp,
		     char id_r[STORE_ID_SIZE], const char **error_r);
/* The user's ASPs, oldest first, hashes included. */
int store_asp_list(struct store *store, const char *user_id, struct pool *pool,
		   struct store_asp **asps_r, unsigned int *count_r, const char **error_r);
int store_asp_delete(struct store *store, const char *user_id, const char *asp_id,
		     const char **error_r);
/* Records a successful use (unix seconds). */
int store_asp_touch(struct store *store, const char *asp_id, int64_t when,
		    const char **error_r);

/* TOTP 2FA: the base32 secret (stored as given: plain at rest for now;
 * encrypting secrets at rest is a later step) and whether 2FA is on.
 * NOT_FOUND if the user never set one up. */
int store_totp_get(struct store *store, const char *user_id, struct pool *pool,
		   const char **secret_r, bool *enabled_r, const char **error_r);
/* secret NULL removes the secret (and disables 2FA). */
int store_totp_set(struct store *store, const char *user_id, const char *secret, bool enabled,
		   const char **error_r);
/* Marks a TOTP time step as used; EXISTS if it already was (a code is
 * good once). Old steps are forgotten. */
int store_totp_use(struct store *store, const char *user_id, uint64_t step,
		   const char **error_r);

/* One authentication attempt, kept until expires. */
struct store_authlog_entry {
	char id[STORE_ID_SIZE];
	char user[STORE_ID_SIZE];
	int64_t created;		/* unix seconds */
	int64_t expires;		/* unix seconds; listed and kept until then */
	const char *service;		/* "imap", "pop3", "smtp", "api" */
	const char *remote_ip;
	bool success;
	const char *reason;		/* why it failed, or how it succeeded */
	const char *asp;		/* the ASP id used, or NULL */
};

/* id of *entry is ignored (a new one is made). */
int store_authlog_add(struct store *store, const struct store_authlog_entry *entry,
		      const char **error_r);
/* Entries of a user not yet expired at now, newest first, at most limit. */
int store_authlog_list(struct store *store, const char *user_id, int64_t now,
		       unsigned int limit, struct pool *pool,
		       struct store_authlog_entry **entries_r, unsigned int *count_r,
		       const char **error_r);
/* Removes entries expired at now (MongoDB's TTL index does it by itself). */
int store_authlog_purge(struct store *store, int64_t now, unsigned int *purged_r,
			const char **error_r);

/* ---- API: listings, access tokens, the user-wide journal (store_api.c) ---- */

/* Users ordered by id, at most limit (1..1000): after after_id (NULL: from
 * the first) ascending, or with backwards before after_id descending (for
 * a "previous" page). */
int store_user_list(struct store *store, const char *after_id, bool backwards,
		    unsigned int limit, struct pool *pool, struct store_user **users_r,
		    unsigned int *count_r, const char **error_r);
int store_user_count(struct store *store, uint64_t *count_r, const char **error_r);
/* The addresses of all users (not forwarded ones) in address order (bytes
 * of the normalised address), at most limit (1..1000): after after (NULL:
 * from the first) ascending, or with backwards before it descending (for a
 * "previous" page). domain (NULL: any) keeps one domain's addresses, query
 * (NULL: any) those containing it; both are normalised first. */
int store_address_page(struct store *store, const char *domain, const char *query,
		       const char *after, bool backwards, unsigned int limit,
		       struct pool *pool, struct store_address **addresses_r,
		       unsigned int *count_r, const char **error_r);

/* At most limit messages of the mailbox with uid in [first, last], newest
 * (highest uid) first when descending, each passed to callback as in
 * store_message_list(). */
int store_message_page(struct store *store, const char *mailbox_id, uint32_t first,
		       uint32_t last, bool descending, unsigned int limit,
		       store_message_cb *callback, void *context, const char **error_r);
/* The tree blob of a message alone (no attachment bytes), from pool. */
int store_message_tree(struct store *store, const char *message_id, struct pool *pool,
		       const unsigned char **tree_r, size_t *len_r, const char **error_r);

/* An API access token of a user, kept as its hash (the token itself is
 * shown once); expires is unix seconds. */
int store_token_add(struct store *store, const char *user_id, const char *token_hash,
		    int64_t expires, const char **error_r);
/* The user of a token not expired at now; NOT_FOUND otherwise. */
int store_token_get(struct store *store, const char *token_hash, int64_t now,
		    char user_id_r[STORE_ID_SIZE], const char **error_r);
int store_token_delete(struct store *store, const char *token_hash, const char **error_r);

/* A journal entry of any mailbox of a user, with its position in the
 * user's journal (increasing; the SQLite driver uses the row id, a MongoDB
 * driver may keep a per-user sequence). */
struct store_journal_user_entry {
	int64_t position;
	char mailbox[STORE_ID_SIZE];
	struct store_journal_entry entry;
};
typedef int store_journal_user_cb(const struct store_journal_user_entry *entry, void *context);
/* Entries of the user's mailboxes after position, in position order, at
 * most limit; the callback may stop early with non-zero. */
int store_journal_user_since(struct store *store, const char *user_id, int64_t after,
			     unsigned int limit, store_journal_user_cb *callback, void *context,
			     const char **error_r);
/* The position of the user's newest journal entry (0 if none). */
int store_journal_user_last(struct store *store, const char *user_id, int64_t *position_r,
			    const char **error_r);

/* ---- API objects and the webhook queue (store_objects.c) ----
 * Small documents the API keeps for itself: registered webhooks, DKIM
 * keys, TLS certificates. A kind names the collection ("webhook", "dkim",
 * "cert"); key is what they are looked up by (a domain, a server name) and
 * doc is JSON text the API reads and writes. A driver without them fails
 * these calls with INTERNAL "not supported". */
struct store_object {
	char id[STORE_ID_SIZE];
	const char *kind;
	char user[STORE_ID_SIZE];	/* "" if it belongs to no user */
	const char *key;		/* may be NULL */
	const char *doc;		/* JSON text */
	int64_t created;
};
/* user_id and key may be NULL. EXISTS if (kind, key) is taken and unique
 * is set. */
int store_object_add(struct store *store, const char *kind, const char *user_id,
		     const char *key, const char *doc, bool unique, char id_r[STORE_ID_SIZE],
		     const char **error_r);
/* Objects of a kind, oldest first; user_id and key (when not NULL) filter. */
int store_object_list(struct store *store, const char *kind, const char *user_id,
		      const char *key, struct pool *pool, struct store_object **objects_r,
		      unsigned int *count_r, const char **error_r);
int store_object_get(struct store *store, const char *kind, const char *id, struct pool *pool,
		     struct store_object **object_r, const char **error_r);
int store_object_delete(struct store *store, const char *kind, const char *id,
			const char **error_r);
/* Replaces the doc of an object, keeping its id, key and created. */
int store_object_update(struct store *store, const char *kind, const char *id,
			const char *doc, const char **error_r);

/* A queued webhook call (store_webhook_enqueue()). */
struct store_webhook_call {
	int64_t id;
	char user[STORE_ID_SIZE];	/* "" if none */
	const char *url, *event, *payload;
	unsigned int attempts;		/* failed attempts so far */
	int64_t created;
};
/* Takes at most limit calls due at now (oldest first) and hides them for
 * lease_secs, so a sender that dies leaves them to be tried again. */
int store_webhook_claim(struct store *store, int64_t now, int64_t lease_secs,
			unsigned int limit, struct pool *pool, struct store_webhook_call **calls_r,
			unsigned int *count_r, const char **error_r);
/* The call was made: removes it. */
int store_webhook_done(struct store *store, int64_t id, const char **error_r);
/* The call failed: one attempt more, due again at next_try. */
int store_webhook_retry(struct store *store, int64_t id, int64_t next_try,
			const char **error_r);

#endif
