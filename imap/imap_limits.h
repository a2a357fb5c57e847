/* Connections per user: counted across every worker and instance in a
 * Redis sorted set (one member per session, refreshed while it lives, so
 * a crashed worker's sessions age out), or per worker without Redis. */
#ifndef WD_IMAP_LIMITS_H
#define WD_IMAP_LIMITS_H

#include <event2/event.h>
#include <stdbool.h>

struct config;
struct imap_client;

int imap_limits_start(struct event_base *base, const struct config *config, const char **error_r);
void imap_limits_stop(void);
/* Asks whether client may log in as user_id; done(client, allowed) is
 * called later (never from inside this call). The client is counted from
 * then on until imap_limits_release(). */
void imap_limits_acquire(struct imap_client *client, const char *user_id,
			 void (*done)(struct imap_client *client, bool allowed, void *ctx),
			 void *ctx);
void imap_limits_release(struct imap_client *client);

#endif
