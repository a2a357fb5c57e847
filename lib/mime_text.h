/* Decoded views of a message for the API and for search: text, html, subject
 * and the attachment list, all as UTF-8.  Built from a parsed message whose
 * bodies are available (mime_parse() of the raw or joined message). */
#ifndef WD_MIME_TEXT_H
#define WD_MIME_TEXT_H

#include <stddef.h>

#include "mime.h"

struct mime_attachment_info {
	char *part_id;		/* IMAP part number, "1.2" */
	char *filename;		/* decoded (RFC 2231 / RFC 2047), or NULL */
	char *content_type;	/* "image/png" */
	char *disposition;	/* "attachment", "inline" or NULL */
	char *content_id;	/* raw, or NULL */
	size_t encoded_size;	/* body bytes as stored */
	size_t size;		/* decoded bytes */
};

struct mime_text {
	char *subject;		/* decoded, NULL when absent */
	char *text;		/* text/plain parts joined, "" when none */
	char *html;		/* text/html parts joined, "" when none */
	struct mime_attachment_info *attachments;
	size_t attachment_count;
	struct pool *pool_;	/* private: holds the attachment strings */
};

/* Decodes the message's text (transfer encoding and charset), subject and
 * attachment list.  Parts inside attached message/rfc822 parts count as
 * attachments of the enclosing message, not as its text.  All strings are
 * valid UTF-8 (invalid bytes become U+FFFD). */
int mime_message_text(const struct mime_message *msg, struct mime_text **text_r,
		      const char **error_r);
void mime_text_free(struct mime_text **text);

#endif
