/* Modified UTF-7: canonical and rejected forms, round trips, and the
 * encoder cross-checked against glibc's UTF-7-IMAP converter. */
#include <check.h>
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "mutf7.h"

static const struct { const char *utf8, *mutf7; } good[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "a&b", "a&-b" },
	{ "&", "&-" },
	{ "&&", "&-&-" },
	{ "Entwürfe", "Entw&APw-rfe" },
	{ "Entwürfe/日本", "Entw&APw-rfe/&ZeVnLA-" },
	{ "äö", "&AOQA9g-" },
	{ "ä&ö", "&AOQ-&-&APY-" },
	{ "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "😀", "&2D3eAA-" },
	{ "x😀y€", "x&2D3eAA-y&IKw-" },
	{ "tab\there", "tab&AAk-here" },
	{ "Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-" },
};

static const char *const bad[] = {
	"&AGE-",		/* encoded "a" */
	"&ACY-",		/* encoded "&" */
	"&APw",			/* unterminated */
	"Entw&APw",
	"&APw-&AOQ-",		/* adjacent shifts */
	"&APx-",		/* padding bits not zero */
	"&APwA-",		/* a surplus sextet */
	"&AP-",			/* too few bits for a unit */
	"&-&",			/* a lone "&" at the end */
	"&A.w-",		/* not base64 */
	"&AP/-",		/* "/" is not in the modified alphabet */
	"&2D0-",		/* lone high surrogate */
	"&3gA-",		/* lone low surrogate */
	"&2D3YPQ-",		/* high followed by high */
	"&AAA-",		/* U+0000 */
	"Entw\xc3\xbcrfe",	/* raw 8-bit */
	"a\tb",			/* raw control */
	"a\x7f",
};

START_TEST(mutf7_good_forms)
{
	struct buffer out = BUFFER_INIT;
	const char *error;
	const char *u = good[_i].utf8, *m = good[_i].mutf7;
	ck_assert_int_eq(mutf7_encode(u, strlen(u), &out, &error), 0);
	ck_assert_str_eq(buffer_cstr(&out), m);
	buffer_truncate(&out, 0);
	ck_assert_msg(mutf7_decode(m, strlen(m), &out, &error) == 0, "%s: %s", m, error);
	ck_assert_str_eq(buffer_cstr(&out), u);
	ck_assert(mutf7_is_valid(m, strlen(m)));
	buffer_free(&out);
}
END_TEST

START_TEST(mutf7_bad_forms)
{
	struct buffer out = BUFFER_INIT;
	const char *error = NULL;
	buffer_append_str(&out, "keep");
	ck_assert_msg(mutf7_decode(bad[_i], strlen(bad[_i]), &out, &error) < 0,
		      "accepted %s", bad[_i]);
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(buffer_cstr(&out), "keep"); /* unchanged on error */
	ck_assert(!mutf7_is_valid(bad[_i], strlen(bad[_i])));
	buffer_free(&out);
}
END_TEST

START_TEST(mutf7_encode_rejects_bad_utf8)
{
	struct buffer out = BUFFER_INIT;
	const char *error;
	const char *bad8[] = { "\xc3", "\xed\xa0\x80", "\xff", "\xc0\xaf", "\xf4\x90\x80\x80" };
	for (size_t i = 0; i < sizeof(bad8) / sizeof(bad8[0]); i++) {
		ck_assert_int_eq(mutf7_encode(bad8[i], strlen(bad8[i]), &out, &error), -1);
		ck_assert(!mutf7_utf8_is_valid(bad8[i], strlen(bad8[i])));
	}
	ck_assert_int_eq(mutf7_encode("a\0b", 3, &out, &error), -1);
	ck_assert_uint_eq(out.len, 0);
	ck_assert(mutf7_utf8_is_valid("Entw\xc3\xbcrfe", 9));
	buffer_free(&out);
}
END_TEST

/* Random valid UTF-8 (BMP, astral, ASCII incl. "&") round-trips, and the
 * encoding equals glibc's UTF-7-IMAP output. */
START_TEST(mutf7_random_roundtrip_and_iconv)
{
	iconv_t cd = iconv_open("UTF-7-IMAP", "UTF-8");
	ck_assert_msg(cd != (iconv_t)-1, "glibc lacks UTF-7-IMAP");
	srandom(7);
	struct buffer in = BUFFER_INIT, enc = BUFFER_INIT, dec = BUFFER_INIT;
	const char *error;
	for (int round = 0; round < 5000; round++) {
		buffer_truncate(&in, 0);
		int n = (int)(random() % 12);
		for (int i = 0; i < n; i++) {
			uint32_t c;
			switch (random() % 4) {
			case 0: c = 0x20 + (uint32_t)(random() % 0x5f); break;
			case 1: c = 0x80 + (uint32_t)(random() % 0x780); break;
			case 2: c = 0x800 + (uint32_t)(random() % 0xf000); break;
			default: c = 0x10000 + (uint32_t)(random() % 0x100000); break;
			}
			if (c >= 0xd800 && c <= 0xdfff)
				c = 0x26;
			if (c < 0x80) {
				buffer_append_c(&in, (unsigned char)c);
			} else if (c < 0x800) {
				buffer_append_c(&in, (unsigned char)(0xc0 | (c >> 6)));
				buffer_append_c(&in, (unsigned char)(0x80 | (c & 0x3f)));
			} else if (c < 0x10000) {
				buffer_append_c(&in, (unsigned char)(0xe0 | (c >> 12)));
				buffer_append_c(&in, (unsigned char)(0x80 | ((c >> 6) & 0x3f)));
				buffer_append_c(&in, (unsigned char)(0x80 | (c & 0x3f)));
			} else {
				buffer_append_c(&in, (unsigned char)(0xf0 | (c >> 18)));
				buffer_append_c(&in, (unsigned char)(0x80 | ((c >> 12) & 0x3f)));
				buffer_append_c(&in, (unsigned char)(0x80 | ((c >> 6) & 0x3f)));
				buffer_append_c(&in, (unsigned char)(0x80 | (c & 0x3f)));
			}
		}
		buffer_truncate(&enc, 0);
		buffer_truncate(&dec, 0);
		ck_assert_int_eq(mutf7_encode((char *)in.data, in.len, &enc, &error), 0);
		ck_assert_msg(mutf7_decode((char *)enc.data, enc.len, &dec, &error) == 0,
			      "%s: %s", buffer_cstr(&enc), error);
		ck_assert_uint_eq(dec.len, in.len);
		ck_assert(memcmp(dec.data, in.data, in.len) == 0);

		char glibc[512], *ip = (char *)in.data, *op = glibc;
		size_t il = in.len, ol = sizeof(glibc);
		iconv(cd, NULL, NULL, NULL, NULL);
		ck_assert_int_ne((int)iconv(cd, &ip, &il, &op, &ol), -1);
		ck_assert_int_ne((int)iconv(cd, NULL, NULL, &op, &ol), -1);
		ck_assert_msg((size_t)(op - glibc) == enc.len &&
			      memcmp(glibc, enc.data, enc.len) == 0,
			      "ours %s, glibc %.*s", buffer_cstr(&enc), (int)(op - glibc), glibc);
	}
	iconv_close(cd);
	buffer_free(&in);
	buffer_free(&enc);
	buffer_free(&dec);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mutf7");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, mutf7_good_forms, 0, (int)(sizeof(good) / sizeof(good[0])));
	tcase_add_loop_test(tc, mutf7_bad_forms, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, mutf7_encode_rejects_bad_utf8);
	tcase_add_test(tc, mutf7_random_roundtrip_and_iconv);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
