/* Thread ids of stored messages, changed after delivery: the indexer
 * assigns them and repairs them when a parent arrives after its children
 * (lib/thread.h). Apart from store.h so the drivers can add it on their
 * own time; a driver without it fails the call cleanly. */
#ifndef WD_STORE_THREAD_H
#define WD_STORE_THREAD_H

#include "store.h"

/* Sets the thread id of message (mailbox, uid); NOT_FOUND if it is gone. */
int store_message_thread_set(struct store *store, const char *mailbox_id, uint32_t uid,
			     const char *thread, const char **error_r);

#endif
