/* IMAP response strings: the form chosen for each input, and a round trip
 * through the command parser for random byte strings. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "imap_parser.h"
#include "imap_write.h"
#include "pool.h"

static const struct {
	const char *in;
	size_t len;
	unsigned int flags;
	const char *string, *astring;
	size_t out_len;	/* 0: strlen() of both */
} cases[] = {
	{ "INBOX", 5, 0, "\"INBOX\"", "INBOX", 0 },
	{ "", 0, 0, "\"\"", "\"\"", 0 },
	{ "NIL", 3, 0, "\"NIL\"", "\"NIL\"", 0 },
	{ "nil", 3, 0, "\"nil\"", "\"nil\"", 0 },
	{ "NILS", 4, 0, "\"NILS\"", "NILS", 0 },
	{ "a b", 3, 0, "\"a b\"", "\"a b\"", 0 },
	{ "q\"b\\", 4, 0, "\"q\\\"b\\\\\"", "\"q\\\"b\\\\\"", 0 },
	{ "a]b[", 4, 0, "\"a]b[\"", "a]b[", 0 },
	{ "a%", 2, 0, "\"a%\"", "\"a%\"", 0 },
	{ "a*", 2, 0, "\"a*\"", "\"a*\"", 0 },
	{ "a(", 2, 0, "\"a(\"", "\"a(\"", 0 },
	{ "a{", 2, 0, "\"a{\"", "\"a{\"", 0 },
	{ "\\Seen", 5, 0, "\"\\\\Seen\"", "\"\\\\Seen\"", 0 },
	{ "a\tb", 3, 0, "\"a\tb\"", "\"a\tb\"", 0 },
	{ "a\r\nb", 4, 0, "{4}\r\na\r\nb", "{4}\r\na\r\nb", 0 },
	{ "a\0b", 3, 0, "{3}\r\na\0b", "{3}\r\na\0b", 8 },
	{ "\xc3\xbc", 2, 0, "{2}\r\n\xc3\xbc", "{2}\r\n\xc3\xbc", 0 },
	{ "\xc3\xbc", 2, IMAP_WRITE_UTF8, "\"\xc3\xbc\"", "\"\xc3\xbc\"", 0 },
	{ "\xc3", 1, IMAP_WRITE_UTF8, "{1}\r\n\xc3", "{1}\r\n\xc3", 0 },
};

START_TEST(write_table)
{
	struct buffer out = BUFFER_INIT;
	imap_write_string(&out, cases[_i].in, cases[_i].len, cases[_i].flags);
	size_t n = cases[_i].out_len != 0 ? cases[_i].out_len : strlen(cases[_i].string);
	ck_assert_uint_eq(out.len, n);
	ck_assert(memcmp(out.data, cases[_i].string, n) == 0);
	buffer_truncate(&out, 0);
	imap_write_astring(&out, cases[_i].in, cases[_i].len, cases[_i].flags);
	n = cases[_i].out_len != 0 ? cases[_i].out_len : strlen(cases[_i].astring);
	ck_assert_uint_eq(out.len, n);
	ck_assert(memcmp(out.data, cases[_i].astring, n) == 0);
	buffer_free(&out);
}
END_TEST

START_TEST(write_nil_long_and_mailbox)
{
	struct buffer out = BUFFER_INIT;
	const char *error;
	imap_write_nstr(&out, NULL, 0);
	buffer_append_c(&out, ' ');
	imap_write_nstr(&out, "x", 0);
	buffer_append_c(&out, ' ');
	imap_write_astr(&out, "Sent", 0);
	buffer_append_c(&out, ' ');
	imap_write_str(&out, "s", 0);
	ck_assert_str_eq(buffer_cstr(&out), "NIL \"x\" Sent \"s\"");
	buffer_truncate(&out, 0);

	char big[IMAP_WRITE_MAX_QUOTED + 1];
	memset(big, 'a', sizeof(big));
	imap_write_string(&out, big, IMAP_WRITE_MAX_QUOTED - 1, 0);
	ck_assert_int_eq(out.data[0], '"');
	buffer_truncate(&out, 0);
	imap_write_string(&out, big, IMAP_WRITE_MAX_QUOTED, 0);
	ck_assert(strncmp(buffer_cstr(&out), "{1000}\r\naaa", 11) == 0);
	buffer_truncate(&out, 0);

	ck_assert_int_eq(imap_write_mailbox(&out, "Entw\xc3\xbcrfe/a b", 0, &error), 0);
	ck_assert_str_eq(buffer_cstr(&out), "\"Entw&APw-rfe/a b\"");
	buffer_truncate(&out, 0);
	ck_assert_int_eq(imap_write_mailbox(&out, "Entw\xc3\xbcrfe", 0, &error), 0);
	ck_assert_str_eq(buffer_cstr(&out), "Entw&APw-rfe");
	buffer_truncate(&out, 0);
	ck_assert_int_eq(imap_write_mailbox(&out, "Entw\xc3\xbcrfe", IMAP_WRITE_UTF8, &error), 0);
	ck_assert_str_eq(buffer_cstr(&out), "\"Entw\xc3\xbcrfe\"");
	buffer_truncate(&out, 0);
	ck_assert_int_eq(imap_write_mailbox(&out, "a\xc3", 0, &error), -1);
	ck_assert_int_eq(imap_write_mailbox(&out, "a\xc3", IMAP_WRITE_UTF8, &error), -1);
	ck_assert_uint_eq(out.len, 0);
	buffer_free(&out);
}
END_TEST

/* Whatever we write, our own parser reads back the same bytes. */
START_TEST(write_parse_roundtrip)
{
	struct imap_parser_settings set;
	imap_parser_settings_init(&set);
	set.utf8 = true;
	struct imap_parser *p = imap_parser_create(&set);
	struct pool *pool = pool_create(1024);
	struct buffer line = BUFFER_INIT;
	char s[64];
	srandom(3);
	for (int round = 0; round < 3000; round++) {
		size_t len = (size_t)(random() % 12);
		static const char alphabet[] = "aZ09 \"\\(){}%*]\r\n\t\0\x7f\xc3\xbc~";
		for (size_t i = 0; i < len; i++)
			s[i] = alphabet[(size_t)random() % (sizeof(alphabet) - 1)];
		unsigned int flags = round % 2 == 0 ? IMAP_WRITE_UTF8 : 0;
		buffer_truncate(&line, 0);
		buffer_append_str(&line, "t X ");
		imap_write_astring(&line, s, len, flags);
		buffer_append_c(&line, ' ');
		imap_write_nstring(&line, s, len, flags);
		buffer_append_str(&line, "\r\n");
		size_t pos = 0, used;
		struct imap_parser_result res;
		const char *error;
		int ret;
		while ((ret = imap_parser_read(p, pool, line.data + pos, line.len - pos, &used,
					       &res, &error)) == IMAP_PARSE_LITERAL) {
			imap_parser_literal_accept(p, false);
			pos += used;
		}
		ck_assert_msg(ret == IMAP_PARSE_COMMAND, "%s: %s", buffer_cstr(&line), error);
		ck_assert_uint_eq(res.args_count, 2);
		for (int a = 0; a < 2; a++) {
			const char *got;
			ck_assert(imap_arg_get_astring(&res.args[a], &got));
			ck_assert_uint_eq(res.args[a].len, len);
			ck_assert(memcmp(got, s, len) == 0);
		}
		pool_clear(pool);
	}
	buffer_free(&line);
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_write");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, write_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, write_nil_long_and_mailbox);
	tcase_add_test(tc, write_parse_roundtrip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
