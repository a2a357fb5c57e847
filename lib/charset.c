/* Charset conversion: alias table, iconv, and UTF-8 sanitising.  Not a
 * general encoding detector: a label we cannot open is read as UTF-8. */
#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>
#include <unistr.h>

/* Labels seen in mail that glibc iconv does not know (LIBRARIES.md B). */
static const struct {
	const char *label, *iconv_name;
} aliases[] = {
	{ "ks_c_5601-1987", "CP949" },
	{ "ks_c_5601-1989", "CP949" },
	{ "ks_c_5601", "CP949" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "iso-8859-8-e", "ISO-8859-8" },
	{ "iso-8859-6-i", "ISO-8859-6" },
	{ "iso-8859-6-e", "ISO-8859-6" },
	{ "x-mac-roman", "MACINTOSH" },
	{ "macintosh", "MACINTOSH" },
	{ "unicode-1-1-utf-7", "UTF-7" },
	{ "x-unicode20utf8", "UTF-8" },
	{ "unicode-1-1-utf-8", "UTF-8" },
	{ "x-sjis", "SHIFT_JIS" },
	{ "x-euc-jp", "EUC-JP" },
	{ "x-gbk", "GBK" },
	{ "gb2312", "GB18030" },	/* mailers label GBK/GB18030 text as gb2312 */
	{ "x-cp1250", "CP1250" },
	{ "x-cp1251", "CP1251" },
	{ "windows-874", "CP874" },
	{ "tis-620", "TIS-620" },
	{ "x-unknown", NULL },
	{ "x-user-defined", NULL },
	{ "unknown-8bit", NULL },
};

const char *charset_alias(const char *label)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcasecmp(label, aliases[i].label) == 0)
			return aliases[i].iconv_name;
	}
	return label;
}

bool charset_is_utf8(const char *label)
{
	const char *name = charset_alias(label);
	if (name == NULL)
		return false;
	return strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0 ||
	       strcasecmp(name, "us-ascii") == 0 || strcasecmp(name, "ascii") == 0;
}

static const unsigned char replacement[] = { 0xEF, 0xBF, 0xBD };

void charset_utf8_sanitize(const unsigned char *in, size_t len, struct buffer *out)
{
	size_t pos = 0;
	while (pos < len) {
		/* u8_check returns the first invalid position, or NULL. */
		const uint8_t *bad = u8_check(in + pos, len - pos);
		size_t good = bad == NULL ? len - pos : (size_t)(bad - (in + pos));
		buffer_append(out, in + pos, good);
		pos += good;
		if (bad == NULL)
			break;
		/* Skip one byte, or the whole truncated sequence at the end. */
		ucs4_t uc;
		int n = u8_mbtoucr(&uc, in + pos, len - pos);
		buffer_append(out, replacement, sizeof(replacement));
		pos += n == -2 ? len - pos : 1;
	}
}

static void convert(iconv_t cd, const unsigned char *in, size_t len,
		    struct buffer *out)
{
	char *inp = (char *)in;
	size_t inleft = len;
	while (inleft > 0) {
		size_t room = inleft * 4 + 16;
		char *outp = (char *)buffer_reserve(out, room);
		size_t outleft = room;
		size_t r = iconv(cd, &inp, &inleft, &outp, &outleft);
		out->len += room - outleft;
		out->data[out->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		buffer_append(out, replacement, sizeof(replacement));
		if (errno == EINVAL)	/* truncated sequence at the end */
			break;
		inp++;			/* EILSEQ: skip one byte */
		inleft--;
	}
	/* Flush shift states (UTF-7, ISO-2022-*). */
	char tail[32], *outp = tail;
	size_t outleft = sizeof(tail);
	iconv(cd, NULL, NULL, &outp, &outleft);
	buffer_append(out, tail, sizeof(tail) - outleft);
}

int charset_to_utf8(const char *charset, const unsigned char *in, size_t len,
		    struct buffer *out)
{
	const char *name = charset == NULL ? "us-ascii" : charset_alias(charset);
	if (name != NULL && charset_is_utf8(name)) {
		charset_utf8_sanitize(in, len, out);
		return 0;
	}
	iconv_t cd = name == NULL ? (iconv_t)-1 : iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1) {
		charset_utf8_sanitize(in, len, out);
		return -1;
	}
	size_t start = out->len;
	convert(cd, in, len, out);
	iconv_close(cd);
	/* Some converters (UTF-7 in particular) may let invalid output pass:
	 * make sure what we hand on is valid. */
	if (u8_check(out->data + start, out->len - start) != NULL) {
		struct buffer tmp = BUFFER_INIT;
		charset_utf8_sanitize(out->data + start, out->len - start, &tmp);
		buffer_truncate(out, start);
		buffer_append(out, tmp.data, tmp.len);
		buffer_free(&tmp);
	}
	return 0;
}
