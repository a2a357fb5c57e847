/* The HTTP side of wd-api: evhttp on the inherited listeners (plain and
 * TLS), CORS, routing, token and permission checks, JSON replies, and the
 * store threads the routes run on. */
#include "api.h"

#include "auth_client.h"
#include "daemon.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "notify.h"
#include "tls.h"
#include "webhook.h"
#include "workpool.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTENERS 16

const struct api_route *const api_route_tables[] = {
	api_routes_users, api_routes_mailboxes, api_routes_messages, api_routes_account,
	api_routes_extra, api_routes_webhooks, api_routes_keys, api_routes_settings,
	api_routes_audit, api_routes_addresses, NULL,
};

static struct {
	const struct config *config;
	struct event_base *base;
	struct evhttp *plain, *tls;
	struct tls_server *tls_server;
	struct workpool *pool;
	struct auth_client *auth;
	struct notify *notify;
	struct webhook_sender *webhooks;
	struct store_settings store_set;
	bool stopping;
} g;

const struct config *api_config(void) { return g.config; }
struct auth_client *api_auth_client(void) { return g.auth; }
struct webhook_sender *api_webhook_sender(void) { return g.webhooks; }

/* ---- replies ---- */

static json_t *object_or_new(json_t *fields)
{
	return fields != NULL ? fields : json_object();
}

void api_ok(struct api_req *r, json_t *fields)
{
	json_t *obj = json_object();
	json_object_set_new(obj, "success", json_true());
	json_t *f = object_or_new(fields);
	json_object_update(obj, f);
	json_decref(f);
	json_decref(r->reply);
	r->reply = obj;
	r->status = 200;
}

void api_error(struct api_req *r, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	json_decref(r->reply);
	json_t *m = json_string(msg);
	r->reply = json_pack("{s:o, s:s}", "error", m != NULL ? m : json_string("error"), "code",
			     code);
	r->status = status;
	free(msg);
}

void api_store_error(struct api_req *r, struct store *store, const char *error,
		     const char *not_found_code)
{
	switch (store_last_error(store)) {
	case STORE_ERR_NOT_FOUND:
		api_error(r, 404, not_found_code, "%s", error);
		break;
	case STORE_ERR_EXISTS:
		api_error(r, 409, "AlreadyExists", "%s", error);
		break;
	case STORE_ERR_OVER_QUOTA:
		api_error(r, 413, "OverQuota", "Quota exceeded");
		break;
	case STORE_ERR_INVALID:
		api_error(r, 400, "InputValidationError", "%s", error);
		break;
	case STORE_ERR_TEMPORARY:
		api_error(r, 503, "StoreUnavailable", "Store temporarily unavailable");
		break;
	default:
		log_error("event=api_store_error path=%s error=\"%s\"", r->route->path, error);
		api_error(r, 500, "InternalError", "Internal error");
	}
}

void api_changed(struct api_req *r, const char *user_id)
{
	snprintf(r->notify_user, sizeof(r->notify_user), "%s", user_id);
}

const char *api_param(const struct api_req *r, const char *name)
{
	for (unsigned int i = 0; i < r->params_count; i++)
		if (strcmp(r->param_names[i], name) == 0)
			return r->params[i];
	return NULL;
}

const char *api_query(const struct api_req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

int api_page_params(struct api_req *r, unsigned int *limit_r, const char **next_r,
		    const char **previous_r)
{
	const char *limit = api_query(r, "limit");
	uint64_t v = 20;
	if (limit != NULL && !api_uint_parse(limit, 1, 250, &v)) {
		api_error(r, 400, "InputValidationError", "limit must be 1..250");
		return -1;
	}
	*limit_r = (unsigned int)v;
	*next_r = api_query(r, "next");
	*previous_r = api_query(r, "previous");
	if (*next_r != NULL && *previous_r != NULL) {
		api_error(r, 400, "InputValidationError", "give next or previous, not both");
		return -1;
	}
	return 0;
}

static void add_cors(struct evhttp_request *req)
{
	const char *origins = g.config->api_settings.cors_origins;
	const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
	if (origins == NULL || origins[0] == '\0' || origin == NULL)
		return;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	bool allowed = strcmp(origins, "*") == 0;
	if (!allowed) {
		size_t olen = strlen(origin);
		for (const char *p = origins; *p != '\0';) {
			while (*p == ' ')
				p++;
			size_t n = strcspn(p, " ");
			if (n == olen && n > 0 && strncmp(p, origin, n) == 0)
				allowed = true;
			p += n;
		}
	}
	if (!allowed)
		return;
	evhttp_add_header(out, "Access-Control-Allow-Origin",
			  strcmp(origins, "*") == 0 ? "*" : origin);
	evhttp_add_header(out, "Vary", "Origin");
	evhttp_add_header(out, "Access-Control-Expose-Headers", "Content-Disposition");
}

static void req_free(struct api_req *r)
{
	evhttp_clear_headers(&r->query);
	json_decref(r->body);
	json_decref(r->reply);
	buffer_free(&r->raw_reply);
	for (unsigned int i = 0; i < r->params_count; i++)
		free((char *)r->params[i]);
	free(r->raw);
	free(r->token);
	free(r->content_type);
	free(r->disposition);
	free(r->last_event_id);
	free(r);
}

void api_finish(struct api_req *r)
{
	struct evhttp_request *req = r->req;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();
	add_cors(req);
	evhttp_add_header(out, "Cache-Control", "no-store");
	if (r->content_type != NULL) {
		evhttp_add_header(out, "Content-Type", r->content_type);
		if (r->disposition != NULL)
			evhttp_add_header(out, "Content-Disposition", r->disposition);
		evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
		evbuffer_add(body, r->raw_reply.data, r->raw_reply.len);
	} else {
		if (r->reply == NULL)
			api_error(r, 500, "InternalError", "No reply");
		char *text = json_dumps(r->reply, JSON_COMPACT);
		evhttp_add_header(out, "Content-Type", "application/json; charset=utf-8");
		if (text != NULL) {
			evbuffer_add(body, text, strlen(text));
			free(text);
		}
	}
	log_debug("event=api_request method=%d path=%s status=%d", (int)r->route->method,
		  r->route->path, r->status);
	metrics_api_request(r->status);
	evhttp_send_reply(req, r->status, NULL, body);
	evbuffer_free(body);
	if (r->notify_user[0] != '\0' && g.notify != NULL)
		notify_publish(g.notify, r->notify_user);
	req_free(r);
}

/* ---- tokens and permissions ---- */

void api_token_hash(const char *token, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void api_token_hash_pending(const char *token, char out[65])
{
	char *t = xasprintf("2fa-pending:%s", token);
	api_token_hash(t, out);
	free(t);
}

bool api_authorize(struct store *store, struct api_req *r)
{
	if (r->route->flags & API_PUBLIC)
		return true;
	if (r->token == NULL) {
		api_error(r, 401, "AuthFailed", "Access token required");
		return false;
	}
	if (!r->root) {
		char hash[65];
		const char *error;
		api_token_hash(r->token, hash);
		int ret = store_token_get(store, hash, (int64_t)time(NULL), r->user, &error);
		if (ret < 0 && store_last_error(store) == STORE_ERR_NOT_FOUND) {
			api_token_hash_pending(r->token, hash);
			ret = store_token_get(store, hash, (int64_t)time(NULL), r->user, &error);
			r->pending_2fa = ret == 0;
		}
		if (ret < 0) {
			if (store_last_error(store) == STORE_ERR_NOT_FOUND ||
			    store_last_error(store) == STORE_ERR_INVALID)
				api_error(r, 401, "InvalidToken", "Invalid or expired access token");
			else
				api_store_error(r, store, error, "InvalidToken");
			return false;
		}
	}
	if (r->pending_2fa && !(r->route->flags & API_2FA_PENDING)) {
		api_error(r, 403, "2FARequired", "Verify the second factor with this token first");
		return false;
	}
	if ((r->route->flags & API_ROOT) && !r->root) {
		api_error(r, 403, "MissingPrivileges", "This needs the root token");
		return false;
	}
	const char *user = api_param(r, "user");
	if (user != NULL) {
		if (!api_id_valid(user)) {
			api_error(r, 400, "InputValidationError", "user must be a 24-digit hex id");
			return false;
		}
		if (!r->root && strcmp(user, r->user) != 0) {
			api_error(r, 403, "MissingPrivileges", "This token may not access that user");
			return false;
		}
	}
	return true;
}

/* ---- store threads ---- */

struct store_thread {
	struct store *store;
};

static void *thread_init(void *arg) { return xcalloc(1, sizeof(struct store_thread)); }

static void thread_deinit(void *ctx)
{
	struct store_thread *t = ctx;
	store_close(&t->store);
	free(t);
}

struct job {
	struct api_req *r;
	api_run_fn *fn;
	void (*then)(struct api_req *r);
};

static void job_run(void *thread_ctx, void *arg)
{
	struct store_thread *t = thread_ctx;
	struct job *j = arg;
	const char *error;
	if (t->store == NULL && store_open(&g.store_set, &t->store, &error) < 0) {
		log_error("event=store_open_failed error=\"%s\"", error);
		api_error(j->r, 503, "StoreUnavailable", "Store unavailable");
		return;
	}
	if (api_authorize(t->store, j->r))
		j->fn(t->store, j->r);
}

static void job_done(void *arg)
{
	struct job *j = arg;
	struct api_req *r = j->r;
	void (*then)(struct api_req *r) = j->then;
	free(j);
	then(r);
}

void api_submit_then(struct api_req *r, api_run_fn *fn, void (*then)(struct api_req *r))
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	j->fn = fn;
	j->then = then;
	workpool_submit(g.pool, job_run, job_done, j);
}

void api_submit(struct api_req *r, api_run_fn *fn)
{
	api_submit_then(r, fn, api_finish);
}

/* ---- routing ---- */

static int split_path(const char *path, char **segs, unsigned int *count_r)
{
	unsigned int n = 0;
	const char *p = path;
	if (*p != '/')
		return -1;
	while (*p == '/') {
		p++;
		if (*p == '\0')
			break;	/* a trailing slash is ignored */
		size_t len = strcspn(p, "/");
		if (n == API_MAX_SEGMENTS || len == 0)
			goto fail;
		segs[n] = api_url_decode(p, len);
		if (segs[n] == NULL)
			goto fail;
		n++;
		p += len;
	}
	*count_r = n;
	return 0;
fail:
	for (unsigned int i = 0; i < n; i++)
		free(segs[i]);
	return -1;
}

/* Matches segments against a route path; fills params on success. */
static bool route_match(const char *pattern, char **segs, unsigned int count,
			struct api_req *r)
{
	unsigned int i = 0, np = 0;
	const char *p = pattern;
	const char *names[API_MAX_PARAMS];
	unsigned int idx[API_MAX_PARAMS];
	while (*p == '/') {
		p++;
		size_t len = strcspn(p, "/");
		if (i >= count)
			return false;
		if (p[0] == ':') {
			if (np == API_MAX_PARAMS)
				return false;
			names[np] = p + 1;
			idx[np++] = i;
		} else if (strlen(segs[i]) != len || strncmp(segs[i], p, len) != 0) {
			return false;
		}
		i++;
		p += len;
	}
	if (i != count)
		return false;
	if (r != NULL) {
		for (unsigned int k = 0; k < np; k++) {
			size_t len = strcspn(names[k], "/");
			snprintf(r->param_names[k], sizeof(r->param_names[k]), "%.*s", (int)len,
				 names[k]);
			r->params[k] = segs[idx[k]];
			segs[idx[k]] = NULL;
		}
		r->params_count = np;
	}
	return true;
}

static const struct api_route *route_find(enum evhttp_cmd_type method, char **segs,
					  unsigned int count, bool *path_known_r)
{
	*path_known_r = false;
	for (const struct api_route *const *t = api_route_tables; *t != NULL; t++) {
		for (const struct api_route *rt = *t; rt->path != NULL; rt++) {
			if (!route_match(rt->path, segs, count, NULL))
				continue;
			*path_known_r = true;
			if (rt->method == method)
				return rt;
		}
	}
	return NULL;
}

static bool token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb || la == 0)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}

static void reply_now(struct evhttp_request *req, struct api_req *r)
{
	(void)req;
	api_finish(r);
}

static const struct api_route error_route = { EVHTTP_REQ_GET, "-", NULL, NULL, 0, NULL,
					      NULL };

static void preflight(struct evhttp_request *req)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	add_cors(req);
	if (evhttp_find_header(out, "Access-Control-Allow-Origin") != NULL) {
		evhttp_add_header(out, "Access-Control-Allow-Methods",
				  "GET, POST, PUT, DELETE, OPTIONS");
		evhttp_add_header(out, "Access-Control-Allow-Headers",
				  "Content-Type, X-Access-Token, Last-Event-ID");
		evhttp_add_header(out, "Access-Control-Max-Age", "600");
	}
	metrics_api_request(204);
	evhttp_send_reply(req, 204, "No Content", NULL);
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct api_req *r = xcalloc(1, sizeof(*r));
	r->req = req;
	r->route = &error_route;
	TAILQ_INIT(&r->query);
	if (api_conn_body_too_large(req)) {
		/* cut short under evhttp (api_conn.c); the rest is not read */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		api_error(r, 413, "PayloadTooLarge", "The body is larger than %lld bytes",
			  g.config->api_settings.max_body_size);
		reply_now(req, r);
		return;
	}
	if (g.stopping) {
		api_error(r, 503, "ShuttingDown", "Shutting down");
		reply_now(req, r);
		return;
	}
	if (method == EVHTTP_REQ_OPTIONS) {
		req_free(r);
		preflight(req);
		return;
	}
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (evcon != NULL) {
		char *host = NULL;
		ev_uint16_t port = 0;
		evhttp_connection_get_peer(evcon, &host, &port);
		snprintf(r->remote_ip, sizeof(r->remote_ip), "%s", host != NULL ? host : "");
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	char *segs[API_MAX_SEGMENTS];
	unsigned int count = 0;
	if (path == NULL || split_path(path, segs, &count) < 0) {
		api_error(r, 400, "InputValidationError", "Malformed path");
		reply_now(req, r);
		return;
	}
	bool path_known;
	const struct api_route *route = route_find(method, segs, count, &path_known);
	if (route == NULL) {
		for (unsigned int i = 0; i < count; i++)
			free(segs[i]);
		if (path_known)
			api_error(r, 405, "MethodNotAllowed", "Method not allowed");
		else
			api_error(r, 404, "NotFound", "No such resource");
		reply_now(req, r);
		return;
	}
	r->route = route;
	route_match(route->path, segs, count, r);
	for (unsigned int i = 0; i < count; i++)
		free(segs[i]);
	if (query != NULL && evhttp_parse_query_str(query, &r->query) < 0) {
		api_error(r, 400, "InputValidationError", "Malformed query string");
		reply_now(req, r);
		return;
	}
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *token = evhttp_find_header(in, "X-Access-Token");
	if (token == NULL)
		token = api_query(r, "accessToken");
	if (token != NULL) {
		r->token = xstrdup(token);
		r->root = token_equal(token, g.config->api_settings.access_token);
	}
	/* roles that need no store lookup are checked before the body */
	if (!(route->flags & API_PUBLIC) && r->token == NULL) {
		api_error(r, 401, "AuthFailed", "Access token required");
		reply_now(req, r);
		return;
	}
	if ((route->flags & API_ROOT) && !r->root) {
		api_error(r, 403, "MissingPrivileges", "This needs the root token");
		reply_now(req, r);
		return;
	}
	const char *leid = evhttp_find_header(in, "Last-Event-ID");
	if (leid != NULL)
		r->last_event_id = xstrdup(leid);
	/* the body: evhttp reads up to api_body_cap(), so a body over the
	 * limit still gets a JSON 413 here */
	struct evbuffer *inbuf = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(inbuf);
	if ((long long)len > g.config->api_settings.max_body_size) {
		api_error(r, 413, "PayloadTooLarge", "The body is larger than %lld bytes",
			  g.config->api_settings.max_body_size);
		reply_now(req, r);
		return;
	}
	const char *ctype = evhttp_find_header(in, "Content-Type");
	bool raw = (route->flags & API_RAW_BODY) && ctype != NULL &&
		   strncasecmp(ctype, "message/rfc822", 14) == 0;
	if (raw) {
		r->raw_len = len;
		r->raw = xmalloc(len + 1);
		evbuffer_remove(inbuf, r->raw, len);
	} else if (route->body != NULL) {
		char *text = xmalloc(len + 1);
		evbuffer_remove(inbuf, text, len);
		char error[256];
		r->body = api_json_parse(text, len, route->body, error, sizeof(error));
		free(text);
		if (r->body == NULL) {
			api_error(r, 400, "InputValidationError", "%s", error);
			reply_now(req, r);
			return;
		}
	} else if (len > 0 && method != EVHTTP_REQ_GET && method != EVHTTP_REQ_DELETE) {
		api_error(r, 400, "InputValidationError", "This request takes no body");
		reply_now(req, r);
		return;
	}
	if (route->loop != NULL)
		route->loop(r);
	else
		api_submit(r, route->run);
}

/* ---- the server ---- */

static struct bufferevent *plain_bevcb(struct event_base *base, void *arg)
{
	return api_conn_new(base, NULL);
}

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
	return api_conn_new(base, g.tls_server);
}

/* libevent 2.1 answers a body over evhttp's own limit with an HTML 413
 * and offers no hook before the body is read (2.2 has
 * evhttp_set_newreqcb), so every connection's framing is followed under
 * evhttp (api_conn.c), which ends a request early at api_body_cap() and
 * has request_cb answer it in JSON; request_cb answers a body between
 * api.max_body_size and that cap itself. evhttp's own limit lies above,
 * never reached. */
static struct evhttp *http_new(struct event_base *base, const struct config *config, bool tls)
{
	struct evhttp *http = evhttp_new(base);
	evhttp_set_max_body_size(http, (ev_ssize_t)(api_body_cap(
		config->api_settings.max_body_size) + 64 * 1024));
	evhttp_set_bevcb(http, tls ? tls_bevcb : plain_bevcb, NULL);
	evhttp_set_max_headers_size(http, 64 * 1024);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD);
	int secs = config->api.idle_timeout / 1000;
	evhttp_set_timeout(http, secs > 0 ? secs : 1);
	evhttp_set_gencb(http, request_cb, NULL);
	return http;
}

static void notified(const char *user_id, void *ctx)
{
	api_updates_notify(user_id);
}

int api_server_start(struct event_base *base, const struct config *config,
		     const char **error_r)
{
	g.config = config;
	g.base = base;
	store_settings_from_config(&g.store_set, config);
	struct workpool_settings ws = {
		.threads = config->api_settings.store_threads,
		.thread_init = thread_init,
		.thread_deinit = thread_deinit,
	};
	/* before the store threads: it runs curl_global_init() */
	struct webhook_settings whs = { 0 };
	if (webhook_sender_start(&g.store_set, &whs, &g.webhooks, error_r) < 0)
		return -1;
	g.pool = workpool_create(base, &ws);
	const char *auth_path = auth_client_socket_path((struct config *)config);
	if (auth_path != NULL) {
		g.auth = auth_client_create(base, auth_path);
		auth_client_set_timeout(g.auth, (unsigned int)config->auth_settings.request_timeout);
	}
	g.notify = notify_open(base, config, notified, NULL, error_r);
	if (g.notify == NULL)
		return -1;
	g.tls_server = daemon_tls_server();
	api_conn_setup(config->api_settings.max_body_size);
	bool tls;
	int fd;
	for (int i = 0; (fd = daemon_listener_fd(i, &tls)) >= 0; i++) {
		if (tls && g.tls_server == NULL) {
			*error_r = "a TLS listener but no certificates";
			return -1;
		}
		struct evhttp **http = tls ? &g.tls : &g.plain;
		if (*http == NULL)
			*http = http_new(base, config, tls);
		/* replies leave in several writes: without TCP_NODELAY (which
		 * accepted sockets inherit on Linux) a keep-alive client's
		 * delayed ACK stalls every larger reply by 40 ms */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* evconnlistener accepts until EAGAIN: a blocking listener would
		 * hang the loop in accept() */
		if (evutil_make_socket_nonblocking(fd) < 0 ||
		    evhttp_accept_socket_with_handle(*http, fd) == NULL) {
			*error_r = "evhttp cannot accept on a listener";
			return -1;
		}
	}
	log_info("event=api_started threads=%d root_token=%s", ws.threads,
		 config->api_settings.access_token[0] != '\0' ? "yes" : "no");
	return 0;
}

void api_server_stop(void)
{
	g.stopping = true;
	workpool_destroy(&g.pool);
	webhook_sender_stop(&g.webhooks);
	api_updates_stop();
	if (g.plain != NULL)
		evhttp_free(g.plain);
	if (g.tls != NULL)
		evhttp_free(g.tls);
	g.plain = g.tls = NULL;
	auth_client_free(&g.auth);
	notify_free(&g.notify);
}

void api_print_routes(void)
{
	static const struct { enum evhttp_cmd_type m; const char *name; } names[] = {
		{ EVHTTP_REQ_GET, "GET" }, { EVHTTP_REQ_POST, "POST" }, { EVHTTP_REQ_PUT, "PUT" },
		{ EVHTTP_REQ_DELETE, "DELETE" },
	};
	for (const struct api_route *const *t = api_route_tables; *t != NULL; t++)
		for (const struct api_route *rt = *t; rt->path != NULL; rt++)
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				if (names[i].m == rt->method)
					printf("%s %s\t%s\n", names[i].name, rt->path,
					       rt->summary != NULL ? rt->summary : "");
}
