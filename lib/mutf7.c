/* Modified UTF-7: printable ASCII stands for itself ("&" as "&-"); every
 * other run of characters is UTF-16BE in base64 (',' for '/', no padding)
 * between "&" and "-". */
#include "mutf7.h"
#include "buffer.h"

#include <stdint.h>
#include <string.h>
#include <unistr.h>

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static bool is_direct(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static void put_bits(struct buffer *out, uint32_t *bits, unsigned int *nbits,
		     uint32_t value, unsigned int n)
{
	*bits = (*bits << n) | value;
	*nbits += n;
	while (*nbits >= 6) {
		*nbits -= 6;
		buffer_append_c(out, (unsigned char)b64[(*bits >> *nbits) & 0x3f]);
	}
	*bits &= (1u << *nbits) - 1;
}

/* Encodes the run of non-direct characters at s; returns its end. */
static const uint8_t *encode_run(const uint8_t *s, const uint8_t *end, struct buffer *out)
{
	uint32_t bits = 0;
	unsigned int nbits = 0;
	buffer_append_c(out, '&');
	while (s < end) {
		ucs4_t c;
		int n = u8_mbtouc(&c, s, (size_t)(end - s));
		if (is_direct(c))
			break;
		s += n;
		if (c >= 0x10000) {
			c -= 0x10000;
			put_bits(out, &bits, &nbits, 0xd800 | (c >> 10), 16);
			put_bits(out, &bits, &nbits, 0xdc00 | (c & 0x3ff), 16);
		} else {
			put_bits(out, &bits, &nbits, c, 16);
		}
	}
	if (nbits > 0)
		buffer_append_c(out, (unsigned char)b64[(bits << (6 - nbits)) & 0x3f]);
	buffer_append_c(out, '-');
	return s;
}

int mutf7_encode(const char *src, size_t len, struct buffer *out, const char **error_r)
{
	const uint8_t *s = (const uint8_t *)src, *end = s + len;
	if (u8_check(s, len) != NULL) {
		*error_r = "Invalid UTF-8";
		return -1;
	}
	if (memchr(s, '\0', len) != NULL) {
		*error_r = "NUL in mailbox name";
		return -1;
	}
	while (s < end) {
		if (*s == '&') {
			buffer_append_str(out, "&-");
			s++;
		} else if (is_direct(*s)) {
			buffer_append_c(out, *s++);
		} else {
			s = encode_run(s, end, out);
		}
	}
	return 0;
}

static int b64_value(unsigned char c)
{
	const char *p = c != '\0' ? memchr(b64, c, 64) : NULL;
	return p == NULL ? -1 : (int)(p - b64);
}

/* Decodes the shifted run after "&" at *sp up to its "-". */
static int decode_run(const char **sp, const char *end, struct buffer *out,
		      const char **error_r)
{
	const char *s = *sp;
	uint32_t bits = 0, high = 0;
	unsigned int nbits = 0, units = 0;
	for (; s < end && *s != '-'; s++) {
		int v = b64_value((unsigned char)*s);
		if (v < 0) {
			*error_r = "Invalid base64 in modified UTF-7";
			return -1;
		}
		bits = (bits << 6) | (uint32_t)v;
		if ((nbits += 6) < 16)
			continue;
		nbits -= 16;
		uint32_t u = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		uint32_t c = u;
		if (high != 0) {
			if (u < 0xdc00 || u > 0xdfff) {
				*error_r = "Invalid UTF-16 surrogate pair in modified UTF-7";
				return -1;
			}
			c = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
			high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
			continue;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			*error_r = "Invalid UTF-16 surrogate in modified UTF-7";
			return -1;
		}
		if (is_direct(c) || c == 0) {
			*error_r = "Non-canonical modified UTF-7 (encoded ASCII)";
			return -1;
		}
		uint8_t tmp[6];
		int n = u8_uctomb(tmp, c, sizeof(tmp));
		buffer_append(out, tmp, (size_t)n);
	}
	if (s == end) {
		*error_r = "Unterminated modified UTF-7 shift";
		return -1;
	}
	if (high != 0) {
		*error_r = "Invalid UTF-16 surrogate in modified UTF-7";
		return -1;
	}
	if (units == 0 || nbits >= 6 || bits != 0) {
		*error_r = "Invalid padding in modified UTF-7";
		return -1;
	}
	*sp = s + 1;
	return 0;
}

static int decode(const char *src, size_t len, struct buffer *out, const char **error_r)
{
	const char *s = src, *end = src + len;
	bool after_run = false;
	while (s < end) {
		unsigned char c = (unsigned char)*s++;
		if (c != '&') {
			if (!is_direct(c)) {
				*error_r = c >= 0x80 ? "8-bit data in modified UTF-7" :
					"Control character in modified UTF-7";
				return -1;
			}
			buffer_append_c(out, c);
			after_run = false;
		} else if (s < end && *s == '-') {
			buffer_append_c(out, '&');
			s++;
			after_run = false;
		} else if (after_run) {
			*error_r = "Non-canonical modified UTF-7 (adjacent shifts)";
			return -1;
		} else {
			if (decode_run(&s, end, out, error_r) < 0)
				return -1;
			after_run = true;
		}
	}
	return 0;
}

int mutf7_decode(const char *src, size_t len, struct buffer *out, const char **error_r)
{
	size_t old_len = out->len;
	if (decode(src, len, out, error_r) < 0) {
		buffer_truncate(out, old_len);
		return -1;
	}
	return 0;
}

bool mutf7_is_valid(const char *src, size_t len)
{
	struct buffer tmp = BUFFER_INIT;
	const char *error;
	int ret = decode(src, len, &tmp, &error);
	buffer_free(&tmp);
	return ret == 0;
}

bool mutf7_utf8_is_valid(const char *src, size_t len)
{
	return u8_check((const uint8_t *)src, len) == NULL;
}
