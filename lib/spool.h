/* The outbound spool (lmtp.outbound_spool): messages for an MTA to send.
 * A spool file is an RFC 5322 message whose first header fields carry the
 * envelope: "Return-Path: <sender>" (empty for <>) and one
 * "X-Envelope-To: <rcpt>" per recipient. It is written to tmp/, fsync()ed
 * and renamed into new/ as <time>.<id>.eml, so a reader never sees half a
 * file (the maildir convention). wd-lmtp (forwards, autoreplies) and wd-api
 * (submission) write it; wd-lmtp's pickup or an external loop reads it. */
#ifndef WD_SPOOL_H
#define WD_SPOOL_H

#include <stddef.h>

#include "store.h"

/* Writes sender, recipients and the message (prefix, then msg; prefix may
 * be NULL) into spool's tmp/ and new/, which must exist; id_r (may be
 * NULL) gets the file's id. */
int spool_write(const char *spool, const char *sender, const char *const *rcpts,
		unsigned int count, const unsigned char *prefix, size_t prefix_len,
		const unsigned char *msg, size_t msg_len, char id_r[STORE_ID_SIZE],
		const char **error_r);

#endif
