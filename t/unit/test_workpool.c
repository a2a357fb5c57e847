/* The thread pool: every job runs once on a pool thread with its own
 * context, completions arrive on the loop thread, destroy drains. */
#include <check.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "workpool.h"

#define JOBS 2000

static pthread_t loop_thread;
static int contexts_made, contexts_freed, done_count;
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct event_base *base;

struct job {
	int value, result;
	void *ctx_seen;
	pthread_t ran_on;
};

static void *ctx_init(void *arg)
{
	pthread_mutex_lock(&ctx_lock);
	contexts_made++;
	pthread_mutex_unlock(&ctx_lock);
	int *ctx = malloc(sizeof(int));
	*ctx = 1000;
	return ctx;
}

static void ctx_deinit(void *ctx)
{
	pthread_mutex_lock(&ctx_lock);
	contexts_freed++;
	pthread_mutex_unlock(&ctx_lock);
	free(ctx);
}

static void run(void *ctx, void *arg)
{
	struct job *j = arg;
	j->result = j->value * 2 + *(int *)ctx;
	j->ctx_seen = ctx;
	j->ran_on = pthread_self();
	if (j->value % 100 == 0)
		usleep(100);
}

static void done(void *arg)
{
	struct job *j = arg;
	ck_assert(pthread_equal(pthread_self(), loop_thread));
	ck_assert(!pthread_equal(j->ran_on, loop_thread));
	ck_assert_int_eq(j->result, j->value * 2 + 1000);
	if (++done_count == JOBS)
		event_base_loopbreak(base);
}

START_TEST(jobs_complete_on_loop)
{
	loop_thread = pthread_self();
	base = event_base_new();
	struct workpool_settings set = { 4, ctx_init, ctx_deinit, NULL };
	struct workpool *pool = workpool_create(base, &set);
	struct job *jobs = calloc(JOBS, sizeof(*jobs));
	for (int i = 0; i < JOBS; i++) {
		jobs[i].value = i;
		workpool_submit(pool, run, done, &jobs[i]);
	}
	ck_assert_uint_eq(workpool_pending(pool), JOBS);
	ck_assert_int_eq(done_count, 0); /* never synchronous */
	event_base_dispatch(base);
	ck_assert_int_eq(done_count, JOBS);
	ck_assert_uint_eq(workpool_pending(pool), 0);
	workpool_destroy(&pool);
	ck_assert_ptr_null(pool);
	ck_assert_int_eq(contexts_made, 4);
	ck_assert_int_eq(contexts_freed, 4);
	free(jobs);
	event_base_free(base);
}
END_TEST

START_TEST(destroy_drains_queue)
{
	loop_thread = pthread_self();
	base = event_base_new();
	done_count = 0;
	struct workpool_settings set = { 2, ctx_init, ctx_deinit, NULL };
	struct workpool *pool = workpool_create(base, &set);
	struct job *jobs = calloc(100, sizeof(*jobs));
	for (int i = 0; i < 100; i++) {
		jobs[i].value = i;
		workpool_submit(pool, run, done, &jobs[i]);
	}
	workpool_destroy(&pool); /* without running the loop */
	ck_assert_int_eq(done_count, 100);
	free(jobs);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("workpool");
	TCase *tc = tcase_create("pool");
	tcase_add_test(tc, jobs_complete_on_loop);
	tcase_add_test(tc, destroy_drains_queue);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
