/* SMTP/LMTP command lines, paths and the DATA body reader. Lenient where
 * real MTAs are sloppy (spaces after "FROM:", a path without angle
 * brackets, LF line ends), strict where a mistake would deliver mail to
 * the wrong place (address syntax). */
#include "smtp_parser.h"

#include "buffer.h"
#include "pool.h"

#include <string.h>
#include <strings.h>

#define PATH_MAX_LEN 512
#define PARAMS_MAX 32

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_VERB_HELO }, { "EHLO", SMTP_VERB_EHLO }, { "LHLO", SMTP_VERB_LHLO },
	{ "MAIL", SMTP_VERB_MAIL }, { "RCPT", SMTP_VERB_RCPT }, { "DATA", SMTP_VERB_DATA },
	{ "BDAT", SMTP_VERB_BDAT }, { "RSET", SMTP_VERB_RSET }, { "NOOP", SMTP_VERB_NOOP },
	{ "QUIT", SMTP_VERB_QUIT }, { "VRFY", SMTP_VERB_VRFY }, { "EXPN", SMTP_VERB_EXPN },
	{ "HELP", SMTP_VERB_HELP }, { "STARTTLS", SMTP_VERB_STARTTLS },
	{ "AUTH", SMTP_VERB_AUTH },
};

enum smtp_verb smtp_command_parse(const char *line, const char **args_r)
{
	size_t n = strcspn(line, " ");
	*args_r = line[n] == ' ' ? line + n + 1 : line + n;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == n && strncasecmp(line, verbs[i].name, n) == 0)
			return verbs[i].verb;
	return SMTP_VERB_UNKNOWN;
}

static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int fail(int code, const char *text, int *code_r, const char **error_r)
{
	*code_r = code;
	*error_r = text;
	return -1;
}

/* A dot-atom: atext runs separated by single dots. */
static bool dot_atom(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool domain_valid(const char *d, size_t len)
{
	if (len == 0)
		return false;
	if (d[0] == '[') {
		/* address literal: [1.2.3.4] or [IPv6:...], printable inside */
		if (len < 3 || d[len - 1] != ']')
			return false;
		for (size_t i = 1; i < len - 1; i++)
			if (d[i] <= ' ' || d[i] == '[' || d[i] == ']' || d[i] == '\\' ||
			    (unsigned char)d[i] >= 0x7f)
				return false;
		return true;
	}
	if (d[len - 1] == '.')
		len--;	/* one trailing dot, as in DNS */
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c >= 0x80 || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && d[len - 1] != '-';
}

/* "local@domain" inside the angle brackets (source route already gone). */
static int parse_mailbox(struct pool *pool, const char *s, size_t len, struct smtp_path *path_r,
			 int *code_r, const char **error_r)
{
	struct buffer local = BUFFER_INIT;
	size_t i = 0;
	bool quoted = false;
	if (len > 0 && s[0] == '"') {
		quoted = true;
		for (i = 1; i < len && s[i] != '"'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\' && i + 1 < len)
				c = (unsigned char)s[++i];
			if (c < ' ' || c == 0x7f) {
				buffer_free(&local);
				return fail(553, "5.1.3 Bad character in the quoted local part",
					    code_r, error_r);
			}
			buffer_append_c(&local, c);
		}
		if (i >= len) {
			buffer_free(&local);
			return fail(501, "5.1.3 Unterminated quoted local part", code_r, error_r);
		}
		i++;
	} else {
		while (i < len && s[i] != '@')
			i++;
		buffer_append(&local, s, i);
	}
	const char *lp = buffer_cstr(&local);
	size_t lplen = local.len;
	if (i >= len || s[i] != '@') {
		bool postmaster = !quoted && i == len && strcasecmp(lp, "postmaster") == 0;
		buffer_free(&local);
		if (postmaster) {
			path_r->address = pool_strdup(pool, "postmaster");
			return 0;
		}
		return fail(553, "5.1.3 Address without a domain", code_r, error_r);
	}
	const char *domain = s + i + 1;
	size_t dlen = len - i - 1;
	if (!domain_valid(domain, dlen)) {
		buffer_free(&local);
		return fail(553, "5.1.3 Bad domain in the address", code_r, error_r);
	}
	if (!quoted && !dot_atom(lp, lplen)) {
		buffer_free(&local);
		return fail(553, "5.1.3 Bad local part in the address", code_r, error_r);
	}
	if (lplen == 0) {
		buffer_free(&local);
		return fail(553, "5.1.3 Empty local part", code_r, error_r);
	}
	struct buffer addr = BUFFER_INIT;
	if (quoted && !dot_atom(lp, lplen)) {
		/* keep the quotes: the local part needs them */
		buffer_append_c(&addr, '"');
		for (size_t k = 0; k < lplen; k++) {
			if (lp[k] == '"' || lp[k] == '\\')
				buffer_append_c(&addr, '\\');
			buffer_append_c(&addr, (unsigned char)lp[k]);
		}
		buffer_append_c(&addr, '"');
	} else {
		buffer_append(&addr, lp, lplen);
	}
	buffer_append_c(&addr, '@');
	buffer_append(&addr, domain, dlen);
	path_r->address = pool_strndup(pool, (const char *)addr.data, addr.len);
	for (size_t k = 0; k < addr.len; k++)
		if (addr.data[k] >= 0x80)
			path_r->utf8 = true;
	buffer_free(&addr);
	buffer_free(&local);
	return 0;
}

static bool keyword_valid(const char *k, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && i > 0)))
			return false;
	}
	return true;
}

static int parse_params(struct pool *pool, const char *p, struct smtp_path *path_r,
			int *code_r, const char **error_r)
{
	struct smtp_param *params = pool_alloc(pool, PARAMS_MAX * sizeof(*params));
	unsigned int n = 0;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, " ");
		const char *eq = memchr(p, '=', len);
		size_t klen = eq != NULL ? (size_t)(eq - p) : len;
		if (!keyword_valid(p, klen))
			return fail(555, "5.5.4 Bad parameter", code_r, error_r);
		if (n == PARAMS_MAX)
			return fail(555, "5.5.4 Too many parameters", code_r, error_r);
		char *kw = pool_strndup(pool, p, klen);
		for (char *c = kw; *c != '\0'; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		const char *value = NULL;
		if (eq != NULL) {
			size_t vlen = len - klen - 1;
			if (vlen == 0)
				return fail(555, "5.5.4 Empty parameter value", code_r, error_r);
			for (size_t i = 0; i < vlen; i++) {
				unsigned char c = (unsigned char)eq[1 + i];
				if (c < 33 || c == '=' || c == 0x7f)
					return fail(555, "5.5.4 Bad parameter value", code_r, error_r);
			}
			value = pool_strndup(pool, eq + 1, vlen);
		}
		for (unsigned int i = 0; i < n; i++)
			if (strcmp(params[i].keyword, kw) == 0)
				return fail(555, "5.5.4 Duplicate parameter", code_r, error_r);
		params[n].keyword = kw;
		params[n].value = value;
		n++;
		p += len;
	}
	path_r->params = params;
	path_r->params_count = n;
	return 0;
}

int smtp_path_parse(struct pool *pool, const char *args, const char *keyword, bool allow_null,
		    struct smtp_path *path_r, int *code_r, const char **error_r)
{
	memset(path_r, 0, sizeof(*path_r));
	size_t klen = strlen(keyword);
	const char *syntax = strcmp(keyword, "FROM") == 0 ? "5.5.4 Syntax: MAIL FROM:<address>" :
			     "5.5.4 Syntax: RCPT TO:<address>";
	if (strncasecmp(args, keyword, klen) != 0 || args[klen] != ':')
		return fail(501, syntax, code_r, error_r);
	const char *p = args + klen + 1, *start, *end;
	while (*p == ' ')
		p++;
	if (*p == '<') {
		start = ++p;
		bool in_quote = false;
		for (; *p != '\0'; p++) {
			if (in_quote && *p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				in_quote = !in_quote;
			else if (*p == '>' && !in_quote)
				break;
		}
		if (*p != '>')
			return fail(501, "5.1.3 Missing '>' after the address", code_r, error_r);
		end = p++;
	} else {
		/* no brackets: tolerated, the address runs to the next space */
		start = p;
		p += strcspn(p, " ");
		end = p;
		if (start == end)
			return fail(501, syntax, code_r, error_r);
	}
	if (*p != '\0' && *p != ' ')
		return fail(501, "5.5.4 Junk after the address", code_r, error_r);
	if ((size_t)(end - start) > PATH_MAX_LEN)
		return fail(553, "5.1.3 Address too long", code_r, error_r);
	if (start < end && *start == '@') {
		/* source route "@a,@b:" (RFC 5321 says to ignore it) */
		const char *colon = memchr(start, ':', (size_t)(end - start));
		if (colon == NULL)
			return fail(501, "5.1.3 Bad source route", code_r, error_r);
		start = colon + 1;
	}
	if (start == end) {
		if (!allow_null)
			return fail(501, "5.1.3 An empty address is not allowed here", code_r,
				    error_r);
		path_r->address = "";
	} else if (parse_mailbox(pool, start, (size_t)(end - start), path_r, code_r,
				 error_r) < 0) {
		return -1;
	}
	return parse_params(pool, p, path_r, code_r, error_r);
}

const char *smtp_param_get(const struct smtp_path *path, const char *keyword, bool *present_r)
{
	for (unsigned int i = 0; i < path->params_count; i++) {
		if (strcasecmp(path->params[i].keyword, keyword) == 0) {
			if (present_r != NULL)
				*present_r = true;
			return path->params[i].value;
		}
	}
	if (present_r != NULL)
		*present_r = false;
	return NULL;
}

/* ---- DATA ---- */

enum {
	DATA_BOL,	/* at the start of a line */
	DATA_DOT,	/* "." at the start of a line */
	DATA_DOT_CR,	/* ".\r" at the start of a line */
	DATA_MID,	/* inside a line */
	DATA_CR,	/* "\r" inside a line, not yet written */
};

void smtp_data_init(struct smtp_data *data, struct buffer *out, uint64_t max_size)
{
	memset(data, 0, sizeof(*data));
	data->out = out;
	data->max_size = max_size;
	data->state = DATA_BOL;
}

static void emit(struct smtp_data *d, const void *p, size_t n)
{
	d->size += n;
	if (d->too_big)
		return;
	if (d->size > d->max_size) {
		d->too_big = true;
		buffer_free(d->out);
		return;
	}
	buffer_append(d->out, p, n);
}

size_t smtp_data_feed(struct smtp_data *d, const unsigned char *in, size_t len)
{
	size_t i = 0;
	while (i < len && !d->done) {
		unsigned char c = in[i];
		switch (d->state) {
		case DATA_BOL:
			if (c == '.') {
				d->state = DATA_DOT;
				i++;
			} else {
				d->state = DATA_MID;
			}
			break;
		case DATA_DOT:
			if (c == '\r') {
				d->state = DATA_DOT_CR;
				i++;
			} else if (c == '\n') {
				d->done = true;
				i++;
			} else {
				d->state = DATA_MID;	/* the stuffed dot is dropped */
			}
			break;
		case DATA_DOT_CR:
			if (c == '\n') {
				d->done = true;
				i++;
			} else {
				d->state = DATA_CR;	/* ".\rx": a line "\rx" */
			}
			break;
		case DATA_MID: {
			size_t j = i;
			while (j < len && in[j] != '\r' && in[j] != '\n')
				j++;
			if (j > i)
				emit(d, in + i, j - i);
			i = j;
			if (i < len) {
				if (in[i] == '\n') {
					emit(d, "\r\n", 2);
					d->state = DATA_BOL;
				} else {
					d->state = DATA_CR;
				}
				i++;
			}
			break;
		}
		case DATA_CR:
			if (c == '\n') {
				emit(d, "\r\n", 2);
				d->state = DATA_BOL;
				i++;
			} else {
				emit(d, "\r", 1);	/* a bare CR stays */
				d->state = DATA_MID;
			}
			break;
		}
	}
	return i;
}
