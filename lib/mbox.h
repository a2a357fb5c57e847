/* mboxrd output of stored messages: the format of `wdctl export-mbox` and
 * of the API's audit export (GET /audit/:audit/export.mbox). Only writes;
 * the Maildir import of wdctl reads its own format. */
#ifndef WD_MBOX_H
#define WD_MBOX_H

#include <stddef.h>
#include <stdint.h>

struct buffer;
struct store;

/* Appends one message in mboxrd form to out: a From_ line (the envelope
 * sender from Return-Path or From:, the date from idate), the lines with
 * LF endings, ">" added to every line matching ^>*From , a blank line. */
void mbox_append_message(struct buffer *out, const unsigned char *raw, size_t len,
			 int64_t idate);

/* Called once per message with its mboxrd bytes; non-zero stops. */
typedef int mbox_write_fn(const unsigned char *data, size_t len, void *context);
/* Writes every message of the mailbox, in uid order, through write.
 * *count_r: messages written. -1 with *error_r on a store failure or when
 * write stopped. */
int mbox_export_mailbox(struct store *store, const char *mailbox_id, mbox_write_fn *write,
			void *context, size_t *count_r, const char **error_r);

#endif
