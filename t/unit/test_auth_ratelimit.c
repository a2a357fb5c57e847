/* In-memory rate limits (auth/auth_ratelimit.c): limit reached within a
 * window, retry-after, expiry, reset, independent keys, memory released. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../auth/auth_ratelimit.h"

START_TEST(window_limit_expiry_reset)
{
	struct ratelimit *rl = ratelimit_create();
	int64_t t = 1000000;
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(ratelimit_check(rl, "u:a", 3, t), 0);
		ratelimit_hit(rl, "u:a", 10000, t + i * 1000);
	}
	ck_assert_uint_eq(ratelimit_check(rl, "u:a", 3, t + 2500), 8); /* ceil(7.5 s) */
	ck_assert_uint_eq(ratelimit_check(rl, "u:a", 4, t + 2500), 0);
	ck_assert_uint_eq(ratelimit_check(rl, "u:b", 3, t + 2500), 0);
	ck_assert_uint_eq(ratelimit_check(rl, "u:a", 3, t + 10000), 0); /* window over */
	ratelimit_hit(rl, "u:a", 10000, t + 10000);
	ck_assert_uint_eq(ratelimit_check(rl, "u:a", 1, t + 10001), 10);
	ratelimit_reset(rl, "u:a");
	ck_assert_uint_eq(ratelimit_check(rl, "u:a", 1, t + 10001), 0);
	ratelimit_free(&rl);
	ck_assert_ptr_null(rl);
}
END_TEST

START_TEST(many_keys_expire)
{
	struct ratelimit *rl = ratelimit_create();
	char key[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "ip:10.0.%d.%d", i / 256, i % 256);
		ratelimit_hit(rl, key, 1000, i / 10);
	}
	ck_assert_uint_gt(ratelimit_count(rl, 1999), 0);
	ck_assert_uint_eq(ratelimit_count(rl, 5000), 0);
	ratelimit_free(&rl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth_ratelimit");
	TCase *tc = tcase_create("ratelimit");
	tcase_add_test(tc, window_limit_expiry_reset);
	tcase_add_test(tc, many_keys_expire);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
