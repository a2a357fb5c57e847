/* SORT: RFC 5256 base subjects, criteria parsing, keys from a cached
 * ENVELOPE, and the order with REVERSE and sequence-number ties. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "imap_parser.h"
#include "imap_sort.h"

static void base_is(const char *subject, const char *want)
{
	char *got = imap_sort_base_subject(subject, NULL);
	ck_assert_msg(strcmp(got, want) == 0, "%s -> [%s], want [%s]", subject, got, want);
	free(got);
}

START_TEST(base_subjects)
{
	base_is("Hello", "Hello");
	base_is("Re: Hello", "Hello");
	base_is("RE:  re: Fwd: Hello", "Hello");
	base_is("Re[2]: Hello", "Hello");
	base_is("[list] Re: Hello", "Hello");
	base_is("[list] [other] FW: Hello (fwd)", "Hello");
	base_is("Hello (fwd) (FWD)  ", "Hello");
	base_is("[Fwd: Re: Hello]", "Hello");
	base_is("Re: [Fwd: [list] Hello (fwd)]", "Hello");
	base_is("[only a blob]", "[only a blob]");
	base_is("Hello\r\n\tworld", "Hello world");
	base_is("=?utf-8?q?Re=3A_=C3=84rger?=", "\xc3\x84rger");
	base_is("Rebecca: hi", "Rebecca: hi");	/* "re" must be followed by ':' */
	base_is("Re:", "");
	base_is("", "");
	base_is(NULL, "");
}
END_TEST

static struct imap_arg atom(const char *s)
{
	return (struct imap_arg){ .type = IMAP_ARG_ATOM, .str = s, .len = strlen(s) };
}

static int parse(const char *const *names, unsigned int n, struct imap_sort_program *p)
{
	struct imap_arg items[8];
	for (unsigned int i = 0; i < n; i++)
		items[i] = atom(names[i]);
	items[n] = (struct imap_arg){ .type = IMAP_ARG_EOL };
	struct imap_arg list = { .type = IMAP_ARG_LIST, .list = items, .list_count = n };
	const char *error;
	return imap_sort_parse(&list, p, &error);
}

START_TEST(criteria)
{
	struct imap_sort_program p;
	const char *ok[] = { "reverse", "DATE", "subject" };
	ck_assert_int_eq(parse(ok, 3, &p), 0);
	ck_assert_int_eq(p.count, 2);
	ck_assert_int_eq(p.items[0].key, IMAP_SORT_DATE);
	ck_assert(p.items[0].reverse);
	ck_assert_int_eq(p.items[1].key, IMAP_SORT_SUBJECT);
	ck_assert(!p.items[1].reverse);
	const char *bad1[] = { "DATE", "REVERSE" };
	const char *bad2[] = { "REVERSE", "REVERSE", "DATE" };
	const char *bad3[] = { "NAME" };
	ck_assert_int_eq(parse(bad1, 2, &p), -1);
	ck_assert_int_eq(parse(bad2, 3, &p), -1);
	ck_assert_int_eq(parse(bad3, 1, &p), -1);
	ck_assert_int_eq(parse(bad3, 0, &p), -1);
}
END_TEST

static const char *const envelopes[] = {
	"(\"Wed, 1 Jan 2020 00:00:00 +0000\" \"x\" ((\"Zed\" NIL \"bob\" \"b.test\")) NIL NIL "
	"((NIL NIL \"carol\" \"c.test\")) NIL NIL NIL \"<1@x>\")",
	"(NIL NIL ((NIL NIL \"Alice\" \"a.test\")(\"Q\" NIL \"q\" \"q.test\")) NIL NIL "
	"((\"=?utf-8?q?Dan?=\" NIL \"dan\" \"d.test\")) NIL NIL NIL NIL)",
	"(NIL {3}\r\na)b ((\"a\\\"b\" NIL \"adam\" \"a.test\")) NIL NIL NIL NIL NIL NIL NIL)",
	"garbage",
};

START_TEST(keys_and_order)
{
	struct imap_sort_program p;
	const char *crit[] = { "FROM" };
	ck_assert_int_eq(parse(crit, 1, &p), 0);
	struct imap_sort_msg m[4];
	memset(m, 0, sizeof(m));
	for (unsigned int i = 0; i < 4; i++) {
		m[i].seq = i + 1;
		imap_sort_msg_keys(&m[i], &p, envelopes[i], NULL);
	}
	ck_assert_str_eq(m[0].from, "BOB");
	ck_assert_str_eq(m[1].from, "ALICE");
	ck_assert_str_eq(m[2].from, "ADAM");
	ck_assert_str_eq(m[3].from, "");
	imap_sort(&p, m, 4);
	ck_assert_int_eq(m[0].seq, 4);	/* "" first */
	ck_assert_int_eq(m[1].seq, 3);
	ck_assert_int_eq(m[2].seq, 2);
	ck_assert_int_eq(m[3].seq, 1);
	for (unsigned int i = 0; i < 4; i++)
		imap_sort_msg_free(&m[i]);

	const char *disp[] = { "DISPLAYFROM", "DISPLAYTO", "TO" };
	ck_assert_int_eq(parse(disp, 3, &p), 0);
	memset(m, 0, sizeof(m));
	for (unsigned int i = 0; i < 3; i++)
		imap_sort_msg_keys(&m[i], &p, envelopes[i], NULL);
	ck_assert_str_eq(m[0].displayfrom, "ZED");
	ck_assert_str_eq(m[1].displayfrom, "ALICE@A.TEST");
	ck_assert_str_eq(m[2].displayfrom, "A\"B");
	ck_assert_str_eq(m[0].displayto, "CAROL@C.TEST");
	ck_assert_str_eq(m[1].displayto, "DAN");
	ck_assert_str_eq(m[1].to, "DAN");
	ck_assert_str_eq(m[2].to, "");
	for (unsigned int i = 0; i < 3; i++)
		imap_sort_msg_free(&m[i]);

	/* REVERSE applies to its key only; equal keys keep sequence order */
	const char *sz[] = { "REVERSE", "SIZE", "ARRIVAL" };
	ck_assert_int_eq(parse(sz, 3, &p), 0);
	struct imap_sort_msg s[4] = {
		{ .seq = 1, .size = 10, .arrival = 5 }, { .seq = 2, .size = 20, .arrival = 5 },
		{ .seq = 3, .size = 10, .arrival = 4 }, { .seq = 4, .size = 10, .arrival = 5 },
	};
	imap_sort(&p, s, 4);
	ck_assert_int_eq(s[0].seq, 2);
	ck_assert_int_eq(s[1].seq, 3);
	ck_assert_int_eq(s[2].seq, 1);
	ck_assert_int_eq(s[3].seq, 4);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_sort");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, base_subjects);
	tcase_add_test(tc, criteria);
	tcase_add_test(tc, keys_and_order);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
