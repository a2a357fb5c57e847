/* Base64 and quoted-printable decoders, tolerant of what real mail contains.
 * Encoders are minimal: only what the IMAP output needs. */
#include "mime_codec.h"

#include <string.h>
#include <strings.h>

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')	/* '-' and '_': the URL-safe alphabet */
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

void mime_base64_decode(const unsigned char *in, size_t len, struct buffer *out)
{
	unsigned int acc = 0, n = 0;
	unsigned char *dst = buffer_reserve(out, len / 4 * 3 + 3);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);
		if (in[i] == '=' && n >= 2)
			break;	/* padding ends the data, as in Node's decoder */
		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned int)v;
		if (++n == 4) {
			dst[o++] = (unsigned char)(acc >> 16);
			dst[o++] = (unsigned char)(acc >> 8);
			dst[o++] = (unsigned char)acc;
			acc = 0;
			n = 0;
		}
	}
	if (n == 2) {
		dst[o++] = (unsigned char)(acc >> 4);
	} else if (n == 3) {
		dst[o++] = (unsigned char)(acc >> 10);
		dst[o++] = (unsigned char)(acc >> 2);
	}
	out->len += o;
	out->data[out->len] = '\0';
}

void mime_base64_encode(const unsigned char *in, size_t len, struct buffer *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char *dst = buffer_reserve(out, (len + 2) / 3 * 4);
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned int v = (unsigned int)in[i] << 16 | (unsigned int)in[i + 1] << 8 | in[i + 2];
		dst[o++] = alphabet[v >> 18];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
		dst[o++] = alphabet[v & 63];
	}
	if (i < len) {
		unsigned int v = (unsigned int)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)in[i + 1] << 8;
		dst[o++] = alphabet[v >> 18];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		dst[o++] = '=';
	}
	out->len += o;
	out->data[out->len] = '\0';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes "=XX" at in[i]; returns the bytes consumed (3) or 0. */
static size_t qp_escape(const unsigned char *in, size_t len, size_t i,
			struct buffer *out)
{
	if (i + 2 >= len)
		return 0;
	int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
	if (hi < 0 || lo < 0)
		return 0;
	buffer_append_c(out, (unsigned char)(hi << 4 | lo));
	return 3;
}

void mime_qp_decode(const unsigned char *in, size_t len, struct buffer *out)
{
	size_t i = 0;
	buffer_reserve(out, len);
	while (i < len) {
		/* Find the line, and its content without trailing whitespace. */
		const unsigned char *nl = memchr(in + i, '\n', len - i);
		size_t line_end = nl == NULL ? len : (size_t)(nl - in);
		size_t end = line_end;
		if (end > i && in[end - 1] == '\r')
			end--;
		size_t eol = end;
		while (end > i && (in[end - 1] == ' ' || in[end - 1] == '\t'))
			end--;
		bool soft = end > i && in[end - 1] == '=';
		if (soft)
			end--;
		while (i < end) {
			size_t n = in[i] == '=' ? qp_escape(in, end, i, out) : 0;
			if (n == 0)
				buffer_append_c(out, in[i++]);
			else
				i += n;
		}
		if (!soft && nl != NULL)
			buffer_append(out, in + eol, line_end + 1 - eol);
		i = nl == NULL ? len : line_end + 1;
	}
}

void mime_q_decode(const unsigned char *in, size_t len, struct buffer *out)
{
	for (size_t i = 0; i < len;) {
		size_t n = in[i] == '=' ? qp_escape(in, len, i, out) : 0;
		if (n > 0) {
			i += n;
			continue;
		}
		buffer_append_c(out, in[i] == '_' ? ' ' : in[i]);
		i++;
	}
}

void mime_transfer_decode(const char *encoding, const unsigned char *in,
			  size_t len, struct buffer *out)
{
	if (encoding != NULL && strcasecmp(encoding, "base64") == 0)
		mime_base64_decode(in, len, out);
	else if (encoding != NULL && strcasecmp(encoding, "quoted-printable") == 0)
		mime_qp_decode(in, len, out);
	else
		buffer_append(out, in, len);
}
