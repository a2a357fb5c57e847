/* libFuzzer target for modified UTF-7.  Oracles: whatever decodes
 * re-encodes to exactly the input (one canonical form) and glibc's
 * UTF-7-IMAP decodes it to the same UTF-8; valid UTF-8 always encodes
 * and decodes back. */
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "mutf7.h"

static void check_glibc(const uint8_t *data, size_t size, const struct buffer *utf8)
{
	static iconv_t cd = (iconv_t)-1;
	if (cd == (iconv_t)-1 && (cd = iconv_open("UTF-8", "UTF-7-IMAP")) == (iconv_t)-1)
		return;
	size_t cap = size * 4 + 16;
	char *out = malloc(cap), *op = out, *ip = (char *)data;
	size_t il = size, ol = cap;
	iconv(cd, NULL, NULL, NULL, NULL);
	if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 ||
	    iconv(cd, NULL, NULL, &op, &ol) == (size_t)-1 ||
	    (size_t)(op - out) != utf8->len ||
	    (utf8->len > 0 && memcmp(out, utf8->data, utf8->len) != 0))
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buffer dec = BUFFER_INIT, enc = BUFFER_INIT, dec2 = BUFFER_INIT;
	const char *error;
	if (mutf7_decode((const char *)data, size, &dec, &error) == 0) {
		if (!mutf7_utf8_is_valid(buffer_cstr(&dec), dec.len) ||
		    mutf7_encode(buffer_cstr(&dec), dec.len, &enc, &error) < 0 ||
		    enc.len != size || (size > 0 && memcmp(enc.data, data, size) != 0))
			abort();
		check_glibc(data, size, &dec);
	}
	buffer_truncate(&enc, 0);
	if (mutf7_encode((const char *)data, size, &enc, &error) == 0) {
		if (mutf7_decode(buffer_cstr(&enc), enc.len, &dec2, &error) < 0 ||
		    dec2.len != size || (size > 0 && memcmp(dec2.data, data, size) != 0))
			abort();
	} else if (mutf7_utf8_is_valid((const char *)data, size) &&
		   memchr(data, 0, size) == NULL) {
		abort();
	}
	buffer_free(&dec);
	buffer_free(&enc);
	buffer_free(&dec2);
	return 0;
}
