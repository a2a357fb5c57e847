/* The PROXY protocol (HAProxy, versions 1 and 2): parses the header a load
 * balancer puts before a client's first byte, and matches the peer against
 * the trusted networks. It does no I/O; lib/conn.c reads the bytes. */
#ifndef WD_PROXY_H
#define WD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Longest header we accept: v1 is at most 107 bytes, v2 with TLVs is
 * 16 bytes plus its length; 536 covers every address block with room for
 * the TLVs HAProxy sends. */
#define PROXY_HEADER_MAX 536

struct proxy_result {
	/* false: "PROXY UNKNOWN" or v2 LOCAL (a health check): keep the
	 * connection's own addresses */
	bool has_address;
	struct sockaddr_storage src;
	int version;
};

/* Returns the header's length (consume that many bytes) and fills *r;
 * 0 when data is a valid but incomplete prefix; -1 on a malformed header
 * with *error_r. */
int proxy_parse(const unsigned char *data, size_t len, struct proxy_result *r,
		const char **error_r);

struct proxy_trusted;
/* list: networks separated by spaces or commas ("127.0.0.0/8 10.1.2.3 ::1");
 * a bare address is a host. Returns -1 with *error_r on a bad entry. */
int proxy_trusted_parse(const char *list, struct proxy_trusted **t_r, const char **error_r);
bool proxy_trusted_match(const struct proxy_trusted *t, const struct sockaddr *sa);
void proxy_trusted_free(struct proxy_trusted **t);

#endif
