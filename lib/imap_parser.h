/* Incremental IMAP command parser (RFC 3501 grammar, RFC 7888 LITERAL+ and
 * LITERAL-, RFC 6855 UTF-8 quoted strings, RFC 3516 literal8).
 * The server feeds it bytes from any input buffer and gets back a complete
 * command as a tree of arguments, a request to decide about a literal, a
 * "need more input", or a tagged-BAD reason after which it resynchronises.
 *
 * Driving it (one parser per connection):
 *
 *   for (;;) {
 *       ret = imap_parser_read(p, cmd_pool, data, len, &used, &res, &error);
 *       drop `used` bytes from the input buffer;
 *       IMAP_PARSE_NEED_MORE: wait for more input (all bytes were consumed).
 *       IMAP_PARSE_COMMAND:   run res.tag/res.name/res.args, pool_clear later.
 *       IMAP_PARSE_ERROR:     send "<res.tag or *> BAD <error>" (or
 *                             "NO [TOOBIG] <error>" when res.error_code says
 *                             so); if res.fatal send "* BYE" and disconnect.
 *                             Otherwise keep feeding: the parser skips the
 *                             rest of the bad line itself.
 *       IMAP_PARSE_LITERAL:   a literal of res.literal_size bytes follows.
 *                             Either imap_parser_literal_reject() and send a
 *                             tagged NO/BAD, or imap_parser_literal_accept()
 *                             and, if res.literal_sync, send "+ Ready".
 *                             When accepted with stream=true, the caller reads
 *                             exactly literal_size bytes itself from its input
 *                             (they are never copied by the parser) and then
 *                             calls imap_parser_literal_done().
 *   }
 *
 * Literal limits are checked when the literal is announced, before any of
 * its bytes are read: a synchronising literal over the limit fails with
 * IMAP_PARSER_ERROR_TOOBIG and the client never sends it; a non-synchronising
 * one over the limit is swallowed (up to max_swallow_size, else fatal).
 *
 * Memory: the argument tree, tag and name are allocated from the pool given
 * to imap_parser_read(). Pass the same pool until a call returns COMMAND or
 * ERROR; after that the parser keeps no pointer into it and the caller may
 * pool_clear() it. The parser's own memory is bounded by max_line_length. */
#ifndef WD_IMAP_PARSER_H
#define WD_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;
struct imap_parser;

/* Non-synchronising literals the server advertises. */
enum imap_parser_nonsync {
	IMAP_NONSYNC_NONE,	/* {n+} is a syntax error (swallowed) */
	IMAP_NONSYNC_LITERAL_MINUS,	/* {n+} up to literal_minus_max bytes */
	IMAP_NONSYNC_LITERAL_PLUS,	/* {n+} up to max_literal_size */
};

struct imap_parser_settings {
	/* Bytes of one command excluding literal data (default 64 KiB). */
	size_t max_line_length;
	/* Largest literal accepted, i.e. APPENDLIMIT (default 64 MB). Also the
	 * bound on the sum of the literals one command keeps in memory. */
	uint64_t max_literal_size;
	/* A non-synchronising literal over the limits is skipped if it is at
	 * most this large, else the error is fatal (default 128 MB). */
	uint64_t max_swallow_size;
	/* Parenthesis nesting (default 32). */
	unsigned int max_list_depth;
	/* Arguments of one command, counting those inside lists (default 4096). */
	unsigned int max_args;
	/* Non-synchronising literals at least this large are reported with
	 * IMAP_PARSE_LITERAL so the caller may stream them; synchronising ones
	 * are always reported. 0 never reports non-sync literals (default 64 KiB). */
	uint64_t stream_threshold;
	/* LITERAL- limit for non-synchronising literals (default 4096). */
	uint64_t literal_minus_max;
	enum imap_parser_nonsync nonsync;	/* default LITERAL_PLUS */
	/* UTF8=ACCEPT: quoted strings may hold valid UTF-8 (default false). */
	bool utf8;
	/* ~{n} literal8 (RFC 3516 BINARY) is accepted (default true). */
	bool allow_literal8;
};

enum imap_arg_type {
	IMAP_ARG_EOL,		/* terminates every argument array */
	IMAP_ARG_NIL,		/* the atom NIL (any case); str holds it as sent */
	IMAP_ARG_ATOM,
	IMAP_ARG_STRING,	/* quoted string, unescaped */
	IMAP_ARG_LITERAL,	/* {n}, {n+} or ~{n}; str is NULL if streamed */
	IMAP_ARG_LIST,
	/* BODY[..]<..>, BODY.PEEK[..], BINARY[..], BINARY.PEEK[..],
	 * BINARY.SIZE[..]: str is the whole atom as sent; section describes it */
	IMAP_ARG_SECTION,
};

struct imap_arg_section {
	const char *name;	/* "BODY", "BODY.PEEK", ... as sent (any case) */
	const char *spec;	/* text between the brackets, e.g. "1.HEADER.FIELDS (From)" */
	bool has_partial;	/* <offset> or <offset.length> was given */
	bool has_length;
	uint64_t offset, length;
};

struct imap_arg {
	enum imap_arg_type type;
	/* NIL, ATOM, STRING, LITERAL, SECTION: NUL-terminated bytes; literals
	 * may contain NULs of their own, so use len. */
	const char *str;
	size_t len;
	/* LIST: list_count elements followed by an IMAP_ARG_EOL. */
	const struct imap_arg *list;
	unsigned int list_count;
	/* LITERAL */
	bool literal8, nonsync, streamed;
	/* SECTION */
	struct imap_arg_section section;
};

/* Return values of imap_parser_read(). */
#define IMAP_PARSE_COMMAND	0
#define IMAP_PARSE_ERROR	(-1)
#define IMAP_PARSE_NEED_MORE	(-2)
#define IMAP_PARSE_LITERAL	1

enum imap_parser_error {
	IMAP_PARSER_ERROR_NONE,
	IMAP_PARSER_ERROR_SYNTAX,	/* tagged BAD */
	IMAP_PARSER_ERROR_TOOBIG,	/* tagged NO [TOOBIG] (literal over a limit) */
	IMAP_PARSER_ERROR_LINE_TOO_LONG,	/* BAD, then BYE: always fatal */
};

struct imap_parser_result {
	/* COMMAND, LITERAL and (when known) ERROR; NULL when not yet read. */
	const char *tag;
	const char *name;
	/* COMMAND: args_count arguments followed by an IMAP_ARG_EOL. */
	const struct imap_arg *args;
	unsigned int args_count;
	/* LITERAL */
	uint64_t literal_size;
	bool literal_sync;	/* {n}: the server must send "+ " to get it */
	bool literal8;
	bool literal_stream;	/* at or over stream_threshold: suggest streaming */
	unsigned int literal_arg_index;	/* top-level position of the literal */
	/* ERROR */
	enum imap_parser_error error_code;
	bool fatal;		/* the connection must be closed */
};

/* Fills set with the defaults listed above. */
void imap_parser_settings_init(struct imap_parser_settings *set);

struct imap_parser *imap_parser_create(const struct imap_parser_settings *set);
void imap_parser_destroy(struct imap_parser **parser);
/* Forgets any partial command; the next byte starts a new line. */
void imap_parser_reset(struct imap_parser *parser);
/* ENABLE UTF8=ACCEPT, or LITERAL+ after a capability change. */
void imap_parser_set_utf8(struct imap_parser *parser, bool utf8);
void imap_parser_set_nonsync(struct imap_parser *parser, enum imap_parser_nonsync mode);

/* Parses from data[0..len). Always sets *consumed_r (<= len) and fills
 * *result_r; returns IMAP_PARSE_COMMAND, IMAP_PARSE_LITERAL,
 * IMAP_PARSE_NEED_MORE (then *consumed_r == len) or IMAP_PARSE_ERROR with
 * *error_r the reason for the client (valid until the next call). */
int imap_parser_read(struct imap_parser *parser, struct pool *pool,
		     const unsigned char *data, size_t len, size_t *consumed_r,
		     struct imap_parser_result *result_r, const char **error_r);

/* After IMAP_PARSE_LITERAL. With stream=false the parser reads the literal
 * into the pool (fails with TOOBIG/fatal error on the next read if that
 * exceeds max_literal_size in total); with stream=true the caller consumes
 * the bytes itself and calls imap_parser_literal_done(). */
void imap_parser_literal_accept(struct imap_parser *parser, bool stream);
/* After IMAP_PARSE_LITERAL: the command is abandoned and the server answers
 * it now. A synchronising literal is never sent; a non-synchronising one is
 * skipped (fatal error on the next read if over max_swallow_size). */
void imap_parser_literal_reject(struct imap_parser *parser);
/* The caller has consumed all literal_size bytes of a streamed literal. */
void imap_parser_literal_done(struct imap_parser *parser);

/* Argument helpers; false if the argument has another type. */
/* ATOM or NIL. */
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
/* ATOM, NIL (as the name "NIL"), STRING or in-memory LITERAL. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r);
/* STRING or in-memory LITERAL. */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r);
/* NIL gives NULL; otherwise as imap_arg_get_string(). */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r);
bool imap_arg_get_list(const struct imap_arg *arg,
		       const struct imap_arg **list_r, unsigned int *count_r);
/* ATOM or NIL equal to s, ignoring ASCII case. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *s);

#endif
