/* lib/fts: exact substring answers over folded text (no match across
 * pieces, GLOB characters taken literally, Unicode case), replace and
 * remove, re-index passes, positions, counts, read snapshots (SQLite) or
 * idempotent writes (MongoDB), thread listings and moves; folding and HTML
 * to text; and lib/fts_indexer's extraction of a parsed message. Runs on
 * SQLite, and on MongoDB with WD_TEST_FTS=mongodb (fts_test.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer.h"
#include "fts.h"
#include "fts_test.h"
#include "fts_indexer.h"
#include "mime.h"
#include "mime_text.h"
#include "pool.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/wd-fts-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fts.db", dir);
}

static void teardown(void)
{
	fts_test_drop();
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct fts *open_index(void)
{
	struct fts *fts;
	const char *error;
	ck_assert_msg(fts_test_open(path, true, &fts, &error) == 0, "%s", error);
	return fts;
}

/* Adds a message whose body is the folded text. */
static void add(struct fts *fts, const char *mailbox, uint32_t uid, const char *user,
		const char *subject, const char *body)
{
	char *fs = fts_fold(subject, strlen(subject), NULL);
	char *fb = fts_fold(body, strlen(body), NULL);
	struct fts_doc doc = { .user = user, .message = "m", .thread = "t" };
	doc.fields[FTS_SUBJECT] = fs;
	doc.fields[FTS_HEADERS] = fs;
	doc.fields[FTS_BODY] = fb;
	const char *error;
	ck_assert_msg(fts_add(fts, mailbox, uid, &doc, &error) == 0, "%s", error);
	free(fs);
	free(fb);
}

/* The uids matching, as "1,2,3". */
static const char *query(struct fts *fts, const char *mailbox, enum fts_field field,
			 const char *str)
{
	static char out[256];
	char *folded = fts_fold(str, strlen(str), NULL);
	ck_assert_ptr_nonnull(folded);
	ck_assert_msg(fts_query_usable(folded), "%s not usable", str);
	uint32_t *uids;
	size_t count;
	const char *error;
	ck_assert_msg(fts_query(fts, mailbox, field, folded, &uids, &count, &error) == 0, "%s",
		      error);
	out[0] = '\0';
	for (size_t i = 0; i < count; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? "," : "", uids[i]);
	free(uids);
	free(folded);
	return out;
}

START_TEST(exact_substrings)
{
	struct fts *fts = open_index();
	add(fts, "mb1", 1, "u1", "Hello", "abcXbcd");
	add(fts, "mb1", 2, "u1", "Hi", "xxABCDxx and *star* [x]");
	add(fts, "mb1", 3, "u1", "Straße", "MÜNCHEN ΣΊΣΥΦΟΣ\nline two");
	add(fts, "mb2", 1, "u2", "Hello", "abcd");
	/* trigrams abc and bcd in message 1 are not one substring */
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "abcd"), "2");
	ck_assert_str_eq(query(fts, "mb2", FTS_BODY, "ABCD"), "1");
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "*star*"), "2");
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "[x]"), "2");
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "a?d"), "");
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "münchen"), "3");
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "σίσυφος"), "3");
	ck_assert_str_eq(query(fts, "mb1", FTS_SUBJECT, "STRASSE"), "3");
	ck_assert_str_eq(query(fts, "mb1", FTS_TEXT, "hello"), "1");
	ck_assert_str_eq(query(fts, "mb1", FTS_TEXT, "xbcd"), "1");
	ck_assert_str_eq(query(fts, "mb1", FTS_FROM, "hello"), "");
	fts_close(&fts);
	ck_assert_ptr_null(fts);
}
END_TEST

START_TEST(usable_strings)
{
	ck_assert(!fts_query_usable("ab"));
	ck_assert(!fts_query_usable("\xc3\xbc\xc3\xbc")); /* two code points, four bytes */
	ck_assert(fts_query_usable("\xc3\xbc\xc3\xbc\xc3\xbc"));
	ck_assert(!fts_query_usable("one\ntwo")); /* FTS_SEP joins pieces */
	ck_assert(!fts_query_usable("\xff\xfe\xfd"));
	ck_assert(fts_query_usable("abc"));
}
END_TEST

START_TEST(replace_remove_count)
{
	struct fts *fts = open_index();
	const char *error;
	add(fts, "mb1", 1, "u1", "s", "first version");
	add(fts, "mb1", 1, "u1", "s", "second version");
	add(fts, "mb1", 2, "u1", "s", "other");
	add(fts, "mb9", 1, "u2", "s", "second");
	uint64_t n;
	ck_assert_int_eq(fts_count(fts, "u1", &n, &error), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "first"), "");
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "second"), "1");
	ck_assert_int_eq(fts_remove(fts, "mb1", 1, &error), 0);
	ck_assert_int_eq(fts_remove(fts, "mb1", 77, &error), 0);
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "second"), "");
	uint32_t *uids;
	size_t count;
	ck_assert_int_eq(fts_indexed(fts, "mb1", &uids, &count, &error), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(uids[0], 2);
	free(uids);
	/* a deleted mailbox: its messages go, the user's others stay */
	add(fts, "mb2", 1, "u1", "s", "second in mb2");
	add(fts, "mb2", 2, "u1", "s", "more");
	ck_assert_int_eq(fts_remove_mailbox(fts, "u1", "mb2", &error), 0);
	ck_assert_int_eq(fts_remove_mailbox(fts, "u1", "mb2", &error), 0);
	ck_assert_int_eq(fts_indexed(fts, "mb2", &uids, &count, &error), 0);
	ck_assert_uint_eq(count, 0);
	free(uids);
	ck_assert_str_eq(query(fts, "mb2", FTS_BODY, "second"), "");
	ck_assert_int_eq(fts_count(fts, "u1", &n, &error), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(fts_remove_user(fts, "u1", &error), 0);
	ck_assert_int_eq(fts_count(fts, NULL, &n, &error), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(query(fts, "mb9", FTS_BODY, "second"), "1");
	fts_close(&fts);
}
END_TEST

START_TEST(positions_and_transactions)
{
	struct fts *fts = open_index();
	const char *error;
	int64_t pos;
	bool found;
	uint64_t n;
	ck_assert_int_eq(fts_position_get(fts, "u1", &pos, &found, &error), 0);
	ck_assert(!found);
	if (fts_transactional(fts)) {
		ck_assert_str_eq(fts_backend_name(fts), "sqlite");
		ck_assert_int_eq(fts_begin(fts, true, &error), 0);
		ck_assert_int_eq(fts_position_set(fts, "u1", 42, &error), 0);
		add(fts, "mb1", 1, "u1", "s", "rolled back");
		fts_rollback(fts);
		ck_assert_int_eq(fts_position_get(fts, "u1", &pos, &found, &error), 0);
		ck_assert(!found);
		ck_assert_int_eq(fts_count(fts, NULL, &n, &error), 0);
		ck_assert_uint_eq(n, 0);
	} else {
		/* a batch is no transaction: what was written stays, and
		 * writing it again changes nothing */
		ck_assert_str_eq(fts_backend_name(fts), "mongodb");
		ck_assert_int_eq(fts_begin(fts, true, &error), 0);
		add(fts, "mb1", 1, "u1", "s", "kept");
		fts_rollback(fts);
		add(fts, "mb1", 1, "u1", "s", "kept");
		ck_assert_int_eq(fts_count(fts, NULL, &n, &error), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_int_eq(fts_remove(fts, "mb1", 1, &error), 0);
		ck_assert_int_eq(fts_remove(fts, "mb1", 1, &error), 0);
		ck_assert_int_eq(fts_count(fts, NULL, &n, &error), 0);
		ck_assert_uint_eq(n, 0);
	}
	ck_assert_int_eq(fts_begin(fts, true, &error), 0);
	ck_assert_int_eq(fts_position_set(fts, "u1", 42, &error), 0);
	ck_assert_int_eq(fts_position_set(fts, "u1", 43, &error), 0);
	ck_assert_int_eq(fts_commit(fts, &error), 0);
	/* a second handle (another process) sees the committed state */
	struct fts *reader;
	ck_assert_int_eq(fts_test_open(path, false, &reader, &error), 0);
	ck_assert_int_eq(fts_position_get(reader, "u1", &pos, &found, &error), 0);
	ck_assert(found);
	ck_assert_int_eq(pos, 43);
	/* a re-index may set it back: entries after it are applied again */
	ck_assert_int_eq(fts_position_set(fts, "u1", 40, &error), 0);
	ck_assert_int_eq(fts_position_get(reader, "u1", &pos, &found, &error), 0);
	ck_assert_int_eq(pos, 40);
	ck_assert_int_eq(fts_position_clear(fts, "u1", &error), 0);
	ck_assert_int_eq(fts_position_get(reader, "u1", &pos, &found, &error), 0);
	ck_assert(!found);
	fts_close(&reader);
	fts_close(&fts);
}
END_TEST

START_TEST(reindex_pass)
{
	struct fts *fts = open_index();
	const char *error;
	add(fts, "mb1", 1, "u1", "s", "old one");
	add(fts, "mb1", 2, "u1", "s", "old two, expunged since");
	add(fts, "mb9", 1, "u2", "s", "old other user");
	ck_assert_int_eq(fts_begin(fts, true, &error), 0);
	ck_assert_int_eq(fts_reindex_start(fts, "u1", &error), 0);
	add(fts, "mb1", 1, "u1", "s", "new one");
	add(fts, "mb1", 3, "u1", "s", "new three");
	ck_assert_int_eq(fts_reindex_finish(fts, "u1", &error), 0);
	ck_assert_int_eq(fts_commit(fts, &error), 0);
	uint64_t n;
	ck_assert_int_eq(fts_count(fts, "u1", &n, &error), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "new"), "1,3");
	ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "old"), "");
	ck_assert_str_eq(query(fts, "mb9", FTS_BODY, "old"), "1");
	/* adds after the pass are not marked by it and stay */
	add(fts, "mb1", 4, "u1", "s", "later");
	ck_assert_int_eq(fts_count(fts, "u1", &n, &error), 0);
	ck_assert_uint_eq(n, 3);
	fts_close(&fts);
}
END_TEST

/* Adds a message of a thread. */
static void add_threaded(struct fts *fts, const char *mailbox, uint32_t uid, const char *thread)
{
	struct fts_doc doc = { .user = "u1", .message = "m", .thread = thread };
	doc.fields[FTS_BODY] = "text";
	const char *error;
	ck_assert_msg(fts_add(fts, mailbox, uid, &doc, &error) == 0, "%s", error);
}

static char listed[512];

static int list_row(const struct fts_thread_row *row, void *ctx)
{
	int64_t *last = ctx;
	snprintf(listed + strlen(listed), sizeof(listed) - strlen(listed), "%s%s=%llu@%s:%u",
		 listed[0] != '\0' ? " " : "", row->thread, (unsigned long long)row->messages,
		 row->mailbox, row->uid);
	*last = row->last;
	return 0;
}

static const char *list_threads(struct fts *fts, int64_t cursor, unsigned int limit,
				int64_t *last_r)
{
	const char *error;
	listed[0] = '\0';
	ck_assert_msg(fts_threads(fts, "u1", cursor, limit, list_row, last_r, &error) == 0, "%s",
		      error);
	return listed;
}

static char moved[256];

static int doc_row(const char *mailbox, uint32_t uid, void *ctx)
{
	snprintf(moved + strlen(moved), sizeof(moved) - strlen(moved), "%s%s:%u",
		 moved[0] != '\0' ? " " : "", mailbox, uid);
	return 0;
}

START_TEST(thread_listing_and_moves)
{
	struct fts *fts = open_index();
	const char *error;
	int64_t last = 0;
	add_threaded(fts, "mb1", 1, "ta");
	add_threaded(fts, "mb1", 2, "tb");
	add_threaded(fts, "mb1", 3, "ta");
	add_threaded(fts, "mb2", 1, "tc");
	/* the thread with the latest indexed message first, with that message */
	ck_assert_str_eq(list_threads(fts, 0, 10, &last), "tc=1@mb2:1 ta=2@mb1:3 tb=1@mb1:2");
	ck_assert_str_eq(list_threads(fts, 0, 2, &last), "tc=1@mb2:1 ta=2@mb1:3");
	ck_assert_str_eq(list_threads(fts, last, 2, &last), "tb=1@mb1:2");
	/* the message ids of a thread find it; a move takes them along */
	const char *refs_a[] = { "a1@x", "a2@x" }, *refs_b[] = { "b1@x" };
	ck_assert_int_eq(fts_thread_link(fts, "u1", "ta", refs_a, 2, "plan", &error), 0);
	ck_assert_int_eq(fts_thread_link(fts, "u1", "tb", refs_b, 1, "trip", &error), 0);
	ck_assert_int_eq(fts_thread_link(fts, "u1", "tb", refs_b, 1, "trip", &error), 0);
	char t[FTS_THREAD_SIZE];
	bool found;
	ck_assert_int_eq(fts_thread_subject_get(fts, "u1", "trip", t, &found, &error), 0);
	ck_assert(found);
	ck_assert_str_eq(t, "tb");
	ck_assert_int_eq(fts_thread_subject_get(fts, "u2", "trip", t, &found, &error), 0);
	ck_assert(!found);
	moved[0] = '\0';
	ck_assert_int_eq(fts_thread_docs(fts, "u1", "ta", doc_row, NULL, &error), 0);
	ck_assert(strcmp(moved, "mb1:1 mb1:3") == 0 || strcmp(moved, "mb1:3 mb1:1") == 0);
	ck_assert_int_eq(fts_thread_move(fts, "u1", "tb", "ta", &error), 0);
	ck_assert_int_eq(fts_thread_move(fts, "u1", "tb", "ta", &error), 0); /* again: no-op */
	moved[0] = '\0';
	ck_assert_int_eq(fts_thread_docs(fts, "u1", "tb", doc_row, NULL, &error), 0);
	ck_assert_str_eq(moved, "");
	ck_assert_str_eq(list_threads(fts, 0, 10, &last), "tc=1@mb2:1 ta=3@mb1:3");
	fts_close(&fts);
}
END_TEST

START_TEST(too_big_to_index)
{
	struct fts *fts = open_index();
	const char *error;
	/* past the MongoDB backend's room in a document; SQLite has no such
	 * limit, and 7 MB through FTS5 took a minute under ASan on a busy
	 * machine, so it gets 1 MB */
	size_t n = (fts_test_mongodb() ? 7 : 1) * 1024 * 1024;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + (i * 7 + i / 26) % 26);
	big[n] = '\0';
	memcpy(big + n / 2, "needle", 6);
	add(fts, "mb1", 1, "u1", "small", "needle in a small one");
	add(fts, "mb1", 2, "u1", "big", big);
	free(big);
	uint32_t *uids;
	size_t count;
	ck_assert_int_eq(fts_indexed(fts, "mb1", &uids, &count, &error), 0);
	if (fts_test_mongodb()) {
		/* no room in a document: left to the scan, which finds it */
		ck_assert_uint_eq(count, 1);
		ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "needle"), "1");
	} else {
		ck_assert_uint_eq(count, 2);
		ck_assert_str_eq(query(fts, "mb1", FTS_BODY, "needle"), "1,2");
	}
	free(uids);
	uint64_t total;
	ck_assert_int_eq(fts_count(fts, "u1", &total, &error), 0);
	ck_assert_uint_eq(total, 2);
	fts_close(&fts);
}
END_TEST

START_TEST(reader_without_index)
{
	struct fts *fts;
	const char *error;
	if (fts_test_mongodb()) {
		/* a database the indexer has not written: nothing is indexed,
		 * so every message is scanned */
		ck_assert_int_eq(fts_test_open(path, false, &fts, &error), 0);
		uint32_t *uids;
		size_t count;
		ck_assert_int_eq(fts_indexed(fts, "mb1", &uids, &count, &error), 0);
		ck_assert_uint_eq(count, 0);
		free(uids);
		fts_close(&fts);
		return;
	}
	ck_assert_int_eq(fts_open(path, false, &fts, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, path));
	char *p = fts_fold("x", 1, NULL);
	free(p);
}
END_TEST

START_TEST(fold)
{
	size_t len;
	char *f = fts_fold("Stra\xc3\x9f" "e \xc3\x9c" "BER", strlen("Stra\xc3\x9f" "e \xc3\x9c" "BER"), &len);
	ck_assert_str_eq(f, "strasse \xc3\xbc" "ber");
	ck_assert_uint_eq(len, strlen(f));
	free(f);
	/* NFD input folds to the NFC form */
	f = fts_fold("U\xcc\x88", 3, NULL);
	ck_assert_str_eq(f, "\xc3\xbc");
	free(f);
	/* invalid UTF-8 still folds (libunistring keeps going), as in the scan */
	f = fts_fold("\xff", 1, NULL);
	free(f);
}
END_TEST

static const char *html(const char *in)
{
	static char out[512];
	struct buffer b = BUFFER_INIT;
	fts_html_text(in, strlen(in), &b);
	snprintf(out, sizeof(out), "%s", buffer_cstr(&b));
	buffer_free(&b);
	return out;
}

START_TEST(html_to_text)
{
	ck_assert_str_eq(html("<p>Caf&eacute; <b>wo</b>rd &amp; more</p>"), "\nCaf\xc3\xa9 word & more\n");
	ck_assert_str_eq(html("a<script>var x = '</p>';</script>b"), "ab");
	ck_assert_str_eq(html("<STYLE>p{}</STYLE>x<!-- hidden -->y"), "xy");
	ck_assert_str_eq(html("1 < 2 &unknown; &#65;&#x42;"), "1 < 2 &unknown; AB");
	ck_assert_str_eq(html("<a href=\"x>y\">link</a>"), "link");
	ck_assert_str_eq(html("<div>a</div><div>b</div>"), "\na\n\nb\n");
	ck_assert_str_eq(html("<unclosed"), "\n");
	ck_assert_str_eq(html("&#0; &#xD800;"), "&#0; &#xD800;");
}
END_TEST

START_TEST(extract_fields)
{
	const char *raw =
		"From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\n"
		"To: A <a@example.test>, B <b@example.test>\r\n"
		"Cc: C <c@example.test>\r\n"
		"Subject: Re: =?utf-8?q?Stra=C3=9Fe?=\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>W</b>orld</p>\r\n"
		"--b\r\nContent-Type: application/pdf; name=\"Report.PDF\"\r\n"
		"Content-Disposition: attachment; filename=\"Report.PDF\"\r\n\r\nxx\r\n--b--\r\n";
	struct mime_message *msg;
	mime_parse((const unsigned char *)raw, strlen(raw), &msg);
	struct mime_text *text;
	const char *error;
	ck_assert_int_eq(mime_message_text(msg, &text, &error), 0);
	struct pool *pool = pool_create(1024);
	struct fts_doc doc = { 0 };
	fts_doc_extract(msg, text, pool, &doc);
	ck_assert_ptr_nonnull(strstr(doc.fields[FTS_FROM], "j\xc3\xbcrgen <j@example.test>"));
	ck_assert_ptr_nonnull(strstr(doc.fields[FTS_FROM], "=?utf-8?q?j=c3=bcrgen?="));
	ck_assert_ptr_nonnull(strstr(doc.fields[FTS_TO], "b <b@example.test>"));
	ck_assert_ptr_nonnull(strstr(doc.fields[FTS_CC], "c@example.test"));
	ck_assert_str_eq(doc.fields[FTS_BCC], "");
	ck_assert_ptr_nonnull(strstr(doc.fields[FTS_SUBJECT], "re: strasse"));
	ck_assert_ptr_nonnull(strstr(doc.fields[FTS_HEADERS], "multipart/mixed"));
	ck_assert_ptr_nonnull(strstr(doc.fields[FTS_BODY], "hello world"));
	ck_assert_ptr_null(strstr(doc.fields[FTS_BODY], "<b>"));
	ck_assert_str_eq(doc.fields[FTS_FILES], "report.pdf\n");
	pool_destroy(&pool);
	mime_text_free(&text);
	mime_message_free(&msg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create(fts_test_mongodb() ? "fts [mongodb]" : "fts");
	TCase *tc = tcase_create("fts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60); /* too_big_to_index folds and indexes MBs */
	tcase_add_test(tc, exact_substrings);
	tcase_add_test(tc, usable_strings);
	tcase_add_test(tc, replace_remove_count);
	tcase_add_test(tc, positions_and_transactions);
	tcase_add_test(tc, reindex_pass);
	tcase_add_test(tc, thread_listing_and_moves);
	tcase_add_test(tc, too_big_to_index);
	tcase_add_test(tc, reader_without_index);
	tcase_add_test(tc, fold);
	tcase_add_test(tc, html_to_text);
	tcase_add_test(tc, extract_fields);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
