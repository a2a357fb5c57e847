/* Encoded words (RFC 2047, with the RFC 2231 "*lang" charset suffix). */
#include "rfc2047.h"
#include "charset.h"
#include "mime_codec.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

struct encoded_word {
	size_t end;			/* offset just after "?=" */
	char charset[64];
	char enc;			/* 'B' or 'Q' */
	const unsigned char *text;
	size_t text_len;
};

/* Parses "=?charset?X?text?=" starting at in[pos]. */
static bool parse_word(const unsigned char *in, size_t len, size_t pos,
		       struct encoded_word *w)
{
	if (pos + 2 > len || in[pos] != '=' || in[pos + 1] != '?')
		return false;
	size_t p = pos + 2, cs = p;
	while (p < len && in[p] != '?' && in[p] > ' ' && in[p] < 0x7f)
		p++;
	if (p == cs || p >= len || p - cs >= sizeof(w->charset) || p + 3 > len)
		return false;
	memcpy(w->charset, in + cs, p - cs);
	w->charset[p - cs] = '\0';
	char *star = strchr(w->charset, '*');	/* RFC 2231 language */
	if (star != NULL)
		*star = '\0';
	char e = (char)(in[p + 1] & ~0x20);
	if ((e != 'B' && e != 'Q') || in[p + 2] != '?')
		return false;
	w->enc = e;
	/* Words are at most 75 bytes; allow far more, but bound the search
	 * so a value full of "=?" stays linear. */
	size_t t = p + 3;
	for (size_t q = t; q + 1 < len && q < t + 4096; q++) {
		if (in[q] == '?' && in[q + 1] == '=') {
			w->text = in + t;
			w->text_len = q - t;
			w->end = q + 2;
			return true;
		}
		if (in[q] == '\r' || in[q] == '\n')
			return false;
	}
	return false;
}

static void flush(struct buffer *pending, const char *charset, struct buffer *out)
{
	if (pending->len > 0)
		charset_to_utf8(charset, pending->data, pending->len, out);
	buffer_truncate(pending, 0);
}

void rfc2047_decode(const unsigned char *in, size_t len, struct buffer *out)
{
	struct buffer pending = BUFFER_INIT;
	char pending_cs[64] = "";
	size_t pos = 0, text_start = 0;
	bool last_was_word = false;

	while (pos < len) {
		struct encoded_word w;
		if (in[pos] != '=' || !parse_word(in, len, pos, &w)) {
			pos++;
			continue;
		}
		/* Text between words: dropped if it is only whitespace. */
		bool only_ws = true;
		for (size_t i = text_start; i < pos; i++) {
			if (in[i] != ' ' && in[i] != '\t' && in[i] != '\r' && in[i] != '\n')
				only_ws = false;
		}
		if (!(last_was_word && only_ws) && pos > text_start) {
			flush(&pending, pending_cs, out);
			charset_utf8_sanitize(in + text_start, pos - text_start, out);
		}
		if (strcasecmp(w.charset, pending_cs) != 0)
			flush(&pending, pending_cs, out);
		memcpy(pending_cs, w.charset, sizeof(pending_cs));
		if (w.enc == 'B')
			mime_base64_decode(w.text, w.text_len, &pending);
		else
			mime_q_decode(w.text, w.text_len, &pending);
		pos = text_start = w.end;
		last_was_word = true;
	}
	flush(&pending, pending_cs, out);
	if (len > text_start)
		charset_utf8_sanitize(in + text_start, len - text_start, out);
	buffer_free(&pending);
}

void rfc2047_encode(const char *s, struct buffer *out)
{
	size_t len = strlen(s);
	/* text that contains "=?" could be read back as an encoded word */
	bool plain = strstr(s, "=?") == NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x7f || (c < ' ' && c != '\t'))
			plain = false;
	}
	if (plain || len == 0) {
		buffer_append(out, s, len);
		return;
	}
	/* Chunks of at most 45 bytes (60 base64 chars), cut on character
	 * boundaries so each word decodes on its own. */
	size_t i = 0;
	while (i < len) {
		size_t n = len - i > 45 ? 45 : len - i;
		while (n > 1 && i + n < len && ((unsigned char)s[i + n] & 0xC0) == 0x80)
			n--;
		if (i > 0)
			buffer_append_c(out, ' ');
		buffer_append_str(out, "=?UTF-8?B?");
		mime_base64_encode((const unsigned char *)s + i, n, out);
		buffer_append_str(out, "?=");
		i += n;
	}
}
