/* IMAP command parser: table-driven cases rendered to a canonical string,
 * every case fed at once, byte at a time and in odd chunks, literal flows
 * (sync, LITERAL+, LITERAL-, refused, streamed), errors and resync. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "imap_parser.h"
#include "pool.h"

enum policy { ACCEPT, REJECT, STREAM };

static void render_args(struct buffer *out, const struct imap_arg *args, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		if (i > 0)
			buffer_append_c(out, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			buffer_printf(out, "%s%s", a->type == IMAP_ARG_NIL ? "NIL:" : "", a->str);
			break;
		case IMAP_ARG_STRING:
			buffer_printf(out, "\"%s\"", a->str);
			break;
		case IMAP_ARG_LITERAL:
			buffer_printf(out, "%s{%zu%s}", a->literal8 ? "~" : "", a->len,
				      a->nonsync ? "+" : "");
			if (a->streamed)
				buffer_append_str(out, "<streamed>");
			else
				buffer_append(out, a->str, a->len);
			break;
		case IMAP_ARG_LIST:
			buffer_append_c(out, '(');
			render_args(out, a->list, a->list_count);
			ck_assert_int_eq(a->list[a->list_count].type, IMAP_ARG_EOL);
			buffer_append_c(out, ')');
			break;
		case IMAP_ARG_SECTION:
			buffer_printf(out, "S[%s|%s", a->section.name, a->section.spec);
			if (a->section.has_partial)
				buffer_printf(out, "|%llu", (unsigned long long)a->section.offset);
			if (a->section.has_length)
				buffer_printf(out, ".%llu", (unsigned long long)a->section.length);
			buffer_append_c(out, ']');
			break;
		case IMAP_ARG_EOL:
			ck_abort_msg("EOL inside an argument array");
		}
	}
}

static void render_result(struct buffer *out, int ret, const struct imap_parser_result *res,
			  const char *error)
{
	if (out->len > 0)
		buffer_append_str(out, "; ");
	switch (ret) {
	case IMAP_PARSE_COMMAND:
		buffer_printf(out, "%s %s", res->tag, res->name);
		if (res->args_count > 0)
			buffer_append_c(out, ' ');
		render_args(out, res->args, res->args_count);
		ck_assert_int_eq(res->args[res->args_count].type, IMAP_ARG_EOL);
		break;
	case IMAP_PARSE_LITERAL:
		buffer_printf(out, "+%llu%s", (unsigned long long)res->literal_size,
			      res->literal_sync ? "" : "+");
		break;
	case IMAP_PARSE_ERROR:
		buffer_printf(out, "%s %s: %s%s",
			      res->error_code == IMAP_PARSER_ERROR_TOOBIG ? "TOOBIG" : "BAD",
			      res->tag != NULL ? res->tag : "*", error,
			      res->fatal ? " FATAL" : "");
		break;
	}
}

/* Feeds input in chunks of `chunk` bytes (0: all at once) the way a server
 * drains its input buffer, and renders every result. */
static char *run(const char *input, size_t inlen, size_t chunk,
		 const struct imap_parser_settings *set, enum policy pol)
{
	struct imap_parser *p = imap_parser_create(set);
	struct pool *pool = pool_create(512);
	struct buffer out = BUFFER_INIT;
	size_t pos = 0, end = chunk == 0 || chunk > inlen ? inlen : chunk;
	uint64_t stream_left = 0;
	bool streaming = false;
	for (;;) {
		if (streaming) {
			size_t n = end - pos < stream_left ? end - pos : (size_t)stream_left;
			pos += n;
			stream_left -= n;
			if (stream_left == 0) {
				streaming = false;
				imap_parser_literal_done(p);
				continue;
			}
			if (end == inlen)
				break;
			end = end + chunk > inlen ? inlen : end + chunk;
			continue;
		}
		struct imap_parser_result res;
		const char *error;
		size_t used;
		int ret = imap_parser_read(p, pool, (const unsigned char *)input + pos,
					   end - pos, &used, &res, &error);
		ck_assert_uint_le(used, end - pos);
		pos += used;
		if (ret == IMAP_PARSE_NEED_MORE) {
			ck_assert_uint_eq(pos, end);
			if (end == inlen)
				break;
			end = end + chunk > inlen ? inlen : end + chunk;
			continue;
		}
		render_result(&out, ret, &res, error);
		if (ret == IMAP_PARSE_LITERAL) {
			if (pol == REJECT) {
				imap_parser_literal_reject(p);
			} else if (pol == STREAM) {
				imap_parser_literal_accept(p, true);
				streaming = true;
				stream_left = res.literal_size;
			} else {
				imap_parser_literal_accept(p, false);
			}
			continue;
		}
		pool_clear(pool);
		if (ret == IMAP_PARSE_ERROR && res.fatal)
			break;
	}
	if (streaming)
		buffer_append_str(&out, "; <stream incomplete>");
	imap_parser_destroy(&p);
	pool_destroy(&pool);
	return buffer_steal(&out, NULL);
}

struct pcase {
	const char *in, *out;
	enum policy pol;
	int set;	/* which settings variant */
	size_t inlen;	/* 0: strlen(in) */
};

static void settings_for(int variant, struct imap_parser_settings *set)
{
	imap_parser_settings_init(set);
	switch (variant) {
	case 1: /* small limits */
		set->max_line_length = 64;
		set->max_literal_size = 10;
		set->max_swallow_size = 20;
		set->max_list_depth = 3;
		set->max_args = 6;
		set->stream_threshold = 8;
		break;
	case 2:
		set->nonsync = IMAP_NONSYNC_LITERAL_MINUS;
		set->literal_minus_max = 5;
		break;
	case 3:
		set->nonsync = IMAP_NONSYNC_NONE;
		break;
	case 4:
		set->utf8 = true;
		break;
	case 5:
		set->allow_literal8 = false;
		break;
	}
}

static const struct pcase cases[] = {
	/* argument types */
	{ "a NOOP\r\n", "a NOOP", 0, 0, 0 },
	{ "a1 noop\n", "a1 noop", 0, 0, 0 },
	{ "A] LOGIN user \"pa ss\"\r\n", "A] LOGIN user \"pa ss\"", 0, 0, 0 },
	{ "a SELECT nil\r\n", "a SELECT NIL:nil", 0, 0, 0 },
	{ "a X \"q\\\"u\\\\o\" \"\"\r\n", "a X \"q\"u\\o\" \"\"", 0, 0, 0 },
	{ "a STORE 1:* +FLAGS (\\Seen $Junk)\r\n", "a STORE 1:* +FLAGS (\\Seen $Junk)", 0, 0, 0 },
	{ "a LIST \"\" %/*\r\n", "a LIST \"\" %/*", 0, 0, 0 },
	{ "a X ((a (b)) () c)\r\n", "a X ((a (b)) () c)", 0, 0, 0 },
	{ "a X ( a  b )  \r\n", "a X (a b)", 0, 0, 0 },
	{ "a X ~x foo[bar] ]\r\n", "a X ~x foo[bar] ]", 0, 0, 0 },
	{ "a X {3}\r\nabc {0}\r\n\r\n", "+3; +0; a X {3}abc {0}", 0, 0, 0 },
	{ "a X {3+}\r\na\0c x\r\n", "a X {3+}a", 0, 0, 17 },
	{ "a X (~{2+}\r\nxy)\r\n", "a X (~{2+}xy)", 0, 0, 0 },
	{ "a X ~{2}\r\nxy\r\n", "+2; a X ~{2}xy", 0, 0, 0 },
	{ "a X ~{2+}\r\nxy\r\nb NOOP\r\n", "BAD a: literal8 not allowed; b NOOP", 0, 5, 0 },
	/* sections */
	{ "a FETCH 1 (BODY[] BODY.PEEK[1.2.HEADER]<0.100> body[text]<5>)\r\n",
	  "a FETCH 1 (S[BODY|] S[BODY.PEEK|1.2.HEADER|0.100] S[body|text|5])", 0, 0, 0 },
	{ "a FETCH 1 BODY.PEEK[HEADER.FIELDS (From \"To\" X-A)]\r\n",
	  "a FETCH 1 S[BODY.PEEK|HEADER.FIELDS (From \"To\" X-A)]", 0, 0, 0 },
	{ "a FETCH 1 (BINARY[1] BINARY.SIZE[2] BINARY.PEEK[]<0.1>)\r\n",
	  "a FETCH 1 (S[BINARY|1] S[BINARY.SIZE|2] S[BINARY.PEEK||0.1])", 0, 0, 0 },
	{ "a FETCH 1 BODY[\"]\"]\r\n", "a FETCH 1 S[BODY|\"]\"]", 0, 0, 0 },
	{ "a FETCH 1 BODY[]<0.0>\r\n", "BAD a: Invalid partial range in section", 0, 0, 0 },
	{ "a FETCH 1 BODY[]<1.2.3>\r\nb NOOP\r\n",
	  "BAD a: Invalid partial range in section; b NOOP", 0, 0, 0 },
	{ "a FETCH 1 BODY[]<4294967296>\r\n", "BAD a: Invalid partial range in section", 0, 0, 0 },
	{ "a FETCH 1 BODY[]<x>\r\n", "BAD a: Invalid partial range in section", 0, 0, 0 },
	{ "a FETCH 1 BODY[HEADER\r\nb NOOP\r\n", "BAD a: Missing ']' in section; b NOOP", 0, 0, 0 },
	{ "a FETCH 1 BODY[(]\r\n", "BAD a: Missing ')' in section", 0, 0, 0 },
	{ "a FETCH 1 BODY[)]\r\n", "BAD a: Unexpected ')' in section", 0, 0, 0 },
	{ "a FETCH 1 BODY[]x\r\n", "BAD a: Missing space between arguments", 0, 0, 0 },
	/* empty lines are ignored; several commands in one read */
	{ "\r\n\na NOOP\r\nb CHECK\r\n", "a NOOP; b CHECK", 0, 0, 0 },
	/* errors and resync */
	{ "* NOOP\r\na NOOP\r\n", "BAD *: Invalid characters in tag; a NOOP", 0, 0, 0 },
	{ "a+ NOOP\r\n", "BAD *: Invalid characters in tag", 0, 0, 0 },
	{ " NOOP\r\n", "BAD *: Missing tag", 0, 0, 0 },
	{ "a\r\nb NOOP\r\n", "BAD a: Missing command name; b NOOP", 0, 0, 0 },
	{ "a \r\n", "BAD a: Missing command name", 0, 0, 0 },
	{ "a NO(OP\r\n", "BAD a: Invalid characters in command name", 0, 0, 0 },
	{ "a X (b\r\nc NOOP\r\n", "BAD a: Missing ')'; c NOOP", 0, 0, 0 },
	{ "a X b)\r\n", "BAD a: Unexpected ')'", 0, 0, 0 },
	{ "a X \"b\r\nc NOOP\r\n", "BAD a: Missing '\"'; c NOOP", 0, 0, 0 },
	{ "a X \"\\n\"\r\n", "BAD a: Invalid escape in quoted string", 0, 0, 0 },
	{ "a X \"b\"c\r\n", "BAD a: Missing space between arguments", 0, 0, 0 },
	{ "a X f\xc3\xb6o\r\nb NOOP\r\n", "BAD a: 8-bit data in atom; b NOOP", 0, 0, 0 },
	{ "a X \xc3\r\n", "BAD a: 8-bit data in atom", 0, 0, 0 },
	{ "a X f\x01o\r\n", "BAD a: Invalid characters in atom", 0, 0, 0 },
	{ "a X f\"o\r\n", "BAD a: Invalid characters in atom", 0, 0, 0 },
	{ "a X \"f\xc3\xb6\"\r\n", "BAD a: 8-bit data in quoted string", 0, 0, 0 },
	{ "a X \"f\xc3\xb6\"\r\n", "a X \"f\xc3\xb6\"", 0, 4, 0 },
	{ "a X \"f\xc3\"\r\n", "BAD a: Invalid UTF-8 in quoted string", 0, 4, 0 },
	{ "a X \"a\0b\"\r\n", "BAD a: NUL in quoted string", 0, 0, 11 },
	{ "a NOOP\rx\r\nb NOOP\r\n", "BAD a: CR without LF; b NOOP", 0, 0, 0 },
	{ "a X {}\r\n", "BAD a: Invalid literal size", 0, 0, 0 },
	{ "a X {1a}\r\n", "BAD a: Invalid literal size", 0, 0, 0 },
	{ "a X {12345678901234567890}\r\n", "BAD a: Invalid literal size", 0, 0, 0 },
	{ "a X {1+x\r\n", "BAD a: Invalid literal size", 0, 0, 0 },
	{ "a X {1} \r\n", "BAD a: Missing CRLF after literal size", 0, 0, 0 },
	{ "a X {1}\rx\r\n", "BAD a: Missing CRLF after literal size", 0, 0, 0 },
	/* a bad line ending in {n+}: the literal bytes are skipped, not parsed */
	{ "a X \"b\"( {5+}\r\nb NOP x\r\nc NOOP\r\n", "BAD a: Missing space between arguments; c NOOP",
	  0, 0, 0 },
	{ "a X \"\\x\" {5+}\r\nb NOP\r\nc NOOP\r\n", "BAD a: Invalid escape in quoted string; c NOOP",
	  0, 0, 0 },
	/* limits */
	{ "a X ((((b))))\r\n", "BAD a: Too deeply nested lists", 0, 1, 0 },
	{ "a X (((b)))\r\n", "a X (((b)))", 0, 1, 0 },
	{ "a X 1 2 3 4 5 6\r\n", "a X 1 2 3 4 5 6", 0, 1, 0 },
	{ "a X 1 2 3 4 5 (6)\r\n", "BAD a: Too many arguments", 0, 1, 0 },
	{ "a X 1 2 3 4 5 6 7\r\nb NOOP\r\n", "BAD a: Too many arguments; b NOOP", 0, 1, 0 },
	{ "a X 1 2 3 4 5 6 {1+}\r\nxb NOOP\r\n", "BAD a: Too many arguments", 0, 1, 0 },
	{ "a X 0123456789012345678901234567890123456789012345678901234567890123456789\r\n",
	  "BAD a: Too long command line FATAL", 0, 1, 0 },
	{ "a X (b\"\r\n01234567890123456789012345678901234567890123456789012345678901234\r\n",
	  "BAD a: Invalid characters in atom; BAD *: Too long command line FATAL", 0, 1, 0 },
	/* literal flows: sync too big refused before reading, the client never
	 * sends it, so the next line is a new command */
	{ "a APPEND x {11}\r\nb NOOP\r\n", "TOOBIG a: Literal too large; b NOOP", 0, 1, 0 },
	{ "a APPEND x {10}\r\n0123456789\r\n", "+10; a APPEND x {10}0123456789", 0, 1, 0 },
	{ "a APPEND x {4}\r\nb NOOP\r\n", "+4; b NOOP", REJECT, 0, 0 },
	{ "a APPEND x {10}\r\n0123456789 y\r\n", "+10; a APPEND x {10}<streamed> y", STREAM, 1, 0 },
	{ "a APPEND x {0}\r\n\r\n", "+0; a APPEND x {0}<streamed>", STREAM, 0, 0 },
	/* non-sync: reported only at the stream threshold */
	{ "a X {2+}\r\nab {8+}\r\n01234567\r\n", "+8+; a X {2+}ab {8+}01234567", 0, 1, 0 },
	{ "a X {8+}\r\n01234567 z\r\n", "+8+; a X {8+}<streamed> z", STREAM, 1, 0 },
	{ "a X {8+}\r\n01234567 z\r\nb NOOP\r\n", "+8+; b NOOP", REJECT, 1, 0 },
	/* sum of in-memory literals over max_literal_size */
	{ "a X {6+}\r\n012345 {6}\r\n012345\r\nb NOOP\r\n",
	  "+6; TOOBIG a: Literals of the command too large; b NOOP", 0, 1, 0 },
	/* non-sync too big: swallowed, then the next command */
	{ "a X {11+}\r\n01234567890 y\r\nb NOOP\r\n", "TOOBIG a: Literal too large; b NOOP", 0, 1, 0 },
	{ "a X {21+}\r\n012345678901234567890\r\nb NOOP\r\n", "TOOBIG a: Literal too large FATAL",
	  0, 1, 0 },
	/* LITERAL- */
	{ "a X {5+}\r\nabcde\r\n", "a X {5+}abcde", 0, 2, 0 },
	{ "a X {6+}\r\nabcdef\r\nb NOOP\r\n",
	  "TOOBIG a: Non-synchronizing literal too large (LITERAL-); b NOOP", 0, 2, 0 },
	{ "a X {6}\r\nabcdef\r\n", "+6; a X {6}abcdef", 0, 2, 0 },
	{ "a X {2+}\r\nab\r\nb NOOP\r\n", "BAD a: Non-synchronizing literals not supported; b NOOP",
	  0, 3, 0 },
};

static void check_case(const struct pcase *c, size_t chunk)
{
	struct imap_parser_settings set;
	settings_for(c->set, &set);
	size_t len = c->inlen != 0 ? c->inlen : strlen(c->in);
	char *got = run(c->in, len, chunk, &set, c->pol);
	ck_assert_msg(strcmp(got, c->out) == 0, "input %s (chunk %zu):\n got  %s\n want %s",
		      c->in, chunk, got, c->out);
	free(got);
}

START_TEST(parser_table_all_at_once)
{
	check_case(&cases[_i], 0);
}
END_TEST

START_TEST(parser_table_byte_at_a_time)
{
	check_case(&cases[_i], 1);
}
END_TEST

START_TEST(parser_table_odd_chunks)
{
	for (size_t chunk = 2; chunk < 8; chunk++)
		check_case(&cases[_i], chunk);
}
END_TEST

START_TEST(parser_consumed_stops_at_command)
{
	struct imap_parser *p = imap_parser_create(NULL);
	struct pool *pool = pool_create(512);
	const char *in = "a NOOP\r\nb NOOP\r\n";
	struct imap_parser_result res;
	const char *error;
	size_t used;
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)in, strlen(in),
					  &used, &res, &error), IMAP_PARSE_COMMAND);
	ck_assert_uint_eq(used, 8);
	ck_assert_str_eq(res.tag, "a");
	ck_assert_uint_eq(res.args_count, 0);
	/* a sync literal stops right after its CRLF, with the command so far */
	in = "t1 APPEND INBOX (\\Seen) {5}\r\nhello\r\n";
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)in, strlen(in),
					  &used, &res, &error), IMAP_PARSE_LITERAL);
	ck_assert_uint_eq(used, strlen("t1 APPEND INBOX (\\Seen) {5}\r\n"));
	ck_assert_str_eq(res.tag, "t1");
	ck_assert_str_eq(res.name, "APPEND");
	ck_assert(res.literal_sync);
	ck_assert_uint_eq(res.literal_arg_index, 2);
	ck_assert(!res.literal_stream);
	/* not accepting is a programming error: fatal */
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)in, 0,
					  &used, &res, &error), IMAP_PARSE_ERROR);
	ck_assert(res.fatal);
	imap_parser_reset(p);
	in = "x LOGIN \"u\" {2+}\r\npw\r\n";
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)in, strlen(in),
					  &used, &res, &error), IMAP_PARSE_COMMAND);
	const char *s;
	ck_assert(imap_arg_get_astring(&res.args[0], &s));
	ck_assert_str_eq(s, "u");
	ck_assert(imap_arg_get_astring(&res.args[1], &s));
	ck_assert_str_eq(s, "pw");
	ck_assert(!imap_arg_get_atom(&res.args[1], &s));
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}
END_TEST

START_TEST(parser_arg_helpers)
{
	struct imap_parser *p = imap_parser_create(NULL);
	struct pool *pool = pool_create(512);
	const char *in = "a X NIL \"s\" (1 2) atom\r\n";
	struct imap_parser_result res;
	const char *error, *s;
	size_t used;
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)in, strlen(in),
					  &used, &res, &error), IMAP_PARSE_COMMAND);
	ck_assert(imap_arg_get_nstring(&res.args[0], &s));
	ck_assert_ptr_null(s);
	ck_assert(imap_arg_get_astring(&res.args[0], &s));
	ck_assert_str_eq(s, "NIL");
	ck_assert(imap_arg_atom_equals(&res.args[0], "nil"));
	ck_assert(imap_arg_get_nstring(&res.args[1], &s));
	ck_assert_str_eq(s, "s");
	ck_assert(!imap_arg_get_atom(&res.args[1], &s));
	const struct imap_arg *list;
	unsigned int count;
	ck_assert(imap_arg_get_list(&res.args[2], &list, &count));
	ck_assert_uint_eq(count, 2);
	ck_assert(imap_arg_atom_equals(&list[1], "2"));
	ck_assert(!imap_arg_get_list(&res.args[3], &list, &count));
	ck_assert(!imap_arg_get_string(&res.args[3], &s));
	ck_assert(imap_arg_atom_equals(&res.args[3], "ATOM"));
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}
END_TEST

START_TEST(parser_garbage_without_crlf_is_bounded)
{
	/* 10 MB of garbage: a fatal error after max_line_length bytes */
	struct imap_parser *p = imap_parser_create(NULL);
	struct pool *pool = pool_create(512);
	size_t len = 10 * 1024 * 1024;
	unsigned char *junk = malloc(len);
	memset(junk, 'x', len);
	junk[0] = 'a';
	junk[1] = ' ';
	struct imap_parser_result res;
	const char *error;
	size_t used;
	int ret = imap_parser_read(p, pool, junk, len, &used, &res, &error);
	ck_assert_int_eq(ret, IMAP_PARSE_ERROR);
	ck_assert(res.fatal);
	ck_assert_int_eq(res.error_code, IMAP_PARSER_ERROR_LINE_TOO_LONG);
	ck_assert_uint_eq(used, 64 * 1024 + 1);
	ck_assert_uint_lt(pool_used(pool), 64);
	ck_assert_int_eq(imap_parser_read(p, pool, junk, len, &used, &res, &error),
			 IMAP_PARSE_ERROR);
	ck_assert_uint_eq(used, 0);
	free(junk);
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}
END_TEST

START_TEST(parser_big_literal_streamed)
{
	/* APPEND of 25 MB with streaming: the parser never copies the data */
	struct imap_parser *p = imap_parser_create(NULL);
	struct pool *pool = pool_create(512);
	size_t n = 25 * 1024 * 1024;
	char head[64];
	int hl = snprintf(head, sizeof(head), "a APPEND INBOX {%zu+}\r\n", n);
	struct imap_parser_result res;
	const char *error;
	size_t used;
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)head, (size_t)hl,
					  &used, &res, &error), IMAP_PARSE_LITERAL);
	ck_assert(res.literal_stream);
	ck_assert(!res.literal_sync);
	imap_parser_literal_accept(p, true);
	imap_parser_literal_done(p);
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)"\r\n", 2,
					  &used, &res, &error), IMAP_PARSE_COMMAND);
	ck_assert_int_eq(res.args[1].type, IMAP_ARG_LITERAL);
	ck_assert(res.args[1].streamed);
	ck_assert_uint_eq(res.args[1].len, n);
	ck_assert_uint_lt(pool_used(pool), 4096);
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}
END_TEST

START_TEST(parser_utf8_toggle)
{
	struct imap_parser *p = imap_parser_create(NULL);
	struct pool *pool = pool_create(512);
	const char *in = "a SELECT \"Entw\xc3\xbcrfe\"\r\n";
	struct imap_parser_result res;
	const char *error;
	size_t used;
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)in, strlen(in),
					  &used, &res, &error), IMAP_PARSE_ERROR);
	size_t rest = strlen(in) - used;
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)in + used, rest,
					  &used, &res, &error), IMAP_PARSE_NEED_MORE);
	ck_assert_uint_eq(used, rest);
	imap_parser_set_utf8(p, true);
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)in, strlen(in),
					  &used, &res, &error), IMAP_PARSE_COMMAND);
	imap_parser_set_nonsync(p, IMAP_NONSYNC_NONE);
	in = "b X {1+}\r\nxc NOOP\r\n";
	ck_assert_int_eq(imap_parser_read(p, pool, (const unsigned char *)in, strlen(in),
					  &used, &res, &error), IMAP_PARSE_ERROR);
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_parser");
	TCase *tc = tcase_create("core");
	int n = (int)(sizeof(cases) / sizeof(cases[0]));
	tcase_add_loop_test(tc, parser_table_all_at_once, 0, n);
	tcase_add_loop_test(tc, parser_table_byte_at_a_time, 0, n);
	tcase_add_loop_test(tc, parser_table_odd_chunks, 0, n);
	tcase_add_test(tc, parser_consumed_stops_at_command);
	tcase_add_test(tc, parser_arg_helpers);
	tcase_add_test(tc, parser_garbage_without_crlf_is_bounded);
	tcase_add_test(tc, parser_big_literal_streamed);
	tcase_add_test(tc, parser_utf8_toggle);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
