/* POP3 dot-stuffing of messages read in chunks: the known forms (dots,
 * bare LF, bare and trailing CR, TOP's line count) and the same output
 * wherever the chunks split the message. */
#include <check.h>
#include <string.h>

#include "buffer.h"
#include "../../pop3/pop3.h"

static void stuff(const char *in, size_t chunk, int top, struct buffer *out)
{
	struct pop3_stuffer st;
	pop3_stuffer_init(&st, top);
	size_t len = strlen(in);
	for (size_t i = 0; i < len; i += chunk)
		if (!pop3_stuff_chunk(&st, out, (const unsigned char *)in + i,
				      len - i < chunk ? len - i : chunk))
			break;
	pop3_stuff_end(&st, out);
}

static const struct {
	const char *in;
	int top;
	const char *out;
} cases[] = {
	{ "", -1, ".\r\n" },
	{ "a: b\r\n\r\nbody\r\n", -1, "a: b\r\n\r\nbody\r\n.\r\n" },
	{ "a: b\n\n.\n..x\nend", -1, "a: b\r\n\r\n..\r\n...x\r\nend\r\n.\r\n" },
	{ "a: b\r\n\r\nx\ry\r\nlast\r", -1, "a: b\r\n\r\nx\ry\r\nlast\r\n.\r\n" },
	{ "a: b\r\n.c: d\r\n\r\n1\r\n2\r\n3\r\n", 2, "a: b\r\n..c: d\r\n\r\n1\r\n2\r\n.\r\n" },
	{ "a: b\r\n\r\n1\r\n2\r\n", 0, "a: b\r\n\r\n.\r\n" },
	{ "a: b\r\n\r\n1\r\n", 5, "a: b\r\n\r\n1\r\n.\r\n" },
	{ "no header end\r\nx", 0, "no header end\r\nx\r\n.\r\n" },
};

START_TEST(stuff_forms)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);
		for (size_t chunk = 1; chunk <= len + 1; chunk++) {
			struct buffer out = BUFFER_INIT;
			stuff(cases[i].in, chunk, cases[i].top, &out);
			ck_assert_msg(out.len == strlen(cases[i].out) &&
				      memcmp(out.data, cases[i].out, out.len) == 0,
				      "case %zu chunk %zu: [%.*s]", i, chunk, (int)out.len,
				      (const char *)out.data);
			buffer_free(&out);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pop3_stuff");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, stuff_forms);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
