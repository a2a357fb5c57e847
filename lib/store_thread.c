/* store_message_thread_set() (store_thread.h): the SQLite driver's update,
 * done here on the driver's connection; other drivers answer "not
 * supported" until they implement it. */
#include "store_thread.h"

#include "log.h"
#include "store_sqlite.h"

#include <string.h>

int store_message_thread_set(struct store *store, const char *mailbox_id, uint32_t uid,
			     const char *thread, const char **error_r)
{
	store->error = STORE_OK;
	store->error_msg[0] = '\0';
	log_debug("event=store_call driver=%s op=message_thread_set arg=%s:%u",
		  store->driver->name, mailbox_id, uid);
	if (strcmp(store->driver->name, "sqlite") != 0) {
		store_set_error(store, STORE_ERR_INTERNAL,
				"message_thread_set: not supported by the %s driver",
				store->driver->name);
		*error_r = store->error_msg;
		return -1;
	}
	sqlite3 *db = sqlite_ctx(store)->db;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "UPDATE messages SET thread = ?1 WHERE mailbox = ?2 "
				    "AND uid = ?3", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, thread, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, mailbox_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, uid);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE) {
		sqlite_fail(store, rc, "message_thread_set");
		*error_r = store->error_msg;
		return -1;
	}
	if (sqlite3_changes(db) == 0) {
		store_set_error(store, STORE_ERR_NOT_FOUND, "no message %s:%u", mailbox_id, uid);
		*error_r = store->error_msg;
		return -1;
	}
	return 0;
}
