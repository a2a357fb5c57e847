/* Which users this wd-indexer instance may index when several instances
 * (on one host or many) share one Redis: users fall into shards by a hash
 * of their id, and an instance indexes a user only while it holds that
 * shard's Redis lock. Instances announce themselves and balance the shards
 * between them; a lock that cannot be proved held (renewal failed, Redis
 * unreachable) stops being used before another instance can take it.
 * It does not index anything, and without Redis it is not created (the one
 * instance indexes every user). Loop thread, except indexer_shards_holds. */
#ifndef WD_INDEXER_SHARDS_H
#define WD_INDEXER_SHARDS_H

#include <event2/event.h>
#include <stdbool.h>

struct indexer_shards;
struct redis_settings;

struct indexer_shards_settings {
	const struct redis_settings *redis;
	const char *prefix;		/* Redis key prefix (redis.prefix); NULL: "" */
	unsigned int shards;		/* the same on every instance */
	unsigned int lock_ttl_msecs;	/* locks and announcements live this long */
	const char *instance;		/* lock token; NULL: "host:pid:random" */
};

/* Called on the loop when this instance gains shards (look at their users
 * now: beacons for them went to the former holder, or to nobody). */
typedef void indexer_shards_cb(void *context);

/* Starts announcing this instance and taking shards in the background;
 * fails only for a malformed Redis address. */
struct indexer_shards *indexer_shards_create(struct event_base *base,
					     const struct indexer_shards_settings *set,
					     indexer_shards_cb *acquired, void *context,
					     const char **error_r);
/* Releases the held locks and the announcement (waiting up to the Redis
 * timeout on base, so after the loop ended), then frees. Call it only once
 * nothing indexes any more. */
void indexer_shards_free(struct indexer_shards **shards);

/* The shard of a user: FNV-1a (64 bit) of the id modulo the shard count. */
unsigned int indexer_shards_of(unsigned int shards, const char *user_id);

/* True while the lock of user_id's shard is provably this instance's:
 * until a safety margin before the lock could expire after the last
 * successful acquire or renewal. Any thread. */
bool indexer_shards_holds(const struct indexer_shards *shards, const char *user_id);
bool indexer_shards_holds_shard(const struct indexer_shards *shards, unsigned int shard);
/* Shards held now (as indexer_shards_holds counts them). */
unsigned int indexer_shards_held(const struct indexer_shards *shards);
const char *indexer_shards_instance(const struct indexer_shards *shards);

#endif
