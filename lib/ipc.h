/* IPC framing shared by the control socket and the auth protocol.
 * A message is one LF-terminated line of TAB-separated fields; inside a
 * field \001 escapes itself, TAB, CR, LF and NUL (Dovecot's convention), so
 * any byte string survives. By convention the first field is the command or
 * reply word and the second the request id that the reply repeats. */
#ifndef WD_IPC_H
#define WD_IPC_H

#include <stddef.h>
#include "buffer.h"

/* Longest line a peer may send before it is treated as broken. */
#define IPC_MAX_LINE (64 * 1024)
#define IPC_MAX_FIELDS 64

/* Appends one escaped field (no separator). */
void ipc_field_append(struct buffer *out, const void *data, size_t len);
/* Appends a whole line: fields joined by TAB, then LF. */
void ipc_line_append(struct buffer *out, const char *const *fields, size_t count);
/* Like ipc_line_append for a NULL-terminated argument list of fields. */
void ipc_line_appendv(struct buffer *out, const char *first, ...)
	__attribute__((sentinel));

/* Splits a line (no LF) into fields in place, unescaping them.
 * Returns the number of fields, or -1 with *error_r on a bad escape, an
 * escaped NUL (fields are C strings: a NUL would silently cut a secret) or
 * more than max_fields fields. */
int ipc_line_split(char *line, char **fields, int max_fields, const char **error_r);

/* Takes the first complete line out of in into line_r (without LF, CR
 * stripped). Returns 1 when a line was taken, 0 when more input is
 * needed, -1 when the pending line exceeds max_len (a broken peer). */
int ipc_take_line(struct buffer *in, size_t max_len, struct buffer *line_r);

#endif
