/* The life of a worker process started by the master: inherit listeners,
 * load the config and certificates the master hands over, drop privileges,
 * report status, watch the master, handle stop/drain signals. A daemon's
 * main() only fills struct daemon_settings and calls daemon_main(). */
#ifndef WD_DAEMON_H
#define WD_DAEMON_H

#include <event2/event.h>

#include "config.h"
#include "conn.h"

struct daemon_settings {
	const char *name;                   /* service name: "imap" */
	const struct conn_handler *handler; /* NULL for daemons without listeners */
	/* Optional: runs before privileges are dropped (open what needs root). */
	int (*init)(const struct config *config, const char **error_r);
	/* Optional: runs after privileges are dropped, before the loop. */
	int (*start)(struct event_base *base, const struct config *config, const char **error_r);
	/* Optional: runs after the loop ended. */
	void (*deinit)(void);
};

int daemon_main(int argc, char **argv, const struct daemon_settings *settings);

/* The running daemon's config (valid for the process's life). */
const struct config *daemon_config(void);
struct event_base *daemon_event_base(void);
/* The inherited listening sockets, for daemons without a conn_handler
 * that accept connections themselves (wd-api hands them to evhttp); -1
 * past the end. tls_r (may be NULL) tells an implicit-TLS listener. */
int daemon_listener_fd(int index, bool *tls_r);
/* Daemons that accept connections themselves report how many are open
 * (the master's status and connections_current metric). */
void daemon_connections_changed(size_t count);
/* The certificates the master handed over, NULL without any. */
struct tls_server *daemon_tls_server(void);
/* Ends the event loop soon: after a stop, connections say goodbye first. */
void daemon_stop(void);

/* workpool thread hooks for store threads: each thread opens its own store
 * handle from the config passed as the pool's arg, after the fork (DESIGN
 * §3); a failed open is logged and leaves the thread's context NULL. */
void *daemon_store_thread_open(void *config);
void daemon_store_thread_close(void *store);

#endif
