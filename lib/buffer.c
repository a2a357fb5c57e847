/* Growable byte buffer: doubling growth, always NUL-terminated. */
#include "buffer.h"
#include "mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buffer_init(struct buffer *buf)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}

void buffer_free(struct buffer *buf)
{
	free(buf->data);
	buffer_init(buf);
}

unsigned char *buffer_reserve(struct buffer *buf, size_t n)
{
	/* +1 keeps room for the terminating NUL */
	if (n >= SIZE_MAX / 2 - buf->len)
		xmalloc(SIZE_MAX); /* fatal: cannot be satisfied */
	size_t need = buf->len + n + 1;
	if (need > buf->cap) {
		size_t cap = buf->cap ? buf->cap : 64;
		while (cap < need)
			cap *= 2;
		buf->data = xrealloc(buf->data, cap);
		buf->cap = cap;
	}
	return buf->data + buf->len;
}

void buffer_append(struct buffer *buf, const void *data, size_t len)
{
	unsigned char *p = buffer_reserve(buf, len);
	if (len > 0)
		memcpy(p, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void buffer_append_str(struct buffer *buf, const char *s)
{
	buffer_append(buf, s, strlen(s));
}

void buffer_append_c(struct buffer *buf, unsigned char c)
{
	buffer_append(buf, &c, 1);
}

void buffer_vprintf(struct buffer *buf, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	unsigned char *p = buffer_reserve(buf, (size_t)n);
	vsnprintf((char *)p, (size_t)n + 1, fmt, ap);
	buf->len += (size_t)n;
}

void buffer_printf(struct buffer *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buffer_vprintf(buf, fmt, ap);
	va_end(ap);
}

void buffer_truncate(struct buffer *buf, size_t new_len)
{
	if (new_len < buf->len) {
		buf->len = new_len;
		buf->data[new_len] = '\0';
	}
}

void buffer_consume(struct buffer *buf, size_t n)
{
	if (n >= buf->len) {
		buffer_truncate(buf, 0);
		return;
	}
	memmove(buf->data, buf->data + n, buf->len - n);
	buffer_truncate(buf, buf->len - n);
}

const char *buffer_cstr(const struct buffer *buf)
{
	return buf->data != NULL ? (const char *)buf->data : "";
}

char *buffer_steal(struct buffer *buf, size_t *len_r)
{
	if (buf->data == NULL)
		buffer_reserve(buf, 0), buf->data[0] = '\0';
	char *p = (char *)buf->data;
	if (len_r != NULL)
		*len_r = buf->len;
	buffer_init(buf);
	return p;
}
