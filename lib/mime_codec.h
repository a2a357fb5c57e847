/* Tolerant base64 and quoted-printable codecs for message bodies and headers.
 * Decoders never fail: they skip what they cannot read, as mail readers do;
 * they are for display and search, never for rebuilding stored bytes. */
#ifndef WD_MIME_CODEC_H
#define WD_MIME_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"

/* Appends the decoded bytes; characters outside the alphabet are skipped,
 * padding ends the data, a partial group yields what bytes it holds. */
void mime_base64_decode(const unsigned char *in, size_t len, struct buffer *out);
/* Appends in encoded as one line of base64 (no line breaks). */
void mime_base64_encode(const unsigned char *in, size_t len, struct buffer *out);
/* Quoted-printable body decoding (RFC 2045 6.7): soft line breaks removed,
 * trailing whitespace on lines dropped, invalid '=' kept literally.
 * Line ends are kept as they are. */
void mime_qp_decode(const unsigned char *in, size_t len, struct buffer *out);
/* The "Q" encoding of RFC 2047 encoded words: like QP, plus '_' = space. */
void mime_q_decode(const unsigned char *in, size_t len, struct buffer *out);
/* Decodes a body by its Content-Transfer-Encoding (NULL, 7bit, 8bit and
 * binary copy; unknown encodings copy too). */
void mime_transfer_decode(const char *encoding, const unsigned char *in,
			  size_t len, struct buffer *out);

#endif
