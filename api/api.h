/* wd-api internals: one request's state, the route table, and the helpers
 * route code uses. A request is parsed and validated on the loop thread
 * (path, query, token, JSON body), then its route runs as one job on a
 * store thread (token lookup, permission check, store calls, building the
 * JSON reply), and the reply goes out from the loop again. */
#ifndef WD_API_H
#define WD_API_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>

#include "api_json.h"
#include "api_message.h"
#include "buffer.h"
#include "config.h"
#include "store.h"

#define API_MAX_SEGMENTS 10
#define API_MAX_PARAMS 4

struct api_req;
/* Runs on a store thread; fills the reply with api_ok()/api_error()... */
typedef void api_run_fn(struct store *store, struct api_req *r);
/* Runs on the loop thread instead of a job (authenticate, updates). */
typedef void api_loop_fn(struct api_req *r);

enum api_route_flags {
	API_PUBLIC = 1 << 0,	/* no token needed */
	API_ROOT = 1 << 1,	/* root token only */
	API_RAW_BODY = 1 << 2,	/* the body may be a raw message (message/rfc822) */
	/* open to a user token still waiting for its second factor (a token
	 * from /authenticate with require2fa); every other route refuses it */
	API_2FA_PENDING = 1 << 3,
};

struct api_route {
	enum evhttp_cmd_type method;
	const char *path;	/* "/users/:user/mailboxes/:mailbox" */
	api_run_fn *run;
	api_loop_fn *loop;
	unsigned int flags;
	const struct api_field *body;	/* JSON body fields; NULL: no body */
	const char *summary;		/* one line for openapi.yaml */
};

struct api_req {
	struct evhttp_request *req;
	const struct api_route *route;
	const char *params[API_MAX_PARAMS];	/* decoded, in path order */
	char param_names[API_MAX_PARAMS][32];
	unsigned int params_count;
	struct evkeyvalq query;
	json_t *body;			/* validated JSON body (or NULL) */
	unsigned char *raw;		/* raw body bytes (API_RAW_BODY routes) */
	size_t raw_len;
	char *token;
	bool root;
	bool pending_2fa;		/* the token still needs its TOTP check */
	char user[STORE_ID_SIZE];	/* the token's user when not root */
	char remote_ip[64];
	char *last_event_id;
	/* the reply */
	int status;
	json_t *reply;
	struct buffer raw_reply;	/* non-JSON reply when content_type is set */
	char *content_type;
	char *disposition;
	char notify_user[STORE_ID_SIZE];	/* publish a beacon after replying */
	void *ctx;			/* route-private state (loop routes) */
};

/* ---- route tables (api_routes_*.c) ---- */
extern const struct api_route api_routes_users[];
extern const struct api_route api_routes_mailboxes[];
extern const struct api_route api_routes_messages[];
extern const struct api_route api_routes_account[];
extern const struct api_route api_routes_extra[];
extern const struct api_route api_routes_webhooks[];
extern const struct api_route api_routes_keys[];
extern const struct api_route api_routes_settings[];
extern const struct api_route api_routes_audit[];
extern const struct api_route api_routes_addresses[];
/* All tables, NULL-terminated (the router and `wd-api --routes`). */
extern const struct api_route *const api_route_tables[];

/* ---- helpers for routes ---- */
const struct config *api_config(void);
/* A path parameter by name (":user" -> "user"), NULL if absent. */
const char *api_param(const struct api_req *r, const char *name);
/* A query parameter, NULL if absent. */
const char *api_query(const struct api_req *r, const char *name);
/* Sets a {"success": true, ...} reply; fields may be NULL. Steals fields. */
void api_ok(struct api_req *r, json_t *fields);
void api_error(struct api_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Maps a failed store call to 404/409/413/503/500. */
void api_store_error(struct api_req *r, struct store *store, const char *error,
		     const char *not_found_code);
/* The store was changed for user: wake IMAP IDLE and event streams. */
void api_changed(struct api_req *r, const char *user_id);
/* Parses limit/next/previous; -1 with the reply set on bad values. */
int api_page_params(struct api_req *r, unsigned int *limit_r, const char **next_r,
		    const char **previous_r);

struct pool;
/* Loads the mailbox id (NULL: the :mailbox parameter) and checks that it
 * belongs to :user; 404 otherwise, so another user's ids tell nothing. */
struct store_mailbox *api_mailbox_load(struct store *store, struct api_req *r,
				       const char *id, struct pool *pool);

/* Queues event (e.g. "user.created") with data (stolen, may be NULL) for
 * every registered webhook whose types match and whose user is none or
 * user_id (NULL: an event of no user), and wakes the sender. Store thread. */
void api_webhook_event(struct store *store, const char *user_id, const char *event,
		       json_t *data);

/* ---- loop-side services (api_http.c) ---- */
struct webhook_sender *api_webhook_sender(void);
struct auth_client *api_auth_client(void);
/* Submits a job that runs fn on a store thread (after the token and
 * permission checks), then replies. */
void api_submit(struct api_req *r, api_run_fn *fn);
/* The same, but then(r) runs on the loop instead of the reply. */
void api_submit_then(struct api_req *r, api_run_fn *fn, void (*then)(struct api_req *r));
/* Sends the reply in r and frees r. */
void api_finish(struct api_req *r);
/* Resolves r's token (user token lookup) and checks the route's role and
 * :user; false with the reply set when refused. Store thread only. */
bool api_authorize(struct store *store, struct api_req *r);
void api_token_hash(const char *token, char out[65]);
/* The stored hash of a token issued before its 2FA check: a different
 * hash of the same token, so a lookup tells the two kinds apart and the
 * check only has to move the token from one hash to the other. */
void api_token_hash_pending(const char *token, char out[65]);

/* ---- connections (api_conn.c) ---- */
struct tls_server;
/* What evhttp may buffer of a body: twice api.max_body_size, at least
 * 1 MiB more; what lies between gets a JSON 413 from request_cb. */
uint64_t api_body_cap(long long max_body_size);
void api_conn_setup(long long max_body_size);
/* evhttp's bufferevent for a new connection (tls: TLS on top). */
struct bufferevent *api_conn_new(struct event_base *base, struct tls_server *tls);
/* True once for a request whose body was cut at api_body_cap(): answer
 * 413 and close. */
bool api_conn_body_too_large(struct evhttp_request *req);
size_t api_conn_count(void);

/* ---- loop routes ---- */
void api_authenticate(struct api_req *r);
void api_updates(struct api_req *r);
void api_updates_notify(const char *user_id);
void api_updates_stop(void);

int api_server_start(struct event_base *base, const struct config *config,
		     const char **error_r);
void api_server_stop(void);
/* Prints the route table ("METHOD PATH" lines) for the openapi test. */
void api_print_routes(void);

#endif
