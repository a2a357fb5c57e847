/* Storage form of a message: a compact tree blob plus cut-out attachment bodies.
 * mime_store_split() turns raw bytes into the blob and a list of attachments
 * (content-addressed by SHA-256), and mime_store_join() / the segment iterator
 * rebuild the exact original bytes from them: join(split(x)) == x for ANY x.
 *
 * The tree blob is opaque to the store: persist it as a byte string.  It
 * holds every header byte and every small body verbatim, the part structure
 * with byte offsets into the original message, and for each cut-out body its
 * length and SHA-256.  It starts with a magic byte and a version byte, so a
 * future format can be told apart.  Everything IMAP needs to answer
 * RFC822.SIZE, BODY[<section>] ranges, ENVELOPE and BODYSTRUCTURE is in the
 * blob; only the bodies of attachments must be fetched.
 *
 * All functions are re-entrant (no global state), so store threads may call
 * them concurrently; the blob is read-only to everything here. */
#ifndef WD_MIME_STORE_H
#define WD_MIME_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"

/* First byte of every tree blob, and the current format version (2nd byte). */
#define MIME_STORE_MAGIC 0xD7
#define MIME_STORE_VERSION 1
/* Bodies larger than this (encoded bytes) are cut out by default. */
#define MIME_STORE_DEFAULT_THRESHOLD (50 * 1024)
/* An attachment id: SHA-256 of the encoded body bytes, lowercase hex. */
#define MIME_STORE_ID_LEN 64

struct mime_store_opts {
	/* Leaf bodies longer than this are cut out; 0 means the default. */
	size_t attachment_threshold;
	/* Leaf bodies with a filename (Content-Disposition filename or
	 * Content-Type name) are cut out whatever their size, unless this is set. */
	bool keep_named_bodies;
};

struct mime_store_attachment {
	char id[MIME_STORE_ID_LEN + 1];
	/* The encoded body exactly as in the message: it points INTO the raw
	 * message given to mime_store_split(), which must outlive this list. */
	const unsigned char *data;
	size_t len;
	/* How many times this body occurs in the message (1 normally).  Each
	 * distinct id is listed once; increment a refcount once per listing. */
	unsigned int count;
};

struct mime_store_split_result {
	unsigned char *tree; /* malloc()ed blob */
	size_t tree_len;
	struct mime_store_attachment *attachments; /* distinct ids, in message order */
	size_t attachment_count;
};

/* Splits a raw message (any bytes: CRLF or LF, malformed, NUL bytes).  opts
 * may be NULL for the defaults.  Fails only for messages too large to index
 * (more than 2^48 bytes); *result_r is then untouched. */
int mime_store_split(const unsigned char *raw, size_t len,
		     const struct mime_store_opts *opts,
		     struct mime_store_split_result *result_r, const char **error_r);
/* Frees what split allocated (not the raw message) and zeroes the result. */
void mime_store_split_result_free(struct mime_store_split_result *result);

/* Called by join for each cut-out body, in message order (an id may be
 * requested more than once).  Returns 0 with data_r and len_r set, or -1 if the
 * attachment cannot be read.  The data must stay valid until the next call
 * of the callback or until join returns; the callback owns it. */
typedef int mime_store_fetch_cb(void *ctx, const char *id,
				const unsigned char **data_r, size_t *len_r);

/* Appends to out the blob of the message with fields (complete header
 * lines, e.g. "Delivered-To: a@b\r\n") put in front of it, without parsing
 * the message again: LMTP splits a message once and adds per-recipient
 * trace fields to each copy. The attachments stay the same. */
int mime_store_prepend(const unsigned char *tree, size_t tree_len,
		       const unsigned char *fields, size_t fields_len, struct buffer *out,
		       const char **error_r);

/* Appends the exact original message to out.  Fails (-1, error_r set) if the
 * blob is corrupt, a fetch fails, or a fetched body has the wrong length. */
int mime_store_join(const unsigned char *tree, size_t tree_len,
		    mime_store_fetch_cb *fetch, void *ctx,
		    struct buffer *out, const char **error_r);

/* Size of the rebuilt message (RFC822.SIZE) from the blob alone. */
int mime_store_total_size(const unsigned char *tree, size_t tree_len,
			  size_t *size_r, const char **error_r);

enum mime_store_segment_type {
	MIME_STORE_SEGMENT_LITERAL,	/* bytes held in the tree blob */
	MIME_STORE_SEGMENT_ATTACHMENT,	/* a slice of a cut-out body */
};

struct mime_store_segment {
	enum mime_store_segment_type type;
	size_t offset;	/* where the segment starts in the rebuilt message */
	size_t len;
	/* LITERAL: the bytes, pointing into the tree blob. */
	const unsigned char *data;
	/* ATTACHMENT: the id, and where in that attachment the slice starts. */
	char id[MIME_STORE_ID_LEN + 1];
	size_t att_offset;
};

/* Lists the rebuilt bytes [start, start+len) as ordered segments, so a
 * server can stream a big message (or a BODY[...]<partial>) without building
 * it in memory.  A range past the end is clipped.  *segments_r is malloc()ed
 * (free() it) and its literals point into tree. */
int mime_store_segments(const unsigned char *tree, size_t tree_len,
			size_t start, size_t len,
			struct mime_store_segment **segments_r, size_t *count_r,
			const char **error_r);

enum mime_section {
	MIME_SECTION_ALL,	/* "" or the whole part: BODY[] / BODY[1.2] */
	MIME_SECTION_HEADER,	/* BODY[HEADER], BODY[1.2.HEADER] (message parts) */
	MIME_SECTION_TEXT,	/* BODY[TEXT], BODY[1.2.TEXT] (message parts) */
	MIME_SECTION_MIME,	/* BODY[1.2.MIME]: the part's own MIME header */
};

/* The byte range of an IMAP section in the rebuilt message, from the blob
 * alone.  part is an IMAP part number ("1.2.3"), or "" / NULL for the whole
 * message.  MIME_SECTION_ALL with a part number gives the part's body.
 * Fails for a part that does not exist or for MIME on the top level; for
 * HEADER/TEXT on a part that is not message/rfc822, fails too (the IMAP
 * layer answers those with an empty string). */
int mime_store_section_range(const unsigned char *tree, size_t tree_len,
			     const char *part, enum mime_section section,
			     size_t *start_r, size_t *len_r, const char **error_r);

struct mime_message;
/* Loads the part tree from a blob (no attachments needed).  Header bytes of
 * every part are available; bodies that were cut out are not (their
 * mime_part.body is NULL).  Use with mime_imap_envelope() and
 * mime_imap_bodystructure().  The blob must outlive the message; free with
 * mime_message_free(). */
int mime_store_load(const unsigned char *tree, size_t tree_len,
		    struct mime_message **msg_r, const char **error_r);

#endif
