/* The master's Prometheus endpoint: a tiny HTTP/1.0 responder on the
 * metrics.listen listener (bound by listeners.c as the pseudo-service
 * "metrics"), answered from the master's event loop. GET /metrics gives
 * the exposition text of the shared counters (lib/metrics.h); anything
 * else a 404 or 405. Not a web server: one request per connection, a
 * few clients at once, no keep-alive, no TLS (bind it to a private
 * address or put a proxy in front). */
#include "master.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define METRICS_HTTP_MAX_CLIENTS 16
#define METRICS_HTTP_MAX_REQUEST 8192
#define METRICS_HTTP_TIMEOUT 5

static struct evconnlistener *lev;
static int lev_fd = -1;
static int clients;

static void client_free(struct bufferevent *bev)
{
	bufferevent_free(bev);
	clients--;
}

static void respond(struct bufferevent *bev, const char *status, const char *type,
		    const struct buffer *body)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	evbuffer_add_printf(out, "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "Connection: close\r\n\r\n", status, type, body->len);
	evbuffer_add(out, body->data, body->len);
	/* no more input; closed once the output is flushed (write_cb) */
	bufferevent_disable(bev, EV_READ);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(in) > METRICS_HTTP_MAX_REQUEST)
			client_free(bev);
		return;
	}
	char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
	char method[16] = "", path[256] = "";
	if (line == NULL || sscanf(line, "%15s %255s", method, path) != 2) {
		free(line);
		client_free(bev);
		return;
	}
	free(line);
	struct buffer body = BUFFER_INIT;
	if (strcmp(method, "GET") != 0) {
		buffer_printf(&body, "only GET\n");
		respond(bev, "405 Method Not Allowed", "text/plain; charset=utf-8", &body);
	} else if (strcmp(path, "/metrics") != 0 || metrics_area() == NULL) {
		buffer_printf(&body, "not found\n");
		respond(bev, "404 Not Found", "text/plain; charset=utf-8", &body);
	} else {
		uint64_t current[METRICS_SVC_COUNT];
		supervisor_connections(current);
		metrics_write(&body, metrics_area(), current);
		respond(bev, "200 OK", "text/plain; version=0.0.4; charset=utf-8", &body);
	}
	buffer_free(&body);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		client_free(bev);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	client_free(bev);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	if (clients >= METRICS_HTTP_MAX_CLIENTS) {
		log_warn("event=metrics_busy clients=%d action=refused", clients);
		close(fd);
		return;
	}
	struct bufferevent *bev = bufferevent_socket_new(master.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	clients++;
	struct timeval tv = { METRICS_HTTP_TIMEOUT, 0 };
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	log_error("event=accept_failed service=metrics error=\"%s\"",
		  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

void metrics_http_update(void)
{
	int fd = -1;
	for (struct master_listener *l = master.listeners; l != NULL; l = l->next)
		if (strcmp(l->service, "metrics") == 0)
			fd = l->fd;
	if (fd == lev_fd)
		return;
	metrics_http_close();
	if (fd < 0)
		return;
	/* libevent accepts until EAGAIN; no worker shares this socket */
	evutil_make_socket_nonblocking(fd);
	/* the fd belongs to listeners.c: no LEV_OPT_CLOSE_ON_FREE */
	lev = evconnlistener_new(master.base, accept_cb, NULL, LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (lev == NULL) {
		log_error("event=metrics_unavailable error=\"evconnlistener_new failed\"");
		return;
	}
	evconnlistener_set_error_cb(lev, accept_error_cb);
	lev_fd = fd;
}

void metrics_http_close(void)
{
	if (lev != NULL)
		evconnlistener_free(lev);
	lev = NULL;
	lev_fd = -1;
}
