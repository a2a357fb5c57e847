/* Unit tests for lib/address.c: WildDuck-compatible normalisation. */
#include "address.h"
#include "pool.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *in;
	unsigned int flags;
	const char *out; /* NULL: must fail */
} normalize_cases[] = {
	{ "Andris@Example.COM", 0, "andris@example.com" },
	{ "first.last+Label@example.com", 0, "first.last+label@example.com" },
	{ "a@b@example.com", 0, NULL }, /* '@' in an unquoted local part */
	/* ß must stay ß (u8_casefold would give "ss") */
	{ "STRAßE@example.com", 0, "straße@example.com" },
	{ "Straße@Faß.de", 0, "straße@faß.de" },
	/* İ lowercases to i + U+0307 as JS toLowerCase() does */
	{ "\xC4\xB0nfo@example.com", 0, "i\xCC\x87nfo@example.com" },
	/* final sigma: ΟΔΟΣ -> οδος with ς at the end */
	{ "ΟΔΟΣ@example.gr", 0, "οδος@example.gr" },
	/* "." is case-ignorable: the Σ before ".α" is not final (as in JS) */
	{ "ΣΑΣ.Α@example.gr", 0, "σασ.α@example.gr" },
	{ "ΣΑΣ+ΟΔΟΣ@example.gr", 0, "σας+οδος@example.gr" },
	/* NFC: e + combining acute becomes é */
	{ "Jose\xCC\x81@example.com", 0, "jos\xC3\xA9@example.com" },
	/* IDN: punycode input is stored as U-label; case ignored */
	{ "user@XN--FA-HIA.de", 0, "user@faß.de" },
	{ "user@xn--80ak6aa92e.com", 0, "user@аррӏе.com" },
	{ "андрис@уайлддак.орг", 0, "андрис@уайлддак.орг" },
	{ "АНДРИС@УАЙЛДДАК.ОРГ", 0, "андрис@уайлддак.орг" },
	{ "andris@xn--80aalaxjd5d.xn--c1avg", 0, "andris@уайлддак.орг" },
	{ "user@example.com.", 0, "user@example.com" },
	{ "*@example.com", ADDRESS_ALLOW_WILDCARD, "*@example.com" },
	{ "Sales*@Example.com", ADDRESS_ALLOW_WILDCARD, "sales*@example.com" },
	{ "*@example.com", 0, NULL },
	{ "a*b@example.com", ADDRESS_ALLOW_WILDCARD, NULL },
	/* invalid inputs */
	{ "", 0, NULL },
	{ "noatsign", 0, NULL },
	{ "@example.com", 0, NULL },
	{ "user@", 0, NULL },
	{ "us er@example.com", 0, NULL },
	{ "user@exa mple.com", 0, NULL },
	{ "user@example..com", 0, NULL },
	{ "user@-example.com", 0, NULL },
	{ "user@exa!mple.com", 0, NULL },
	{ "\"quoted\"@example.com", 0, NULL },
	{ "a\x01" "b@example.com", 0, NULL },
	{ "bad\xC3@example.com", 0, NULL },
	{ "user@xn--zz-\xFF.com", 0, NULL },
	{ "user@xn--a.com", 0, NULL }, /* decodes to the C1 control U+0080 */
	{ "a\xC2\x85" "b@example.com", 0, NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", 0, NULL },
};

START_TEST(test_normalize_table)
{
	struct pool *pool = pool_create(1024);
	const char *out = NULL, *error = NULL;
	int rc = address_normalize(pool, normalize_cases[_i].in, normalize_cases[_i].flags,
				   &out, &error);
	if (normalize_cases[_i].out == NULL) {
		ck_assert_msg(rc < 0, "case %d '%s' accepted as '%s'", _i,
			      normalize_cases[_i].in, out);
		ck_assert_ptr_nonnull(error);
	} else {
		ck_assert_msg(rc == 0, "case %d '%s' failed: %s", _i,
			      normalize_cases[_i].in, error);
		ck_assert_str_eq(out, normalize_cases[_i].out);
	}
	pool_destroy(&pool);
}
END_TEST

static const struct {
	const char *in, *key, *label;
} key_cases[] = {
	{ "first.last@example.com", "firstlast@example.com", NULL },
	{ "first.last+news@example.com", "firstlast@example.com", "news" },
	{ "f.i.r.s.t+a.b+c@example.com", "first@example.com", "a.b+c" },
	{ "user+@example.com", "user@example.com", "" },
	{ "sales.team*@example.com", "salesteam*@example.com", NULL },
	{ "ан.дрис+тег@уайлддак.орг", "андрис@уайлддак.орг", "тег" },
	{ "user@ex.ample.com", "user@ex.ample.com", NULL },
};

START_TEST(test_delivery_key_table)
{
	struct pool *pool = pool_create(1024);
	const char *key, *label;
	address_delivery_key(pool, key_cases[_i].in, &key, &label);
	ck_assert_str_eq(key, key_cases[_i].key);
	if (key_cases[_i].label == NULL)
		ck_assert_ptr_null(label);
	else
		ck_assert_str_eq(label, key_cases[_i].label);
	pool_destroy(&pool);
}
END_TEST

START_TEST(test_wildcard_split_username)
{
	struct pool *pool = pool_create(1024);
	ck_assert(address_is_wildcard("*@example.com"));
	ck_assert(address_is_wildcard("abc*@example.com"));
	ck_assert(!address_is_wildcard("abc@example.com"));
	ck_assert(!address_is_wildcard("abc"));

	const char *local, *domain, *key, *error;
	ck_assert_str_eq(address_without_dots(pool, "a.b+c.d@e.f"), "ab+cd@e.f");
	ck_assert_str_eq(address_without_dots(pool, "ab"), "ab");
	address_split(pool, "a@b@c.d", &local, &domain);
	ck_assert_str_eq(local, "a@b");
	ck_assert_str_eq(domain, "c.d");

	ck_assert_int_eq(address_username_key(pool, "John.Doe", &key, &error), 0);
	ck_assert_str_eq(key, "johndoe");
	ck_assert_int_eq(address_username_key(pool, "Straße", &key, &error), 0);
	ck_assert_str_eq(key, "straße");
	ck_assert_int_eq(address_username_key(pool, "", &key, &error), -1);
	ck_assert_int_eq(address_username_key(pool, "...", &key, &error), -1);
	ck_assert_int_eq(address_username_key(pool, "a b", &key, &error), -1);

	ck_assert_int_eq(address_normalize_domain(pool, "XN--80AK6AA92E.COM", &domain, &error), 0);
	ck_assert_str_eq(domain, "аррӏе.com");
	ck_assert_int_eq(address_normalize_domain(pool, "", &domain, &error), -1);
	ck_assert_int_eq(address_normalize_domain(pool, "a.", &domain, &error), 0);
	ck_assert_str_eq(domain, "a");
	pool_destroy(&pool);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("address");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_normalize_table, 0,
			    (int)(sizeof(normalize_cases) / sizeof(normalize_cases[0])));
	tcase_add_loop_test(tc, test_delivery_key_table, 0,
			    (int)(sizeof(key_cases) / sizeof(key_cases[0])));
	tcase_add_test(tc, test_wildcard_split_username);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
