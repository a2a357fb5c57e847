/* Tests for the MIME parser and the tree store: exact round trip of the
 * corpus and of generated malformed input, cutting and de-duplication,
 * segments and section ranges. */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "mem.h"
#include "mime.h"
#include "mime_imap.h"
#include "mime_store.h"

#define CORPUS "t/data/mime/"

static unsigned char *read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	struct buffer b = BUFFER_INIT;
	unsigned char tmp[8192];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buffer_append(&b, tmp, n);
	fclose(f);
	return (unsigned char *)buffer_steal(&b, len_r);
}

static int fetch(void *ctx, const char *id, const unsigned char **data_r, size_t *len_r)
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

/* split + join + segments + load must all agree with the input. */
static void check_roundtrip(const unsigned char *raw, size_t len, size_t threshold)
{
	struct mime_store_opts opts = { .attachment_threshold = threshold };
	struct mime_store_split_result r;
	const char *error = NULL;
	ck_assert_int_eq(mime_store_split(raw, len, &opts, &r, &error), 0);
	ck_assert_int_eq(r.tree[0], MIME_STORE_MAGIC);

	struct buffer out = BUFFER_INIT;
	ck_assert_int_eq(mime_store_join(r.tree, r.tree_len, fetch, &r, &out, &error), 0);
	ck_assert_uint_eq(out.len, len);
	ck_assert_msg(len == 0 || memcmp(out.data, raw, len) == 0, "rebuild differs");
	buffer_free(&out);

	size_t total;
	ck_assert_int_eq(mime_store_total_size(r.tree, r.tree_len, &total, &error), 0);
	ck_assert_uint_eq(total, len);

	struct mime_store_segment *segs;
	size_t n, pos = 0;
	ck_assert_int_eq(mime_store_segments(r.tree, r.tree_len, 0, SIZE_MAX, &segs, &n, &error), 0);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(segs[i].offset, pos);
		if (segs[i].type == MIME_STORE_SEGMENT_LITERAL)
			ck_assert(memcmp(segs[i].data, raw + pos, segs[i].len) == 0);
		pos += segs[i].len;
	}
	ck_assert_uint_eq(pos, len);
	free(segs);

	/* The tree loaded from the blob answers like the parsed message. */
	struct mime_message *parsed, *loaded;
	mime_parse(raw, len, &parsed);
	ck_assert_int_eq(mime_store_load(r.tree, r.tree_len, &loaded, &error), 0);
	struct buffer a = BUFFER_INIT, b = BUFFER_INIT;
	mime_imap_bodystructure(parsed->root, true, &a);
	mime_imap_bodystructure(loaded->root, true, &b);
	ck_assert_str_eq(buffer_cstr(&a), buffer_cstr(&b));
	buffer_truncate(&a, 0);
	buffer_truncate(&b, 0);
	mime_imap_envelope(parsed->root, &a);
	mime_imap_envelope(loaded->root, &b);
	ck_assert_str_eq(buffer_cstr(&a), buffer_cstr(&b));
	buffer_free(&a);
	buffer_free(&b);
	mime_message_free(&parsed);
	mime_message_free(&loaded);
	mime_store_split_result_free(&r);
}

START_TEST(test_corpus_roundtrip)
{
	DIR *d = opendir(CORPUS);
	ck_assert_ptr_nonnull(d);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".eml") != 0)
			continue;
		char *path = xasprintf(CORPUS "%s", de->d_name);
		size_t len;
		unsigned char *raw = read_file(path, &len);
		check_roundtrip(raw, len, 0);
		check_roundtrip(raw, len, 1);
		check_roundtrip(raw, len, 20);
		/* Every prefix of the message too: truncated mail is common. */
		for (size_t cut = 0; cut < len; cut += 7)
			check_roundtrip(raw, cut, 10);
		free(raw);
		free(path);
		files++;
	}
	closedir(d);
	ck_assert_int_ge(files, 12);
}
END_TEST

/* xorshift: deterministic random tests. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const char *const fragments[] = {
	"--a\r\n", "--a--\r\n", "--b\n", "--b--", "\r\n", "\n", "\r\n\r\n",
	"Content-Type: multipart/mixed; boundary=a\r\n",
	"Content-Type: multipart/alternative; boundary=\"b\"\n",
	"Content-Type: message/rfc822\r\n", "Content-Type: text/plain\r\n",
	"Content-Disposition: attachment; filename=x.bin\r\n",
	"Content-Type: application/x; name*0*=utf-8''%C3%A4; name*1=b\r\n",
	"Content-Transfer-Encoding: base64\r\n", "QUJDREVGRw==\r\n",
	"Subject: =?utf-8?q?x?=\r\n", " folded\r\n", "From: a <b@c>, d:e@f;\r\n",
	"body text\r\n", "\0\0", "--", "\r", "=?", ":", "--a \r\n",
};

static void random_message(struct buffer *b)
{
	size_t pieces = rnd() % 60;
	for (size_t i = 0; i < pieces; i++) {
		if (rnd() % 5 == 0) {
			unsigned char c = (unsigned char)rnd();
			buffer_append_c(b, c);
		} else {
			size_t f = rnd() % (sizeof(fragments) / sizeof(fragments[0]));
			const char *s = fragments[f];
			buffer_append(b, s, s[0] == '\0' ? 2 : strlen(s));
		}
	}
}

START_TEST(test_random_roundtrip)
{
	for (int i = 0; i < 3000; i++) {
		struct buffer b = BUFFER_INIT;
		random_message(&b);
		check_roundtrip(b.data, b.len, rnd() % 40);
		buffer_free(&b);
	}
}
END_TEST

START_TEST(test_deep_nesting)
{
	struct buffer b = BUFFER_INIT;
	for (int i = 0; i < 200; i++)
		buffer_printf(&b, "Content-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n--d%d\r\n", i, i);
	buffer_append_str(&b, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	for (int i = 199; i >= 0; i--)
		buffer_printf(&b, "--d%d--\r\n", i);
	struct mime_message *m;
	mime_parse(b.data, b.len, &m);
	unsigned int depth = 0;
	for (struct mime_part *p = m->root; p != NULL; p = p->children)
		depth = p->depth;
	ck_assert_uint_eq(depth, MIME_MAX_DEPTH);
	struct buffer bs = BUFFER_INIT;
	mime_imap_bodystructure(m->root, true, &bs);
	buffer_free(&bs);
	mime_message_free(&m);
	check_roundtrip(b.data, b.len, 0);

	/* Nested message/rfc822 as deep. */
	buffer_truncate(&b, 0);
	for (int i = 0; i < 100; i++)
		buffer_append_str(&b, "Content-Type: message/rfc822\r\n\r\n");
	buffer_append_str(&b, "Subject: inner\r\n\r\nx\r\n");
	check_roundtrip(b.data, b.len, 0);
	buffer_free(&b);
}
END_TEST

START_TEST(test_huge_header_and_lines)
{
	struct buffer b = BUFFER_INIT;
	for (int i = 0; i < 100000; i++)
		buffer_printf(&b, "X-H%d: v\r\n", i);
	buffer_append_str(&b, "Content-Type: text/plain\r\n\r\nbody\r\n");
	struct mime_message *m;
	mime_parse(b.data, b.len, &m);
	ck_assert_uint_eq(m->root->body_end - m->root->body_start, 6);
	mime_message_free(&m);
	check_roundtrip(b.data, b.len, 0);

	/* A 1 MB line in the header and one in the body, plus NUL bytes. */
	buffer_truncate(&b, 0);
	buffer_append_str(&b, "Subject: ");
	for (int i = 0; i < 1 << 20; i++)
		buffer_append_c(&b, (unsigned char)('a' + i % 26));
	buffer_append_str(&b, "\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\n");
	for (int i = 0; i < 1 << 20; i++)
		buffer_append_c(&b, i % 100 == 0 ? 0 : 'x');
	buffer_append_str(&b, "\r\n--z");	/* unterminated, no final CRLF */
	check_roundtrip(b.data, b.len, 0);
	check_roundtrip(b.data, b.len, 100);
	buffer_free(&b);
}
END_TEST

START_TEST(test_many_parts)
{
	struct buffer b = BUFFER_INIT;
	buffer_append_str(&b, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < 30000; i++)
		buffer_append_str(&b, "--p\r\n\r\nx\r\n");
	struct mime_message *m;
	mime_parse(b.data, b.len, &m);
	ck_assert_uint_eq(m->part_count, MIME_MAX_PARTS);
	mime_message_free(&m);
	check_roundtrip(b.data, b.len, 0);
	buffer_free(&b);
}
END_TEST

/* Big attachments are cut out, identical ones share an id. */
START_TEST(test_split_cuts_and_dedups)
{
	size_t att = 10 * 1024 * 1024;
	struct buffer b = BUFFER_INIT;
	buffer_append_str(&b, "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
			  "--q\r\nContent-Type: text/plain\r\n\r\nsmall text\r\n");
	for (int copy = 0; copy < 2; copy++) {
		buffer_append_str(&b, "--q\r\nContent-Type: application/octet-stream\r\n"
				  "Content-Transfer-Encoding: base64\r\n\r\n");
		for (size_t i = 0; i < att / 77; i++)
			buffer_append_str(&b, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n");
		buffer_append_str(&b, "QUJD\r\n");
	}
	buffer_append_str(&b, "--q\r\nContent-Type: image/gif; name=\"tiny.gif\"\r\n\r\nGIF\r\n--q--\r\n");

	struct mime_store_split_result r;
	const char *error;
	ck_assert_int_eq(mime_store_split(b.data, b.len, NULL, &r, &error), 0);
	ck_assert_uint_eq(r.attachment_count, 2);
	ck_assert_uint_eq(r.attachments[0].count, 2);
	ck_assert_uint_eq(r.attachments[1].count, 1);
	ck_assert_uint_eq(r.attachments[1].len, 3);
	ck_assert_uint_eq(strlen(r.attachments[0].id), 64);
	ck_assert_uint_lt(r.tree_len, 2048);
	struct buffer out = BUFFER_INIT;
	ck_assert_int_eq(mime_store_join(r.tree, r.tree_len, fetch, &r, &out, &error), 0);
	ck_assert(out.len == b.len && memcmp(out.data, b.data, b.len) == 0);
	buffer_free(&out);

	/* Named bodies can stay inline. */
	struct mime_store_opts keep = { .keep_named_bodies = true };
	struct mime_store_split_result r2;
	ck_assert_int_eq(mime_store_split(b.data, b.len, &keep, &r2, &error), 0);
	ck_assert_uint_eq(r2.attachment_count, 1);
	mime_store_split_result_free(&r2);

	/* A wrong attachment length, a failing fetch and a corrupt blob fail cleanly. */
	r.attachments[0].len--;
	ck_assert_int_eq(mime_store_join(r.tree, r.tree_len, fetch, &r, &out, &error), -1);
	ck_assert_int_eq(mime_store_join(r.tree, r.tree_len, NULL, NULL, &out, &error), -1);
	buffer_free(&out);
	mime_store_split_result_free(&r);
	buffer_free(&b);
}
END_TEST

START_TEST(test_corrupt_blobs)
{
	size_t len;
	unsigned char *raw = read_file(CORPUS "nested.eml", &len);
	struct mime_store_opts opts = { .attachment_threshold = 5 };
	struct mime_store_split_result r;
	const char *error;
	ck_assert_int_eq(mime_store_split(raw, len, &opts, &r, &error), 0);
	for (size_t cut = 0; cut < r.tree_len; cut++) {
		struct buffer out = BUFFER_INIT;
		ck_assert_int_eq(mime_store_join(r.tree, cut, fetch, &r, &out, &error), -1);
		buffer_free(&out);
	}
	for (int i = 0; i < 5000; i++) {
		unsigned char *t = xmalloc(r.tree_len);
		memcpy(t, r.tree, r.tree_len);
		t[rnd() % (r.tree_len - 2) + 2] ^= (unsigned char)(1 + rnd() % 255);
		struct buffer out = BUFFER_INIT;
		struct mime_message *m;
		(void)mime_store_join(t, r.tree_len, fetch, &r, &out, &error);
		if (mime_store_load(t, r.tree_len, &m, &error) == 0) {
			struct buffer bs = BUFFER_INIT;
			mime_imap_bodystructure(m->root, true, &bs);
			buffer_free(&bs);
			mime_message_free(&m);
		}
		buffer_free(&out);
		free(t);
	}
	r.tree[1] = 99;
	size_t total;
	ck_assert_int_eq(mime_store_total_size(r.tree, r.tree_len, &total, &error), -1);
	ck_assert_str_eq(error, "unsupported MIME tree blob version");
	mime_store_split_result_free(&r);
	free(raw);
}
END_TEST

static char *section(const unsigned char *tree, size_t tree_len, const unsigned char *raw,
		     const char *part, enum mime_section s)
{
	size_t start, len;
	const char *error;
	if (mime_store_section_range(tree, tree_len, part, s, &start, &len, &error) < 0)
		return NULL;
	return xstrndup((const char *)raw + start, len);
}

START_TEST(test_section_ranges)
{
	size_t len;
	unsigned char *raw = read_file(CORPUS "nested.eml", &len);
	struct mime_store_split_result r;
	const char *error;
	ck_assert_int_eq(mime_store_split(raw, len, NULL, &r, &error), 0);
	struct { const char *part; enum mime_section s; const char *want; } cases[] = {
		{ "1", MIME_SECTION_ALL, "See attached message." },
		{ "1", MIME_SECTION_MIME, "Content-Type: text/plain\r\n\r\n" },
		{ "2.1", MIME_SECTION_ALL, "Caf=E9" },
		{ "2.2", MIME_SECTION_ALL, "euro" },
		{ "2.2", MIME_SECTION_MIME,
		  "Content-Type: text/plain; name*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\n" },
		{ "2.TEXT", MIME_SECTION_TEXT, NULL },
	};
	for (size_t i = 0; i < 5; i++) {
		char *got = section(r.tree, r.tree_len, raw, cases[i].part, cases[i].s);
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, cases[i].want);
		free(got);
	}
	char *h = section(r.tree, r.tree_len, raw, "2", MIME_SECTION_HEADER);
	ck_assert(strncmp(h, "From: Inner Person", 18) == 0);
	ck_assert(strcmp(h + strlen(h) - 4, "\r\n\r\n") == 0);
	free(h);
	char *t = section(r.tree, r.tree_len, raw, "2", MIME_SECTION_TEXT);
	ck_assert(strncmp(t, "--b2\r\n", 6) == 0);
	ck_assert(strcmp(t + strlen(t) - 8, "--b2--\r\n") == 0);
	free(t);
	char *top = section(r.tree, r.tree_len, raw, "", MIME_SECTION_HEADER);
	ck_assert(strncmp(top, "From: outer@", 12) == 0);
	free(top);
	ck_assert_ptr_null(section(r.tree, r.tree_len, raw, "3", MIME_SECTION_ALL));
	ck_assert_ptr_null(section(r.tree, r.tree_len, raw, "1", MIME_SECTION_HEADER));
	ck_assert_ptr_null(section(r.tree, r.tree_len, raw, "", MIME_SECTION_MIME));
	ck_assert_ptr_null(section(r.tree, r.tree_len, raw, "x", MIME_SECTION_ALL));

	/* Partial ranges split across a cut-out body. */
	struct mime_store_opts opts = { .attachment_threshold = 3 };
	struct mime_store_split_result r2;
	ck_assert_int_eq(mime_store_split(raw, len, &opts, &r2, &error), 0);
	for (size_t s = 0; s < len; s += 13) {
		struct mime_store_segment *segs;
		size_t n, got = 0;
		ck_assert_int_eq(mime_store_segments(r2.tree, r2.tree_len, s, 50, &segs, &n, &error), 0);
		for (size_t i = 0; i < n; i++) {
			const unsigned char *d = segs[i].data;
			size_t dl;
			if (segs[i].type == MIME_STORE_SEGMENT_ATTACHMENT) {
				ck_assert_int_eq(fetch(&r2, segs[i].id, &d, &dl), 0);
				d += segs[i].att_offset;
			}
			ck_assert(memcmp(d, raw + s + got, segs[i].len) == 0);
			got += segs[i].len;
		}
		ck_assert_uint_eq(got, len - s < 50 ? len - s : 50);
		free(segs);
	}
	mime_store_split_result_free(&r2);
	mime_store_split_result_free(&r);
	free(raw);
}
END_TEST

START_TEST(test_part_offsets)
{
	size_t len;
	unsigned char *raw = read_file(CORPUS "bare_lf.eml", &len);
	struct mime_message *m;
	mime_parse(raw, len, &m);
	struct mime_part *p1 = mime_part_find(m, "1"), *p2 = mime_part_find(m, "2");
	ck_assert_ptr_nonnull(p1);
	ck_assert_ptr_nonnull(p2);
	ck_assert_ptr_null(mime_part_find(m, "3"));
	ck_assert(memcmp(raw + p1->body_start, "line one\nline two", 17) == 0);
	ck_assert_uint_eq(p1->body_end - p1->body_start, 17);
	ck_assert_uint_eq(p1->lines, 2);
	ck_assert_uint_eq(p2->body_end, p2->body_start);
	ck_assert(memcmp(raw + p1->header_start, "Content-Type: text/plain\n", 25) == 0);
	ck_assert_uint_eq(p1->header_end - p1->header_start, 25);
	ck_assert_uint_eq(m->root->body_end, len);
	mime_message_free(&m);
	free(raw);
}
END_TEST

/* Byte-at-a-time growth: every prefix parses and rebuilds. */
START_TEST(test_prefixes_bytewise)
{
	size_t len;
	unsigned char *raw = read_file(CORPUS "alternative.eml", &len);
	for (size_t cut = 0; cut <= len; cut++)
		check_roundtrip(raw, cut, 30);
	free(raw);
}
END_TEST

static Suite *mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_corpus_roundtrip);
	tcase_add_test(tc, test_random_roundtrip);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_huge_header_and_lines);
	tcase_add_test(tc, test_many_parts);
	tcase_add_test(tc, test_split_cuts_and_dedups);
	tcase_add_test(tc, test_corrupt_blobs);
	tcase_add_test(tc, test_section_ranges);
	tcase_add_test(tc, test_part_offsets);
	tcase_add_test(tc, test_prefixes_bytewise);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mime_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
