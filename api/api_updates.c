/* GET /users/:user/updates: a text/event-stream of the user's journal.
 * Each event carries its journal position as id, so a client that comes
 * back with Last-Event-ID gets what it missed; change beacons (the ones
 * that wake IMAP IDLE) trigger a read of the journal on a store thread;
 * comments keep idle streams alive through proxies. */
#include "api.h"

#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "notify.h"
#include "pool.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_LIMIT 500
/* SSE streams outlive api.idle_timeout: their heartbeats keep them busy */
#define STREAM_TIMEOUT_SECS (24 * 3600)

struct stream {
	struct stream *prev, *next;
	struct api_req *r;
	char user[STORE_ID_SIZE];
	int64_t position;
	struct buffer pending;		/* events built by the store thread */
	unsigned int fetched;
	bool running, again, gone, started, failed;
	struct event *heartbeat;
};

static struct stream *streams;

static const char *command_name(enum store_journal_command c)
{
	switch (c) {
	case STORE_JOURNAL_EXISTS: return "EXISTS";
	case STORE_JOURNAL_EXPUNGE: return "EXPUNGE";
	case STORE_JOURNAL_FLAGS: return "FLAGS";
	case STORE_JOURNAL_MAILBOX_CREATE: return "CREATE";
	case STORE_JOURNAL_MAILBOX_RENAME: return "RENAME";
	case STORE_JOURNAL_MAILBOX_DELETE: return "DELETE";
	}
	return "UNKNOWN";
}

/* Mailbox changes as WildDuck's event names: {"event": "mailboxCreated",
 * "command": "CREATE", "mailbox": id, "path": path}. */
static const char *mailbox_event_name(enum store_journal_command c)
{
	switch (c) {
	case STORE_JOURNAL_MAILBOX_CREATE: return "mailboxCreated";
	case STORE_JOURNAL_MAILBOX_RENAME: return "mailboxRenamed";
	case STORE_JOURNAL_MAILBOX_DELETE: return "mailboxDeleted";
	default: return NULL;
	}
}

static json_t *event_json(const struct store_journal_user_entry *e)
{
	const char *mailbox_event = mailbox_event_name(e->entry.command);
	if (mailbox_event != NULL)
		return json_pack("{s:s, s:s, s:s, s:s}", "event", mailbox_event, "command",
				 command_name(e->entry.command), "mailbox", e->mailbox, "path",
				 e->entry.path != NULL ? e->entry.path : "");
	json_t *flags = json_array();
	for (unsigned int i = 0; i < e->entry.flags_count; i++) {
		json_t *f = json_string(e->entry.flags[i]);
		if (f != NULL)
			json_array_append_new(flags, f);
	}
	json_t *ev = json_pack("{s:s, s:s, s:I, s:I, s:o}", "command",
			       command_name(e->entry.command), "mailbox", e->mailbox, "uid",
			       (json_int_t)e->entry.uid, "modseq", (json_int_t)e->entry.modseq,
			       "flags", flags);
	if (ev != NULL && e->entry.message != NULL)
		json_object_set_new(ev, "message", json_string(e->entry.message));
	return ev;
}

static int add_event(const struct store_journal_user_entry *e, void *context)
{
	struct stream *s = context;
	json_t *ev = event_json(e);
	char *text = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
	buffer_printf(&s->pending, "id: %lld\ndata: %s\n\n", (long long)e->position,
		      text != NULL ? text : "{}");
	free(text);
	json_decref(ev);
	s->position = e->position;
	s->fetched++;
	return 0;
}

/* store thread */
static void fetch_run(struct store *store, struct api_req *r)
{
	struct stream *s = r->ctx;
	const char *error;
	s->fetched = 0;
	if (store_journal_user_since(store, s->user, s->position, FETCH_LIMIT, add_event, s,
				     &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		return;
	}
	r->status = 200;
}

static void begin_run(struct store *store, struct api_req *r)
{
	struct stream *s = r->ctx;
	const char *error;
	struct store_mailbox *mbs;
	unsigned int count;
	struct pool *pool = pool_create(1024);
	/* a user without mailboxes does not exist */
	if (store_mailbox_list(store, s->user, pool, &mbs, &count, &error) < 0 || count == 0) {
		api_error(r, 404, "UserNotFound", "No such user");
		pool_destroy(&pool);
		return;
	}
	pool_destroy(&pool);
	uint64_t last = 0;
	const char *leid = r->last_event_id != NULL ? r->last_event_id :
		api_query(r, "lastEventId");
	if (leid != NULL && api_uint_parse(leid, 0, INT64_MAX, &last)) {
		s->position = (int64_t)last;
		fetch_run(store, r);
		return;
	}
	if (store_journal_user_last(store, s->user, &s->position, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		return;
	}
	r->status = 200;
}

static void stream_free(struct stream *s)
{
	if (s->heartbeat != NULL)
		event_free(s->heartbeat);
	buffer_free(&s->pending);
	struct api_req *r = s->r;
	r->ctx = NULL;
	/* the evhttp request is gone or ended; free only our part */
	r->req = NULL;
	json_decref(r->reply);
	r->reply = NULL;
	evhttp_clear_headers(&r->query);
	json_decref(r->body);
	buffer_free(&r->raw_reply);
	for (unsigned int i = 0; i < r->params_count; i++)
		free((char *)r->params[i]);
	free(r->raw);
	free(r->token);
	free(r->content_type);
	free(r->disposition);
	free(r->last_event_id);
	free(r);
	free(s);
}

static void unlink_stream(struct stream *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else if (streams == s)
		streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void write_pending(struct stream *s)
{
	if (s->pending.len == 0 || s->gone)
		return;
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, s->pending.data, s->pending.len);
	evhttp_send_reply_chunk(s->r->req, b);
	evbuffer_free(b);
	buffer_truncate(&s->pending, 0);
}

static void end_stream(struct stream *s)
{
	/* the token expired or the store failed: end the reply, the client
	 * reconnects with Last-Event-ID */
	unlink_stream(s);
	if (!s->gone) {
		struct evhttp_connection *evcon = evhttp_request_get_connection(s->r->req);
		if (evcon != NULL)
			evhttp_connection_set_closecb(evcon, NULL, NULL);
		evhttp_send_reply_end(s->r->req);
		s->gone = true;
	}
	if (!s->running)
		stream_free(s);
}

static void fetch(struct stream *s);

static void fetched(struct api_req *r)
{
	struct stream *s = r->ctx;
	s->running = false;
	if (s->gone) {
		stream_free(s);
		return;
	}
	if (r->status != 200) {
		end_stream(s);
		return;
	}
	write_pending(s);
	if (s->again || s->fetched == FETCH_LIMIT) {
		s->again = false;
		fetch(s);
	}
}

static void fetch(struct stream *s)
{
	if (s->gone)
		return;
	if (s->running) {
		s->again = true;
		return;
	}
	s->running = true;
	s->r->status = 0;
	api_submit_then(s->r, fetch_run, fetched);
}

static void closed(struct evhttp_connection *evcon, void *arg)
{
	struct stream *s = arg;
	unlink_stream(s);
	s->gone = true;
	/* a request detached from its failed connection is ours to free */
	if (evhttp_request_get_connection(s->r->req) == NULL)
		evhttp_send_reply_end(s->r->req);
	if (s->heartbeat != NULL) {
		event_free(s->heartbeat);
		s->heartbeat = NULL;
	}
	if (!s->running)
		stream_free(s);
}

static void heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	if (s->gone)
		return;
	struct evbuffer *b = evbuffer_new();
	evbuffer_add_printf(b, ": heartbeat\n\n");
	evhttp_send_reply_chunk(s->r->req, b);
	evbuffer_free(b);
}

static void started(struct api_req *r)
{
	struct stream *s = r->ctx;
	s->running = false;
	if (r->status != 200) {
		/* refused before the stream began: an ordinary JSON error */
		r->ctx = NULL;
		buffer_free(&s->pending);
		free(s);
		api_finish(r);
		return;
	}
	struct evhttp_request *req = r->req;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *origins = api_config()->api_settings.cors_origins;
	const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
	if (origins[0] != '\0' && origin != NULL &&
	    (strcmp(origins, "*") == 0 || strstr(origins, origin) != NULL))
		evhttp_add_header(out, "Access-Control-Allow-Origin",
				  strcmp(origins, "*") == 0 ? "*" : origin);
	evhttp_add_header(out, "Content-Type", "text/event-stream; charset=utf-8");
	evhttp_add_header(out, "Cache-Control", "no-cache");
	evhttp_add_header(out, "X-Accel-Buffering", "no");
	metrics_api_request(200);
	evhttp_send_reply_start(req, 200, "OK");
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (evcon != NULL) {
		evhttp_connection_set_timeout(evcon, STREAM_TIMEOUT_SECS);
		evhttp_connection_set_closecb(evcon, closed, s);
	}
	struct evbuffer *b = evbuffer_new();
	evbuffer_add_printf(b, "retry: 3000\n\n");
	evhttp_send_reply_chunk(req, b);
	evbuffer_free(b);
	s->started = true;
	s->next = streams;
	if (streams != NULL)
		streams->prev = s;
	streams = s;
	int ms = api_config()->api_settings.heartbeat;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	s->heartbeat = event_new(evhttp_connection_get_base(evcon), -1, EV_PERSIST, heartbeat, s);
	event_add(s->heartbeat, &tv);
	write_pending(s);
	if (s->fetched == FETCH_LIMIT)
		fetch(s);
	log_debug("event=api_stream_start user=%s position=%lld", s->user,
		  (long long)s->position);
}

void api_updates(struct api_req *r)
{
	struct stream *s = xcalloc(1, sizeof(*s));
	s->r = r;
	snprintf(s->user, sizeof(s->user), "%s", api_param(r, "user"));
	s->running = true;
	r->ctx = s;
	api_submit_then(r, begin_run, started);
}

void api_updates_notify(const char *user_id)
{
	for (struct stream *s = streams; s != NULL; s = s->next)
		if (strcmp(user_id, NOTIFY_ALL) == 0 || strcmp(s->user, user_id) == 0)
			fetch(s);
}

void api_updates_stop(void)
{
	while (streams != NULL) {
		struct stream *s = streams;
		unlink_stream(s);
		struct evhttp_connection *evcon = evhttp_request_get_connection(s->r->req);
		if (evcon != NULL)
			evhttp_connection_set_closecb(evcon, NULL, NULL);
		s->gone = true;
		/* evhttp_free() frees the request with its connection */
		stream_free(s);
	}
}
