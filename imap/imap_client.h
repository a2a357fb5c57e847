/* An IMAP connection of wd-imap: the command loop over lib/imap_parser,
 * the session state (user, selected mailbox view), store jobs that run on
 * the worker's store threads and resume here, and change notifications.
 * Commands live in cmd_*.c and use only what this header offers. */
#ifndef WD_IMAP_CLIENT_H
#define WD_IMAP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buffer.h"
#include "conn.h"
#include "imap_parser.h"
#include "store.h"

struct config;
struct pool;
struct store;

enum imap_state {
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
};

/* The selected mailbox as this session sees it (WildDuck's model): the
 * UID list gives sequence numbers, changes arrive through the journal. */
struct imap_view {
	char id[STORE_ID_SIZE];
	char *path;              /* UTF-8 store path */
	bool readonly;           /* EXAMINE */
	uint32_t uid_validity, uid_next;
	uint64_t highest_modseq; /* journal read up to here */
	uint32_t *uids;          /* ascending; index + 1 = sequence number */
	uint32_t count, cap;
};

struct imap_client {
	struct imap_client *prev, *next; /* every client of this worker */
	struct conn *conn;
	struct imap_parser *parser;
	struct pool *cmd_pool;   /* cleared after each command */
	enum imap_state state;
	char user_id[STORE_ID_SIZE];
	char *username;
	struct imap_view *view;  /* SELECTED only */
	bool condstore, utf8;    /* ENABLEd (CONDSTORE also by use) */
	bool compressed;         /* COMPRESS=DEFLATE is active */
	bool busy;               /* a command is running: input waits */
	bool in_input;           /* inside the input loop (no recursion) */
	bool gone;               /* the connection closed; free when jobs == 0 */
	unsigned int jobs;       /* store jobs (and other holds) in flight */
	bool counted, counted_redis; /* in the per-user connection count */
	char limit_id[24];       /* this session's member in Redis */
	struct auth_request *auth;
	/* IDLE: the command waiting for DONE */
	struct imap_cmd *idle_cmd;
	/* modseqs of this session's own flag changes: the journal echo of
	 * them is not sent back (a small ring) */
	uint64_t own_modseqs[16];
	unsigned int own_next;
	/* changes announced by a beacon, not yet read from the journal */
	bool changed;
	bool syncing;
	/* a producer waiting until the client read its output */
	void (*drained_cb)(struct imap_client *client, void *ctx);
	void *drained_ctx;
	/* AUTHENTICATE waiting for the client's response line */
	struct imap_cmd *sasl_cmd;
};

/* A running command: what command files get. */
struct imap_cmd {
	struct imap_client *client;
	const char *tag;
	const char *name;         /* upper case, without "UID " */
	bool uid;                 /* UID FETCH etc. */
	const struct imap_arg *args;
	unsigned int args_count;
	struct pool *pool;        /* freed when the command ends */
	void *ctx;                /* the command's own state, from pool */
	struct timespec started;  /* CLOCK_MONOTONIC, for the latency metric */
};

typedef void imap_cmd_fn(struct imap_cmd *cmd);

enum imap_cmd_flags {
	IMAP_CMD_NOT_AUTH = 1 << 0, /* allowed before login */
	IMAP_CMD_AUTH     = 1 << 1, /* allowed after login */
	IMAP_CMD_SELECTED = 1 << 2, /* needs a selected mailbox */
	IMAP_CMD_UID      = 1 << 3, /* has a UID form */
	/* ends the sync of other sessions' changes: no EXPUNGE after it (RFC 3501 §7.4.1) */
	IMAP_CMD_NO_EXPUNGE = 1 << 4,
	IMAP_CMD_NO_ARGS  = 1 << 5, /* takes no arguments */
};

struct imap_command {
	const char *name;
	imap_cmd_fn *fn;
	unsigned int flags;
};

const struct imap_command *imap_command_find(const char *name);
/* Each cmd_*.c file's table, NULL-name terminated (imap_commands.c). */
extern const struct imap_command imap_auth_commands[], imap_select_commands[],
	imap_mailbox_commands[], imap_message_commands[], imap_fetch_commands[],
	imap_search_commands[];

/* --- replies --- */
void imap_printf(struct imap_client *client, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void imap_write(struct imap_client *client, const void *data, size_t len);
/* Ends the command with "tag OK|NO|BAD text"; the next command may run. */
void imap_cmd_done(struct imap_cmd *cmd, const char *status_text);
void imap_cmd_donef(struct imap_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Ends with the usual reply for a store error. */
void imap_cmd_store_error(struct imap_cmd *cmd, enum store_error error, const char *what);
/* Ends the command without a tagged reply (the command wrote it). */
void imap_cmd_end(struct imap_cmd *cmd);
/* A continuation line of IDLE or AUTHENTICATE (cmd_idle.c, cmd_auth.c). */
void imap_idle_line(struct imap_client *client, const char *line);
void imap_sasl_line(struct imap_client *client, const char *line);

/* Calls cb once the output buffer is below the low watermark (at once,
 * from the loop, if it already is): FETCH batches wait for slow readers. */
void imap_when_output_drained(struct imap_client *client,
			      void (*cb)(struct imap_client *client, void *ctx), void *ctx);

/* --- store jobs --- */
/* Every job struct starts with this; a job whose store could not be
 * opened never runs and comes back with error TEMPORARY. */
struct imap_job_status {
	enum store_error error;  /* STORE_OK when the job did its work */
	char error_text[200];    /* copied: the store's text is the thread's */
};
typedef void imap_job_run_fn(struct store *store, void *job);
/* Runs run(store, job) on a store thread, then done(job) here, unless
 * the client went away meanwhile (then done is not called and the job
 * is given to free_job, which may be NULL). job starts with an
 * imap_job_status. */
void imap_job(struct imap_client *client, imap_job_run_fn *run, void (*done)(void *job),
	      void (*free_job)(void *job), void *job);
/* Records a store call's failure in a job's status. */
void imap_job_failed(struct imap_job_status *st, struct store *store, const char *error);

/* Keeps the client's memory while something outside the connection (a
 * Redis reply) still refers to it; release returns true when the client
 * has gone meanwhile (and frees it if nothing else holds it). */
void imap_client_hold(struct imap_client *client);
bool imap_client_release(struct imap_client *client);

/* --- the worker --- */
/* Every client of this worker (linked by next). */
struct imap_client *imap_clients(void);
extern const struct conn_handler imap_conn_handler;
/* Store threads, the auth client and change beacons of this worker. */
int imap_worker_start(struct event_base *base, const struct config *config, const char **error_r);
void imap_worker_stop(void);
struct auth_client *imap_auth_client(void);
const struct config *imap_config(void);
/* Tells every session of user_id (here and elsewhere) that mail changed. */
void imap_notify_changed(const char *user_id);
/* Capabilities for the current state, space separated. */
void imap_capabilities(struct imap_client *client, struct buffer *out);
/* Finishes a login: state AUTH, user set. */
void imap_client_logged_in(struct imap_client *client, const char *user_id,
			   const char *username);
/* Starts reading the journal of the selected mailbox and sends what
 * changed; then calls done(ctx) (may be NULL). expunges=false holds back
 * EXPUNGE (during FETCH/STORE/SEARCH). */
void imap_sync(struct imap_client *client, bool expunges, void (*done)(void *ctx), void *ctx);

/* --- helpers for command files --- */
/* Mailbox name from the client (mUTF-7 or UTF-8) to a store path; NULL
 * with *error_r on a bad name. INBOX is matched without case. */
const char *imap_mailbox_from_client(struct imap_client *client, struct pool *pool,
				     const char *name, const char **error_r);
/* A store path as the client wants to see it, as an IMAP string. */
void imap_mailbox_to_client(struct imap_client *client, const char *path, struct buffer *out);
void imap_view_free(struct imap_view **view);
/* The sequence number of uid, 0 if not in the view. */
uint32_t imap_view_seq(const struct imap_view *view, uint32_t uid);
/* Resolves a sequence set (a UID set for UID commands) against the view
 * into store UID ranges of messages in the view, from pool; -1 with a
 * reason for BAD. An empty result is no error for UID commands. */
int imap_view_ranges(struct imap_cmd *cmd, const char *set, struct store_uid_range **ranges_r,
		     unsigned int *count_r, const char **error_r);
/* Adds a uid larger than all in the view (others are ignored). */
void imap_view_append(struct imap_view *view, uint32_t uid);
void imap_view_remove_seq(struct imap_view *view, uint32_t seq);

#endif
