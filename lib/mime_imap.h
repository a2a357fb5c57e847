/* IMAP ENVELOPE and BODYSTRUCTURE / BODY strings (RFC 3501 7.4.2) from a part tree.
 * Works on a tree from mime_parse() or mime_store_load(): only header bytes
 * and the offsets and line counts of the tree are needed, never the bodies. */
#ifndef WD_MIME_IMAP_H
#define WD_MIME_IMAP_H

#include <stdbool.h>

#include "buffer.h"
#include "mime.h"

/* Appends the ENVELOPE of the message whose header is part's header (the
 * root, or the child of a message/rfc822 part): a parenthesised list with
 * date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to and
 * message-id.  Values are the raw header strings (RFC 2047 left encoded);
 * sender and reply-to default to from, as RFC 3501 requires. */
void mime_imap_envelope(const struct mime_part *part, struct buffer *out);

/* Appends BODYSTRUCTURE (extended = true: md5, disposition, language,
 * location, and multipart parameters) or BODY (extended = false) of part. */
void mime_imap_bodystructure(const struct mime_part *part, bool extended,
			     struct buffer *out);

/* Appends s as an IMAP string: quoted when possible, else a literal
 * ("{n}\r\n" and the bytes: 8-bit, CR, LF or over 4096 bytes); NIL for NULL.
 * ENVELOPE and BODYSTRUCTURE output may therefore contain literals. */
void mime_imap_append_nstring(struct buffer *out, const char *s, size_t len);

#endif
