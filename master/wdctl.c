/* wdctl: manage a running suite through the master's control socket.
 * Exit codes: 0 ok, 1 failure (including "not running"), 2 usage. */
#include "buffer.h"
#include "config.h"
#include "ipc.h"
#include "mem.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_CONFIG WD_SYSCONFDIR "/wildduck/wildduck.yaml"
#define REPLY_TIMEOUT_MS 60000

struct reply {
	char **lines; /* raw lines, each split later */
	size_t count;
	bool ok;
	char *error;
};

static int control_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (e == ENOENT || e == ECONNREFUSED)
		fprintf(stderr, "wdctl: the suite is not running (no master listening on %s)\n", path);
	else
		fprintf(stderr, "wdctl: cannot connect to %s: %s\n", path, strerror(e));
	return -1;
}

/* Sends "CMD\t1" and collects reply lines up to OK/FAIL. */
static int request(int fd, const char *cmd, struct reply *r)
{
	struct buffer out = BUFFER_INIT, in = BUFFER_INIT, line = BUFFER_INIT;
	ipc_line_appendv(&out, cmd, "1", NULL);
	int ret = write(fd, out.data, out.len) == (ssize_t)out.len ? 0 : -1;
	buffer_free(&out);
	memset(r, 0, sizeof(*r));
	while (ret == 0) {
		int got = ipc_take_line(&in, IPC_MAX_LINE, &line);
		if (got < 0) {
			ret = -1;
			break;
		}
		if (got == 1) {
			char *copy = xstrdup(buffer_cstr(&line)), *fields[IPC_MAX_FIELDS];
			const char *err;
			char *split = xstrdup(copy);
			int n = ipc_line_split(split, fields, IPC_MAX_FIELDS, &err);
			bool last = n >= 2 && (strcmp(fields[0], "OK") == 0 || strcmp(fields[0], "FAIL") == 0);
			if (last) {
				r->ok = strcmp(fields[0], "OK") == 0;
				r->error = n >= 3 ? xstrdup(fields[2]) : NULL;
			}
			free(split);
			r->lines = xrealloc(r->lines, (r->count + 1) * sizeof(char *));
			r->lines[r->count++] = copy;
			if (last)
				break;
			continue;
		}
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "wdctl: no answer from the master\n");
			ret = -1;
			break;
		}
		unsigned char *p = buffer_reserve(&in, 4096);
		ssize_t n = read(fd, p, 4096);
		if (n <= 0) {
			fprintf(stderr, "wdctl: the master closed the connection\n");
			ret = -1;
			break;
		}
		in.len += (size_t)n;
	}
	buffer_free(&in);
	buffer_free(&line);
	return ret;
}

static void reply_free(struct reply *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r->error);
}

/* The value of key=... among fields, "" when absent. */
static const char *field(char **fields, int n, const char *key)
{
	size_t len = strlen(key);
	for (int i = 2; i < n; i++)
		if (strncmp(fields[i], key, len) == 0 && fields[i][len] == '=')
			return fields[i] + len + 1;
	return "";
}

static void format_uptime(const char *secs, char *out, size_t outlen)
{
	long s = atol(secs);
	if (s >= 86400)
		snprintf(out, outlen, "%ldd%ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, outlen, "%ldh%ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, outlen, "%ldm%lds", s / 60, s % 60);
	else
		snprintf(out, outlen, "%lds", s);
}

static void print_status(const struct reply *r)
{
	const char *kinds[] = { "MASTER", "SERVICE", "WORKER", "LISTEN" };
	for (size_t k = 0; k < 4; k++) {
		bool header = false;
		for (size_t i = 0; i < r->count; i++) {
			char *copy = xstrdup(r->lines[i]), *f[IPC_MAX_FIELDS];
			const char *err;
			int n = ipc_line_split(copy, f, IPC_MAX_FIELDS, &err);
			if (n < 2 || strcmp(f[0], kinds[k]) != 0) {
				free(copy);
				continue;
			}
			char up[32];
			format_uptime(field(f, n, "uptime"), up, sizeof(up));
			if (k == 0) {
				printf("wildduck: running, pid %s, up %s, generation %s\nconfig: %s\n",
				       field(f, n, "pid"), up, field(f, n, "generation"), field(f, n, "config"));
			} else if (k == 1) {
				if (!header)
					printf("\n%-10s %-8s %-8s %-12s %s\n", "SERVICE", "STATE", "WORKERS",
					       "CONNECTIONS", "RESTARTS");
				char workers[32];
				snprintf(workers, sizeof(workers), "%s/%s", field(f, n, "workers"),
					 field(f, n, "wanted"));
				printf("%-10s %-8s %-8s %-12s %s\n", field(f, n, "name"),
				       strcmp(field(f, n, "enabled"), "yes") == 0 ? "enabled" : "disabled",
				       workers, field(f, n, "connections"), field(f, n, "restarts"));
			} else if (k == 2) {
				if (!header)
					printf("\n%-10s %-8s %-5s %-11s %-12s %s\n", "WORKER", "PID", "GEN",
					       "STATE", "CONNECTIONS", "UPTIME");
				printf("%-10s %-8s %-5s %-11s %-12s %s\n", field(f, n, "service"),
				       field(f, n, "pid"), field(f, n, "generation"), field(f, n, "state"),
				       field(f, n, "connections"), up);
			} else {
				if (!header)
					printf("\n%-10s %-30s %s\n", "LISTENER", "ADDRESS", "TLS");
				printf("%-10s %-30s %s\n", field(f, n, "service"), field(f, n, "address"),
				       field(f, n, "tls"));
			}
			header = true;
			free(copy);
		}
	}
}

/* The master closes the control connection only when it exits. */
static int wait_master_exit(int fd)
{
	char buf[256];
	struct pollfd pfd = { fd, POLLIN, 0 };
	for (;;) {
		int r = poll(&pfd, 1, 120000);
		if (r == 0) {
			fprintf(stderr, "wdctl: the master is still running after 120s\n");
			return -1;
		}
		if (r < 0 && errno == EINTR)
			continue;
		ssize_t n = r < 0 ? -1 : read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 0;
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: wdctl [-c FILE] [-s SOCKET] COMMAND\n"
		"commands:\n"
		"  status   services, workers, connections, restarts and listeners\n"
		"  reload   re-read the configuration and certificates; returns when the\n"
		"           new workers run (the old ones finish their connections)\n"
		"  stop     stop the suite gracefully and wait until the master exits\n"
		"options:\n"
		"  -c FILE    configuration file naming the control socket (default %s)\n"
		"  -s SOCKET  control socket path (overrides -c)\n", DEFAULT_CONFIG);
}

static char *socket_path(const char *config_path, const char *sock)
{
	if (sock != NULL)
		return xstrdup(sock);
	struct config *config;
	const char *error;
	if (config_load_file(config_path, &config, &error) < 0) {
		fprintf(stderr, "wdctl: %s\n", error);
		return NULL;
	}
	char *path = xstrdup(config->control_socket);
	config_free(&config);
	return path;
}

int main(int argc, char **argv)
{
	const char *config_path = DEFAULT_CONFIG, *sock = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "c:s:h")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 's': sock = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "reload") != 0 && strcmp(cmd, "stop") != 0) {
		fprintf(stderr, "wdctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	char *path = socket_path(config_path, sock);
	int fd = path != NULL ? control_connect(path) : -1;
	free(path);
	if (fd < 0)
		return 1;
	struct reply r;
	char upper[16];
	snprintf(upper, sizeof(upper), "%s", cmd);
	for (char *p = upper; *p; p++)
		*p = (char)(*p - 'a' + 'A');
	int ret = request(fd, upper, &r) == 0 && r.ok ? 0 : 1;
	if (ret != 0 && r.error != NULL)
		fprintf(stderr, "wdctl: %s failed: %s\n", cmd, r.error);
	else if (ret == 0 && strcmp(cmd, "status") == 0)
		print_status(&r);
	else if (ret == 0 && strcmp(cmd, "reload") == 0)
		printf("wdctl: reloaded (%s)\n", r.error != NULL ? r.error : "done");
	else if (ret == 0 && strcmp(cmd, "stop") == 0) {
		ret = wait_master_exit(fd) < 0 ? 1 : 0;
		if (ret == 0)
			printf("wdctl: stopped\n");
	}
	reply_free(&r);
	close(fd);
	return ret;
}
