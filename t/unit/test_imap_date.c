/* IMAP date and date-time: valid and invalid forms and the written form. */
#include <check.h>
#include <string.h>

#include "buffer.h"
#include "imap_date.h"

START_TEST(date_search_forms)
{
	time_t t;
	const char *error;
	ck_assert_int_eq(imap_date_parse("1-Feb-1994", &t, &error), 0);
	ck_assert_int_eq(t, 760060800);
	ck_assert_int_eq(imap_date_parse("01-feb-1994", &t, &error), 0);
	ck_assert_int_eq(t, 760060800);
	ck_assert_int_eq(imap_date_parse("29-Feb-2000", &t, &error), 0);
	const char *bad[] = { "", "1-Feb-94", "0-Feb-1994", "29-Feb-1900", "31-Apr-2020",
			      "1-Foo-1994", "1 Feb 1994", "123-Feb-1994", "1-Feb-1994 ",
			      "\"1-Feb-1994\"", "1-Feb-19x4", "-1-Feb-1994" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(imap_date_parse(bad[i], &t, &error) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(date_time_forms)
{
	time_t t;
	int tz;
	const char *error;
	struct buffer out = BUFFER_INIT;
	ck_assert_int_eq(imap_date_parse_datetime("17-Jul-1996 02:44:25 -0700", &t, &tz,
						  &error), 0);
	ck_assert_int_eq(t, 837596665);
	ck_assert_int_eq(tz, -420);
	imap_date_write_datetime(&out, t, tz);
	ck_assert_str_eq(buffer_cstr(&out), "17-Jul-1996 02:44:25 -0700");
	buffer_truncate(&out, 0);
	ck_assert_int_eq(imap_date_parse_datetime(" 7-Jul-1996 02:44:25 +0530", &t, &tz,
						  &error), 0);
	ck_assert_int_eq(tz, 330);
	imap_date_write_datetime(&out, t, tz);
	ck_assert_str_eq(buffer_cstr(&out), "07-Jul-1996 02:44:25 +0530");
	buffer_truncate(&out, 0);
	imap_date_write_datetime(&out, 0, 0);
	ck_assert_str_eq(buffer_cstr(&out), "01-Jan-1970 00:00:00 +0000");
	const char *bad[] = { "7-Jul-1996 02:44:25 -0700", "17-Jul-1996 24:00:00 +0000",
			      "17-Jul-1996 02:60:00 +0000", "17-Jul-1996 02:44:25 +0060",
			      "17-Jul-1996 02:44:25 0700", "17-Jul-1996 02:44:25", "17-Jul-1996",
			      "17-Jul-1996 02:44:25 -0700 ", "17-Jul-1996  2:44:25 -0700",
			      "31-Jun-1996 02:44:25 -0700", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(imap_date_parse_datetime(bad[i], &t, &tz, &error) == -1,
			      "accepted %s", bad[i]);
	buffer_free(&out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_date");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, date_search_forms);
	tcase_add_test(tc, date_time_forms);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
