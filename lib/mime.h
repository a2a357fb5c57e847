/* RFC 5322 / RFC 2045 message parser: raw bytes to a tree of parts by offset.
 * It never fails on malformed input: every byte belongs to some part, depth
 * and part count are bounded, and the time is linear in the input; parts
 * keep their raw bytes, decoding is left to mime_codec, rfc2047 and charset. */
#ifndef WD_MIME_H
#define WD_MIME_H

#include <stdbool.h>
#include <stddef.h>

/* Deeper multipart or message/rfc822 parts are kept as opaque bodies. */
#define MIME_MAX_DEPTH 64
/* After this many parts no further boundary is recognised. */
#define MIME_MAX_PARTS 10000
/* Header fields after this many in one header are not interpreted. */
#define MIME_MAX_HEADER_FIELDS 1000
/* Longer unfolded header values are truncated for interpretation only. */
#define MIME_MAX_HEADER_VALUE 16384
/* Longer boundary parameters are ignored (RFC 2046 allows 70). */
#define MIME_MAX_BOUNDARY 256

struct pool;

struct mime_param {
	struct mime_param *next;
	char *name;	/* lowercase, RFC 2231 "*0*" suffixes removed */
	/* Continuations joined; RFC 2231 charset-encoded values converted to
	 * UTF-8; plain values unquoted (raw bytes, maybe RFC 2047 encoded). */
	char *value;
	bool rfc2231;	/* the value came from name* / name*0* ... */
};

enum mime_part_flags {
	MIME_PART_MULTIPART = 1 << 0,	/* children are the body parts */
	MIME_PART_MESSAGE = 1 << 1,	/* message/rfc822: one child, the message */
	MIME_PART_CUT = 1 << 2,		/* body was stored separately */
};

struct mime_part {
	struct mime_part *parent, *children, *next;
	unsigned int index;	/* pre-order position, root = 0 */
	unsigned int depth;	/* root = 0 */
	unsigned int flags;

	/* Offsets in the original message.  [header_start, header_end) are the
	 * header fields, [header_end, body_start) the blank line (maybe empty),
	 * [body_start, body_end) the body.  The [CR]LF before a boundary line
	 * belongs to the boundary, as RFC 2046 says. */
	size_t header_start, header_end, body_start, body_end;
	/* Lines in the body: LFs, plus one for a last line without LF. */
	size_t lines;

	/* The bytes [header_start, body_start), always available. */
	const unsigned char *header;
	/* The bytes [body_start, body_end), NULL if cut out of a stored tree. */
	const unsigned char *body;

	/* Parsed from the header; NULL when absent.  type/subtype are lowercase
	 * and default to text/plain (message/rfc822 inside multipart/digest). */
	char *type, *subtype;
	struct mime_param *type_params;
	char *encoding;		/* Content-Transfer-Encoding, lowercase */
	char *disposition;	/* lowercase */
	struct mime_param *disposition_params;
	/* Unfolded raw values (CRLF removed), not decoded. */
	char *content_id, *description, *md5, *language, *location;
	const char *boundary;	/* from type_params, when multipart */
};

struct mime_message {
	struct pool *pool;	/* everything of the tree lives here */
	struct mime_part *root;
	unsigned int part_count;
	size_t size;		/* total bytes of the message */
};

/* Parses raw (which must outlive the message; it is not copied).  Always
 * succeeds; returns 0 for symmetry with the other constructors. */
int mime_parse(const unsigned char *raw, size_t len, struct mime_message **msg_r);
void mime_message_free(struct mime_message **msg);

/* Walks the fields of a header block.  Lines without a colon and stray
 * continuation lines are skipped; at most MIME_MAX_HEADER_FIELDS fields. */
struct mime_header_iter {
	const unsigned char *hdr;
	size_t len, pos;
	unsigned int count;
};
void mime_header_iter_init(struct mime_header_iter *it, const unsigned char *hdr,
			   size_t len);
/* Returns the next field: its name (without the colon, trailing blanks
 * trimmed) and its raw folded value (from after the colon up to the end of
 * its last line, line end excluded).  false at the end. */
bool mime_header_next(struct mime_header_iter *it, const unsigned char **name_r,
		      size_t *name_len_r, const unsigned char **value_r,
		      size_t *value_len_r);
/* A raw value unfolded (CR and LF removed, NUL made a space), trimmed and
 * cut to MIME_MAX_HEADER_VALUE bytes, as a pool string. */
char *mime_header_unfold(struct pool *pool, const unsigned char *value, size_t len);

/* Lookups on a parsed header: the first field called name (case-insensitive)
 * in header bytes hdr[0..len), unfolded into a pool string (NULL if absent). */
char *mime_header_get(struct pool *pool, const unsigned char *hdr, size_t len,
		      const char *name);
/* The value of parameter name in a list, or NULL. */
const char *mime_param_get(const struct mime_param *params, const char *name);
/* Parses "type/subtype; a=b; c*0*=..." style values (also dispositions: the
 * token before ';' goes to *value_r).  Never fails; pieces may be NULL. */
void mime_parse_params(struct pool *pool, const char *value,
		       char **value_r, struct mime_param **params_r);
/* The decoded filename of a part (disposition filename, else type name),
 * as UTF-8 in the pool, or NULL. */
char *mime_part_filename(struct pool *pool, const struct mime_part *part);

/* Resolves an IMAP part number ("1.2.3") to a part; "" or NULL is the root.
 * For parts below message/rfc822 the numbering is that of the enclosed
 * message, as RFC 3501 says.  Returns NULL if there is no such part. */
struct mime_part *mime_part_find(const struct mime_message *msg, const char *part);
/* Fills the part tree's header fields (type, params...) from part->header;
 * used by the parser and by mime_store_load(). */
void mime_part_parse_header(struct pool *pool, struct mime_part *part);

#endif
