/* IPC framing: escaping round trips, malformed frames, line extraction. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

START_TEST(roundtrip_special_bytes)
{
	const char *fields[] = { "AUTH", "17", "tab\there", "nl\nand\rcr", "esc\001ape", "", "plain" };
	struct buffer out = BUFFER_INIT;
	ipc_line_append(&out, fields, 7);
	ck_assert_int_eq(out.data[out.len - 1], '\n');
	/* the only raw TABs are separators and the only LF is the end */
	ck_assert_ptr_null(memchr(out.data, '\n', out.len - 1));
	ck_assert_ptr_null(memchr(out.data, '\r', out.len));
	char *line = strndup((char *)out.data, out.len - 1), *f[IPC_MAX_FIELDS];
	const char *error;
	ck_assert_int_eq(ipc_line_split(line, f, IPC_MAX_FIELDS, &error), 7);
	for (int i = 0; i < 7; i++)
		ck_assert_str_eq(f[i], fields[i]);
	free(line);
	buffer_free(&out);
}
END_TEST

START_TEST(appendv_matches_append)
{
	struct buffer a = BUFFER_INIT, b = BUFFER_INIT;
	const char *fields[] = { "OK", "1", "x\ty" };
	ipc_line_append(&a, fields, 3);
	ipc_line_appendv(&b, "OK", "1", "x\ty", NULL);
	ck_assert_str_eq(buffer_cstr(&a), buffer_cstr(&b));
	ck_assert_str_eq(buffer_cstr(&a), "OK\t1\tx\001ty\n");
	buffer_free(&a);
	buffer_free(&b);
}
END_TEST

START_TEST(bad_escapes_rejected)
{
	const char *bad[] = { "A\001", "A\001x", "A\t\001\t", "pass\0010word" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *line = strdup(bad[i]), *f[8];
		const char *error = NULL;
		ck_assert_int_eq(ipc_line_split(line, f, 8, &error), -1);
		ck_assert_ptr_nonnull(error);
		free(line);
	}
}
END_TEST

START_TEST(too_many_fields)
{
	char line[] = "a\tb\tc\td", *f[3];
	const char *error = NULL;
	ck_assert_int_eq(ipc_line_split(line, f, 3, &error), -1);
	char ok[] = "a\tb\tc", *g[3];
	ck_assert_int_eq(ipc_line_split(ok, g, 3, &error), 3);
	char empty[] = "", *h[3];
	ck_assert_int_eq(ipc_line_split(empty, h, 3, &error), 1);
	ck_assert_str_eq(h[0], "");
}
END_TEST

START_TEST(take_line_incremental)
{
	struct buffer in = BUFFER_INIT, line = BUFFER_INIT;
	const char *stream = "STATUS\t1\r\nRELOAD\t2\nST";
	/* byte at a time: lines appear exactly when their LF arrives */
	int lines = 0;
	for (size_t i = 0; stream[i] != '\0'; i++) {
		buffer_append(&in, &stream[i], 1);
		int r = ipc_take_line(&in, 100, &line);
		ck_assert_int_ge(r, 0);
		if (r == 1) {
			lines++;
			ck_assert_str_eq(buffer_cstr(&line), lines == 1 ? "STATUS\t1" : "RELOAD\t2");
		}
	}
	ck_assert_int_eq(lines, 2);
	ck_assert_str_eq(buffer_cstr(&in), "ST");
	buffer_free(&in);
	buffer_free(&line);
}
END_TEST

START_TEST(take_line_too_long)
{
	struct buffer in = BUFFER_INIT, line = BUFFER_INIT;
	for (int i = 0; i < 200; i++)
		buffer_append_c(&in, 'x');
	ck_assert_int_eq(ipc_take_line(&in, 100, &line), -1);
	buffer_append_c(&in, '\n');
	ck_assert_int_eq(ipc_take_line(&in, 100, &line), -1);
	ck_assert_int_eq(ipc_take_line(&in, 1000, &line), 1);
	ck_assert_uint_eq(line.len, 200);
	buffer_free(&in);
	buffer_free(&line);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("framing");
	tcase_add_test(tc, roundtrip_special_bytes);
	tcase_add_test(tc, appendv_matches_append);
	tcase_add_test(tc, bad_escapes_rejected);
	tcase_add_test(tc, too_many_fields);
	tcase_add_test(tc, take_line_incremental);
	tcase_add_test(tc, take_line_too_long);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
