/* The control socket that wdctl talks to (mode 0600: root or the owner).
 * Requests and replies use the IPC framing; every request is
 * "COMMAND<TAB>id" and its reply ends with "OK<TAB>id[<TAB>...]" or
 * "FAIL<TAB>id<TAB>reason":
 *   STATUS  MASTER, SERVICE, WORKER and LISTEN lines of key=value fields
 *   RELOAD  answered once the new generation runs (or with the error)
 *   STOP    answered at once, then the suite stops gracefully */
#include "master.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct control_client {
	struct control_client *next;
	struct bufferevent *bev;
	char *pending_id; /* a RELOAD waiting for its answer */
};

static struct evconnlistener *control_listener;
static struct control_client *clients;
static char *control_path;

static void client_free(struct control_client *c)
{
	for (struct control_client **cp = &clients; *cp != NULL; cp = &(*cp)->next) {
		if (*cp == c) {
			*cp = c->next;
			break;
		}
	}
	if (master.reload_waiter == c)
		master.reload_waiter = NULL;
	bufferevent_free(c->bev);
	free(c->pending_id);
	free(c);
}

static void send_buffer(struct control_client *c, struct buffer *out)
{
	bufferevent_write(c->bev, out->data, out->len);
	buffer_free(out);
}

static void client_read(struct bufferevent *bev, void *arg);

static void cmd_status(struct control_client *c, const char *id)
{
	struct buffer out = BUFFER_INIT;
	char f[4][4200];
	snprintf(f[0], sizeof(f[0]), "pid=%d", (int)getpid());
	snprintf(f[1], sizeof(f[1]), "generation=%u", master.generation);
	snprintf(f[2], sizeof(f[2]), "uptime=%ld", (long)(time(NULL) - master.started));
	snprintf(f[3], sizeof(f[3]), "config=%s", master.config->path);
	ipc_line_appendv(&out, "MASTER", id, f[0], f[1], f[2], f[3], NULL);
	supervisor_describe(&out, id);
	ipc_line_appendv(&out, "OK", id, NULL);
	send_buffer(c, &out);
}

static void cmd_reload(struct control_client *c, const char *id)
{
	const char *error;
	if (master.reload_waiter != NULL) {
		struct buffer out = BUFFER_INIT;
		ipc_line_appendv(&out, "FAIL", id, "another reload is in progress", NULL);
		send_buffer(c, &out);
		return;
	}
	if (master_reload(&error) < 0) {
		struct buffer out = BUFFER_INIT;
		ipc_line_appendv(&out, "FAIL", id, error, NULL);
		send_buffer(c, &out);
		return;
	}
	c->pending_id = xstrdup(id);
	master.reload_waiter = c;
}

void control_reply_reload(struct control_client *c, const char *error)
{
	struct buffer out = BUFFER_INIT;
	char gen[32];
	snprintf(gen, sizeof(gen), "generation=%u", master.generation);
	if (error == NULL)
		ipc_line_appendv(&out, "OK", c->pending_id, gen, NULL);
	else
		ipc_line_appendv(&out, "FAIL", c->pending_id, error, NULL);
	send_buffer(c, &out);
	XFREE(c->pending_id);
	master.reload_waiter = NULL;
	client_read(c->bev, c); /* requests that queued up behind the reload */
}

static void client_line(struct control_client *c, char *line)
{
	char *fields[IPC_MAX_FIELDS];
	const char *error;
	int n = ipc_line_split(line, fields, IPC_MAX_FIELDS, &error);
	const char *id = n >= 2 ? fields[1] : "0";
	struct buffer out = BUFFER_INIT;
	if (n < 2) {
		ipc_line_appendv(&out, "FAIL", id, n < 0 ? error : "expected COMMAND<TAB>ID", NULL);
	} else if (strcmp(fields[0], "STATUS") == 0) {
		cmd_status(c, id);
	} else if (strcmp(fields[0], "RELOAD") == 0) {
		log_info("event=reload_requested by=control");
		cmd_reload(c, id);
	} else if (strcmp(fields[0], "STOP") == 0) {
		ipc_line_appendv(&out, "OK", id, NULL);
		bufferevent_write(c->bev, out.data, out.len);
		buffer_free(&out);
		master_stop("control");
		return;
	} else {
		ipc_line_appendv(&out, "FAIL", id, "unknown command", NULL);
	}
	if (out.len > 0)
		send_buffer(c, &out);
	buffer_free(&out);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct control_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;
	while (c->pending_id == NULL && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		client_line(c, line);
		free(line);
	}
	if (evbuffer_get_length(in) > IPC_MAX_LINE)
		client_free(c);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct control_client *c = xcalloc(1, sizeof(*c));
	c->bev = bufferevent_socket_new(master.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = clients;
	clients = c;
}

int control_open(const char *path, const char **error_r)
{
	static char err[512];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*error_r = "control_socket: path too long";
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(path); /* stale from a crashed master: the pid file lock says we are alone */
	mode_t old = umask(077);
	int ret = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret == 0)
		ret = chmod(path, 0600);
	if (ret < 0) {
		snprintf(err, sizeof(err), "control socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		*error_r = err;
		return -1;
	}
	control_listener = evconnlistener_new(master.base, accept_cb, NULL,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	control_path = xstrdup(path);
	return 0;
}

void control_close(void)
{
	while (clients != NULL)
		client_free(clients);
	if (control_listener != NULL)
		evconnlistener_free(control_listener);
	control_listener = NULL;
	if (control_path != NULL)
		unlink(control_path);
	XFREE(control_path);
}
