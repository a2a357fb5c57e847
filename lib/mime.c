/* The MIME parser: one pass over the lines of a message with a stack of open
 * multiparts (the chain of parents of the current part).  Each line is looked
 * at once, and only lines starting with "--" are compared with boundaries, so
 * time stays linear; header fields are interpreted when a header ends.  It
 * does not decode bodies and it does not copy the message. */
#include "mime.h"
#include "charset.h"
#include "mem.h"
#include "pool.h"
#include "rfc2047.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Internal flag: a multipart whose close delimiter was seen (epilogue). */
#define PART_CLOSED (1u << 8)

struct parser {
	struct mime_message *msg;
	const unsigned char *raw;
	size_t len;
	struct mime_part *cur;
	bool in_header;
	/* Newest part at each depth: finds the last child in O(1). */
	struct mime_part *last_at_depth[MIME_MAX_DEPTH + 2];
};

/* ---- header fields ---- */

void mime_header_iter_init(struct mime_header_iter *it, const unsigned char *hdr,
			   size_t len)
{
	it->hdr = hdr;
	it->len = len;
	it->pos = 0;
	it->count = 0;
}

static size_t line_end(const unsigned char *p, size_t len, size_t pos)
{
	const unsigned char *nl = memchr(p + pos, '\n', len - pos);
	return nl == NULL ? len : (size_t)(nl - p) + 1;
}

/* The line [pos, next) without its [CR]LF ends at the returned offset. */
static size_t content_end(const unsigned char *p, size_t pos, size_t next)
{
	if (next > pos && p[next - 1] == '\n')
		next--;
	if (next > pos && p[next - 1] == '\r')
		next--;
	return next;
}

bool mime_header_next(struct mime_header_iter *it, const unsigned char **name_r,
		      size_t *name_len_r, const unsigned char **value_r,
		      size_t *value_len_r)
{
	const unsigned char *h = it->hdr;
	while (it->pos < it->len && it->count < MIME_MAX_HEADER_FIELDS) {
		size_t start = it->pos, next = line_end(h, it->len, start);
		it->pos = next;
		if (h[start] == ' ' || h[start] == '\t')
			continue;	/* continuation without a field */
		size_t end = content_end(h, start, next);
		const unsigned char *colon = memchr(h + start, ':', end - start);
		if (colon == NULL)
			continue;	/* "From " line or garbage */
		size_t name_end = (size_t)(colon - h);
		while (name_end > start && (h[name_end - 1] == ' ' || h[name_end - 1] == '\t'))
			name_end--;
		if (name_end == start)
			continue;
		/* Continuation lines start with a blank. */
		while (it->pos < it->len && (h[it->pos] == ' ' || h[it->pos] == '\t')) {
			next = line_end(h, it->len, it->pos);
			end = content_end(h, it->pos, next);
			it->pos = next;
		}
		it->count++;
		*name_r = h + start;
		*name_len_r = name_end - start;
		*value_r = colon + 1;
		*value_len_r = end - (size_t)(colon + 1 - h);
		return true;
	}
	return false;
}

char *mime_header_unfold(struct pool *pool, const unsigned char *value, size_t len)
{
	if (len > MIME_MAX_HEADER_VALUE)
		len = MIME_MAX_HEADER_VALUE;
	char *s = pool_alloc(pool, len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (value[i] == '\r' || value[i] == '\n')
			continue;
		s[o++] = value[i] == '\0' ? ' ' : (char)value[i];
	}
	size_t start = 0;
	while (start < o && (s[start] == ' ' || s[start] == '\t'))
		start++;
	while (o > start && (s[o - 1] == ' ' || s[o - 1] == '\t'))
		o--;
	s[o] = '\0';
	return s + start;
}

static bool name_is(const unsigned char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp((const char *)name, want, len) == 0;
}

char *mime_header_get(struct pool *pool, const unsigned char *hdr, size_t len,
		      const char *name)
{
	struct mime_header_iter it;
	const unsigned char *n, *v;
	size_t nlen, vlen;
	mime_header_iter_init(&it, hdr, len);
	while (mime_header_next(&it, &n, &nlen, &v, &vlen)) {
		if (name_is(n, nlen, name))
			return mime_header_unfold(pool, v, vlen);
	}
	return NULL;
}

/* ---- parameters (RFC 2045 5.1, RFC 2231) ---- */

struct raw_param {
	char *base;		/* name without the *N* suffix */
	int section;		/* -1: no section number */
	bool star, encoded;	/* any '*' at all / a trailing '*' */
	char *value;
};

#define MAX_PARAMS 64

static char *lower(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static char *trimmed_dup(struct pool *pool, const char *start, const char *end)
{
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return pool_strndup(pool, start, (size_t)(end - start));
}

/* Reads one value (quoted-string or up to ';'); returns where it stopped. */
static const char *read_value(struct pool *pool, const char *p, char **value_r)
{
	p = skip_ws(p);
	if (*p != '"') {
		const char *end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		*value_r = trimmed_dup(pool, p, end);
		return end;
	}
	/* Size the copy by the quoted string, not by the rest of the header:
	 * 64 parameters must not cost 64 copies of a long header. */
	size_t qlen = 0;
	for (const char *q = p + 1; *q != '\0' && *q != '"'; q++, qlen++) {
		if (*q == '\\' && q[1] != '\0')
			q++;
	}
	char *v = pool_alloc(pool, qlen + 1), *o = v;
	for (p++; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		*o++ = *p;
	}
	*o = '\0';
	*value_r = v;
	const char *end = strchr(p, ';');
	return end == NULL ? p + strlen(p) : end;
}

static void split_name(struct pool *pool, char *name, struct raw_param *rp)
{
	rp->section = -1;
	rp->star = rp->encoded = false;
	char *star = strchr(name, '*');
	if (star != NULL) {
		rp->star = true;
		size_t nlen = strlen(name);
		rp->encoded = name[nlen - 1] == '*';
		if (isdigit((unsigned char)star[1])) {
			long n = strtol(star + 1, NULL, 10);
			rp->section = n > 999 ? 999 : (int)n;
		}
		*star = '\0';
	}
	rp->base = lower(name);
	(void)pool;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void percent_decode(const char *s, struct buffer *out)
{
	for (; *s != '\0'; s++) {
		int hi, lo;
		if (*s == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
			buffer_append_c(out, (unsigned char)(hi << 4 | lo));
			s += 2;
		} else {
			buffer_append_c(out, (unsigned char)*s);
		}
	}
}

/* Joins the RFC 2231 sections of base (sections in order, stopping at a
 * gap) and converts an encoded value to UTF-8. */
static char *join_sections(struct pool *pool, struct raw_param *rp, size_t n,
			   const char *base)
{
	struct buffer bytes = BUFFER_INIT, out = BUFFER_INIT;
	char charset[64] = "";
	bool any_encoded = false;
	for (int want = 0; want <= 999; want++) {
		struct raw_param *found = NULL;
		for (size_t i = 0; i < n && found == NULL; i++) {
			int sec = rp[i].section < 0 ? 0 : rp[i].section;
			if (rp[i].star && sec == want && strcmp(rp[i].base, base) == 0)
				found = &rp[i];
		}
		if (found == NULL)
			break;
		const char *v = found->value;
		if (found->encoded && want == 0) {
			/* charset'language'value */
			const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
			if (q2 != NULL) {
				size_t cl = (size_t)(q1 - v);
				if (cl < sizeof(charset)) {
					memcpy(charset, v, cl);
					charset[cl] = '\0';
				}
				v = q2 + 1;
			}
		}
		if (found->encoded) {
			any_encoded = true;
			percent_decode(v, &bytes);
		} else {
			buffer_append_str(&bytes, v);
		}
	}
	if (any_encoded)
		charset_to_utf8(charset[0] ? charset : "utf-8", bytes.data, bytes.len, &out);
	else
		buffer_append(&out, bytes.data, bytes.len);
	char *s = pool_strndup(pool, buffer_cstr(&out), out.len);
	buffer_free(&bytes);
	buffer_free(&out);
	return s;
}

static struct mime_param *build_params(struct pool *pool, struct raw_param *rp, size_t n)
{
	struct mime_param *head = NULL, **tail = &head;
	for (size_t i = 0; i < n; i++) {
		bool seen = false, has_2231 = false;
		for (size_t j = 0; j < i; j++)
			seen = seen || strcmp(rp[j].base, rp[i].base) == 0;
		if (seen)
			continue;
		for (size_t j = i; j < n; j++)
			has_2231 = has_2231 || (rp[j].star && strcmp(rp[j].base, rp[i].base) == 0);
		struct mime_param *mp = pool_alloc(pool, sizeof(*mp));
		mp->name = rp[i].base;
		mp->rfc2231 = has_2231;
		if (has_2231) {
			mp->value = join_sections(pool, rp, n, rp[i].base);
		} else {
			mp->value = rp[i].value;
		}
		*tail = mp;
		tail = &mp->next;
	}
	return head;
}

void mime_parse_params(struct pool *pool, const char *value,
		       char **value_r, struct mime_param **params_r)
{
	const char *semi = strchr(value, ';');
	const char *end = semi == NULL ? value + strlen(value) : semi;
	*value_r = trimmed_dup(pool, value, end);
	*params_r = NULL;

	struct raw_param rp[MAX_PARAMS];
	size_t n = 0;
	const char *p = end;
	while (*p == ';' && n < MAX_PARAMS) {
		p = skip_ws(p + 1);
		const char *eq = p;
		while (*eq != '\0' && *eq != '=' && *eq != ';')
			eq++;
		if (*eq != '=') {
			p = eq;
			continue;
		}
		char *name = trimmed_dup(pool, p, eq);
		char *v;
		p = read_value(pool, eq + 1, &v);
		if (name[0] == '\0')
			continue;
		split_name(pool, name, &rp[n]);
		rp[n].value = v;
		n++;
	}
	*params_r = build_params(pool, rp, n);
}

const char *mime_param_get(const struct mime_param *params, const char *name)
{
	for (; params != NULL; params = params->next) {
		if (strcasecmp(params->name, name) == 0)
			return params->value;
	}
	return NULL;
}

static const struct mime_param *param_find(const struct mime_param *params,
					   const char *name)
{
	for (; params != NULL; params = params->next) {
		if (strcasecmp(params->name, name) == 0)
			return params;
	}
	return NULL;
}

char *mime_part_filename(struct pool *pool, const struct mime_part *part)
{
	const struct mime_param *p = param_find(part->disposition_params, "filename");
	if (p == NULL || p->value[0] == '\0')
		p = param_find(part->type_params, "name");
	if (p == NULL || p->value[0] == '\0')
		return NULL;
	struct buffer out = BUFFER_INIT;
	if (p->rfc2231) /* unencoded sections are raw bytes: keep the result UTF-8 */
		charset_utf8_sanitize((const unsigned char *)p->value, strlen(p->value), &out);
	else
		rfc2047_decode((const unsigned char *)p->value, strlen(p->value), &out);
	char *s = pool_strndup(pool, buffer_cstr(&out), out.len);
	buffer_free(&out);
	return s;
}

/* ---- part header interpretation ---- */

static void set_type(struct pool *pool, struct mime_part *part, const char *value)
{
	char *type;
	mime_parse_params(pool, value, &type, &part->type_params);
	char *slash = strchr(lower(type), '/');
	if (slash != NULL && slash != type && slash[1] != '\0') {
		*slash = '\0';
		part->type = trimmed_dup(pool, type, slash);
		part->subtype = trimmed_dup(pool, slash + 1, slash + 1 + strlen(slash + 1));
	}
}

void mime_part_parse_header(struct pool *pool, struct mime_part *part)
{
	struct mime_header_iter it;
	const unsigned char *n, *v;
	size_t nlen, vlen;
	char *ctype = NULL, *disp = NULL;
	mime_header_iter_init(&it, part->header, part->header_end - part->header_start);
	while (mime_header_next(&it, &n, &nlen, &v, &vlen)) {
		if (nlen < 8 || strncasecmp((const char *)n, "content-", 8) != 0)
			continue;
		char **slot = NULL;
		if (name_is(n, nlen, "content-type"))
			slot = &ctype;
		else if (name_is(n, nlen, "content-transfer-encoding"))
			slot = &part->encoding;
		else if (name_is(n, nlen, "content-disposition"))
			slot = &disp;
		else if (name_is(n, nlen, "content-id"))
			slot = &part->content_id;
		else if (name_is(n, nlen, "content-description"))
			slot = &part->description;
		else if (name_is(n, nlen, "content-md5"))
			slot = &part->md5;
		else if (name_is(n, nlen, "content-language"))
			slot = &part->language;
		else if (name_is(n, nlen, "content-location"))
			slot = &part->location;
		if (slot != NULL && *slot == NULL)
			*slot = mime_header_unfold(pool, v, vlen);
	}
	if (ctype != NULL)
		set_type(pool, part, ctype);
	if (part->type == NULL) {
		bool digest = part->parent != NULL && part->parent->subtype != NULL &&
			      (part->parent->flags & MIME_PART_MULTIPART) &&
			      strcmp(part->parent->subtype, "digest") == 0;
		part->type = digest ? "message" : "text";
		part->subtype = digest ? "rfc822" : "plain";
	}
	if (part->encoding != NULL)
		lower(part->encoding);
	if (disp != NULL) {
		mime_parse_params(pool, disp, &part->disposition, &part->disposition_params);
		lower(part->disposition);
	}
}

/* ---- the line scanner ---- */

static struct mime_part *part_new(struct parser *p, struct mime_part *parent,
				  size_t start)
{
	struct mime_part *part = pool_alloc(p->msg->pool, sizeof(*part));
	part->parent = parent;
	part->index = p->msg->part_count++;
	part->depth = parent == NULL ? 0 : parent->depth + 1;
	part->header_start = part->header_end = part->body_start = part->body_end = start;
	part->header = p->raw + start;
	if (parent != NULL) {
		struct mime_part *last = p->last_at_depth[part->depth];
		if (last != NULL && last->parent == parent)
			last->next = part;
		else
			parent->children = part;
	}
	p->last_at_depth[part->depth] = part;
	return part;
}

static bool is_identity_encoding(const char *enc)
{
	return enc == NULL || strcmp(enc, "7bit") == 0 || strcmp(enc, "8bit") == 0 ||
	       strcmp(enc, "binary") == 0;
}

/* The header of p->cur ended with a blank line [blank, body). */
static void header_done(struct parser *p, size_t blank, size_t body)
{
	struct mime_part *part = p->cur;
	part->header_end = blank;
	part->body_start = part->body_end = body;
	mime_part_parse_header(p->msg->pool, part);
	p->in_header = false;
	bool room = part->depth < MIME_MAX_DEPTH && p->msg->part_count < MIME_MAX_PARTS;
	if (!room)
		return;
	if (strcmp(part->type, "multipart") == 0) {
		const char *b = mime_param_get(part->type_params, "boundary");
		if (b != NULL && b[0] != '\0' && strlen(b) <= MIME_MAX_BOUNDARY) {
			part->boundary = b;
			part->flags |= MIME_PART_MULTIPART;
		}
	} else if (strcmp(part->type, "message") == 0 &&
		   (strcmp(part->subtype, "rfc822") == 0 ||
		    strcmp(part->subtype, "global") == 0) &&
		   is_identity_encoding(part->encoding)) {
		part->flags |= MIME_PART_MESSAGE;
		p->cur = part_new(p, part, body);
		p->in_header = true;
	}
}

static size_t count_lines(const unsigned char *p, size_t len)
{
	size_t lines = 0;
	const unsigned char *end = p + len, *nl;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p = nl + 1;
	}
	return lines + (p < end ? 1 : 0);
}

static void close_part(struct parser *p, struct mime_part *part, size_t end)
{
	if (part == p->cur && p->in_header) {
		if (end < part->header_start)
			end = part->header_start;
		part->header_end = part->body_start = end;
		mime_part_parse_header(p->msg->pool, part);
		p->in_header = false;
	}
	part->body_end = end < part->body_start ? part->body_start : end;
	part->body = p->raw + part->body_start;
	if (strcmp(part->type, "text") == 0 || strcmp(part->type, "message") == 0)
		part->lines = count_lines(part->body, part->body_end - part->body_start);
}

/* Which open multipart (innermost first) has line [s, e) as a delimiter? */
static struct mime_part *match_boundary(struct parser *p, size_t s, size_t e,
					bool *close_r)
{
	const unsigned char *line = p->raw + s;
	size_t n = e - s;
	if (n < 3 || line[0] != '-' || line[1] != '-' ||
	    p->msg->part_count >= MIME_MAX_PARTS)
		return NULL;
	for (struct mime_part *m = p->cur; m != NULL; m = m->parent) {
		if (!(m->flags & MIME_PART_MULTIPART) || (m->flags & PART_CLOSED))
			continue;
		size_t blen = strlen(m->boundary), i = 2 + blen;
		if (n < i || memcmp(line + 2, m->boundary, blen) != 0)
			continue;
		bool close = n >= i + 2 && line[i] == '-' && line[i + 1] == '-';
		if (close)
			i += 2;
		while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i == n) {
			*close_r = close;
			return m;
		}
	}
	return NULL;
}

/* A delimiter of multipart m at [s, next): close the parts inside m, then
 * start m's next child or its epilogue. */
static void on_boundary(struct parser *p, struct mime_part *m, size_t s,
			size_t next, bool close)
{
	size_t end = s;
	if (end > 0 && p->raw[end - 1] == '\n') {
		end--;
		if (end > 0 && p->raw[end - 1] == '\r')
			end--;
	}
	for (struct mime_part *part = p->cur; part != m; part = part->parent)
		close_part(p, part, end);
	p->cur = m;
	p->in_header = false;
	if (close) {
		m->flags |= PART_CLOSED;
	} else {
		p->cur = part_new(p, m, next);
		p->in_header = true;
	}
}

int mime_parse(const unsigned char *raw, size_t len, struct mime_message **msg_r)
{
	struct parser p;
	memset(&p, 0, sizeof(p));
	p.msg = xcalloc(1, sizeof(*p.msg));
	p.msg->pool = pool_create(8192);
	p.msg->size = len;
	p.raw = raw;
	p.len = len;
	p.msg->root = p.cur = part_new(&p, NULL, 0);
	p.in_header = true;

	size_t pos = 0;
	while (pos < len) {
		size_t next = line_end(raw, len, pos);
		size_t end = content_end(raw, pos, next);
		bool close;
		struct mime_part *m = match_boundary(&p, pos, end, &close);
		if (m != NULL)
			on_boundary(&p, m, pos, next, close);
		else if (p.in_header && end == pos)
			header_done(&p, pos, next);
		pos = next;
	}
	for (struct mime_part *part = p.cur; part != NULL; part = part->parent)
		close_part(&p, part, len);
	for (unsigned int d = 0; d < MIME_MAX_DEPTH + 2; d++)
		p.last_at_depth[d] = NULL;
	*msg_r = p.msg;
	return 0;
}

void mime_message_free(struct mime_message **msg)
{
	if (*msg == NULL)
		return;
	pool_destroy(&(*msg)->pool);
	XFREE(*msg);
}

struct mime_part *mime_part_find(const struct mime_message *msg, const char *spec)
{
	struct mime_part *part = msg->root;
	const char *s = spec == NULL ? "" : spec;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return NULL;
		char *end;
		unsigned long n = strtoul(s, &end, 10);
		if (n == 0 || (*end != '.' && *end != '\0'))
			return NULL;
		if ((part->flags & MIME_PART_MESSAGE) && part->children != NULL)
			part = part->children;
		if (part->flags & MIME_PART_MULTIPART) {
			struct mime_part *c = part->children;
			for (unsigned long i = 1; c != NULL && i < n; i++)
				c = c->next;
			if (c == NULL)
				return NULL;
			part = c;
		} else if (n != 1) {
			return NULL;
		}
		s = *end == '.' ? end + 1 : end;
	}
	return part;
}
