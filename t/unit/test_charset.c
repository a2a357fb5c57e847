/* Charset aliases and conversion, RFC 2047 words, base64 and QP decoders. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "charset.h"
#include "mime_codec.h"
#include "rfc2047.h"

static char *conv(const char *cs, const char *in, size_t len, int *ret_r)
{
	struct buffer b = BUFFER_INIT;
	int ret = charset_to_utf8(cs, (const unsigned char *)in, len, &b);
	if (ret_r != NULL)
		*ret_r = ret;
	return buffer_steal(&b, NULL);
}

START_TEST(test_charsets)
{
	static const struct { const char *cs, *in, *want; } t[] = {
		{ "iso-8859-1", "caf\xe9", "café" },
		{ "ISO-8859-1", "\xe4\xf6\xfc", "äöü" },
		{ "koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", "Привет" },
		{ "ks_c_5601-1987", "\xc7\xd1\xb1\xdb", "한글" },
		{ "iso-8859-8-i", "\xf9\xec\xe5\xed", "שלום" },
		{ "x-mac-roman", "\x8a", "ä" },
		{ "unicode-1-1-utf-7", "Hi +AOQ-", "Hi ä" },
		{ "utf-8", "ok \xff end", "ok \xef\xbf\xbd end" },
		{ "us-ascii", "plain", "plain" },
		{ "windows-1252", "\x80", "€" },
		{ "gb2312", "\xc4\xe3\xba\xc3", "你好" },
		{ "shift_jis", "\x82\xa0", "あ" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int ret;
		char *s = conv(t[i].cs, t[i].in, strlen(t[i].in), &ret);
		ck_assert_msg(ret == 0, "%s failed", t[i].cs);
		ck_assert_msg(strcmp(s, t[i].want) == 0, "%s: got %s", t[i].cs, s);
		free(s);
	}
	int ret;
	char *s = conv("x-no-such-charset", "a\xc3\xa4\xff", 4, &ret);
	ck_assert_int_eq(ret, -1);
	ck_assert_str_eq(s, "aä\xef\xbf\xbd");
	free(s);
	s = conv("x-unknown", "x", 1, &ret);
	ck_assert_int_eq(ret, -1);
	free(s);
	/* Invalid bytes inside a real charset, truncated at the end. */
	s = conv("shift_jis", "a\x82", 2, &ret);
	ck_assert_str_eq(s, "a\xef\xbf\xbd");
	free(s);
	s = conv("utf-8", "\xe2\x82", 2, NULL);
	ck_assert_str_eq(s, "\xef\xbf\xbd");
	free(s);
	ck_assert(charset_is_utf8("UTF8"));
	ck_assert(!charset_is_utf8("latin1"));
	ck_assert_str_eq(charset_alias("KS_C_5601-1987"), "CP949");
	ck_assert_ptr_null(charset_alias("x-user-defined"));
}
END_TEST

static char *dec2047(const char *in)
{
	struct buffer b = BUFFER_INIT;
	rfc2047_decode((const unsigned char *)in, strlen(in), &b);
	return buffer_steal(&b, NULL);
}

START_TEST(test_rfc2047)
{
	static const struct { const char *in, *want; } t[] = {
		{ "plain text", "plain text" },
		{ "=?UTF-8?B?SGVsbG8g8J+RiyBXb3JsZA==?=", "Hello 👋 World" },
		{ "=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème" },
		{ "=?KOI8-R?B?8NLJ18XU?= =?KOI8-R?B?INPXxdTV?=", "Привет свету" },
		{ "=?utf-8?q?a?= \r\n =?utf-8?q?b?=", "ab" },
		{ "=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b" },
		/* One character split across two words. */
		{ "=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "€" },
		{ "=?utf-8*en?q?lang?=", "lang" },
		{ "pre=?utf-8?q?glued?=post", "pregluedpost" },
		{ "=?utf-8?x?bad?=", "=?utf-8?x?bad?=" },
		{ "=?utf-8?q?unterminated", "=?utf-8?q?unterminated" },
		{ "=?bogus-cs?q?a=FFb?=", "a\xef\xbf\xbd" "b" },
		{ "raw \xe4 latin", "raw \xef\xbf\xbd latin" },
		{ "=?iso-8859-1?q?a?= =?utf-8?q?=C3=A4?=", "aä" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *s = dec2047(t[i].in);
		ck_assert_msg(strcmp(s, t[i].want) == 0, "%s: got %s", t[i].in, s);
		free(s);
	}
	struct buffer b = BUFFER_INIT;
	rfc2047_encode("Ähnlich €", &b);
	char *s = dec2047(buffer_cstr(&b));
	ck_assert_str_eq(s, "Ähnlich €");
	free(s);
	buffer_truncate(&b, 0);
	rfc2047_encode("ascii only", &b);
	ck_assert_str_eq(buffer_cstr(&b), "ascii only");
	/* plain text that looks like an encoded word must not be sent as is
	 * (found by fuzz_rfc2047) */
	buffer_truncate(&b, 0);
	rfc2047_encode("\tsay =?x?q?hi?= twice\t", &b);
	ck_assert_ptr_null(strstr(buffer_cstr(&b), "=?x?q"));
	s = dec2047(buffer_cstr(&b));
	ck_assert_str_eq(s, "\tsay =?x?q?hi?= twice\t");
	free(s);
	buffer_free(&b);
}
END_TEST

static char *decode(void (*fn)(const unsigned char *, size_t, struct buffer *), const char *in)
{
	struct buffer b = BUFFER_INIT;
	fn((const unsigned char *)in, strlen(in), &b);
	return buffer_steal(&b, NULL);
}

START_TEST(test_codecs)
{
	static const struct { const char *in, *want; } b64[] = {
		{ "SGVsbG8=", "Hello" },
		{ "SGVs\r\nbG8", "Hello" },
		{ "S G V s b G 8 = = junk!", "Hello" },
		{ "QQ", "A" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		char *s = decode(mime_base64_decode, b64[i].in);
		ck_assert_str_eq(s, b64[i].want);
		free(s);
	}
	static const struct { const char *in, *want; } qp[] = {
		{ "a=3Db", "a=b" },
		{ "soft=\r\nbreak", "softbreak" },
		{ "soft= \nbreak", "softbreak" },
		{ "trail   \r\nx", "trail\r\nx" },
		{ "bad=zz=4", "bad=zz=4" },
		{ "low=e9", "low\xe9" },
		{ "end=", "end" },
	};
	for (size_t i = 0; i < sizeof(qp) / sizeof(qp[0]); i++) {
		char *s = decode(mime_qp_decode, qp[i].in);
		ck_assert_str_eq(s, qp[i].want);
		free(s);
	}
	char *s = decode(mime_q_decode, "a_b=20c");
	ck_assert_str_eq(s, "a b c");
	free(s);
	struct buffer b = BUFFER_INIT;
	for (size_t n = 0; n < 5; n++) {
		buffer_truncate(&b, 0);
		mime_base64_encode((const unsigned char *)"abcd", n, &b);
		char *d = decode(mime_base64_decode, buffer_cstr(&b));
		ck_assert_uint_eq(strlen(d), n);
		ck_assert(memcmp(d, "abcd", n) == 0);
		free(d);
	}
	buffer_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("charset");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_charsets);
	tcase_add_test(tc, test_rfc2047);
	tcase_add_test(tc, test_codecs);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
