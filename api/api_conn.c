/* wd-api's connections under evhttp: every accepted connection gets a
 * filter bufferevent between its socket (or TLS) bufferevent and evhttp,
 * which
 * - follows the HTTP/1.1 framing of what the client sends (header block,
 *   Content-Length body, chunked body and trailer) and cuts a request
 *   whose body would grow past evhttp's limit (api_body_cap()): evhttp's
 *   own check answers an HTML 413 that no hook of libevent 2.1 can turn
 *   into JSON. A cut request reaches evhttp ended early (a Content-Length
 *   of 0, or a last chunk), marked, so request_cb answers a JSON 413 and
 *   closes; whatever the client sends after that is dropped unread into
 *   no buffer;
 * - counts the connections (metrics, and the worker's status report).
 * The output side passes bytes through, but tells evhttp that a write is
 * done only once the socket took everything, as a socket bufferevent
 * would: evhttp shuts the socket down right after its last write. */
#include "api.h"

#include "daemon.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* a header block longer than this is left to evhttp (its own limit) */
#define HEADER_MAX (64 * 1024)
#define LINE_MAX_LEN 4096

enum frame_state {
	FS_HEAD,	/* request line and headers */
	FS_BODY,	/* Content-Length bytes */
	FS_CHUNK_SIZE,	/* a chunk-size line (empty lines between are skipped) */
	FS_CHUNK_DATA,
	FS_TRAILER,	/* trailer lines up to an empty one */
	FS_PASS,	/* framing not understood: evhttp refuses it itself */
	FS_CUT,		/* a cut request: drop everything */
};

struct api_conn {
	struct api_conn *prev, *next;
	struct bufferevent *bev;	/* the filter: what evhttp uses */
	struct bufferevent *under;	/* socket or TLS */
	struct event *flush;
	struct evbuffer_cb_entry *out_cb, *under_out_cb;
	enum frame_state state;
	/* FS_HEAD: bytes of the header block looked at, and what they said */
	size_t scanned;
	unsigned int lines;
	bool no_body, chunked, seen_length, seen_encoding, last_framing;
	uint64_t length;
	/* FS_BODY, FS_CHUNK_DATA: bytes still to pass; chunked: body so far */
	uint64_t left, body;
	bool too_large;
};

static struct {
	struct api_conn *list;
	size_t count;
	size_t too_large;	/* connections with too_large set */
	uint64_t cap;
} ac;

uint64_t api_body_cap(long long limit)
{
	long long extra = limit > (1LL << 20) ? limit : 1LL << 20;
	return (uint64_t)(limit + extra);
}

/* ---- input: framing ---- */

static bool header_is(const char *line, size_t len, const char *name, const char **value_r)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	const char *v = line + n + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	*value_r = v;
	return true;
}

/* One line of the header block (no EOL, NUL-terminated, maybe cut short). */
static void head_line(struct api_conn *c, char *line, size_t len)
{
	if (c->lines++ == 0) {
		/* evhttp reads no body for HEAD */
		c->no_body = strncmp(line, "HEAD ", 5) == 0;
		return;
	}
	if (line[0] == ' ' || line[0] == '\t') {
		/* a folded line continues the header before it */
		if (c->last_framing)
			c->state = FS_PASS;
		return;
	}
	c->last_framing = false;
	/* trailing blanks go, as evhttp strips them */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	const char *v;
	if (header_is(line, len, "Content-Length", &v)) {
		c->last_framing = true;
		if (c->seen_length)
			return;	/* evhttp goes by the first */
		c->seen_length = true;
		char *end;
		unsigned long long n = strtoull(v, &end, 10);
		if (*v < '0' || *v > '9' || *end != '\0')
			c->state = FS_PASS;	/* evhttp answers 400 */
		c->length = n;
	} else if (header_is(line, len, "Transfer-Encoding", &v)) {
		c->last_framing = true;
		if (!c->seen_encoding)
			c->chunked = strcasecmp(v, "chunked") == 0;
		c->seen_encoding = true;
	}
}

/* Moves n bytes from src to dst. */
static void pass(struct evbuffer *src, struct evbuffer *dst, size_t n)
{
	if (n > 0)
		evbuffer_remove_buffer(src, dst, n);
}

/* Ends the request evhttp is reading at a point where a new header block
 * or chunk-size line is due, and cuts the connection. */
static void cut(struct api_conn *c, struct evbuffer *dst, const char *ending)
{
	evbuffer_add(dst, ending, strlen(ending));
	c->too_large = true;
	ac.too_large++;
	c->state = FS_CUT;
	log_info("event=api_body_too_large limit=%llu", (unsigned long long)ac.cap);
}

/* The header block is complete: total bytes including the empty line. */
static void head_done(struct api_conn *c, struct evbuffer *src, struct evbuffer *dst,
		      size_t total)
{
	bool body = !c->no_body;
	if (body && c->chunked) {
		pass(src, dst, total);
		c->state = FS_CHUNK_SIZE;
		c->body = 0;
	} else if (body && c->seen_length && c->length > ac.cap) {
		/* the same header block without Content-Length (and Expect: no
		 * 100 Continue for it), then "Content-Length: 0" */
		char *block = xmalloc(total);
		evbuffer_remove(src, block, total);
		for (size_t at = 0, i = 0; at < total; i++) {
			const char *eol = memchr(block + at, '\n', total - at);
			size_t n = eol != NULL ? (size_t)(eol - (block + at)) + 1 : total - at;
			size_t text = n - 1 - (n >= 2 && block[at + n - 2] == '\r');
			const char *v;
			if (text > 0 && (i == 0 ||
			    (!header_is(block + at, text, "Content-Length", &v) &&
			     !header_is(block + at, text, "Expect", &v))))
				evbuffer_add(dst, block + at, n);
			at += n;
		}
		free(block);
		cut(c, dst, "Content-Length: 0\r\n\r\n");
		return;
	} else if (body && c->seen_length && c->length > 0) {
		pass(src, dst, total);
		c->state = FS_BODY;
		c->left = c->length;
	} else {
		pass(src, dst, total);
		c->state = FS_HEAD;
	}
}

/* Looks for the next line from offset; its length (without EOL) and the
 * EOL's, false when no whole line is there yet. */
static bool next_line(struct evbuffer *src, size_t offset, size_t *len_r, size_t *eol_r)
{
	struct evbuffer_ptr p;
	if (evbuffer_ptr_set(src, &p, offset, EVBUFFER_PTR_SET) < 0)
		return false;
	size_t eol_len = 0;
	struct evbuffer_ptr e = evbuffer_search_eol(src, &p, &eol_len, EVBUFFER_EOL_CRLF);
	if (e.pos < 0)
		return false;
	*len_r = (size_t)e.pos - offset;
	*eol_r = eol_len;
	return true;
}

/* One step of the framing; false when it needs more input. */
static bool frame_step(struct api_conn *c, struct evbuffer *src, struct evbuffer *dst)
{
	size_t avail = evbuffer_get_length(src), len, eol;
	char line[LINE_MAX_LEN + 1];
	switch (c->state) {
	case FS_HEAD:
		if (!next_line(src, c->scanned, &len, &eol)) {
			if (avail > HEADER_MAX)
				c->state = FS_PASS;
			return c->state == FS_PASS;
		}
		if (len == 0 && c->lines == 0) {
			c->state = FS_PASS;	/* evhttp answers 400 */
			return true;
		}
		if (len == 0) {
			size_t total = c->scanned + eol;
			c->scanned = c->lines = 0;
			head_done(c, src, dst, total);
			c->seen_length = c->seen_encoding = c->chunked = c->no_body = false;
			c->last_framing = false;
			return true;
		}
		{
			struct evbuffer_ptr p;
			size_t n = len < LINE_MAX_LEN ? len : LINE_MAX_LEN;
			evbuffer_ptr_set(src, &p, c->scanned, EVBUFFER_PTR_SET);
			evbuffer_copyout_from(src, &p, line, n);
			line[n] = '\0';
			head_line(c, line, n);
		}
		c->scanned += len + eol;
		if (c->scanned > HEADER_MAX)
			c->state = FS_PASS;
		return true;
	case FS_BODY:
	case FS_CHUNK_DATA:
		if (avail == 0)
			return false;
		len = c->left < avail ? (size_t)c->left : avail;
		pass(src, dst, len);
		c->left -= len;
		if (c->left == 0)
			c->state = c->state == FS_BODY ? FS_HEAD : FS_CHUNK_SIZE;
		return true;
	case FS_CHUNK_SIZE:
		if (!next_line(src, 0, &len, &eol)) {
			if (avail > LINE_MAX_LEN)
				c->state = FS_PASS;
			return c->state == FS_PASS;
		}
		if (len == 0) {
			pass(src, dst, eol);	/* the CRLF after chunk data */
			return true;
		}
		{
			size_t n = len < LINE_MAX_LEN ? len : LINE_MAX_LEN;
			evbuffer_copyout(src, line, n);
			line[n] = '\0';
			char *end;
			unsigned long long size = strtoull(line, &end, 16);
			if (line[0] == '-' || line[0] == ' ' || end == line ||
			    (*end != '\0' && *end != ' ' && *end != ';')) {
				c->state = FS_PASS;	/* evhttp refuses it */
				return true;
			}
			if (size > ac.cap || c->body + size > ac.cap) {
				/* the line stays unread: a last chunk instead */
				cut(c, dst, "0\r\n\r\n");
				return true;
			}
			pass(src, dst, len + eol);
			if (size == 0) {
				c->state = FS_TRAILER;
			} else {
				c->body += size;
				c->left = size;
				c->state = FS_CHUNK_DATA;
			}
		}
		return true;
	case FS_TRAILER:
		if (!next_line(src, 0, &len, &eol)) {
			if (avail > HEADER_MAX)
				c->state = FS_PASS;
			return c->state == FS_PASS;
		}
		pass(src, dst, len + eol);
		if (len == 0)
			c->state = FS_HEAD;
		return true;
	case FS_PASS:
		if (avail == 0)
			return false;
		pass(src, dst, avail);
		return false;
	case FS_CUT:
		evbuffer_drain(src, avail);
		return false;
	}
	return false;
}

static enum bufferevent_filter_result filter_in(struct evbuffer *src, struct evbuffer *dst,
						ev_ssize_t limit,
						enum bufferevent_flush_mode mode, void *ctx)
{
	struct api_conn *c = ctx;
	size_t src_before = evbuffer_get_length(src), dst_before = evbuffer_get_length(dst);
	while (frame_step(c, src, dst))
		;
	/* libevent calls again while the input is not empty and we say OK:
	 * an incomplete header line left there would spin the loop */
	return evbuffer_get_length(dst) != dst_before || evbuffer_get_length(src) != src_before ?
	       BEV_OK : BEV_NEED_MORE;
}

/* ---- output ---- */

/* Passes everything on, but reports progress (which runs evhttp's write
 * callback) only when called with nothing to pass: flushed() does that
 * once the socket took all, so evhttp's "written" means written. */
static enum bufferevent_filter_result filter_out(struct evbuffer *src, struct evbuffer *dst,
						 ev_ssize_t limit,
						 enum bufferevent_flush_mode mode, void *ctx)
{
	if (evbuffer_get_length(src) == 0 && evbuffer_get_length(dst) == 0)
		return BEV_OK;
	evbuffer_add_buffer(dst, src);
	return BEV_NEED_MORE;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_conn *c = arg;
	bufferevent_flush(c->bev, EV_WRITE, BEV_FLUSH);
}

/* evhttp added output (maybe while its writing is off, which the filter
 * would wait for), or the socket took all that was queued: pass on. */
static void output_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct api_conn *c = arg;
	if (info->n_added > 0)
		event_active(c->flush, EV_TIMEOUT, 1);
}

static void under_output_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info,
				 void *arg)
{
	struct api_conn *c = arg;
	if (info->n_deleted > 0 && evbuffer_get_length(buf) == 0)
		event_active(c->flush, EV_TIMEOUT, 1);
}

/* ---- connections ---- */

static void conn_free(void *ctx)
{
	struct api_conn *c = ctx;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ac.list = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	/* the buffers outlive this (the socket's may, for a while) */
	evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	evbuffer_remove_cb_entry(bufferevent_get_output(c->under), c->under_out_cb);
	event_free(c->flush);
	if (c->too_large)
		ac.too_large--;
	free(c);
	ac.count--;
	daemon_connections_changed(ac.count);
}

struct bufferevent *api_conn_new(struct event_base *base, struct tls_server *tls)
{
	struct bufferevent *under;
	if (tls != NULL)
		under = bufferevent_openssl_socket_new(base, -1, tls_server_new_ssl(tls),
						       BUFFEREVENT_SSL_ACCEPTING,
						       BEV_OPT_CLOSE_ON_FREE);
	else
		under = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (under == NULL)
		return NULL;
	struct api_conn *c = xcalloc(1, sizeof(*c));
	c->under = under;
	c->bev = bufferevent_filter_new(under, filter_in, filter_out, BEV_OPT_CLOSE_ON_FREE,
					conn_free, c);
	if (c->bev == NULL) {
		bufferevent_free(under);
		free(c);
		return NULL;
	}
	c->flush = event_new(base, -1, 0, flush_cb, c);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), output_changed, c);
	c->under_out_cb = evbuffer_add_cb(bufferevent_get_output(under), under_output_changed, c);
	c->next = ac.list;
	if (ac.list != NULL)
		ac.list->prev = c;
	ac.list = c;
	ac.count++;
	metrics_connection();
	daemon_connections_changed(ac.count);
	return c->bev;
}

void api_conn_setup(long long max_body_size)
{
	ac.cap = api_body_cap(max_body_size);
}

bool api_conn_body_too_large(struct evhttp_request *req)
{
	if (ac.too_large == 0)
		return false;	/* the usual case: no list walk */
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	for (struct api_conn *c = ac.list; bev != NULL && c != NULL; c = c->next) {
		if (c->bev == bev) {
			bool ret = c->too_large;
			if (ret)
				ac.too_large--;
			c->too_large = false;
			return ret;
		}
	}
	return false;
}

size_t api_conn_count(void)
{
	return ac.count;
}
