/* Helpers that write IMAP response data into a struct buffer: strings as
 * atom, quoted string or literal, whichever is safe, NIL for NULL, and
 * mailbox names in modified UTF-7 or (after ENABLE UTF8=ACCEPT) UTF-8.
 * They only format; what the response means is the server's business. */
#ifndef WD_IMAP_WRITE_H
#define WD_IMAP_WRITE_H

#include <stdbool.h>
#include <stddef.h>

struct buffer;

/* Strings of this many bytes or more are always sent as literals. */
#define IMAP_WRITE_MAX_QUOTED 1000

enum imap_write_flags {
	/* UTF8=ACCEPT is enabled: valid UTF-8 may go in quoted strings and
	 * mailbox names are sent as UTF-8. */
	IMAP_WRITE_UTF8 = 1 << 0,
};

/* True if s can be sent as a quoted string (no NUL, CR, LF, 8-bit unless
 * IMAP_WRITE_UTF8 and valid UTF-8; shorter than IMAP_WRITE_MAX_QUOTED). */
bool imap_write_can_quote(const char *s, size_t len, unsigned int flags);
/* True if s is a non-empty run of ASTRING-CHARs other than "NIL". */
bool imap_write_is_astring_atom(const char *s, size_t len);

/* "..." with \" and \\ escaped; the caller checked imap_write_can_quote(). */
void imap_write_quoted(struct buffer *out, const char *s, size_t len);
/* {len}\r\n followed by the bytes. */
void imap_write_literal(struct buffer *out, const char *s, size_t len);
/* string: quoted if possible, else literal. */
void imap_write_string(struct buffer *out, const char *s, size_t len, unsigned int flags);
/* nstring: NIL for s == NULL, else imap_write_string(). */
void imap_write_nstring(struct buffer *out, const char *s, size_t len, unsigned int flags);
/* astring: a bare atom if possible, else imap_write_string(). */
void imap_write_astring(struct buffer *out, const char *s, size_t len, unsigned int flags);
/* NUL-terminated conveniences. */
void imap_write_str(struct buffer *out, const char *s, unsigned int flags);
void imap_write_nstr(struct buffer *out, const char *s, unsigned int flags);
void imap_write_astr(struct buffer *out, const char *s, unsigned int flags);

/* A mailbox name given in UTF-8, as an astring: mUTF-7 unless
 * IMAP_WRITE_UTF8. -1 (nothing written) if name is not valid UTF-8. */
int imap_write_mailbox(struct buffer *out, const char *name, unsigned int flags,
		       const char **error_r);

#endif
