/* libFuzzer target for header decoding: RFC 2047 encoded words, RFC 2231
 * parameters (mime_parse_params) and the charset decoder.  Oracles: every
 * decoded string is valid UTF-8; a decoded value that is not plain
 * printable ASCII survives rfc2047_encode then rfc2047_decode unchanged;
 * sanitising valid UTF-8 changes nothing.  The first byte picks the
 * charset given to charset_to_utf8.  The same value also goes through the
 * other header-value readers: SORT's base subject (valid UTF-8, never
 * longer than its decoded input) and the Date: parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "charset.h"
#include "imap_sort.h"
#include "mail_date.h"
#include "mime.h"
#include "mutf7.h"
#include "pool.h"
#include "rfc2047.h"

static const char *const charsets[] = {
	"utf-8", "us-ascii", "iso-8859-1", "iso-8859-15", "windows-1252", "koi8-r",
	"iso-2022-jp", "shift_jis", "euc-jp", "gb2312", "gbk", "gb18030", "big5",
	"ks_c_5601-1987", "euc-kr", "utf-16", "utf-16le", "utf-7", "iso-8859-8-i",
	"x-mac-roman", "x-unknown", "x-user-defined", "bogus-charset", "",
	"utf-32", "ucs-2", "tis-620", "cp1250", "iso-8859-2", "viscii", "hz-gb-2312",
	"utf8",
};

static void check_utf8(const struct buffer *b)
{
	if (b->len > 0 && !mutf7_utf8_is_valid((const char *)b->data, b->len))
		abort();
}

static bool printable_ascii(const struct buffer *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] < 0x20 || b->data[i] > 0x7e)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *cs = charsets[data[0] % (sizeof(charsets) / sizeof(charsets[0]))];
	data++;
	size--;

	struct buffer dec = BUFFER_INIT, enc = BUFFER_INIT, dec2 = BUFFER_INIT;
	rfc2047_decode(data, size, &dec);
	check_utf8(&dec);
	if (!printable_ascii(&dec) && memchr(dec.data, '\0', dec.len) == NULL) {
		rfc2047_encode(buffer_cstr(&dec), &enc);
		rfc2047_decode(enc.data, enc.len, &dec2);
		if (dec2.len != dec.len || memcmp(dec2.data, dec.data, dec.len) != 0)
			abort();
	}

	buffer_truncate(&dec2, 0);
	charset_to_utf8(cs, data, size, &dec2);
	check_utf8(&dec2);
	buffer_truncate(&enc, 0);
	charset_utf8_sanitize(dec2.data, dec2.len, &enc);
	if (enc.len != dec2.len || (enc.len > 0 && memcmp(enc.data, dec2.data, enc.len) != 0))
		abort();

	int64_t when;
	(void)mail_date_parse((const char *)data, size, &when);
	if (memchr(data, '\0', size) == NULL) {
		char *subject = malloc(size + 1); /* not strndup: strict_string_checks */
		memcpy(subject, data, size);
		subject[size] = '\0';
		char *base = imap_sort_base_subject(subject, NULL);
		if (!mutf7_utf8_is_valid(base, strlen(base)) || strlen(base) > dec.len)
			abort();
		free(base);
		free(subject);
	}

	/* the input as a Content-Disposition and Content-Type value with RFC
	 * 2231 parameters: the filename comes out as UTF-8 */
	if (memchr(data, '\0', size) == NULL && memchr(data, '\n', size) == NULL) {
		char *value = malloc(size + 1);
		memcpy(value, data, size);
		value[size] = '\0';
		struct pool *pool = pool_create(1024);
		char *token;
		struct mime_param *params;
		mime_parse_params(pool, value, &token, &params);
		for (struct mime_param *p = params; p != NULL; p = p->next)
			if (p->name == NULL || p->value == NULL)
				abort();
		struct buffer msg = BUFFER_INIT;
		buffer_append_str(&msg, "Content-Type: application/x-fuzz; ");
		buffer_append(&msg, data, size);
		buffer_append_str(&msg, "\r\nContent-Disposition: ");
		buffer_append(&msg, data, size);
		buffer_append_str(&msg, "\r\n\r\nbody\r\n");
		struct mime_message *m;
		mime_parse(msg.data, msg.len, &m);
		char *name = mime_part_filename(pool, m->root);
		if (name != NULL && !mutf7_utf8_is_valid(name, strlen(name)))
			abort();
		mime_message_free(&m);
		buffer_free(&msg);
		pool_destroy(&pool);
		free(value);
	}
	buffer_free(&dec);
	buffer_free(&enc);
	buffer_free(&dec2);
	return 0;
}
