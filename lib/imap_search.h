/* SEARCH program parser (RFC 3501 section 6.4.4, plus CONDSTORE MODSEQ):
 * turns the parsed command arguments into a tree of keys the server
 * evaluates against messages. Sequence sets stay unresolved ("*" is the
 * server's to resolve against the mailbox at evaluation time). */
#ifndef WD_IMAP_SEARCH_H
#define WD_IMAP_SEARCH_H

#include <stdint.h>
#include <time.h>

#include "imap_seqset.h"

struct imap_arg;
struct pool;

enum imap_search_type {
	/* an implicit AND of the children: the whole program and (...) groups */
	IMAP_SEARCH_AND,
	IMAP_SEARCH_OR,		/* two children */
	IMAP_SEARCH_NOT,	/* one child */
	IMAP_SEARCH_ALL,
	/* system flags: str holds "\\Seen" etc.; UN* are NOT of the flag */
	IMAP_SEARCH_FLAG,
	IMAP_SEARCH_KEYWORD,	/* str; UNKEYWORD is NOT of it */
	IMAP_SEARCH_NEW,	/* RECENT and not SEEN */
	IMAP_SEARCH_OLD,	/* not RECENT */
	IMAP_SEARCH_RECENT,
	/* header substring: header is the field ("From", or any for HEADER) */
	IMAP_SEARCH_HEADER,
	IMAP_SEARCH_BODY,	/* str */
	IMAP_SEARCH_TEXT,	/* str */
	/* date: 00:00 UTC of the day; INTERNALDATE or (SENT*) Date: header */
	IMAP_SEARCH_BEFORE, IMAP_SEARCH_ON, IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE, IMAP_SEARCH_SENTON, IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_LARGER, IMAP_SEARCH_SMALLER,	/* number */
	IMAP_SEARCH_SEQSET,	/* seqset of message sequence numbers */
	IMAP_SEARCH_UID,	/* seqset of UIDs */
	IMAP_SEARCH_MODSEQ,	/* number: mod-sequence at least this */
};

struct imap_search_key {
	enum imap_search_type type;
	const char *str;
	const char *header;
	time_t date;
	uint64_t number;
	struct imap_seqset seqset;
	struct imap_search_key *children;	/* AND, OR, NOT */
	struct imap_search_key *next;		/* sibling */
};

/* Parses args[0..count) (after "SEARCH", or after UID SEARCH). *charset_r
 * is the CHARSET argument or NULL; the server refuses charsets it does not
 * know with NO [BADCHARSET]. The tree lives in pool. */
int imap_search_parse(struct pool *pool, const struct imap_arg *args, unsigned int count,
		      const char **charset_r, struct imap_search_key **root_r,
		      const char **error_r);

#endif
