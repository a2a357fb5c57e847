/* Outbound mail of wd-lmtp (autoreplies, forwarded copies), written to the
 * spool folder (lib/spool.h) for an MTA to send; wd-lmtp never speaks SMTP
 * outwards. wd-lmtp(8) shows a pickup loop for sendmail(1). */
#include "lmtp.h"

#include "buffer.h"
#include "filter.h"
#include "pool.h"
#include "rfc2047.h"
#include "spool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int lmtp_outbound_write(const char *sender, const char *const *rcpts, unsigned int count,
			const unsigned char *prefix, size_t prefix_len,
			const unsigned char *msg, size_t msg_len, const char **error_r)
{
	return spool_write(lmtp_set.outbound_spool, sender, rcpts, count, prefix, prefix_len, msg,
			   msg_len, NULL, error_r);
}

/* A header value safe to write: no line breaks. */
static const char *one_line(struct pool *pool, const char *s)
{
	char *c = pool_strdup(pool, s != NULL ? s : "");
	for (char *p = c; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return c;
}

void lmtp_autoreply_build(struct pool *pool, const struct store_autoreply *ar,
			  const char *user_address, const char *sender,
			  const struct filter_message *orig, struct buffer *out)
{
	struct buffer enc = BUFFER_INIT;
	char date[64], id[STORE_ID_SIZE];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	store_id_generate(id);
	if (ar->name != NULL && ar->name[0] != '\0') {
		rfc2047_encode(one_line(pool, ar->name), &enc);
		buffer_printf(out, "From: %s <%s>\r\n", buffer_cstr(&enc), user_address);
	} else {
		buffer_printf(out, "From: <%s>\r\n", user_address);
	}
	buffer_printf(out, "To: <%s>\r\n", sender);
	const char *subject = ar->subject != NULL && ar->subject[0] != '\0' ? ar->subject :
			      pool_printf(pool, "Auto: %s", orig->subject_raw != NULL ?
					  orig->subject_raw : "");
	buffer_truncate(&enc, 0);
	rfc2047_encode(one_line(pool, subject), &enc);
	buffer_printf(out, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n",
		      buffer_cstr(&enc), date, id, lmtp_set.hostname);
	if (orig->message_id != NULL) {
		const char *mid = one_line(pool, orig->message_id);
		buffer_printf(out, "In-Reply-To: %s\r\nReferences: %s\r\n", mid, mid);
	}
	bool html = (ar->text == NULL || ar->text[0] == '\0') && ar->html != NULL;
	buffer_printf(out, "Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"
		      "Precedence: bulk\r\nMIME-Version: 1.0\r\n"
		      "Content-Type: text/%s; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: 8bit\r\n\r\n", html ? "html" : "plain");
	const char *body = html ? ar->html : ar->text != NULL ? ar->text : "";
	/* body lines end in CRLF */
	for (const char *p = body; *p != '\0'; p++) {
		if (*p == '\n' && (p == body || p[-1] != '\r'))
			buffer_append_c(out, '\r');
		buffer_append_c(out, (unsigned char)*p);
	}
	if (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		buffer_append_str(out, "\r\n");
	buffer_free(&enc);
}
