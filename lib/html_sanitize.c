/* HTML sanitiser: see html_sanitize.h. The input is read once, left to
 * right; the output is built from tokens, never copied as raw markup. */
#include "html_sanitize.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 64

/* Elements dropped together with everything up to their end tag. */
static const char *const drop_with_content[] = {
	"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
	"noembed", "noframes", "template", "xml", "title", "head", "svg", "math", "textarea",
	"select", NULL,
};
/* Elements whose tags are dropped (content kept as text). */
static const char *const drop_tag[] = {
	"base", "link", "meta", "form", "input", "button", "html", "body", "noscript",
	"param", "source", "track", "portal", "isindex", "keygen", NULL,
};
/* Attributes holding URLs. */
static const char *const url_attrs[] = {
	"href", "src", "action", "formaction", "xlink:href", "background", "lowsrc", "dynsrc",
	"poster", "longdesc", "usemap", "cite", "data", "codebase", "srcset", "ping", NULL,
};

static bool in_list(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcasecmp(*list, name) == 0)
			return true;
	return false;
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == ':' || c == '.';
}

static void append_escaped(struct buffer *out, const char *s, size_t len, bool attr)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '<': buffer_append_str(out, "&lt;"); break;
		case '>': buffer_append_str(out, "&gt;"); break;
		case '"': buffer_append_str(out, attr ? "&quot;" : "\""); break;
		case '&':
			/* keep entities as they are, escape a lone '&' in attributes */
			buffer_append_c(out, '&');
			break;
		case '\0': break;
		default: buffer_append_c(out, (unsigned char)s[i]);
		}
	}
}

/* The value as a browser would read it for a URL scheme check: entities
 * decoded, whitespace and controls dropped, lower case. */
static char *url_normalize(const char *v, size_t len)
{
	char *out = malloc(len + 1);
	if (out == NULL)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < len && n < 64; i++) {
		unsigned long c = (unsigned char)v[i];
		if (c == '&') {
			size_t j = i + 1;
			if (j < len && v[j] == '#') {
				j++;
				int base = 10;
				if (j < len && (v[j] == 'x' || v[j] == 'X')) {
					base = 16;
					j++;
				}
				unsigned long val = 0;
				size_t digits = 0;
				while (j < len && digits < 8 && isxdigit((unsigned char)v[j]) &&
				       (base == 16 || isdigit((unsigned char)v[j]))) {
					val = val * (unsigned long)base +
					      (unsigned long)(isdigit((unsigned char)v[j]) ? v[j] - '0' :
							      tolower((unsigned char)v[j]) - 'a' + 10);
					j++;
					digits++;
				}
				if (digits > 0) {
					if (j < len && v[j] == ';')
						j++;
					c = val;
					i = j - 1;
				}
			} else if (len - j >= 6 && strncasecmp(v + j, "colon;", 6) == 0) {
				c = ':';
				i = j + 5;
			} else if (len - j >= 4 && strncasecmp(v + j, "tab;", 4) == 0) {
				c = '\t';
				i = j + 3;
			} else if (len - j >= 8 && strncasecmp(v + j, "newline;", 8) == 0) {
				c = '\n';
				i = j + 7;
			}
		}
		if (c <= 0x20 || c == 0x7f || c > 0x7f)
			continue;
		out[n++] = (char)tolower((int)c);
	}
	out[n] = '\0';
	return out;
}

static bool url_safe(const char *attr, const char *v, size_t len)
{
	char *u = url_normalize(v, len);
	bool bad = strncmp(u, "javascript:", 11) == 0 || strncmp(u, "vbscript:", 9) == 0 ||
		   strncmp(u, "livescript:", 11) == 0 ||
		   (strncmp(u, "data:", 5) == 0 &&
		    !(strcasecmp(attr, "src") == 0 && strncmp(u, "data:image/", 11) == 0 &&
		      strncmp(u, "data:image/svg", 14) != 0));
	free(u);
	return !bad;
}

static bool style_safe(const char *v, size_t len)
{
	char *lower = malloc(len + 1);
	if (lower == NULL)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)v[i]) && v[i] != '\\' && v[i] != '\0')
			lower[n++] = (char)tolower((unsigned char)v[i]);
	lower[n] = '\0';
	bool bad = strstr(lower, "expression") != NULL || strstr(lower, "javascript") != NULL ||
		   strstr(lower, "vbscript") != NULL || strstr(lower, "behavior") != NULL ||
		   strstr(lower, "-moz-binding") != NULL || strstr(lower, "&#") != NULL ||
		   strstr(lower, "@import") != NULL;
	free(lower);
	return !bad;
}

/* Reads a tag name at p; returns its length (0 if none). */
static size_t read_name(const char *p, const char *end, char name[NAME_MAX_LEN + 1])
{
	size_t n = 0;
	while (p + n < end && name_char(p[n]))
		n++;
	size_t copy = n < NAME_MAX_LEN ? n : NAME_MAX_LEN;
	for (size_t i = 0; i < copy; i++)
		name[i] = (char)tolower((unsigned char)p[i]);
	name[copy] = '\0';
	return n;
}

/* Finds the end of a tag starting at p ('<'), honouring quotes. */
static const char *tag_end(const char *p, const char *end)
{
	char quote = 0;
	for (const char *q = p + 1; q < end; q++) {
		if (quote != 0) {
			if (*q == quote)
				quote = 0;
		} else if (*q == '"' || *q == '\'') {
			/* quotes only count inside attribute values (after '=') */
			const char *b = q - 1;
			while (b > p && isspace((unsigned char)*b))
				b--;
			if (*b == '=')
				quote = *q;
		} else if (*q == '>') {
			return q;
		}
	}
	return NULL;
}

/* Skips to after the end tag of name (case-insensitive), or to the end. */
static const char *skip_element(const char *p, const char *end, const char *name)
{
	size_t nlen = strlen(name);
	for (const char *q = p; q + 2 + nlen <= end; q++) {
		if (q[0] == '<' && q[1] == '/' && strncasecmp(q + 2, name, nlen) == 0 &&
		    (q + 2 + nlen == end || !name_char(q[2 + nlen]))) {
			const char *e = memchr(q, '>', (size_t)(end - q));
			return e != NULL ? e + 1 : end;
		}
	}
	return end;
}

static void write_attrs(const char *p, const char *end, struct buffer *out)
{
	while (p < end) {
		while (p < end && (isspace((unsigned char)*p) || *p == '/'))
			p++;
		if (p >= end)
			break;
		char name[NAME_MAX_LEN + 1];
		size_t n = read_name(p, end, name);
		if (n == 0) {
			p++;	/* junk: skip a byte */
			continue;
		}
		p += n;
		while (p < end && isspace((unsigned char)*p))
			p++;
		const char *v = NULL;
		size_t vlen = 0;
		if (p < end && *p == '=') {
			p++;
			while (p < end && isspace((unsigned char)*p))
				p++;
			if (p < end && (*p == '"' || *p == '\'')) {
				char q = *p++;
				v = p;
				while (p < end && *p != q)
					p++;
				vlen = (size_t)(p - v);
				if (p < end)
					p++;
			} else {
				v = p;
				while (p < end && !isspace((unsigned char)*p))
					p++;
				vlen = (size_t)(p - v);
			}
		}
		if (n > NAME_MAX_LEN || strncmp(name, "on", 2) == 0 ||
		    strcmp(name, "formaction") == 0 || strcmp(name, "xmlns") == 0 ||
		    strncmp(name, "xml", 3) == 0)
			continue;
		if (v != NULL && in_list(url_attrs, name) && !url_safe(name, v, vlen))
			continue;
		if (v != NULL && strcmp(name, "style") == 0 && !style_safe(v, vlen))
			continue;
		buffer_printf(out, " %s", name);
		if (v != NULL) {
			buffer_append_str(out, "=\"");
			append_escaped(out, v, vlen, true);
			buffer_append_c(out, '"');
		}
	}
}

void html_sanitize(const char *html, size_t len, struct buffer *out)
{
	const char *p = html, *end = html + len;
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL) {
			append_escaped(out, p, (size_t)(end - p), false);
			break;
		}
		append_escaped(out, p, (size_t)(lt - p), false);
		p = lt;
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			const char *e = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
			p = e != NULL ? e + 3 : end;
			continue;
		}
		if (end - p >= 2 && (p[1] == '!' || p[1] == '?')) {
			const char *e = memchr(p, '>', (size_t)(end - p));
			p = e != NULL ? e + 1 : end;
			continue;
		}
		bool closing = end - p >= 2 && p[1] == '/';
		const char *name_at = p + (closing ? 2 : 1);
		char name[NAME_MAX_LEN + 1];
		size_t nlen = name_at < end && isalpha((unsigned char)*name_at) ?
			read_name(name_at, end, name) : 0;
		if (nlen == 0) {
			buffer_append_str(out, "&lt;");
			p++;
			continue;
		}
		const char *gt = tag_end(p, end);
		if (gt == NULL) {
			/* an unfinished tag at the end is dropped */
			break;
		}
		const char *after = gt + 1;
		if (nlen > NAME_MAX_LEN) {
			p = after;
			continue;
		}
		if (in_list(drop_with_content, name)) {
			p = closing ? after : skip_element(after, end, name);
			continue;
		}
		if (in_list(drop_tag, name)) {
			p = after;
			continue;
		}
		buffer_printf(out, "<%s%s", closing ? "/" : "", name);
		if (!closing)
			write_attrs(name_at + nlen, gt, out);
		if (!closing && gt > name_at + nlen && gt[-1] == '/')
			buffer_append_str(out, " /");
		buffer_append_c(out, '>');
		p = after;
	}
}
