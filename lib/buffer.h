/* Growable byte buffer and string builder.
 * A buffer always keeps a NUL byte after its contents, so text built in it
 * can be used as a C string; binary data may contain NULs of its own. */
#ifndef WD_BUFFER_H
#define WD_BUFFER_H

#include <stdarg.h>
#include <stddef.h>

struct buffer {
	unsigned char *data;
	size_t len;
	size_t cap;
};

#define BUFFER_INIT { NULL, 0, 0 }

void buffer_init(struct buffer *buf);
/* Releases the memory; the buffer is empty and reusable afterwards. */
void buffer_free(struct buffer *buf);

/* Makes room for n more bytes and returns where they go (len is unchanged). */
unsigned char *buffer_reserve(struct buffer *buf, size_t n);
void buffer_append(struct buffer *buf, const void *data, size_t len);
void buffer_append_str(struct buffer *buf, const char *s);
void buffer_append_c(struct buffer *buf, unsigned char c);
void buffer_printf(struct buffer *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buffer_vprintf(struct buffer *buf, const char *fmt, va_list ap);

/* Sets len to at most new_len (never grows). */
void buffer_truncate(struct buffer *buf, size_t new_len);
/* Removes the first n bytes (all of them if n >= len). */
void buffer_consume(struct buffer *buf, size_t n);
/* The contents as a NUL-terminated string; "" for an empty buffer. */
const char *buffer_cstr(const struct buffer *buf);
/* Hands the memory to the caller (free() it) and empties the buffer. */
char *buffer_steal(struct buffer *buf, size_t *len_r);

#endif
