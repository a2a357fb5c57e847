/* lib/thread: subject normalisation, reference parsing, and thread
 * assignment with children before parents, merges and the subject
 * fallback, on a real index: an SQLite file, or MongoDB with
 * WD_TEST_FTS=mongodb (fts_test.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fts.h"
#include "fts_test.h"
#include "pool.h"
#include "store.h"
#include "thread.h"

static const char *norm(const char *subject, bool *reply_r)
{
	static char out[256];
	struct pool *pool = pool_create(256);
	snprintf(out, sizeof(out), "%s", thread_subject_normalize(pool, subject, reply_r));
	pool_destroy(&pool);
	return out;
}

START_TEST(subjects)
{
	bool reply;
	ck_assert_str_eq(norm("Plan", &reply), "plan");
	ck_assert(!reply);
	ck_assert_str_eq(norm("Re: Plan", &reply), "plan");
	ck_assert(reply);
	ck_assert_str_eq(norm("RE: Fwd: AW:  [list] Plan   for   Monday ", &reply),
			 "plan for monday");
	ck_assert(reply);
	ck_assert_str_eq(norm("Re[2]: Stra\xc3\x9f" "e", &reply), "strasse");
	ck_assert_str_eq(norm("Meeting (fwd)", &reply), "meeting");
	ck_assert(reply);
	ck_assert_str_eq(norm("Reply needed", &reply), "reply needed");
	ck_assert(!reply);
	ck_assert_str_eq(norm(NULL, &reply), "");
	ck_assert_str_eq(norm("Re:", &reply), "");
}
END_TEST

START_TEST(references)
{
	struct pool *pool = pool_create(256);
	const char *ids[4];
	size_t n = 0;
	thread_refs_parse(pool, "<a@x> <b\r\n @x>, junk <no-at> <a@x>", ids, 4, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ids[0], "a@x");
	ck_assert_str_eq(ids[1], "b@x");
	thread_refs_parse(pool, "<c@x><d@x><e@x><f@x>", ids, 4, &n);
	ck_assert_uint_eq(n, 4);
	thread_refs_parse(pool, NULL, ids, 4, &n);
	thread_refs_parse(pool, "<unterminated@x", ids, 4, &n);
	ck_assert_uint_eq(n, 4);
	pool_destroy(&pool);
}
END_TEST

static int merges;
static char merged_from[STORE_ID_SIZE], merged_to[STORE_ID_SIZE];

static int on_merge(const char *from, const char *to, void *ctx)
{
	merges++;
	snprintf(merged_from, sizeof(merged_from), "%s", from);
	snprintf(merged_to, sizeof(merged_to), "%s", to);
	return 0;
}

static void assign(struct fts *fts, const char *user, const char *msgid, const char *irt,
		   const char *refs, const char *subject, char *thread_r)
{
	const char *error;
	struct thread_message m = { user, msgid, irt, refs, subject };
	ck_assert_int_eq(fts_begin(fts, true, &error), 0);
	ck_assert_msg(thread_assign(fts, &m, on_merge, NULL, thread_r, &error) == 0, "%s", error);
	ck_assert_int_eq(fts_commit(fts, &error), 0);
	ck_assert_uint_eq(strlen(thread_r), STORE_ID_SIZE - 1);
}

START_TEST(assignment)
{
	char dir[] = "/tmp/wd-thread-XXXXXX", path[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fts.db", dir);
	struct fts *fts;
	const char *error;
	ck_assert_msg(fts_test_open(path, true, &fts, &error) == 0, "%s", error);
	char c[STORE_ID_SIZE], a[STORE_ID_SIZE], b[STORE_ID_SIZE], x[STORE_ID_SIZE],
		z[STORE_ID_SIZE], y[STORE_ID_SIZE], d[STORE_ID_SIZE], e[STORE_ID_SIZE],
		p[STORE_ID_SIZE], o[STORE_ID_SIZE];
	/* the child first, then its grandparent and parent */
	assign(fts, "u1", "<c@t>", "<b@t>", "<a@t> <b@t>", "Re: Plan", c);
	assign(fts, "u1", "<a@t>", NULL, NULL, "Plan", a);
	assign(fts, "u1", "<b@t>", "<a@t>", "<a@t>", "Re: Plan", b);
	ck_assert_str_eq(a, c);
	ck_assert_str_eq(b, c);
	ck_assert_int_eq(merges, 0);
	/* z names only y; y names x: the two threads merge into the older */
	assign(fts, "u1", "<x@t>", NULL, NULL, "Trip", x);
	assign(fts, "u1", "<z@t>", "<y@t>", "<y@t>", "Re: Trip details", z);
	ck_assert_str_ne(x, z);
	assign(fts, "u1", "<y@t>", "<x@t>", "<x@t>", "Re: Trip", y);
	/* the smaller id (the older, to the second) stays */
	ck_assert_int_eq(merges, 1);
	ck_assert_str_eq(y, strcmp(x, z) < 0 ? x : z);
	ck_assert_str_eq(merged_from, strcmp(x, z) < 0 ? z : x);
	ck_assert_str_eq(merged_to, y);
	/* both sides' references now lead to the merged thread */
	char z2[STORE_ID_SIZE], x2[STORE_ID_SIZE];
	assign(fts, "u1", "<z@t>", "<y@t>", "<y@t>", "Re: Trip details", z2);
	assign(fts, "u1", "<x@t>", NULL, NULL, "Trip", x2);
	ck_assert_str_eq(z2, y);
	ck_assert_str_eq(x2, y);
	/* subject fallback for replies only */
	assign(fts, "u1", "<d@t>", NULL, NULL, "Lunch", d);
	assign(fts, "u1", "<e@t>", NULL, NULL, "RE: lunch", e);
	ck_assert_str_eq(d, e);
	assign(fts, "u1", "<p@t>", NULL, NULL, "Lunch", p);
	ck_assert_str_ne(p, d);
	/* users never share threads */
	assign(fts, "u2", "<a@t>", NULL, NULL, "Plan", o);
	ck_assert_str_ne(o, a);
	/* no Message-ID and no subject: a thread of its own */
	char n1[STORE_ID_SIZE], n2[STORE_ID_SIZE];
	assign(fts, "u1", NULL, NULL, NULL, NULL, n1);
	assign(fts, "u1", NULL, NULL, NULL, NULL, n2);
	ck_assert_str_ne(n1, n2);
	/* applying a message again (after a crash) changes nothing */
	char y2[STORE_ID_SIZE];
	int before = merges;
	assign(fts, "u1", "<y@t>", "<x@t>", "<x@t>", "Re: Trip", y2);
	ck_assert_str_eq(y2, y);
	ck_assert_int_eq(merges, before);
	fts_close(&fts);
	fts_test_drop();
	char cmd[100];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create(fts_test_mongodb() ? "thread [mongodb]" : "thread");
	TCase *tc = tcase_create("thread");
	tcase_add_test(tc, subjects);
	tcase_add_test(tc, references);
	tcase_add_test(tc, assignment);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
