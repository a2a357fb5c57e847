/* GELF 1.1 over UDP (Graylog): each log line becomes one JSON message,
 * zlib-compressed or plain, split into chunks when larger than one
 * datagram. The key=value fields of our log lines become additional
 * fields (_event, _session, _ip, ...). Used by lib/log.c only. */
#ifndef WD_GELF_H
#define WD_GELF_H

#include <stdbool.h>
#include <stddef.h>

struct gelf;

/* address: HOST:PORT or [V6]:PORT. Returns -1 with *error_r when it does
 * not resolve or no socket can be made. */
int gelf_open(const char *address, const char *facility, const char *service, bool compress,
	      struct gelf **g_r, const char **error_r);
/* syslog_level: 0..7 as in syslog(3); message: one log line, no newline. */
void gelf_send(struct gelf *g, int syslog_level, const char *message);
void gelf_close(struct gelf **g);

/* Builds the GELF JSON document (for tests); the caller frees it. */
char *gelf_format(const char *host, const char *facility, const char *service, int syslog_level,
		  double timestamp, const char *message);

#endif
