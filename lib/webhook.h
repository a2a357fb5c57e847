/* The webhook sender: a thread that drains the store's webhook queue
 * (calls queued by LMTP filter actions and by API events) and POSTs each
 * as JSON with libcurl, retrying failures with exponential backoff. It is
 * not the place where events are decided: callers queue with
 * store_webhook_enqueue() and may wake it. */
#ifndef WD_WEBHOOK_H
#define WD_WEBHOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"
#include "store.h"

struct webhook_settings {
	unsigned int poll_msecs;	/* queue poll interval; 0: 1000 */
	unsigned int timeout_msecs;	/* one HTTP call; 0: 10000 */
	unsigned int backoff_secs;	/* first retry delay, doubled each time; 0: 2 */
	unsigned int max_attempts;	/* then the call is dropped; 0: 10 */
};

struct webhook_sender;

/* Starts the sender thread on its own store handle. Call before any other
 * thread uses libcurl (it runs curl_global_init()). */
int webhook_sender_start(const struct store_settings *store_set,
			 const struct webhook_settings *set, struct webhook_sender **sender_r,
			 const char **error_r);
/* Makes the sender look at the queue now (after an enqueue). */
void webhook_sender_wake(struct webhook_sender *sender);
/* Stops the thread (an HTTP call in flight is aborted) and frees it. */
void webhook_sender_stop(struct webhook_sender **sender);

/* Seconds until the next try after attempts failed attempts (1, 2, ...):
 * backoff_secs * 2^(attempts-1), at most an hour; -1 when the call has
 * had max_attempts and is to be dropped. */
int64_t webhook_backoff(const struct webhook_settings *set, unsigned int attempts);

/* The JSON body POSTed for a call: the payload's members (if it is a JSON
 * object) plus "id", "ev" (the event), "user" and "created". */
void webhook_body(const struct store_webhook_call *call, struct buffer *out);

/* Whether a registered event type list entry matches an event: equal,
 * "*", or a prefix ending in ".*" ("user.*" matches "user.created"). */
bool webhook_type_matches(const char *pattern, const char *event);

#endif
