/* THREAD (RFC 5256): REFERENCES with missing parents, children before
 * parents, subject grouping, duplicate ids and reference loops; and
 * ORDEREDSUBJECT. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "imap_sort.h"
#include "imap_thread.h"

#define MAX_MSGS 16

struct spec {
	const char *id, *refs[4], *subject;
	int64_t date;
};

/* Builds thread messages numbered 1.. in the given (mailbox) order. */
static char *run(const struct spec *specs, size_t n, bool references)
{
	struct imap_thread_msg msgs[MAX_MSGS];
	char *bases[MAX_MSGS];
	for (size_t i = 0; i < n; i++) {
		size_t refs = 0;
		while (refs < 4 && specs[i].refs[refs] != NULL)
			refs++;
		bases[i] = imap_sort_base_subject(specs[i].subject, &msgs[i].reply);
		for (char *p = bases[i]; *p != '\0'; p++)	/* case-mapped, as the caller must */
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		msgs[i] = (struct imap_thread_msg){
			.number = (uint32_t)i + 1, .seq = (uint32_t)i + 1, .date = specs[i].date,
			.message_id = specs[i].id, .refs = specs[i].refs, .refs_count = refs,
			.subject = bases[i], .reply = msgs[i].reply,
		};
	}
	struct buffer out = BUFFER_INIT;
	if (references)
		imap_thread_references(msgs, n, &out);
	else
		imap_thread_orderedsubject(msgs, n, &out);
	for (size_t i = 0; i < n; i++)
		free(bases[i]);
	buffer_cstr(&out);
	return buffer_steal(&out, NULL);
}

static void threads_are(const struct spec *specs, size_t n, bool references, const char *want)
{
	char *got = run(specs, n, references);
	ck_assert_msg(strcmp(got, want) == 0, "got %s, want %s", got, want);
	free(got);
}

START_TEST(references_basic)
{
	const struct spec s[] = {
		{ "a", { NULL }, "hello", 1 },
		{ "b", { "a" }, "Re: hello", 2 },
		{ "c", { "a" }, "Re: hello", 3 },
		{ "d", { "a", "b" }, "Re: hello", 4 },
		{ "e", { NULL }, "other", 5 },
		{ "f", { "x" }, "Re: lost", 6 },	/* parent x never arrived */
		{ "g", { "x" }, "Re: lost", 7 },
	};
	threads_are(s, 7, true, "(1 (2 4)(3))(5)((6)(7))");
}
END_TEST

START_TEST(references_out_of_order)
{
	/* the reply is in the mailbox first; dates order the parent first */
	const struct spec s[] = {
		{ "b", { "a" }, "Re: t", 2 },
		{ "a", { NULL }, "t", 1 },
		{ "c", { "zz", "a" }, "Re: t", 3 },
	};
	threads_are(s, 3, true, "(2 (1)(3))");
}
END_TEST

START_TEST(references_subjects)
{
	/* no references at all: a reply joins the original, two originals of
	 * one subject become siblings under a dummy */
	const struct spec s[] = {
		{ "p", { NULL }, "party", 1 },
		{ "q", { NULL }, "Re: party", 2 },
		{ "r", { NULL }, "[list] party", 3 },
		{ NULL, { NULL }, "", 4 },
		{ NULL, { NULL }, "", 5 },
	};
	threads_are(s, 5, true, "((1 2)(3))(4)(5)");
}
END_TEST

START_TEST(references_hostile)
{
	/* a duplicate Message-ID gets its own container; a reference loop
	 * does not hang or lose a message */
	const struct spec s[] = {
		{ "a", { "b" }, "one", 1 },
		{ "b", { "a" }, "two", 2 },
		{ "a", { NULL }, "three", 3 },
		{ "c", { "c" }, "four", 4 },
	};
	threads_are(s, 4, true, "(2 1)(3)(4)");
	threads_are(s, 0, true, "");
}
END_TEST

START_TEST(orderedsubject)
{
	const struct spec s[] = {
		{ NULL, { NULL }, "b", 3 },
		{ NULL, { NULL }, "Re: a", 2 },
		{ NULL, { NULL }, "a", 1 },
		{ NULL, { NULL }, "B", 4 },
		{ NULL, { NULL }, "Fwd: a", 5 },
	};
	threads_are(s, 5, false, "(3 (2)(5))(1 4)");
	threads_are(s, 1, false, "(1)");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_thread");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, references_basic);
	tcase_add_test(tc, references_out_of_order);
	tcase_add_test(tc, references_subjects);
	tcase_add_test(tc, references_hostile);
	tcase_add_test(tc, orderedsubject);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
