/* Modified UTF-7 (RFC 3501 section 5.1.3) for IMAP mailbox names: UTF-8 to
 * mUTF-7 and a strict decoder that accepts only the one canonical encoding.
 * Non-canonical forms (encoded printable ASCII, unterminated or adjacent
 * shifts, bad base64 or padding bits, broken UTF-16) are errors, so every
 * name has exactly one wire form; NUL is rejected in both directions. */
#ifndef WD_MUTF7_H
#define WD_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

struct buffer;

/* Appends the mUTF-7 form of the UTF-8 string src[0..len) to out.
 * -1 if src is not valid UTF-8 or contains NUL (out is then unchanged). */
int mutf7_encode(const char *src, size_t len, struct buffer *out, const char **error_r);
/* Appends the UTF-8 form of the mUTF-7 string src[0..len) to out.
 * -1 on anything but canonical mUTF-7 (out is then unchanged). */
int mutf7_decode(const char *src, size_t len, struct buffer *out, const char **error_r);
/* True if src is canonical mUTF-7. */
bool mutf7_is_valid(const char *src, size_t len);
/* True if src is valid UTF-8 (libunistring u8_check). */
bool mutf7_utf8_is_valid(const char *src, size_t len);

#endif
