/* FETCH's view of a stored message opened with message_body_open()
 * (lib/message.h): sections, structures and header filtering, from the
 * tree blob alone. */
#ifndef WD_IMAP_FETCH_BODY_H
#define WD_IMAP_FETCH_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"
#include "message.h"
#include "mime_store.h"
#include "store.h"

struct pool;

enum fetch_structure { FETCH_ENVELOPE, FETCH_BODYSTRUCTURE, FETCH_BODY };

/* Where an IMAP section is in the rebuilt message; -1 if no such part. */
int fetch_body_section(struct message_body *body, const char *part, enum mime_section kind,
		       size_t *start_r, size_t *len_r);
/* ENVELOPE, BODYSTRUCTURE or BODY computed from the tree. */
int fetch_body_structure(struct message_body *body, enum fetch_structure what,
			 struct buffer *out, const char **error_r);
/* HEADER.FIELDS (not_ = false) or HEADER.FIELDS.NOT of a header block;
 * continuation lines go with their field, the empty line stays. */
void fetch_header_filter(const char *const *fields, unsigned int count, bool not_,
			 const struct buffer *header, struct buffer *out);

#endif
