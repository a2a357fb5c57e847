/* Incremental IMAP command parser: a byte-driven state machine.
 * Token bytes collect in one buffer bounded by max_line_length; the
 * argument tree is built as linked nodes in the caller's pool and turned
 * into EOL-terminated arrays when each list closes. Literal data is copied
 * in bulk straight into the pool (or left to the caller when streamed). */
#include "imap_parser.h"
#include "buffer.h"
#include "mem.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistr.h>

enum state {
	ST_TAG, ST_NAME, ST_ARGS, ST_ATOM, ST_TILDE,
	ST_SECTION, ST_SECTION_QUOTED, ST_SECTION_QESC, ST_SECTION_END, ST_PARTIAL,
	ST_QUOTED, ST_QUOTED_ESC,
	ST_LIT_SIZE, ST_LIT_PLUS, ST_LIT_CLOSE, ST_LIT_CR,
	ST_LIT_WAIT, ST_LIT_DATA, ST_STREAM,
	ST_CR,			/* CR seen where a line may end */
	ST_SKIP, ST_SKIP_LIT,	/* resynchronising after an error */
	ST_FATAL,
};

enum step { STEP_CONTINUE, STEP_COMMAND, STEP_LITERAL, STEP_ERROR };

struct arg_node {
	struct imap_arg arg;
	struct arg_node *next;
};

struct frame {
	struct arg_node *head, *tail, *owner;
	unsigned int count;
};

struct imap_parser {
	struct imap_parser_settings set;
	enum state state;
	struct pool *pool;
	struct buffer tok;
	size_t line_len;
	bool need_sep;		/* an argument just ended: SP, ')' or EOL next */
	bool cr_empty_line;	/* the pending CR ended an empty line */

	const char *tag, *name;
	struct frame *stack;	/* max_list_depth + 1 frames */
	unsigned int depth, nargs;

	/* sections: BODY[...]<...> */
	size_t section_name_len, section_end;
	unsigned int section_parens;

	/* literals */
	uint64_t lit_size, lit_pos, inline_total;
	bool lit_nonsync, lit8;
	unsigned char *lit_data;
	unsigned int lit_digits;
	uint64_t skip_bytes;
	char skip_tail[24];	/* last bytes of a line being skipped */
	size_t skip_tail_len;

	/* the error being returned */
	enum imap_parser_error err_code;
	const char *err_msg;
	bool err_fatal, err_pending;
};

static const char *const section_names[] = {
	"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
};

void imap_parser_settings_init(struct imap_parser_settings *set)
{
	memset(set, 0, sizeof(*set));
	set->max_line_length = 64 * 1024;
	set->max_literal_size = 64 * 1024 * 1024;
	set->max_swallow_size = 128 * 1024 * 1024;
	set->max_list_depth = 32;
	set->max_args = 4096;
	set->stream_threshold = 64 * 1024;
	set->literal_minus_max = 4096;
	set->nonsync = IMAP_NONSYNC_LITERAL_PLUS;
	set->utf8 = false;
	set->allow_literal8 = true;
}

static void command_reset(struct imap_parser *p)
{
	p->state = ST_TAG;
	p->tag = p->name = NULL;
	p->depth = p->nargs = 0;
	memset(&p->stack[0], 0, sizeof(p->stack[0]));
	p->line_len = 0;
	p->need_sep = false;
	p->inline_total = 0;
	p->lit_data = NULL;
	buffer_truncate(&p->tok, 0);
}

struct imap_parser *imap_parser_create(const struct imap_parser_settings *set)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));
	if (set != NULL)
		p->set = *set;
	else
		imap_parser_settings_init(&p->set);
	if (p->set.max_list_depth == 0)
		p->set.max_list_depth = 1;
	p->stack = xcalloc(p->set.max_list_depth + 1, sizeof(*p->stack));
	buffer_init(&p->tok);
	command_reset(p);
	return p;
}

void imap_parser_destroy(struct imap_parser **parserp)
{
	struct imap_parser *p = *parserp;
	if (p == NULL)
		return;
	buffer_free(&p->tok);
	free(p->stack);
	free(p);
	*parserp = NULL;
}

void imap_parser_reset(struct imap_parser *p)
{
	command_reset(p);
	p->err_pending = false;
	p->skip_bytes = 0;
	p->skip_tail_len = 0;
}

void imap_parser_set_utf8(struct imap_parser *p, bool utf8)
{
	p->set.utf8 = utf8;
}

void imap_parser_set_nonsync(struct imap_parser *p, enum imap_parser_nonsync mode)
{
	p->set.nonsync = mode;
}

/* Records an error; the byte that caused it has been consumed. */
static enum step fail(struct imap_parser *p, enum imap_parser_error code,
		      const char *msg)
{
	p->err_code = code;
	p->err_msg = msg;
	p->err_fatal = code == IMAP_PARSER_ERROR_LINE_TOO_LONG;
	p->state = p->err_fatal ? ST_FATAL : ST_SKIP;
	p->skip_tail_len = 0;
	return STEP_ERROR;
}

static enum step syntax(struct imap_parser *p, const char *msg)
{
	return fail(p, IMAP_PARSER_ERROR_SYNTAX, msg);
}

/* Enters swallowing of n literal bytes, fatal if over the cap. */
static enum step swallow(struct imap_parser *p, uint64_t n, enum step ret)
{
	if (n > p->set.max_swallow_size) {
		p->err_code = IMAP_PARSER_ERROR_TOOBIG;
		p->err_msg = "Literal too large";
		p->err_fatal = true;
		p->state = ST_FATAL;
		return STEP_ERROR;
	}
	p->skip_bytes = n;
	p->state = ST_SKIP_LIT;
	return ret;
}

static char *pool_bytes(struct pool *pool, const void *data, size_t len)
{
	char *s = pool_alloc(pool, len + 1);
	memcpy(s, data, len);
	return s;
}

static struct imap_arg *push_arg(struct imap_parser *p, enum imap_arg_type type)
{
	if (p->nargs >= p->set.max_args)
		return NULL;
	p->nargs++;
	struct arg_node *n = pool_alloc(p->pool, sizeof(*n));
	struct frame *f = &p->stack[p->depth];
	if (f->tail == NULL)
		f->head = n;
	else
		f->tail->next = n;
	f->tail = n;
	f->count++;
	n->arg.type = type;
	p->need_sep = true;
	return &n->arg;
}

static struct imap_arg *frame_array(struct imap_parser *p, const struct frame *f)
{
	struct imap_arg *arr = pool_alloc(p->pool, (f->count + 1) * sizeof(*arr));
	unsigned int i = 0;
	for (const struct arg_node *n = f->head; n != NULL; n = n->next)
		arr[i++] = n->arg;
	return arr; /* arr[count] is zeroed: IMAP_ARG_EOL */
}

static enum step push_token(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *arg = push_arg(p, type);
	if (arg == NULL)
		return syntax(p, "Too many arguments");
	arg->str = pool_bytes(p->pool, p->tok.data, p->tok.len);
	arg->len = p->tok.len;
	if (type == IMAP_ARG_ATOM && arg->len == 3 && strcasecmp(arg->str, "NIL") == 0)
		arg->type = IMAP_ARG_NIL;
	buffer_truncate(&p->tok, 0);
	p->state = ST_ARGS;
	return STEP_CONTINUE;
}

static enum step open_list(struct imap_parser *p)
{
	if (p->depth >= p->set.max_list_depth)
		return syntax(p, "Too deeply nested lists");
	struct imap_arg *arg = push_arg(p, IMAP_ARG_LIST);
	if (arg == NULL)
		return syntax(p, "Too many arguments");
	struct arg_node *owner = p->stack[p->depth].tail;
	p->depth++;
	memset(&p->stack[p->depth], 0, sizeof(p->stack[0]));
	p->stack[p->depth].owner = owner;
	p->need_sep = false;
	return STEP_CONTINUE;
}

static enum step close_list(struct imap_parser *p)
{
	if (p->depth == 0)
		return syntax(p, "Unexpected ')'");
	struct frame *f = &p->stack[p->depth];
	f->owner->arg.list = frame_array(p, f);
	f->owner->arg.list_count = f->count;
	p->depth--;
	p->need_sep = true;
	return STEP_CONTINUE;
}

static enum step end_line(struct imap_parser *p)
{
	if (p->cr_empty_line) {
		p->cr_empty_line = false;
		command_reset(p);
		return STEP_CONTINUE;
	}
	if (p->depth > 0)
		return syntax(p, "Missing ')'");
	return STEP_COMMAND;
}

static bool is_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\+", c) == NULL;
}

static bool is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){\"", c) == NULL;
}

static enum step step_tag(struct imap_parser *p, unsigned char c)
{
	if (c == ' ') {
		if (p->tok.len == 0)
			return syntax(p, "Missing tag");
		p->tag = pool_bytes(p->pool, p->tok.data, p->tok.len);
		buffer_truncate(&p->tok, 0);
		p->state = ST_NAME;
		return STEP_CONTINUE;
	}
	if ((c == '\r' || c == '\n') && p->tok.len == 0) {
		p->cr_empty_line = true;
		p->state = ST_CR;
		return c == '\n' ? end_line(p) : STEP_CONTINUE;
	}
	if (c == '\r' || c == '\n') {
		p->tag = pool_bytes(p->pool, p->tok.data, p->tok.len);
		return syntax(p, "Missing command name");
	}
	if (!is_tag_char(c))
		return syntax(p, "Invalid characters in tag");
	buffer_append_c(&p->tok, c);
	return STEP_CONTINUE;
}

static enum step step_name(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' || c == '\r' || c == '\n') {
		if (p->tok.len == 0)
			return syntax(p, "Missing command name");
		p->name = pool_bytes(p->pool, p->tok.data, p->tok.len);
		buffer_truncate(&p->tok, 0);
		p->state = c == ' ' ? ST_ARGS : ST_CR;
		return c == '\n' ? end_line(p) : STEP_CONTINUE;
	}
	if (!is_tag_char(c) || c == ']')
		return syntax(p, "Invalid characters in command name");
	buffer_append_c(&p->tok, c);
	return STEP_CONTINUE;
}

static enum step step_args(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		p->need_sep = false;
		return STEP_CONTINUE;
	case '\r':
		p->state = ST_CR;
		return STEP_CONTINUE;
	case '\n':
		return end_line(p);
	case ')':
		return close_list(p);
	}
	if (p->need_sep)
		return syntax(p, "Missing space between arguments");
	switch (c) {
	case '(':
		return open_list(p);
	case '"':
		p->state = ST_QUOTED;
		return STEP_CONTINUE;
	case '{':
		p->lit8 = false;
		p->lit_size = 0;
		p->lit_digits = 0;
		p->lit_nonsync = false;
		p->state = ST_LIT_SIZE;
		return STEP_CONTINUE;
	case '~':
		p->state = ST_TILDE;
		return STEP_CONTINUE;
	}
	if (c >= 0x80)
		return syntax(p, "8-bit data in atom");
	if (!is_atom_char(c))
		return syntax(p, "Invalid characters in atom");
	buffer_append_c(&p->tok, c);
	p->state = ST_ATOM;
	return STEP_CONTINUE;
}

static bool is_section_name(const struct buffer *tok)
{
	for (size_t i = 0; i < sizeof(section_names) / sizeof(section_names[0]); i++) {
		if (strlen(section_names[i]) == tok->len &&
		    strncasecmp((const char *)tok->data, section_names[i], tok->len) == 0)
			return true;
	}
	return false;
}

static enum step step_atom(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' || c == '\r' || c == '\n' || c == ')') {
		enum step r = push_token(p, IMAP_ARG_ATOM);
		return r != STEP_CONTINUE ? r : step_args(p, c);
	}
	if (c == '[' && is_section_name(&p->tok)) {
		p->section_name_len = p->tok.len;
		p->section_parens = 0;
		p->state = ST_SECTION;
	} else if (c >= 0x80) {
		return syntax(p, "8-bit data in atom");
	} else if (!is_atom_char(c)) {
		return syntax(p, "Invalid characters in atom");
	}
	buffer_append_c(&p->tok, c);
	return STEP_CONTINUE;
}

static enum step step_tilde(struct imap_parser *p, unsigned char c)
{
	if (c == '{') {
		if (!p->set.allow_literal8)
			return syntax(p, "literal8 not allowed");
		p->lit8 = true;
		p->lit_size = 0;
		p->lit_digits = 0;
		p->lit_nonsync = false;
		p->state = ST_LIT_SIZE;
		return STEP_CONTINUE;
	}
	buffer_append_c(&p->tok, '~');
	p->state = ST_ATOM;
	return step_atom(p, c);
}

/* "<" number ["." nz-number] ">" with 32-bit numbers. */
static bool parse_partial(const char *s, struct imap_arg_section *sec)
{
	uint64_t n[2] = { 0, 0 };
	unsigned int idx = 0, digits = 0;
	for (s++; *s != '>'; s++) {
		if (*s == '.' && idx == 0 && digits > 0) {
			idx = 1;
			digits = 0;
		} else if (*s >= '0' && *s <= '9') {
			n[idx] = n[idx] * 10 + (uint64_t)(*s - '0');
			if (n[idx] > UINT32_MAX)
				return false;
			digits++;
		} else {
			return false;
		}
	}
	if (digits == 0 || s[1] != '\0' || (idx == 1 && n[1] == 0))
		return false;
	sec->has_partial = true;
	sec->has_length = idx == 1;
	sec->offset = n[0];
	sec->length = n[1];
	return true;
}

static enum step push_section(struct imap_parser *p)
{
	struct imap_arg *arg = push_arg(p, IMAP_ARG_SECTION);
	if (arg == NULL)
		return syntax(p, "Too many arguments");
	char *s = pool_bytes(p->pool, p->tok.data, p->tok.len);
	arg->str = s;
	arg->len = p->tok.len;
	struct imap_arg_section *sec = &arg->section;
	sec->name = pool_strndup(p->pool, s, p->section_name_len);
	sec->spec = pool_strndup(p->pool, s + p->section_name_len + 1,
				 p->section_end - p->section_name_len - 1);
	if (p->section_end + 1 < p->tok.len && !parse_partial(s + p->section_end + 1, sec))
		return syntax(p, "Invalid partial range in section");
	buffer_truncate(&p->tok, 0);
	p->state = ST_ARGS;
	return STEP_CONTINUE;
}

static enum step step_section(struct imap_parser *p, unsigned char c)
{
	if (c == '\r' || c == '\n')
		return syntax(p, "Missing ']' in section");
	if (c >= 0x80 || c < 0x20 || c == 0x7f)
		return syntax(p, "Invalid characters in section");
	if (p->state == ST_SECTION_QESC) {
		p->state = ST_SECTION_QUOTED;
	} else if (p->state == ST_SECTION_QUOTED) {
		if (c == '\\')
			p->state = ST_SECTION_QESC;
		else if (c == '"')
			p->state = ST_SECTION;
	} else if (c == '"') {
		p->state = ST_SECTION_QUOTED;
	} else if (c == '(') {
		if (++p->section_parens > p->set.max_list_depth)
			return syntax(p, "Too deeply nested lists");
	} else if (c == ')') {
		if (p->section_parens == 0)
			return syntax(p, "Unexpected ')' in section");
		p->section_parens--;
	} else if (c == '[') {
		return syntax(p, "Unexpected '[' in section");
	} else if (c == ']' && p->section_parens == 0) {
		p->section_end = p->tok.len;
		p->state = ST_SECTION_END;
	} else if (c == ']') {
		return syntax(p, "Missing ')' in section");
	}
	buffer_append_c(&p->tok, c);
	return STEP_CONTINUE;
}

static enum step step_section_end(struct imap_parser *p, unsigned char c)
{
	if (p->state == ST_SECTION_END && c == '<') {
		buffer_append_c(&p->tok, c);
		p->state = ST_PARTIAL;
		return STEP_CONTINUE;
	}
	if (p->state == ST_PARTIAL) {
		if (c != '>' && c != '.' && (c < '0' || c > '9'))
			return syntax(p, "Invalid partial range in section");
		buffer_append_c(&p->tok, c);
		return c == '>' ? push_section(p) : STEP_CONTINUE;
	}
	enum step r = push_section(p);
	return r != STEP_CONTINUE ? r : step_args(p, c);
}

static enum step step_quoted(struct imap_parser *p, unsigned char c)
{
	if (p->state == ST_QUOTED_ESC) {
		if (c != '"' && c != '\\')
			return syntax(p, "Invalid escape in quoted string");
		buffer_append_c(&p->tok, c);
		p->state = ST_QUOTED;
		return STEP_CONTINUE;
	}
	if (c == '\\') {
		p->state = ST_QUOTED_ESC;
		return STEP_CONTINUE;
	}
	if (c == '"') {
		if (p->set.utf8 && u8_check(p->tok.data, p->tok.len) != NULL)
			return syntax(p, "Invalid UTF-8 in quoted string");
		return push_token(p, IMAP_ARG_STRING);
	}
	if (c == '\r' || c == '\n')
		return syntax(p, "Missing '\"'");
	if (c == '\0')
		return syntax(p, "NUL in quoted string");
	if (c >= 0x80 && !p->set.utf8)
		return syntax(p, "8-bit data in quoted string");
	buffer_append_c(&p->tok, c);
	return STEP_CONTINUE;
}

/* The CRLF after {n} has been read: check limits, then read, ask or refuse. */
static enum step literal_announced(struct imap_parser *p)
{
	const struct imap_parser_settings *set = &p->set;
	uint64_t n = p->lit_size;
	if (p->nargs >= set->max_args) {
		enum step r = syntax(p, "Too many arguments");
		return p->lit_nonsync ? swallow(p, n, r) : r;
	}
	if (!p->lit_nonsync) {
		if (n > set->max_literal_size)
			return fail(p, IMAP_PARSER_ERROR_TOOBIG, "Literal too large");
		p->state = ST_LIT_WAIT;
		return STEP_LITERAL;
	}
	enum step r = STEP_CONTINUE;
	if (set->nonsync == IMAP_NONSYNC_NONE)
		r = syntax(p, "Non-synchronizing literals not supported");
	else if (n > set->max_literal_size)
		r = fail(p, IMAP_PARSER_ERROR_TOOBIG, "Literal too large");
	else if (set->nonsync == IMAP_NONSYNC_LITERAL_MINUS && n > set->literal_minus_max)
		r = fail(p, IMAP_PARSER_ERROR_TOOBIG,
			 "Non-synchronizing literal too large (LITERAL-)");
	if (r != STEP_CONTINUE)
		return swallow(p, n, r);
	if ((set->stream_threshold > 0 && n >= set->stream_threshold) ||
	    p->inline_total + n > set->max_literal_size) {
		p->state = ST_LIT_WAIT;
		return STEP_LITERAL;
	}
	imap_parser_literal_accept(p, false);
	return STEP_CONTINUE;
}

static enum step step_literal_size(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			if (++p->lit_digits > 19)
				return syntax(p, "Invalid literal size");
			p->lit_size = p->lit_size * 10 + (uint64_t)(c - '0');
			return STEP_CONTINUE;
		}
		if (p->lit_digits == 0 || (c != '+' && c != '}'))
			return syntax(p, "Invalid literal size");
		p->lit_nonsync = c == '+';
		p->state = c == '+' ? ST_LIT_PLUS : ST_LIT_CLOSE;
		return STEP_CONTINUE;
	case ST_LIT_PLUS:
		if (c != '}')
			return syntax(p, "Invalid literal size");
		p->state = ST_LIT_CLOSE;
		return STEP_CONTINUE;
	case ST_LIT_CLOSE:
		if (c == '\r') {
			p->state = ST_LIT_CR;
			return STEP_CONTINUE;
		}
		/* fall through */
	default:
		if (c != '\n')
			return syntax(p, "Missing CRLF after literal size");
		return literal_announced(p);
	}
}

/* A line being skipped may end in a literal announcement whose bytes the
 * client sends regardless: remember its tail and swallow the literal. */
static enum step step_skip(struct imap_parser *p, unsigned char c)
{
	if (c != '\n') {
		if (c == '\r')
			return STEP_CONTINUE;
		if (p->skip_tail_len == sizeof(p->skip_tail)) {
			memmove(p->skip_tail, p->skip_tail + 1, sizeof(p->skip_tail) - 1);
			p->skip_tail_len--;
		}
		p->skip_tail[p->skip_tail_len++] = (char)c;
		return STEP_CONTINUE;
	}
	const char *t = p->skip_tail, *end = t + p->skip_tail_len;
	p->skip_tail_len = 0;
	if (end - t >= 4 && end[-1] == '}' && end[-2] == '+') {
		const char *d = end - 2;
		while (d > t && d[-1] >= '0' && d[-1] <= '9')
			d--;
		if (d > t && d[-1] == '{' && d < end - 2 && end - 2 - d <= 19) {
			uint64_t n = strtoull(d, NULL, 10);
			p->line_len = 0;
			return swallow(p, n, STEP_CONTINUE);
		}
	}
	command_reset(p);
	return STEP_CONTINUE;
}

static enum step step(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_TAG: return step_tag(p, c);
	case ST_NAME: return step_name(p, c);
	case ST_ARGS: return step_args(p, c);
	case ST_ATOM: return step_atom(p, c);
	case ST_TILDE: return step_tilde(p, c);
	case ST_SECTION:
	case ST_SECTION_QUOTED:
	case ST_SECTION_QESC: return step_section(p, c);
	case ST_SECTION_END:
	case ST_PARTIAL: return step_section_end(p, c);
	case ST_QUOTED:
	case ST_QUOTED_ESC: return step_quoted(p, c);
	case ST_LIT_SIZE:
	case ST_LIT_PLUS:
	case ST_LIT_CLOSE:
	case ST_LIT_CR: return step_literal_size(p, c);
	case ST_CR:
		if (c != '\n')
			return syntax(p, "CR without LF");
		return end_line(p);
	case ST_SKIP: return step_skip(p, c);
	default: abort(); /* the bulk states are handled by the caller */
	}
}

static void literal_finish(struct imap_parser *p, bool streamed)
{
	struct imap_arg *arg = push_arg(p, IMAP_ARG_LITERAL);
	arg->str = streamed ? NULL : (const char *)p->lit_data;
	arg->len = (size_t)p->lit_size;
	arg->literal8 = p->lit8;
	arg->nonsync = p->lit_nonsync;
	arg->streamed = streamed;
	p->lit_data = NULL;
	p->state = ST_ARGS;
}

void imap_parser_literal_accept(struct imap_parser *p, bool stream)
{
	if (stream) {
		p->state = ST_STREAM;
		return;
	}
	if (p->inline_total + p->lit_size > p->set.max_literal_size) {
		/* The client sends the bytes anyway; refuse after them. */
		p->err_pending = true;
		fail(p, IMAP_PARSER_ERROR_TOOBIG, "Literals of the command too large");
		swallow(p, p->lit_size, STEP_ERROR);
		return;
	}
	p->inline_total += p->lit_size;
	p->lit_data = pool_alloc(p->pool, (size_t)p->lit_size + 1);
	p->lit_pos = 0;
	p->state = ST_LIT_DATA;
	if (p->lit_size == 0)
		literal_finish(p, false);
}

void imap_parser_literal_reject(struct imap_parser *p)
{
	if (!p->lit_nonsync) {
		command_reset(p);
		return;
	}
	command_reset(p);
	if (swallow(p, p->lit_size, STEP_CONTINUE) == STEP_ERROR)
		p->err_pending = true;
}

void imap_parser_literal_done(struct imap_parser *p)
{
	literal_finish(p, true);
}

static void fill_result(struct imap_parser *p, struct imap_parser_result *res)
{
	memset(res, 0, sizeof(*res));
	res->tag = p->tag;
	res->name = p->name;
}

/* Copies or skips literal bytes in bulk; returns bytes used. */
static size_t bulk(struct imap_parser *p, const unsigned char *data, size_t len)
{
	if (p->state == ST_LIT_DATA) {
		uint64_t want = p->lit_size - p->lit_pos;
		size_t n = want < len ? (size_t)want : len;
		memcpy(p->lit_data + p->lit_pos, data, n);
		p->lit_pos += n;
		if (p->lit_pos == p->lit_size)
			literal_finish(p, false);
		return n;
	}
	size_t n = p->skip_bytes < len ? (size_t)p->skip_bytes : len;
	p->skip_bytes -= n;
	if (p->skip_bytes == 0)
		p->state = ST_SKIP;
	return n;
}

static int result_error(struct imap_parser *p, struct imap_parser_result *res,
			const char **error_r)
{
	res->error_code = p->err_code;
	res->fatal = p->err_fatal;
	*error_r = p->err_msg;
	/* Forget the command (and every pointer into the pool) but keep
	 * skipping where the error left off. */
	enum state state = p->state;
	size_t line_len = p->line_len;
	command_reset(p);
	if (state != ST_TAG) {
		p->state = state;
		p->line_len = line_len;
	}
	return IMAP_PARSE_ERROR;
}

static int result_literal(struct imap_parser *p, struct imap_parser_result *res)
{
	res->literal_size = p->lit_size;
	res->literal_sync = !p->lit_nonsync;
	res->literal8 = p->lit8;
	res->literal_stream =
		(p->set.stream_threshold > 0 && p->lit_size >= p->set.stream_threshold) ||
		p->inline_total + p->lit_size > p->set.max_literal_size;
	res->literal_arg_index = p->stack[0].count - (p->depth > 0 ? 1 : 0);
	return IMAP_PARSE_LITERAL;
}

static int result_command(struct imap_parser *p, struct imap_parser_result *res)
{
	res->args = frame_array(p, &p->stack[0]);
	res->args_count = p->stack[0].count;
	command_reset(p);
	return IMAP_PARSE_COMMAND;
}

int imap_parser_read(struct imap_parser *p, struct pool *pool,
		     const unsigned char *data, size_t len, size_t *consumed_r,
		     struct imap_parser_result *res, const char **error_r)
{
	size_t pos = 0;
	p->pool = pool;
	*error_r = NULL;
	*consumed_r = 0;
	fill_result(p, res);
	if (p->err_pending) {
		p->err_pending = false;
		return result_error(p, res, error_r);
	}
	if (p->state == ST_FATAL)
		return result_error(p, res, error_r);
	if (p->state == ST_LIT_WAIT || p->state == ST_STREAM) {
		p->err_code = IMAP_PARSER_ERROR_SYNTAX;
		p->err_msg = "Literal neither accepted nor consumed";
		p->err_fatal = true;
		p->state = ST_FATAL;
		return result_error(p, res, error_r);
	}
	while (pos < len) {
		if (p->state == ST_LIT_DATA || p->state == ST_SKIP_LIT) {
			pos += bulk(p, data + pos, len - pos);
			continue;
		}
		unsigned char c = data[pos++];
		enum step r;
		if (++p->line_len > p->set.max_line_length) {
			p->tag = p->state == ST_SKIP ? NULL : p->tag;
			r = fail(p, IMAP_PARSER_ERROR_LINE_TOO_LONG, "Too long command line");
		} else {
			r = step(p, c);
		}
		if (r == STEP_CONTINUE)
			continue;
		*consumed_r = pos;
		fill_result(p, res);
		if (r == STEP_ERROR) {
			if (c == '\n' && p->state == ST_SKIP)
				p->state = ST_TAG;
			else if (p->state == ST_SKIP)
				(void)step_skip(p, c); /* may start a {n+} */
			return result_error(p, res, error_r);
		}
		return r == STEP_LITERAL ? result_literal(p, res) : result_command(p, res);
	}
	*consumed_r = pos;
	return IMAP_PARSE_NEED_MORE;
}

bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_STRING &&
	    (arg->type != IMAP_ARG_LITERAL || arg->streamed))
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r)
{
	return imap_arg_get_atom(arg, str_r) || imap_arg_get_string(arg, str_r);
}

bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		return true;
	}
	return imap_arg_get_string(arg, str_r);
}

bool imap_arg_get_list(const struct imap_arg *arg,
		       const struct imap_arg **list_r, unsigned int *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->list;
	*count_r = arg->list_count;
	return true;
}

bool imap_arg_atom_equals(const struct imap_arg *arg, const char *s)
{
	return (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) &&
		strcasecmp(arg->str, s) == 0;
}
