/* SEARCH keys: a table of simple keys and a recursive descent for the
 * rest, bounded in depth so hostile nesting cannot exhaust the stack. */
#include "imap_search.h"
#include "imap_date.h"
#include "imap_parser.h"
#include "pool.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 64

struct ctx {
	struct pool *pool;
	const struct imap_arg *args;
	unsigned int count, pos, depth;
	const char *error;
};

enum arg_kind { NONE, STR, HDR_STR, DATE, NUMBER, NOT_FLAG, NOT_KEYWORD };

static const struct {
	const char *name;
	enum imap_search_type type;
	enum arg_kind arg;
	const char *value;	/* flag name or header field */
} keys[] = {
	{ "ALL", IMAP_SEARCH_ALL, NONE, NULL },
	{ "ANSWERED", IMAP_SEARCH_FLAG, NONE, "\\Answered" },
	{ "DELETED", IMAP_SEARCH_FLAG, NONE, "\\Deleted" },
	{ "DRAFT", IMAP_SEARCH_FLAG, NONE, "\\Draft" },
	{ "FLAGGED", IMAP_SEARCH_FLAG, NONE, "\\Flagged" },
	{ "SEEN", IMAP_SEARCH_FLAG, NONE, "\\Seen" },
	{ "UNANSWERED", IMAP_SEARCH_FLAG, NOT_FLAG, "\\Answered" },
	{ "UNDELETED", IMAP_SEARCH_FLAG, NOT_FLAG, "\\Deleted" },
	{ "UNDRAFT", IMAP_SEARCH_FLAG, NOT_FLAG, "\\Draft" },
	{ "UNFLAGGED", IMAP_SEARCH_FLAG, NOT_FLAG, "\\Flagged" },
	{ "UNSEEN", IMAP_SEARCH_FLAG, NOT_FLAG, "\\Seen" },
	{ "NEW", IMAP_SEARCH_NEW, NONE, NULL },
	{ "OLD", IMAP_SEARCH_OLD, NONE, NULL },
	{ "RECENT", IMAP_SEARCH_RECENT, NONE, NULL },
	{ "KEYWORD", IMAP_SEARCH_KEYWORD, STR, NULL },
	{ "UNKEYWORD", IMAP_SEARCH_KEYWORD, NOT_KEYWORD, NULL },
	{ "BCC", IMAP_SEARCH_HEADER, STR, "Bcc" },
	{ "CC", IMAP_SEARCH_HEADER, STR, "Cc" },
	{ "FROM", IMAP_SEARCH_HEADER, STR, "From" },
	{ "SUBJECT", IMAP_SEARCH_HEADER, STR, "Subject" },
	{ "TO", IMAP_SEARCH_HEADER, STR, "To" },
	{ "HEADER", IMAP_SEARCH_HEADER, HDR_STR, NULL },
	{ "BODY", IMAP_SEARCH_BODY, STR, NULL },
	{ "TEXT", IMAP_SEARCH_TEXT, STR, NULL },
	{ "BEFORE", IMAP_SEARCH_BEFORE, DATE, NULL },
	{ "ON", IMAP_SEARCH_ON, DATE, NULL },
	{ "SINCE", IMAP_SEARCH_SINCE, DATE, NULL },
	{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE, DATE, NULL },
	{ "SENTON", IMAP_SEARCH_SENTON, DATE, NULL },
	{ "SENTSINCE", IMAP_SEARCH_SENTSINCE, DATE, NULL },
	{ "LARGER", IMAP_SEARCH_LARGER, NUMBER, NULL },
	{ "SMALLER", IMAP_SEARCH_SMALLER, NUMBER, NULL },
};

static int parse_key(struct ctx *c, struct imap_search_key **key_r);

static struct imap_search_key *new_key(struct ctx *c, enum imap_search_type type)
{
	struct imap_search_key *k = pool_alloc(c->pool, sizeof(*k));
	k->type = type;
	return k;
}

static int err(struct ctx *c, const char *msg)
{
	c->error = msg;
	return -1;
}

static const struct imap_arg *next_arg(struct ctx *c)
{
	return c->pos < c->count ? &c->args[c->pos++] : NULL;
}

static int next_astring(struct ctx *c, const char **str_r)
{
	const struct imap_arg *a = next_arg(c);
	if (a == NULL || !imap_arg_get_astring(a, str_r))
		return err(c, "Missing or invalid SEARCH string argument");
	return 0;
}

static int parse_number(const char *s, uint64_t *n_r)
{
	uint64_t n = 0;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*n_r = n;
	return 0;
}

static int parse_arg(struct ctx *c, enum arg_kind kind, struct imap_search_key *k)
{
	const char *s;
	switch (kind) {
	case NONE:
	case NOT_FLAG:
		return 0;
	case HDR_STR:
		if (next_astring(c, &k->header) < 0)
			return -1;
		/* fall through */
	case STR:
	case NOT_KEYWORD:
		return next_astring(c, &k->str);
	case DATE:
		if (next_astring(c, &s) < 0 || imap_date_parse(s, &k->date, &c->error) < 0)
			return err(c, "Invalid SEARCH date");
		return 0;
	case NUMBER:
		if (next_astring(c, &s) < 0 || parse_number(s, &k->number) < 0)
			return err(c, "Invalid SEARCH number");
		return 0;
	}
	return -1;
}

static struct imap_search_key *negate(struct ctx *c, struct imap_search_key *k)
{
	struct imap_search_key *n = new_key(c, IMAP_SEARCH_NOT);
	n->children = k;
	return n;
}

/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer */
static int parse_modseq(struct ctx *c, struct imap_search_key **key_r)
{
	const struct imap_arg *a = next_arg(c);
	const char *s;
	if (a != NULL && a->type == IMAP_ARG_STRING) {
		const char *type;
		if (next_astring(c, &type) < 0 || (strcasecmp(type, "priv") != 0 &&
		    strcasecmp(type, "shared") != 0 && strcasecmp(type, "all") != 0))
			return err(c, "Invalid MODSEQ entry type");
		a = next_arg(c);
	}
	struct imap_search_key *k = new_key(c, IMAP_SEARCH_MODSEQ);
	if (a == NULL || !imap_arg_get_atom(a, &s) || parse_number(s, &k->number) < 0)
		return err(c, "Invalid MODSEQ value");
	*key_r = k;
	return 0;
}

static int parse_list(struct ctx *c, const struct imap_arg *args, unsigned int count,
		      struct imap_search_key **key_r)
{
	struct ctx sub = *c;
	sub.args = args;
	sub.count = count;
	sub.pos = 0;
	struct imap_search_key *and = new_key(c, IMAP_SEARCH_AND), **tail = &and->children;
	if (count == 0)
		return err(c, "Empty SEARCH group");
	while (sub.pos < sub.count) {
		if (parse_key(&sub, tail) < 0) {
			c->error = sub.error;
			return -1;
		}
		tail = &(*tail)->next;
	}
	*key_r = and;
	return 0;
}

static int parse_word(struct ctx *c, const char *word, struct imap_search_key **key_r)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcasecmp(word, keys[i].name) != 0)
			continue;
		struct imap_search_key *k = new_key(c, keys[i].type);
		k->str = keys[i].value;
		k->header = keys[i].type == IMAP_SEARCH_HEADER ? keys[i].value : NULL;
		if (keys[i].type == IMAP_SEARCH_HEADER && keys[i].arg == STR)
			k->str = NULL;
		if (parse_arg(c, keys[i].arg, k) < 0)
			return -1;
		*key_r = keys[i].arg == NOT_FLAG || keys[i].arg == NOT_KEYWORD ? negate(c, k) : k;
		return 0;
	}
	if (strcasecmp(word, "NOT") == 0 || strcasecmp(word, "OR") == 0) {
		bool or = strcasecmp(word, "OR") == 0;
		struct imap_search_key *k = new_key(c, or ? IMAP_SEARCH_OR : IMAP_SEARCH_NOT);
		if (parse_key(c, &k->children) < 0 ||
		    (or && parse_key(c, &k->children->next) < 0))
			return -1;
		*key_r = k;
		return 0;
	}
	if (strcasecmp(word, "MODSEQ") == 0)
		return parse_modseq(c, key_r);
	enum imap_search_type type = IMAP_SEARCH_SEQSET;
	if (strcasecmp(word, "UID") == 0) {
		type = IMAP_SEARCH_UID;
		if (next_astring(c, &word) < 0)
			return -1;
	}
	struct imap_search_key *k = new_key(c, type);
	if (imap_seqset_parse(c->pool, word, &k->seqset, &c->error) < 0)
		return type == IMAP_SEARCH_UID ? -1 : err(c, "Unknown SEARCH key");
	*key_r = k;
	return 0;
}

static int parse_key(struct ctx *c, struct imap_search_key **key_r)
{
	const struct imap_arg *a = next_arg(c);
	const struct imap_arg *list;
	unsigned int count;
	const char *word;
	if (a == NULL)
		return err(c, "Missing SEARCH key");
	if (++c->depth > MAX_DEPTH)
		return err(c, "SEARCH keys nested too deeply");
	int ret;
	if (imap_arg_get_list(a, &list, &count))
		ret = parse_list(c, list, count, key_r);
	else if (imap_arg_get_atom(a, &word))
		ret = parse_word(c, word, key_r);
	else
		ret = err(c, "Invalid SEARCH key");
	c->depth--;
	return ret;
}

int imap_search_parse(struct pool *pool, const struct imap_arg *args, unsigned int count,
		      const char **charset_r, struct imap_search_key **root_r,
		      const char **error_r)
{
	struct ctx c = { .pool = pool, .args = args, .count = count };
	*charset_r = NULL;
	if (count >= 1 && imap_arg_atom_equals(&args[0], "CHARSET")) {
		if (count < 2 || !imap_arg_get_astring(&args[1], charset_r)) {
			*error_r = "Missing CHARSET name";
			return -1;
		}
		c.pos = 2;
	}
	if (c.pos == count) {
		*error_r = "Missing SEARCH keys";
		return -1;
	}
	if (parse_list(&c, args + c.pos, count - c.pos, root_r) < 0) {
		*error_r = c.error;
		return -1;
	}
	return 0;
}
