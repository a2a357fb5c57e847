/* indexer/indexer_shards against a private redis-server on a unix socket:
 * one instance acquires, renews and releases every shard; two instances
 * (each on its own event base, in one process) split them and never both
 * claim one; a stalled instance stops claiming before the other takes
 * over; Redis going away stops all claims and its return brings them
 * back, as does its first appearance after a start without it; instances
 * with different shard counts do not share. */
#include <check.h>
#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../indexer/indexer_shards.h"
#include "redis.h"
#include "redis_server.h"

#define TTL 600

static char address[160];

static void setup(void)
{
	redis_setup("wd-shards");
	snprintf(address, sizeof(address), "unix:%s", sock);
}

static void teardown(void)
{
	redis_teardown();
}

static void run(struct event_base *base, int msecs)
{
	struct timeval tv = { 0, msecs * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

struct instance {
	struct event_base *base;
	struct indexer_shards *s;
	int acquired_calls;
};

static void acquired(void *context)
{
	((struct instance *)context)->acquired_calls++;
}

static void start(struct instance *in, unsigned int shards, const char *token)
{
	in->base = event_base_new();
	in->acquired_calls = 0;
	struct redis_settings rs = { .address = address, .timeout_msecs = 500 };
	struct indexer_shards_settings set = { .redis = &rs, .prefix = "t:", .shards = shards,
					       .lock_ttl_msecs = TTL, .instance = token };
	const char *error;
	in->s = indexer_shards_create(in->base, &set, acquired, in, &error);
	ck_assert_ptr_nonnull(in->s);
}

static void stop(struct instance *in)
{
	indexer_shards_free(&in->s);
	ck_assert_ptr_null(in->s);
	event_base_free(in->base);
	in->base = NULL;
}

/* A synchronous look at Redis. */
static redisContext *peek(void)
{
	redisContext *c = redisConnectUnix(sock);
	ck_assert(c != NULL && c->err == 0);
	return c;
}

/* The token in a shard's key ("" when free). */
static void shard_value(redisContext *c, unsigned int shard, char *out, size_t size)
{
	redisReply *r = redisCommand(c, "GET t:indexer:shard:%u", shard);
	ck_assert_ptr_nonnull(r);
	snprintf(out, size, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
	freeReplyObject(r);
}

static unsigned int shards_with(redisContext *c, unsigned int shards, const char *token)
{
	unsigned int n = 0;
	char v[128];
	for (unsigned int i = 0; i < shards; i++) {
		shard_value(c, i, v, sizeof(v));
		n += strcmp(v, token) == 0;
	}
	return n;
}

/* Runs the instances in turn (NULL entries are stalled) until cond holds,
 * failing if ever a shard is claimed by both. */
typedef bool cond_fn(struct instance *a, struct instance *b, unsigned int shards);
static bool run_both(struct instance *a, struct instance *b, bool run_a, bool run_b,
		     unsigned int shards, cond_fn *cond, int msecs)
{
	double deadline = now_ms() + msecs;
	while (now_ms() < deadline) {
		if (run_a)
			run(a->base, 5);
		if (run_b)
			run(b->base, 5);
		if (a->s != NULL && b->s != NULL)
			for (unsigned int i = 0; i < shards; i++)
				ck_assert_msg(!(indexer_shards_holds_shard(a->s, i) &&
						indexer_shards_holds_shard(b->s, i)),
					      "shard %u claimed by both", i);
		if (cond(a, b, shards))
			return true;
	}
	return false;
}

static bool a_holds_all(struct instance *a, struct instance *b, unsigned int shards)
{
	return indexer_shards_held(a->s) == shards;
}

static bool b_holds_all(struct instance *a, struct instance *b, unsigned int shards)
{
	return indexer_shards_held(b->s) == shards;
}

static bool balanced(struct instance *a, struct instance *b, unsigned int shards)
{
	return indexer_shards_held(a->s) == shards / 2 && indexer_shards_held(b->s) == shards / 2;
}

static bool a_holds_none(struct instance *a, struct instance *b, unsigned int shards)
{
	return indexer_shards_held(a->s) == 0;
}

START_TEST(shard_of_is_fnv1a)
{
	/* wd-indexer instances, and the e2e test, must agree on this */
	ck_assert_uint_eq(indexer_shards_of(64, "5f1e2d3c4b5a697887960a1b"), 2);
	ck_assert_uint_eq(indexer_shards_of(7, "5f1e2d3c4b5a697887960a1b"), 6);
	ck_assert_uint_eq(indexer_shards_of(1, "anything"), 0);
	unsigned int hist[16] = { 0 };
	char id[32];
	for (int i = 0; i < 1600; i++) {
		snprintf(id, sizeof(id), "%024x", i * 7919);
		hist[indexer_shards_of(16, id)]++;
	}
	for (int i = 0; i < 16; i++)
		ck_assert_msg(hist[i] > 50 && hist[i] < 150, "shard %d has %u of 1600", i, hist[i]);
}
END_TEST

START_TEST(acquire_renew_release)
{
	struct instance a, none = { 0 };
	start(&a, 8, "inst-a");
	ck_assert_uint_eq(indexer_shards_held(a.s), 0);
	ck_assert(!indexer_shards_holds(a.s, "5f1e2d3c4b5a697887960a1b"));
	ck_assert(run_both(&a, &none, true, false, 8, a_holds_all, 3000));
	ck_assert_int_ge(a.acquired_calls, 1);
	ck_assert(indexer_shards_holds(a.s, "5f1e2d3c4b5a697887960a1b"));
	ck_assert_str_eq(indexer_shards_instance(a.s), "inst-a");
	redisContext *c = peek();
	ck_assert_uint_eq(shards_with(c, 8, "inst-a"), 8);
	redisReply *r = redisCommand(c, "ZSCORE t:indexer:instances inst-a");
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	freeReplyObject(r);

	/* renewed: after three lock lifetimes, still held, keys still live */
	double until = now_ms() + 3 * TTL;
	while (now_ms() < until) {
		run(a.base, 10);
		ck_assert_uint_eq(indexer_shards_held(a.s), 8);
	}
	ck_assert_uint_eq(shards_with(c, 8, "inst-a"), 8);
	r = redisCommand(c, "PTTL t:indexer:shard:3");
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	ck_assert_int_gt(r->integer, TTL / 3);
	freeReplyObject(r);

	/* released on a clean stop, announcement gone */
	stop(&a);
	ck_assert_uint_eq(shards_with(c, 8, "inst-a"), 0);
	r = redisCommand(c, "EXISTS t:indexer:shard:0 t:indexer:shard:7");
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	r = redisCommand(c, "ZSCORE t:indexer:instances inst-a");
	ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	redisFree(c);
}
END_TEST

START_TEST(two_instances_balance)
{
	struct instance a, b, none = { 0 };
	start(&a, 16, "inst-a");
	ck_assert(run_both(&a, &none, true, false, 16, a_holds_all, 3000));
	start(&b, 16, "inst-b");
	/* A gives up half, B takes it */
	double t0 = now_ms();
	ck_assert(run_both(&a, &b, true, true, 16, balanced, 5000));
	fprintf(stderr, "balanced 8/8 after %.0f ms (ttl %d)\n", now_ms() - t0, TTL);
	redisContext *c = peek();
	ck_assert_uint_eq(shards_with(c, 16, "inst-a"), 8);
	ck_assert_uint_eq(shards_with(c, 16, "inst-b"), 8);
	/* it stays balanced */
	double until = now_ms() + 2 * TTL;
	while (now_ms() < until) {
		run(a.base, 5);
		run(b.base, 5);
	}
	ck_assert(balanced(&a, &b, 16));

	/* B stops cleanly: A has everything well within a lock lifetime */
	stop(&b);
	b.s = NULL;
	t0 = now_ms();
	ck_assert(run_both(&a, &b, true, false, 16, a_holds_all, TTL));
	fprintf(stderr, "after a clean stop, all taken in %.0f ms\n", now_ms() - t0);
	ck_assert_uint_eq(shards_with(c, 16, "inst-a"), 16);
	stop(&a);
	redisFree(c);
}
END_TEST

START_TEST(stalled_instance_expires)
{
	struct instance a, b;
	start(&a, 16, "inst-a");
	start(&b, 16, "inst-b");
	ck_assert(run_both(&a, &b, true, true, 16, balanced, 5000));
	/* A's loop stops (hung, or killed without releasing): it stops
	 * claiming its shards before B can take them (checked at every step
	 * by run_both), and B ends up with all of them */
	double t0 = now_ms();
	ck_assert(run_both(&a, &b, false, true, 16, a_holds_none, TTL));
	double t1 = now_ms();
	ck_assert(run_both(&a, &b, false, true, 16, b_holds_all, 3 * TTL));
	fprintf(stderr, "stalled instance: claims end after %.0f ms, all taken after %.0f ms "
		"(ttl %d)\n", t1 - t0, now_ms() - t0, TTL);
	ck_assert_int_ge(b.acquired_calls, 2);
	/* A coming back does not disturb B, nor does its release */
	run_both(&a, &b, true, true, 16, a_holds_none, 2 * TTL);
	ck_assert_uint_le(indexer_shards_held(a.s), 8);
	stop(&a);
	a.s = NULL;
	ck_assert(run_both(&a, &b, false, true, 16, b_holds_all, 2 * TTL));
	redisContext *c = peek();
	ck_assert_uint_eq(shards_with(c, 16, "inst-b"), 16);
	redisFree(c);
	stop(&b);
}
END_TEST

START_TEST(redis_outage_stops_claims)
{
	struct instance a, none = { 0 };
	start(&a, 8, "inst-a");
	ck_assert(run_both(&a, &none, true, false, 8, a_holds_all, 3000));
	server_stop();
	double t0 = now_ms();
	ck_assert(run_both(&a, &none, true, false, 8, a_holds_none, TTL));
	fprintf(stderr, "Redis down: claims end after %.0f ms\n", now_ms() - t0);
	server_start();
	/* reconnect backoff is at most a few seconds */
	ck_assert(run_both(&a, &none, true, false, 8, a_holds_all, 8000));
	stop(&a);
}
END_TEST

START_TEST(redis_down_at_start)
{
	struct instance a, none = { 0 };
	server_stop();
	start(&a, 8, "inst-a");
	double until = now_ms() + 2 * TTL;
	while (now_ms() < until) {
		run(a.base, 10);
		ck_assert_uint_eq(indexer_shards_held(a.s), 0);
	}
	server_start();
	ck_assert(run_both(&a, &none, true, false, 8, a_holds_all, 8000));
	stop(&a);
}
END_TEST

START_TEST(shard_count_mismatch)
{
	struct instance a, b, none = { 0 };
	start(&a, 8, "inst-a");
	ck_assert(run_both(&a, &none, true, false, 8, a_holds_all, 3000));
	start(&b, 4, "inst-b");
	double until = now_ms() + 3 * TTL;
	while (now_ms() < until) {
		run(a.base, 5);
		run(b.base, 5);
		ck_assert_uint_eq(indexer_shards_held(b.s), 0);
	}
	ck_assert_uint_eq(indexer_shards_held(a.s), 8);
	stop(&a);
	stop(&b);
}
END_TEST

static Suite *shards_suite(void)
{
	Suite *s = suite_create("indexer_shards");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, shard_of_is_fnv1a);
	tcase_add_test(tc, acquire_renew_release);
	tcase_add_test(tc, two_instances_balance);
	tcase_add_test(tc, stalled_instance_expires);
	tcase_add_test(tc, redis_outage_stops_claims);
	tcase_add_test(tc, redis_down_at_start);
	tcase_add_test(tc, shard_count_mismatch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(shards_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
