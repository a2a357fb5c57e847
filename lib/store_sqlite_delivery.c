/* SQLite driver: filters, autoreplies, forwarding targets, counters and
 * the webhook queue (tables of schema step 2). These run a few times per
 * delivered message, so their statements are prepared per call rather than
 * cached in the shared statement table. */
#include "store_sqlite.h"

#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FILTER_COLS "id, user, name, q_from, q_to, q_subject, q_listid, q_text, " \
	"q_attachment, q_size, a_seen, a_flag, a_spam, a_delete, a_mailbox, a_forward, " \
	"a_webhook, disabled, created"

static const char *empty_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

int sqlite_filter_add(struct store *store, const char *user_id,
		      const struct store_filter *f, char id_r[STORE_ID_SIZE])
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "INSERT INTO filters (" FILTER_COLS ") SELECT "
		"?1, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
		"?19 FROM users WHERE id = ?2");
	if (stmt == NULL)
		return -1;
	store_id_generate(id_r);
	sqlite_bind_text(stmt, 1, id_r);
	sqlite_bind_text(stmt, 2, user_id);
	sqlite_bind_text(stmt, 3, f->name);
	sqlite_bind_text(stmt, 4, empty_null(f->from));
	sqlite_bind_text(stmt, 5, empty_null(f->to));
	sqlite_bind_text(stmt, 6, empty_null(f->subject));
	sqlite_bind_text(stmt, 7, empty_null(f->list_id));
	sqlite_bind_text(stmt, 8, empty_null(f->text));
	sqlite3_bind_int(stmt, 9, f->has_attachment < 0 ? -1 : f->has_attachment > 0);
	sqlite3_bind_int64(stmt, 10, f->size);
	sqlite3_bind_int(stmt, 11, f->seen < 0 ? -1 : f->seen > 0);
	sqlite3_bind_int(stmt, 12, f->flag < 0 ? -1 : f->flag > 0);
	sqlite3_bind_int(stmt, 13, f->spam < 0 ? -1 : f->spam > 0);
	sqlite3_bind_int(stmt, 14, f->delete_message);
	sqlite_bind_text(stmt, 15, empty_null(f->mailbox));
	sqlite_bind_text(stmt, 16, empty_null(f->forward));
	sqlite_bind_text(stmt, 17, empty_null(f->webhook));
	sqlite3_bind_int(stmt, 18, f->disabled);
	sqlite3_bind_int64(stmt, 19, (int64_t)time(NULL));
	if (sqlite_run_once(store, stmt, "filter insert") < 0)
		return -1;
	if (sqlite3_changes(sqlite_ctx(store)->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return 0;
}

int sqlite_filter_delete(struct store *store, const char *user_id, const char *filter_id)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "DELETE FROM filters WHERE id = ?1 AND user = ?2");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, filter_id);
	sqlite_bind_text(stmt, 2, user_id);
	if (sqlite_run_once(store, stmt, "filter delete") < 0)
		return -1;
	if (sqlite3_changes(sqlite_ctx(store)->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such filter");
	return 0;
}

int sqlite_filter_list(struct store *store, const char *user_id, struct pool *pool,
		       struct store_filter **filters_r, unsigned int *count_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT " FILTER_COLS " FROM filters "
				     "WHERE user = ?1 ORDER BY created, rowid");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	unsigned int count = 0, cap = 0;
	struct store_filter *list = NULL;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			struct store_filter *bigger = pool_alloc(pool, cap * sizeof(*bigger));
			if (count > 0)
				memcpy(bigger, list, count * sizeof(*bigger));
			list = bigger;
		}
		struct store_filter *f = &list[count++];
		sqlite_col_id(stmt, 0, f->id);
		sqlite_col_id(stmt, 1, f->user);
		f->name = sqlite_col_text(pool, stmt, 2);
		f->from = sqlite_col_text(pool, stmt, 3);
		f->to = sqlite_col_text(pool, stmt, 4);
		f->subject = sqlite_col_text(pool, stmt, 5);
		f->list_id = sqlite_col_text(pool, stmt, 6);
		f->text = sqlite_col_text(pool, stmt, 7);
		f->has_attachment = sqlite3_column_int(stmt, 8);
		f->size = sqlite3_column_int64(stmt, 9);
		f->seen = sqlite3_column_int(stmt, 10);
		f->flag = sqlite3_column_int(stmt, 11);
		f->spam = sqlite3_column_int(stmt, 12);
		f->delete_message = sqlite3_column_int(stmt, 13) != 0;
		f->mailbox = sqlite_col_text(pool, stmt, 14);
		f->forward = sqlite_col_text(pool, stmt, 15);
		f->webhook = sqlite_col_text(pool, stmt, 16);
		f->disabled = sqlite3_column_int(stmt, 17) != 0;
		f->created = sqlite3_column_int64(stmt, 18);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(store, rc, "filter list");
	*filters_r = list;
	*count_r = count;
	return 0;
}

int sqlite_autoreply_set(struct store *store, const char *user_id,
			 const struct store_autoreply *ar)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "INSERT OR REPLACE INTO autoreplies (user, status, "
		"start, end, name, subject, text, html, created) "
		"SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM users WHERE id = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite3_bind_int(stmt, 2, ar->status);
	sqlite3_bind_int64(stmt, 3, ar->start);
	sqlite3_bind_int64(stmt, 4, ar->end);
	sqlite_bind_text(stmt, 5, ar->name);
	sqlite_bind_text(stmt, 6, ar->subject);
	sqlite_bind_text(stmt, 7, ar->text);
	sqlite_bind_text(stmt, 8, ar->html);
	sqlite3_bind_int64(stmt, 9, (int64_t)time(NULL));
	if (sqlite_run_once(store, stmt, "autoreply set") < 0)
		return -1;
	if (sqlite3_changes(sqlite_ctx(store)->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return 0;
}

int sqlite_autoreply_get(struct store *store, const char *user_id, struct pool *pool,
			 struct store_autoreply **autoreply_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT status, start, end, name, subject, text, "
				     "html, created FROM autoreplies WHERE user = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	int rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		if (rc == SQLITE_DONE)
			return store_set_error(store, STORE_ERR_NOT_FOUND, "no autoreply");
		return sqlite_fail(store, rc, "autoreply get");
	}
	struct store_autoreply *ar = pool_alloc(pool, sizeof(*ar));
	ar->status = sqlite3_column_int(stmt, 0) != 0;
	ar->start = sqlite3_column_int64(stmt, 1);
	ar->end = sqlite3_column_int64(stmt, 2);
	ar->name = sqlite_col_text(pool, stmt, 3);
	ar->subject = sqlite_col_text(pool, stmt, 4);
	ar->text = sqlite_col_text(pool, stmt, 5);
	ar->html = sqlite_col_text(pool, stmt, 6);
	ar->created = sqlite3_column_int64(stmt, 7);
	sqlite3_finalize(stmt);
	*autoreply_r = ar;
	return 0;
}

int sqlite_autoreply_delete(struct store *store, const char *user_id)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "DELETE FROM autoreplies WHERE user = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	return sqlite_run_once(store, stmt, "autoreply delete");
}

int sqlite_targets_set(struct store *store, const char *user_id, const char *joined)
{
	sqlite3_stmt *stmt = joined == NULL ?
		sqlite_prepare_once(store, "DELETE FROM user_targets WHERE user = ?1") :
		sqlite_prepare_once(store, "INSERT OR REPLACE INTO user_targets (user, targets) "
			"SELECT id, ?2 FROM users WHERE id = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	if (joined != NULL)
		sqlite_bind_text(stmt, 2, joined);
	if (sqlite_run_once(store, stmt, "targets set") < 0)
		return -1;
	if (joined != NULL && sqlite3_changes(sqlite_ctx(store)->db) == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return 0;
}

int sqlite_targets_get(struct store *store, const char *user_id, struct pool *pool,
		       const char **joined_r)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "SELECT targets FROM user_targets WHERE user = ?1");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	int rc = sqlite3_step(stmt);
	*joined_r = rc == SQLITE_ROW ? sqlite_col_text(pool, stmt, 0) : NULL;
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sqlite_fail(store, rc, "targets get");
}

int sqlite_counter_add(struct store *store, const char *key, int64_t delta, int64_t ttl_secs,
		       int64_t *value_r)
{
	/* one statement, so concurrent deliveries never lose an increment */
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "INSERT INTO counters (key, value, expires) "
		"VALUES (?1, ?2, ?3 + ?4) ON CONFLICT (key) DO UPDATE SET "
		"value = CASE WHEN expires <= ?3 THEN excluded.value ELSE value + excluded.value END, "
		"expires = CASE WHEN expires <= ?3 THEN excluded.expires ELSE expires END "
		"RETURNING value");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, key);
	sqlite3_bind_int64(stmt, 2, delta);
	sqlite3_bind_int64(stmt, 3, (int64_t)time(NULL));
	sqlite3_bind_int64(stmt, 4, ttl_secs);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*value_r = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return sqlite_fail(store, rc, "counter add");
	/* forget expired counters now and then */
	if (delta > 0 && (rand() & 255) == 0) {
		stmt = sqlite_prepare_once(store, "DELETE FROM counters WHERE expires <= ?1");
		if (stmt != NULL) {
			sqlite3_bind_int64(stmt, 1, (int64_t)time(NULL));
			(void)sqlite_run_once(store, stmt, "counter expire");
		}
		store->error = STORE_OK;
	}
	return 0;
}

int sqlite_webhook_enqueue(struct store *store, const char *user_id, const char *url,
			   const char *event, const char *payload)
{
	sqlite3_stmt *stmt = sqlite_prepare_once(store, "INSERT INTO webhook_queue (user, url, event, "
				     "payload, created) VALUES (?1, ?2, ?3, ?4, ?5)");
	if (stmt == NULL)
		return -1;
	sqlite_bind_text(stmt, 1, user_id);
	sqlite_bind_text(stmt, 2, url);
	sqlite_bind_text(stmt, 3, event);
	sqlite_bind_text(stmt, 4, payload);
	sqlite3_bind_int64(stmt, 5, (int64_t)time(NULL));
	return sqlite_run_once(store, stmt, "webhook enqueue");
}
