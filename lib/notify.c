/* Local beacons: each process binds a unix datagram socket named after its
 * pid in a shared folder; publishing sends one datagram to each socket
 * there. Sockets of dead processes refuse the datagram and are removed. */
#include "notify.h"
#include "log.h"
#include "mem.h"

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

struct notify {
	int fd;
	char *dir;
	char *path;
	struct event *ev;
	notify_cb *cb;
	void *ctx;
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
	n->ev = event_new(base, n->fd, EV_READ | EV_PERSIST, read_cb, n);
	event_add(n->ev, NULL);
	return n;
fail:
	*error_r = err;
	notify_free(&n);
	return NULL;
}

void notify_publish(struct notify *n, const char *user_id)
{
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
	if (n->ev != NULL)
		event_free(n->ev);
	if (n->fd >= 0) {
		close(n->fd);
		unlink(n->path);
	}
	free(n->dir);
	free(n->path);
	free(n);
	*np = NULL;
}
