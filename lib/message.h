/* Glue between the MIME layer and the store: append a raw RFC 5322 message
 * (split into its tree blob and de-duplicated attachments, with ENVELOPE and
 * BODYSTRUCTURE cached) and rebuild its exact bytes from the store. */
#ifndef WD_MESSAGE_H
#define WD_MESSAGE_H

#include "store.h"

struct buffer;

struct message_append_opts {
	int64_t idate;			/* INTERNALDATE, unix seconds; 0: now */
	const char *const *flags;
	unsigned int flags_count;
	unsigned int append_flags;	/* enum store_append_flags */
	const char *thread;		/* thread id, may be NULL */
};

/* Splits raw and appends it to the mailbox. On a store failure
 * store_last_error() tells why (OVER_QUOTA, NOT_FOUND, ...). */
int store_message_append_raw(struct store *store, const char *mailbox_id,
			     const unsigned char *raw, size_t len,
			     const struct message_append_opts *opts,
			     struct store_append_result *result_r, const char **error_r);

/* A message split and summarised once, to be appended to many mailboxes
 * (LMTP: one message, N recipients). It points into raw, which must
 * outlive it. */
struct message_prepared;
int message_prepare(const unsigned char *raw, size_t len,
		    struct message_prepared **prepared_r, const char **error_r);
void message_prepared_free(struct message_prepared **prepared);
/* Appends the prepared message with fields (complete header lines such as
 * "Delivered-To: a@b\r\n", or none) in front of it. */
int store_message_append_prepared(struct store *store, const char *mailbox_id,
				  const struct message_prepared *prepared,
				  const unsigned char *fields, size_t fields_len,
				  const struct message_append_opts *opts,
				  struct store_append_result *result_r, const char **error_r);

/* Appends the original bytes of a stored message (by message id) to out. */
int message_rebuild(struct store *store, const char *message_id, struct buffer *out,
		    const char **error_r);

/* A stored message opened for reading by byte ranges: the tree blob is
 * loaded, attachment bytes are read from the store only for the ranges
 * asked for, so streaming a 25 MB message holds about one range of it. */
struct message_body {
	struct store *store;
	struct pool *pool;	/* the tree */
	const unsigned char *tree;
	size_t tree_len;
	size_t size;		/* of the rebuilt message */
};

int message_body_open(struct message_body *body, struct store *store, const char *message_id,
		      const char **error_r);
void message_body_close(struct message_body *body);
/* Appends the rebuilt bytes [start, start+len) to out. */
int message_body_range(struct message_body *body, size_t start, size_t len, struct buffer *out,
		       const char **error_r);

#endif
