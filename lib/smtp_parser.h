/* SMTP and LMTP input parsing shared by wd-lmtp (and later submission):
 * command lines, MAIL FROM / RCPT TO paths with their ESMTP parameters
 * (RFC 5321, RFC 6531 SMTPUTF8, RFC 1870 SIZE, RFC 6152 8BITMIME) and an
 * incremental DATA reader (dot-unstuffing, bare LF, a size limit enforced
 * while reading). No I/O; results are allocated from the caller's pool.
 * Address normalisation and lookup are address.h's and store.h's job. */
#ifndef WD_SMTP_PARSER_H
#define WD_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buffer;
struct pool;

/* Longest command line accepted, CRLF excluded (RFC 5321 asks for 512;
 * SMTPUTF8 addresses and parameters need more). */
#define SMTP_MAX_LINE 4096

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_LHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

/* The verb of a command line (without case) and its arguments: *args_r
 * points after the space that follows the verb, or to "" without one. */
enum smtp_verb smtp_command_parse(const char *line, const char **args_r);

struct smtp_param {
	const char *keyword;	/* upper case */
	const char *value;	/* NULL for a keyword without "=value" */
};

struct smtp_path {
	/* "local@domain": a quoted local part is unquoted when what it holds
	 * needs no quotes; "" for the null path <>; a source route is dropped */
	const char *address;
	bool utf8;		/* the address has non-ASCII characters */
	struct smtp_param *params;
	unsigned int params_count;
};

/* Parses the arguments of MAIL ("FROM:<path> params", keyword "FROM") or
 * RCPT ("TO:<path> params", keyword "TO"). allow_null accepts "<>".
 * On error returns -1 with *code_r the reply code (501 syntax, 553 bad
 * mailbox, 555 bad parameter) and *error_r the enhanced status code and
 * text ("5.1.3 Bad address syntax"). Non-ASCII addresses are parsed; the
 * caller decides whether SMTPUTF8 was asked for. */
int smtp_path_parse(struct pool *pool, const char *args, const char *keyword, bool allow_null,
		    struct smtp_path *path_r, int *code_r, const char **error_r);

/* The value of a parameter (NULL if absent or given without value);
 * *present_r (may be NULL) tells whether it was given at all. */
const char *smtp_param_get(const struct smtp_path *path, const char *keyword, bool *present_r);

/* Incremental reader of the DATA body: undoes dot-stuffing, turns bare LF
 * into CRLF (bare CR is kept), stops at the "." line (CRLF.CRLF or
 * LF.LF) and counts the message size. Past max_size it stops storing
 * (the buffer is freed) but keeps reading to the end, so the reply can be
 * 552 without holding the rest in memory. */
struct smtp_data {
	struct buffer *out;
	uint64_t max_size;
	uint64_t size;		/* bytes of the message read so far */
	bool too_big;
	bool done;
	int state;
};

void smtp_data_init(struct smtp_data *data, struct buffer *out, uint64_t max_size);
/* Consumes input up to and including the end line and returns how many
 * bytes it took; data->done is set once the end line was read (bytes after
 * it, such as pipelined commands, are not consumed). */
size_t smtp_data_feed(struct smtp_data *data, const unsigned char *in, size_t len);

#endif
