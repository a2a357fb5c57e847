/* IMAP SORT (RFC 5256, with RFC 5957's DISPLAYFROM/DISPLAYTO): the sort
 * program of a SORT command, each message's sort keys taken from the
 * cached ENVELOPE and Subject:, RFC 5256's base subject, and the order.
 * Searching is imap_search's; this only orders the hits. */
#ifndef WD_IMAP_SORT_H
#define WD_IMAP_SORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct imap_arg;

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,	/* INTERNALDATE */
	IMAP_SORT_CC,		/* mailbox (local part) of the first Cc: address */
	IMAP_SORT_DATE,		/* Date: header, INTERNALDATE without one */
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,	/* base subject */
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,	/* display name, else the address */
	IMAP_SORT_DISPLAYTO,
};

#define IMAP_SORT_MAX 16
struct imap_sort_program {
	unsigned int count;
	struct {
		enum imap_sort_key key;
		bool reverse;
	} items[IMAP_SORT_MAX];
};

/* Parses the parenthesised criteria list of SORT. */
int imap_sort_parse(const struct imap_arg *list, struct imap_sort_program *program_r,
		    const char **error_r);

/* One message's keys; the strings are what gets compared (ASCII upper-
 * cased, i;ascii-casemap), "" when absent, malloc'd or NULL when the
 * program does not need them. */
struct imap_sort_msg {
	uint32_t seq, uid;
	int64_t arrival, date;
	uint64_t size;
	char *cc, *from, *subject, *to, *displayfrom, *displayto;
};

/* Fills the string keys the program needs from the cached ENVELOPE and the
 * raw Subject: value (both may be NULL). */
void imap_sort_msg_keys(struct imap_sort_msg *msg, const struct imap_sort_program *program,
			const char *envelope, const char *subject);
void imap_sort_msg_free(struct imap_sort_msg *msg);

/* Sorts msgs by the program; ties go by sequence number. */
void imap_sort(const struct imap_sort_program *program, struct imap_sort_msg *msgs, size_t count);

/* RFC 5256 section 2.1's base subject of a raw Subject: value (encoded
 * words decoded, white space collapsed, Re:/Fwd:/[blob] leaders and (fwd)
 * trailers removed, [Fwd: ...] unwrapped), not yet case-mapped; malloc'd.
 * *reply_r (may be NULL) tells whether a reply or forward marker went:
 * THREAD=REFERENCES needs to know. */
char *imap_sort_base_subject(const char *subject, bool *reply_r);

#endif
