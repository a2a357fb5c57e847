/* Mailbox names between the client and the store: modified UTF-7 unless
 * the client ENABLEd UTF8=ACCEPT, "/" as the hierarchy delimiter, INBOX
 * without case, and IMAP quoting of names in replies. */
#include "imap_client.h"
#include "buffer.h"
#include "mutf7.h"
#include "pool.h"

#include <string.h>
#include <strings.h>

const char *imap_mailbox_from_client(struct imap_client *c, struct pool *pool, const char *name,
				     const char **error_r)
{
	struct buffer b = BUFFER_INIT;
	size_t len = strlen(name);
	if (c->utf8) {
		if (!mutf7_utf8_is_valid(name, len)) {
			*error_r = "Mailbox name is not valid UTF-8";
			return NULL;
		}
		buffer_append(&b, name, len);
	} else if (mutf7_decode(name, len, &b, error_r) < 0) {
		*error_r = "Mailbox name is not valid modified UTF-7";
		buffer_free(&b);
		return NULL;
	}
	/* a trailing delimiter only says "this will have children" (RFC 3501 CREATE) */
	while (b.len > 1 && b.data[b.len - 1] == '/')
		buffer_truncate(&b, b.len - 1);
	const char *s = buffer_cstr(&b);
	if (b.len == 0 || s[0] == '/' || strstr(s, "//") != NULL) {
		*error_r = "Invalid mailbox name";
		buffer_free(&b);
		return NULL;
	}
	char *path;
	if (strncasecmp(s, "INBOX", 5) == 0 && (s[5] == '\0' || s[5] == '/'))
		path = pool_printf(pool, "INBOX%s", s + 5);
	else
		path = pool_strdup(pool, s);
	buffer_free(&b);
	return path;
}

/* An IMAP string: quoted, or a literal when quoting cannot carry it. */
void imap_append_string(struct buffer *out, const char *s, bool utf8)
{
	bool literal = false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		literal |= *p == '\r' || *p == '\n' || (*p >= 0x80 && !utf8);
	if (literal) {
		buffer_printf(out, "{%zu}\r\n%s", strlen(s), s);
		return;
	}
	buffer_append_c(out, '"');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buffer_append_c(out, '\\');
		buffer_append_c(out, (unsigned char)*p);
	}
	buffer_append_c(out, '"');
}

void imap_mailbox_to_client(struct imap_client *c, const char *path, struct buffer *out)
{
	if (c->utf8) {
		imap_append_string(out, path, true);
		return;
	}
	struct buffer enc = BUFFER_INIT;
	const char *error;
	if (mutf7_encode(path, strlen(path), &enc, &error) < 0)
		buffer_append_str(&enc, path); /* stored names are valid UTF-8 */
	imap_append_string(out, buffer_cstr(&enc), false);
	buffer_free(&enc);
}
