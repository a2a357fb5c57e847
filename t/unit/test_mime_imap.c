/* ENVELOPE, BODYSTRUCTURE and decoded text of corpus messages, as exact
 * strings checked by hand against the RFC 3501 grammar. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "mem.h"
#include "mime.h"
#include "mime_imap.h"
#include "mime_store.h"
#include "mime_text.h"

static struct mime_message *load(const char *name, unsigned char **raw_r)
{
	char *path = xasprintf("t/data/mime/%s", name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	struct buffer b = BUFFER_INIT;
	unsigned char tmp[4096];
	size_t n, len;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buffer_append(&b, tmp, n);
	fclose(f);
	free(path);
	*raw_r = (unsigned char *)buffer_steal(&b, &len);
	struct mime_message *m;
	mime_parse(*raw_r, len, &m);
	return m;
}

static const struct {
	const char *file, *envelope, *bodystructure, *body;
} cases[] = {
	{ "simple.eml",
	  "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Hello there\" ((\"Alice Example\" NIL \"alice\" \"example.com\")) "
	  "((\"Alice Example\" NIL \"alice\" \"example.com\")) ((\"Alice Example\" NIL \"alice\" \"example.com\")) "
	  "((\"Bob\" NIL \"bob\" \"example.org\")(NIL NIL \"carol\" \"example.net\")) NIL NIL NIL \"<simple-1@example.com>\")",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 39 2 NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 39 2)" },
	{ "mixed.eml",
	  "(\"Tue, 1 Mar 2022 10:00:00 +0000\" \"Report attached\" ((\"Doe, John\" NIL \"john\" \"example.com\")) "
	  "((NIL NIL \"secretary\" \"example.com\")) ((NIL NIL \"replies\" \"example.com\")) "
	  "((NIL NIL \"Team\" NIL)(NIL NIL \"ann\" \"example.com\")(\"Bo B.\" NIL \"bo\" \"example.com\")(NIL NIL NIL NIL)"
	  "(NIL NIL \"zed\" \"example.com\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL "
	  "\"<prev@example.com>\" \"<mixed-1@example.com>\")",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 54 3 NIL NIL NIL NIL)"
	  "(\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<pdf1@example.com>\" \"The report\" \"base64\" 102 "
	  "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"attachment\" (\"filename\" \"report.pdf\")) (\"en\" \"de\") "
	  "\"http://example.com/report.pdf\") \"mixed\" (\"boundary\" \"==outer==\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 54 3)"
	  "(\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<pdf1@example.com>\" \"The report\" \"base64\" 102) \"mixed\")" },
	{ "alternative.eml", NULL,
	  "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"8bit\" 14 1 NIL NIL NIL NIL)"
	  "((\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 58 1 NIL NIL NIL NIL)"
	  "(\"image\" \"png\" NIL \"<img1>\" NIL \"base64\" 96 NIL (\"inline\" NIL) NIL NIL) \"related\" "
	  "(\"boundary\" \"rel\") NIL NIL NIL) \"alternative\" (\"boundary\" \"alt\") NIL NIL NIL)", NULL },
	{ "nested.eml", NULL,
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1 NIL NIL NIL NIL)"
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 417 (\"Thu, 3 Mar 2022 12:00:00 +0000\" "
	  "\"=?ISO-8859-1?Q?Caf=E9_cr=E8me?=\" ((\"Inner Person\" NIL \"inner\" \"example.com\")) "
	  "((\"Inner Person\" NIL \"inner\" \"example.com\")) ((\"Inner Person\" NIL \"inner\" \"example.com\")) "
	  "((NIL NIL \"someone\" \"example.com\")) NIL NIL NIL \"<inner@example.com>\") "
	  "((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 6 1 NIL NIL NIL NIL)"
	  "(\"text\" \"plain\" (\"name\" \"=?UTF-8?B?4oKsIHJhdGVzLnR4dA==?=\") NIL NIL \"7bit\" 4 1 NIL NIL NIL NIL) "
	  "\"mixed\" (\"boundary\" \"b2\") NIL NIL NIL) 17 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)",
	  NULL },
	{ "broken_boundary.eml", NULL,
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" "
	  "(\"boundary\" \"never\") NIL NIL NIL)", NULL },
	{ "utf8_headers.eml",
	  "(NIL {28}\r\nGrüße – UTF-8 raw header (({12}\r\nАндрис NIL {12}\r\nандрис {23}\r\nуайлддак.орг)) "
	  "(({12}\r\nАндрис NIL {12}\r\nандрис {23}\r\nуайлддак.орг)) (({12}\r\nАндрис NIL {12}\r\nандрис {23}\r\n"
	  "уайлддак.орг)) (({5}\r\nJörg NIL \"joerg\" \"example.de\")) NIL NIL NIL NIL)", NULL, NULL },
	{ "no_header.eml", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 32 1 NIL NIL NIL NIL)", NULL },
};

START_TEST(test_imap_strings)
{
	unsigned char *raw;
	struct mime_message *m = load(cases[_i].file, &raw);
	struct buffer b = BUFFER_INIT;
	if (cases[_i].envelope != NULL) {
		mime_imap_envelope(m->root, &b);
		ck_assert_str_eq(buffer_cstr(&b), cases[_i].envelope);
	}
	if (cases[_i].bodystructure != NULL) {
		buffer_truncate(&b, 0);
		mime_imap_bodystructure(m->root, true, &b);
		ck_assert_str_eq(buffer_cstr(&b), cases[_i].bodystructure);
	}
	if (cases[_i].body != NULL) {
		buffer_truncate(&b, 0);
		mime_imap_bodystructure(m->root, false, &b);
		ck_assert_str_eq(buffer_cstr(&b), cases[_i].body);
	}
	buffer_free(&b);
	mime_message_free(&m);
	free(raw);
}
END_TEST

START_TEST(test_address_edge_cases)
{
	static const struct { const char *from, *want; } t[] = {
		{ "", "NIL" },
		{ "<>", "((NIL NIL \"\" \"\"))" },
		{ "local", "((NIL NIL \"local\" \"\"))" },
		{ "\"q \\\"x\\\"\" <a@b>", "((\"q \\\"x\\\"\" NIL \"a\" \"b\"))" },
		{ "a@b (Comment)", "((NIL NIL \"a\" \"b\"))" },
		{ "<@r1,@r2:x@y>", "((NIL \"@r1,@r2\" \"x\" \"y\"))" },
		{ "=?utf-8?q?J=C3=B6rg?= <j@x>", "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\"))" },
		{ "g: ;", "((NIL NIL \"g\" NIL)(NIL NIL NIL NIL))" },
		{ "g: a@b", "((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL))" },
		{ ",,a@b,,", "((NIL NIL \"a\" \"b\"))" },
		{ "\"john doe\"@x", "((NIL NIL \"\\\"john doe\\\"\" \"x\"))" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *msg = xasprintf("From: %s\r\n\r\n", t[i].from);
		struct mime_message *m;
		mime_parse((const unsigned char *)msg, strlen(msg), &m);
		struct buffer b = BUFFER_INIT;
		mime_imap_envelope(m->root, &b);
		/* (NIL NIL from ...: the from list starts after the two NILs. */
		const char *got = buffer_cstr(&b) + strlen("(NIL NIL ");
		ck_assert_msg(strncmp(got, t[i].want, strlen(t[i].want)) == 0,
			      "From: %s gave %s", t[i].from, buffer_cstr(&b));
		buffer_free(&b);
		mime_message_free(&m);
		free(msg);
	}
}
END_TEST

START_TEST(test_text)
{
	static const struct { const char *file, *subject, *text, *html; } t[] = {
		{ "simple.eml", "Hello there", "Hello Bob,\nthis is a simple message.\n", "" },
		{ "mixed.eml", "Report attached", "Grüße aus München!\nSoft line break.", "" },
		{ "alternative.eml", "Hello 👋 World", "Plain text ✓",
		  "<html><body><p>HTML <img src=\"cid:img1\"></p></body></html>" },
		{ "koi8.eml", "Привет свету", "Привет мир\n", "" },
		{ "nested.eml", "Fwd: inner", "See attached message.", "" },
		{ "utf8_headers.eml", "Grüße – UTF-8 raw header", "Grüße\n", "" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned char *raw;
		struct mime_message *m = load(t[i].file, &raw);
		struct mime_text *x;
		const char *error;
		ck_assert_int_eq(mime_message_text(m, &x, &error), 0);
		ck_assert_str_eq(x->subject, t[i].subject);
		ck_assert_str_eq(x->text, t[i].text);
		ck_assert_str_eq(x->html, t[i].html);
		mime_text_free(&x);
		mime_message_free(&m);
		free(raw);
	}
}
END_TEST

START_TEST(test_attachments)
{
	unsigned char *raw;
	struct mime_message *m = load("rfc2231.eml", &raw);
	struct mime_text *x;
	const char *error;
	ck_assert_int_eq(mime_message_text(m, &x, &error), 0);
	ck_assert_uint_eq(x->attachment_count, 1);
	ck_assert_str_eq(x->attachments[0].part_id, "1");
	ck_assert_str_eq(x->attachments[0].filename, "äöü-long-name.bin");
	ck_assert_str_eq(x->attachments[0].content_type, "application/octet-stream");
	ck_assert_str_eq(x->attachments[0].disposition, "attachment");
	mime_text_free(&x);
	mime_message_free(&m);
	free(raw);

	m = load("mixed.eml", &raw);
	ck_assert_int_eq(mime_message_text(m, &x, &error), 0);
	ck_assert_uint_eq(x->attachment_count, 1);
	ck_assert_str_eq(x->attachments[0].part_id, "2");
	ck_assert_str_eq(x->attachments[0].filename, "report.pdf");
	ck_assert_uint_eq(x->attachments[0].encoded_size, 102);
	ck_assert_uint_eq(x->attachments[0].size, 73);
	ck_assert_str_eq(x->attachments[0].content_id, "<pdf1@example.com>");
	mime_text_free(&x);
	mime_message_free(&m);
	free(raw);

	m = load("nested.eml", &raw);
	ck_assert_int_eq(mime_message_text(m, &x, &error), 0);
	ck_assert_uint_eq(x->attachment_count, 1);
	ck_assert_str_eq(x->attachments[0].content_type, "message/rfc822");
	mime_text_free(&x);
	/* The RFC 2231 filename inside the attached message. */
	struct mime_part *p = mime_part_find(m, "2.2");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(mime_part_filename(m->pool, p), "€ rates.txt");
	mime_message_free(&m);
	free(raw);
}
END_TEST

START_TEST(test_digest_defaults)
{
	unsigned char *raw;
	struct mime_message *m = load("digest.eml", &raw);
	struct mime_part *p1 = mime_part_find(m, "1");
	ck_assert_str_eq(p1->type, "message");
	ck_assert_str_eq(p1->subtype, "rfc822");
	ck_assert(p1->flags & MIME_PART_MESSAGE);
	ck_assert_str_eq(mime_part_find(m, "2")->type, "text");
	struct mime_text *x;
	const char *error;
	ck_assert_int_eq(mime_message_text(m, &x, &error), 0);
	ck_assert_str_eq(x->text, "Résumé in latin-1");
	ck_assert_str_eq(x->subject, "Digest");
	mime_text_free(&x);
	struct buffer b = BUFFER_INIT;
	mime_imap_envelope(p1->children, &b);
	ck_assert_str_eq(buffer_cstr(&b), "(NIL \"first\" ((NIL NIL \"one\" \"example.com\")) "
			 "((NIL NIL \"one\" \"example.com\")) ((NIL NIL \"one\" \"example.com\")) "
			 "NIL NIL NIL NIL NIL)");
	buffer_free(&b);
	mime_message_free(&m);
	free(raw);
}
END_TEST

static Suite *mime_imap_suite(void)
{
	Suite *s = suite_create("mime_imap");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_imap_strings, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_address_edge_cases);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_attachments);
	tcase_add_test(tc, test_digest_defaults);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mime_imap_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
