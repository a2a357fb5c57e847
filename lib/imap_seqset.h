/* IMAP sequence sets (RFC 3501 sequence-set, e.g. "1:4,7,9:*"): parsing,
 * resolving "*" against the mailbox, normalising, membership and iteration.
 * The same code serves message sequence numbers and UIDs; checking numbers
 * against the mailbox (BAD for a sequence number over EXISTS) is the server's. */
#ifndef WD_IMAP_SEQSET_H
#define WD_IMAP_SEQSET_H

#include <stdbool.h>
#include <stdint.h>

struct buffer;
struct pool;

/* "*" before imap_seqset_resolve(); never a valid number. */
#define IMAP_SEQ_STAR 0u

struct imap_seq_range {
	uint32_t lo, hi;	/* as given until resolved, then lo <= hi */
};

struct imap_seqset {
	struct imap_seq_range *ranges;
	unsigned int count;
	bool resolved;		/* sorted, merged, no IMAP_SEQ_STAR */
};

struct imap_seqset_iter {
	unsigned int idx;
	uint64_t next;
};

/* Parses str; ranges come from pool. Rejects 0, numbers > 2^32-1, leading
 * zeros, empty elements and "$" (SEARCHRES is not supported yet). */
int imap_seqset_parse(struct pool *pool, const char *str, struct imap_seqset *set_r,
		      const char **error_r);
/* True if str is syntactically a sequence set (e.g. to tell one from a
 * SEARCH key); does not allocate. */
bool imap_seqset_is_valid(const char *str);
/* Replaces "*" by max (the highest sequence number or UID, 0 if the mailbox
 * is empty: "*" then means 1), orders each range, sorts and merges. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t max);
/* Drops numbers above max (e.g. UIDs past UIDNEXT-1); keeps it resolved. */
void imap_seqset_clamp(struct imap_seqset *set, uint32_t max);

/* The following need a resolved set. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
uint64_t imap_seqset_count(const struct imap_seqset *set);
/* Highest number in the set, 0 if empty. */
uint32_t imap_seqset_max(const struct imap_seqset *set);
void imap_seqset_iter_init(const struct imap_seqset *set, struct imap_seqset_iter *iter);
/* Ascending; false at the end. */
bool imap_seqset_next(const struct imap_seqset *set, struct imap_seqset_iter *iter,
		      uint32_t *n_r);
/* Appends the set in IMAP syntax ("1:4,7"); "*" is written as such. */
void imap_seqset_write(const struct imap_seqset *set, struct buffer *out);

#endif
