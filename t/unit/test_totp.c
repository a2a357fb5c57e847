/* TOTP (lib/totp.c): RFC 6238 appendix B vectors (SHA-1), RFC 4226
 * appendix D HOTP values, the ±1 step window, base32 round trips. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "totp.h"

static const unsigned char rfc_key[] = "12345678901234567890";

START_TEST(rfc6238_vectors)
{
	static const struct { long long t; uint32_t code8; } v[] = {
		{ 59, 94287082 }, { 1111111109, 7081804 }, { 1111111111, 14050471 },
		{ 1234567890, 89005924 }, { 2000000000, 69279037 }, { 20000000000LL, 65353130 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t step = totp_step((time_t)v[i].t);
		ck_assert_uint_eq(totp_hotp(rfc_key, 20, step, 8), v[i].code8);
		ck_assert_uint_eq(totp_hotp(rfc_key, 20, step, 6), v[i].code8 % 1000000);
		char code[8];
		snprintf(code, sizeof(code), "%06u", v[i].code8 % 1000000);
		uint64_t got = 0;
		ck_assert_int_eq(totp_verify(rfc_key, 20, code, (time_t)v[i].t, &got), 1);
		ck_assert_uint_eq(got, step);
	}
}
END_TEST

START_TEST(rfc4226_hotp)
{
	static const uint32_t v[] = { 755224, 287082, 359152, 969429, 338314,
				      254676, 287922, 162583, 399871, 520489 };
	for (uint64_t c = 0; c < 10; c++)
		ck_assert_uint_eq(totp_hotp(rfc_key, 20, c, 6), v[c]);
}
END_TEST

START_TEST(window_and_bad_codes)
{
	time_t now = 1111111111;
	uint64_t step = totp_step(now), got;
	char prev[8], next[8], far[8];
	snprintf(prev, 8, "%06u", totp_hotp(rfc_key, 20, step - 1, 6));
	snprintf(next, 8, "%06u", totp_hotp(rfc_key, 20, step + 1, 6));
	snprintf(far, 8, "%06u", totp_hotp(rfc_key, 20, step + 2, 6));
	ck_assert_int_eq(totp_verify(rfc_key, 20, prev, now, &got), 1);
	ck_assert_uint_eq(got, step - 1);
	ck_assert_int_eq(totp_verify(rfc_key, 20, next, now, &got), 1);
	ck_assert_uint_eq(got, step + 1);
	ck_assert_int_eq(totp_verify(rfc_key, 20, far, now, &got), 0);
	ck_assert_int_eq(totp_verify(rfc_key, 20, "12345", now, &got), 0);
	ck_assert_int_eq(totp_verify(rfc_key, 20, "1234567", now, &got), 0);
	ck_assert_int_eq(totp_verify(rfc_key, 20, "12a456", now, &got), 0);
	ck_assert_int_eq(totp_verify(rfc_key, 20, "", now, &got), 0);
	ck_assert_int_eq(totp_verify(rfc_key, 20, NULL, now, &got), 0);
}
END_TEST

START_TEST(base32)
{
	/* RFC 4648 section 10 */
	static const char *const v[][2] = {
		{ "", "" }, { "f", "MY" }, { "fo", "MZXQ" }, { "foo", "MZXW6" },
		{ "foob", "MZXW6YQ" }, { "fooba", "MZXW6YTB" }, { "foobar", "MZXW6YTBOI" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char enc[32];
		unsigned char dec[32];
		size_t len;
		totp_base32_encode((const unsigned char *)v[i][0], strlen(v[i][0]), enc);
		ck_assert_str_eq(enc, v[i][1]);
		ck_assert_int_eq(totp_base32_decode(v[i][1], dec, sizeof(dec), &len), 0);
		ck_assert_uint_eq(len, strlen(v[i][0]));
		ck_assert(memcmp(dec, v[i][0], len) == 0);
	}
	unsigned char dec[8];
	size_t len;
	ck_assert_int_eq(totp_base32_decode("mzxw6===", dec, sizeof(dec), &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(totp_base32_decode("MZ1W", dec, sizeof(dec), &len), -1);
	ck_assert_int_eq(totp_base32_decode("MZXW6YTBOIMZXW6YTBOI", dec, 4, &len), -1);
	/* "12345678901234567890" in base32, as an authenticator app gets it */
	uint64_t got;
	char code[8];
	snprintf(code, 8, "%06u", totp_hotp(rfc_key, 20, totp_step(59), 6));
	ck_assert_int_eq(totp_verify_b32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", code, 59, &got), 1);
	ck_assert_int_eq(totp_verify_b32("not base32!", code, 59, &got), -1);
}
END_TEST

START_TEST(secret_generate)
{
	char a[TOTP_SECRET_B32_LEN + 1], b[TOTP_SECRET_B32_LEN + 1];
	totp_secret_generate(a);
	totp_secret_generate(b);
	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_str_ne(a, b);
	unsigned char key[32];
	size_t len;
	ck_assert_int_eq(totp_base32_decode(a, key, sizeof(key), &len), 0);
	ck_assert_uint_eq(len, 20);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("totp");
	TCase *tc = tcase_create("totp");
	tcase_add_test(tc, rfc6238_vectors);
	tcase_add_test(tc, rfc4226_hotp);
	tcase_add_test(tc, window_and_bad_codes);
	tcase_add_test(tc, base32);
	tcase_add_test(tc, secret_generate);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
