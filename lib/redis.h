/* A Redis client on the worker's libevent loop (hiredis 0.14 async): one
 * connection for commands and a separate one for pub/sub, each reconnected
 * with backoff, with a timeout per command (hiredis 0.14 has none). General
 * purpose: notify beacons use it today, counters and rate limits may later.
 * Loop thread only. It is not for correctness: with Redis down, commands
 * fail at once and subscriptions resume when it comes back. */
#ifndef WD_REDIS_H
#define WD_REDIS_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

struct redis;

struct redis_settings {
	const char *address;		/* "unix:/path" or "host:port" */
	/* Redis Sentinel: "host:port" of sentinels separated by spaces or
	 * commas; when set, the master named sentinel_master is asked of
	 * them (and checked with ROLE) instead of using address, and a
	 * +switch-master moves both connections to the new master */
	const char *sentinels;
	const char *sentinel_master;	/* NULL: "mymaster" */
	int db;				/* SELECTed on each connection (0: none) */
	unsigned int timeout_msecs;	/* per command and per connect; 0: 2000 */
};

/* reply is NULL on timeout, error or disconnect; it is freed after the
 * call. Callbacks may run from redis_free() (with NULL). */
typedef void redis_reply_cb(struct redis *redis, const redisReply *reply, void *context);
/* A message published on a subscribed channel. */
typedef void redis_message_cb(const char *channel, const char *message, size_t len,
			      void *context);

/* Starts connecting (in the background); never fails for an unreachable
 * server, only for a malformed address. */
struct config;
/* The redis.* options of the config; false (and *set untouched) when
 * neither redis.address nor redis.sentinels is set. */
bool redis_settings_from_config(struct redis_settings *set, const struct config *config);

struct redis *redis_create(struct event_base *base, const struct redis_settings *set,
			   const char **error_r);
void redis_free(struct redis **redis);

/* True while the command connection is up. */
bool redis_connected(const struct redis *redis);

/* Sends a command; callback may be NULL. -1 (callback not called) if the
 * command connection is down. */
int redis_command_argv(struct redis *redis, redis_reply_cb *callback, void *context,
		       int argc, const char **argv, const size_t *argvlen);
/* The same with a hiredis format string ("PUBLISH %s %b"). */
int redis_command(struct redis *redis, redis_reply_cb *callback, void *context,
		  const char *fmt, ...);

/* Subscribes to channel on the subscriber connection, now and after every
 * reconnect; callback gets each message. */
void redis_subscribe(struct redis *redis, const char *channel, redis_message_cb *callback,
		     void *context);
/* True once every channel is subscribed on the current connection. */
bool redis_subscribed(const struct redis *redis);

#endif
