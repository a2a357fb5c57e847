/* Audits (WildDuck's /audit): a copy of all new mail of one user within a
 * period, kept in an audit store until the audit expires, whatever the
 * user does with the original. The audit store is a hidden internal user
 * (disabled, no password, no address, settings {"auditStore": true}) whose
 * INBOX holds the copies; the audit itself is an API object of kind
 * "audit" (key: the audited user's id; no owner, so that it outlives the
 * user until it expires) that names it. wd-api creates, exports
 * and deletes audits; wd-lmtp copies each delivery through
 * audit_targets(). All calls run on store threads. */
#ifndef WD_AUDIT_H
#define WD_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define AUDIT_KIND "audit"
/* Audits of one user that copy one delivery at most. */
#define AUDIT_MAX_TARGETS 16
/* A copy carries the keyword AUDIT_SOURCE_FLAG + the id of the user's
 * message it copies, so that no message is copied twice (the flags are
 * not in the exported bytes). */
#define AUDIT_SOURCE_FLAG "$AuditSource_"

struct audit {
	char id[STORE_ID_SIZE];
	char user[STORE_ID_SIZE];	/* the audited user */
	char store_user[STORE_ID_SIZE];	/* the internal user holding the copies */
	int64_t start, end;		/* unix seconds; 0: open */
	int64_t expires;		/* unix seconds */
	int64_t created;
};

/* Fills *a from a stored object; -1 if it is not a valid audit. */
int audit_from_object(const struct store_object *o, struct audit *a);
/* Whether mail of the audited user that arrives (or arrived) at t is copied. */
bool audit_covers(const struct audit *a, int64_t t);
/* Whether an internal user is an audit store (user settings JSON text). */
bool audit_is_store_user(const char *user_settings);

/* Creates the audit store and the audit object for user_id; fills a->id,
 * a->store_user and a->created. The store user is removed again if the
 * object cannot be added. */
int audit_create(struct store *store, struct audit *a, const char **error_r);
/* Copies the messages of the audited user already stored (all mailboxes)
 * whose INTERNALDATE the audit covers and is at least since into its
 * store, byte for byte, leaving out those it holds a copy of already. */
int audit_copy_existing(struct store *store, const struct audit *a, int64_t since,
			unsigned int *copied_r, unsigned int *failed_r, const char **error_r);
/* The source keyword of a copy of message_id. */
void audit_source_flag(const char *message_id, char flag_r[64]);
/* Removes the audit store with its messages, then the audit object. */
int audit_remove(struct store *store, const struct audit *a, const char **error_r);
/* Removes the audits expired at now; returns how many. */
unsigned int audit_purge_expired(struct store *store, int64_t now);
/* The INBOX of an audit store. */
int audit_inbox(struct store *store, const struct audit *a, char id_r[STORE_ID_SIZE],
		const char **error_r);

/* The INBOXes of the audit stores that take a copy of mail user_id gets
 * at now, at most AUDIT_MAX_TARGETS; from a per-process list of audits
 * read at most once per settings_cache. When it is read, expired audits
 * are purged, and for an audit this process had not seen yet the mail
 * delivered since its creation is copied (audit_copy_existing()): what
 * arrived while the list was stale. */
unsigned int audit_targets(struct store *store, const char *user_id, int64_t now,
			   char inboxes_r[AUDIT_MAX_TARGETS][STORE_ID_SIZE]);
/* Forgets the cached list (after this process changed the audits). */
void audit_invalidate(void);

#endif
