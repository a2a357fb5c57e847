/* Thread pool: a mutex-protected queue in, an eventfd-signalled list out.
 * The loop thread never blocks on a job; pool threads never touch libevent. */
#include "workpool.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct workpool_job {
	struct workpool_job *next;
	workpool_run_fn *run;
	workpool_done_fn *done;
	void *job;
};

struct workpool {
	struct workpool_settings set;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct workpool_job *queue, **queue_tail; /* waiting to run */
	struct workpool_job *done, **done_tail;   /* waiting for the loop */
	bool stopping;
	unsigned int pending;
	int efd;
	struct event *ev;
	pthread_t *threads;
};

static void *thread_main(void *arg)
{
	struct workpool *pool = arg;
	void *ctx = pool->set.thread_init != NULL ? pool->set.thread_init(pool->set.arg) : NULL;
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->queue == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		struct workpool_job *j = pool->queue;
		if (j == NULL)
			break; /* stopping and nothing left */
		pool->queue = j->next;
		if (pool->queue == NULL)
			pool->queue_tail = &pool->queue;
		pthread_mutex_unlock(&pool->lock);

		j->run(ctx, j->job);

		pthread_mutex_lock(&pool->lock);
		j->next = NULL;
		*pool->done_tail = j;
		pool->done_tail = &j->next;
		uint64_t one = 1;
		(void)!write(pool->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&pool->lock);
	if (pool->set.thread_deinit != NULL)
		pool->set.thread_deinit(ctx);
	return NULL;
}

/* Runs the done callbacks of finished jobs, on the loop thread. */
static void drain_done(struct workpool *pool)
{
	pthread_mutex_lock(&pool->lock);
	struct workpool_job *list = pool->done;
	pool->done = NULL;
	pool->done_tail = &pool->done;
	pthread_mutex_unlock(&pool->lock);
	while (list != NULL) {
		struct workpool_job *j = list;
		list = j->next;
		pool->pending--;
		j->done(j->job);
		free(j);
	}
}

static void efd_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;
	(void)!read(fd, &n, sizeof(n));
	drain_done(arg);
}

struct workpool *workpool_create(struct event_base *base, const struct workpool_settings *set)
{
	struct workpool *pool = xcalloc(1, sizeof(*pool));
	pool->set = *set;
	if (pool->set.threads < 1)
		pool->set.threads = 1;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->queue_tail = &pool->queue;
	pool->done_tail = &pool->done;
	pool->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pool->efd < 0)
		log_fatal("event=workpool_failed error=\"eventfd: %s\"", strerror(errno));
	pool->ev = event_new(base, pool->efd, EV_READ | EV_PERSIST, efd_cb, pool);
	event_add(pool->ev, NULL);
	pool->threads = xcalloc((size_t)pool->set.threads, sizeof(pthread_t));
	for (int i = 0; i < pool->set.threads; i++) {
		int e = pthread_create(&pool->threads[i], NULL, thread_main, pool);
		if (e != 0)
			log_fatal("event=workpool_failed error=\"pthread_create: %s\"", strerror(e));
	}
	return pool;
}

void workpool_submit(struct workpool *pool, workpool_run_fn *run, workpool_done_fn *done,
		     void *job)
{
	struct workpool_job *j = xmalloc(sizeof(*j));
	j->next = NULL;
	j->run = run;
	j->done = done;
	j->job = job;
	pool->pending++;
	pthread_mutex_lock(&pool->lock);
	*pool->queue_tail = j;
	pool->queue_tail = &j->next;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

unsigned int workpool_pending(const struct workpool *pool)
{
	return pool->pending;
}

void workpool_destroy(struct workpool **poolp)
{
	struct workpool *pool = *poolp;
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->set.threads; i++)
		pthread_join(pool->threads[i], NULL);
	drain_done(pool);
	event_free(pool->ev);
	close(pool->efd);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool);
	*poolp = NULL;
}
