/* Shard locks of wd-indexer instances in Redis.
 *
 * Keys (under redis.prefix): "indexer:shard:<n>" holds the token of the
 * instance that indexes shard n (SET NX PX ttl, extended by its holder
 * every ttl/3 while the token is still its own, deleted by its holder on a
 * clean stop); "indexer:instances" is a sorted set of live instance
 * tokens scored by their last heartbeat (Redis server time, so hosts'
 * clocks do not matter), entries older than ttl pruned; "indexer:shards"
 * is the shard count, which every live instance must agree on (two counts
 * would put one user in two shards).
 *
 * Each tick (every ttl/3) is one chain of scripts: heartbeat (answers the
 * number of live instances), release of the shards given up last tick,
 * renewal of the held ones, then either giving up the ones beyond
 * ceil(shards / instances) or acquiring free ones up to that many.
 * Shards given up stop being used at once and are released a tick later,
 * so a batch the store thread started on one of them has a tick to end.
 *
 * Proof of holding is local: a lock acquired or extended by a command sent
 * at time t (monotonic) lives in Redis until at least t + ttl, so it is
 * used until t + ttl - ttl/5; the fifth covers a batch in progress and
 * clock rate differences. Nothing else (a reply that never comes, Redis
 * down, a restart of Redis that lost the key) extends it. */
#include "indexer_shards.h"

#include "log.h"
#include "mem.h"
#include "redis.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Retry while Redis has not answered a first heartbeat yet. */
#define STARTUP_RETRY_MSECS 100

/* KEYS[1] instances, KEYS[2] shard count; ARGV token, ttl, shards. */
static const char heartbeat_lua[] =
	"local c = redis.call('GET', KEYS[2])\n"
	"if c and c ~= ARGV[3] then return redis.error_reply('MISMATCH shards=' .. c) end\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])\n"
	"redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))\n"
	"redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
	"return redis.call('ZCARD', KEYS[1])\n";
/* Compare-and-extend; ARGV token, ttl. One 1/0 per key. */
static const char renew_lua[] =
	"local r = {}\n"
	"for i, k in ipairs(KEYS) do\n"
	"  if redis.call('GET', k) == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2]); r[i] = 1\n"
	"  else r[i] = 0 end\n"
	"end\n"
	"return r\n";
/* SET NX PX up to ARGV[3] of the keys (one already ours counts, and is
 * extended); ARGV token, ttl, want. The positions (1-based) taken. */
static const char acquire_lua[] =
	"local got, want = {}, tonumber(ARGV[3])\n"
	"for i, k in ipairs(KEYS) do\n"
	"  if #got >= want then break end\n"
	"  if redis.call('SET', k, ARGV[1], 'NX', 'PX', ARGV[2]) then got[#got + 1] = i\n"
	"  elseif redis.call('GET', k) == ARGV[1] then\n"
	"    redis.call('PEXPIRE', k, ARGV[2]); got[#got + 1] = i end\n"
	"end\n"
	"return got\n";
/* Compare-and-delete of KEYS[2..]; KEYS[1] instances: the token leaves it
 * when ARGV[2] is "1". The number deleted. */
static const char release_lua[] =
	"if ARGV[2] == '1' then redis.call('ZREM', KEYS[1], ARGV[1]) end\n"
	"local n = 0\n"
	"for i = 2, #KEYS do\n"
	"  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]); n = n + 1 end\n"
	"end\n"
	"return n\n";

struct indexer_shards {
	struct event_base *base;
	struct redis *redis;
	char *token, *instances_key, *count_key;
	char **keys;
	unsigned int count, ttl, margin, offset;
	char count_str[16], ttl_str[16];
	/* read by the store thread: ms (monotonic) until which a shard is ours */
	_Atomic int64_t *valid_until;
	bool *held;		/* Redis holds our token, as far as we know */
	bool *releasing;	/* given up: release on the next tick */
	struct event *tick_ev;
	indexer_shards_cb *acquired;
	void *context;
	unsigned int instances;
	bool busy;		/* a tick's chain awaits a reply */
	bool confirmed;		/* a heartbeat has been answered since the start */
	int64_t created;
	bool trouble;		/* a failure was logged; log the recovery */
	bool stopping;
	unsigned int releases_pending;
};

/* One command of a chain: the shards it is about and when it was sent. */
struct request {
	struct indexer_shards *s;
	int64_t sent;
	unsigned int n;
	unsigned int shard[];
};

static int64_t now_msecs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv1a(const char *str)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *c = (const unsigned char *)str; *c != '\0'; c++)
		h = (h ^ *c) * 1099511628211ULL;
	return h;
}

unsigned int indexer_shards_of(unsigned int shards, const char *user_id)
{
	return shards <= 1 ? 0 : (unsigned int)(fnv1a(user_id) % shards);
}

bool indexer_shards_holds_shard(const struct indexer_shards *s, unsigned int shard)
{
	return shard < s->count && now_msecs() < atomic_load(&s->valid_until[shard]);
}

bool indexer_shards_holds(const struct indexer_shards *s, const char *user_id)
{
	return indexer_shards_holds_shard(s, indexer_shards_of(s->count, user_id));
}

unsigned int indexer_shards_held(const struct indexer_shards *s)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < s->count; i++)
		n += indexer_shards_holds_shard(s, i);
	return n;
}

const char *indexer_shards_instance(const struct indexer_shards *s)
{
	return s->token;
}

static void arm(struct indexer_shards *s, unsigned int msecs)
{
	struct timeval tv = { msecs / 1000, (msecs % 1000) * 1000 };
	evtimer_add(s->tick_ev, &tv);
}

static struct request *request_new(struct indexer_shards *s, unsigned int n)
{
	struct request *r = xcalloc(1, sizeof(*r) + n * sizeof(unsigned int));
	r->s = s;
	return r;
}

/* EVAL script with the shards' keys (after extra_key, when not NULL) and
 * args; the request remembers the shards and the time sent. */
static int eval(struct indexer_shards *s, const char *script, const char *extra_key,
		struct request *r, const char *const *args, unsigned int nargs, redis_reply_cb *cb)
{
	unsigned int nkeys = r->n + (extra_key != NULL);
	const char **argv = xcalloc(3 + nkeys + nargs, sizeof(char *));
	char numkeys[16];
	snprintf(numkeys, sizeof(numkeys), "%u", nkeys);
	unsigned int argc = 0;
	argv[argc++] = "EVAL";
	argv[argc++] = script;
	argv[argc++] = numkeys;
	if (extra_key != NULL)
		argv[argc++] = extra_key;
	for (unsigned int i = 0; i < r->n; i++)
		argv[argc++] = s->keys[r->shard[i]];
	for (unsigned int i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	r->sent = now_msecs();
	int ret = redis_command_argv(s->redis, cb, r, (int)argc, argv, NULL);
	free(argv);
	return ret;
}

static void set_valid(struct indexer_shards *s, unsigned int shard, int64_t until)
{
	atomic_store(&s->valid_until[shard], until);
}

static unsigned int count_held(const struct indexer_shards *s)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < s->count; i++)
		n += s->held[i];
	return n;
}

/* Redis did not answer as it should: the held shards stay usable only
 * until their proof runs out (tick() drops them then). */
static void chain_failed(struct indexer_shards *s, const char *step, const char *error)
{
	s->busy = false;
	if (s->stopping)
		return;
	if (!s->trouble)
		log_warn("event=indexer_shards_unconfirmed step=%s error=\"%s\" held=%u "
			 "(their users are not indexed once the locks cannot be proved held)",
			 step, error, count_held(s));
	s->trouble = true;
}

static const char *reply_error(const redisReply *reply)
{
	if (reply == NULL)
		return "no answer from Redis";
	if (reply->type == REDIS_REPLY_ERROR)
		return reply->str;
	return "unexpected reply";
}

static void released_cb(struct redis *redis, const redisReply *reply, void *context)
{
	struct request *r = context;
	if (r->s->releases_pending > 0)
		r->s->releases_pending--;
	free(r);
}

/* Shards this instance prefers, in order: from its own offset on, so
 * instances start on different shards. */
static unsigned int preferred(const struct indexer_shards *s, unsigned int k)
{
	return (s->offset + k) % s->count;
}

static void acquire_cb(struct redis *redis, const redisReply *reply, void *context)
{
	struct request *r = context;
	struct indexer_shards *s = r->s;
	if (s->stopping || reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
		chain_failed(s, "acquire", reply_error(reply));
		free(r);
		return;
	}
	unsigned int gained = 0;
	for (size_t i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		if (e->type != REDIS_REPLY_INTEGER || e->integer < 1 || (unsigned long long)e->integer > r->n)
			continue;
		unsigned int shard = r->shard[e->integer - 1];
		s->held[shard] = true;
		set_valid(s, shard, r->sent + s->ttl - s->margin);
		gained++;
	}
	free(r);
	s->busy = false;
	if (gained > 0) {
		log_info("event=indexer_shards_acquired shards=%u held=%u of=%u instances=%u",
			 gained, count_held(s), s->count, s->instances);
		if (s->acquired != NULL)
			s->acquired(s->context);
	}
}

/* After renewal: hold as many as our share, no more. */
static void balance(struct indexer_shards *s)
{
	unsigned int instances = s->instances > 0 ? s->instances : 1;
	unsigned int target = (s->count + instances - 1) / instances;
	unsigned int held = count_held(s);
	if (held > target) {
		unsigned int extra = held - target;
		for (unsigned int k = s->count; k-- > 0 && extra > 0;) {
			unsigned int shard = preferred(s, k);
			if (!s->held[shard])
				continue;
			s->held[shard] = false;
			s->releasing[shard] = true;
			set_valid(s, shard, 0);
			extra--;
		}
		log_info("event=indexer_shards_given_up shards=%u held=%u of=%u instances=%u",
			 held - target, target, s->count, instances);
		s->busy = false;
		return;
	}
	if (held == target) {
		s->busy = false;
		return;
	}
	struct request *r = request_new(s, s->count);
	for (unsigned int k = 0; k < s->count; k++) {
		unsigned int shard = preferred(s, k);
		if (!s->held[shard] && !s->releasing[shard])
			r->shard[r->n++] = shard;
	}
	char want[16];
	snprintf(want, sizeof(want), "%u", target - held);
	const char *args[] = { s->token, s->ttl_str, want };
	if (r->n == 0 || eval(s, acquire_lua, NULL, r, args, 3, acquire_cb) < 0) {
		if (r->n != 0)
			chain_failed(s, "acquire", "Redis not connected");
		else
			s->busy = false;
		free(r);
	}
}

static void renew_cb(struct redis *redis, const redisReply *reply, void *context)
{
	struct request *r = context;
	struct indexer_shards *s = r->s;
	if (s->stopping || reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != r->n) {
		chain_failed(s, "renew", reply_error(reply));
		free(r);
		return;
	}
	unsigned int lost = 0;
	for (unsigned int i = 0; i < r->n; i++) {
		unsigned int shard = r->shard[i];
		const redisReply *e = reply->element[i];
		if (e->type == REDIS_REPLY_INTEGER && e->integer == 1) {
			if (s->held[shard])
				set_valid(s, shard, r->sent + s->ttl - s->margin);
		} else {
			s->held[shard] = false;
			set_valid(s, shard, 0);
			lost++;
		}
	}
	free(r);
	if (lost > 0)
		log_warn("event=indexer_shards_lost shards=%u held=%u (the locks expired or "
			 "another instance holds them: not indexing their users)", lost, count_held(s));
	balance(s);
}

static void heartbeat_cb(struct redis *redis, const redisReply *reply, void *context)
{
	struct request *r = context;
	struct indexer_shards *s = r->s;
	free(r);
	if (s->stopping)
		return;
	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
		if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
		    strncmp(reply->str, "MISMATCH", 8) == 0) {
			s->busy = false;
			if (!s->trouble)
				log_error("event=indexer_shards_mismatch shards=%u error=\"%s\" "
					  "(live instances use another indexer.shards: "
					  "this one indexes nobody until they are gone)",
					  s->count, reply->str);
			s->trouble = true;
			return;
		}
		chain_failed(s, "heartbeat", reply_error(reply));
		return;
	}
	s->instances = reply->integer > 0 ? (unsigned int)reply->integer : 1;
	if (s->trouble)
		log_info("event=indexer_shards_confirmed instances=%u held=%u", s->instances,
			 count_held(s));
	s->trouble = false;
	s->confirmed = true;

	/* what was given up last tick goes now */
	struct request *rel = request_new(s, s->count);
	for (unsigned int i = 0; i < s->count; i++)
		if (s->releasing[i]) {
			s->releasing[i] = false;
			rel->shard[rel->n++] = i;
		}
	const char *rel_args[] = { s->token, "0" };
	if (rel->n == 0 || eval(s, release_lua, s->instances_key, rel, rel_args, 2, released_cb) < 0)
		free(rel);	/* unreleased locks expire by themselves */
	else
		s->releases_pending++;

	struct request *ren = request_new(s, s->count);
	for (unsigned int i = 0; i < s->count; i++)
		if (s->held[i])
			ren->shard[ren->n++] = i;
	if (ren->n == 0) {
		free(ren);
		balance(s);
		return;
	}
	const char *args[] = { s->token, s->ttl_str };
	if (eval(s, renew_lua, NULL, ren, args, 2, renew_cb) < 0) {
		free(ren);
		chain_failed(s, "renew", "Redis not connected");
	}
}

/* Drops shards whose proof ran out (they are already unused: see
 * indexer_shards_holds) and says so. */
static void drop_lapsed(struct indexer_shards *s)
{
	int64_t now = now_msecs();
	unsigned int lapsed = 0;
	for (unsigned int i = 0; i < s->count; i++)
		if (s->held[i] && now >= atomic_load(&s->valid_until[i])) {
			s->held[i] = false;
			lapsed++;
		}
	if (lapsed > 0)
		log_warn("event=indexer_shards_expired shards=%u held=%u (locks not renewed in "
			 "time: not indexing their users)", lapsed, count_held(s));
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct indexer_shards *s = arg;
	drop_lapsed(s);
	/* quick retries while starting, until Redis answers or for one ttl */
	bool starting = !s->confirmed && now_msecs() - s->created < s->ttl;
	arm(s, starting ? STARTUP_RETRY_MSECS : s->ttl / 3);
	if (s->busy)
		return;	/* the last chain still waits; the Redis timeout ends it */
	struct request *r = request_new(s, 0);
	const char *argv[] = { "EVAL", heartbeat_lua, "2", s->instances_key, s->count_key,
			       s->token, s->ttl_str, s->count_str };
	r->sent = now_msecs();
	if (redis_command_argv(s->redis, heartbeat_cb, r, 8, argv, NULL) < 0) {
		free(r);
		if (!starting)
			chain_failed(s, "heartbeat", "Redis not connected");
		return;
	}
	s->busy = true;
}

struct indexer_shards *indexer_shards_create(struct event_base *base,
					     const struct indexer_shards_settings *set,
					     indexer_shards_cb *acquired, void *context,
					     const char **error_r)
{
	struct redis *redis = redis_create(base, set->redis, error_r);
	if (redis == NULL)
		return NULL;
	struct indexer_shards *s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->redis = redis;
	s->acquired = acquired;
	s->context = context;
	s->count = set->shards > 0 ? set->shards : 1;
	s->ttl = set->lock_ttl_msecs >= 30 ? set->lock_ttl_msecs : 30;
	s->margin = s->ttl / 5;
	snprintf(s->count_str, sizeof(s->count_str), "%u", s->count);
	snprintf(s->ttl_str, sizeof(s->ttl_str), "%u", s->ttl);
	if (set->instance != NULL) {
		s->token = xstrdup(set->instance);
	} else {
		char host[256] = "";
		uint32_t rnd = 0;
		if (gethostname(host, sizeof(host) - 1) < 0)
			strcpy(host, "localhost");
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)now_msecs() ^ (uint32_t)getpid() * 2654435761u;
		s->token = xasprintf("%s:%d:%08x", host, (int)getpid(), rnd);
	}
	const char *prefix = set->prefix != NULL ? set->prefix : "";
	s->instances_key = xasprintf("%sindexer:instances", prefix);
	s->count_key = xasprintf("%sindexer:shards", prefix);
	s->keys = xcalloc(s->count, sizeof(char *));
	for (unsigned int i = 0; i < s->count; i++)
		s->keys[i] = xasprintf("%sindexer:shard:%u", prefix, i);
	s->offset = (unsigned int)(fnv1a(s->token) % s->count);
	s->valid_until = xcalloc(s->count, sizeof(*s->valid_until));
	for (unsigned int i = 0; i < s->count; i++)
		atomic_init(&s->valid_until[i], 0);
	s->held = xcalloc(s->count, sizeof(bool));
	s->releasing = xcalloc(s->count, sizeof(bool));
	s->created = now_msecs();
	s->tick_ev = evtimer_new(base, tick_cb, s);
	arm(s, 0);
	log_info("event=indexer_shards_started instance=%s shards=%u lock_ttl_ms=%u", s->token,
		 s->count, s->ttl);
	return s;
}

void indexer_shards_free(struct indexer_shards **sp)
{
	struct indexer_shards *s = *sp;
	if (s == NULL)
		return;
	s->stopping = true;
	event_free(s->tick_ev);
	for (unsigned int i = 0; i < s->count; i++)
		set_valid(s, i, 0);
	/* give back every lock that is ours (held, given up and not released
	 * yet, or taken by an acquire still in flight: compare-and-delete
	 * touches no other instance's), and leave the instances, so the
	 * others rebalance now, not after ttl */
	unsigned int n = count_held(s);
	struct request *r = request_new(s, s->count);
	for (unsigned int i = 0; i < s->count; i++)
		r->shard[r->n++] = i;
	const char *args[] = { s->token, "1" };
	if (redis_connected(s->redis) &&
	    eval(s, release_lua, s->instances_key, r, args, 2, released_cb) == 0) {
		/* every request has a timeout, which bounds this */
		s->releases_pending++;
		while (s->releases_pending > 0)
			if (event_base_loop(s->base, EVLOOP_ONCE) != 0)
				break;
		log_info("event=indexer_shards_released shards=%u instance=%s", n, s->token);
	} else {
		free(r);
		if (n > 0)
			log_warn("event=indexer_shards_not_released shards=%u (Redis down: they "
				 "expire by themselves)", n);
	}
	redis_free(&s->redis);
	for (unsigned int i = 0; i < s->count; i++)
		free(s->keys[i]);
	free(s->keys);
	free((void *)s->valid_until);
	free(s->held);
	free(s->releasing);
	free(s->token);
	free(s->instances_key);
	free(s->count_key);
	free(s);
	*sp = NULL;
}
