/* Thread ids of stored messages, changed after delivery: the indexer
 * assigns them and repairs them when a parent arrives after its children
 * (lib/thread.h). Apart from store.h so the drivers can add it on their
 * own time; a driver without it (store_driver.h: message_thread_set NULL)
 * fails the call with INTERNAL "not supported". */
#ifndef WD_STORE_THREAD_H
#define WD_STORE_THREAD_H

#include "store.h"

/* Sets the thread id of message (mailbox, uid) (NULL clears it); NOT_FOUND
 * if the message is gone. Neither MODSEQ nor the journal move: the thread
 * is not an IMAP attribute. */
int store_message_thread_set(struct store *store, const char *mailbox_id, uint32_t uid,
			     const char *thread, const char **error_r);

#endif
