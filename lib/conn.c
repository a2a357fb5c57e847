/* Worker connections on libevent bufferevents. A connection is freed only
 * from its own close event, never inside a protocol callback, so handlers
 * may call conn_close() and keep using the connection until they return. */
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "pool.h"
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_LOW_WATERMARK (64 * 1024)

struct conn_listener {
	struct conn_listener *next;
	struct conn_server *server;
	struct evconnlistener *lev;
	bool tls, proxy;
};

/* A connection on a proxy listener whose PROXY header is still coming:
 * read straight from the socket (peek, then consume exactly the header),
 * so the bytes after it, a TLS ClientHello for instance, stay in the
 * kernel for the bufferevent created afterwards. */
struct conn_pending {
	struct conn_pending *prev, *next;
	struct conn_server *server;
	bool tls;
	struct event *ev;
	int fd;
	struct sockaddr_storage peer;
	struct timespec deadline;
};

struct conn_server {
	struct event_base *base;
	struct conn_server_settings set;
	struct conn_listener *listeners;
	struct conn *conns; /* doubly linked */
	size_t count;
	unsigned long next_id;
	bool accepting_paused;
	struct proxy_trusted *trusted;
	struct conn_pending *pending;
};

struct conn {
	struct conn *prev, *next;
	struct conn_server *server;
	struct bufferevent *bev;
	struct event *close_ev;
	struct tls_server *tls; /* reference held while the connection lives */
	struct pool *pool;
	void *ctx;
	bool closing, is_tls, tls_listener;
	int idle_ms;
	char ip[INET6_ADDRSTRLEN];
	int port;
	char session_id[24];
	char proxy_ip[INET6_ADDRSTRLEN]; /* the load balancer; "" without one */
};

static void conn_destroy(struct conn *conn);
static void conn_set_callbacks(struct conn *conn);

static void server_changed(struct conn_server *server)
{
	/* at the limit, stop accepting so other workers take the clients */
	bool full = (int)server->count >= server->set.max_connections;
	if (full != server->accepting_paused) {
		for (struct conn_listener *l = server->listeners; l != NULL; l = l->next)
			full ? evconnlistener_disable(l->lev) : evconnlistener_enable(l->lev);
		server->accepting_paused = full;
	}
	if (server->set.changed != NULL)
		server->set.changed(server->set.ctx);
}

/* Bytes not yet handed to the kernel: after STARTTLS the TLS filter
 * passes its output on to the plain bufferevent below it. */
static size_t output_unsent(struct conn *conn)
{
	size_t n = 0;
	/* COMPRESS over STARTTLS stacks two filters on the socket */
	for (struct bufferevent *b = conn->bev; b != NULL; b = bufferevent_get_underlying(b))
		n += evbuffer_get_length(bufferevent_get_output(b));
	return n;
}

static void close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;
	if (output_unsent(conn) > 0) {
		/* only the layer below still holds data: look again shortly */
		struct timeval tv = { 0, 10000 };
		event_add(conn->close_ev, &tv);
		return;
	}
	conn_destroy(conn);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	if (conn->closing) {
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	log_set_session(conn->session_id);
	conn->server->set.handler->input(conn);
	log_set_session(NULL);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	if (conn->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			event_active(conn->close_ev, EV_TIMEOUT, 0);
		return;
	}
	if (conn->server->set.handler->output_drained != NULL) {
		log_set_session(conn->session_id);
		conn->server->set.handler->output_drained(conn);
		log_set_session(NULL);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *conn = arg;
	if ((what & BEV_EVENT_TIMEOUT) && !conn->closing) {
		log_info("event=idle_timeout session=%s ip=%s", conn->session_id, conn->ip);
		conn->server->set.handler->timeout(conn);
		conn_close(conn);
		/* a client that reads nothing must not keep us waiting forever */
		struct timeval tv = { 10, 0 };
		bufferevent_set_timeouts(conn->bev, NULL, &tv);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (what & BEV_EVENT_ERROR) {
			unsigned long e = bufferevent_get_openssl_error(bev);
			log_debug("event=conn_error session=%s errno=%d ssl=%lu", conn->session_id,
				  EVUTIL_SOCKET_ERROR(), e);
		}
		conn_destroy(conn);
	}
}

static void conn_set_callbacks(struct conn *conn)
{
	bufferevent_setcb(conn->bev, read_cb, write_cb, event_cb, conn);
	bufferevent_setwatermark(conn->bev, EV_WRITE, OUTPUT_LOW_WATERMARK, 0);
	conn_set_idle_timeout(conn, conn->idle_ms);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
}

static void sockaddr_describe(const struct sockaddr *sa, char *ip, size_t iplen, int *port_r)
{
	*port_r = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)iplen);
		*port_r = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)iplen);
		*port_r = ntohs(sin6->sin6_port);
	} else {
		snprintf(ip, iplen, "local");
	}
}

/* peer: the TCP peer; sa: the client (the same, or from a PROXY header) */
static void conn_start(struct conn_server *server, bool tls, evutil_socket_t fd,
		       const struct sockaddr *sa, const struct sockaddr *peer)
{
	struct bufferevent *bev;
	SSL *ssl = NULL;
	if (tls) {
		ssl = tls_server_new_ssl(server->set.tls);
		if (ssl == NULL) {
			log_error("event=accept_failed reason=\"no TLS context\"");
			close(fd);
			return;
		}
		bev = bufferevent_openssl_socket_new(server->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						     BEV_OPT_CLOSE_ON_FREE);
	} else {
		bev = bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (bev == NULL) {
		log_error("event=accept_failed reason=\"bufferevent: %s\"", strerror(errno));
		if (ssl != NULL)
			SSL_free(ssl);
		close(fd);
		return;
	}
	struct conn *conn = xcalloc(1, sizeof(*conn));
	conn->server = server;
	conn->bev = bev;
	conn->is_tls = conn->tls_listener = tls;
	conn->idle_ms = server->set.idle_timeout_ms;
	conn->pool = pool_create(1024);
	conn->close_ev = evtimer_new(server->base, close_cb, conn);
	if (server->set.tls != NULL) {
		conn->tls = server->set.tls;
		tls_server_ref(conn->tls);
	}
	sockaddr_describe(sa, conn->ip, sizeof(conn->ip), &conn->port);
	if (peer != sa) {
		int pport;
		sockaddr_describe(peer, conn->proxy_ip, sizeof(conn->proxy_ip), &pport);
	}
	snprintf(conn->session_id, sizeof(conn->session_id), "%x.%lx", (unsigned)getpid(),
		 ++server->next_id);
	conn->next = server->conns;
	if (server->conns != NULL)
		server->conns->prev = conn;
	server->conns = conn;
	server->count++;
	metrics_connection();
	if (conn->proxy_ip[0] != '\0')
		log_info("event=connect session=%s ip=%s port=%d tls=%s proxy=%s", conn->session_id,
			 conn->ip, conn->port, tls ? "yes" : "no", conn->proxy_ip);
	else
		log_info("event=connect session=%s ip=%s port=%d tls=%s", conn->session_id,
			 conn->ip, conn->port, tls ? "yes" : "no");
	conn_set_callbacks(conn);
	log_set_session(conn->session_id);
	server->set.handler->connected(conn);
	log_set_session(NULL);
	server_changed(server);
}

static void pending_free(struct conn_pending *p, bool close_fd)
{
	struct conn_server *server = p->server;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		server->pending = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	event_free(p->ev);
	if (close_fd)
		close(p->fd);
	free(p);
}

static void pending_drop(struct conn_pending *p, const char *why)
{
	char ip[INET6_ADDRSTRLEN];
	int port;
	sockaddr_describe((const struct sockaddr *)&p->peer, ip, sizeof(ip), &port);
	log_warn("event=proxy_rejected ip=%s reason=\"%s\"", ip, why);
	pending_free(p, true);
}

static void pending_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_pending *p = arg;
	unsigned char buf[PROXY_HEADER_MAX];
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	bool expired = now.tv_sec > p->deadline.tv_sec ||
		       (now.tv_sec == p->deadline.tv_sec && now.tv_nsec >= p->deadline.tv_nsec);
	ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		if (expired) {
			pending_drop(p, "timeout");
			return;
		}
		event_del(p->ev);
		event_assign(p->ev, p->server->base, p->fd, EV_READ, pending_cb, p);
		struct timeval tv = { 0, 100000 };
		event_add(p->ev, &tv);
		return;
	}
	if (n <= 0) {
		pending_drop(p, n == 0 ? "closed before the PROXY header" : strerror(errno));
		return;
	}
	struct proxy_result r;
	const char *error = NULL;
	int len = proxy_parse(buf, (size_t)n, &r, &error);
	if (len < 0) {
		pending_drop(p, error);
		return;
	}
	if (len == 0) {
		if (expired || (size_t)n == sizeof(buf)) {
			pending_drop(p, expired ? "timeout" : "PROXY header too long");
			return;
		}
		/* the rest is on its way; the socket stays readable with what we
		 * peeked, so look again a little later instead of spinning */
		struct timeval tv = { 0, 10000 };
		event_del(p->ev);
		event_assign(p->ev, p->server->base, -1, EV_TIMEOUT, pending_cb, p);
		event_add(p->ev, &tv);
		return;
	}
	if (recv(p->fd, buf, (size_t)len, MSG_DONTWAIT) != len) {
		pending_drop(p, "short read of the PROXY header");
		return;
	}
	bool tls = p->tls;
	struct conn_server *server = p->server;
	struct sockaddr_storage peer = p->peer;
	struct sockaddr_storage src = r.has_address ? r.src : peer;
	int sfd = p->fd;
	pending_free(p, false);
	conn_start(server, tls, sfd, (const struct sockaddr *)&src, (const struct sockaddr *)&peer);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct conn_listener *l = arg;
	struct conn_server *server = l->server;
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		/* replies to pipelined commands go out as they are ready: with
		 * Nagle, a reply written after a store job waits for the
		 * client's delayed ACK of the previous one (40 ms) */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (!l->proxy) {
		conn_start(server, l->tls, fd, sa, sa);
		return;
	}
	struct conn_pending *p = xcalloc(1, sizeof(*p));
	p->tls = l->tls;
	p->server = server;
	p->fd = fd;
	memcpy(&p->peer, sa, (size_t)salen < sizeof(p->peer) ? (size_t)salen : sizeof(p->peer));
	p->next = server->pending;
	if (server->pending != NULL)
		server->pending->prev = p;
	server->pending = p;
	p->ev = event_new(server->base, fd, EV_READ, pending_cb, p);
	if (!proxy_trusted_match(server->trusted, sa)) {
		pending_drop(p, "peer not in proxy.trusted");
		return;
	}
	int ms = server->set.proxy_timeout_ms > 0 ? server->set.proxy_timeout_ms : 5000;
	clock_gettime(CLOCK_MONOTONIC, &p->deadline);
	p->deadline.tv_sec += ms / 1000;
	p->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (p->deadline.tv_nsec >= 1000000000L) {
		p->deadline.tv_sec++;
		p->deadline.tv_nsec -= 1000000000L;
	}
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(p->ev, &tv);
}

static void conn_destroy(struct conn *conn)
{
	struct conn_server *server = conn->server;
	log_info("event=disconnect session=%s ip=%s", conn->session_id, conn->ip);
	if (server->set.handler->destroyed != NULL) {
		log_set_session(conn->session_id);
		server->set.handler->destroyed(conn);
		log_set_session(NULL);
	}
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		server->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	server->count--;
	bufferevent_free(conn->bev);
	event_free(conn->close_ev);
	tls_server_unref(&conn->tls);
	pool_destroy(&conn->pool);
	free(conn);
	server_changed(server);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	/* EMFILE and friends: log and keep going, the next close frees a slot */
	log_error("event=accept_failed error=\"%s\"", evutil_socket_error_to_string(err));
}

struct conn_server *conn_server_create(struct event_base *base,
				       const struct conn_server_settings *settings)
{
	struct conn_server *server = xcalloc(1, sizeof(*server));
	server->base = base;
	server->set = *settings;
	const char *error;
	if (settings->proxy_trusted != NULL &&
	    proxy_trusted_parse(settings->proxy_trusted, &server->trusted, &error) < 0)
		log_error("event=proxy_trusted_invalid error=\"%s\"", error);
	return server;
}

int conn_server_listen(struct conn_server *server, int fd, bool tls, bool proxy,
		       const char **error_r)
{
	if (tls && server->set.tls == NULL) {
		*error_r = "TLS listener without certificates";
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	struct conn_listener *l = xcalloc(1, sizeof(*l));
	l->server = server;
	l->tls = tls;
	l->proxy = proxy;
	/* backlog 0: the master already called listen() */
	l->lev = evconnlistener_new(server->base, accept_cb, l,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l->lev == NULL) {
		free(l);
		*error_r = "evconnlistener_new failed";
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, accept_error_cb);
	if (server->accepting_paused)
		evconnlistener_disable(l->lev);
	l->next = server->listeners;
	server->listeners = l;
	return 0;
}

void conn_server_stop_accepting(struct conn_server *server)
{
	while (server->listeners != NULL) {
		struct conn_listener *l = server->listeners;
		server->listeners = l->next;
		evconnlistener_free(l->lev);
		free(l);
	}
}

void conn_server_shutdown(struct conn_server *server)
{
	conn_server_stop_accepting(server);
	for (struct conn *conn = server->conns; conn != NULL; conn = conn->next) {
		if (conn->closing)
			continue;
		server->set.handler->shutdown(conn);
		conn_close(conn);
	}
}

size_t conn_server_count(const struct conn_server *server)
{
	return server->count;
}

int conn_server_available(const struct conn_server *server)
{
	if (server->listeners == NULL)
		return 0;
	int n = server->set.max_connections - (int)server->count;
	return n > 0 ? n : 0;
}

void conn_server_free(struct conn_server **serverp)
{
	struct conn_server *server = *serverp;
	if (server == NULL)
		return;
	conn_server_stop_accepting(server);
	server->set.changed = NULL;
	while (server->pending != NULL)
		pending_free(server->pending, true);
	while (server->conns != NULL)
		conn_destroy(server->conns);
	proxy_trusted_free(&server->trusted);
	free(server);
	*serverp = NULL;
}

struct evbuffer *conn_input(struct conn *conn)
{
	return bufferevent_get_input(conn->bev);
}

void conn_write(struct conn *conn, const void *data, size_t len)
{
	bufferevent_write(conn->bev, data, len);
}

void conn_printf(struct conn *conn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(conn->bev), fmt, ap);
	va_end(ap);
}

size_t conn_output_pending(struct conn *conn)
{
	return output_unsent(conn);
}

void conn_close(struct conn *conn)
{
	if (conn->closing)
		return;
	conn->closing = true;
	bufferevent_disable(conn->bev, EV_READ);
	bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
		event_active(conn->close_ev, EV_TIMEOUT, 0);
	/* otherwise write_cb fires once the output is flushed */
}

bool conn_is_closing(const struct conn *conn)
{
	return conn->closing;
}

bool conn_can_starttls(const struct conn *conn)
{
	return !conn->is_tls && conn->tls != NULL && tls_server_cert_count(conn->tls) > 0;
}

int conn_starttls(struct conn *conn, const char **error_r)
{
	if (!conn_can_starttls(conn)) {
		*error_r = conn->is_tls ? "TLS is already active" : "TLS is not configured";
		return -1;
	}
	SSL *ssl = tls_server_new_ssl(conn->tls);
	if (ssl == NULL) {
		*error_r = "cannot create a TLS session";
		return -1;
	}
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	struct bufferevent *tls_bev = bufferevent_openssl_filter_new(
		conn->server->base, conn->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls_bev == NULL) {
		SSL_free(ssl);
		*error_r = "cannot start TLS";
		return -1;
	}
	conn->bev = tls_bev;
	conn->is_tls = true;
	conn_set_callbacks(conn);
	return 0;
}

bool conn_is_tls(const struct conn *conn)
{
	return conn->is_tls;
}

void conn_set_idle_timeout(struct conn *conn, int ms)
{
	conn->idle_ms = ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	/* the write timeout drops clients that stop reading their output */
	bufferevent_set_timeouts(conn->bev, &tv, &tv);
}

void conn_set_context(struct conn *conn, void *ctx) { conn->ctx = ctx; }
void *conn_context(const struct conn *conn) { return conn->ctx; }
struct pool *conn_pool(struct conn *conn) { return conn->pool; }
const char *conn_remote_ip(const struct conn *conn) { return conn->ip; }
int conn_remote_port(const struct conn *conn) { return conn->port; }
const char *conn_session_id(const struct conn *conn) { return conn->session_id; }

/* ---- COMPRESS=DEFLATE (RFC 4978) ---- */

#include <zlib.h>

struct conn_zlib {
	z_stream in, out;
};

static enum bufferevent_filter_result zlib_run(z_stream *z, bool inflating,
					       struct evbuffer *src, struct evbuffer *dst)
{
	unsigned char inbuf[16384], outbuf[16384];
	for (;;) {
		size_t n = evbuffer_remove(src, inbuf, sizeof(inbuf));
		z->next_in = inbuf;
		z->avail_in = (uInt)n;
		do {
			z->next_out = outbuf;
			z->avail_out = sizeof(outbuf);
			int r = inflating ? inflate(z, Z_SYNC_FLUSH) : deflate(z, Z_SYNC_FLUSH);
			if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
				return BEV_ERROR;
			evbuffer_add(dst, outbuf, sizeof(outbuf) - z->avail_out);
		} while (z->avail_out == 0 || z->avail_in > 0);
		if (evbuffer_get_length(src) == 0)
			return BEV_OK;
	}
}

static enum bufferevent_filter_result zlib_in(struct evbuffer *src, struct evbuffer *dst,
					      ev_ssize_t limit, enum bufferevent_flush_mode mode,
					      void *ctx)
{
	return zlib_run(&((struct conn_zlib *)ctx)->in, true, src, dst);
}

static enum bufferevent_filter_result zlib_out(struct evbuffer *src, struct evbuffer *dst,
					       ev_ssize_t limit, enum bufferevent_flush_mode mode,
					       void *ctx)
{
	return zlib_run(&((struct conn_zlib *)ctx)->out, false, src, dst);
}

static void zlib_free(void *ctx)
{
	struct conn_zlib *z = ctx;
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
}

int conn_compress(struct conn *conn, const char **error_r)
{
	struct conn_zlib *z = xcalloc(1, sizeof(*z));
	/* windowBits -12 and memLevel 5: ~38 KiB per connection instead of
	 * 262 KiB (LIBRARIES.md); inflate must accept the client's 32 KiB window */
	if (inflateInit2(&z->in, -15) != Z_OK ||
	    deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 5, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		*error_r = "zlib initialisation failed";
		return -1;
	}
	struct bufferevent *bev = bufferevent_filter_new(conn->bev, zlib_in, zlib_out,
							 BEV_OPT_CLOSE_ON_FREE, zlib_free, z);
	if (bev == NULL) {
		zlib_free(z);
		*error_r = "cannot start compression";
		return -1;
	}
	conn->bev = bev;
	conn_set_callbacks(conn);
	return 0;
}
