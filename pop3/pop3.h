/* wd-pop3 internals: the store thread pool, the auth client and the store
 * jobs of a POP3 session (listing at login, message retrieval, the UPDATE
 * state at QUIT). */
#ifndef WD_POP3_H
#define WD_POP3_H

#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"
#include "conn.h"
#include "store.h"

struct auth_client;
struct workpool;

struct notify;
extern struct workpool *pop3_workpool;
/* Publishes "this user's mail changed" after QUIT's UPDATE (IDLE wake-up). */
extern struct notify *pop3_notify;
extern struct auth_client *pop3_auth;
extern unsigned int pop3_max_messages;
extern const struct conn_handler pop3_conn_handler;

struct pop3_msg {
	uint32_t uid;
	char id[STORE_ID_SIZE];
	uint64_t size;
	bool seen;			/* \Seen already in the store */
	bool deleted;			/* DELE in this session */
	bool retrieved;			/* RETR in this session: \Seen at QUIT */
};

/* The state of dot-stuffing between chunks. */
struct pop3_stuffer {
	int top_lines, lines;
	bool in_body, line_start, line_empty, cr, done;
};

enum pop3_job_kind {
	POP3_JOB_LOAD,			/* INBOX listing, Trash id */
	POP3_JOB_FETCH,			/* one chunk of one message */
	POP3_JOB_UPDATE,		/* QUIT: \Seen and moves to Trash */
};

struct pop3_job {
	enum pop3_job_kind kind;
	void *session;
	char user[STORE_ID_SIZE];
	/* LOAD results; UPDATE input */
	char inbox[STORE_ID_SIZE], trash[STORE_ID_SIZE];
	struct pop3_msg *msgs;		/* malloc()ed */
	unsigned int count;
	/* FETCH: the next chunk of the message (or of TOP's part of it),
	 * dot-stuffed with CRLF line ends, ready to send; the end line too
	 * once finished */
	char message_id[STORE_ID_SIZE];
	int top_lines;			/* -1: the whole message */
	struct pop3_stuffer stuffer;
	size_t offset;			/* of the next chunk in the message */
	bool started;			/* the +OK line is out */
	bool finished;
	struct buffer out;
	/* all */
	int ret;
	char error[256];
};

void pop3_job_run(void *thread_ctx, void *job);

/* Bytes of a message read per FETCH job; the next job waits until the
 * client has taken most of the last chunk. */
#define POP3_FETCH_CHUNK (1024 * 1024)

/* Appends chunks of p as a POP3 multi-line body: CRLF line ends,
 * dot-stuffed, the header and top_lines body lines only when top_lines
 * >= 0; pop3_stuff_end() adds the last line's end and ".". */
void pop3_stuffer_init(struct pop3_stuffer *st, int top_lines);
/* false once TOP has every line it wants: the rest need not be read. */
bool pop3_stuff_chunk(struct pop3_stuffer *st, struct buffer *out, const unsigned char *p,
		      size_t len);
void pop3_stuff_end(struct pop3_stuffer *st, struct buffer *out);

#endif
