/* The counter gates of wd-lmtp's outbound mail: an autoreply goes once per
 * sender and interval (RFC 3834), forwards are limited per user and day.
 * With Redis configured the store job only prepares the outbound file and
 * queues it here; the loop asks Redis (SET key 1 NX PX for the once-per
 * marker, INCR + PEXPIRE for the daily count) and a store thread writes
 * the allowed file to the spool. When Redis does not answer (down, error,
 * timeout) the store's counters table decides instead, so mail is never
 * held back by Redis. Not for: composing the messages (lmtp_outbound.c)
 * or choosing what to send (lmtp_deliver.c). */
#include "lmtp.h"

#include "log.h"
#include "mem.h"
#include "pool.h"
#include "redis.h"
#include "workpool.h"

#include <stdlib.h>
#include <string.h>

/* The job's message, shared by its forwards; loop thread only. */
struct shared_raw {
	unsigned int refs;
	unsigned char *data;
	size_t len;
};

struct lmtp_gated {
	struct lmtp_gated *next;
	struct pool *pool;
	enum lmtp_gate_kind kind;
	const char *user, *key, *sender, *prefix;
	const char **rcpts;
	unsigned int count;
	int64_t ttl_secs, limit;
	unsigned char *msg;		/* owned; NULL: raw */
	size_t msg_len;
	struct shared_raw *raw;
	bool decided;			/* Redis allowed it */
};

struct redis *lmtp_redis;

void lmtp_gate_add(struct lmtp_data_job *job, enum lmtp_gate_kind kind, const char *user,
		   const char *key, int64_t ttl_secs, int64_t limit, const char *sender,
		   const char *const *rcpts, unsigned int count, const char *prefix,
		   unsigned char *msg, size_t msg_len)
{
	struct lmtp_gated *g = xcalloc(1, sizeof(*g));
	g->pool = pool_create(1024);
	g->kind = kind;
	g->user = pool_strdup(g->pool, user);
	g->key = pool_strdup(g->pool, key);
	g->sender = pool_strdup(g->pool, sender);
	g->prefix = prefix != NULL ? pool_strdup(g->pool, prefix) : "";
	g->rcpts = pool_alloc(g->pool, count * sizeof(*g->rcpts));
	for (unsigned int i = 0; i < count; i++)
		g->rcpts[i] = pool_strdup(g->pool, rcpts[i]);
	g->count = count;
	g->ttl_secs = ttl_secs;
	g->limit = limit;
	g->msg = msg;
	g->msg_len = msg_len;
	g->next = job->gated;
	job->gated = g;
}

int lmtp_gate_store_check(struct store *store, enum lmtp_gate_kind kind, const char *key,
			  int64_t ttl_secs, int64_t limit)
{
	int64_t value;
	const char *error;
	if (store_counter_add(store, key, 1, ttl_secs, &value, &error) < 0)
		return -1;
	return kind == LMTP_GATE_ONCE ? (value == 1 ? 0 : -1) : (value <= limit ? 0 : -1);
}

static void gate_free(struct lmtp_gated *g)
{
	if (g->raw != NULL && --g->raw->refs == 0) {
		free(g->raw->data);
		free(g->raw);
	}
	free(g->msg);
	pool_destroy(&g->pool);
	free(g);
}

static void gate_denied(const struct lmtp_gated *g)
{
	if (g->kind == LMTP_GATE_ONCE)
		log_debug("event=autoreply_skipped user=%s reason=\"replied to this sender already\"",
			  g->user);
	else
		log_warn("event=forward_limit user=%s limit=%lld", g->user, (long long)g->limit);
}

static void gate_job_run(void *thread_ctx, void *arg)
{
	struct lmtp_gated *g = arg;
	struct store *store = thread_ctx;
	const char *error;
	if (!g->decided) {
		if (store == NULL) {
			log_error("event=outbound_dropped user=%s error=\"store unavailable\"", g->user);
			return;
		}
		if (lmtp_gate_store_check(store, g->kind, g->key, g->ttl_secs, g->limit) < 0) {
			gate_denied(g);
			return;
		}
	}
	const unsigned char *msg = g->msg != NULL ? g->msg : g->raw->data;
	size_t len = g->msg != NULL ? g->msg_len : g->raw->len;
	bool ar = g->kind == LMTP_GATE_ONCE;
	if (lmtp_outbound_write(g->sender, g->rcpts, g->count, (const unsigned char *)g->prefix,
				strlen(g->prefix), msg, len, &error) < 0)
		log_error("event=%s_failed user=%s error=\"%s\"", ar ? "autoreply" : "forward",
			  g->user, error);
	else if (ar)
		log_info("event=autoreply user=%s to=<%s>", g->user, g->rcpts[0]);
	else
		log_info("event=forwarded user=%s targets=%u", g->user, g->count);
}

static void gate_job_done(void *arg)
{
	gate_free(arg);
}

static void gate_submit(struct lmtp_gated *g, bool decided)
{
	g->decided = decided;
	workpool_submit(lmtp_workpool, gate_job_run, gate_job_done, g);
}

/* Redis did not answer: the store counter decides. */
static void gate_fallback(struct lmtp_gated *g, const redisReply *reply)
{
	log_warn("event=redis_counter_failed user=%s key=%s error=\"%s\"", g->user, g->key,
		 reply == NULL ? "no reply" : reply->str != NULL ? reply->str : "error");
	gate_submit(g, false);
}

static void once_reply(struct redis *redis, const redisReply *reply, void *context)
{
	struct lmtp_gated *g = context;
	(void)redis;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		gate_fallback(g, reply);
	} else if (reply->type == REDIS_REPLY_STATUS) {
		gate_submit(g, true);
	} else {
		gate_denied(g);
		gate_free(g);
	}
}

static void limit_reply(struct redis *redis, const redisReply *reply, void *context)
{
	struct lmtp_gated *g = context;
	(void)redis;
	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
		gate_fallback(g, reply);
	} else if (reply->integer <= g->limit) {
		gate_submit(g, true);
	} else {
		gate_denied(g);
		gate_free(g);
	}
}

static void gate_ask(struct lmtp_gated *g)
{
	const char *key = pool_printf(g->pool, "%s%s", lmtp_set.redis_prefix, g->key);
	long long msecs = (long long)g->ttl_secs * 1000;
	if (g->kind == LMTP_GATE_ONCE) {
		if (redis_command(lmtp_redis, once_reply, g, "SET %s 1 NX PX %lld", key, msecs) < 0)
			gate_fallback(g, NULL);
		return;
	}
	if (redis_command(lmtp_redis, limit_reply, g, "INCR %s", key) < 0) {
		gate_fallback(g, NULL);
		return;
	}
	/* the key names the day, so renewing the expiry each time is harmless */
	(void)redis_command(lmtp_redis, NULL, NULL, "PEXPIRE %s %lld", key, msecs);
}

void lmtp_gate_run(struct lmtp_data_job *job)
{
	struct lmtp_gated *list = job->gated;
	struct shared_raw *raw = NULL;
	job->gated = NULL;
	for (struct lmtp_gated *g = list; g != NULL; g = g->next) {
		if (g->msg != NULL)
			continue;
		if (raw == NULL) {
			raw = xcalloc(1, sizeof(*raw));
			raw->data = job->raw;
			raw->len = job->len;
			job->raw = NULL;
		}
		raw->refs++;
		g->raw = raw;
	}
	while (list != NULL) {
		struct lmtp_gated *g = list;
		list = g->next;
		g->next = NULL;
		if (lmtp_redis == NULL) {
			/* shutting down: the store threads are gone */
			log_warn("event=outbound_dropped user=%s reason=\"shutting down\"", g->user);
			gate_free(g);
		} else {
			gate_ask(g);
		}
	}
}
