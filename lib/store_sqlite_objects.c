/* SQLite side of the API objects (webhooks, DKIM keys, certificates: the
 * api_objects table) and of the webhook queue's sender (claim with a
 * lease, done, retry). A few calls per API request or sender round. */
#include "store_sqlite.h"

#include "pool.h"

#include <stdio.h>
#include <string.h>

/* Steps a statement that returns no rows and finalizes it; NOT_FOUND if it
 * changed nothing and must_change is set. */
static int run(struct store *store, sqlite3_stmt *stmt, const char *what, bool must_change)
{
	if (sqlite_run_once(store, stmt, what) < 0)
		return -1;
	if (must_change && sqlite3_changes(sqlite_ctx(store)->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "%s: not found", what);
	return 0;
}

int sqlite_object_add(struct store *store, const char *kind, const char *user_id,
		      const char *key, const char *doc, bool unique, char id_r[STORE_ID_SIZE])
{
	if (sqlite_tx_begin(store) < 0)
		return -1;
	sqlite3_stmt *stmt;
	if (unique && key != NULL) {
		stmt = sqlite_prepare_once(store, "SELECT 1 FROM api_objects WHERE kind = ?1 AND key = ?2");
		if (stmt == NULL)
			return sqlite_tx_fail(store);
		sqlite_bind_text(stmt, 1, kind);
		sqlite_bind_text(stmt, 2, key);
		int rc = sqlite3_step(stmt);
		sqlite3_finalize(stmt);
		if (rc == SQLITE_ROW) {
			store_set_error(store, STORE_ERR_EXISTS, "%s %s exists", kind, key);
			return sqlite_tx_fail(store);
		}
		if (rc != SQLITE_DONE) {
			sqlite_fail(store, rc, "object find");
			return sqlite_tx_fail(store);
		}
	}
	if (user_id != NULL) {
		stmt = sqlite_prepare_once(store, "SELECT 1 FROM users WHERE id = ?1");
		if (stmt == NULL)
			return sqlite_tx_fail(store);
		sqlite_bind_text(stmt, 1, user_id);
		int rc = sqlite3_step(stmt);
		sqlite3_finalize(stmt);
		if (rc != SQLITE_ROW) {
			if (rc == SQLITE_DONE)
				store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
			else
				sqlite_fail(store, rc, "object user");
			return sqlite_tx_fail(store);
		}
	}
	store_id_generate(id_r);
	stmt = sqlite_prepare_once(store, "INSERT INTO api_objects (id, kind, user, key, doc, created) "
			      "VALUES (?1, ?2, ?3, ?4, ?5, strftime('%s', 'now'))");
	if (stmt == NULL)
		return sqlite_tx_fail(store);
	sqlite_bind_text(stmt, 1, id_r);
	sqlite_bind_text(stmt, 2, kind);
	sqlite_bind_text(stmt, 3, user_id);
	sqlite_bind_text(stmt, 4, key);
	sqlite_bind_text(stmt, 5, doc);
	if (run(store, stmt, "object add", false) < 0)
		return sqlite_tx_fail(store);
	return sqlite_tx_commit(store);
}

static void object_row(struct pool *pool, sqlite3_stmt *stmt, struct store_object *o)
{
	memset(o, 0, sizeof(*o));
	sqlite_col_id(stmt, 0, o->id);
	o->kind = sqlite_col_text(pool, stmt, 1);
	if (sqlite3_column_type(stmt, 2) != SQLITE_NULL)
		sqlite_col_id(stmt, 2, o->user);
	o->key = sqlite_col_text(pool, stmt, 3);
	o->doc = sqlite_col_text(pool, stmt, 4);
	o->created = sqlite3_column_int64(stmt, 5);
}

int sqlite_object_list(struct store *store, const char *kind, const char *user_id,
		       const char *key, struct pool *pool, struct store_object **objects_r,
		       unsigned int *count_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT id, kind, user, key, doc, created FROM "
				     "api_objects WHERE kind = ?1 AND (?2 IS NULL OR user = ?2) "
				     "AND (?3 IS NULL OR key = ?3) ORDER BY created, id");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, kind);
	sqlite_bind_text(stmt, 2, user_id);
	sqlite_bind_text(stmt, 3, key);
	unsigned int count = 0, cap = 0;
	struct store_object *objs = NULL;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			struct store_object *n = pool_alloc(pool, cap * sizeof(*n));
			if (count > 0)
				memcpy(n, objs, count * sizeof(*n));
			objs = n;
		}
		object_row(pool, stmt, &objs[count++]);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(store, rc, "object list");
	*objects_r = objs;
	*count_r = count;
	return 0;
}

int sqlite_object_get(struct store *store, const char *kind, const char *id,
		      struct pool *pool, struct store_object **object_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT id, kind, user, key, doc, created FROM "
				     "api_objects WHERE kind = ?1 AND id = ?2");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, kind);
	sqlite_bind_text(stmt, 2, id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*object_r = pool_alloc(pool, sizeof(**object_r));
		object_row(pool, stmt, *object_r);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such %s", kind);
	return rc == SQLITE_ROW ? 0 : sqlite_fail(store, rc, "object get");
}

int sqlite_object_delete(struct store *store, const char *kind, const char *id)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "DELETE FROM api_objects WHERE kind = ?1 AND id = ?2");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, kind);
	sqlite_bind_text(stmt, 2, id);
	return run(store, stmt, "object delete", true);
}

int sqlite_object_update(struct store *store, const char *kind, const char *id,
			 const char *doc)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "UPDATE api_objects SET doc = ?3 "
				     "WHERE kind = ?1 AND id = ?2");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, kind);
	sqlite_bind_text(stmt, 2, id);
	sqlite_bind_text(stmt, 3, doc);
	return run(store, stmt, "object update", true);
}

int sqlite_webhook_claim(struct store *store, int64_t now, int64_t lease_secs,
			 unsigned int limit, struct pool *pool,
			 struct store_webhook_call **calls_r, unsigned int *count_r)
{
	if (sqlite_tx_begin(store) < 0)
		return -1;
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT id, user, url, event, payload, attempts, "
				     "created FROM webhook_queue WHERE next_try <= ?1 "
				     "ORDER BY next_try, id LIMIT ?2");
	if (stmt == NULL)
		return sqlite_tx_fail(store);
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int(stmt, 2, (int)limit);
	struct store_webhook_call *calls = pool_alloc(pool, limit * sizeof(*calls));
	unsigned int count = 0;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && count < limit) {
		struct store_webhook_call *c = &calls[count++];
		memset(c, 0, sizeof(*c));
		c->id = sqlite3_column_int64(stmt, 0);
		const char *user = sqlite_col_text(pool, stmt, 1);
		if (user != NULL)
			snprintf(c->user, sizeof(c->user), "%s", user);
		c->url = sqlite_col_text(pool, stmt, 2);
		c->event = sqlite_col_text(pool, stmt, 3);
		c->payload = sqlite_col_text(pool, stmt, 4);
		c->attempts = (unsigned int)sqlite3_column_int(stmt, 5);
		c->created = sqlite3_column_int64(stmt, 6);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		sqlite_fail(store, rc, "webhook claim");
		return sqlite_tx_fail(store);
	}
	for (unsigned int i = 0; i < count; i++) {
		stmt = sqlite_prepare_once(store, "UPDATE webhook_queue SET next_try = ?2 WHERE id = ?1");
		if (stmt == NULL)
			return sqlite_tx_fail(store);
		sqlite3_bind_int64(stmt, 1, calls[i].id);
		sqlite3_bind_int64(stmt, 2, now + lease_secs);
		if (run(store, stmt, "webhook lease", false) < 0)
			return sqlite_tx_fail(store);
	}
	if (sqlite_tx_commit(store) < 0)
		return -1;
	*calls_r = calls;
	*count_r = count;
	return 0;
}

int sqlite_webhook_done(struct store *store, int64_t id)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "DELETE FROM webhook_queue WHERE id = ?1");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	return run(store, stmt, "webhook done", false);
}

int sqlite_webhook_retry(struct store *store, int64_t id, int64_t next_try)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "UPDATE webhook_queue SET attempts = attempts + 1, "
				     "next_try = ?2 WHERE id = ?1");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, next_try);
	return run(store, stmt, "webhook retry", true);
}
