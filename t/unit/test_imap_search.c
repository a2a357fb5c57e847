/* SEARCH programs: parsed from real command lines and rendered as a
 * prefix tree, plus the errors. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "buffer.h"
#include "imap_parser.h"
#include "imap_search.h"
#include "pool.h"

static void render(struct buffer *out, const struct imap_search_key *k)
{
	static const char *const names[] = {
		"AND", "OR", "NOT", "ALL", "FLAG", "KEYWORD", "NEW", "OLD", "RECENT",
		"HEADER", "BODY", "TEXT", "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON",
		"SENTSINCE", "LARGER", "SMALLER", "SEQ", "UID", "MODSEQ",
	};
	for (; k != NULL; k = k->next) {
		buffer_append_str(out, names[k->type]);
		if (k->header != NULL)
			buffer_printf(out, ":%s", k->header);
		if (k->str != NULL)
			buffer_printf(out, "=%s", k->str);
		if (k->type >= IMAP_SEARCH_BEFORE && k->type <= IMAP_SEARCH_SENTSINCE)
			buffer_printf(out, "=%lld", (long long)k->date);
		if (k->type == IMAP_SEARCH_LARGER || k->type == IMAP_SEARCH_SMALLER ||
		    k->type == IMAP_SEARCH_MODSEQ)
			buffer_printf(out, "=%llu", (unsigned long long)k->number);
		if (k->type == IMAP_SEARCH_SEQSET || k->type == IMAP_SEARCH_UID) {
			buffer_append_c(out, '=');
			imap_seqset_write(&k->seqset, out);
		}
		if (k->children != NULL) {
			buffer_append_c(out, '(');
			render(out, k->children);
			buffer_append_c(out, ')');
		}
		if (k->next != NULL)
			buffer_append_c(out, ' ');
	}
}

static const struct { const char *program, *tree; } cases[] = {
	{ "ALL", "AND(ALL)" },
	{ "CHARSET UTF-8 FROM \"smith\"", "UTF-8 AND(HEADER:From=smith)" },
	{ "seen unseen", "AND(FLAG=\\Seen NOT(FLAG=\\Seen))" },
	{ "KEYWORD $Junk UNKEYWORD foo", "AND(KEYWORD=$Junk NOT(KEYWORD=foo))" },
	{ "HEADER X-Spam yes BODY {3+}\r\nabc TEXT x", "AND(HEADER:X-Spam=yes BODY=abc TEXT=x)" },
	{ "OR FROM a (TO b CC c) NOT DELETED",
	  "AND(OR(HEADER:From=a AND(HEADER:To=b HEADER:Cc=c)) NOT(FLAG=\\Deleted))" },
	{ "SINCE 1-Feb-1994 BEFORE \"2-Feb-1994\"", "AND(SINCE=760060800 BEFORE=760147200)" },
	{ "LARGER 100 SMALLER 200", "AND(LARGER=100 SMALLER=200)" },
	{ "1:3,5:* UID 7:*", "AND(SEQ=1:3,5:* UID=7:*)" },
	{ "MODSEQ 720162338", "AND(MODSEQ=720162338)" },
	{ "MODSEQ \"/flags/\\\\draft\" all 620162338", "AND(MODSEQ=620162338)" },
	{ "NEW OLD RECENT", "AND(NEW OLD RECENT)" },
	/* errors */
	{ "", "ERR Missing SEARCH keys" },
	{ "CHARSET", "ERR Missing CHARSET name" },
	{ "FOO", "ERR Unknown SEARCH key" },
	{ "FROM", "ERR Missing or invalid SEARCH string argument" },
	{ "SINCE 31-Feb-1994", "ERR Invalid SEARCH date" },
	{ "LARGER x", "ERR Invalid SEARCH number" },
	{ "LARGER 99999999999999999999999", "ERR Invalid SEARCH number" },
	{ "OR ALL", "ERR Missing SEARCH key" },
	{ "()", "ERR Empty SEARCH group" },
	{ "UID 0", "ERR Invalid number 0 in sequence set" },
	{ "$", "ERR Unknown SEARCH key" },
	{ "UID $", "ERR Search result reference ($) not supported" },
	{ "MODSEQ x", "ERR Invalid MODSEQ value" },
	{ "MODSEQ \"/flags/x\" foo 1", "ERR Invalid MODSEQ entry type" },
	{ "\"ALL\"", "ERR Invalid SEARCH key" },
};

START_TEST(search_table)
{
	struct imap_parser *p = imap_parser_create(NULL);
	struct pool *pool = pool_create(1024);
	char line[512];
	snprintf(line, sizeof(line), "a SEARCH %s\r\n", cases[_i].program);
	struct imap_parser_result res;
	const char *error, *charset;
	size_t used;
	ck_assert_int_eq(imap_parser_read(p, pool, (unsigned char *)line, strlen(line), &used,
					  &res, &error), IMAP_PARSE_COMMAND);
	struct imap_search_key *root;
	struct buffer out = BUFFER_INIT;
	if (imap_search_parse(pool, res.args, res.args_count, &charset, &root, &error) < 0) {
		buffer_printf(&out, "ERR %s", error);
	} else {
		if (charset != NULL)
			buffer_printf(&out, "%s ", charset);
		render(&out, root);
	}
	ck_assert_str_eq(buffer_cstr(&out), cases[_i].tree);
	buffer_free(&out);
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}
END_TEST

START_TEST(search_deep_nesting_refused)
{
	struct imap_parser *p = imap_parser_create(NULL);
	struct pool *pool = pool_create(1024);
	struct buffer line = BUFFER_INIT;
	buffer_append_str(&line, "a SEARCH");
	for (int i = 0; i < 1000; i++)
		buffer_append_str(&line, " NOT");
	buffer_append_str(&line, " ALL\r\n");
	struct imap_parser_result res;
	const char *error, *charset;
	size_t used;
	ck_assert_int_eq(imap_parser_read(p, pool, line.data, line.len, &used, &res, &error),
			 IMAP_PARSE_COMMAND);
	struct imap_search_key *root;
	ck_assert_int_eq(imap_search_parse(pool, res.args, res.args_count, &charset, &root,
					   &error), -1);
	ck_assert_str_eq(error, "SEARCH keys nested too deeply");
	buffer_free(&line);
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_search");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, search_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, search_deep_nesting_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
