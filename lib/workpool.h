/* A pool of threads for blocking work (store calls, password hashing) with
 * completions delivered back on the event loop thread (DESIGN §2.2).
 * Each thread owns a context made by thread_init (e.g. its own store
 * handle); only the loop thread submits jobs and sees their completions. */
#ifndef WD_WORKPOOL_H
#define WD_WORKPOOL_H

#include <event2/event.h>

struct workpool;

/* Runs on a pool thread with that thread's context. */
typedef void workpool_run_fn(void *thread_ctx, void *job);
/* Runs on the loop thread once run has returned. */
typedef void workpool_done_fn(void *job);

struct workpool_settings {
	int threads;
	/* Makes a thread's context on that thread; NULL return is allowed. */
	void *(*thread_init)(void *arg);
	void (*thread_deinit)(void *thread_ctx);
	void *arg;
};

struct workpool *workpool_create(struct event_base *base, const struct workpool_settings *set);
/* Queues a job; done(job) is called on the loop thread later, never from
 * inside workpool_submit. */
void workpool_submit(struct workpool *pool, workpool_run_fn *run, workpool_done_fn *done,
		     void *job);
/* Jobs queued or running. */
unsigned int workpool_pending(const struct workpool *pool);
/* Finishes queued jobs (running their done callbacks), joins the threads. */
void workpool_destroy(struct workpool **pool);

#endif
