/* RFC 2047 encoded-word decoding of header values to UTF-8, and encoding.
 * Lenient like mail readers: words glued to text, raw 8-bit text, split
 * multi-byte characters across adjacent words, unknown charsets. */
#ifndef WD_RFC2047_H
#define WD_RFC2047_H

#include <stddef.h>

#include "buffer.h"

/* Appends the decoded value as valid UTF-8.  Whitespace between adjacent
 * encoded words is dropped; adjacent words of one charset are joined
 * before conversion, so a character split between them survives.  Text
 * outside encoded words is read as UTF-8 (invalid bytes become U+FFFD). */
void rfc2047_decode(const unsigned char *in, size_t len, struct buffer *out);
/* Appends s unchanged if it is printable ASCII, else as one or more
 * "=?UTF-8?B?...?=" words separated by spaces. */
void rfc2047_encode(const char *s, struct buffer *out);

#endif
