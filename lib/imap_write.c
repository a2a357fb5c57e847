/* IMAP response formatting: the safe representation of a string. */
#include "imap_write.h"
#include "buffer.h"
#include "mutf7.h"

#include <string.h>
#include <strings.h>
#include <unistr.h>

bool imap_write_can_quote(const char *s, size_t len, unsigned int flags)
{
	bool eight_bit = false;
	if (len >= IMAP_WRITE_MAX_QUOTED)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0' || c == '\r' || c == '\n')
			return false;
		eight_bit = eight_bit || c >= 0x80;
	}
	if (!eight_bit)
		return true;
	return (flags & IMAP_WRITE_UTF8) != 0 &&
		u8_check((const uint8_t *)s, len) == NULL;
}

bool imap_write_is_astring_atom(const char *s, size_t len)
{
	if (len == 0 || (len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\", c) != NULL)
			return false;
	}
	return true;
}

void imap_write_quoted(struct buffer *out, const char *s, size_t len)
{
	unsigned char *p = buffer_reserve(out, 2 * len + 2);
	size_t n = 0;
	p[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			p[n++] = '\\';
		p[n++] = (unsigned char)s[i];
	}
	p[n++] = '"';
	out->len += n;
	out->data[out->len] = '\0';
}

void imap_write_literal(struct buffer *out, const char *s, size_t len)
{
	buffer_printf(out, "{%zu}\r\n", len);
	buffer_append(out, s, len);
}

void imap_write_string(struct buffer *out, const char *s, size_t len, unsigned int flags)
{
	if (imap_write_can_quote(s, len, flags))
		imap_write_quoted(out, s, len);
	else
		imap_write_literal(out, s, len);
}

void imap_write_nstring(struct buffer *out, const char *s, size_t len, unsigned int flags)
{
	if (s == NULL)
		buffer_append_str(out, "NIL");
	else
		imap_write_string(out, s, len, flags);
}

void imap_write_astring(struct buffer *out, const char *s, size_t len, unsigned int flags)
{
	if (imap_write_is_astring_atom(s, len))
		buffer_append(out, s, len);
	else
		imap_write_string(out, s, len, flags);
}

void imap_write_str(struct buffer *out, const char *s, unsigned int flags)
{
	imap_write_string(out, s, strlen(s), flags);
}

void imap_write_nstr(struct buffer *out, const char *s, unsigned int flags)
{
	imap_write_nstring(out, s, s == NULL ? 0 : strlen(s), flags);
}

void imap_write_astr(struct buffer *out, const char *s, unsigned int flags)
{
	imap_write_astring(out, s, strlen(s), flags);
}

int imap_write_mailbox(struct buffer *out, const char *name, unsigned int flags,
		       const char **error_r)
{
	size_t len = strlen(name);
	if ((flags & IMAP_WRITE_UTF8) != 0) {
		if (!mutf7_utf8_is_valid(name, len)) {
			*error_r = "Invalid UTF-8";
			return -1;
		}
		imap_write_astring(out, name, len, flags);
		return 0;
	}
	struct buffer enc = BUFFER_INIT;
	if (mutf7_encode(name, len, &enc, error_r) < 0) {
		buffer_free(&enc);
		return -1;
	}
	imap_write_astring(out, (const char *)enc.data, enc.len, flags);
	buffer_free(&enc);
	return 0;
}
