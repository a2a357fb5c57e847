/* Sections and structures of stored messages for FETCH, from the tree
 * blob; the byte ranges themselves are message_body_range()'s. */
#include "fetch_body.h"
#include "mem.h"
#include "mime.h"
#include "mime_imap.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int fetch_body_section(struct message_body *b, const char *part, enum mime_section kind,
		       size_t *start_r, size_t *len_r)
{
	const char *error;
	return mime_store_section_range(b->tree, b->tree_len, part, kind, start_r, len_r, &error);
}

int fetch_body_structure(struct message_body *b, enum fetch_structure what, struct buffer *out,
			 const char **error_r)
{
	struct mime_message *m;
	if (mime_store_load(b->tree, b->tree_len, &m, error_r) < 0)
		return -1;
	if (what == FETCH_ENVELOPE)
		mime_imap_envelope(m->root, out);
	else
		mime_imap_bodystructure(m->root, what == FETCH_BODYSTRUCTURE, out);
	mime_message_free(&m);
	return 0;
}

static bool field_listed(const char *const *fields, unsigned int count, const char *name,
			 size_t name_len)
{
	for (unsigned int i = 0; i < count; i++)
		if (strlen(fields[i]) == name_len && strncasecmp(fields[i], name, name_len) == 0)
			return true;
	return false;
}

void fetch_header_filter(const char *const *fields, unsigned int count, bool not_,
			 const struct buffer *hdr, struct buffer *out)
{
	const char *p = (const char *)hdr->data, *end = p + hdr->len;
	bool keep = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl != NULL ? nl + 1 : end;
		if (*p == '\r' || *p == '\n') {
			buffer_append(out, p, (size_t)(next - p)); /* the empty line */
			return;
		}
		if (*p != ' ' && *p != '\t') {
			const char *colon = memchr(p, ':', (size_t)(next - p));
			size_t nlen = colon != NULL ? (size_t)(colon - p) : 0;
			while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
				nlen--;
			keep = colon != NULL && field_listed(fields, count, p, nlen) != not_;
		}
		if (keep)
			buffer_append(out, p, (size_t)(next - p));
		p = next;
	}
	buffer_append_str(out, "\r\n"); /* a header without the empty line still gets one */
}
