/* Benchmark: the cross-instance beacon alone. Two notify listeners in
 * different folders (two "instances") joined by a private redis-server;
 * N publishes on A, each timed until B's callback runs (p50/p99), next to
 * the same through the local datagram path (one folder).
 *
 *   notify_redis [-n N] */
#include "log.h"
#include "notify.h"
#include "redis.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int got;
static void beacon(const char *user, void *ctx) { got++; }
static void nothing(const char *user, void *ctx) { }

static void spin(struct event_base *base, int want, double limit_ms)
{
	double end = now_ms() + limit_ms;
	while (got < want && now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Publishes n beacons on from, each waited for at the listener; fills
 * lat (ms) and returns the count received. */
static int measure(struct event_base *base, struct notify *from, int n, double *lat)
{
	int ok = 0;
	for (int i = 0; i < n; i++) {
		got = 0;
		double t0 = now_ms();
		notify_publish(from, "0123456789abcdef01234567");
		spin(base, 1, 1000);
		if (got >= 1)
			lat[ok++] = now_ms() - t0;
	}
	qsort(lat, (size_t)ok, sizeof(*lat), cmp);
	return ok;
}

int main(int argc, char **argv)
{
	int n = 1000;
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-n") == 0)
			n = atoi(argv[++i]);
	log_open("notify_redis", true);
	log_set_level(LOG_LEVEL_ERROR);
	signal(SIGPIPE, SIG_IGN);
	char dir[] = "/tmp/wd-bench-notify-XXXXXX";
	if (mkdtemp(dir) == NULL)
		return 1;
	char sock[128], address[160], da[128], db[128];
	snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
	snprintf(address, sizeof(address), "unix:%s", sock);
	snprintf(da, sizeof(da), "%s/a", dir);
	snprintf(db, sizeof(db), "%s/b", dir);
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--save",
		       "", "--appendonly", "no", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(sock, F_OK) != 0; i++)
		usleep(10000);

	struct event_base *base = event_base_new();
	const char *error;
	/* a publishes (its own beacons arrive as datagrams only: nothing), b
	 * hears them through Redis */
	struct notify *a = notify_create(base, da, nothing, NULL, &error);
	struct notify *b = notify_create(base, db, beacon, NULL, &error);
	struct redis_settings set = { .address = address };
	if (a == NULL || b == NULL || notify_redis(a, &set, "bench:", &error) < 0 ||
	    notify_redis(b, &set, "bench:", &error) < 0) {
		fprintf(stderr, "notify: %s\n", error);
		return 1;
	}
	got = 0;
	spin(base, 1 << 30, 300);	/* connect and subscribe */
	double *lat = calloc((size_t)n, sizeof(*lat)), *local = calloc((size_t)n, sizeof(*local));
	int ok = measure(base, a, n, lat);
	/* baseline: a second listener in a's folder, reached by datagram */
	notify_free(&b);
	struct notify *a2 = notify_create(base, da, beacon, NULL, &error);
	int ok_local = measure(base, a, n, local);
	printf("notify_redis: %d/%d beacons across instances via redis: p50 %.3f ms, p99 %.3f ms; "
	       "local datagram: p50 %.3f ms, p99 %.3f ms\n", ok, n, ok ? lat[ok / 2] : 0,
	       ok ? lat[ok * 99 / 100] : 0, ok_local ? local[ok_local / 2] : 0,
	       ok_local ? local[ok_local * 99 / 100] : 0);
	printf("BENCH {\"name\": \"notify beacon via redis\", \"p50\": %.3f, \"p99\": %.3f, "
	       "\"baseline\": \"local datagram p50 %.3f ms\"}\n", ok ? lat[ok / 2] : 0,
	       ok ? lat[ok * 99 / 100] : 0, ok_local ? local[ok_local / 2] : 0);
	notify_free(&a);
	notify_free(&a2);
	event_base_free(base);
	free(lat);
	free(local);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 && ok == n ? 0 : 1;
}
