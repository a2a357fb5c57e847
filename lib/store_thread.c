/* The dispatcher of store_message_thread_set() (store_thread.h): argument
 * checks and the call frame, then the driver (which may lack it: then
 * INTERNAL "not supported"). */
#include "store_thread.h"

#include "store_driver.h"

#include <stdio.h>
#include <string.h>

/* Thread ids are ours (24 hex digits), but allow some room. */
#define THREAD_MAX 64

int store_message_thread_set(struct store *store, const char *mailbox_id, uint32_t uid,
			     const char *thread, const char **error_r)
{
	static const char op[] = "message_thread_set";
	char arg[STORE_ID_SIZE + 16];
	snprintf(arg, sizeof(arg), "%.*s:%u", STORE_ID_SIZE - 1,
		 mailbox_id == NULL ? "-" : mailbox_id, uid);
	store_call_begin(store, op, arg);
	if (store->driver->message_thread_set == NULL) {
		store_set_error(store, STORE_ERR_INTERNAL, "%s is not supported by the %s driver",
				op, store->driver->name);
		return store_call_end(store, op, -1, error_r);
	}
	if (thread != NULL && (thread[0] == '\0' || strnlen(thread, THREAD_MAX + 1) > THREAD_MAX))
		return store_call_reject(store, op, STORE_ERR_INVALID, "bad thread id", error_r);
	if (mailbox_id == NULL || !store_id_valid(mailbox_id) || uid == 0)
		return store_call_reject(store, op, STORE_ERR_NOT_FOUND, "no such message",
					 error_r);
	return store_call_end(store, op, store->driver->message_thread_set(store, mailbox_id, uid,
									   thread), error_r);
}
