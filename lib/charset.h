/* Conversion of mail charsets to UTF-8 via iconv, with the alias table mail needs.
 * Labels glibc lacks (ks_c_5601-1987, iso-8859-8-i, x-mac-roman, ...) are
 * mapped first; unknown charsets are treated as UTF-8 with invalid bytes
 * replaced by U+FFFD, so every output is valid UTF-8. */
#ifndef WD_CHARSET_H
#define WD_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"

/* The name to give iconv for a mail charset label (case-insensitive): an
 * alias from the table, else the label itself.  NULL for labels that mean
 * "unknown" (x-unknown, x-user-defined). */
const char *charset_alias(const char *label);
/* True for utf-8, utf8, us-ascii and their aliases. */
bool charset_is_utf8(const char *label);
/* Appends in[0..len) converted from charset to UTF-8.  Invalid or
 * unconvertible bytes become U+FFFD.  Returns 0, or -1 (with the input still
 * appended as sanitised UTF-8) when the charset is unknown. */
int charset_to_utf8(const char *charset, const unsigned char *in, size_t len,
		    struct buffer *out);
/* Appends in as UTF-8, replacing each invalid sequence by U+FFFD. */
void charset_utf8_sanitize(const unsigned char *in, size_t len, struct buffer *out);

#endif
