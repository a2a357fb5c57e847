/* Password hashes (lib/password.c): vectors made by independent tools
 * (htpasswd -B of apache2-utils, the argon2 CLI, python3 hashlib for the
 * @phc/pbkdf2 format, the OpenBSD/openwall bcrypt suite), malformed and
 * unknown hashes, hashing and rehash decisions, ASP generation. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "password.h"

static const struct {
	const char *password, *hash;
} good[] = {
	/* htpasswd -nbB -C 5 u 'correct horse' */
	{ "correct horse", "$2y$05$nx1e9vGJ4ty0WE4MQuVueO4K1KbcHZ5PHXoG7gb1.pEa2ZKH.ZTL6" },
	/* htpasswd -nbB -C 4 u 'pässwörd' (UTF-8) */
	{ "p\xc3\xa4ssw\xc3\xb6rd", "$2y$04$RYpYj3Ml4MIB8iuAf4EdGeYqMEyqXet2VnDqUS86f6PKXAtR0Apne" },
	/* openwall crypt_blowfish test vectors ($2a$, as bcryptjs writes) */
	{ "U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW" },
	{ "", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy" },
	{ "U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW" },
	/* python3 hashlib.pbkdf2_hmac, PHC string as @phc/pbkdf2 writes it */
	{ "correct horse", "$pbkdf2-sha512$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$OM0FAoIqCVK1sWtxDiffVlBejt"
	  "La+ks4TP71JiecwuSZCG8iLbnlIEPOMoVX+i2B2wkSxjQ8CRGR9OkNGuIPMQ" },
	{ "correct horse", "$pbkdf2-sha256$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$cBg8D2DungRB9k76szThf5"
	  "ehfyBz991ay6PT8Srwk4M" },
	{ "correct horse", "$pbkdf2-sha1$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$aUfE2vx5Q7zgbb0jx49AaNpXUQQ" },
	{ "p\xc3\xa4ssw\xc3\xb6rd", "$pbkdf2-sha512$i=25000$c2FsdHNhbHRzYWx0c2FsdA$WPv+ALg6XEfRmzy"
	  "R3AYJDwBzjjrFOsKb2yAwhDYcWKZHs8wLpVlbPW19LwyqeunfYldpFGfEL07ipmyYylLtCw" },
	/* echo -n 'correct horse' | argon2 somesaltsalt16 -{id,i,d} -t 2 -m 10 -p 1 -e */
	{ "correct horse", "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHRzYWx0MTY$eMMmCbQNvPlaJzOF6ygB"
	  "/raMyDdXih4xMmOqTD6zUD0" },
	{ "correct horse", "$argon2i$v=19$m=1024,t=2,p=1$c29tZXNhbHRzYWx0MTY$5oVW1JdGqtuI57MIq/110"
	  "OqLi+QTF2JYmmTqIPk45Lw" },
	{ "correct horse", "$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHRzYWx0MTY$AFWKMwhW/ZQbCB7Ut0k2z"
	  "B8wjR3bQeL4q1s8soNXbag" },
};
#define GOOD_COUNT (sizeof(good) / sizeof(good[0]))

START_TEST(vectors_verify)
{
	if (good[_i].hash == NULL)
		return;
	ck_assert_msg(password_verify(good[_i].password, good[_i].hash) == 1, "%s", good[_i].hash);
	/* a wrong password, a changed last character */
	ck_assert_int_eq(password_verify("wrong horse", good[_i].hash), 0);
	char longer[64];
	snprintf(longer, sizeof(longer), "%sx", good[_i].password);
	ck_assert_int_eq(password_verify(longer, good[_i].hash), 0);
	ck_assert_int_ne(password_scheme_of(good[_i].hash), PASSWORD_UNKNOWN);
}
END_TEST

START_TEST(malformed_and_unknown_fail)
{
	static const char *const bad[] = {
		"", "plain", "$1$abc$def", "$6$salt$hash", "$2a$", "$2a$99$xxxxxxxx",
		"$2a$05$short", "$pbkdf2-sha512$", "$pbkdf2-sha512$i=0$MDEy$MDEy",
		"$pbkdf2-sha512$i=1000$$OM0FAoIqCVK1sWtxDiffVlBejt",
		"$pbkdf2-sha512$i=1000$MDEy$!!!!", "$pbkdf2-sha512$i=99999999999$MDEy$MDEyMzQ1Njc4OWFiY2RlZg",
		"$pbkdf2-md5$i=1000$MDEy$MDEyMzQ1Njc4OWFiY2RlZg", "$argon2id$v=19$m=1024",
		"$argon2id$garbage", "$argon2x$v=19$m=1024,t=2,p=1$c29tZQ$c29tZQ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(password_verify("correct horse", bad[i]) == -1, "%s", bad[i]);
	ck_assert_int_eq(password_verify("x", NULL), -1);
	ck_assert_int_eq(password_scheme_of("$6$x"), PASSWORD_UNKNOWN);
}
END_TEST

START_TEST(hash_then_verify_each_scheme)
{
	static const enum password_scheme schemes[] = {
		PASSWORD_BCRYPT, PASSWORD_PBKDF2_SHA512, PASSWORD_PBKDF2_SHA256, PASSWORD_ARGON2ID,
	};
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		struct password_settings set = { schemes[i], 4, 1000 };
		char *h = password_hash(&set, "s\xc3\xa9same");
		ck_assert_ptr_nonnull(h);
		ck_assert_int_eq(password_scheme_of(h), schemes[i]);
		ck_assert_int_eq(password_verify("s\xc3\xa9same", h), 1);
		ck_assert_int_eq(password_verify("sesame", h), 0);
		ck_assert(!password_needs_rehash(&set, h));
		char *h2 = password_hash(&set, "s\xc3\xa9same");
		ck_assert_str_ne(h, h2); /* salted */
		free(h2);
		free(h);
	}
}
END_TEST

START_TEST(rehash_decisions)
{
	struct password_settings bc = { PASSWORD_BCRYPT, 5, 25000 };
	ck_assert(!password_needs_rehash(&bc, good[0].hash)); /* $2y$05 */
	bc.bcrypt_cost = 12;
	ck_assert(password_needs_rehash(&bc, good[0].hash));
	ck_assert(password_needs_rehash(&bc, good[5].hash)); /* pbkdf2 */
	struct password_settings pb = { PASSWORD_PBKDF2_SHA512, 12, 1000 };
	ck_assert(!password_needs_rehash(&pb, good[5].hash));
	pb.pbkdf2_iterations = 25000;
	ck_assert(password_needs_rehash(&pb, good[5].hash));
	ck_assert(password_needs_rehash(&pb, "$argon2id$v=19$m=1024,t=2,p=1$x$y"));
	enum password_scheme s;
	ck_assert_int_eq(password_scheme_parse("pbkdf2-sha256", &s), 0);
	ck_assert_int_eq(s, PASSWORD_PBKDF2_SHA256);
	ck_assert_int_eq(password_scheme_parse("md5", &s), -1);
}
END_TEST

START_TEST(dummy_verify_runs)
{
	struct password_settings set = { PASSWORD_BCRYPT, 4, 1000 };
	password_dummy_verify(&set, "anything");
	password_dummy_verify(&set, "");
}
END_TEST

START_TEST(asp_generate)
{
	char a[PASSWORD_ASP_LEN + 1], b[PASSWORD_ASP_LEN + 1];
	password_asp_generate(a);
	password_asp_generate(b);
	ck_assert_uint_eq(strlen(a), 16);
	for (int i = 0; i < 16; i++)
		ck_assert(a[i] >= 'a' && a[i] <= 'z');
	ck_assert_str_ne(a, b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth_password");
	TCase *tc = tcase_create("password");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, vectors_verify, 0, GOOD_COUNT);
	tcase_add_test(tc, malformed_and_unknown_fail);
	tcase_add_test(tc, hash_then_verify_each_scheme);
	tcase_add_test(tc, rehash_decisions);
	tcase_add_test(tc, dummy_verify_runs);
	tcase_add_test(tc, asp_generate);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
