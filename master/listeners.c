/* Listening sockets: the master binds them (workers never need privileges)
 * and keeps them open across reloads so no connection attempt is refused. */
#include "master.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char listen_error[512];

static int fail(const char *address, const char *what)
{
	snprintf(listen_error, sizeof(listen_error), "listen %s: %s: %s", address, what,
		 strerror(errno));
	return -1;
}

/* Unix sockets belong to the service user and group (workers and, for
 * LMTP, the MTA's group) with the configured mode. */
static int bind_unix(const struct config *config, const struct config_listener *cl, int *fd_r)
{
	const char *address = cl->address;
	const char *path = address + 5;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return fail(address, "path");
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(address, "socket");
	unlink(path); /* a stale socket of a previous run; the pid file lock says we are alone */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, (mode_t)cl->mode) < 0 ||
	    listen(fd, 511) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return fail(address, "bind");
	}
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam(config->user);
		struct group *gr = getgrnam(config->group);
		if (pw == NULL || gr == NULL || chown(path, pw->pw_uid, gr->gr_gid) < 0) {
			close(fd);
			return fail(address, "chown to user and group");
		}
	}
	*fd_r = fd;
	return 0;
}

static int bind_tcp(const char *address, int *fd_r, char **bound_r)
{
	char host[256];
	const char *colon = strrchr(address, ':');
	size_t hlen = (size_t)(colon - address);
	if (address[0] == '[') { /* [v6]:port */
		address++;
		hlen -= 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)hlen, address);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai;
	int rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, colon + 1, &hints, &ai);
	if (rc != 0) {
		snprintf(listen_error, sizeof(listen_error), "listen %s: %s", address, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0) {
		freeaddrinfo(ai);
		return fail(address, "socket");
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 511) < 0) {
		int e = errno;
		close(fd);
		freeaddrinfo(ai);
		errno = e;
		return fail(address, "bind");
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char h[NI_MAXHOST], p[NI_MAXSERV];
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
			NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		*bound_r = strchr(h, ':') != NULL ? xasprintf("[%s]:%s", h, p) : xasprintf("%s:%s", h, p);
	else
		*bound_r = xstrdup(address);
	*fd_r = fd;
	return 0;
}

/* A listener is known by service, address and TLS mode, so that
 * "127.0.0.1:0" plain and "127.0.0.1:0" TLS are two listeners. */
static bool same_listener(const struct master_listener *l, const char *service,
			  const struct config_listener *cl)
{
	return strcmp(l->service, service) == 0 && strcmp(l->address, cl->address) == 0 &&
	       l->tls == cl->tls;
}

static struct master_listener *take(struct master_listener **list, const char *service,
				    const struct config_listener *cl)
{
	for (struct master_listener **lp = list; *lp != NULL; lp = &(*lp)->next) {
		struct master_listener *l = *lp;
		if (same_listener(l, service, cl)) {
			*lp = l->next;
			l->next = NULL;
			return l;
		}
	}
	return NULL;
}

static int listener_open(const struct config *config, const char *service,
			 const struct config_listener *cl, struct master_listener **l_r)
{
	struct master_listener *l = xcalloc(1, sizeof(*l));
	int ret = strncmp(cl->address, "unix:", 5) == 0 ? bind_unix(config, cl, &l->fd)
		: bind_tcp(cl->address, &l->fd, &l->bound);
	if (ret < 0) {
		free(l);
		return -1;
	}
	l->service = xstrdup(service);
	l->address = xstrdup(cl->address);
	if (l->bound == NULL)
		l->bound = xstrdup(cl->address);
	l->tls = cl->tls;
	l->proxy = cl->proxy;
	log_info("event=listen service=%s address=%s tls=%s", service, l->bound, cl->tls ? "yes" : "no");
	*l_r = l;
	return 0;
}

void listeners_close(struct master_listener **list)
{
	while (*list != NULL) {
		struct master_listener *l = *list;
		*list = l->next;
		if (strncmp(l->address, "unix:", 5) == 0)
			unlink(l->address + 5);
		close(l->fd);
		free(l->service);
		free(l->address);
		free(l->bound);
		free(l);
	}
}

/* metrics.listen: a pseudo-service "metrics" no worker gets; the master
 * serves it itself (metrics_http.c), and wdctl status lists it. */
static bool metrics_listener(const struct config *config, struct config_listener *cl_r)
{
	if (config->metrics.listen == NULL || config->metrics.listen[0] == '\0')
		return false;
	*cl_r = (struct config_listener){ .address = config->metrics.listen, .mode = 0600 };
	return true;
}

static int open_new(const struct config *config, const char *svc, const struct config_listener *cl,
		    struct master_listener **opened)
{
	for (struct master_listener *l = master.listeners; l != NULL; l = l->next)
		if (same_listener(l, svc, cl))
			return 0;
	struct master_listener *l;
	if (listener_open(config, svc, cl, &l) < 0)
		return -1;
	l->next = *opened;
	*opened = l;
	return 0;
}

static void move_one(const char *svc, const struct config_listener *cl,
		     struct master_listener **opened, struct master_listener ***tail)
{
	struct master_listener *l = take(&master.listeners, svc, cl);
	if (l == NULL)
		l = take(opened, svc, cl);
	if (l == NULL)
		return; /* the same listener twice in one service */
	l->proxy = cl->proxy;
	**tail = l;
	*tail = &l->next;
}

/* Phase one binds every new address (all or nothing), phase two moves
 * kept and new listeners into the new list; what is left over is stale. */
int listeners_update(const struct config *config, struct master_listener **stale_r,
		     const char **error_r)
{
	struct master_listener *opened = NULL, *fresh = NULL, **tail = &fresh;
	struct config_listener mcl;
	bool metrics = metrics_listener(config, &mcl);
	for (const char *const *svc = config_service_names; *svc != NULL; svc++) {
		struct config_service *s = config_service((struct config *)config, *svc);
		for (size_t i = 0; s->enabled && i < s->listen.count; i++) {
			if (open_new(config, *svc, &s->listen.items[i], &opened) < 0)
				goto fail;
		}
	}
	if (metrics && open_new(config, "metrics", &mcl, &opened) < 0)
		goto fail;
	for (const char *const *svc = config_service_names; *svc != NULL; svc++) {
		struct config_service *s = config_service((struct config *)config, *svc);
		for (size_t i = 0; s->enabled && i < s->listen.count; i++)
			move_one(*svc, &s->listen.items[i], &opened, &tail);
	}
	if (metrics)
		move_one("metrics", &mcl, &opened, &tail);
	listeners_close(&opened); /* only duplicates can be left here */
	*stale_r = master.listeners;
	master.listeners = fresh;
	return 0;
fail:
	listeners_close(&opened);
	*error_r = listen_error;
	return -1;
}
