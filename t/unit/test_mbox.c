/* lib/mbox.c: the mboxrd form of one message (From_ line, LF line ends,
 * >From escaping, the blank line after). */
#include <check.h>
#include <string.h>

#include "buffer.h"
#include "mbox.h"

static const char *mboxrd(const char *raw, long long idate, struct buffer *out)
{
	buffer_truncate(out, 0);
	mbox_append_message(out, (const unsigned char *)raw, strlen(raw), idate);
	return buffer_cstr(out);
}

START_TEST(escapes_and_line_ends)
{
	struct buffer b = BUFFER_INIT;
	ck_assert_str_eq(mboxrd("Return-Path: <bounce@a.test>\r\nFrom: X <x@b.test>\r\n\r\n"
				"From here\r\n>From there\r\n>>From far\r\nFromage\r\n"
				" From not at the start\r\nlast", 0, &b),
			 "From bounce@a.test Thu Jan  1 00:00:00 1970\n"
			 "Return-Path: <bounce@a.test>\nFrom: X <x@b.test>\n\n"
			 ">From here\n>>From there\n>>>From far\nFromage\n"
			 " From not at the start\nlast\n\n");
	/* without Return-Path: the address of From:; without either: MAILER-DAEMON */
	ck_assert_str_eq(mboxrd("From: Y <y@c.test>\n\nbody\n", 86400, &b),
			 "From y@c.test Fri Jan  2 00:00:00 1970\nFrom: Y <y@c.test>\n\nbody\n\n");
	ck_assert_str_eq(mboxrd("Subject: none\r\n\r\n", 0, &b),
			 "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nSubject: none\n\n\n");
	buffer_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mbox");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, escapes_and_line_ends);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
