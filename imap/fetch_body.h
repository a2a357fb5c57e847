/* A stored message opened for FETCH: its tree blob, with attachment bytes
 * read from the store only for the byte ranges asked for, so streaming
 * BODY[] of a 25 MB message holds about one chunk of it at a time. */
#ifndef WD_IMAP_FETCH_BODY_H
#define WD_IMAP_FETCH_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"
#include "mime_store.h"
#include "store.h"

struct pool;

struct fetch_body {
	struct store *store;
	struct pool *pool;       /* the tree */
	const unsigned char *tree;
	size_t tree_len;
	size_t size;             /* of the rebuilt message */
};

enum fetch_structure { FETCH_ENVELOPE, FETCH_BODYSTRUCTURE, FETCH_BODY };

int fetch_body_open(struct fetch_body *body, struct store *store, const char *message_id,
		    const char **error_r);
void fetch_body_close(struct fetch_body *body);
/* Appends the rebuilt bytes [start, start+len) to out. */
int fetch_body_range(struct fetch_body *body, size_t start, size_t len, struct buffer *out,
		     const char **error_r);
/* Where an IMAP section is in the rebuilt message; -1 if no such part. */
int fetch_body_section(struct fetch_body *body, const char *part, enum mime_section kind,
		       size_t *start_r, size_t *len_r);
/* ENVELOPE, BODYSTRUCTURE or BODY computed from the tree. */
int fetch_body_structure(struct fetch_body *body, enum fetch_structure what,
			 struct buffer *out, const char **error_r);
/* HEADER.FIELDS (not_ = false) or HEADER.FIELDS.NOT of a header block;
 * continuation lines go with their field, the empty line stays. */
void fetch_header_filter(const char *const *fields, unsigned int count, bool not_,
			 const struct buffer *header, struct buffer *out);

#endif
