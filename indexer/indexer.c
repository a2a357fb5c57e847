/* The indexer's loop side and its one store thread. The loop collects the
 * users that need a look (beacon from lib/notify, or a sweep of all users
 * every indexer.poll_interval) and hands them to the thread in one job at a
 * time; the thread indexes each user's journal batch by batch until caught
 * up (lib/fts_indexer). Everything that must be exact (no skipped or
 * doubled entries, across kill -9 and several instances) is in the index's
 * transactions (SQLite) or idempotent writes (MongoDB), not here.
 *
 * With Redis configured, instances split the users by shard
 * (indexer_shards): a user is indexed only while this instance can prove
 * it holds the user's shard, checked on the store thread before every
 * batch; beacons come over Redis too, and gaining shards starts a sweep
 * (their users' beacons went to the former holder). */
#include "indexer.h"

#include "config.h"
#include "fts.h"
#include "fts_indexer.h"
#include "indexer_shards.h"
#include "log.h"
#include "mem.h"
#include "notify.h"
#include "pool.h"
#include "redis.h"
#include "store.h"
#include "workpool.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PENDING 4096

struct thread_ctx {
	struct store *store;
	struct fts *fts;
};

struct index_job {
	bool sweep;
	char **users;
	size_t count;
	struct fts_index_stats stats;
	uint64_t skipped;	/* users of shards not held */
};

static struct {
	const struct config *config;
	struct workpool *pool;
	struct notify *notify;
	struct indexer_shards *shards;	/* NULL without Redis: every user is ours */
	struct event *timer;
	char *fts_path;
	unsigned int batch;
	bool running, sweep, stopping;
	char **pending;
	size_t pending_count;
} ix;

static void *thread_init(void *arg)
{
	return xcalloc(1, sizeof(struct thread_ctx));
}

static void thread_deinit(void *context)
{
	struct thread_ctx *t = context;
	fts_close(&t->fts);
	store_close(&t->store);
	free(t);
}

/* Opened lazily and again after a failure: store or disk may come back. */
static bool thread_ready(struct thread_ctx *t)
{
	const char *error;
	if (t->store == NULL) {
		struct store_settings set;
		store_settings_from_config(&set, ix.config);
		if (store_open(&set, &t->store, &error) < 0) {
			log_error("event=store_open_failed error=\"%s\"", error);
			return false;
		}
	}
	if (t->fts == NULL && fts_open_config(ix.config, true, &t->fts, &error) < 0) {
		log_error("event=index_open_failed error=\"%s\"", error);
		return false;
	}
	return true;
}

/* Store thread: whether this instance may index the user now. */
static bool ours(const char *user_id)
{
	return ix.shards == NULL || indexer_shards_holds(ix.shards, user_id);
}

static int index_one(struct thread_ctx *t, const char *user_id, struct index_job *j)
{
	const char *error;
	int ret = 0;
	struct fts_index_stats before = j->stats;
	if (!ours(user_id)) {
		j->skipped++;
		return 0;
	}
	/* asked again before each batch: a shard lost mid-user stops here */
	while (ours(user_id) &&
	       (ret = fts_index_user(t->store, t->fts, user_id, ix.batch, &j->stats, &error)) == 1)
		;
	if (j->stats.indexed != before.indexed || j->stats.removed != before.removed)
		log_debug("event=user_indexed user=%s messages=%llu removed=%llu", user_id,
			  (unsigned long long)(j->stats.indexed - before.indexed),
			  (unsigned long long)(j->stats.removed - before.removed));
	if (ret < 0) {
		log_error("event=index_failed user=%s error=\"%s\"", user_id, error);
		/* a broken handle is reopened on the next job */
		fts_close(&t->fts);
		store_close(&t->store);
	}
	return ret;
}

static void sweep_all(struct thread_ctx *t, struct index_job *j)
{
	struct pool *pool = pool_create(4096);
	char after[STORE_ID_SIZE] = "";
	for (;;) {
		struct store_user *users;
		unsigned int count;
		const char *error;
		pool_clear(pool);
		if (store_user_list(t->store, after[0] != '\0' ? after : NULL, false, 500, pool,
				    &users, &count, &error) < 0) {
			log_error("event=index_sweep_failed error=\"%s\"", error);
			break;
		}
		for (unsigned int i = 0; i < count && t->store != NULL; i++)
			(void)index_one(t, users[i].id, j);
		if (count < 500 || t->store == NULL)
			break;
		memcpy(after, users[count - 1].id, STORE_ID_SIZE);
	}
	pool_destroy(&pool);
}

static void job_run(void *context, void *arg)
{
	struct thread_ctx *t = context;
	struct index_job *j = arg;
	if (!thread_ready(t))
		return;
	for (size_t i = 0; i < j->count && t->store != NULL; i++)
		(void)index_one(t, j->users[i], j);
	if (j->sweep && t->store != NULL)
		sweep_all(t, j);
}

static void kick(void);

static void job_done(void *arg)
{
	struct index_job *j = arg;
	if (j->stats.indexed + j->stats.removed > 0)
		log_debug("event=indexed users=%zu sweep=%s messages=%llu removed=%llu "
			  "threads_changed=%llu skipped=%llu", j->count, j->sweep ? "yes" : "no",
			  (unsigned long long)j->stats.indexed, (unsigned long long)j->stats.removed,
			  (unsigned long long)j->stats.threads_changed,
			  (unsigned long long)j->skipped);
	for (size_t i = 0; i < j->count; i++)
		free(j->users[i]);
	free(j->users);
	free(j);
	ix.running = false;
	kick();
}

static void kick(void)
{
	if (ix.running || ix.stopping || ix.pool == NULL || (!ix.sweep && ix.pending_count == 0))
		return;
	struct index_job *j = xcalloc(1, sizeof(*j));
	j->sweep = ix.sweep;
	j->users = ix.pending;
	j->count = ix.pending_count;
	ix.sweep = false;
	ix.pending = NULL;
	ix.pending_count = 0;
	ix.running = true;
	workpool_submit(ix.pool, job_run, job_done, j);
}

static void notified(const char *user_id, void *ctx)
{
	/* Redis pub/sub is down: the sweeps of poll_interval catch up */
	if (strcmp(user_id, NOTIFY_ALL) == 0)
		return;
	for (size_t i = 0; i < ix.pending_count; i++)
		if (strcmp(ix.pending[i], user_id) == 0)
			return;
	if (ix.pending_count >= MAX_PENDING) {
		ix.sweep = true; /* too many to track: look at everyone */
	} else {
		ix.pending = xrealloc(ix.pending, (ix.pending_count + 1) * sizeof(char *));
		ix.pending[ix.pending_count++] = xstrdup(user_id);
	}
	kick();
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	ix.sweep = true;
	kick();
}

static void shards_acquired(void *context)
{
	ix.sweep = true;
	kick();
}

int indexer_start(struct event_base *base, const struct config *config, const char **error_r)
{
	ix.config = config;
	ix.fts_path = strcmp(fts_backend_from_config(config), "mongodb") == 0 ?
		xasprintf("mongodb:%s", config->store.mongodb_database) :
		fts_path_from_config(config);
	ix.batch = (unsigned int)config->indexer_settings.batch_size;
	struct workpool_settings ws = {
		.threads = 1,
		.thread_init = thread_init,
		.thread_deinit = thread_deinit,
	};
	ix.pool = workpool_create(base, &ws);
	/* beacons of other instances too (over Redis when configured): the
	 * holder of a user's shard may be on another host than the change */
	ix.notify = notify_open(base, config, notified, NULL, error_r);
	if (ix.notify == NULL)
		return -1;
	struct redis_settings rs;
	if (redis_settings_from_config(&rs, config)) {
		struct indexer_shards_settings ss = {
			.redis = &rs,
			.prefix = config->redis.prefix,
			.shards = (unsigned int)config->indexer_settings.shards,
			.lock_ttl_msecs = (unsigned int)config->indexer_settings.lock_ttl,
		};
		ix.shards = indexer_shards_create(base, &ss, shards_acquired, NULL, error_r);
		if (ix.shards == NULL)
			return -1;
	}
	int ms = config->indexer_settings.poll_interval;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	ix.timer = event_new(base, -1, EV_PERSIST, timer_cb, NULL);
	event_add(ix.timer, &tv);
	log_info("event=indexer_started index=%s batch=%u poll_ms=%d sharded=%s", ix.fts_path,
		 ix.batch, ms, ix.shards != NULL ? "yes" : "no");
	ix.sweep = true; /* catch up on what happened while we were down */
	kick();
	return 0;
}

void indexer_stop(void)
{
	ix.stopping = true;
	workpool_destroy(&ix.pool); /* finishes the running job */
	if (ix.timer != NULL)
		event_free(ix.timer);
	ix.timer = NULL;
	notify_free(&ix.notify);
	/* only now that nothing indexes: give the shards to the others */
	indexer_shards_free(&ix.shards);
	for (size_t i = 0; i < ix.pending_count; i++)
		free(ix.pending[i]);
	free(ix.pending);
	ix.pending = NULL;
	ix.pending_count = 0;
	free(ix.fts_path);
	ix.fts_path = NULL;
}
