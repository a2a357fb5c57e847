/* Local beacons: each process binds a unix datagram socket named after its
 * pid in a shared folder; publishing sends one datagram to each socket
 * there. Sockets of dead processes refuse the datagram and are removed.
 *
 * Across instances (notify_redis): a beacon is also PUBLISHed as
 * "<origin>\t<user id>" on <prefix>notify, and every listener SUBSCRIBEs
 * there. origin names the host and folder, so a listener skips what its
 * own folder already delivered by datagram. */
#include "notify.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "redis.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BEACON_MAX 128
#define ORIGIN_LEN 16
/* Polling fallback while the Redis subscription is down. */
#define POLL_INTERVAL_MSECS 1000

struct notify {
	int fd;
	char *dir;
	char *path;
	struct event *ev;
	struct event_base *base;
	notify_cb *cb;
	void *ctx;
	struct redis *redis;
	struct event *poll_ev;
	char *channel;
	char origin[ORIGIN_LEN + 1];
};

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;
	char buf[BEACON_MAX + 1];
	for (;;) {
		ssize_t len = recv(fd, buf, BEACON_MAX, MSG_DONTWAIT);
		if (len < 0)
			return;
		buf[len] = '\0';
		if (len > 0 && memchr(buf, '\0', (size_t)len) == NULL)
			n->cb(buf, n->ctx);
	}
}

struct notify *notify_create(struct event_base *base, const char *dir, notify_cb *cb,
			     void *ctx, const char **error_r)
{
	static char err[512];
	mkdir(dir, 0770);
	struct notify *n = xcalloc(1, sizeof(*n));
	static unsigned seq; /* several listeners in one process (tests) */
	n->fd = -1;
	n->dir = xstrdup(dir);
	n->path = seq++ == 0 ? xasprintf("%s/%d.sock", dir, (int)getpid())
		: xasprintf("%s/%d-%u.sock", dir, (int)getpid(), seq);
	n->cb = cb;
	n->ctx = ctx;
	if (cb == NULL) {	/* publisher only: an unbound socket sends */
		n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (n->fd < 0) {
			snprintf(err, sizeof(err), "notify socket: %s", strerror(errno));
			goto fail;
		}
		n->base = base;
		return n;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(n->path) >= sizeof(sun.sun_path)) {
		snprintf(err, sizeof(err), "notify socket path too long: %s", n->path);
		goto fail;
	}
	strcpy(sun.sun_path, n->path);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(n->path); /* a previous process with our pid */
	if (n->fd < 0 || bind(n->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, sizeof(err), "notify socket %s: %s", n->path, strerror(errno));
		goto fail;
	}
	int size = 1 << 20; /* room for bursts of beacons */
	setsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	n->base = base;
	n->ev = event_new(base, n->fd, EV_READ | EV_PERSIST, read_cb, n);
	event_add(n->ev, NULL);
	return n;
fail:
	*error_r = err;
	notify_free(&n);
	return NULL;
}

/* Host name and folder, hashed (FNV-1a 64). */
static void origin_make(const char *dir, char out[ORIGIN_LEN + 1])
{
	char host[256] = "", real[4096];
	gethostname(host, sizeof(host) - 1);
	const char *folder = realpath(dir, real) != NULL ? real : dir;
	uint64_t h = 1469598103934665603ULL;
	for (const char *parts[] = { host, "\n", folder }, **p = parts; p < parts + 3; p++)
		for (const unsigned char *c = (const unsigned char *)*p; *c != '\0'; c++)
			h = (h ^ *c) * 1099511628211ULL;
	snprintf(out, ORIGIN_LEN + 1, "%016llx", (unsigned long long)h);
}

static void redis_message(const char *channel, const char *message, size_t len, void *ctx)
{
	struct notify *n = ctx;
	if (len <= ORIGIN_LEN + 1 || len > ORIGIN_LEN + 1 + BEACON_MAX ||
	    message[ORIGIN_LEN] != '\t' || memchr(message, '\0', len) != NULL)
		return;
	if (memcmp(message, n->origin, ORIGIN_LEN) == 0)
		return;	/* this folder's listeners had the datagram */
	char user[BEACON_MAX + 1];
	memcpy(user, message + ORIGIN_LEN + 1, len - ORIGIN_LEN - 1);
	user[len - ORIGIN_LEN - 1] = '\0';
	n->cb(user, n->ctx);
}

/* Without the subscription, changes made on other instances go unheard:
 * wake every session once a second until it is back. */
static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;
	if (!redis_subscribed(n->redis))
		n->cb(NOTIFY_ALL, n->ctx);
}

int notify_redis(struct notify *n, const struct redis_settings *set, const char *prefix,
		 const char **error_r)
{
	n->redis = redis_create(n->base, set, error_r);
	if (n->redis == NULL)
		return -1;
	n->channel = xasprintf("%snotify", prefix == NULL ? "" : prefix);
	origin_make(n->dir, n->origin);
	if (n->cb != NULL) {
		redis_subscribe(n->redis, n->channel, redis_message, n);
		n->poll_ev = event_new(n->base, -1, EV_PERSIST, poll_cb, n);
		struct timeval tv = { POLL_INTERVAL_MSECS / 1000, (POLL_INTERVAL_MSECS % 1000) * 1000 };
		event_add(n->poll_ev, &tv);
	}
	return 0;
}

struct notify *notify_open(struct event_base *base, const struct config *config, notify_cb *cb,
			   void *ctx, const char **error_r)
{
	char *dir = xasprintf("%s/notify", config->data_dir);
	struct notify *n = notify_create(base, dir, cb, ctx, error_r);
	free(dir);
	struct redis_settings rs;
	if (n != NULL && redis_settings_from_config(&rs, config) &&
	    notify_redis(n, &rs, config->redis.prefix, error_r) < 0)
		notify_free(&n);
	return n;
}

void notify_publish(struct notify *n, const char *user_id)
{
	if (n->redis != NULL) {
		char msg[ORIGIN_LEN + 1 + BEACON_MAX + 1];
		int len = snprintf(msg, sizeof(msg), "%s\t%s", n->origin, user_id);
		/* Redis down: the beacon stays on this host, nothing else breaks */
		if (len > 0 && (size_t)len < sizeof(msg))
			(void)redis_command(n->redis, NULL, NULL, "PUBLISH %s %b", n->channel,
					    msg, (size_t)len);
	}
	DIR *d = opendir(n->dir);
	if (d == NULL) {
		log_warn("event=notify_failed dir=%s error=\"%s\"", n->dir, strerror(errno));
		return;
	}
	size_t len = strlen(user_id);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 6 || strcmp(de->d_name + nl - 5, ".sock") != 0)
			continue;
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", n->dir, de->d_name) >=
		    (int)sizeof(sun.sun_path))
			continue;
		if (sendto(n->fd, user_id, len, MSG_DONTWAIT, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
		    errno == ECONNREFUSED)
			unlink(sun.sun_path); /* nobody lives there any more */
	}
	closedir(d);
}

void notify_free(struct notify **np)
{
	struct notify *n = *np;
	if (n == NULL)
		return;
	if (n->poll_ev != NULL)
		event_free(n->poll_ev);
	redis_free(&n->redis);
	free(n->channel);
	if (n->ev != NULL)
		event_free(n->ev);
	if (n->fd >= 0) {
		close(n->fd);
		if (n->cb != NULL)
			unlink(n->path);
	}
	free(n->dir);
	free(n->path);
	free(n);
	*np = NULL;
}
