/* Per-user connection limits (imap.max_user_connections). */
#include "imap_limits.h"
#include "config.h"
#include "imap_client.h"
#include "log.h"
#include "mem.h"
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Sessions refresh their entry this often; older entries are stale. */
#define REFRESH_SECS 120
#define STALE_MSECS (3 * REFRESH_SECS * 1000)

static const char acquire_lua[] =
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3])) "
	"local n = redis.call('ZCARD', KEYS[1]) "
	"if tonumber(ARGV[4]) > 0 and n >= tonumber(ARGV[4]) then return -1 end "
	"redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) "
	"redis.call('PEXPIRE', KEYS[1], ARGV[3]) return n + 1";

static struct {
	const struct config *config;
	struct redis *redis;
	struct event *refresh_ev;
} l;

struct acquire {
	struct imap_client *client;
	void (*done)(struct imap_client *, bool, void *);
	void *ctx;
	bool allowed;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *key_of(const char *user_id)
{
	return xasprintf("%simapconn:%s", l.config->redis.prefix, user_id);
}

static unsigned int local_count(const char *user_id)
{
	unsigned int n = 0;
	for (struct imap_client *c = imap_clients(); c != NULL; c = c->next)
		n += c->counted && strcmp(c->user_id, user_id) == 0;
	return n;
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	long long now = now_ms();
	for (struct imap_client *c = imap_clients(); c != NULL; c = c->next) {
		if (!c->counted_redis)
			continue;
		char *key = key_of(c->user_id);
		redis_command(l.redis, NULL, NULL, "ZADD %s XX %lld %s", key, now, c->limit_id);
		redis_command(l.redis, NULL, NULL, "PEXPIRE %s %d", key, STALE_MSECS);
		free(key);
	}
}

int imap_limits_start(struct event_base *base, const struct config *config, const char **error_r)
{
	l.config = config;
	struct redis_settings rs;
	if (!redis_settings_from_config(&rs, config))
		return 0;
	l.redis = redis_create(base, &rs, error_r);
	if (l.redis == NULL)
		return -1;
	struct timeval tv = { REFRESH_SECS, 0 };
	l.refresh_ev = event_new(base, -1, EV_PERSIST, refresh_cb, NULL);
	event_add(l.refresh_ev, &tv);
	return 0;
}

void imap_limits_stop(void)
{
	if (l.refresh_ev != NULL)
		event_free(l.refresh_ev);
	l.refresh_ev = NULL;
	redis_free(&l.redis);
}

static void redis_answer(struct redis *r, const redisReply *reply, void *ctx)
{
	struct acquire *a = ctx;
	struct imap_client *c = a->client;
	if (imap_client_release(c)) {
		free(a);
		return; /* the client left meanwhile (its entry ages out) */
	}
	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
		/* Redis is away: this worker's own count must do */
		int limit = l.config->imap_settings.max_user_connections;
		a->done(c, limit == 0 || local_count(c->user_id) < (unsigned int)limit, a->ctx);
	} else if (reply->integer < 0) {
		a->done(c, false, a->ctx);
	} else {
		c->counted_redis = true;
		a->done(c, true, a->ctx);
	}
	free(a);
}

void imap_limits_acquire(struct imap_client *c, const char *user_id,
			 void (*done)(struct imap_client *, bool, void *), void *ctx)
{
	int limit = l.config->imap_settings.max_user_connections;
	snprintf(c->user_id, sizeof(c->user_id), "%s", user_id);
	if (l.redis == NULL) {
		bool ok = limit == 0 || local_count(user_id) < (unsigned int)limit;
		c->counted = ok;
		done(c, ok, ctx);
		return;
	}
	uint64_t rnd = 0;
	(void)!getrandom(&rnd, sizeof(rnd), 0);
	snprintf(c->limit_id, sizeof(c->limit_id), "%016llx", (unsigned long long)rnd);
	c->counted = true;
	struct acquire *a = xcalloc(1, sizeof(*a));
	a->client = c;
	a->done = done;
	a->ctx = ctx;
	char *key = key_of(user_id);
	imap_client_hold(c);
	int r = redis_command(l.redis, redis_answer, a, "EVAL %s 1 %s %lld %s %d %d", acquire_lua,
			      key, now_ms(), c->limit_id, STALE_MSECS, limit);
	free(key);
	if (r < 0)
		redis_answer(l.redis, NULL, a);
}

void imap_limits_release(struct imap_client *c)
{
	if (c->counted_redis && l.redis != NULL) {
		char *key = key_of(c->user_id);
		redis_command(l.redis, NULL, NULL, "ZREM %s %s", key, c->limit_id);
		free(key);
	}
	c->counted = c->counted_redis = false;
}
