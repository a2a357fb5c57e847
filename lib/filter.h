/* Server-side filters and delivery rules as LMTP applies them: the facts
 * of a message that filters look at (gathered once per message, for all
 * recipients), matching of a user's store_filter list, the spam header
 * rules of the config and the RFC 3834 rules on when not to autoreply.
 * Pure functions over a parsed message: no store, no I/O. */
#ifndef WD_FILTER_H
#define WD_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct mime_message;
struct pool;

/* A header that marks a message forwarded by us, for loop detection. */
#define FILTER_FORWARDED_HEADER "X-WildDuck-Forwarded-By"
/* More of those than this and a message is never forwarded again. */
#define FILTER_MAX_FORWARD_HOPS 5

struct filter_message {
	/* decoded (RFC 2047) and lower-cased for matching; "" when absent */
	const char *from, *to, *subject, *list_id;
	/* the address in From: (for replies), lower case, or NULL */
	const char *from_address;
	const char *message_id;		/* raw Message-ID value or NULL */
	const char *subject_raw;	/* decoded subject, as written */
	uint64_t size;
	bool spam;			/* a spam header rule matched */
	/* RFC 3834: why an autoreply must not be sent (NULL: it may) */
	const char *no_autoreply;
	/* FILTER_FORWARDED_HEADER values, lower case, and their count */
	const char *const *forwarded_by;
	unsigned int forwarded_by_count;
	/* private: what text and attachment queries need, made on demand */
	const struct mime_message *mime_;
	struct pool *pool_;
	int has_attachment_;		/* -1: not known yet */
	const char *text_;
};

/* Gathers the facts of a parsed message (mime must outlive msg_r; strings
 * come from pool). spam_rules is lmtp.spam_headers. */
void filter_message_init(struct pool *pool, const struct mime_message *mime,
			 const char *spam_rules, struct filter_message *msg_r);

/* True if every query field of the filter matches. */
bool filter_match(const struct store_filter *filter, struct filter_message *msg);

/* The combined actions of the filters that match, in order: later filters
 * may add to earlier ones; a set field is not unset again. */
struct filter_actions {
	int seen, flag, spam;		/* -1: no filter said */
	bool delete_message;
	const char *mailbox;		/* the first matching filter's, or NULL */
	const char *const *forward;	/* targets of all matching filters */
	unsigned int forward_count;
	const char *const *webhooks;
	unsigned int webhooks_count;
	unsigned int matched;		/* how many filters matched */
};
void filter_apply(struct pool *pool, const struct store_filter *filters, unsigned int count,
		  struct filter_message *msg, struct filter_actions *actions_r);

/* True if a header named name with this value matches one of the rules
 * ("Name: value-prefix; ..."; names and values without case). */
bool filter_spam_rule_match(const char *rules, const char *name, const char *value);

/* RFC 3834 and common practice: the reason an autoreply to sender must not
 * be sent for a message with these headers, or NULL. sender is the
 * envelope sender ("" for the null path). */
const char *filter_autoreply_refusal(const char *sender, const char *auto_submitted,
				     const char *precedence, bool list_headers,
				     bool auto_reply_headers);

#endif
