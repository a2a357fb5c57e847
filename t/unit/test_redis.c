/* lib/redis (hiredis async on libevent) and notify over Redis, against a
 * private redis-server on a unix socket in a temp dir: commands, pub/sub,
 * command timeouts, reconnects with re-subscription, and cross-folder
 * beacons within 100 ms. */
#include <check.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "redis.h"
#include "redis_server.h"

static void setup(void)
{
	redis_setup("wd-redis");
}

static void teardown(void)
{
	redis_teardown();
}

/* Runs the loop until *flag becomes true or msecs pass. */
static bool run_until(struct event_base *base, const bool *flag, int msecs)
{
	double deadline = now_ms() + msecs;
	while (!*flag && now_ms() < deadline) {
		struct timeval tv = { 0, 5000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return *flag;
}

static bool got_reply, reply_null;
static char reply_str[64];

static void reply_cb(struct redis *r, const redisReply *reply, void *ctx)
{
	got_reply = true;
	reply_null = reply == NULL;
	reply_str[0] = '\0';
	if (reply != NULL && (reply->type == REDIS_REPLY_STRING ||
			      reply->type == REDIS_REPLY_STATUS))
		snprintf(reply_str, sizeof(reply_str), "%s", reply->str);
}

static bool connected_flag;
static bool wait_connected(struct event_base *base, struct redis *r, int msecs)
{
	double deadline = now_ms() + msecs;
	while (!redis_connected(r) && now_ms() < deadline) {
		struct timeval tv = { 0, 5000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	connected_flag = redis_connected(r);
	return connected_flag;
}

static bool wait_subscribed(struct event_base *base, struct redis *r, int msecs)
{
	double deadline = now_ms() + msecs;
	while (!redis_subscribed(r) && now_ms() < deadline) {
		struct timeval tv = { 0, 5000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return redis_subscribed(r);
}

static struct redis *make(struct event_base *base, unsigned int timeout)
{
	char address[160];
	snprintf(address, sizeof(address), "unix:%s", sock);
	struct redis_settings set = { .address = address, .db = 1, .timeout_msecs = timeout };
	const char *error;
	struct redis *r = redis_create(base, &set, &error);
	ck_assert_ptr_nonnull(r);
	return r;
}

START_TEST(command_roundtrip)
{
	struct event_base *base = event_base_new();
	struct redis *r = make(base, 1000);
	ck_assert(wait_connected(base, r, 2000));
	got_reply = false;
	ck_assert_int_eq(redis_command(r, reply_cb, NULL, "SET %s %s", "k", "v"), 0);
	ck_assert(run_until(base, &got_reply, 1000));
	ck_assert_str_eq(reply_str, "OK");
	got_reply = false;
	const char *argv[] = { "GET", "k" };
	ck_assert_int_eq(redis_command_argv(r, reply_cb, NULL, 2, argv, NULL), 0);
	ck_assert(run_until(base, &got_reply, 1000));
	ck_assert_str_eq(reply_str, "v");
	/* a pending command's callback runs (with NULL) when the client goes */
	got_reply = false;
	ck_assert_int_eq(redis_command(r, reply_cb, NULL, "BLPOP %s %s", "none", "5"), 0);
	redis_free(&r);
	ck_assert(got_reply && reply_null);
	ck_assert_ptr_null(r);
	event_base_free(base);
}
END_TEST

START_TEST(timeout_and_reconnect)
{
	struct event_base *base = event_base_new();
	struct redis *r = make(base, 150);
	ck_assert(wait_connected(base, r, 2000));
	/* blocks the connection for 2 s: our 150 ms timeout fires first */
	got_reply = false;
	double start = now_ms();
	ck_assert_int_eq(redis_command(r, reply_cb, NULL, "BLPOP %s %s", "none", "2"), 0);
	ck_assert(run_until(base, &got_reply, 1000));
	ck_assert(reply_null);
	ck_assert_double_lt(now_ms() - start, 600);
	/* the connection was dropped and comes back by itself */
	ck_assert(wait_connected(base, r, 2000));
	got_reply = false;
	ck_assert_int_eq(redis_command(r, reply_cb, NULL, "PING"), 0);
	ck_assert(run_until(base, &got_reply, 1000));
	ck_assert_str_eq(reply_str, "PONG");
	/* the server goes away: commands fail at once, then work again */
	server_stop();
	double t0 = now_ms();
	while (redis_connected(r) && now_ms() - t0 < 2000) {
		struct timeval tv = { 0, 5000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	ck_assert(!redis_connected(r));
	ck_assert_int_eq(redis_command(r, reply_cb, NULL, "PING"), -1);
	server_start();
	ck_assert(wait_connected(base, r, 8000));
	redis_free(&r);
	event_base_free(base);
}
END_TEST

static int messages;
static char last_message[64];

static void message_cb(const char *channel, const char *message, size_t len, void *ctx)
{
	messages++;
	len = len < sizeof(last_message) - 1 ? len : sizeof(last_message) - 1;
	memcpy(last_message, message, len);
	last_message[len] = '\0';
}

START_TEST(pubsub_resubscribes)
{
	struct event_base *base = event_base_new();
	struct redis *r = make(base, 1000);
	redis_subscribe(r, "wd:test", message_cb, NULL);
	ck_assert(wait_connected(base, r, 2000));
	ck_assert(wait_subscribed(base, r, 2000));
	messages = 0;
	got_reply = false;
	ck_assert_int_eq(redis_command(r, reply_cb, NULL, "PUBLISH %s %b", "wd:test", "a\0b", 3), 0);
	bool one = false;
	double t0 = now_ms();
	while (messages == 0 && now_ms() - t0 < 1000)
		run_until(base, &one, 5);
	ck_assert_int_eq(messages, 1);
	ck_assert_int_eq(memcmp(last_message, "a\0b", 3), 0);
	/* restart: the subscription comes back without being asked */
	server_stop();
	run_until(base, &one, 200);	/* both connections notice */
	ck_assert(!redis_connected(r) && !redis_subscribed(r));
	server_start();
	ck_assert(wait_connected(base, r, 8000));
	ck_assert(wait_subscribed(base, r, 8000));
	ck_assert_int_eq(redis_command(r, NULL, NULL, "PUBLISH %s %s", "wd:test", "again"), 0);
	t0 = now_ms();
	while (messages == 1 && now_ms() - t0 < 1000)
		run_until(base, &one, 5);
	ck_assert_int_eq(messages, 2);
	ck_assert_str_eq(last_message, "again");
	redis_free(&r);
	event_base_free(base);
}
END_TEST

static int beacons_a, beacons_b;
static double beacon_b_at;
static char beacon_user[64];

static void beacon_a(const char *user, void *ctx) { beacons_a += strcmp(user, NOTIFY_ALL) != 0; }

static int polls_b;

static void beacon_b(const char *user, void *ctx)
{
	if (strcmp(user, NOTIFY_ALL) == 0) {
		polls_b++;
		return;
	}
	beacons_b++;
	beacon_b_at = now_ms();
	snprintf(beacon_user, sizeof(beacon_user), "%s", user);
}

START_TEST(notify_across_instances)
{
	struct event_base *base = event_base_new();
	char dir_a[128], dir_b[128], address[160];
	snprintf(dir_a, sizeof(dir_a), "%s/a", dir);
	snprintf(dir_b, sizeof(dir_b), "%s/b", dir);
	snprintf(address, sizeof(address), "unix:%s", sock);
	const char *error;
	struct notify *a = notify_create(base, dir_a, beacon_a, NULL, &error);
	struct notify *b = notify_create(base, dir_b, beacon_b, NULL, &error);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	struct redis_settings set = { .address = address };
	ck_assert_int_eq(notify_redis(a, &set, "wdtest:", &error), 0);
	ck_assert_int_eq(notify_redis(b, &set, "wdtest:", &error), 0);
	/* let both connect and subscribe */
	bool never = false;
	run_until(base, &never, 300);
	beacons_a = beacons_b = 0;
	double start = now_ms();
	notify_publish(a, "0123456789abcdef01234567");
	run_until(base, &never, 300);
	/* A's own folder hears it once (datagram, not again via Redis); B
	 * hears it through Redis */
	ck_assert_int_eq(beacons_a, 1);
	ck_assert_int_eq(beacons_b, 1);
	ck_assert_str_eq(beacon_user, "0123456789abcdef01234567");
	ck_assert_double_lt(beacon_b_at - start, 100);
	ck_assert_int_eq(polls_b, 0);	/* subscribed: no polling */
	/* Redis gone: local beacons still work, and B falls back to polling */
	server_stop();
	run_until(base, &never, 100);
	notify_publish(a, "user2");
	run_until(base, &never, 1200);
	ck_assert_int_eq(beacons_a, 2);
	ck_assert_int_eq(beacons_b, 1);
	ck_assert_int_ge(polls_b, 1);
	notify_free(&a);
	notify_free(&b);
	event_base_free(base);
}
END_TEST

/* ---- Redis Sentinel: discovery and failover ---- */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static pid_t spawn_redis(const char *const *argv)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* A synchronous command to a port, for the test's own checks. */
static redisReply *sync_cmd(int port, const char *cmd)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (c == NULL || c->err) {
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	redisReply *r = redisCommand(c, cmd);
	redisFree(c);
	return r;
}

static bool wait_port(int port)
{
	for (int i = 0; i < 300; i++) {
		redisReply *r = sync_cmd(port, "PING");
		if (r != NULL) {
			freeReplyObject(r);
			return true;
		}
		usleep(10000);
	}
	return false;
}

START_TEST(sentinel_discovery_and_failover)
{
	int p_master = free_port(), p_replica = free_port(), p_sentinel = free_port();
	char pm[16], pr[16], ps[16], conf[160];
	snprintf(pm, sizeof(pm), "%d", p_master);
	snprintf(pr, sizeof(pr), "%d", p_replica);
	snprintf(ps, sizeof(ps), "%d", p_sentinel);
	snprintf(conf, sizeof(conf), "%s/sentinel.conf", dir);
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\n"
		"sentinel monitor wdtest 127.0.0.1 %d 1\n"
		"sentinel down-after-milliseconds wdtest 1000\n"
		"sentinel failover-timeout wdtest 5000\n", p_sentinel, dir, p_master);
	fclose(f);
	const char *master[] = { "redis-server", "--port", pm, "--bind", "127.0.0.1", "--save",
				 "", "--appendonly", "no", "--dir", dir, NULL };
	const char *replica[] = { "redis-server", "--port", pr, "--bind", "127.0.0.1", "--save",
				  "", "--appendonly", "no", "--dir", dir, "--replicaof",
				  "127.0.0.1", pm, NULL };
	const char *sentinel[] = { "redis-server", conf, "--sentinel", NULL };
	pid_t pids[3] = { spawn_redis(master), spawn_redis(replica), 0 };
	ck_assert(wait_port(p_master) && wait_port(p_replica));
	pids[2] = spawn_redis(sentinel);
	ck_assert(wait_port(p_sentinel));

	struct event_base *base = event_base_new();
	char sentinels[64];
	snprintf(sentinels, sizeof(sentinels), "127.0.0.1:1 127.0.0.1:%d", p_sentinel);
	struct redis_settings set = { .sentinels = sentinels, .sentinel_master = "wdtest",
				      .timeout_msecs = 1000 };
	const char *error;
	struct redis *r = redis_create(base, &set, &error);
	ck_assert_ptr_nonnull(r);
	/* the first sentinel listed is down: the second one answers */
	ck_assert(wait_connected(base, r, 8000));
	got_reply = false;
	ck_assert_int_eq(redis_command(r, reply_cb, NULL, "SET %s %s", "where", "master"), 0);
	ck_assert(run_until(base, &got_reply, 1000));
	ck_assert_str_eq(reply_str, "OK");

	/* wait until the sentinel knows the replica in sync, then fail over */
	bool failed_over = false;
	for (int i = 0; i < 200 && !failed_over; i++) {
		redisReply *x = sync_cmd(p_sentinel, "SENTINEL FAILOVER wdtest");
		failed_over = x != NULL && x->type == REDIS_REPLY_STATUS;
		if (x != NULL)
			freeReplyObject(x);
		bool never = false;
		if (!failed_over)
			run_until(base, &never, 50);
	}
	ck_assert_msg(failed_over, "sentinel refused to fail over");
	/* +switch-master moves the client: writes land on the old replica */
	bool moved = false;
	double t0 = now_ms();
	while (!moved && now_ms() - t0 < 15000) {
		got_reply = false;
		if (redis_command(r, reply_cb, NULL, "SET %s %s", "where", "replica") == 0 &&
		    run_until(base, &got_reply, 1000) && strcmp(reply_str, "OK") == 0) {
			redisReply *x = sync_cmd(p_replica, "GET where");
			moved = x != NULL && x->type == REDIS_REPLY_STRING &&
				strcmp(x->str, "replica") == 0;
			if (x != NULL)
				freeReplyObject(x);
		}
		bool never = false;
		if (!moved)
			run_until(base, &never, 100);
	}
	fprintf(stderr, "sentinel: failover followed in %.0f ms\n", now_ms() - t0);
	ck_assert_msg(moved, "the client did not follow the failover");
	redis_free(&r);
	event_base_free(base);
	for (int i = 0; i < 3; i++) {
		kill(pids[i], SIGTERM);
		waitpid(pids[i], NULL, 0);
	}
}
END_TEST

START_TEST(bad_address)
{
	struct event_base *base = event_base_new();
	const char *error = NULL;
	struct redis_settings set = { .address = "host:99999" };
	ck_assert_ptr_null(redis_create(base, &set, &error));
	ck_assert_ptr_nonnull(error);
	set.address = "";
	ck_assert_ptr_null(redis_create(base, &set, &error));
	event_base_free(base);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("redis");
	TCase *tc = tcase_create("redis");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, command_roundtrip);
	tcase_add_test(tc, timeout_and_reconnect);
	tcase_add_test(tc, pubsub_resubscribes);
	tcase_add_test(tc, notify_across_instances);
	tcase_add_test(tc, bad_address);
	tcase_add_test(tc, sentinel_discovery_and_failover);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
