/* Mailbox names between the client and the store: modified UTF-7 unless
 * the client ENABLEd UTF8=ACCEPT, "/" as the hierarchy delimiter, INBOX
 * without case, and IMAP quoting of names in replies. */
#include "imap_client.h"
#include "buffer.h"
#include "imap_write.h"
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

void imap_mailbox_to_client(struct imap_client *c, const char *path, struct buffer *out)
{
	const char *error;
	if (imap_write_mailbox(out, path, c->utf8 ? IMAP_WRITE_UTF8 : 0, &error) < 0)
		imap_write_str(out, path, IMAP_WRITE_UTF8); /* stored names are UTF-8 */
}
