/* The API's pure parts: request validation (lib/api_json.c), the HTML
 * sanitiser, ENVELOPE reading and message composing (lib/api_message.c),
 * and the store calls the API added (tokens, user pages, message pages,
 * the user journal) on a temporary SQLite store. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_json.h"
#include "api_message.h"
#include "html_sanitize.h"
#include "webhook.h"
#include "dkim.h"
#include "api_cert.h"
#include "message.h"
#include "mime.h"
#include "pool.h"
#include "store.h"

static const struct api_field addr[] = {
	{ "name", API_STRING, false, 0, 64, NULL, true },
	{ "address", API_STRING, true, 3, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field fields[] = {
	{ "username", API_STRING, true, 1, 8, NULL, false },
	{ "quota", API_INT, false, 0, 100, NULL, false },
	{ "on", API_BOOL, false, 0, 0, NULL, true },
	{ "tags", API_STRING_ARRAY, false, 0, 2, NULL, false },
	{ "to", API_OBJECT_ARRAY, false, 0, 2, addr, false },
	{ "from", API_STRING_OR_OBJECT, false, 3, 64, addr, false },
	{ "text", API_TEXT, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

START_TEST(json_validation)
{
	static const struct { const char *in; int ok; const char *why; } cases[] = {
		{ "{\"username\":\"al\"}", 1, NULL },
		{ "", 0, "username is required" },
		{ "{\"username\":\"al\",\"quota\":100,\"on\":null,\"tags\":[\"a\",\"b\"]}", 1, NULL },
		{ "{\"username\":\"al\",\"quota\":101}", 0, "quota" },
		{ "{\"username\":\"al\",\"quota\":1.5}", 0, "quota" },
		{ "{\"username\":\"al\",\"quota\":\"1\"}", 0, "quota" },
		{ "{\"username\":\"al\",\"x\":1}", 0, "unknown field \"x\"" },
		{ "{\"username\":\"al\",\"username\":\"b\"}", 0, "invalid JSON" },
		{ "{\"username\":\"a\\u0000b\"}", 0, "invalid JSON" },
		{ "{\"username\":\"a\\nb\"}", 0, "not allowed" },
		{ "{\"username\":\"al\",\"text\":\"a\\nb\"}", 1, NULL },
		{ "{\"username\":\"123456789\"}", 0, "length" },
		{ "{\"username\":\"al\",\"tags\":[\"a\",\"b\",\"c\"]}", 0, "tags" },
		{ "{\"username\":\"al\",\"tags\":[\"\"]}", 0, "tags" },
		{ "{\"username\":\"al\",\"to\":[{\"address\":\"a@b\"}]}", 1, NULL },
		{ "{\"username\":\"al\",\"to\":[{\"name\":\"x\"}]}", 0, "address is required" },
		{ "{\"username\":\"al\",\"to\":[{\"address\":\"a@b\",\"evil\":1}]}", 0, "unknown" },
		{ "{\"username\":\"al\",\"from\":\"a@b\"}", 1, NULL },
		{ "{\"username\":\"al\",\"from\":{\"address\":\"a@b\"}}", 1, NULL },
		{ "{\"username\":\"al\",\"from\":5}", 0, "string or an object" },
		{ "[]", 0, "object" },
		{ "{\"username\":\"al\"} x", 0, "invalid JSON" },
		{ "{\"username\":null}", 0, "null" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char error[256] = "";
		json_t *obj = api_json_parse(cases[i].in, strlen(cases[i].in), fields, error,
					     sizeof(error));
		ck_assert_msg((obj != NULL) == (cases[i].ok == 1), "%s: %s", cases[i].in, error);
		if (cases[i].why != NULL)
			ck_assert_msg(strstr(error, cases[i].why) != NULL, "%s: %s", cases[i].in,
				      error);
		json_decref(obj);
	}
	/* deep nesting is refused, never recursed into without bound */
	char deep[4096] = "{\"username\":\"a\",\"to\":[";
	for (int i = 0; i < 500; i++)
		strcat(deep, "[");
	char error[256];
	ck_assert_ptr_null(api_json_parse(deep, strlen(deep), fields, error, sizeof(error)));
}
END_TEST

START_TEST(ids_numbers_paths)
{
	ck_assert(api_id_valid("0123456789abcdef01234567"));
	ck_assert(!api_id_valid("0123456789ABCDEF01234567"));
	ck_assert(!api_id_valid("0123456789abcdef0123456"));
	ck_assert(!api_id_valid(NULL));
	uint64_t v;
	ck_assert(api_uint_parse("42", 1, 100, &v) && v == 42);
	ck_assert(!api_uint_parse("042", 1, 100, &v));
	ck_assert(!api_uint_parse("0", 1, 100, &v));
	ck_assert(!api_uint_parse("-1", 0, 100, &v));
	ck_assert(!api_uint_parse("99999999999999999999", 0, UINT64_MAX, &v));
	ck_assert(!api_uint_parse("", 0, 100, &v));
	char *s = api_url_decode("a%2Fb%C3%9C", 11);
	ck_assert_str_eq(s, "a/b\xc3\x9c");
	free(s);
	ck_assert_ptr_null(api_url_decode("a%00", 4));
	ck_assert_ptr_null(api_url_decode("a%2", 3));
	ck_assert_ptr_null(api_url_decode("%ff", 3));
	ck_assert(api_mailbox_path_valid("Projects/2024/Ünïcode"));
	static const char *const bad[] = { "", "/a", "a/", "a//b", "..", "a/../b", "./a", "a\tb",
					   "a\x7f" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!api_mailbox_path_valid(bad[i]), "%s", bad[i]);
}
END_TEST

static char *sanitize(const char *in)
{
	struct buffer b = BUFFER_INIT;
	html_sanitize(in, strlen(in), &b);
	char *out = strdup(buffer_cstr(&b));
	buffer_free(&b);
	return out;
}

START_TEST(html)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "<p>Hi <b>there</b></p>", "<p>Hi <b>there</b></p>" },
		{ "<script>alert(1)</script>ok", "ok" },
		{ "<SCRIPT src=x></SCRIPT >ok", "ok" },
		{ "<style>body{}</style><p style=\"color:red\">x</p>",
		  "<p style=\"color:red\">x</p>" },
		{ "<p style=\"width:expression(alert(1))\">x</p>", "<p>x</p>" },
		{ "<img src=x onerror=alert(1)>", "<img src=\"x\">" },
		{ "<a href=\"javascript:alert(1)\">l</a>", "<a>l</a>" },
		{ "<a href=\"  JaVa&#x53;cript&colon;x\">l</a>", "<a>l</a>" },
		{ "<a href='https://x.test/?a=1&b=2' title=\"a\\\"b\">l</a>",
		  "<a href=\"https://x.test/?a=1&b=2\" title=\"a\\\" b>l</a>" },
		{ "<img src=\"data:image/png;base64,AA\">", "<img src=\"data:image/png;base64,AA\">" },
		{ "<img src=\"data:text/html,x\">", "<img>" },
		{ "<iframe src=x></iframe>after", "after" },
		{ "a < b > c", "a &lt; b &gt; c" },
		{ "<!-- <script>x</script> -->t", "t" },
		{ "<p unclosed", "" },
		{ "<br/>", "<br />" },
		{ "<div onmouseover=\"x\" class=c>", "<div class=\"c\">" },
		{ "<svg><script>x</script></svg>y", "y" },
		{ "<form action=x><input></form>", "" },
		/* fuzz finding: an unknown attribute whose name ends in "href" is
		 * no URL to a browser and is kept; the real href is checked */
		{ "<a stylhref=\"javascript:x\" href=\"javascript:y\">l</a>",
		  "<a stylhref=\"javascript:x\">l</a>" },
		{ "<a style href= \" javascript:z\" xlink:href=javascript:w>l</a>",
		  "<a style>l</a>" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = sanitize(cases[i].in);
		ck_assert_msg(strcmp(out, cases[i].out) == 0, "%s -> %s", cases[i].in, out);
		free(out);
	}
}
END_TEST

START_TEST(envelope)
{
	json_t *e = api_envelope_json("(\"date\" \"=?UTF-8?B?w5xiZXI=?=\" ((\"Bob\" NIL \"bob\" "
				      "\"x.test\")) NIL NIL ((NIL NIL \"a\" \"b.c\")(NIL NIL \"grp\" "
				      "NIL)(\"Q \\\"x\\\"\" NIL \"q\" \"d.e\")(NIL NIL NIL NIL)) NIL "
				      "NIL NIL \"<id@x>\")");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(json_string_value(json_object_get(e, "subject")), "\xc3\x9c" "ber");
	json_t *from = json_array_get(json_object_get(e, "from"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(from, "name")), "Bob");
	ck_assert_str_eq(json_string_value(json_object_get(from, "address")), "bob@x.test");
	json_t *to = json_object_get(e, "to");
	ck_assert_uint_eq(json_array_size(to), 2);	/* group markers dropped */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(to, 1), "name")),
			 "Q \"x\"");
	ck_assert_str_eq(json_string_value(json_object_get(e, "messageId")), "<id@x>");
	/* sender and replyTo come from the envelope as is */
	ck_assert_uint_eq(json_array_size(json_object_get(e, "sender")), 0);
	json_decref(e);
	/* literals */
	e = api_envelope_json("(NIL {5}\r\nab\"cd NIL NIL NIL NIL NIL NIL NIL NIL)");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(json_string_value(json_object_get(e, "subject")), "ab\"cd");
	json_decref(e);
	static const char *const bad[] = { "", "(", "(NIL)", "({99}\r\nx)", "((((((((x))))))))",
					   "(\"unterminated" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_ptr_null(api_envelope_json(bad[i]));
}
END_TEST

START_TEST(compose)
{
	char error[256];
	const char *in = "{\"from\":{\"name\":\"Zoë\",\"address\":\"z@x.test\"},\"to\":[{\"address\":"
			 "\"a@b.test\"}],\"subject\":\"Grüße\",\"text\":\"line1\\nline2\","
			 "\"html\":\"<p>x</p>\"}";
	json_t *obj = api_json_parse(in, strlen(in), (const struct api_field[]){
		{ "from", API_STRING_OR_OBJECT, false, 3, 64, addr, false },
		{ "to", API_OBJECT_ARRAY, false, 0, 2, addr, false },
		{ "subject", API_STRING, false, 0, 64, NULL, false },
		{ "text", API_TEXT, false, 0, 64, NULL, false },
		{ "html", API_TEXT, false, 0, 64, NULL, false },
		{ NULL, 0, false, 0, 0, NULL, false } }, error, sizeof(error));
	ck_assert_msg(obj != NULL, "%s", error);
	struct buffer msg = BUFFER_INIT;
	const char *err;
	ck_assert_int_eq(api_message_compose(obj, "host.test", &msg, &err), 0);
	struct store_message sm;
	memset(&sm, 0, sizeof(sm));
	json_t *full = api_message_full(&sm, msg.data, msg.len);
	ck_assert_str_eq(json_string_value(json_object_get(full, "text")), "line1\nline2");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(full, "html"), 0)),
			 "<p>x</p>");
	json_t *headers = json_object_get(full, "headers");
	bool subject = false;
	for (size_t i = 0; i < json_array_size(headers); i++) {
		json_t *h = json_array_get(headers, i);
		if (strcmp(json_string_value(json_object_get(h, "key")), "subject") == 0)
			subject = strcmp(json_string_value(json_object_get(h, "value")),
					 "Gr\xc3\xbc\xc3\x9f" "e") == 0;
	}
	ck_assert(subject);
	ck_assert(strstr(buffer_cstr(&msg), "\r\nMessage-ID: <") != NULL);
	json_decref(full);
	json_decref(obj);
	buffer_free(&msg);
	obj = json_pack("{s:[{s:s}]}", "to", "address", "no-at-sign");
	ck_assert_int_eq(api_message_compose(obj, "h", &msg, &err), -1);
	json_decref(obj);
	buffer_free(&msg);
}
END_TEST

static int count_msg(const struct store_message *msg, void *ctx)
{
	uint32_t *last = ctx;
	*last = msg->uid;
	return 0;
}

struct journal_seen {
	unsigned int n;
	int64_t last;
};

static int count_journal(const struct store_journal_user_entry *e, void *ctx)
{
	struct journal_seen *s = ctx;
	ck_assert(e->position > s->last);
	s->last = e->position;
	s->n++;
	return 0;
}

START_TEST(store_calls)
{
	char dir[] = "/tmp/wd-api-unit-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/s.db", dir);
	struct store_settings set = { .driver = "sqlite", .path = path, .relaxed_sync = true };
	struct store *store;
	const char *error;
	ck_assert_int_eq(store_open(&set, &store, &error), 0);
	char ids[5][STORE_ID_SIZE];
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "user%d", i);
		struct store_user u = { .username = name };
		ck_assert_int_eq(store_user_create(store, &u, ids[i], &error), 0);
	}
	struct pool *pool = pool_create(4096);
	struct store_user *users;
	unsigned int count;
	uint64_t total;
	ck_assert_int_eq(store_user_count(store, &total, &error), 0);
	ck_assert_uint_eq(total, 5);
	ck_assert_int_eq(store_user_list(store, NULL, false, 3, pool, &users, &count, &error), 0);
	ck_assert_uint_eq(count, 3);
	char after[STORE_ID_SIZE];
	snprintf(after, sizeof(after), "%s", users[2].id);
	ck_assert_int_eq(store_user_list(store, after, false, 3, pool, &users, &count, &error), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(store_user_list(store, after, true, 10, pool, &users, &count, &error), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert(strcmp(users[0].id, users[1].id) > 0);
	ck_assert_int_eq(store_user_list(store, "bad", false, 3, pool, &users, &count, &error), -1);
	/* tokens */
	const char *hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char user[STORE_ID_SIZE];
	ck_assert_int_eq(store_token_add(store, ids[1], hash, 2000000000, &error), 0);
	ck_assert_int_eq(store_token_get(store, hash, 1000, user, &error), 0);
	ck_assert_str_eq(user, ids[1]);
	ck_assert_int_eq(store_token_get(store, hash, 2000000001, user, &error), -1);
	ck_assert_int_eq(store_last_error(store), STORE_ERR_NOT_FOUND);
	ck_assert_int_eq(store_token_get(store, "nothex", 1000, user, &error), -1);
	ck_assert_int_eq(store_token_add(store, "000000000000000000000000", hash, 1, &error), -1);
	ck_assert_int_eq(store_token_delete(store, hash, &error), 0);
	ck_assert_int_eq(store_token_get(store, hash, 1000, user, &error), -1);
	/* message pages and the user journal */
	struct store_mailbox *inbox;
	ck_assert_int_eq(store_mailbox_get_by_path(store, ids[0], "INBOX", pool, &inbox, &error),
			 0);
	int64_t start;
	ck_assert_int_eq(store_journal_user_last(store, ids[0], &start, &error), 0);
	for (int i = 0; i < 7; i++) {
		const char raw[] = "Subject: x\r\n\r\nbody\r\n";
		struct message_append_opts opts = { 0 };
		struct store_append_result res;
		ck_assert_int_eq(store_message_append_raw(store, inbox->id, (const unsigned char *)raw,
							  sizeof(raw) - 1, &opts, &res, &error), 0);
	}
	uint32_t last = 0;
	ck_assert_int_eq(store_message_page(store, inbox->id, 1, UINT32_MAX, true, 3, count_msg,
					    &last, &error), 0);
	ck_assert_uint_eq(last, 5);	/* 7, 6, 5 */
	ck_assert_int_eq(store_message_page(store, inbox->id, 3, UINT32_MAX, false, 2, count_msg,
					    &last, &error), 0);
	ck_assert_uint_eq(last, 4);	/* 3, 4 */
	struct journal_seen seen = { 0, start };
	ck_assert_int_eq(store_journal_user_since(store, ids[0], start, 100, count_journal, &seen,
						  &error), 0);
	ck_assert_uint_eq(seen.n, 7);
	int64_t end;
	ck_assert_int_eq(store_journal_user_last(store, ids[0], &end, &error), 0);
	ck_assert_int_eq(end, seen.last);
	seen.n = 0;
	seen.last = start;
	ck_assert_int_eq(store_journal_user_since(store, ids[1], 0, 100, count_journal, &seen,
						  &error), 0);
	ck_assert_uint_eq(seen.n, 0);	/* another user's journal is separate */
	const unsigned char *tree;
	size_t tree_len;
	struct store_message *m;
	ck_assert_int_eq(store_message_get(store, inbox->id, 1, pool, &m, &error), 0);
	ck_assert_int_eq(store_message_tree(store, m->id, pool, &tree, &tree_len, &error), 0);
	ck_assert_uint_gt(tree_len, 0);
	/* API objects: unique keys, filters by user and key, kinds apart */
	char o1[STORE_ID_SIZE], o2[STORE_ID_SIZE], o3[STORE_ID_SIZE];
	ck_assert_int_eq(store_object_add(store, "dkim", NULL, "a.test", "{\"s\":1}", true, o1,
					  &error), 0);
	ck_assert_int_eq(store_object_add(store, "dkim", NULL, "a.test", "{}", true, o2, &error),
			 -1);
	ck_assert_int_eq(store_last_error(store), STORE_ERR_EXISTS);
	ck_assert_int_eq(store_object_add(store, "webhook", ids[2], NULL, "{}", false, o2, &error),
			 0);
	ck_assert_int_eq(store_object_add(store, "webhook", NULL, NULL, "{}", false, o3, &error),
			 0);
	ck_assert_int_eq(store_object_add(store, "webhook", "000000000000000000000000", NULL,
					  "{}", false, o3, &error), -1);
	ck_assert_int_eq(store_last_error(store), STORE_ERR_NOT_FOUND);
	struct store_object *objs, *obj;
	ck_assert_int_eq(store_object_list(store, "webhook", NULL, NULL, pool, &objs, &count,
					   &error), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(store_object_list(store, "webhook", ids[2], NULL, pool, &objs, &count,
					   &error), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(objs[0].user, ids[2]);
	ck_assert_int_eq(store_object_list(store, "dkim", NULL, "a.test", pool, &objs, &count,
					   &error), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(objs[0].doc, "{\"s\":1}");
	ck_assert_int_eq(store_object_get(store, "dkim", o1, pool, &obj, &error), 0);
	ck_assert_str_eq(obj->key, "a.test");
	ck_assert_int_eq(store_object_get(store, "webhook", o1, pool, &obj, &error), -1);
	ck_assert_int_eq(store_last_error(store), STORE_ERR_NOT_FOUND);
	ck_assert_int_eq(store_object_delete(store, "webhook", o1, &error), -1);
	ck_assert_int_eq(store_object_delete(store, "dkim", o1, &error), 0);
	ck_assert_int_eq(store_object_delete(store, "dkim", o1, &error), -1);
	ck_assert_int_eq(store_object_get(store, "dkim", "../x", pool, &obj, &error), -1);
	/* a user's objects go with the user */
	ck_assert_int_eq(store_user_delete(store, ids[2], &error), 0);
	ck_assert_int_eq(store_object_list(store, "webhook", NULL, NULL, pool, &objs, &count,
					   &error), 0);
	ck_assert_uint_eq(count, 1);
	/* the webhook queue: claimed calls are leased, retried, done */
	ck_assert_int_eq(store_webhook_enqueue(store, ids[0], "http://h.test/a", "e1", "{}",
					       &error), 0);
	ck_assert_int_eq(store_webhook_enqueue(store, ids[0], "http://h.test/b", "e2", NULL,
					       &error), 0);
	struct store_webhook_call *calls;
	ck_assert_int_eq(store_webhook_claim(store, 1000, 60, 10, pool, &calls, &count, &error),
			 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(calls[0].event, "e1");
	ck_assert_str_eq(calls[0].user, ids[0]);
	ck_assert_uint_eq(calls[0].attempts, 0);
	int64_t c0 = calls[0].id, c1 = calls[1].id;
	ck_assert_int_eq(store_webhook_claim(store, 1030, 60, 10, pool, &calls, &count, &error),
			 0);
	ck_assert_uint_eq(count, 0);	/* leased */
	ck_assert_int_eq(store_webhook_done(store, c0, &error), 0);
	ck_assert_int_eq(store_webhook_retry(store, c1, 2000, &error), 0);
	ck_assert_int_eq(store_webhook_claim(store, 1999, 60, 10, pool, &calls, &count, &error),
			 0);
	ck_assert_uint_eq(count, 0);
	ck_assert_int_eq(store_webhook_claim(store, 2000, 60, 10, pool, &calls, &count, &error),
			 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(calls[0].attempts, 1);
	ck_assert_ptr_null(calls[0].payload);
	ck_assert_int_eq(store_webhook_retry(store, 424242, 1, &error), -1);
	ck_assert_int_eq(store_webhook_claim(store, 1, 60, 0, pool, &calls, &count, &error), -1);
	pool_destroy(&pool);
	store_close(&store);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(webhook_helpers)
{
	struct webhook_settings set = { .backoff_secs = 2, .max_attempts = 4 };
	ck_assert_int_eq(webhook_backoff(&set, 1), 2);
	ck_assert_int_eq(webhook_backoff(&set, 2), 4);
	ck_assert_int_eq(webhook_backoff(&set, 3), 8);
	ck_assert_int_eq(webhook_backoff(&set, 4), -1);
	struct webhook_settings big = { .backoff_secs = 1000, .max_attempts = 50 };
	ck_assert_int_eq(webhook_backoff(&big, 40), 3600);
	struct webhook_settings defaults = { 0 };
	ck_assert_int_eq(webhook_backoff(&defaults, 1), 2);
	ck_assert_int_eq(webhook_backoff(&defaults, 10), -1);
	ck_assert(webhook_type_matches("*", "user.created"));
	ck_assert(webhook_type_matches("user.*", "user.created"));
	ck_assert(webhook_type_matches("user.created", "user.created"));
	ck_assert(!webhook_type_matches("user.*", "username.x"));
	ck_assert(!webhook_type_matches("user.*", "user"));
	ck_assert(!webhook_type_matches("user.created", "user.deleted"));
	struct store_webhook_call call = { .id = 7, .user = "0123456789abcdef01234567",
					   .event = "e.x", .payload = "{\"a\":1,\"ev\":\"spoof\"}",
					   .created = 0 };
	struct buffer b = BUFFER_INIT;
	webhook_body(&call, &b);
	json_t *j = json_loads(buffer_cstr(&b), 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "ev")), "e.x");
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "7");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "a")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(j, "created")),
			 "1970-01-01T00:00:00.000Z");
	json_decref(j);
	buffer_free(&b);
	call.payload = "not json";
	call.user[0] = '\0';
	webhook_body(&call, &b);
	j = json_loads(buffer_cstr(&b), 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_ptr_null(json_object_get(j, "user"));
	json_decref(j);
	buffer_free(&b);
}
END_TEST

START_TEST(dkim_keys)
{
	struct dkim_key k, k2;
	const char *error;
	ck_assert_int_eq(dkim_key_generate("ed25519", &k, &error), 0);
	ck_assert_str_eq(k.algorithm, "ed25519");
	ck_assert_uint_eq(strlen(k.dns_p), 44);	/* 32 bytes */
	ck_assert_uint_eq(strlen(k.fingerprint), 32 * 3 - 1);
	char *txt = dkim_dns_txt(&k);
	ck_assert(strncmp(txt, "v=DKIM1; k=ed25519; p=", 22) == 0);
	free(txt);
	/* the stored private key reads back to the same public key */
	ck_assert_int_eq(dkim_key_from_pem(k.private_pem, &k2, &error), 0);
	ck_assert_str_eq(k2.dns_p, k.dns_p);
	ck_assert_str_eq(k2.fingerprint, k.fingerprint);
	dkim_key_free(&k2);
	dkim_key_free(&k);
	ck_assert_int_eq(dkim_key_generate("rsa", &k, &error), 0);
	ck_assert_str_eq(k.algorithm, "rsa");
	ck_assert_uint_gt(strlen(k.dns_p), 390);	/* 294-byte SPKI of 2048 bits */
	ck_assert(strstr(k.public_pem, "BEGIN PUBLIC KEY") != NULL);
	dkim_key_free(&k);
	ck_assert_int_eq(dkim_key_generate("dsa", &k, &error), -1);
	ck_assert_int_eq(dkim_key_from_pem("junk", &k, &error), -1);
	ck_assert_int_eq(dkim_key_from_pem("", &k, &error), -1);
	ck_assert(dkim_name_valid("s1._domainkey.example.test"));
	ck_assert(dkim_name_valid("Example.TEST"));
	static const char *const bad[] = { "", ".", "a..b", "-a", "a b", "a/b", "../x", "a.",
					   "\xc3\xa4.test" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!dkim_name_valid(bad[i]), "%s", bad[i]);
}
END_TEST

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char *buf = calloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(certs)
{
	char dir[] = "/tmp/wd-api-cert-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char cmd[1024];
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
			 "ec_paramgen_curve:P-256 -nodes -keyout %s/%d.key -out %s/%d.crt -days 2 "
			 "-subj /CN=c%d.test -addext subjectAltName=DNS:*.c%d.test,DNS:c%d.test "
			 ">/dev/null 2>&1", dir, i, dir, i, i, i, i);
		ck_assert_int_eq(system(cmd), 0);
	}
	char path[256];
	snprintf(path, sizeof(path), "%s/0.crt", dir);
	char *crt = slurp(path);
	snprintf(path, sizeof(path), "%s/0.key", dir);
	char *key = slurp(path);
	snprintf(path, sizeof(path), "%s/1.key", dir);
	char *key1 = slurp(path);
	struct api_cert_info info;
	const char *error;
	ck_assert_int_eq(api_cert_check(crt, key, "c0.test", &info, &error), 0);
	ck_assert_str_eq(info.subject, "/CN=c0.test");
	ck_assert_str_eq(info.alt_names[0], "*.c0.test");
	ck_assert_str_eq(info.alt_names[1], "c0.test");
	ck_assert_ptr_null(info.alt_names[2]);
	ck_assert_uint_eq(info.chain_length, 1);
	ck_assert_int_gt(info.expires, info.not_before);
	api_cert_info_free(&info);
	ck_assert_int_eq(api_cert_check(crt, key, "mail.c0.test", &info, &error), 0);
	api_cert_info_free(&info);
	ck_assert_int_eq(api_cert_check(crt, key, "a.b.c0.test", &info, &error), -1);
	ck_assert_int_eq(api_cert_check(crt, key, "c1.test", &info, &error), -1);
	ck_assert_int_eq(api_cert_check(crt, key1, "c0.test", &info, &error), -1);
	ck_assert(strstr(error, "does not belong") != NULL);
	ck_assert_int_eq(api_cert_check("junk", key, "c0.test", &info, &error), -1);
	ck_assert_int_eq(api_cert_check(crt, "junk", "c0.test", &info, &error), -1);
	ck_assert_int_eq(api_cert_check(key, crt, "c0.test", &info, &error), -1);
	free(crt);
	free(key);
	free(key1);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_json");
	TCase *tc = tcase_create("api_json");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, json_validation);
	tcase_add_test(tc, ids_numbers_paths);
	tcase_add_test(tc, html);
	tcase_add_test(tc, envelope);
	tcase_add_test(tc, compose);
	tcase_add_test(tc, store_calls);
	tcase_add_test(tc, webhook_helpers);
	tcase_add_test(tc, dkim_keys);
	tcase_add_test(tc, certs);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
