/* SQLite driver: application-specific passwords, TOTP secrets and used
 * steps, and the authentication log (tables of schema step 3). Like the
 * delivery calls, statements are prepared per call; none needs a
 * transaction (each is one statement). */
#include "store_sqlite.h"

#include "pool.h"

#include <string.h>
#include <time.h>

/* Used TOTP steps older than this many steps are forgotten. */
#define TOTP_STEPS_KEPT 10

static int changes(struct store *store)
{
	return sqlite3_changes(sqlite_ctx(store)->db);
}

int sqlite_asp_create(struct store *store, const char *user_id, const char *description,
		      const char *scopes, const char *password_hash, char id_r[STORE_ID_SIZE])
{
	/* INSERT ... SELECT: no row (NOT_FOUND) when the user does not exist */
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "INSERT INTO asps (id, user, description, scopes, "
		"password, created, last_use) SELECT ?1, id, ?3, ?4, ?5, ?6, 0 FROM users "
		"WHERE id = ?2");
	if (stmt == NULL)
		return -1;
	store_id_generate(id_r);
	sqlite_bind_text(stmt, 1, id_r);
	sqlite_bind_text(stmt, 2, user_id);
	sqlite_bind_text(stmt, 3, description);
	sqlite_bind_text(stmt, 4, scopes);
	sqlite_bind_text(stmt, 5, password_hash);
	sqlite3_bind_int64(stmt, 6, (int64_t)time(NULL));
	if (sqlite_run_once(store, stmt, "asp") < 0)
		return -1;
	if (changes(store) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return 0;
}

int sqlite_asp_list(struct store *store, const char *user_id, struct pool *pool,
		    struct store_asp **asps_r, unsigned int *count_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT id, user, description, scopes, password, "
		"created, last_use FROM asps WHERE user = ?1 ORDER BY created, rowid");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	unsigned int n = 0, cap = 4;
	struct store_asp *asps = pool_alloc(pool, cap * sizeof(*asps));
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			struct store_asp *bigger = pool_alloc(pool, 2 * cap * sizeof(*asps));
			memcpy(bigger, asps, n * sizeof(*asps));
			asps = bigger;
			cap *= 2;
		}
		struct store_asp *a = &asps[n++];
		sqlite_col_id(stmt, 0, a->id);
		sqlite_col_id(stmt, 1, a->user);
		a->description = sqlite_col_text(pool, stmt, 2);
		store_flags_split(pool, sqlite_col_text(pool, stmt, 3), &a->scopes, &a->scopes_count);
		a->password_hash = sqlite_col_text(pool, stmt, 4);
		a->created = sqlite3_column_int64(stmt, 5);
		a->last_use = sqlite3_column_int64(stmt, 6);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(store, rc, "asp list");
	*asps_r = asps;
	*count_r = n;
	return 0;
}

int sqlite_asp_delete(struct store *store, const char *user_id, const char *asp_id)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "DELETE FROM asps WHERE id = ?1 AND user = ?2");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, asp_id);
	sqlite_bind_text(stmt, 2, user_id);
	if (sqlite_run_once(store, stmt, "asp delete") < 0)
		return -1;
	return changes(store) == 0 ?
		store_set_error(store, STORE_ERR_NOT_FOUND, "no such application password") : 0;
}

int sqlite_asp_touch(struct store *store, const char *asp_id, int64_t when)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "UPDATE asps SET last_use = ?2 WHERE id = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, asp_id);
	sqlite3_bind_int64(stmt, 2, when);
	if (sqlite_run_once(store, stmt, "asp touch") < 0)
		return -1;
	return changes(store) == 0 ?
		store_set_error(store, STORE_ERR_NOT_FOUND, "no such application password") : 0;
}

int sqlite_totp_get(struct store *store, const char *user_id, struct pool *pool,
		    const char **secret_r, bool *enabled_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT secret, enabled FROM totp WHERE user = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*secret_r = sqlite_col_text(pool, stmt, 0);
		*enabled_r = sqlite3_column_int(stmt, 1) != 0;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no TOTP secret");
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "totp");
}

int sqlite_totp_set(struct store *store, const char *user_id, const char *secret, bool enabled)
{
	sqlite3_stmt *stmt;
	if (secret == NULL) {
		stmt = sqlite_prepare_once(store, "DELETE FROM totp WHERE user = ?1");
		if (stmt == NULL)
			return -1;
		sqlite_bind_text(stmt, 1, user_id);
		return sqlite_run_once(store, stmt, "totp");
	}
	stmt = sqlite_prepare_once(store, "INSERT INTO totp (user, secret, enabled) SELECT id, ?2, ?3 "
		       "FROM users WHERE id = ?1 ON CONFLICT (user) DO UPDATE SET "
		       "secret = excluded.secret, enabled = excluded.enabled");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite_bind_text(stmt, 2, secret);
	sqlite3_bind_int(stmt, 3, enabled);
	if (sqlite_run_once(store, stmt, "totp") < 0)
		return -1;
	return changes(store) == 0 ? store_set_error(store, STORE_ERR_NOT_FOUND, "no such user") : 0;
}

int sqlite_totp_use(struct store *store, const char *user_id, uint64_t step)
{
	/* the primary key makes a second use of the step fail with EXISTS */
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "INSERT INTO totp_used (user, step) "
				     "SELECT id, ?2 FROM users WHERE id = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, (int64_t)step);
	if (sqlite_run_once(store, stmt, "totp use") < 0)
		return -1;
	if (changes(store) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	stmt = sqlite_prepare_once(store, "DELETE FROM totp_used WHERE user = ?1 AND step < ?2");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, (int64_t)step - TOTP_STEPS_KEPT);
	return sqlite_run_once(store, stmt, "totp use");
}

int sqlite_authlog_add(struct store *store, const struct store_authlog_entry *e)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "INSERT INTO authlog (id, user, created, expires, "
		"service, ip, success, reason, asp) SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 "
		"FROM users WHERE id = ?2");
	if (stmt == NULL)
		return -1;
	char id[STORE_ID_SIZE];
	store_id_generate(id);
	sqlite_bind_text(stmt, 1, id);
	sqlite_bind_text(stmt, 2, e->user);
	sqlite3_bind_int64(stmt, 3, e->created);
	sqlite3_bind_int64(stmt, 4, e->expires);
	sqlite_bind_text(stmt, 5, e->service);
	sqlite_bind_text(stmt, 6, e->remote_ip);
	sqlite3_bind_int(stmt, 7, e->success);
	sqlite_bind_text(stmt, 8, e->reason);
	sqlite_bind_text(stmt, 9, e->asp);
	if (sqlite_run_once(store, stmt, "authlog") < 0)
		return -1;
	return changes(store) == 0 ? store_set_error(store, STORE_ERR_NOT_FOUND, "no such user") : 0;
}

int sqlite_authlog_list(struct store *store, const char *user_id, int64_t now,
			unsigned int limit, struct pool *pool,
			struct store_authlog_entry **entries_r, unsigned int *count_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT id, user, created, expires, service, ip, "
		"success, reason, asp FROM authlog WHERE user = ?1 AND expires > ?2 "
		"ORDER BY created DESC, rowid DESC LIMIT ?3");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, limit);
	struct store_authlog_entry *out = pool_alloc(pool, (limit + 1) * sizeof(*out));
	unsigned int n = 0;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && n < limit) {
		struct store_authlog_entry *e = &out[n++];
		sqlite_col_id(stmt, 0, e->id);
		sqlite_col_id(stmt, 1, e->user);
		e->created = sqlite3_column_int64(stmt, 2);
		e->expires = sqlite3_column_int64(stmt, 3);
		e->service = sqlite_col_text(pool, stmt, 4);
		e->remote_ip = sqlite_col_text(pool, stmt, 5);
		e->success = sqlite3_column_int(stmt, 6) != 0;
		e->reason = sqlite_col_text(pool, stmt, 7);
		e->asp = sqlite_col_text(pool, stmt, 8);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sqlite_fail(store, rc, "authlog list");
	*entries_r = out;
	*count_r = n;
	return 0;
}

int sqlite_authlog_purge(struct store *store, int64_t now, unsigned int *purged_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "DELETE FROM authlog WHERE expires <= ?1");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, now);
	if (sqlite_run_once(store, stmt, "authlog purge") < 0)
		return -1;
	*purged_r = (unsigned int)changes(store);
	return 0;
}
