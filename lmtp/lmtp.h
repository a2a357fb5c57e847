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
	/* the defaults of const:max:rcpt_to, const:max:forwards and
	 * const:autoreply:interval (lib/settings.h), which store jobs read */
	unsigned int max_recipients;
	bool over_quota_permanent;
	const char *spam_headers;
	const char *outbound_spool;	/* "" : no autoreplies or forwards */
	const char *hostname;
	int64_t autoreply_interval;	/* seconds */
	unsigned int forwards_per_day;
	bool redis_counters;		/* lmtp_redis is set: store jobs gate through it */
	const char *redis_prefix;	/* key prefix of the Redis counters */
};

/* The most recipients a transaction may have whatever const:max:rcpt_to
 * says (the highest value of lmtp.max_recipients). */
#define LMTP_RECIPIENTS_CAP 100000

extern struct lmtp_settings lmtp_set;
struct notify;
extern struct workpool *lmtp_workpool;
/* Publishes "this user's mail changed" after each delivery (IDLE wake-up). */
extern struct notify *lmtp_notify;

extern const struct conn_handler lmtp_conn_handler;
/* The counters' Redis (redis.address or redis.sentinels), or NULL: the
 * store's counters table then decides (see wd-lmtp(8)). Set before the
 * first connection and cleared at shutdown; store jobs only test it. */
struct redis;
extern struct redis *lmtp_redis;

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
	unsigned int accepted;		/* recipients accepted so far */
	/* results */
	struct lmtp_reply reply;
	char user[STORE_ID_SIZE];
	const char *matched;
};
void lmtp_rcpt_job_run(void *thread_ctx, void *job);

struct lmtp_gated;

struct lmtp_data_job {
	void *session;
	struct pool *pool;
	unsigned char *raw;		/* malloc()ed, freed with the job */
	size_t len;
	const char *mail_from;		/* "" for <> */
	const struct lmtp_rcpt *rcpts;
	unsigned int rcpts_count;
	struct lmtp_reply *replies;	/* one per recipient */
	/* outbound mail waiting for its Redis counter (lmtp_gate.c) */
	struct lmtp_gated *gated;
	/* local users that got a forwarded copy: their sessions are woken */
	const char **woken;
	unsigned int woken_count, woken_cap;
};
void lmtp_data_job_run(void *thread_ctx, void *job);

/* ---- counter gates of outbound mail (lmtp_gate.c) ----
 * An autoreply is sent once per sender and interval, forwards are counted
 * per day. With Redis the store job only prepares the outbound file: the
 * loop asks Redis (SET NX PX, INCR + PEXPIRE) and a store thread then
 * writes it. Without Redis, or when it does not answer, the store's
 * counter decides on the store thread, as before. */
enum lmtp_gate_kind {
	LMTP_GATE_ONCE,		/* allowed if the key did not exist */
	LMTP_GATE_LIMIT,	/* allowed while the count is <= limit */
};

/* Queues on job->gated an outbound message behind a counter: key (without
 * the Redis prefix), ttl, limit; msg NULL means the job's message itself
 * (a forward), else msg is taken over (malloc()ed). Store thread. */
void lmtp_gate_add(struct lmtp_data_job *job, enum lmtp_gate_kind kind, const char *user,
		   const char *key, int64_t ttl_secs, int64_t limit, const char *sender,
		   const char *const *rcpts, unsigned int count, const char *prefix,
		   unsigned char *msg, size_t msg_len);
/* Loop thread, from the DATA completion: asks Redis for each queued
 * message and hands the allowed ones to a store thread. Takes job->raw
 * if a forward needs it (job->raw is then NULL). */
void lmtp_gate_run(struct lmtp_data_job *job);
/* Store thread, without Redis: the store counter decides. 0 allowed. */
int lmtp_gate_store_check(struct store *store, enum lmtp_gate_kind kind, const char *key,
			  int64_t ttl_secs, int64_t limit);

/* ---- outbound mail (lmtp_outbound.c) ---- */

/* Writes a message for the MTA into the outbound spool (see wd-lmtp(8)):
 * envelope sender ("" for <>), recipients and the RFC 5322 message
 * (header prefix + body). Atomic: tmp/, fsync, rename into new/. */
int lmtp_outbound_write(const char *sender, const char *const *rcpts, unsigned int count,
			const unsigned char *prefix, size_t prefix_len,
			const unsigned char *msg, size_t msg_len, const char **error_r);

/* A text/plain autoreply from user_address to sender, built into msg
 * (without the envelope block; the spool sender is <>, the recipient
 * sender). */
struct filter_message;
void lmtp_autoreply_build(struct pool *pool, const struct store_autoreply *ar,
			  const char *user_address, const char *sender,
			  const struct filter_message *orig, struct buffer *msg);

/* ---- the spool's own pickup (lmtp_pickup.c), when lmtp.sendmail is set ----
 * Hands each file of the spool's new/ to the command (see wd-lmtp(8)). */
int lmtp_pickup_start(struct event_base *base, const char *spool, const char *command,
		      const char **error_r);
void lmtp_pickup_stop(void);

#endif
