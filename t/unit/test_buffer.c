/* Buffers and pools: growth, termination, consume, steal; pool blocks. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "pool.h"

START_TEST(buffer_grows_and_terminates)
{
	struct buffer b = BUFFER_INIT;
	ck_assert_str_eq(buffer_cstr(&b), "");
	for (int i = 0; i < 10000; i++)
		buffer_printf(&b, "%d,", i % 10);
	ck_assert_uint_eq(b.len, 20000);
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert_uint_ge(b.cap, b.len + 1);
	buffer_append(&b, "\0x", 2); /* binary data keeps its NUL */
	ck_assert_uint_eq(b.len, 20002);
	ck_assert_int_eq(b.data[20000], '\0');
	buffer_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(buffer_consume_truncate_steal)
{
	struct buffer b = BUFFER_INIT;
	buffer_append_str(&b, "hello world");
	buffer_consume(&b, 6);
	ck_assert_str_eq(buffer_cstr(&b), "world");
	buffer_truncate(&b, 3);
	ck_assert_str_eq(buffer_cstr(&b), "wor");
	buffer_truncate(&b, 10); /* never grows */
	ck_assert_uint_eq(b.len, 3);
	buffer_consume(&b, 99);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(buffer_cstr(&b), "");
	buffer_append_c(&b, 'z');
	size_t len;
	char *s = buffer_steal(&b, &len);
	ck_assert_str_eq(s, "z");
	ck_assert_uint_eq(len, 1);
	ck_assert_ptr_null(b.data);
	free(s);
	s = buffer_steal(&b, &len); /* an empty buffer still gives a string */
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(pool_alloc_aligned_zeroed)
{
	struct pool *p = pool_create(256);
	for (int i = 1; i < 2000; i++) {
		unsigned char *m = pool_alloc(p, (size_t)(i % 97) + 1);
		ck_assert_uint_eq((uintptr_t)m % _Alignof(max_align_t), 0);
		for (int j = 0; j < i % 97 + 1; j++)
			ck_assert_int_eq(m[j], 0);
		memset(m, 0xff, (size_t)(i % 97) + 1);
	}
	char *big = pool_alloc(p, 1 << 20); /* larger than a block */
	big[(1 << 20) - 1] = 'x';
	ck_assert_str_eq(pool_strdup(p, "abc"), "abc");
	ck_assert_str_eq(pool_strndup(p, "abcdef", 3), "abc");
	ck_assert_str_eq(pool_printf(p, "%d-%s", 42, "x"), "42-x");
	pool_clear(p);
	ck_assert_uint_eq(pool_used(p), 0);
	ck_assert_str_eq(pool_strdup(p, "again"), "again");
	pool_destroy(&p);
	ck_assert_ptr_null(p);
	pool_destroy(&p); /* NULL is fine */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buffer");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, buffer_grows_and_terminates);
	tcase_add_test(tc, buffer_consume_truncate_steal);
	tcase_add_test(tc, pool_alloc_aligned_zeroed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
