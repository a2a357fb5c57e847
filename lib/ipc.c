/* IPC line framing: escaping, splitting, line extraction. */
#include "ipc.h"

#include <stdarg.h>
#include <string.h>

void ipc_field_append(struct buffer *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		switch (p[i]) {
		case '\001': buffer_append(out, "\0011", 2); break;
		case '\t': buffer_append(out, "\001t", 2); break;
		case '\r': buffer_append(out, "\001r", 2); break;
		case '\n': buffer_append(out, "\001n", 2); break;
		case '\0': buffer_append(out, "\0010", 2); break;
		default: buffer_append_c(out, p[i]);
		}
	}
}

void ipc_line_append(struct buffer *out, const char *const *fields, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			buffer_append_c(out, '\t');
		ipc_field_append(out, fields[i], strlen(fields[i]));
	}
	buffer_append_c(out, '\n');
}

void ipc_line_appendv(struct buffer *out, const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	for (const char *f = first; f != NULL; f = va_arg(ap, const char *)) {
		if (f != first)
			buffer_append_c(out, '\t');
		ipc_field_append(out, f, strlen(f));
	}
	va_end(ap);
	buffer_append_c(out, '\n');
}

static int unescape_char(char c, char *out_r)
{
	switch (c) {
	case '1': *out_r = '\001'; return 0;
	case 't': *out_r = '\t'; return 0;
	case 'r': *out_r = '\r'; return 0;
	case 'n': *out_r = '\n'; return 0;
	default: return -1;
	}
}

int ipc_line_split(char *line, char **fields, int max_fields, const char **error_r)
{
	int count = 0;
	char *src = line, *dst = line;
	fields[count++] = dst;
	for (;; src++) {
		if (*src == '\0') {
			*dst = '\0';
			return count;
		}
		if (*src == '\t') {
			*dst++ = '\0';
			if (count == max_fields) {
				*error_r = "too many fields";
				return -1;
			}
			fields[count++] = dst;
		} else if (*src == '\001') {
			src++;
			if (unescape_char(*src, dst++) < 0) {
				*error_r = "bad escape sequence";
				return -1;
			}
		} else {
			*dst++ = *src;
		}
	}
}

int ipc_take_line(struct buffer *in, size_t max_len, struct buffer *line_r)
{
	unsigned char *lf = in->len > 0 ? memchr(in->data, '\n', in->len) : NULL;
	if (lf == NULL)
		return in->len > max_len ? -1 : 0;
	size_t len = (size_t)(lf - in->data);
	if (len > max_len)
		return -1;
	size_t keep = len > 0 && in->data[len - 1] == '\r' ? len - 1 : len;
	buffer_truncate(line_r, 0);
	buffer_append(line_r, in->data, keep);
	buffer_consume(in, len + 1);
	return 1;
}
