/* IMAP THREAD (RFC 5256): the REFERENCES and ORDEREDSUBJECT algorithms over
 * the messages a search found, written as the THREAD response's thread
 * lists. Not lib/thread.h, which groups a user's mail by thread id for the
 * API; this nests and orders one mailbox's messages per the RFC. */
#ifndef WD_IMAP_THREAD_H
#define WD_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buffer;

struct imap_thread_msg {
	uint32_t number;	/* what the answer lists: sequence number or uid */
	uint32_t seq;		/* mailbox order, the last tie-breaker */
	int64_t date;		/* sent date (Date:, else INTERNALDATE) */
	const char *message_id;	/* without brackets; NULL or "" when missing */
	const char *const *refs; /* References ids oldest first, else In-Reply-To's */
	size_t refs_count;
	const char *subject;	/* base subject (imap_sort_base_subject), case-mapped */
	bool reply;		/* the subject had a reply/forward marker */
};

/* Appends the thread lists ("(1 2 (3)(4))(5)") of msgs, which are in
 * mailbox order; nothing for no messages. */
void imap_thread_references(const struct imap_thread_msg *msgs, size_t count, struct buffer *out);
void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t count,
				struct buffer *out);

#endif
