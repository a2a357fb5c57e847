/* JSON views of messages for the HTTP API (WildDuck's field names): list
 * entries from the cached ENVELOPE and the tree blob, the whole parsed
 * message (headers, addresses, text, sanitised html, attachments), the
 * decoded bytes of one attachment, and RFC 5322 messages composed from
 * JSON. Pure functions over bytes: the caller reads the store. */
#ifndef WD_API_MESSAGE_H
#define WD_API_MESSAGE_H

#include <jansson.h>
#include <stddef.h>

#include "buffer.h"
#include "store.h"

/* Parses an IMAP ENVELOPE string into {subject, from, sender, replyTo, to,
 * cc, bcc, inReplyTo, messageId} with addresses as [{name, address}],
 * RFC 2047 decoded. NULL if it does not parse. */
json_t *api_envelope_json(const char *envelope);

/* An ISO 8601 UTC time ("2024-01-02T03:04:05.000Z"). */
void api_time_iso(int64_t unix_secs, char out[32]);
/* "2024-01-02T03:04:05Z" (fraction and Z optional) or "2024-01-02" to unix
 * seconds; NULL or "" is 0; -1 for anything else. */
int api_time_parse(const char *s, int64_t *t_r);

/* A list entry: id (uid), flags, addresses, subject, dates, size, intro
 * (from the text parts kept in the tree blob) and attachments (bool).
 * tree may be NULL (no intro then). */
json_t *api_message_summary(const struct store_message *msg, const unsigned char *tree,
			    size_t tree_len);

/* The whole message parsed from its raw bytes: the summary fields plus
 * headers, text, html (sanitised, a list as WildDuck) and attachments. */
json_t *api_message_full(const struct store_message *msg, const unsigned char *raw,
			 size_t len);

/* The decoded body of attachment att_id ("ATT00001") of a raw message;
 * -1 if there is no such attachment. content_type_r and filename_r are
 * malloc()ed (filename may be NULL). */
int api_message_attachment(const unsigned char *raw, size_t len, const char *att_id,
			   struct buffer *out, char **content_type_r, char **filename_r);

/* Builds a message from a validated JSON object {from, to, cc, bcc,
 * replyTo, subject, text, html, headers, date} (addresses as
 * {name, address} or strings). -1 with error_r on an address that does
 * not parse. hostname goes into the Message-ID. */
int api_message_compose(json_t *obj, const char *hostname, struct buffer *out,
			const char **error_r);

#endif
