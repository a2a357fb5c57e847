/* Client stub of the auth protocol (server: auth/, wd-auth; protocol:
 * wildduck-auth(8)): protocol workers (imap, pop3, api) ask the auth daemon
 * to check a username and secret without ever seeing password hashes.
 * Asynchronous on the worker's libevent loop: one connection per worker,
 * many requests in flight, reconnect with backoff, and every request ends
 * in exactly one callback within a bounded time (TEMPFAIL when auth is
 * down or restarting, never a hang). Not thread-safe: loop thread only. */
#ifndef WD_AUTH_CLIENT_H
#define WD_AUTH_CLIENT_H

#include <stdint.h>
#include <event2/event.h>

/* Shared with the server: the longest username or secret accepted. */
#define AUTH_MAX_FIELD 1024
/* Default per-request timeout of the client (ms). */
#define AUTH_CLIENT_DEFAULT_TIMEOUT_MS 10000

struct auth_client;
struct auth_request;

enum auth_status {
	AUTH_OK,       /* credentials accepted */
	AUTH_FAIL,     /* rejected: wrong, unknown, disabled, rate limited, bad input */
	AUTH_TEMPFAIL, /* could not decide now (auth, store or Redis down): retry later */
};

struct auth_query {
	const char *service;   /* "imap", "pop3", "smtp", "api" */
	const char *username;  /* as the client typed it */
	const char *secret;    /* password or application-specific password */
	const char *remote_ip; /* the client's address, for rate limits and the log */
	/* Optional: the scope to check the secret for; NULL means the
	 * service. "master" asks for the account password itself (API). */
	const char *scope;
};

/* Valid only during the callback: copy what you keep. */
struct auth_result {
	enum auth_status status;
	const char *user_id;  /* OK: the user's id (24 hex digits) */
	const char *username; /* OK: the canonical username */
	const char *flags;    /* OK: extra flags ("" if none), e.g. "asp=ID" */
	/* FAIL/TEMPFAIL: a short machine word: "invalid", "disabled",
	 * "ratelimited", "badinput", "timeout", "unavailable", ... */
	const char *reason;
	unsigned int retry_after; /* FAIL "ratelimited": seconds, else 0 */
};

typedef void auth_callback_t(const struct auth_result *result, void *context);

/* Creates the client; it connects lazily on the first lookup. socket_path
 * is the auth service's unix socket (the first unix listener of the
 * "auth" service in the config; see auth_client_socket_path()). */
struct auth_client *auth_client_create(struct event_base *base, const char *socket_path);
/* Per-request timeout; 0 restores AUTH_CLIENT_DEFAULT_TIMEOUT_MS. */
void auth_client_set_timeout(struct auth_client *client, unsigned int msecs);
/* Completes every pending request with TEMPFAIL ("shutdown") first. */
void auth_client_free(struct auth_client **client);

/* Starts a lookup. The callback runs exactly once, always later from the
 * loop (never from inside this call), unless the request is cancelled
 * first. The returned handle is valid until the callback starts or
 * auth_request_cancel(). The query's strings are copied. */
struct auth_request *auth_client_lookup(struct auth_client *client,
					const struct auth_query *query,
					auth_callback_t *callback, void *context);
/* The client connection went away: the callback will not run. Sets
 * *request to NULL; a NULL *request is ignored. */
void auth_request_cancel(struct auth_request **request);

/* Requests waiting for an answer (for tests and status). */
unsigned int auth_client_pending(const struct auth_client *client);

struct config;
/* The path of the auth socket from the config: the first unix listener of
 * the "auth" service, without "unix:"; NULL if there is none. */
const char *auth_client_socket_path(struct config *config);

#endif
