/* Client stub of the auth protocol; see auth_client.h and
 * wildduck-auth(8). Every request is written as soon as a connection
 * (or a connection attempt) exists; a broken connection fails everything
 * in flight with TEMPFAIL, and while auth is unreachable new requests
 * fail at once (after the current call returns) instead of waiting. */
#include "auth_client.h"

#include "buffer.h"
#include "config.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct auth_request {
	struct auth_request *prev, *next;
	struct auth_client *client;
	unsigned int id;
	auth_callback_t *callback;
	void *context;
	struct event *timer;
	const char *fail_reason; /* set: the timer completes it with TEMPFAIL */
};

struct auth_client {
	struct event_base *base;
	char *path;
	unsigned int timeout_ms;
	struct bufferevent *bev;
	bool connected;
	struct auth_request *requests;
	unsigned int pending, next_id;
	int64_t retry_at_ms;
	unsigned int backoff_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void request_unlink(struct auth_request *req)
{
	struct auth_client *client = req->client;
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		client->requests = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	client->pending--;
	event_free(req->timer);
}

static void request_complete(struct auth_request *req, const struct auth_result *result)
{
	auth_callback_t *callback = req->callback;
	void *context = req->context;
	request_unlink(req);
	free(req);
	callback(result, context);
}

static void request_tempfail(struct auth_request *req, const char *reason)
{
	struct auth_result result = { .status = AUTH_TEMPFAIL, .reason = reason, .flags = "" };
	request_complete(req, &result);
}

/* Drops the connection and schedules the next attempt with backoff. */
static void drop_connection(struct auth_client *client)
{
	if (client->bev != NULL) {
		bufferevent_free(client->bev);
		client->bev = NULL;
	}
	client->connected = false;
	client->backoff_ms = client->backoff_ms == 0 ? BACKOFF_MIN_MS :
		client->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : client->backoff_ms * 2;
	client->retry_at_ms = now_ms() + client->backoff_ms;
}

/* Called from the loop only: everything in flight is lost with the
 * connection. */
static void disconnect(struct auth_client *client, const char *why)
{
	drop_connection(client);
	if (client->pending > 0)
		log_warn("event=auth_disconnected path=%s reason=%s pending=%u", client->path, why,
			 client->pending);
	while (client->requests != NULL)
		request_tempfail(client->requests, "unavailable");
}

static void handle_reply(struct auth_client *client, char *line)
{
	char *f[IPC_MAX_FIELDS];
	const char *error;
	int n = ipc_line_split(line, f, IPC_MAX_FIELDS, &error);
	if (n < 3)
		return;
	char *end;
	unsigned long id = strtoul(f[1], &end, 10);
	if (*end != '\0')
		return;
	struct auth_request *req = client->requests;
	while (req != NULL && req->id != id)
		req = req->next;
	if (req == NULL)
		return; /* cancelled or timed out */
	struct auth_result r = { .flags = "" };
	if (strcmp(f[0], "OK") == 0 && n >= 4) {
		r.status = AUTH_OK;
		r.user_id = f[2];
		r.username = f[3];
		r.flags = n >= 5 ? f[4] : "";
	} else if (strcmp(f[0], "FAIL") == 0) {
		r.status = AUTH_FAIL;
		r.reason = f[2];
		r.retry_after = n >= 4 ? (unsigned int)strtoul(f[3], NULL, 10) : 0;
	} else {
		r.status = AUTH_TEMPFAIL;
		r.reason = f[2];
	}
	request_complete(req, &r);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct auth_client *client = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;
	client->backoff_ms = 0; /* it answers: the next break starts a fresh backoff */
	while (client->bev == bev && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		handle_reply(client, line);
		free(line);
	}
	if (client->bev == bev && evbuffer_get_length(in) > IPC_MAX_LINE)
		disconnect(client, "line_too_long");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct auth_client *client = arg;
	if ((what & BEV_EVENT_CONNECTED) != 0) {
		client->connected = true;
		return;
	}
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) != 0)
		disconnect(client, (what & BEV_EVENT_EOF) != 0 ? "eof" : "error");
}

static int client_connect(struct auth_client *client)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(client->path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, client->path);
	client->bev = bufferevent_socket_new(client->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(client->bev, read_cb, NULL, event_cb, client);
	bufferevent_enable(client->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(client->bev, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		log_debug("event=auth_connect_failed path=%s error=%m", client->path);
		drop_connection(client);
		return -1;
	}
	return 0;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_request *req = arg;
	if (req->fail_reason == NULL)
		log_warn("event=auth_timeout path=%s id=%u", req->client->path, req->id);
	request_tempfail(req, req->fail_reason != NULL ? req->fail_reason : "timeout");
}

struct auth_client *auth_client_create(struct event_base *base, const char *socket_path)
{
	struct auth_client *client = xcalloc(1, sizeof(*client));
	client->base = base;
	client->path = xstrdup(socket_path);
	client->timeout_ms = AUTH_CLIENT_DEFAULT_TIMEOUT_MS;
	return client;
}

void auth_client_set_timeout(struct auth_client *client, unsigned int msecs)
{
	client->timeout_ms = msecs == 0 ? AUTH_CLIENT_DEFAULT_TIMEOUT_MS : msecs;
}

void auth_client_free(struct auth_client **clientp)
{
	struct auth_client *client = *clientp;
	if (client == NULL)
		return;
	while (client->requests != NULL)
		request_tempfail(client->requests, "shutdown");
	if (client->bev != NULL)
		bufferevent_free(client->bev);
	free(client->path);
	free(client);
	*clientp = NULL;
}

struct auth_request *auth_client_lookup(struct auth_client *client,
					const struct auth_query *q,
					auth_callback_t *callback, void *context)
{
	struct auth_request *req = xcalloc(1, sizeof(*req));
	req->client = client;
	req->id = ++client->next_id;
	req->callback = callback;
	req->context = context;
	req->timer = evtimer_new(client->base, timer_cb, req);
	req->next = client->requests;
	if (client->requests != NULL)
		client->requests->prev = req;
	client->requests = req;
	client->pending++;

	if (client->bev == NULL && (now_ms() < client->retry_at_ms || client_connect(client) < 0)) {
		/* unreachable: fail soon, from the loop */
		struct timeval zero = { 0, 0 };
		req->fail_reason = "unavailable";
		evtimer_add(req->timer, &zero);
		return req;
	}
	char id[16];
	snprintf(id, sizeof(id), "%u", req->id);
	const char *fields[7] = { "AUTH", id, q->service, q->username, q->secret,
				  q->remote_ip != NULL ? q->remote_ip : "", q->scope };
	struct buffer line = BUFFER_INIT;
	ipc_line_append(&line, fields, q->scope != NULL ? 7 : 6);
	bufferevent_write(client->bev, line.data, line.len);
	explicit_bzero(line.data, line.len);
	buffer_free(&line);
	struct timeval tv = { client->timeout_ms / 1000, (client->timeout_ms % 1000) * 1000 };
	evtimer_add(req->timer, &tv);
	return req;
}

void auth_request_cancel(struct auth_request **reqp)
{
	struct auth_request *req = *reqp;
	if (req == NULL)
		return;
	request_unlink(req);
	free(req);
	*reqp = NULL;
}

unsigned int auth_client_pending(const struct auth_client *client)
{
	return client->pending;
}

const char *auth_client_socket_path(struct config *config)
{
	struct config_service *svc = config_service(config, "auth");
	for (size_t i = 0; svc != NULL && i < svc->listen.count; i++)
		if (strncmp(svc->listen.items[i].address, "unix:", 5) == 0)
			return svc->listen.items[i].address + 5;
	return NULL;
}
