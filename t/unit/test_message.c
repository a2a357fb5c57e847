/* lib/message.c: raw messages round-trip byte for byte through the store
 * (MIME split -> sqlite store -> join), attachments de-duplicated. */
#include "buffer.h"
#include "message.h"
#include "pool.h"
#include "store.h"

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static struct store *store;
static char inbox[STORE_ID_SIZE];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/wd-message-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[300];
	snprintf(path, sizeof(path), "%s/store.db", dir);
	struct store_settings set = { .driver = "sqlite", .path = path, .compress_level = 3 };
	const char *error = NULL;
	char user[STORE_ID_SIZE];
	struct store_user u = { .username = "rt", .address = "rt@example.com" };
	struct pool *pool = pool_create(512);
	struct store_mailbox *box;
	ck_assert_int_eq(store_open(&set, &store, &error), 0);
	ck_assert_int_eq(store_user_create(store, &u, user, &error), 0);
	ck_assert_int_eq(store_mailbox_get_by_path(store, user, "INBOX", pool, &box, &error), 0);
	memcpy(inbox, box->id, sizeof(inbox));
	pool_destroy(&pool);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void teardown(void)
{
	store_close(&store);
	(void)nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void roundtrip(const unsigned char *raw, size_t len, const char *name)
{
	struct message_append_opts opts = { .idate = 1700000000 };
	struct store_append_result res;
	const char *error = NULL;
	int ret = store_message_append_raw(store, inbox, raw, len, &opts, &res, &error);
	ck_assert_msg(ret == 0, "%s: append: %s", name, error);
	struct buffer out = BUFFER_INIT;
	ret = message_rebuild(store, res.id, &out, &error);
	ck_assert_msg(ret == 0, "%s: rebuild: %s", name, error);
	ck_assert_msg(out.len == len && (len == 0 || memcmp(out.data, raw, len) == 0),
		      "%s: rebuilt %zu bytes differ from the %zu original", name, out.len, len);
	buffer_free(&out);

	struct pool *pool = pool_create(1024);
	struct store_message *msg;
	ck_assert_int_eq(store_message_get(store, inbox, res.uid, pool, &msg, &error), 0);
	ck_assert_uint_eq(msg->size, len);
	ck_assert_ptr_nonnull(msg->envelope);
	ck_assert_ptr_nonnull(msg->bodystructure);
	pool_destroy(&pool);
}

static const char *corpus_dir(void)
{
	const char *src = getenv("WD_SRCDIR");
	static char path[512];
	snprintf(path, sizeof(path), "%s/t/data/mime", src == NULL ? "." : src);
	return path;
}

START_TEST(corpus_roundtrip)
{
	DIR *d = opendir(corpus_dir());
	if (d == NULL) {
		fprintf(stderr, "test_message: no corpus at %s, skipped\n", corpus_dir());
		return;
	}
	unsigned int files = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".eml") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", corpus_dir(), de->d_name);
		FILE *f = fopen(path, "rb");
		ck_assert_ptr_nonnull(f);
		struct buffer raw = BUFFER_INIT;
		unsigned char chunk[8192];
		size_t got;
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buffer_append(&raw, chunk, got);
		fclose(f);
		roundtrip(raw.data == NULL ? (const unsigned char *)"" : raw.data, raw.len,
			  de->d_name);
		buffer_free(&raw);
		files++;
	}
	closedir(d);
	fprintf(stderr, "test_message: %u corpus messages round-tripped\n", files);
}
END_TEST

/* A message with a large base64 attachment: it is cut out, stored once for
 * two messages, and both rebuild exactly. */
START_TEST(attachment_dedup_roundtrip)
{
	struct buffer raw = BUFFER_INIT;
	buffer_append_str(&raw, "From: a@example.com\r\nTo: b@example.com\r\n"
			  "Subject: report\r\nMessage-ID: <r1@example.com>\r\nMIME-Version: 1.0\r\n"
			  "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
			  "--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
			  "--XX\r\nContent-Type: application/octet-stream\r\n"
			  "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
			  "Content-Transfer-Encoding: base64\r\n\r\n");
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (int line = 0; line < 2000; line++) {
		for (int i = 0; i < 76; i++)
			buffer_append_c(&raw, (unsigned char)b64[(line * 31 + i * 7) % 64]);
		buffer_append_str(&raw, "\r\n");
	}
	buffer_append_str(&raw, "--XX--\r\n");
	roundtrip(raw.data, raw.len, "first");
	roundtrip(raw.data, raw.len, "second");

	struct pool *pool = pool_create(1024);
	struct store_message *msg;
	struct store_message_content *content;
	const char *error;
	ck_assert_int_eq(store_message_get(store, inbox, 1, pool, &msg, &error), 0);
	ck_assert_str_eq(msg->subject, "report");
	ck_assert_str_eq(msg->msgid, "<r1@example.com>");
	ck_assert_int_eq(store_message_content(store, msg->id, pool, &content, &error), 0);
	ck_assert_uint_eq(content->attachments_count, 1);
	ck_assert_uint_lt(content->tree_len, 2000);
	struct store_attachment_info info;
	ck_assert_int_eq(store_attachment_info(store, content->attachments[0].id, pool, &info,
					       &error), 0);
	ck_assert_uint_eq(info.refcount, 2);
	pool_destroy(&pool);
	buffer_free(&raw);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("message");
	TCase *tc = tcase_create("roundtrip");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, corpus_roundtrip);
	tcase_add_test(tc, attachment_dedup_roundtrip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
