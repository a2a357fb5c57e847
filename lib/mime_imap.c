/* ENVELOPE and BODYSTRUCTURE from the part tree.  The address parser here is
 * only the lenient one ENVELOPE needs (display names and groups, RFC 2047
 * left alone); normalisation of addresses for delivery lives elsewhere. */
#include "mime_imap.h"
#include "mem.h"
#include "pool.h"
#include "rfc2047.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ADDRESSES 1000
#define MAX_QUOTED 4096

void mime_imap_append_nstring(struct buffer *out, const char *s, size_t len)
{
	if (s == NULL) {
		buffer_append_str(out, "NIL");
		return;
	}
	bool quotable = len <= MAX_QUOTED;
	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)s[i];
		quotable = c != 0 && c != '\r' && c != '\n' && c < 0x80;
	}
	if (!quotable) {
		buffer_printf(out, "{%zu}\r\n", len);
		buffer_append(out, s, len);
		return;
	}
	buffer_append_c(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buffer_append_c(out, '\\');
		buffer_append_c(out, (unsigned char)s[i]);
	}
	buffer_append_c(out, '"');
}

static void nstr(struct buffer *out, const char *s)
{
	mime_imap_append_nstring(out, s, s == NULL ? 0 : strlen(s));
}

/* ---- address lists ---- */

enum tok_type { TOK_ATOM, TOK_QUOTED, TOK_SPECIAL };

struct token {
	enum tok_type type;
	bool space_before;
	struct buffer text;
};

struct tokens {
	struct token *v;
	size_t n, cap;
};

static void tok_push(struct tokens *t, enum tok_type type, bool space)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	struct token *k = &t->v[t->n++];
	k->type = type;
	k->space_before = space;
	buffer_init(&k->text);
}

static const char *skip_comment(const char *p)
{
	int depth = 0;
	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return p;
}

static void tokenize(const char *p, struct tokens *t)
{
	bool space = false;
	while (*p != '\0') {
		if (*p == ' ' || *p == '\t') {
			space = true;
			p++;
		} else if (*p == '(') {
			space = true;
			p = skip_comment(p);
		} else if (*p == '"') {
			tok_push(t, TOK_QUOTED, space);
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				buffer_append_c(&t->v[t->n - 1].text, (unsigned char)*p);
			}
			if (*p == '"')
				p++;
			space = false;
		} else if (strchr("<>,:;@", *p) != NULL) {
			tok_push(t, TOK_SPECIAL, space);
			buffer_append_c(&t->v[t->n - 1].text, (unsigned char)*p++);
			space = false;
		} else {
			tok_push(t, TOK_ATOM, space);
			while (*p != '\0' && strchr(" \t(\"<>,:;@", *p) == NULL)
				buffer_append_c(&t->v[t->n - 1].text, (unsigned char)*p++);
			space = false;
		}
	}
}

static bool is_special(const struct token *k, char c)
{
	return k->type == TOK_SPECIAL && k->text.data[0] == (unsigned char)c;
}

/* Display name: words with single spaces where the source had blanks. */
static void phrase_text(const struct tokens *t, size_t from, size_t to, struct buffer *out)
{
	for (size_t i = from; i < to; i++) {
		if (out->len > 0 && t->v[i].space_before)
			buffer_append_c(out, ' ');
		buffer_append(out, t->v[i].text.data, t->v[i].text.len);
	}
}

/* An addr-spec as written (quoted local parts keep their quotes). */
static void addr_text(const struct tokens *t, size_t from, size_t to, struct buffer *out)
{
	for (size_t i = from; i < to; i++) {
		const struct token *k = &t->v[i];
		if (k->type == TOK_QUOTED)
			buffer_append_c(out, '"');
		buffer_append(out, k->text.data, k->text.len);
		if (k->type == TOK_QUOTED)
			buffer_append_c(out, '"');
	}
}

static void write_address(struct buffer *out, const char *name, const char *adl,
			  const char *addr)
{
	const char *at = strrchr(addr, '@');
	buffer_append_c(out, '(');
	nstr(out, name);
	buffer_append_c(out, ' ');
	nstr(out, adl);
	buffer_append_c(out, ' ');
	if (at != NULL) {
		mime_imap_append_nstring(out, addr, (size_t)(at - addr));
		buffer_append_c(out, ' ');
		nstr(out, at + 1);
	} else {
		nstr(out, addr);
		buffer_append_str(out, " \"\"");
	}
	buffer_append_c(out, ')');
}

/* One mailbox in tokens [from, to): "name <addr>" or a bare addr-spec. */
static void write_mailbox(struct buffer *out, const struct tokens *t, size_t from, size_t to)
{
	struct buffer name = BUFFER_INIT, addr = BUFFER_INIT, adl = BUFFER_INIT;
	size_t lt = to;
	for (size_t i = from; i < to && lt == to; i++)
		lt = is_special(&t->v[i], '<') ? i : lt;
	if (lt < to) {
		size_t gt = lt + 1;
		while (gt < to && !is_special(&t->v[gt], '>'))
			gt++;
		size_t a = lt + 1;
		/* Obsolete source route "@a,@b:" goes to adl. */
		for (size_t i = lt + 1; i < gt; i++) {
			if (is_special(&t->v[i], ':') && is_special(&t->v[lt + 1], '@')) {
				addr_text(t, lt + 1, i, &adl);
				a = i + 1;
				break;
			}
		}
		phrase_text(t, from, lt, &name);
		addr_text(t, a, gt, &addr);
	} else {
		addr_text(t, from, to, &addr);
	}
	write_address(out, lt < to && name.len > 0 ? buffer_cstr(&name) : NULL,
		      adl.len > 0 ? buffer_cstr(&adl) : NULL, buffer_cstr(&addr));
	buffer_free(&name);
	buffer_free(&addr);
	buffer_free(&adl);
}

static void write_address_list(struct buffer *out, const char *value)
{
	struct tokens t = { NULL, 0, 0 };
	if (value != NULL)
		tokenize(value, &t);
	size_t start_len = out->len, count = 0, from = 0;
	bool in_group = false, in_angle = false;
	buffer_append_c(out, '(');
	for (size_t i = 0; i <= t.n && count < MAX_ADDRESSES; i++) {
		const struct token *k = i < t.n ? &t.v[i] : NULL;
		if (k != NULL && is_special(k, '<'))
			in_angle = true;
		else if (k != NULL && is_special(k, '>'))
			in_angle = false;
		if (k != NULL && (in_angle || !(is_special(k, ',') || is_special(k, ';') ||
						(!in_group && is_special(k, ':')))))
			continue;
		if (k != NULL && is_special(k, ':')) {
			struct buffer g = BUFFER_INIT;
			phrase_text(&t, from, i, &g);
			buffer_append_str(out, "(NIL NIL ");
			nstr(out, buffer_cstr(&g));
			buffer_append_str(out, " NIL)");
			buffer_free(&g);
			in_group = true;
		} else {
			if (i > from) {
				write_mailbox(out, &t, from, i);
				count++;
			}
			if (in_group && (k == NULL || is_special(k, ';'))) {
				buffer_append_str(out, "(NIL NIL NIL NIL)");
				in_group = false;
			}
		}
		count++;
		from = i + 1;
	}
	if (out->len == start_len + 1) {
		buffer_truncate(out, start_len);
		buffer_append_str(out, "NIL");
	} else {
		buffer_append_c(out, ')');
	}
	for (size_t i = 0; i < t.n; i++)
		buffer_free(&t.v[i].text);
	free(t.v);
}

/* ---- ENVELOPE ---- */

enum { H_DATE, H_SUBJECT, H_FROM, H_SENDER, H_REPLY_TO, H_TO, H_CC, H_BCC,
       H_IN_REPLY_TO, H_MESSAGE_ID, H_COUNT };
static const char *const env_headers[H_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

void mime_imap_envelope(const struct mime_part *part, struct buffer *out)
{
	struct pool *pool = pool_create(1024);
	char *v[H_COUNT] = { NULL };
	struct mime_header_iter it;
	const unsigned char *n, *val;
	size_t nlen, vlen;
	mime_header_iter_init(&it, part->header, part->header_end - part->header_start);
	while (mime_header_next(&it, &n, &nlen, &val, &vlen)) {
		for (int i = 0; i < H_COUNT; i++) {
			if (v[i] == NULL && strlen(env_headers[i]) == nlen &&
			    strncasecmp((const char *)n, env_headers[i], nlen) == 0)
				v[i] = mime_header_unfold(pool, val, vlen);
		}
	}
	if (v[H_SENDER] == NULL || v[H_SENDER][0] == '\0')
		v[H_SENDER] = v[H_FROM];
	if (v[H_REPLY_TO] == NULL || v[H_REPLY_TO][0] == '\0')
		v[H_REPLY_TO] = v[H_FROM];
	buffer_append_c(out, '(');
	nstr(out, v[H_DATE]);
	buffer_append_c(out, ' ');
	nstr(out, v[H_SUBJECT]);
	for (int i = H_FROM; i <= H_BCC; i++) {
		buffer_append_c(out, ' ');
		write_address_list(out, v[i]);
	}
	buffer_append_c(out, ' ');
	nstr(out, v[H_IN_REPLY_TO]);
	buffer_append_c(out, ' ');
	nstr(out, v[H_MESSAGE_ID]);
	buffer_append_c(out, ')');
	pool_destroy(&pool);
}

/* ---- BODYSTRUCTURE ---- */

static void param_value(struct buffer *out, const struct mime_param *p)
{
	if (!p->rfc2231) {
		nstr(out, p->value);
		return;
	}
	struct buffer enc = BUFFER_INIT;
	rfc2047_encode(p->value, &enc);
	nstr(out, buffer_cstr(&enc));
	buffer_free(&enc);
}

static void write_params(struct buffer *out, const struct mime_param *params,
			 bool text_default)
{
	if (params == NULL) {
		buffer_append_str(out, text_default ? "(\"charset\" \"us-ascii\")" : "NIL");
		return;
	}
	buffer_append_c(out, '(');
	for (const struct mime_param *p = params; p != NULL; p = p->next) {
		if (p != params)
			buffer_append_c(out, ' ');
		nstr(out, p->name);
		buffer_append_c(out, ' ');
		param_value(out, p);
	}
	buffer_append_c(out, ')');
}

static void write_disposition(struct buffer *out, const struct mime_part *part)
{
	if (part->disposition == NULL || part->disposition[0] == '\0') {
		buffer_append_str(out, "NIL");
		return;
	}
	buffer_append_c(out, '(');
	nstr(out, part->disposition);
	buffer_append_c(out, ' ');
	write_params(out, part->disposition_params, false);
	buffer_append_c(out, ')');
}

/* Content-Language "en, de" is a list, a single tag a string. */
static void write_language(struct buffer *out, const char *lang)
{
	if (lang == NULL || lang[0] == '\0') {
		buffer_append_str(out, "NIL");
		return;
	}
	struct buffer items = BUFFER_INIT;
	size_t count = 0;
	const char *p = lang;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t n = strcspn(p, " \t,");
		if (n > 0) {
			if (count++ > 0)
				buffer_append_c(&items, ' ');
			mime_imap_append_nstring(&items, p, n);
		}
		p += n;
	}
	if (count == 1) {
		buffer_append(out, items.data, items.len);
	} else if (count == 0) {
		buffer_append_str(out, "NIL");
	} else {
		buffer_append_c(out, '(');
		buffer_append(out, items.data, items.len);
		buffer_append_c(out, ')');
	}
	buffer_free(&items);
}

static void write_ext_tail(struct buffer *out, const struct mime_part *part)
{
	buffer_append_c(out, ' ');
	write_disposition(out, part);
	buffer_append_c(out, ' ');
	write_language(out, part->language);
	buffer_append_c(out, ' ');
	nstr(out, part->location);
}

static void write_part(struct buffer *out, const struct mime_part *part, bool ext);

static void write_multipart(struct buffer *out, const struct mime_part *part, bool ext)
{
	buffer_append_c(out, '(');
	if (!(part->flags & MIME_PART_MULTIPART) || part->children == NULL) {
		/* A multipart needs a body: show an empty text part. */
		buffer_append_str(out, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
				  "NIL NIL \"7bit\" 0 0");
		buffer_append_str(out, ext ? " NIL NIL NIL NIL)" : ")");
	}
	if (part->flags & MIME_PART_MULTIPART) {
		for (const struct mime_part *c = part->children; c != NULL; c = c->next)
			write_part(out, c, ext);
	}
	buffer_append_c(out, ' ');
	nstr(out, part->subtype);
	if (ext) {
		buffer_append_c(out, ' ');
		write_params(out, part->type_params, false);
		write_ext_tail(out, part);
	}
	buffer_append_c(out, ')');
}

static void write_part(struct buffer *out, const struct mime_part *part, bool ext)
{
	if (strcmp(part->type, "multipart") == 0) {
		write_multipart(out, part, ext);
		return;
	}
	bool text = strcmp(part->type, "text") == 0;
	bool message = (part->flags & MIME_PART_MESSAGE) && part->children != NULL;
	buffer_append_c(out, '(');
	nstr(out, part->type);
	buffer_append_c(out, ' ');
	nstr(out, part->subtype);
	buffer_append_c(out, ' ');
	write_params(out, part->type_params, text);
	buffer_append_c(out, ' ');
	nstr(out, part->content_id);
	buffer_append_c(out, ' ');
	nstr(out, part->description);
	buffer_append_c(out, ' ');
	nstr(out, part->encoding == NULL ? "7bit" : part->encoding);
	buffer_printf(out, " %zu", part->body_end - part->body_start);
	if (message) {
		buffer_append_c(out, ' ');
		mime_imap_envelope(part->children, out);
		buffer_append_c(out, ' ');
		write_part(out, part->children, ext);
	}
	if (text || message)
		buffer_printf(out, " %zu", part->lines);
	if (ext) {
		buffer_append_c(out, ' ');
		nstr(out, part->md5);
		write_ext_tail(out, part);
	}
	buffer_append_c(out, ')');
}

void mime_imap_bodystructure(const struct mime_part *part, bool extended,
			     struct buffer *out)
{
	write_part(out, part, extended);
}
