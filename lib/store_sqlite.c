/* The embedded SQLite store driver: one database file in WAL mode shared by
 * every process of one host, one connection per store handle (so per
 * thread), short BEGIN IMMEDIATE write transactions.
 *
 * Attachments are rows (a BLOB column), not files under the data dir: a
 * reference count and the bytes it guards then change in the same
 * transaction as the message, so a crash, a kill -9 or two processes
 * racing on the last reference can never leave a dangling reference or an
 * orphan file, and a backup is one file. The price is that a large
 * attachment passes through the WAL once and holds the write lock while it
 * is copied; zstd and the 25 MB attachment limit keep that short, and an
 * attachment already stored is never rewritten (dedup happens before). */
#include "store_sqlite.h"

#include "mem.h"
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BUSY_TIMEOUT_MSECS 5000

#define MAILBOX_COLS "id, user, path, special_use, uid_validity, uid_next, " \
	"modify_index, subscribed, retention"
#define MESSAGE_COLS "id, mailbox, user, uid, modseq, flags, seen, flagged, deleted, " \
	"draft, idate, hdate, size, msgid, subject, envelope, bodystructure, thread"
#define USER_COLS "id, username, password, address, quota, storage_used, disabled, " \
	"suspended, tags, imap_max_connections, recipients, forwards, settings, created"
#define ADDRESS_COLS "id, user, address, main, created"

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_UIDVALIDITY_NEXT] = "INSERT INTO meta (key, value) VALUES ('uidvalidity', ?1) "
		"ON CONFLICT (key) DO UPDATE SET value = max(value + 1, excluded.value) "
		"RETURNING value",
	[STMT_USER_INSERT] = "INSERT INTO users (id, username, unameview, password, address, "
		"quota, storage_used, disabled, suspended, tags, imap_max_connections, "
		"recipients, forwards, settings, created) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[STMT_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
	[STMT_USER_GET_BY_NAME] = "SELECT " USER_COLS " FROM users WHERE unameview = ?1",
	[STMT_USER_UPDATE] = "UPDATE users SET "
		"password = CASE WHEN ?2 THEN ?3 ELSE password END, "
		"quota = CASE WHEN ?4 THEN ?5 ELSE quota END, "
		"disabled = CASE WHEN ?6 THEN ?7 ELSE disabled END, "
		"suspended = CASE WHEN ?8 THEN ?9 ELSE suspended END, "
		"tags = CASE WHEN ?10 THEN ?11 ELSE tags END, "
		"imap_max_connections = CASE WHEN ?12 THEN ?13 ELSE imap_max_connections END, "
		"recipients = CASE WHEN ?12 THEN ?14 ELSE recipients END, "
		"forwards = CASE WHEN ?12 THEN ?15 ELSE forwards END, "
		"settings = CASE WHEN ?16 THEN ?17 ELSE settings END "
		"WHERE id = ?1",
	[STMT_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
	[STMT_USER_QUOTA] = "SELECT quota, storage_used FROM users WHERE id = ?1",
	[STMT_USER_STORAGE_ADD] = "UPDATE users SET storage_used = storage_used + ?2 "
		"WHERE id = ?1",
	[STMT_USER_SET_ADDRESS] = "UPDATE users SET address = ?2 WHERE id = ?1",
	[STMT_ADDRESS_INSERT] = "INSERT INTO addresses (id, user, address, addrview, domain, "
		"wildcard, main, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_ADDRESS_DELETE] = "DELETE FROM addresses WHERE address = ?1 AND main = 0",
	[STMT_ADDRESS_GET] = "SELECT " ADDRESS_COLS " FROM addresses WHERE address = ?1",
	[STMT_ADDRESS_GET_VIEW] = "SELECT " ADDRESS_COLS " FROM addresses WHERE addrview = ?1",
	[STMT_ADDRESS_LIST] = "SELECT " ADDRESS_COLS " FROM addresses WHERE user = ?1 "
		"ORDER BY main DESC, address",
	[STMT_ADDRESS_WILDCARDS] = "SELECT " ADDRESS_COLS " FROM addresses "
		"WHERE domain = ?1 AND wildcard = 1",
	[STMT_ADDRESS_CLEAR_MAIN] = "UPDATE addresses SET main = 0 WHERE user = ?1 AND main = 1",
	[STMT_ALIAS_INSERT] = "INSERT INTO domainaliases (alias, domain, created) "
		"VALUES (?1, ?2, ?3)",
	[STMT_ALIAS_DELETE] = "DELETE FROM domainaliases WHERE alias = ?1",
	[STMT_ALIAS_GET] = "SELECT domain FROM domainaliases WHERE alias = ?1",
	[STMT_MAILBOX_INSERT] = "INSERT INTO mailboxes (" MAILBOX_COLS ") "
		"VALUES (?1, ?2, ?3, ?4, ?5, 1, 0, 1, 0)",
	[STMT_MAILBOX_GET] = "SELECT " MAILBOX_COLS " FROM mailboxes WHERE id = ?1",
	[STMT_MAILBOX_GET_PATH] = "SELECT " MAILBOX_COLS " FROM mailboxes "
		"WHERE user = ?1 AND path = ?2",
	[STMT_MAILBOX_LIST] = "SELECT " MAILBOX_COLS " FROM mailboxes WHERE user = ?1 "
		"ORDER BY path",
	/* substr() and length() count characters, on both sides alike */
	[STMT_MAILBOX_RENAME] = "UPDATE mailboxes SET path = ?3 || substr(path, length(?2) + 1) "
		"WHERE user = ?1 AND (path = ?2 OR substr(path, 1, length(?2) + 1) = ?2 || '/')",
	[STMT_MAILBOX_DELETE] = "DELETE FROM mailboxes WHERE id = ?1",
	[STMT_MAILBOX_SUBSCRIBE] = "UPDATE mailboxes SET subscribed = ?2 WHERE id = ?1",
	[STMT_MAILBOX_COUNTS] = "SELECT count(*), coalesce(sum(seen = 0), 0), "
		"coalesce(sum(deleted), 0), coalesce(sum(size), 0) "
		"FROM messages WHERE mailbox = ?1",
	[STMT_MAILBOX_ALLOC] = "UPDATE mailboxes SET uid_next = uid_next + ?2, "
		"modify_index = modify_index + 1 WHERE id = ?1",
	[STMT_MAILBOX_STATE] = "SELECT user, uid_next, uid_validity, modify_index "
		"FROM mailboxes WHERE id = ?1",
	[STMT_MESSAGE_INSERT] = "INSERT INTO messages (" MESSAGE_COLS ", tree) VALUES (?1, ?2, "
		"?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
	[STMT_MESSAGE_LIST] = "SELECT " MESSAGE_COLS " FROM messages "
		"WHERE mailbox = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
	[STMT_MESSAGE_GET] = "SELECT " MESSAGE_COLS " FROM messages "
		"WHERE mailbox = ?1 AND uid = ?2",
	[STMT_MESSAGE_TREE] = "SELECT tree FROM messages WHERE id = ?1",
	[STMT_MESSAGE_FLAGS_RANGE] = "SELECT uid, modseq, flags, id, size FROM messages "
		"WHERE mailbox = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
	[STMT_MESSAGE_SET_FLAGS] = "UPDATE messages SET flags = ?3, seen = ?4, flagged = ?5, "
		"deleted = ?6, draft = ?7, modseq = ?8 WHERE mailbox = ?1 AND uid = ?2",
	[STMT_MESSAGE_COPY] = "INSERT INTO messages (" MESSAGE_COLS ", tree) "
		"SELECT ?1, ?2, ?3, ?4, ?5, flags, seen, flagged, deleted, draft, idate, hdate, "
		"size, msgid, subject, envelope, bodystructure, thread, tree "
		"FROM messages WHERE id = ?6",
	[STMT_MESSAGE_MOVE] = "UPDATE messages SET mailbox = ?2, user = ?3, uid = ?4, "
		"modseq = ?5 WHERE id = ?1",
	[STMT_MESSAGE_DELETED_RANGE] = "SELECT uid, id FROM messages WHERE mailbox = ?1 "
		"AND uid BETWEEN ?2 AND ?3 AND deleted = 1 ORDER BY uid",
	[STMT_MESSAGE_DELETE] = "DELETE FROM messages WHERE id = ?1",
	[STMT_MSGATT_INSERT] = "INSERT INTO message_attachments (message, attachment, idx) "
		"VALUES (?1, ?2, ?3)",
	[STMT_MSGATT_LIST] = "SELECT attachment FROM message_attachments WHERE message = ?1 "
		"ORDER BY idx",
	[STMT_MSGATT_COPY] = "INSERT INTO message_attachments (message, attachment, idx) "
		"SELECT ?1, attachment, idx FROM message_attachments WHERE message = ?2",
	[STMT_ATTACHMENT_EXISTS] = "SELECT 1 FROM attachments WHERE id = ?1",
	[STMT_ATTACHMENT_REF] = "UPDATE attachments SET refcount = refcount + 1 WHERE id = ?1",
	[STMT_ATTACHMENT_REF_MESSAGE] = "UPDATE attachments SET refcount = refcount + 1 "
		"WHERE id IN (SELECT attachment FROM message_attachments WHERE message = ?1)",
	[STMT_ATTACHMENT_INSERT] = "INSERT INTO attachments (id, refcount, size, stored_size, "
		"codec, created) VALUES (?1, 1, ?2, ?3, ?4, ?5)",
	[STMT_ATTACHMENT_DATA_INSERT] = "INSERT INTO attachment_data (id, data) VALUES (?1, ?2)",
	[STMT_ATTACHMENT_GET] = "SELECT a.codec, a.size, d.data FROM attachments a "
		"JOIN attachment_data d ON d.id = a.id WHERE a.id = ?1",
	[STMT_ATTACHMENT_INFO] = "SELECT size, stored_size, refcount, codec FROM attachments "
		"WHERE id = ?1",
	[STMT_JOURNAL_INSERT] = "INSERT INTO journal (mailbox, command, uid, modseq, message, "
		"flags, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[STMT_JOURNAL_SINCE] = "SELECT command, uid, modseq, message, flags FROM journal "
		"WHERE mailbox = ?1 AND modseq > ?2 AND command <= ?3 ORDER BY modseq, id",
};

/* Schema migrations: migrations[i] takes user_version i to i + 1. Never
 * edit a released step; append a new one. */
static const char *const migrations[] = {
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL,"
	" unameview TEXT NOT NULL UNIQUE, password TEXT, address TEXT,"
	" quota INTEGER NOT NULL, storage_used INTEGER NOT NULL,"
	" disabled INTEGER NOT NULL, suspended INTEGER NOT NULL, tags TEXT NOT NULL,"
	" imap_max_connections INTEGER NOT NULL, recipients INTEGER NOT NULL,"
	" forwards INTEGER NOT NULL, settings TEXT, created INTEGER NOT NULL);"
	"CREATE TABLE addresses (id TEXT PRIMARY KEY,"
	" user TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" address TEXT NOT NULL UNIQUE, addrview TEXT NOT NULL UNIQUE,"
	" domain TEXT NOT NULL, wildcard INTEGER NOT NULL, main INTEGER NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX addresses_user ON addresses (user);"
	"CREATE INDEX addresses_wildcard ON addresses (domain) WHERE wildcard = 1;"
	"CREATE TABLE domainaliases (alias TEXT PRIMARY KEY, domain TEXT NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE mailboxes (id TEXT PRIMARY KEY,"
	" user TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" path TEXT NOT NULL, special_use INTEGER NOT NULL,"
	" uid_validity INTEGER NOT NULL, uid_next INTEGER NOT NULL,"
	" modify_index INTEGER NOT NULL, subscribed INTEGER NOT NULL,"
	" retention INTEGER NOT NULL, UNIQUE (user, path));"
	"CREATE TABLE messages (id TEXT PRIMARY KEY,"
	" mailbox TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,"
	" user TEXT NOT NULL, uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" flags TEXT NOT NULL, seen INTEGER NOT NULL, flagged INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL, draft INTEGER NOT NULL, idate INTEGER NOT NULL,"
	" hdate INTEGER NOT NULL, size INTEGER NOT NULL, msgid TEXT, subject TEXT,"
	" envelope TEXT, bodystructure TEXT, thread TEXT, tree BLOB,"
	" UNIQUE (mailbox, uid));"
	"CREATE INDEX messages_unseen ON messages (mailbox) WHERE seen = 0;"
	/* The bytes live apart from the refcount: SQLite rewrites a whole
	 * row on UPDATE, overflow pages included, so a refcount next to a
	 * 25 MB blob would copy 25 MB through the WAL on every new reference. */
	"CREATE TABLE attachments (id TEXT PRIMARY KEY, refcount INTEGER NOT NULL,"
	" size INTEGER NOT NULL, stored_size INTEGER NOT NULL, codec TEXT NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE attachment_data (id TEXT PRIMARY KEY"
	" REFERENCES attachments (id) ON DELETE CASCADE, data BLOB NOT NULL);"
	"CREATE TABLE message_attachments ("
	" message TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
	" attachment TEXT NOT NULL REFERENCES attachments (id), idx INTEGER NOT NULL,"
	" PRIMARY KEY (message, attachment)) WITHOUT ROWID;"
	"CREATE INDEX message_attachments_attachment ON message_attachments (attachment);"
	/* Releasing references and storage in triggers makes every way a
	 * message goes (expunge, mailbox or user delete, via FK cascades)
	 * exact, inside the deleting transaction. */
	"CREATE TRIGGER message_attachments_release AFTER DELETE ON message_attachments"
	" BEGIN"
	"  UPDATE attachments SET refcount = refcount - 1 WHERE id = old.attachment;"
	"  DELETE FROM attachments WHERE id = old.attachment AND refcount <= 0;"
	" END;"
	"CREATE TRIGGER messages_storage_release AFTER DELETE ON messages"
	" BEGIN"
	"  UPDATE users SET storage_used = storage_used - old.size WHERE id = old.user;"
	" END;"
	"CREATE TABLE journal (id INTEGER PRIMARY KEY,"
	" mailbox TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,"
	" command INTEGER NOT NULL, uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" message TEXT, flags TEXT, created INTEGER NOT NULL);"
	"CREATE INDEX journal_mailbox_modseq ON journal (mailbox, modseq);",
	/* 2: delivery (store_sqlite_delivery.c) */
	"CREATE TABLE filters (id TEXT PRIMARY KEY,"
	" user TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE, name TEXT,"
	" q_from TEXT, q_to TEXT, q_subject TEXT, q_listid TEXT, q_text TEXT,"
	" q_attachment INTEGER NOT NULL, q_size INTEGER NOT NULL,"
	" a_seen INTEGER NOT NULL, a_flag INTEGER NOT NULL, a_spam INTEGER NOT NULL,"
	" a_delete INTEGER NOT NULL, a_mailbox TEXT, a_forward TEXT, a_webhook TEXT,"
	" disabled INTEGER NOT NULL, created INTEGER NOT NULL);"
	"CREATE INDEX filters_user ON filters (user);"
	"CREATE TABLE autoreplies (user TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,"
	" status INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, name TEXT,"
	" subject TEXT, text TEXT, html TEXT, created INTEGER NOT NULL);"
	"CREATE TABLE user_targets (user TEXT PRIMARY KEY"
	" REFERENCES users (id) ON DELETE CASCADE, targets TEXT NOT NULL);"
	"CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL,"
	" expires INTEGER NOT NULL);"
	"CREATE TABLE webhook_queue (id INTEGER PRIMARY KEY, user TEXT, url TEXT NOT NULL,"
	" event TEXT NOT NULL, payload TEXT, created INTEGER NOT NULL);",
	/* 3: authentication (store_sqlite_auth.c) */
	"CREATE TABLE asps (id TEXT PRIMARY KEY,"
	" user TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" description TEXT, scopes TEXT NOT NULL, password TEXT NOT NULL,"
	" created INTEGER NOT NULL, last_use INTEGER NOT NULL);"
	"CREATE INDEX asps_user ON asps (user);"
	"CREATE TABLE totp (user TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,"
	" secret TEXT NOT NULL, enabled INTEGER NOT NULL);"
	"CREATE TABLE totp_used (user TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" step INTEGER NOT NULL, PRIMARY KEY (user, step)) WITHOUT ROWID;"
	"CREATE TABLE authlog (id TEXT PRIMARY KEY,"
	" user TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" created INTEGER NOT NULL, expires INTEGER NOT NULL, service TEXT, ip TEXT,"
	" success INTEGER NOT NULL, reason TEXT, asp TEXT);"
	"CREATE INDEX authlog_user ON authlog (user, created);"
	"CREATE INDEX authlog_expires ON authlog (expires);",
	/* 4: API access tokens (store_sqlite_api.c) */
	"CREATE TABLE api_tokens (hash TEXT PRIMARY KEY,"
	" user TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" created INTEGER NOT NULL, expires INTEGER NOT NULL);"
	"CREATE INDEX api_tokens_user ON api_tokens (user);"
	"CREATE INDEX api_tokens_expires ON api_tokens (expires);",
	/* 5: API objects, webhook retries (store_sqlite_objects.c) */
	"CREATE TABLE api_objects (id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
	" user TEXT REFERENCES users (id) ON DELETE CASCADE, key TEXT, doc TEXT NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX api_objects_kind ON api_objects (kind, key);"
	"ALTER TABLE webhook_queue ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE webhook_queue ADD COLUMN next_try INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX webhook_queue_due ON webhook_queue (next_try);",
	/* 6: webhook call ids are never reused, so a sender whose lease ran out
	 * cannot delete a newer call with its late done(id) */
	"CREATE TABLE webhook_queue_new (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT,"
	" url TEXT NOT NULL, event TEXT NOT NULL, payload TEXT, created INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0, next_try INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO webhook_queue_new (id, user, url, event, payload, created, attempts,"
	" next_try) SELECT id, user, url, event, payload, created, attempts, next_try"
	" FROM webhook_queue;"
	"DROP TABLE webhook_queue;"
	"ALTER TABLE webhook_queue_new RENAME TO webhook_queue;"
	"CREATE INDEX webhook_queue_due ON webhook_queue (next_try);",
	/* 7: journal positions are never reused. Deleting a mailbox deletes its
	 * journal rows; when they were the newest, the next entry (the mailbox
	 * deletion itself) got one of their ids, at or below positions that
	 * followers (wd-indexer, the API's event stream) already had, so they
	 * skipped it. Ids used before this step and deleted since are not
	 * known: the sequence starts well past the highest one left. */
	"CREATE TABLE journal_new (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" mailbox TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,"
	" command INTEGER NOT NULL, uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" message TEXT, flags TEXT, created INTEGER NOT NULL);"
	"INSERT INTO journal_new SELECT id, mailbox, command, uid, modseq, message, flags, created"
	" FROM journal;"
	"DELETE FROM sqlite_sequence WHERE name = 'journal_new';"
	"INSERT INTO sqlite_sequence (name, seq) SELECT 'journal_new', coalesce(max(id), 0) + 1000000"
	" FROM journal_new;"
	"DROP TABLE journal;"
	"ALTER TABLE journal_new RENAME TO journal;"
	"CREATE INDEX journal_mailbox_modseq ON journal (mailbox, modseq);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int sqlite_fail(struct store *store, int rc, const char *what)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	const char *msg = ctx->db == NULL ? sqlite3_errstr(rc) : sqlite3_errmsg(ctx->db);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_PROTOCOL:
		return store_set_error(store, STORE_ERR_TEMPORARY, "%s: %s", what, msg);
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return store_set_error(store, STORE_ERR_EXISTS, "%s: already exists", what);
		break;
	default:
		break;
	}
	return store_set_error(store, STORE_ERR_INTERNAL, "%s: %s", what, msg);
}

sqlite3_stmt *sqlite_stmt(struct store *store, enum sqlite_stmt which)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	sqlite3_stmt *stmt = ctx->stmts[which];
	if (stmt == NULL) {
		int rc = sqlite3_prepare_v3(ctx->db, stmt_sql[which], -1,
					    SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
		if (rc != SQLITE_OK) {
			sqlite_fail(store, rc, "prepare");
			return NULL;
		}
		ctx->stmts[which] = stmt;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return stmt;
}

void sqlite_reset_all(struct store *store)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	for (unsigned int i = 0; i < STMT_COUNT; i++)
		if (ctx->stmts[i] != NULL)
			sqlite3_reset(ctx->stmts[i]);
}

int sqlite_exec_stmt(struct store *store, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		sqlite3_reset(stmt);
		return 0;
	}
	sqlite3_reset(stmt);
	return sqlite_fail(store, rc, what);
}

static int64_t monotonic_msecs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Steps a transaction control statement, retrying SQLITE_BUSY until the
 * busy timeout: the busy handler already waits, this covers the cases it
 * does not (e.g. a WAL being recovered by another process). */
static int step_with_retry(struct store *store, enum sqlite_stmt which, const char *what)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	int64_t deadline = monotonic_msecs() + ctx->busy_timeout_msecs;
	for (;;) {
		sqlite3_stmt *stmt = sqlite_stmt(store, which);
		if (stmt == NULL)
			return -1;
		int rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE)
			return 0;
		if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) ||
		    monotonic_msecs() >= deadline)
			return sqlite_fail(store, rc, what);
		usleep(1000 + (unsigned int)(rand() % 4000));
	}
}

int sqlite_tx_begin(struct store *store)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	if (step_with_retry(store, STMT_BEGIN, "begin") < 0)
		return -1;
	ctx->in_tx = true;
	return 0;
}

int sqlite_tx_commit(struct store *store)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	sqlite_reset_all(store);
	if (step_with_retry(store, STMT_COMMIT, "commit") < 0)
		return sqlite_tx_fail(store);
	ctx->in_tx = false;
	return 0;
}

int sqlite_tx_fail(struct store *store)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	if (ctx->in_tx) {
		/* keep the error of the failed step, not ROLLBACK's */
		sqlite_reset_all(store);
		if (sqlite3_get_autocommit(ctx->db) == 0)
			(void)sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
		ctx->in_tx = false;
	}
	return -1;
}

void sqlite_bind_text(sqlite3_stmt *stmt, int idx, const char *text)
{
	if (text == NULL)
		sqlite3_bind_null(stmt, idx);
	else
		sqlite3_bind_text(stmt, idx, text, -1, SQLITE_STATIC);
}

const char *sqlite_col_text(struct pool *pool, sqlite3_stmt *stmt, int col)
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	if (text == NULL)
		return NULL;
	return pool_strndup(pool, (const char *)text, (size_t)sqlite3_column_bytes(stmt, col));
}

void sqlite_col_id(sqlite3_stmt *stmt, int col, char id_r[STORE_ID_SIZE])
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	snprintf(id_r, STORE_ID_SIZE, "%s", text == NULL ? "" : (const char *)text);
}

static int exec_sql(struct store *store, const char *sql, const char *what)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	int rc = sqlite3_exec(ctx->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : sqlite_fail(store, rc, what);
}

static int user_version(struct store *store, int *version_r)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(ctx->db, "PRAGMA user_version", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_fail(store, rc, "user_version");
	rc = sqlite3_step(stmt);
	*version_r = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "user_version");
}

/* Brings the schema to SCHEMA_VERSION; several processes may start at once,
 * so the version is read again under the write lock. */
static int migrate(struct store *store)
{
	int version;
	if (user_version(store, &version) < 0)
		return -1;
	if (version == SCHEMA_VERSION)
		return 0;
	if (sqlite_tx_begin(store) < 0 || user_version(store, &version) < 0)
		return sqlite_tx_fail(store);
	if (version > SCHEMA_VERSION) {
		sqlite_tx_fail(store);
		return store_set_error(store, STORE_ERR_INTERNAL,
				       "database schema %d is newer than this program (%d)",
				       version, SCHEMA_VERSION);
	}
	for (; version < SCHEMA_VERSION; version++) {
		if (exec_sql(store, migrations[version], "migrate") < 0)
			return sqlite_tx_fail(store);
	}
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
	if (exec_sql(store, sql, "migrate") < 0)
		return sqlite_tx_fail(store);
	return sqlite_tx_commit(store);
}

/* journal_mode=WAL needs a moment of exclusive access the first time, which
 * a concurrently starting process may hold. */
static int set_pragmas(struct store *store, const struct store_settings *set)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	int64_t deadline = monotonic_msecs() + ctx->busy_timeout_msecs;
	int rc;
	while ((rc = sqlite3_exec(ctx->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) ==
	       SQLITE_BUSY && monotonic_msecs() < deadline)
		usleep(2000);
	if (rc != SQLITE_OK)
		return sqlite_fail(store, rc, "journal_mode");
	if (exec_sql(store, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = OFF", "pragma") < 0)
		return -1;
	/* FULL: an acknowledged delivery survives a power loss */
	return exec_sql(store, set->relaxed_sync ? "PRAGMA synchronous = NORMAL" :
			"PRAGMA synchronous = FULL", "pragma");
}

static int sqlite_open(struct store *store, const struct store_settings *set)
{
	struct sqlite_store *ctx = xcalloc(1, sizeof(*ctx));
	store->ctx = ctx;
	ctx->busy_timeout_msecs = set->busy_timeout_msecs == 0 ? DEFAULT_BUSY_TIMEOUT_MSECS :
		set->busy_timeout_msecs;
	ctx->compress_level = set->compress_level;
	if (set->path == NULL || set->path[0] == '\0') {
		store_set_error(store, STORE_ERR_INVALID, "sqlite store needs a path");
		XFREE(store->ctx);
		return -1;
	}
	/* NOMUTEX: a handle belongs to one thread (store.h), so SQLite's own
	 * per-connection mutex would only cost time */
	int rc = sqlite3_open_v2(set->path, &ctx->db, SQLITE_OPEN_READWRITE |
				 SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_extended_result_codes(ctx->db, 1);
		sqlite3_busy_timeout(ctx->db, (int)ctx->busy_timeout_msecs);
	}
	if (rc != SQLITE_OK) {
		sqlite_fail(store, rc, set->path);
	} else if (set_pragmas(store, set) == 0 && migrate(store) == 0) {
		return 0;
	}
	sqlite3_close_v2(ctx->db);
	XFREE(store->ctx);
	return -1;
}

static void sqlite_close(struct store *store)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	for (unsigned int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(ctx->stmts[i]);
	sqlite3_close_v2(ctx->db);
	XFREE(store->ctx);
}

/* ---- users ---- */

static const struct {
	const char *path;
	enum store_special_use use;
} default_mailboxes[] = {
	{ "INBOX", STORE_SPECIAL_INBOX },
	{ "Sent Mail", STORE_SPECIAL_SENT },
	{ "Drafts", STORE_SPECIAL_DRAFTS },
	{ "Trash", STORE_SPECIAL_TRASH },
	{ "Junk", STORE_SPECIAL_JUNK },
	{ "Archive", STORE_SPECIAL_ARCHIVE },
};

static const char *tags_join(struct pool *pool, const char *const *tags, unsigned int count)
{
	size_t len = 1;
	for (unsigned int i = 0; i < count; i++)
		len += strlen(tags[i]) + 1;
	char *out = pool_alloc(pool, len), *p = out;
	for (unsigned int i = 0; i < count; i++)
		p = stpcpy(stpcpy(p, i == 0 ? "" : "\n"), tags[i]);
	return out;
}

static void tags_split(struct pool *pool, const char *joined, struct store_user *user)
{
	unsigned int count = joined[0] == '\0' ? 0 : 1;
	for (const char *p = joined; *p != '\0'; p++)
		count += *p == '\n';
	const char **tags = pool_alloc(pool, (count + 1) * sizeof(*tags));
	const char *p = joined;
	for (unsigned int i = 0; i < count; i++) {
		const char *end = strchrnul(p, '\n');
		tags[i] = pool_strndup(pool, p, (size_t)(end - p));
		p = *end == '\0' ? end : end + 1;
	}
	user->tags = tags;
	user->tags_count = count;
}

static int insert_address(struct store *store, const char *user_id, const char *address,
			  const char *addrview, const char *domain, bool wildcard, bool main)
{
	char id[STORE_ID_SIZE];
	store_id_generate(id);
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_ADDRESS_INSERT);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, id);
	sqlite_bind_text(stmt, 2, user_id);
	sqlite_bind_text(stmt, 3, address);
	sqlite_bind_text(stmt, 4, addrview);
	sqlite_bind_text(stmt, 5, domain);
	sqlite3_bind_int(stmt, 6, wildcard);
	sqlite3_bind_int(stmt, 7, main);
	sqlite3_bind_int64(stmt, 8, (int64_t)time(NULL));
	return sqlite_exec_stmt(store, stmt, "address");
}

static int sqlite_user_create(struct store *store, const struct store_user *user,
			      const char *unameview, const char *addrview, const char *domain,
			      char id_r[STORE_ID_SIZE])
{
	struct pool *pool = pool_create(512);
	store_id_generate(id_r);
	if (sqlite_tx_begin(store) < 0) {
		pool_destroy(&pool);
		return -1;
	}
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_USER_INSERT);
	int ret = stmt == NULL ? -1 : 0;
	if (ret == 0) {
		sqlite_bind_text(stmt, 1, id_r);
		sqlite_bind_text(stmt, 2, user->username);
		sqlite_bind_text(stmt, 3, unameview);
		sqlite_bind_text(stmt, 4, user->password_hash);
		sqlite_bind_text(stmt, 5, user->address);
		sqlite3_bind_int64(stmt, 6, (int64_t)user->quota);
		sqlite3_bind_int(stmt, 7, user->disabled);
		sqlite3_bind_int(stmt, 8, user->suspended);
		sqlite_bind_text(stmt, 9, tags_join(pool, user->tags, user->tags_count));
		sqlite3_bind_int64(stmt, 10, user->limits.imap_max_connections);
		sqlite3_bind_int64(stmt, 11, user->limits.recipients_per_day);
		sqlite3_bind_int64(stmt, 12, user->limits.forwards_per_day);
		sqlite_bind_text(stmt, 13, user->settings);
		sqlite3_bind_int64(stmt, 14, (int64_t)time(NULL));
		ret = sqlite_exec_stmt(store, stmt, "username");
	}
	for (size_t i = 0; ret == 0 && i < sizeof(default_mailboxes) / sizeof(default_mailboxes[0]); i++) {
		char mailbox_id[STORE_ID_SIZE];
		ret = sqlite_mailbox_insert(store, id_r, default_mailboxes[i].path,
					    default_mailboxes[i].use, mailbox_id);
	}
	if (ret == 0 && user->address != NULL)
		ret = insert_address(store, id_r, user->address, addrview, domain, false, true);
	pool_destroy(&pool);
	return ret < 0 ? sqlite_tx_fail(store) : sqlite_tx_commit(store);
}

static void user_from_row(struct pool *pool, sqlite3_stmt *stmt, struct store_user *user)
{
	memset(user, 0, sizeof(*user));
	sqlite_col_id(stmt, 0, user->id);
	user->username = sqlite_col_text(pool, stmt, 1);
	user->password_hash = sqlite_col_text(pool, stmt, 2);
	user->address = sqlite_col_text(pool, stmt, 3);
	user->quota = (uint64_t)sqlite3_column_int64(stmt, 4);
	user->storage_used = (uint64_t)sqlite3_column_int64(stmt, 5);
	user->disabled = sqlite3_column_int(stmt, 6) != 0;
	user->suspended = sqlite3_column_int(stmt, 7) != 0;
	tags_split(pool, sqlite_col_text(pool, stmt, 8), user);
	user->limits.imap_max_connections = (uint32_t)sqlite3_column_int64(stmt, 9);
	user->limits.recipients_per_day = (uint32_t)sqlite3_column_int64(stmt, 10);
	user->limits.forwards_per_day = (uint32_t)sqlite3_column_int64(stmt, 11);
	user->settings = sqlite_col_text(pool, stmt, 12);
	user->created = sqlite3_column_int64(stmt, 13);
}

const char sqlite_user_cols[] = USER_COLS;
const char sqlite_message_cols[] = MESSAGE_COLS;

void sqlite_user_row(struct pool *pool, sqlite3_stmt *stmt, struct store_user *user)
{
	user_from_row(pool, stmt, user);
}

static int sqlite_user_get(struct store *store, const char *user_id, const char *unameview,
			   struct pool *pool, struct store_user **user_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, user_id != NULL ? STMT_USER_GET :
					 STMT_USER_GET_BY_NAME);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id != NULL ? user_id : unameview);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*user_r = pool_alloc(pool, sizeof(**user_r));
		user_from_row(pool, stmt, *user_r);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "user");
}

static int sqlite_user_update(struct store *store, const char *user_id, unsigned int fields,
			      const struct store_user *user)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	struct pool *pool = pool_create(256);
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_USER_UPDATE);
	int ret = -1;
	if (stmt != NULL) {
		sqlite_bind_text(stmt, 1, user_id);
		sqlite3_bind_int(stmt, 2, (fields & STORE_USER_PASSWORD) != 0);
		sqlite_bind_text(stmt, 3, user->password_hash);
		sqlite3_bind_int(stmt, 4, (fields & STORE_USER_QUOTA) != 0);
		sqlite3_bind_int64(stmt, 5, (int64_t)user->quota);
		sqlite3_bind_int(stmt, 6, (fields & STORE_USER_DISABLED) != 0);
		sqlite3_bind_int(stmt, 7, user->disabled);
		sqlite3_bind_int(stmt, 8, (fields & STORE_USER_SUSPENDED) != 0);
		sqlite3_bind_int(stmt, 9, user->suspended);
		sqlite3_bind_int(stmt, 10, (fields & STORE_USER_TAGS) != 0);
		sqlite_bind_text(stmt, 11, (fields & STORE_USER_TAGS) == 0 ? "" :
				 tags_join(pool, user->tags, user->tags_count));
		sqlite3_bind_int(stmt, 12, (fields & STORE_USER_LIMITS) != 0);
		sqlite3_bind_int64(stmt, 13, user->limits.imap_max_connections);
		sqlite3_bind_int64(stmt, 14, user->limits.recipients_per_day);
		sqlite3_bind_int64(stmt, 15, user->limits.forwards_per_day);
		sqlite3_bind_int(stmt, 16, (fields & STORE_USER_SETTINGS) != 0);
		sqlite_bind_text(stmt, 17, user->settings);
		ret = sqlite_exec_stmt(store, stmt, "user");
	}
	pool_destroy(&pool);
	if (ret == 0 && sqlite3_changes(ctx->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return ret;
}

/* Mailboxes, messages, journal and addresses go by FK cascade; the
 * triggers release attachment references on the way. */
static int sqlite_user_delete(struct store *store, const char *user_id)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	if (sqlite_tx_begin(store) < 0)
		return -1;
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_USER_DELETE);
	if (stmt == NULL)
		return sqlite_tx_fail(store);
	sqlite_bind_text(stmt, 1, user_id);
	if (sqlite_exec_stmt(store, stmt, "user delete") < 0)
		return sqlite_tx_fail(store);
	if (sqlite3_changes(ctx->db) == 0) {
		store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
		return sqlite_tx_fail(store);
	}
	return sqlite_tx_commit(store);
}

/* ---- addresses and domain aliases ---- */

static int user_exists(struct store *store, const char *user_id)
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

static int sqlite_address_add(struct store *store, const char *user_id, const char *address,
			      const char *addrview, const char *domain, bool wildcard, bool main)
{
	if (sqlite_tx_begin(store) < 0)
		return -1;
	int ret = user_exists(store, user_id);
	sqlite3_stmt *stmt;
	if (ret == 0 && main) {
		ret = (stmt = sqlite_stmt(store, STMT_ADDRESS_CLEAR_MAIN)) == NULL ? -1 : 0;
		if (ret == 0) {
			sqlite_bind_text(stmt, 1, user_id);
			ret = sqlite_exec_stmt(store, stmt, "address");
		}
		if (ret == 0 && (stmt = sqlite_stmt(store, STMT_USER_SET_ADDRESS)) == NULL)
			ret = -1;
		if (ret == 0) {
			sqlite_bind_text(stmt, 1, user_id);
			sqlite_bind_text(stmt, 2, address);
			ret = sqlite_exec_stmt(store, stmt, "address");
		}
	}
	if (ret == 0)
		ret = insert_address(store, user_id, address, addrview, domain, wildcard, main);
	return ret < 0 ? sqlite_tx_fail(store) : sqlite_tx_commit(store);
}

static int address_row(struct pool *pool, sqlite3_stmt *stmt, struct store_address *addr)
{
	memset(addr, 0, sizeof(*addr));
	sqlite_col_id(stmt, 0, addr->id);
	sqlite_col_id(stmt, 1, addr->user);
	addr->address = sqlite_col_text(pool, stmt, 2);
	addr->main = sqlite3_column_int(stmt, 3) != 0;
	addr->created = sqlite3_column_int64(stmt, 4);
	return 0;
}

static int sqlite_address_find(struct store *store, const char *address, const char *addrview,
			       struct pool *pool, struct store_address **address_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, address != NULL ? STMT_ADDRESS_GET :
					 STMT_ADDRESS_GET_VIEW);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, address != NULL ? address : addrview);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*address_r = pool_alloc(pool, sizeof(**address_r));
		address_row(pool, stmt, *address_r);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such address");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "address");
}

/* Runs a statement whose only parameter is key and collects address rows. */
static int address_rows(struct store *store, enum sqlite_stmt which, const char *key,
			struct pool *pool, struct store_address **addresses_r,
			unsigned int *count_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, which);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, key);
	unsigned int count = 0, cap = 8;
	struct store_address *list = pool_alloc(pool, cap * sizeof(*list));
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (count == cap) {
			struct store_address *bigger = pool_alloc(pool, cap * 2 * sizeof(*list));
			memcpy(bigger, list, cap * sizeof(*list));
			list = bigger;
			cap *= 2;
		}
		address_row(pool, stmt, &list[count++]);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(store, rc, "address list");
	*addresses_r = list;
	*count_r = count;
	return 0;
}

static int sqlite_address_list(struct store *store, const char *user_id, struct pool *pool,
			       struct store_address **addresses_r, unsigned int *count_r)
{
	return address_rows(store, STMT_ADDRESS_LIST, user_id, pool, addresses_r, count_r);
}

static int sqlite_address_page(struct store *store, const char *domain, const char *query,
			       const char *after, bool backwards, unsigned int limit,
			       struct pool *pool, struct store_address **addresses_r,
			       unsigned int *count_r)
{
	char sql[512];
	/* instr(), not LIKE: the query's % and _ are plain characters */
	snprintf(sql, sizeof(sql), "SELECT " ADDRESS_COLS " FROM addresses WHERE "
		 "(?1 IS NULL OR domain = ?1) AND (?2 IS NULL OR instr(address, ?2) > 0) AND "
		 "(?3 IS NULL OR address %s ?3) ORDER BY address %s LIMIT ?4",
		 backwards ? "<" : ">", backwards ? "DESC" : "ASC");
	sqlite3_stmt *stmt = sqlite_prepare_once(store, sql);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, domain);
	sqlite_bind_text(stmt, 2, query);
	sqlite_bind_text(stmt, 3, after);
	sqlite3_bind_int(stmt, 4, (int)limit);
	struct store_address *list = pool_alloc(pool, limit * sizeof(*list));
	unsigned int count = 0;
	int rc;
	while (count < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		address_row(pool, stmt, &list[count++]);
	if (count == limit)
		rc = SQLITE_DONE;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(store, rc, "address page");
	*addresses_r = list;
	*count_r = count;
	return 0;
}

static int sqlite_address_wildcards(struct store *store, const char *domain,
				    struct pool *pool, struct store_address **addresses_r,
				    unsigned int *count_r)
{
	return address_rows(store, STMT_ADDRESS_WILDCARDS, domain, pool, addresses_r, count_r);
}

static int sqlite_address_delete(struct store *store, const char *address)
{
	struct sqlite_store *ctx = sqlite_ctx(store);
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_ADDRESS_DELETE);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, address);
	if (sqlite_exec_stmt(store, stmt, "address delete") < 0)
		return -1;
	if (sqlite3_changes(ctx->db) > 0)
		return 0;
	struct pool *pool = pool_create(256);
	struct store_address *found;
	int ret = sqlite_address_find(store, address, NULL, pool, &found);
	pool_destroy(&pool);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_INVALID,
				       "the main address cannot be deleted");
	return -1;
}

static int sqlite_domain_alias_add(struct store *store, const char *alias, const char *domain)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_ALIAS_INSERT);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, alias);
	sqlite_bind_text(stmt, 2, domain);
	sqlite3_bind_int64(stmt, 3, (int64_t)time(NULL));
	return sqlite_exec_stmt(store, stmt, "domain alias");
}

static int sqlite_domain_alias_delete(struct store *store, const char *alias)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_ALIAS_DELETE);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, alias);
	if (sqlite_exec_stmt(store, stmt, "domain alias") < 0)
		return -1;
	if (sqlite3_changes(sqlite_ctx(store)->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such domain alias");
	return 0;
}

static int sqlite_domain_alias_get(struct store *store, const char *alias, struct pool *pool,
				   const char **domain_r)
{
	sqlite3_stmt *stmt = sqlite_stmt(store, STMT_ALIAS_GET);
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, alias);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*domain_r = sqlite_col_text(pool, stmt, 0);
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such domain alias");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "domain alias");
}

const struct store_driver store_driver_sqlite = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.user_create = sqlite_user_create,
	.user_get = sqlite_user_get,
	.user_update = sqlite_user_update,
	.user_delete = sqlite_user_delete,
	.address_add = sqlite_address_add,
	.address_delete = sqlite_address_delete,
	.address_list = sqlite_address_list,
	.address_find = sqlite_address_find,
	.address_wildcards = sqlite_address_wildcards,
	.address_page = sqlite_address_page,
	.domain_alias_add = sqlite_domain_alias_add,
	.domain_alias_delete = sqlite_domain_alias_delete,
	.domain_alias_get = sqlite_domain_alias_get,
	.mailbox_create = sqlite_mailbox_create,
	.mailbox_get = sqlite_mailbox_get,
	.mailbox_list = sqlite_mailbox_list,
	.mailbox_rename = sqlite_mailbox_rename,
	.mailbox_delete = sqlite_mailbox_delete,
	.mailbox_subscribe = sqlite_mailbox_subscribe,
	.mailbox_counts = sqlite_mailbox_counts,
	.message_append = sqlite_message_append,
	.message_list = sqlite_message_list,
	.message_get = sqlite_message_get,
	.message_content = sqlite_message_content,
	.flags_update = sqlite_flags_update,
	.message_copy = sqlite_message_copy,
	.message_expunge = sqlite_message_expunge,
	.attachment_get = sqlite_attachment_get,
	.attachment_read = sqlite_attachment_read,
	.attachment_info = sqlite_attachment_info,
	.journal_since = sqlite_journal_since,
	.filter_add = sqlite_filter_add,
	.filter_delete = sqlite_filter_delete,
	.filter_list = sqlite_filter_list,
	.autoreply_set = sqlite_autoreply_set,
	.autoreply_get = sqlite_autoreply_get,
	.autoreply_delete = sqlite_autoreply_delete,
	.targets_set = sqlite_targets_set,
	.targets_get = sqlite_targets_get,
	.counter_add = sqlite_counter_add,
	.webhook_enqueue = sqlite_webhook_enqueue,
	.object_add = sqlite_object_add,
	.object_list = sqlite_object_list,
	.object_get = sqlite_object_get,
	.object_update = sqlite_object_update,
	.object_delete = sqlite_object_delete,
	.webhook_claim = sqlite_webhook_claim,
	.webhook_done = sqlite_webhook_done,
	.webhook_retry = sqlite_webhook_retry,
	.message_thread_set = sqlite_message_thread_set,
	.user_storage_set = sqlite_user_storage_set,
	.asp_create = sqlite_asp_create,
	.asp_list = sqlite_asp_list,
	.asp_delete = sqlite_asp_delete,
	.asp_touch = sqlite_asp_touch,
	.totp_get = sqlite_totp_get,
	.totp_set = sqlite_totp_set,
	.totp_use = sqlite_totp_use,
	.authlog_add = sqlite_authlog_add,
	.authlog_list = sqlite_authlog_list,
	.authlog_purge = sqlite_authlog_purge,
	.user_list = sqlite_user_list,
	.user_count = sqlite_user_count,
	.message_page = sqlite_message_page,
	.message_tree = sqlite_message_tree,
	.token_add = sqlite_token_add,
	.token_get = sqlite_token_get,
	.token_delete = sqlite_token_delete,
	.journal_user_since = sqlite_journal_user_since,
	.journal_user_last = sqlite_journal_user_last,
};

sqlite3_stmt *sqlite_prepare_once(struct store *store, const char *sql)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(sqlite_ctx(store)->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		sqlite_fail(store, rc, "prepare");
		return NULL;
	}
	return stmt;
}

int sqlite_run_once(struct store *store, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, what);
}
