/* SORT keys and order; see imap_sort.h. */
#include "imap_sort.h"

#include "buffer.h"
#include "imap_parser.h"
#include "mem.h"
#include "rfc2047.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int imap_sort_parse(const struct imap_arg *list, struct imap_sort_program *program_r,
		    const char **error_r)
{
	static const struct { const char *name; enum imap_sort_key key; } names[] = {
		{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
		{ "DATE", IMAP_SORT_DATE }, { "FROM", IMAP_SORT_FROM },
		{ "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
		{ "TO", IMAP_SORT_TO }, { "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
		{ "DISPLAYTO", IMAP_SORT_DISPLAYTO },
	};
	memset(program_r, 0, sizeof(*program_r));
	if (list->type != IMAP_ARG_LIST || list->list_count == 0) {
		*error_r = "SORT needs a list of sort criteria";
		return -1;
	}
	bool reverse = false;
	for (unsigned int i = 0; i < list->list_count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (a->type != IMAP_ARG_ATOM) {
			*error_r = "Sort criteria are atoms";
			return -1;
		}
		if (strcasecmp(a->str, "REVERSE") == 0 && !reverse) {
			reverse = true;
			continue;
		}
		size_t k = 0;
		while (k < sizeof(names) / sizeof(names[0]) && strcasecmp(names[k].name, a->str) != 0)
			k++;
		if (k == sizeof(names) / sizeof(names[0]) ||
		    program_r->count == IMAP_SORT_MAX) {
			*error_r = "Unknown or too many sort criteria";
			return -1;
		}
		program_r->items[program_r->count].key = names[k].key;
		program_r->items[program_r->count++].reverse = reverse;
		reverse = false;
	}
	if (reverse) {
		*error_r = "REVERSE must precede a sort key";
		return -1;
	}
	return 0;
}

/* ---- the cached ENVELOPE, read just enough ---- */

struct env_cursor {
	const char *p;
};

static void env_space(struct env_cursor *c)
{
	while (*c->p == ' ')
		c->p++;
}

/* Reads a string, literal or NIL at the cursor into out (NIL: nothing);
 * false at anything else. */
static bool env_string(struct env_cursor *c, struct buffer *out)
{
	env_space(c);
	if (strncasecmp(c->p, "NIL", 3) == 0) {
		c->p += 3;
		return true;
	}
	if (*c->p == '"') {
		for (c->p++; *c->p != '\0' && *c->p != '"'; c->p++) {
			if (*c->p == '\\' && c->p[1] != '\0')
				c->p++;
			if (out != NULL)
				buffer_append_c(out, (unsigned char)*c->p);
		}
		if (*c->p != '"')
			return false;
		c->p++;
		return true;
	}
	if (*c->p == '{') {
		char *end;
		unsigned long n = strtoul(c->p + 1, &end, 10);
		if (*end != '}' || end[1] != '\r' || end[2] != '\n' || strnlen(end + 3, n) < n)
			return false;
		if (out != NULL)
			buffer_append(out, end + 3, n);
		c->p = end + 3 + n;
		return true;
	}
	return false;
}

/* Skips one element (string, NIL or a list); false on malformed input. */
static bool env_skip(struct env_cursor *c, int depth)
{
	env_space(c);
	if (*c->p != '(')
		return env_string(c, NULL);
	if (depth > 8)
		return false;
	for (c->p++;;) {
		env_space(c);
		if (*c->p == ')') {
			c->p++;
			return true;
		}
		if (*c->p == '\0' || !env_skip(c, depth + 1))
			return false;
	}
}

/* The first address of an address list: name, mailbox and host. */
static void env_first_address(struct env_cursor *c, struct buffer *name, struct buffer *mailbox,
			      struct buffer *host)
{
	env_space(c);
	if (c->p[0] != '(' || c->p[1] != '(')
		return; /* NIL or malformed */
	c->p += 2;
	if (env_string(c, name) && env_string(c, NULL) && env_string(c, mailbox))
		env_string(c, host);
}

/* Address list index in the ENVELOPE: from 2, to 5, cc 6. */
static void envelope_address(const char *envelope, unsigned int index, struct buffer *name,
			     struct buffer *mailbox, struct buffer *host)
{
	if (envelope == NULL || envelope[0] != '(')
		return;
	struct env_cursor c = { envelope + 1 };
	for (unsigned int i = 0; i < index; i++)
		if (!env_skip(&c, 0))
			return;
	env_first_address(&c, name, mailbox, host);
}

static char *upper_ascii(struct buffer *b)
{
	for (size_t i = 0; i < b->len; i++)
		b->data[i] = (unsigned char)toupper(b->data[i]);
	return buffer_steal(b, NULL);
}

static char *address_key(const char *envelope, unsigned int index, bool display)
{
	struct buffer name = BUFFER_INIT, mailbox = BUFFER_INIT, host = BUFFER_INIT;
	envelope_address(envelope, index, &name, &mailbox, &host);
	struct buffer out = BUFFER_INIT;
	if (display && name.len > 0) {
		rfc2047_decode(name.data, name.len, &out);
	} else if (display && mailbox.len > 0) {
		buffer_append(&out, mailbox.data, mailbox.len);
		buffer_append_c(&out, '@');
		buffer_append(&out, host.data, host.len);
	} else if (!display) {
		buffer_append(&out, mailbox.data, mailbox.len);
	}
	buffer_free(&name);
	buffer_free(&mailbox);
	buffer_free(&host);
	buffer_cstr(&out);
	return upper_ascii(&out);
}

/* ---- base subject ---- */

static bool blobchar(unsigned char ch)
{
	return ch != '[' && ch != ']' && ch != '\0';
}

/* Length of a subj-blob ("[" *BLOBCHAR "]" *WSP) at s, 0 if none. */
static size_t blob_len(const char *s)
{
	if (s[0] != '[')
		return 0;
	size_t n = 1;
	while (blobchar((unsigned char)s[n]))
		n++;
	if (s[n] != ']')
		return 0;
	n++;
	while (s[n] == ' ')
		n++;
	return n;
}

/* Length of a subj-refwd (("re" / "fw" ["d"]) *WSP [subj-blob] ":") at s. */
static size_t refwd_len(const char *s)
{
	size_t n;
	if (strncasecmp(s, "re", 2) == 0)
		n = 2;
	else if (strncasecmp(s, "fwd", 3) == 0)
		n = 3;
	else if (strncasecmp(s, "fw", 2) == 0)
		n = 2;
	else
		return 0;
	while (s[n] == ' ')
		n++;
	n += blob_len(s + n);
	return s[n] == ':' ? n + 1 : 0;
}

/* Length of a subj-leader ((*subj-blob subj-refwd) / WSP) at s. */
static size_t leader_len(const char *s)
{
	if (s[0] == ' ')
		return 1;
	size_t n = 0, b;
	while ((b = blob_len(s + n)) > 0)
		n += b;
	size_t r = refwd_len(s + n);
	return r > 0 ? n + r : 0;
}

/* Removes trailing (fwd) and white space (step 2). */
static void strip_trailers(char *s, size_t *len, bool *reply)
{
	for (;;) {
		if (*len > 0 && s[*len - 1] == ' ') {
			(*len)--;
		} else if (*len >= 5 && strncasecmp(s + *len - 5, "(fwd)", 5) == 0) {
			*len -= 5;
			*reply = true;
		} else {
			break;
		}
	}
	s[*len] = '\0';
}

char *imap_sort_base_subject(const char *subject, bool *reply_r)
{
	bool reply = false;
	struct buffer dec = BUFFER_INIT;
	if (subject != NULL)
		rfc2047_decode((const unsigned char *)subject, strlen(subject), &dec);
	/* step 1: tabs, line breaks and runs of them become one space */
	char *s = xmalloc(dec.len + 1);
	size_t len = 0;
	for (size_t i = 0; i < dec.len; i++) {
		char ch = (char)dec.data[i];
		if (ch == '\t' || ch == '\r' || ch == '\n')
			ch = ' ';
		if (ch == ' ' && len > 0 && s[len - 1] == ' ')
			continue;
		s[len++] = ch;
	}
	s[len] = '\0';
	buffer_free(&dec);
	size_t start = 0;
	for (;;) {
		strip_trailers(s, &len, &reply);
		for (;;) { /* steps 3 to 5 */
			size_t n = leader_len(s + start);
			if (n > 1)
				reply = true; /* a subj-refwd: more than one space */
			if (n == 0) {
				n = blob_len(s + start);
				if (n == 0 || start + n >= len)
					break; /* a blob that is all there is stays */
			}
			start += n;
		}
		/* step 6: "[fwd: ...]" */
		if (len - start >= 6 && strncasecmp(s + start, "[fwd:", 5) == 0 &&
		    s[len - 1] == ']') {
			start += 5;
			len--;
			s[len] = '\0';
			reply = true;
			continue;
		}
		break;
	}
	memmove(s, s + start, len - start + 1);
	if (reply_r != NULL)
		*reply_r = reply;
	return s;
}

/* ---- keys and order ---- */

static bool needs(const struct imap_sort_program *p, enum imap_sort_key key)
{
	for (unsigned int i = 0; i < p->count; i++)
		if (p->items[i].key == key)
			return true;
	return false;
}

void imap_sort_msg_keys(struct imap_sort_msg *msg, const struct imap_sort_program *program,
			const char *envelope, const char *subject)
{
	if (needs(program, IMAP_SORT_CC))
		msg->cc = address_key(envelope, 6, false);
	if (needs(program, IMAP_SORT_FROM))
		msg->from = address_key(envelope, 2, false);
	if (needs(program, IMAP_SORT_TO))
		msg->to = address_key(envelope, 5, false);
	if (needs(program, IMAP_SORT_DISPLAYFROM))
		msg->displayfrom = address_key(envelope, 2, true);
	if (needs(program, IMAP_SORT_DISPLAYTO))
		msg->displayto = address_key(envelope, 5, true);
	if (needs(program, IMAP_SORT_SUBJECT)) {
		struct buffer b = BUFFER_INIT;
		char *base = imap_sort_base_subject(subject, NULL);
		buffer_append_str(&b, base);
		free(base);
		buffer_cstr(&b);
		msg->subject = upper_ascii(&b);
	}
}

void imap_sort_msg_free(struct imap_sort_msg *msg)
{
	free(msg->cc);
	free(msg->from);
	free(msg->subject);
	free(msg->to);
	free(msg->displayfrom);
	free(msg->displayto);
	msg->cc = msg->from = msg->subject = msg->to = msg->displayfrom = msg->displayto = NULL;
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

static int compare_key(enum imap_sort_key key, const struct imap_sort_msg *a,
		       const struct imap_sort_msg *b)
{
	switch (key) {
	case IMAP_SORT_ARRIVAL: return CMP(a->arrival, b->arrival);
	case IMAP_SORT_DATE: return CMP(a->date, b->date);
	case IMAP_SORT_SIZE: return CMP(a->size, b->size);
	case IMAP_SORT_CC: return strcmp(a->cc, b->cc);
	case IMAP_SORT_FROM: return strcmp(a->from, b->from);
	case IMAP_SORT_TO: return strcmp(a->to, b->to);
	case IMAP_SORT_SUBJECT: return strcmp(a->subject, b->subject);
	case IMAP_SORT_DISPLAYFROM: return strcmp(a->displayfrom, b->displayfrom);
	case IMAP_SORT_DISPLAYTO: return strcmp(a->displayto, b->displayto);
	}
	return 0;
}

static int compare(const void *pa, const void *pb, void *ctx)
{
	const struct imap_sort_program *p = ctx;
	const struct imap_sort_msg *a = pa, *b = pb;
	for (unsigned int i = 0; i < p->count; i++) {
		int c = compare_key(p->items[i].key, a, b);
		if (c != 0)
			return p->items[i].reverse ? -c : c;
	}
	return CMP(a->seq, b->seq);
}

void imap_sort(const struct imap_sort_program *program, struct imap_sort_msg *msgs, size_t count)
{
	qsort_r(msgs, count, sizeof(*msgs), compare, (void *)program);
}
