/* PROXY protocol v1/v2 parsing (haproxy.org/download/2.8/doc/proxy-protocol.txt)
 * and trusted-network matching. Strict: anything not in the spec is an
 * error, and the caller drops the connection. */
#include "proxy.h"
#include "mem.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					  0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

static int parse_port(const char *s, unsigned *port_r)
{
	if (*s == '\0' || strlen(s) > 5 || (s[0] == '0' && s[1] != '\0'))
		return -1;
	unsigned v = 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > 65535)
		return -1;
	*port_r = v;
	return 0;
}

static int parse_v1(const unsigned char *data, size_t len, struct proxy_result *r,
		    const char **error_r)
{
	size_t n = len < 107 ? len : 107;
	const unsigned char *crlf = NULL;
	for (size_t i = 0; i + 1 < n; i++)
		if (data[i] == '\r' && data[i + 1] == '\n') {
			crlf = data + i;
			break;
		}
	if (crlf == NULL) {
		if (len >= 107) {
			*error_r = "PROXY v1 line too long";
			return -1;
		}
		for (size_t i = 0; i < len; i++)
			if (data[i] == '\n' || data[i] == '\0') {
				*error_r = "PROXY v1 line not ended by CRLF";
				return -1;
			}
		return 0;
	}
	char line[108];
	size_t ll = (size_t)(crlf - data);
	memcpy(line, data, ll);
	line[ll] = '\0';
	char *f[7];
	int nf = 0;
	char *save = NULL;
	for (char *p = strtok_r(line, " ", &save); p != NULL && nf < 7; p = strtok_r(NULL, " ", &save))
		f[nf++] = p;
	if (nf < 2 || strcmp(f[0], "PROXY") != 0) {
		*error_r = "malformed PROXY v1 line";
		return -1;
	}
	r->version = 1;
	if (strcmp(f[1], "UNKNOWN") == 0) {
		r->has_address = false;
		return (int)ll + 2;
	}
	unsigned sport, dport;
	bool v4 = strcmp(f[1], "TCP4") == 0, v6 = strcmp(f[1], "TCP6") == 0;
	if ((!v4 && !v6) || nf != 6 || parse_port(f[4], &sport) < 0 || parse_port(f[5], &dport) < 0) {
		*error_r = "malformed PROXY v1 line";
		return -1;
	}
	memset(&r->src, 0, sizeof(r->src));
	unsigned char dst[16];
	if (v4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&r->src;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)sport);
		if (inet_pton(AF_INET, f[2], &sin->sin_addr) != 1 || inet_pton(AF_INET, f[3], dst) != 1) {
			*error_r = "bad address in PROXY v1 line";
			return -1;
		}
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->src;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)sport);
		if (inet_pton(AF_INET6, f[2], &sin6->sin6_addr) != 1 ||
		    inet_pton(AF_INET6, f[3], dst) != 1) {
			*error_r = "bad address in PROXY v1 line";
			return -1;
		}
	}
	r->has_address = true;
	return (int)ll + 2;
}

static int parse_v2(const unsigned char *data, size_t len, struct proxy_result *r,
		    const char **error_r)
{
	if (len < 16)
		return 0;
	unsigned ver = data[12] >> 4, cmd = data[12] & 0x0f;
	unsigned fam = data[13];
	size_t body = ((size_t)data[14] << 8) | data[15];
	if (ver != 2 || cmd > 1) {
		*error_r = "bad PROXY v2 version or command";
		return -1;
	}
	if (16 + body > PROXY_HEADER_MAX) {
		*error_r = "PROXY v2 header too long";
		return -1;
	}
	if (len < 16 + body)
		return 0;
	r->version = 2;
	r->has_address = false;
	const unsigned char *a = data + 16;
	memset(&r->src, 0, sizeof(r->src));
	if (cmd == 0) /* LOCAL: the proxy's own connection (health checks) */
		return (int)(16 + body);
	if (fam == 0x11 || fam == 0x12) { /* TCP or UDP over IPv4 */
		if (body < 12) {
			*error_r = "PROXY v2 IPv4 block too short";
			return -1;
		}
		struct sockaddr_in *sin = (struct sockaddr_in *)&r->src;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		memcpy(&sin->sin_port, a + 8, 2);
		r->has_address = true;
	} else if (fam == 0x21 || fam == 0x22) {
		if (body < 36) {
			*error_r = "PROXY v2 IPv6 block too short";
			return -1;
		}
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->src;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
		memcpy(&sin6->sin6_port, a + 32, 2);
		r->has_address = true;
	} else if (fam != 0x00 && fam != 0x31 && fam != 0x32) {
		*error_r = "bad PROXY v2 address family";
		return -1;
	}
	/* UNSPEC and unix sockets: nothing we can log, keep our own view */
	return (int)(16 + body);
}

int proxy_parse(const unsigned char *data, size_t len, struct proxy_result *r,
		const char **error_r)
{
	if (len == 0)
		return 0;
	size_t n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(data, v2_sig, n) == 0)
		return n < sizeof(v2_sig) ? 0 : parse_v2(data, len, r, error_r);
	n = len < 6 ? len : 6;
	if (memcmp(data, "PROXY ", n) == 0)
		return n < 6 ? 0 : parse_v1(data, len, r, error_r);
	*error_r = "no PROXY protocol header";
	return -1;
}

/* ---- trusted networks ---- */

struct proxy_net {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

struct proxy_trusted {
	struct proxy_net *nets;
	size_t count;
};

static int net_parse(const char *s, struct proxy_net *net)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash != NULL) {
		*slash++ = '\0';
		char *end;
		prefix = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || prefix < 0)
			return -1;
	}
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		if (prefix > 32)
			return -1;
		net->prefix = prefix < 0 ? 32 : (unsigned)prefix;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		if (prefix > 128)
			return -1;
		net->prefix = prefix < 0 ? 128 : (unsigned)prefix;
	} else {
		return -1;
	}
	return 0;
}

int proxy_trusted_parse(const char *list, struct proxy_trusted **t_r, const char **error_r)
{
	static char err[160];
	struct proxy_trusted *t = xcalloc(1, sizeof(*t));
	char *copy = xstrdup(list), *save = NULL;
	for (char *w = strtok_r(copy, " ,\t", &save); w != NULL; w = strtok_r(NULL, " ,\t", &save)) {
		struct proxy_net net;
		if (net_parse(w, &net) < 0) {
			snprintf(err, sizeof(err), "bad network '%.100s' (expected ADDRESS[/PREFIX])", w);
			*error_r = err;
			free(copy);
			proxy_trusted_free(&t);
			return -1;
		}
		t->nets = xrealloc(t->nets, (t->count + 1) * sizeof(*t->nets));
		t->nets[t->count++] = net;
	}
	free(copy);
	*t_r = t;
	return 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool proxy_trusted_match(const struct proxy_trusted *t, const struct sockaddr *sa)
{
	if (t == NULL)
		return false;
	unsigned char addr[16];
	int family = sa->sa_family;
	if (family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			memcpy(addr, a6->s6_addr + 12, 4);
		} else {
			memcpy(addr, a6->s6_addr, 16);
		}
	} else {
		return true; /* a unix socket: only local processes reach it */
	}
	for (size_t i = 0; i < t->count; i++)
		if (t->nets[i].family == family && prefix_equal(t->nets[i].addr, addr, t->nets[i].prefix))
			return true;
	return false;
}

void proxy_trusted_free(struct proxy_trusted **tp)
{
	struct proxy_trusted *t = *tp;
	if (t == NULL)
		return;
	free(t->nets);
	free(t);
	*tp = NULL;
}
