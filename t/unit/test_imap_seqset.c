/* Sequence sets: valid and invalid syntax, resolving "*", merging,
 * membership, iteration and writing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "imap_seqset.h"
#include "pool.h"

static const struct {
	const char *in;
	uint32_t max;
	const char *resolved;	/* NULL: parse error */
} cases[] = {
	{ "1", 10, "1" },
	{ "1:4,7,9:*", 20, "1:4,7,9:20" },
	{ "*", 5, "5" },
	{ "*", 0, "1" },
	{ "1:*", 0, "1" },
	{ "*:3", 10, "3:10" },
	{ "20:*", 10, "10:20" },		/* RFC 3501: n:* includes the last */
	{ "5:1,3,2,10:12,11,13", 0, "1:5,10:13" },
	{ "4,2,3,1", 0, "1:4" },
	{ "4294967295", 0, "4294967295" },
	{ "1:4294967295,5", 0, "1:4294967295" },
	{ "4294967294,4294967295,1", 0, "1,4294967294:4294967295" },
	{ "0", 0, NULL },
	{ "1:0", 0, NULL },
	{ "01", 0, NULL },
	{ "4294967296", 0, NULL },
	{ "99999999999999999999", 0, NULL },
	{ "", 0, NULL },
	{ ",1", 0, NULL },
	{ "1,", 0, NULL },
	{ "1,,2", 0, NULL },
	{ "1:", 0, NULL },
	{ ":1", 0, NULL },
	{ "1:2:3", 0, NULL },
	{ "$", 0, NULL },
	{ "1,$", 0, NULL },
	{ "1 2", 0, NULL },
	{ "**", 0, NULL },
	{ "-1", 0, NULL },
	{ "ALL", 0, NULL },
};

START_TEST(seqset_table)
{
	struct pool *pool = pool_create(256);
	struct imap_seqset set;
	const char *error;
	int ret = imap_seqset_parse(pool, cases[_i].in, &set, &error);
	ck_assert_int_eq(imap_seqset_is_valid(cases[_i].in), ret == 0);
	if (cases[_i].resolved == NULL) {
		ck_assert_msg(ret < 0, "accepted %s", cases[_i].in);
		ck_assert_ptr_nonnull(error);
	} else {
		ck_assert_msg(ret == 0, "rejected %s: %s", cases[_i].in, error);
		imap_seqset_resolve(&set, cases[_i].max);
		struct buffer out = BUFFER_INIT;
		imap_seqset_write(&set, &out);
		ck_assert_str_eq(buffer_cstr(&out), cases[_i].resolved);
		buffer_free(&out);
	}
	pool_destroy(&pool);
}
END_TEST

START_TEST(seqset_unresolved_write_and_errors)
{
	struct pool *pool = pool_create(256);
	struct imap_seqset set;
	const char *error;
	ck_assert_int_eq(imap_seqset_parse(pool, "9:*,1", &set, &error), 0);
	struct buffer out = BUFFER_INIT;
	imap_seqset_write(&set, &out);
	ck_assert_str_eq(buffer_cstr(&out), "9:*,1");
	buffer_free(&out);
	ck_assert_int_eq(imap_seqset_parse(pool, "1,$", &set, &error), -1);
	ck_assert_str_eq(error, "Search result reference ($) not supported");
	ck_assert_int_eq(imap_seqset_parse(pool, "0:3", &set, &error), -1);
	ck_assert_str_eq(error, "Invalid number 0 in sequence set");
	pool_destroy(&pool);
}
END_TEST

START_TEST(seqset_contains_iterate_count)
{
	struct pool *pool = pool_create(256);
	struct imap_seqset set;
	const char *error;
	ck_assert_int_eq(imap_seqset_parse(pool, "7,1:3,9:*,5", &set, &error), 0);
	imap_seqset_resolve(&set, 10);
	const uint32_t want[] = { 1, 2, 3, 5, 7, 9, 10 };
	for (uint32_t n = 0; n <= 12; n++) {
		bool in = false;
		for (size_t i = 0; i < 7; i++)
			in = in || want[i] == n;
		ck_assert_int_eq(imap_seqset_contains(&set, n), in);
	}
	ck_assert_uint_eq(imap_seqset_count(&set), 7);
	ck_assert_uint_eq(imap_seqset_max(&set), 10);
	struct imap_seqset_iter it;
	uint32_t n;
	size_t i = 0;
	imap_seqset_iter_init(&set, &it);
	while (imap_seqset_next(&set, &it, &n))
		ck_assert_uint_eq(n, want[i++]);
	ck_assert_uint_eq(i, 7);
	imap_seqset_clamp(&set, 6);
	ck_assert_uint_eq(imap_seqset_count(&set), 4);
	ck_assert_uint_eq(imap_seqset_max(&set), 5);
	/* iteration at the top of the number space ends */
	ck_assert_int_eq(imap_seqset_parse(pool, "4294967294:*", &set, &error), 0);
	imap_seqset_resolve(&set, UINT32_MAX);
	imap_seqset_iter_init(&set, &it);
	i = 0;
	while (imap_seqset_next(&set, &it, &n))
		i++;
	ck_assert_uint_eq(i, 2);
	ck_assert_uint_eq(imap_seqset_count(&set), 2);
	ck_assert_int_eq(imap_seqset_parse(pool, "1:4294967295", &set, &error), 0);
	imap_seqset_resolve(&set, 3);
	ck_assert_uint_eq(imap_seqset_count(&set), 4294967295ull);
	ck_assert(imap_seqset_contains(&set, UINT32_MAX));
	ck_assert(!imap_seqset_contains(&set, 0));
	pool_destroy(&pool);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_seqset");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, seqset_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, seqset_unresolved_write_and_errors);
	tcase_add_test(tc, seqset_contains_iterate_count);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
