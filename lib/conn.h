/* Connections of a protocol worker: the accept loop on inherited listeners,
 * per-connection state on a libevent bufferevent (plain, implicit TLS or
 * STARTTLS), idle timeouts, a per-worker connection limit and graceful
 * shutdown or drain. Protocols plug in through struct conn_handler. */
#ifndef WD_CONN_H
#define WD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "tls.h"

struct conn;
struct conn_server;
struct pool;

struct conn_handler {
	/* A new connection: set up protocol state, write the greeting. */
	void (*connected)(struct conn *conn);
	/* New input is in conn_input(conn). */
	void (*input)(struct conn *conn);
	/* The worker is stopping: write a goodbye; the connection is closed
	 * after the output is flushed. */
	void (*shutdown)(struct conn *conn);
	/* The idle timeout expired: write a goodbye (then closed likewise). */
	void (*timeout)(struct conn *conn);
	/* Optional: output fell below the low watermark, producers may resume. */
	void (*output_drained)(struct conn *conn);
	/* The connection is gone: free the protocol state. */
	void (*destroyed)(struct conn *conn);
};

struct conn_server_settings {
	const struct conn_handler *handler;
	int max_connections;
	int idle_timeout_ms;
	struct tls_server *tls; /* may be NULL when no listener uses TLS */
	/* Listeners with proxy: peers allowed to send a PROXY header
	 * (proxy.h syntax) and how long they get to send it. */
	const char *proxy_trusted;
	int proxy_timeout_ms;
	/* Called when the number of connections changes. */
	void (*changed)(void *ctx);
	void *ctx;
};

struct conn_server *conn_server_create(struct event_base *base,
				       const struct conn_server_settings *settings);
/* Starts accepting on an already listening socket. With proxy, every
 * connection must come from settings->proxy_trusted and start with a PROXY
 * v1/v2 header, read before TLS and before the protocol sees the
 * connection; conn_remote_ip() is then the client's address from it. */
int conn_server_listen(struct conn_server *server, int fd, bool tls, bool proxy,
		       const char **error_r);
/* Stops accepting (closes the listeners); live connections stay. */
void conn_server_stop_accepting(struct conn_server *server);
/* Asks every connection to say goodbye and close. */
void conn_server_shutdown(struct conn_server *server);
size_t conn_server_count(const struct conn_server *server);
int conn_server_available(const struct conn_server *server);
void conn_server_free(struct conn_server **server);

struct evbuffer *conn_input(struct conn *conn);
void conn_write(struct conn *conn, const void *data, size_t len);
void conn_printf(struct conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t conn_output_pending(struct conn *conn);
/* Flushes the output, then closes; input is ignored from now on. Safe to
 * call from any handler callback: the connection is freed later. */
void conn_close(struct conn *conn);
bool conn_is_closing(const struct conn *conn);
/* Starts a TLS handshake on a plain connection (STARTTLS). Input the
 * client pipelined after the command is discarded (CVE-2011-0411). */
int conn_starttls(struct conn *conn, const char **error_r);
bool conn_is_tls(const struct conn *conn);
/* Puts raw DEFLATE (RFC 4978) over the connection, in both directions,
 * from the next byte on: write the tagged OK before calling it. */
int conn_compress(struct conn *conn, const char **error_r);
bool conn_can_starttls(const struct conn *conn);
void conn_set_idle_timeout(struct conn *conn, int ms);

void conn_set_context(struct conn *conn, void *ctx);
void *conn_context(const struct conn *conn);
/* Freed with the connection. */
struct pool *conn_pool(struct conn *conn);
const char *conn_remote_ip(const struct conn *conn);
int conn_remote_port(const struct conn *conn);
/* Short unique id for log lines of this connection. */
const char *conn_session_id(const struct conn *conn);

#endif
