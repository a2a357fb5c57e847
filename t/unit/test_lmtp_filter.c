/* LMTP delivery logic without sockets: spam header rules, RFC 3834
 * autoreply refusals, filter matching and combined actions, a message
 * split once with per-recipient fields prepended (rebuild and sections
 * stay exact), and the delivery calls of the store (filters, autoreply,
 * targets, counters, webhooks) on a temporary SQLite store. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer.h"
#include "filter.h"
#include "message.h"
#include "mime.h"
#include "mime_store.h"
#include "pool.h"
#include "store.h"

START_TEST(spam_rules)
{
	const char *rules = "X-Spam-Status: Yes; X-Rspamd-Spam: yes";
	ck_assert(filter_spam_rule_match(rules, "x-spam-status", "Yes, score=7.1"));
	ck_assert(filter_spam_rule_match(rules, "X-Rspamd-Spam", " YES"));
	ck_assert(!filter_spam_rule_match(rules, "X-Spam-Status", "No, score=0"));
	ck_assert(!filter_spam_rule_match(rules, "X-Spam-Flag", "Yes"));
	ck_assert(!filter_spam_rule_match("", "X-Spam-Status", "Yes"));
	ck_assert(!filter_spam_rule_match("X-Spam-Status:", "X-Spam-Status", "Yes"));
	ck_assert(filter_spam_rule_match(" X-A : b ;", "x-a", "B!"));
}
END_TEST

START_TEST(autoreply_refusals)
{
	ck_assert_ptr_null(filter_autoreply_refusal("a@b", NULL, NULL, false, false));
	ck_assert_ptr_null(filter_autoreply_refusal("a@b", "no", NULL, false, false));
	ck_assert_ptr_nonnull(filter_autoreply_refusal("", NULL, NULL, false, false));
	ck_assert_ptr_nonnull(filter_autoreply_refusal("a@b", "auto-replied", NULL, false, false));
	ck_assert_ptr_nonnull(filter_autoreply_refusal("a@b", NULL, "bulk", false, false));
	ck_assert_ptr_nonnull(filter_autoreply_refusal("a@b", NULL, "List", false, false));
	ck_assert_ptr_nonnull(filter_autoreply_refusal("a@b", NULL, NULL, true, false));
	ck_assert_ptr_nonnull(filter_autoreply_refusal("MAILER-DAEMON@b", NULL, NULL, false, false));
	ck_assert_ptr_nonnull(filter_autoreply_refusal("owner-list@b", NULL, NULL, false, false));
	ck_assert_ptr_nonnull(filter_autoreply_refusal("list-request@b", NULL, NULL, false, false));
	ck_assert_ptr_null(filter_autoreply_refusal("postmasters@b", NULL, NULL, false, false));
}
END_TEST

static const char msg_text[] =
	"From: =?utf-8?q?J=C3=BCrgen?= <Juergen@Example.TEST>\r\n"
	"To: a@x.test\r\nCc: Boss <boss@x.test>\r\n"
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and news\r\n"
	"List-Id: Friends <friends.lists.test>\r\n"
	"X-Spam-Status: Yes, score=9\r\n"
	"Message-ID: <m1@x.test>\r\n"
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe Secret Phrase\r\n"
	"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
	"filename=a.pdf\r\n\r\nPDF\r\n--b--\r\n";

START_TEST(match_and_apply)
{
	struct pool *pool = pool_create(1024);
	struct mime_message *mime;
	mime_parse((const unsigned char *)msg_text, strlen(msg_text), &mime);
	struct filter_message fm;
	filter_message_init(pool, mime, "X-Spam-Status: Yes", &fm);
	ck_assert(fm.spam);
	ck_assert_str_eq(fm.from_address, "juergen@example.test");
	ck_assert_str_eq(fm.subject_raw, "Grüße and news");
	ck_assert_ptr_nonnull(fm.no_autoreply);	/* a list */
	struct store_filter f[] = {
		{ .from = "JÜRGEN", .has_attachment = -1, .seen = 1, .flag = -1, .spam = -1 },
		{ .to = "boss@", .subject = "GRÜSSE", .has_attachment = -1, .seen = -1, .flag = 1,
		  .spam = -1 },	/* ß is not ss: no match */
		{ .list_id = "friends.lists", .has_attachment = 1, .seen = 0, .flag = 1, .spam = 0,
		  .forward = "a@f.test, b@f.test", .webhook = "https://h.test/" },
		{ .text = "secret phrase", .size = 100, .has_attachment = -1, .seen = -1,
		  .flag = -1, .spam = -1, .mailbox = "aaaaaaaaaaaaaaaaaaaaaaaa" },
		{ .text = "nothing like it", .has_attachment = -1, .seen = -1, .flag = -1,
		  .spam = -1, .delete_message = true },
		{ .size = -100, .has_attachment = -1, .seen = -1, .flag = -1, .spam = -1,
		  .delete_message = true },
		{ .from = "juergen", .disabled = true, .has_attachment = -1, .seen = -1, .flag = -1,
		  .spam = -1, .delete_message = true },
	};
	ck_assert(filter_match(&f[0], &fm));
	ck_assert(!filter_match(&f[1], &fm));
	ck_assert(filter_match(&f[2], &fm));
	ck_assert(filter_match(&f[3], &fm));
	ck_assert(!filter_match(&f[4], &fm));
	ck_assert(!filter_match(&f[5], &fm));
	ck_assert(!filter_match(&f[6], &fm));
	struct filter_actions a;
	filter_apply(pool, f, sizeof(f) / sizeof(f[0]), &fm, &a);
	ck_assert_uint_eq(a.matched, 3);
	ck_assert_int_eq(a.seen, 1);	/* the first filter that says wins */
	ck_assert_int_eq(a.flag, 1);
	ck_assert_int_eq(a.spam, 0);
	ck_assert(!a.delete_message);
	ck_assert_str_eq(a.mailbox, "aaaaaaaaaaaaaaaaaaaaaaaa");
	ck_assert_uint_eq(a.forward_count, 2);
	ck_assert_str_eq(a.forward[1], "b@f.test");
	ck_assert_uint_eq(a.webhooks_count, 1);
	mime_message_free(&mime);
	pool_destroy(&pool);
}
END_TEST

static int fetch_att(void *ctx, const char *id, const unsigned char **data_r, size_t *len_r)
{
	const struct mime_store_split_result *r = ctx;
	for (size_t i = 0; i < r->attachment_count; i++) {
		if (strcmp(r->attachments[i].id, id) == 0) {
			*data_r = r->attachments[i].data;
			*len_r = r->attachments[i].len;
			return 0;
		}
	}
	return -1;
}

static void check_prepend(const unsigned char *raw, size_t len)
{
	static const char fields[] = "Delivered-To: x@y.test\r\nReturn-Path: <a@b>\r\n";
	size_t flen = strlen(fields);
	struct mime_store_opts opts = { .attachment_threshold = 16 };
	struct mime_store_split_result split, direct;
	const char *error;
	ck_assert_int_eq(mime_store_split(raw, len, &opts, &split, &error), 0);
	struct buffer tree = BUFFER_INIT, out = BUFFER_INIT, whole = BUFFER_INIT;
	ck_assert_int_eq(mime_store_prepend(split.tree, split.tree_len,
					    (const unsigned char *)fields, flen, &tree, &error), 0);
	ck_assert_int_eq(mime_store_join(tree.data, tree.len, fetch_att, &split, &out, &error), 0);
	ck_assert_uint_eq(out.len, flen + len);
	ck_assert(memcmp(out.data, fields, flen) == 0 && memcmp(out.data + flen, raw, len) == 0);
	size_t total;
	ck_assert_int_eq(mime_store_total_size(tree.data, tree.len, &total, &error), 0);
	ck_assert_uint_eq(total, flen + len);
	/* the prepended blob describes the same parts as a fresh split of
	 * fields + raw would: compare section ranges of the first parts */
	buffer_append(&whole, fields, flen);
	buffer_append(&whole, raw, len);
	ck_assert_int_eq(mime_store_split(whole.data, whole.len, &opts, &direct, &error), 0);
	const char *parts[] = { "", "1", "2", "1.1", "2.1" };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t s1 = 0, l1 = 0, s2 = 0, l2 = 0;
		int r1 = mime_store_section_range(tree.data, tree.len, parts[i], MIME_SECTION_ALL,
						  &s1, &l1, &error);
		int r2 = mime_store_section_range(direct.tree, direct.tree_len, parts[i],
						  MIME_SECTION_ALL, &s2, &l2, &error);
		ck_assert_int_eq(r1, r2);
		if (r1 == 0 && parts[i][0] != '\0') {
			ck_assert_uint_eq(s1, s2);
			ck_assert_uint_eq(l1, l2);
		}
	}
	mime_store_split_result_free(&direct);
	mime_store_split_result_free(&split);
	buffer_free(&tree);
	buffer_free(&out);
	buffer_free(&whole);
}

START_TEST(prepend_corpus)
{
	check_prepend((const unsigned char *)msg_text, strlen(msg_text));
	check_prepend((const unsigned char *)"", 0);
	check_prepend((const unsigned char *)"no header at all", 16);
	DIR *dir = opendir("t/data/mime");
	ck_assert_ptr_nonnull(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[512];
		snprintf(path, sizeof(path), "t/data/mime/%s", e->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			continue;
		struct buffer b = BUFFER_INIT;
		unsigned char chunk[65536];
		size_t r;
		while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buffer_append(&b, chunk, r);
		fclose(f);
		check_prepend(b.data != NULL ? b.data : (const unsigned char *)"", b.len);
		buffer_free(&b);
		n++;
	}
	closedir(dir);
	ck_assert_int_gt(n, 0);
}
END_TEST

START_TEST(store_delivery_calls)
{
	char dir[] = "/tmp/wd-lmtp-unit-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/t.db", dir);
	struct store_settings set = { .driver = "sqlite", .path = path, .relaxed_sync = true };
	struct store *store;
	const char *error;
	ck_assert_int_eq(store_open(&set, &store, &error), 0);
	struct pool *pool = pool_create(1024);
	struct store_user u = { .username = "f", .address = "f@x.test" };
	char uid[STORE_ID_SIZE], fid[STORE_ID_SIZE];
	ck_assert_int_eq(store_user_create(store, &u, uid, &error), 0);

	struct store_filter f = { .subject = "hi", .has_attachment = -1, .seen = 1, .flag = -1,
				  .spam = 0, .forward = "a@b", .webhook = "https://h/" };
	ck_assert_int_eq(store_filter_add(store, uid, &f, fid, &error), 0);
	f.webhook = "ftp://nope";
	ck_assert_int_eq(store_filter_add(store, uid, &f, fid, &error), -1);
	ck_assert_int_eq(store_last_error(store), STORE_ERR_INVALID);
	ck_assert_int_eq(store_filter_add(store, "ffffffffffffffffffffffff", &f, fid, &error), -1);
	struct store_filter *list;
	unsigned int count;
	ck_assert_int_eq(store_filter_list(store, uid, pool, &list, &count, &error), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(list[0].subject, "hi");
	ck_assert_int_eq(list[0].seen, 1);
	ck_assert_int_eq(list[0].flag, -1);
	ck_assert_int_eq(list[0].spam, 0);
	ck_assert_int_eq(list[0].has_attachment, -1);
	ck_assert_ptr_null(list[0].from);
	ck_assert_int_eq(store_filter_delete(store, uid, list[0].id, &error), 0);
	ck_assert_int_eq(store_filter_delete(store, uid, list[0].id, &error), -1);
	ck_assert_int_eq(store_last_error(store), STORE_ERR_NOT_FOUND);

	struct store_autoreply ar = { .status = true, .subject = "Away", .text = "later" }, *got;
	ck_assert_int_eq(store_autoreply_get(store, uid, pool, &got, &error), -1);
	ck_assert_int_eq(store_autoreply_set(store, uid, &ar, &error), 0);
	ck_assert_int_eq(store_autoreply_get(store, uid, pool, &got, &error), 0);
	ck_assert(got->status);
	ck_assert_str_eq(got->text, "later");

	const char *targets[] = { "a@b.test", "smtp://relay:25" };
	const char *const *t;
	ck_assert_int_eq(store_user_targets_set(store, uid, targets, 2, &error), 0);
	ck_assert_int_eq(store_user_targets_get(store, uid, pool, &t, &count, &error), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(t[1], "smtp://relay:25");
	ck_assert_int_eq(store_user_targets_set(store, uid, NULL, 0, &error), 0);
	ck_assert_int_eq(store_user_targets_get(store, uid, pool, &t, &count, &error), 0);
	ck_assert_uint_eq(count, 0);

	/* forwarded addresses: matched by delivery key, replaced, removed */
	const char *fwd[] = { "x@far.test", "y@far.test" }, *stored;
	ck_assert_int_eq(store_forwarded_set(store, "Only.Fwd@Example.test", fwd, 2, &error), 0);
	ck_assert_int_eq(store_forwarded_get(store, "onlyfwd+tag@example.test", pool, &stored, &t,
					     &count, &error), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(t[0], "x@far.test");
	ck_assert_str_eq(stored, "Only.Fwd@Example.test");
	ck_assert_int_eq(store_forwarded_set(store, "only.fwd@example.test", fwd + 1, 1, &error), 0);
	ck_assert_int_eq(store_forwarded_get(store, "only.fwd@example.test", pool, NULL, &t,
					     &count, &error), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(t[0], "y@far.test");
	const char *bad[] = { "no-at-sign" };
	ck_assert_int_eq(store_forwarded_set(store, "b@example.test", bad, 1, &error), -1);
	ck_assert_int_eq(store_forwarded_set(store, "only.fwd@example.test", NULL, 0, &error), 0);
	ck_assert_int_eq(store_forwarded_get(store, "only.fwd@example.test", pool, NULL, &t,
					     &count, &error), 0);
	ck_assert_uint_eq(count, 0);

	int64_t v;
	ck_assert_int_eq(store_counter_add(store, "k", 1, 60, &v, &error), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(store_counter_add(store, "k", 5, 60, &v, &error), 0);
	ck_assert_int_eq(v, 6);
	ck_assert_int_eq(store_counter_add(store, "k", 0, 0, &v, &error), -1);

	ck_assert_int_eq(store_webhook_enqueue(store, uid, "https://h/", "e", "{}", &error), 0);
	/* the user's delivery data goes with the user */
	ck_assert_int_eq(store_user_delete(store, uid, &error), 0);
	ck_assert_int_eq(store_autoreply_get(store, uid, pool, &got, &error), -1);
	pool_destroy(&pool);
	store_close(&store);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lmtp_filter");
	TCase *tc = tcase_create("filter");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, spam_rules);
	tcase_add_test(tc, autoreply_refusals);
	tcase_add_test(tc, match_and_apply);
	tcase_add_test(tc, prepend_corpus);
	tcase_add_test(tc, store_delivery_calls);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
