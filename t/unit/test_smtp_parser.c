/* SMTP/LMTP parsing: command verbs, MAIL/RCPT paths and parameters (table
 * cases), and the DATA reader fed whole, byte at a time and in random
 * chunks (dot-unstuffing, bare LF, end detection, size limit). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "pool.h"
#include "smtp_parser.h"

START_TEST(verbs)
{
	const char *args;
	ck_assert_int_eq(smtp_command_parse("LHLO client", &args), SMTP_VERB_LHLO);
	ck_assert_str_eq(args, "client");
	ck_assert_int_eq(smtp_command_parse("mail FROM:<a@b>", &args), SMTP_VERB_MAIL);
	ck_assert_str_eq(args, "FROM:<a@b>");
	ck_assert_int_eq(smtp_command_parse("DATA", &args), SMTP_VERB_DATA);
	ck_assert_str_eq(args, "");
	ck_assert_int_eq(smtp_command_parse("quit", &args), SMTP_VERB_QUIT);
	ck_assert_int_eq(smtp_command_parse("DATAX", &args), SMTP_VERB_UNKNOWN);
	ck_assert_int_eq(smtp_command_parse("", &args), SMTP_VERB_UNKNOWN);
	ck_assert_int_eq(smtp_command_parse(" MAIL", &args), SMTP_VERB_UNKNOWN);
}
END_TEST

static const struct path_case {
	const char *args, *keyword;
	bool allow_null;
	int code;		/* 0: ok */
	const char *address;	/* when ok */
	unsigned int params;
} path_cases[] = {
	{ "FROM:<a@b.test>", "FROM", true, 0, "a@b.test", 0 },
	{ "from:<a@b.test>", "FROM", true, 0, "a@b.test", 0 },
	{ "FROM: <a@b.test>", "FROM", true, 0, "a@b.test", 0 },
	{ "FROM:<>", "FROM", true, 0, "", 0 },
	{ "FROM:<> SIZE=100 BODY=8BITMIME", "FROM", true, 0, "", 2 },
	{ "FROM:a@b.test SIZE=1", "FROM", true, 0, "a@b.test", 1 },
	{ "FROM:<@relay.test,@r2.test:a@b.test>", "FROM", true, 0, "a@b.test", 0 },
	{ "FROM:<\"john doe\"@b.test>", "FROM", true, 0, "\"john doe\"@b.test", 0 },
	{ "FROM:<\"john\"@b.test>", "FROM", true, 0, "john@b.test", 0 },
	{ "FROM:<\"a\\\"q\"@b.test>", "FROM", true, 0, "\"a\\\"q\"@b.test", 0 },
	{ "FROM:<a@[127.0.0.1]>", "FROM", true, 0, "a@[127.0.0.1]", 0 },
	{ "TO:<андрис@уайлддак.орг>", "TO", false, 0, "андрис@уайлддак.орг", 0 },
	{ "TO:<Postmaster>", "TO", false, 0, "postmaster", 0 },
	{ "TO:<a.b+label@c.test.>", "TO", false, 0, "a.b+label@c.test.", 0 },
	{ "TO:<>", "TO", false, 501, NULL, 0 },
	{ "TO <a@b.test>", "TO", false, 501, NULL, 0 },
	{ "TO:", "TO", false, 501, NULL, 0 },
	{ "TO:<a@b.test", "TO", false, 501, NULL, 0 },
	{ "TO:<a@b.test>x", "TO", false, 501, NULL, 0 },
	{ "TO:<\"open@b.test>", "TO", false, 501, NULL, 0 },
	{ "TO:<@relay.test a@b>", "TO", false, 501, NULL, 0 },
	{ "TO:<a@@b.test>", "TO", false, 553, NULL, 0 },
	{ "TO:<a@b..test>", "TO", false, 553, NULL, 0 },
	{ "TO:<a@-b.test>", "TO", false, 553, NULL, 0 },
	{ "TO:<a@b_c.test>", "TO", false, 553, NULL, 0 },
	{ "TO:<.a@b.test>", "TO", false, 553, NULL, 0 },
	{ "TO:<a b@c.test>", "TO", false, 553, NULL, 0 },
	{ "TO:<a@>", "TO", false, 553, NULL, 0 },
	{ "TO:<@b.test>", "TO", false, 501, NULL, 0 },
	{ "TO:<nodomain>", "TO", false, 553, NULL, 0 },
	{ "TO:<a@[1.2.3.4>", "TO", false, 553, NULL, 0 },
	{ "TO:<a@b.test> =x", "TO", false, 555, NULL, 0 },
	{ "TO:<a@b.test> K=", "TO", false, 555, NULL, 0 },
	{ "TO:<a@b.test> K=a=b", "TO", false, 555, NULL, 0 },
	{ "TO:<a@b.test> K=1 k=2", "TO", false, 555, NULL, 0 },
	{ "TO:<a@b.test>  NOTIFY=NEVER  ", "TO", false, 0, "a@b.test", 1 },
};

START_TEST(paths)
{
	const struct path_case *c = &path_cases[_i];
	struct pool *pool = pool_create(256);
	struct smtp_path path;
	int code = 0;
	const char *error = NULL;
	int ret = smtp_path_parse(pool, c->args, c->keyword, c->allow_null, &path, &code, &error);
	if (c->code == 0) {
		ck_assert_msg(ret == 0, "%s: %d %s", c->args, code, error);
		ck_assert_str_eq(path.address, c->address);
		ck_assert_uint_eq(path.params_count, c->params);
	} else {
		ck_assert_msg(ret == -1 && code == c->code, "%s: got %d/%d", c->args, ret, code);
		ck_assert_ptr_nonnull(error);
		ck_assert_int_eq(error[0], c->code / 100 + '0');
	}
	pool_destroy(&pool);
}
END_TEST

START_TEST(params)
{
	struct pool *pool = pool_create(256);
	struct smtp_path path;
	int code;
	const char *error;
	bool present;
	ck_assert_int_eq(smtp_path_parse(pool, "FROM:<a@b> size=10 SMTPUTF8 body=8BITMIME", "FROM",
					 true, &path, &code, &error), 0);
	ck_assert_str_eq(smtp_param_get(&path, "SIZE", NULL), "10");
	ck_assert_ptr_null(smtp_param_get(&path, "SMTPUTF8", &present));
	ck_assert(present);
	ck_assert_ptr_null(smtp_param_get(&path, "RET", &present));
	ck_assert(!present);
	ck_assert(!path.utf8);
	ck_assert_int_eq(smtp_path_parse(pool, "TO:<ä@b>", "TO", false, &path, &code, &error), 0);
	ck_assert(path.utf8);
	pool_destroy(&pool);
}
END_TEST

/* Feeds input in chunks of the given size (0: all at once). */
static size_t feed(const char *in, size_t len, size_t chunk, uint64_t max,
		   struct buffer *out, struct smtp_data *d)
{
	smtp_data_init(d, out, max);
	size_t pos = 0;
	while (pos < len && !d->done) {
		size_t n = chunk == 0 || len - pos < chunk ? len - pos : chunk;
		if (chunk == 0 && rand() % 2 == 0)
			n = (size_t)rand() % (len - pos) + 1;
		pos += smtp_data_feed(d, (const unsigned char *)in + pos, n);
	}
	return pos;
}

static const struct data_case {
	const char *in, *out;
	size_t consumed;	/* 0: all of in */
} data_cases[] = {
	{ "a\r\nb\r\n.\r\n", "a\r\nb\r\n", 0 },
	{ ".\r\n", "", 0 },
	{ "..x\r\n.\r\n", ".x\r\n", 0 },
	{ "...\r\n.\r\n", "..\r\n", 0 },
	{ "a\nb\n.\n", "a\r\nb\r\n", 0 },
	{ "a\r\n.\nNEXT", "a\r\n", 5 },
	{ "a\r\n.\r\nQUIT\r\n", "a\r\n", 6 },
	{ "a\rb\r\n.\r\n", "a\rb\r\n", 0 },
	{ "a\r\r\n.\r\n", "a\r\r\n", 0 },
	{ ".\rx\r\n.\r\n", "\rx\r\n", 0 },
	{ "x.\r\n.y\r\n.\r\n", "x.\r\ny\r\n", 0 },
	{ "no end", "no end", 0 },
	{ "a\r\n. \r\n.\r\n", "a\r\n \r\n", 0 },
};

START_TEST(data)
{
	const struct data_case *c = &data_cases[_i];
	size_t len = strlen(c->in);
	for (size_t chunk = 0; chunk <= 3; chunk++) {
		struct buffer out = BUFFER_INIT;
		struct smtp_data d;
		size_t used = feed(c->in, len, chunk, 1000, &out, &d);
		ck_assert_uint_eq(used, (c->consumed != 0 ? c->consumed : len));
		ck_assert_msg(out.len == strlen(c->out) && memcmp(buffer_cstr(&out), c->out, out.len) == 0,
			      "case %d chunk %zu: got '%s'", _i, chunk, buffer_cstr(&out));
		ck_assert_uint_eq(d.size, strlen(c->out));
		ck_assert(!d.too_big);
		buffer_free(&out);
	}
}
END_TEST

START_TEST(data_size_limit)
{
	struct buffer in = BUFFER_INIT, out = BUFFER_INIT;
	for (int i = 0; i < 1000; i++)
		buffer_append_str(&in, "0123456789abcdefghijklmnopqrstuvwxyz\r\n");
	buffer_append_str(&in, ".\r\nQUIT\r\n");
	struct smtp_data d;
	size_t used = feed((const char *)in.data, in.len, 7, 10000, &out, &d);
	ck_assert(d.done);
	ck_assert(d.too_big);
	ck_assert_uint_eq(used, in.len - 6);
	ck_assert_uint_eq(d.size, 38000);
	ck_assert_uint_eq(out.len, 0);	/* nothing kept past the limit */
	ck_assert_ptr_null(out.data);
	/* exactly at the limit is fine */
	used = feed((const char *)in.data, in.len, 0, 38000, &out, &d);
	ck_assert(d.done && !d.too_big);
	ck_assert_uint_eq(out.len, 38000);
	buffer_free(&out);
	buffer_free(&in);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("smtp_parser");
	TCase *tc = tcase_create("parser");
	tcase_add_test(tc, verbs);
	tcase_add_loop_test(tc, paths, 0, sizeof(path_cases) / sizeof(path_cases[0]));
	tcase_add_test(tc, params);
	tcase_add_loop_test(tc, data, 0, sizeof(data_cases) / sizeof(data_cases[0]));
	tcase_add_test(tc, data_size_limit);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
