/* Change beacons per user: whoever changes a user's mail publishes the
 * user id, and every worker with a session of that user wakes it so it
 * reads the journal (DESIGN §3). On one host the beacon is a datagram to
 * every worker's socket in a shared folder; Redis pub/sub carries it
 * across instances when configured. */
#ifndef WD_NOTIFY_H
#define WD_NOTIFY_H

#include <event2/event.h>

struct notify;

/* user_id NOTIFY_ALL: any user may have changed (Redis is configured but
 * down, so beacons of other instances are lost): look, once a second. */
#define NOTIFY_ALL "*"
typedef void notify_cb(const char *user_id, void *ctx);

/* Listens in dir (created if missing) for beacons; cb runs on the loop.
 * cb NULL makes a publisher only (LMTP): it listens to nothing. */
struct notify *notify_create(struct event_base *base, const char *dir, notify_cb *cb,
			     void *ctx, const char **error_r);
struct redis_settings;
/* Carries beacons across instances too: publishes each on the Redis channel
 * <prefix>notify and wakes this listener for beacons other instances
 * publish there (beacons of this host and folder arrive locally already).
 * Without it nothing leaves the host. -1 only for a malformed address; an
 * unreachable Redis is retried in the background. */
int notify_redis(struct notify *notify, const struct redis_settings *set, const char *prefix,
		 const char **error_r);
struct config;
/* What daemons use: notify_create() on <data_dir>/notify, plus
 * notify_redis() when redis.address is set. */
struct notify *notify_open(struct event_base *base, const struct config *config, notify_cb *cb,
			   void *ctx, const char **error_r);
/* Tells every listener (this process's too) that user_id changed. */
void notify_publish(struct notify *notify, const char *user_id);
void notify_free(struct notify **notify);

#endif
