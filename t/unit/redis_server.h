/* A private redis-server on a unix socket in a temp dir, for the unit
 * tests that talk to Redis: redis_setup() in a fixture's setup starts one
 * per test, redis_teardown() removes it; server_stop()/server_start() in
 * between take it away and bring it back. */
#ifndef WD_T_REDIS_SERVER_H
#define WD_T_REDIS_SERVER_H

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static char sock[128];
static pid_t server_pid;

static inline void server_start(void)
{
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock,
		       "--save", "", "--appendonly", "no", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (access(sock, F_OK) == 0)
			return;
		usleep(10000);
	}
	ck_abort_msg("redis-server did not start");
}

static inline void server_stop(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	unlink(sock);
}

/* prefix names the temp dir: "/tmp/<prefix>-XXXXXX". */
static inline void redis_setup(const char *prefix)
{
	snprintf(dir, sizeof(dir), "/tmp/%s-XXXXXX", prefix);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
	server_start();
}

static inline void redis_teardown(void)
{
	server_stop();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

static inline double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

#endif
