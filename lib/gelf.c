/* GELF over UDP, hand-written (LIBRARIES.md: no C GELF library in Debian).
 * Spec: go2docs.graylog.org "GELF": chunks start with 0x1e 0x0f, an 8-byte
 * message id, the sequence number and count; at most 128 chunks. */
#include "gelf.h"
#include "mem.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#define GELF_CHUNK_DATA 1400 /* payload per datagram: fits a 1500-byte MTU */
#define GELF_MAX_CHUNKS 128

struct gelf {
	int fd;
	bool compress;
	char *facility, *service;
	char host[256];
};

static atomic_uint_fast64_t gelf_counter;

int gelf_open(const char *address, const char *facility, const char *service, bool compress,
	      struct gelf **g_r, const char **error_r)
{
	static char err[300];
	char host[256];
	const char *colon = strrchr(address, ':');
	if (colon == NULL || colon == address || colon[1] == '\0') {
		*error_r = "expected HOST:PORT";
		return -1;
	}
	size_t hlen = (size_t)(colon - address);
	const char *h = address;
	if (h[0] == '[' && hlen >= 2 && colon[-1] == ']') {
		h++;
		hlen -= 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)hlen, h);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM }, *ai;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc != 0) {
		snprintf(err, sizeof(err), "%s: %s", address, gai_strerror(rc));
		*error_r = err;
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		snprintf(err, sizeof(err), "%s: %s", address, strerror(errno));
		*error_r = err;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	struct gelf *g = xcalloc(1, sizeof(*g));
	g->fd = fd;
	g->compress = compress;
	g->facility = xstrdup(facility);
	g->service = xstrdup(service);
	if (gethostname(g->host, sizeof(g->host) - 1) < 0 || g->host[0] == '\0')
		strcpy(g->host, "localhost");
	*g_r = g;
	return 0;
}

void gelf_close(struct gelf **gp)
{
	struct gelf *g = *gp;
	if (g == NULL)
		return;
	close(g->fd);
	free(g->facility);
	free(g->service);
	free(g);
	*gp = NULL;
}

/* jansson insists on UTF-8; a client's bytes in a log line may not be */
static json_t *json_text(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (j != NULL)
		return j;
	char *copy = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	j = json_stringn(copy, len);
	free(copy);
	return j;
}

static bool field_name_ok(const char *k, size_t len)
{
	if (len == 0 || len > 64 || (len == 2 && memcmp(k, "id", 2) == 0))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* key=value and key="quoted value" words become _key fields */
static void add_fields(json_t *doc, const char *msg)
{
	const char *p = msg;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		const char *k = p;
		while (*p != '\0' && *p != ' ' && *p != '=')
			p++;
		if (*p != '=') {
			while (*p != '\0' && *p != ' ')
				p++;
			continue;
		}
		size_t klen = (size_t)(p - k);
		p++;
		const char *v = p;
		size_t vlen;
		if (*p == '"') {
			v = ++p;
			while (*p != '\0' && !(*p == '"' && p[-1] != '\\'))
				p++;
			vlen = (size_t)(p - v);
			if (*p == '"')
				p++;
		} else {
			while (*p != '\0' && *p != ' ')
				p++;
			vlen = (size_t)(p - v);
		}
		if (!field_name_ok(k, klen))
			continue;
		char name[70];
		snprintf(name, sizeof(name), "_%.*s", (int)klen, k);
		if (json_object_get(doc, name) == NULL)
			json_object_set_new(doc, name, json_text(v, vlen));
	}
}

char *gelf_format(const char *host, const char *facility, const char *service, int syslog_level,
		  double timestamp, const char *message)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "version", json_string("1.1"));
	json_object_set_new(doc, "host", json_text(host, strlen(host)));
	json_object_set_new(doc, "short_message", json_text(message, strlen(message)));
	json_object_set_new(doc, "timestamp", json_real(timestamp));
	json_object_set_new(doc, "level", json_integer(syslog_level));
	json_object_set_new(doc, "_facility", json_text(facility, strlen(facility)));
	json_object_set_new(doc, "_service", json_text(service, strlen(service)));
	json_object_set_new(doc, "_pid", json_integer(getpid()));
	add_fields(doc, message);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

static void send_chunked(struct gelf *g, const unsigned char *data, size_t len)
{
	if (len <= GELF_CHUNK_DATA + 12) {
		(void)!send(g->fd, data, len, MSG_DONTWAIT);
		return;
	}
	size_t count = (len + GELF_CHUNK_DATA - 1) / GELF_CHUNK_DATA;
	if (count > GELF_MAX_CHUNKS)
		return; /* Graylog would drop it anyway */
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t id = ((uint64_t)tv.tv_sec << 32) ^ ((uint64_t)tv.tv_usec << 12) ^
		      ((uint64_t)getpid() << 40) ^ atomic_fetch_add(&gelf_counter, 1);
	unsigned char pkt[GELF_CHUNK_DATA + 12];
	for (size_t i = 0; i < count; i++) {
		size_t off = i * GELF_CHUNK_DATA;
		size_t n = len - off < GELF_CHUNK_DATA ? len - off : GELF_CHUNK_DATA;
		pkt[0] = 0x1e;
		pkt[1] = 0x0f;
		memcpy(pkt + 2, &id, 8);
		pkt[10] = (unsigned char)i;
		pkt[11] = (unsigned char)count;
		memcpy(pkt + 12, data + off, n);
		(void)!send(g->fd, pkt, n + 12, MSG_DONTWAIT);
	}
}

void gelf_send(struct gelf *g, int syslog_level, const char *message)
{
	if (g == NULL)
		return;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	char *text = gelf_format(g->host, g->facility, g->service, syslog_level,
				 (double)tv.tv_sec + (double)(tv.tv_usec / 1000) / 1000.0, message);
	if (text == NULL)
		return;
	size_t len = strlen(text);
	if (g->compress) {
		uLongf zlen = compressBound((uLong)len);
		unsigned char *z = xmalloc(zlen);
		if (compress2(z, &zlen, (const Bytef *)text, (uLong)len, Z_BEST_SPEED) == Z_OK)
			send_chunked(g, z, zlen);
		free(z);
	} else {
		send_chunked(g, (const unsigned char *)text, len);
	}
	free(text);
}
