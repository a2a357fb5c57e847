/* wd-lmtp internals: settings taken from the config at start, the store
 * thread pool, the session of one LMTP connection and the store jobs it
 * submits (recipient lookup at RCPT, delivery at the end of DATA). */
#ifndef WD_LMTP_H
#define WD_LMTP_H

#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"
#include "conn.h"
#include "smtp_parser.h"
#include "store.h"

struct config;
struct pool;
struct workpool;

struct lmtp_settings {
	uint64_t max_message_size;
	unsigned int max_recipients;
	bool over_quota_permanent;
	const char *spam_headers;
	const char *outbound_spool;	/* "" : no autoreplies or forwards */
	const char *hostname;
	int64_t autoreply_interval;	/* seconds */
	unsigned int forwards_per_day;
};

extern struct lmtp_settings lmtp_set;
struct notify;
extern struct workpool *lmtp_workpool;
/* Publishes "this user's mail changed" after each delivery (IDLE wake-up). */
extern struct notify *lmtp_notify;

extern const struct conn_handler lmtp_conn_handler;

/* An accepted recipient of the current transaction. */
struct lmtp_rcpt {
	char *address;			/* as the client gave it (normalised) */
	char user[STORE_ID_SIZE];
	char *matched;			/* the stored address it resolved to */
};

/* ---- store jobs (lmtp_deliver.c), run on store threads ---- */

struct lmtp_reply {
	int code;
	char *text;			/* "2.1.5 OK", from the job's pool */
};

struct lmtp_rcpt_job {
	void *session;
	struct pool *pool;
	const char *address;		/* normalised */
	/* results */
	struct lmtp_reply reply;
	char user[STORE_ID_SIZE];
	const char *matched;
};
void lmtp_rcpt_job_run(void *thread_ctx, void *job);

struct lmtp_data_job {
	void *session;
	struct pool *pool;
	unsigned char *raw;		/* malloc()ed, freed with the job */
	size_t len;
	const char *mail_from;		/* "" for <> */
	const struct lmtp_rcpt *rcpts;
	unsigned int rcpts_count;
	struct lmtp_reply *replies;	/* one per recipient */
};
void lmtp_data_job_run(void *thread_ctx, void *job);

/* ---- outbound mail (lmtp_outbound.c) ---- */

/* Writes a message for the MTA into the outbound spool (see wd-lmtp(8)):
 * envelope sender ("" for <>), recipients and the RFC 5322 message
 * (header prefix + body). Atomic: tmp/, fsync, rename into new/. */
int lmtp_outbound_write(const char *sender, const char *const *rcpts, unsigned int count,
			const unsigned char *prefix, size_t prefix_len,
			const unsigned char *msg, size_t msg_len, const char **error_r);

/* A text/plain autoreply from user_address to sender. */
struct filter_message;
int lmtp_autoreply_send(struct pool *pool, const struct store_autoreply *ar,
			const char *user_address, const char *sender,
			const struct filter_message *orig, const char **error_r);

#endif
