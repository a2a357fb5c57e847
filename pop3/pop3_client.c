/* POP3 sessions (RFC 1939, RFC 2449 CAPA, RFC 5034 SASL PLAIN, RFC 2595
 * STLS): AUTHORIZATION through the auth daemon (scope pop3), TRANSACTION
 * over a listing snapshot taken at login, UPDATE at QUIT. Commands are
 * read in order; while the auth daemon or a store job works the session is
 * busy and pipelined input waits in the buffer. */
#include "pop3.h"

#include "auth_client.h"
#include "log.h"
#include "mem.h"
#include "mime_codec.h"
#include "notify.h"
#include "workpool.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POP3_MAX_LINE 8192
#define MAX_ERRORS 20

enum pop3_state {
	STATE_AUTHORIZATION,
	STATE_TRANSACTION,
};

struct pop3_session {
	struct conn *conn;		/* NULL once gone */
	enum pop3_state state;
	bool job, dead, sasl_wait, quitting;
	struct auth_request *auth_req;
	char *username;			/* from USER */
	char user_id[STORE_ID_SIZE];
	char inbox[STORE_ID_SIZE], trash[STORE_ID_SIZE];
	struct pop3_msg *msgs;
	unsigned int count;
	unsigned int errors;
	/* RETR/TOP in flight */
	int top_lines;			/* -1: RETR */
	unsigned int fetch_index;
	struct pop3_job *stream;	/* its next chunk, waiting for the output to drain */
};

static void pop3_input(struct conn *conn);

/* Output left unsent when the next chunk of a message is read. */
#define OUTPUT_RESUME_BYTES (256 * 1024)

static bool busy(const struct pop3_session *s)
{
	return s->job || s->stream != NULL || s->auth_req != NULL;
}

static void session_free(struct pop3_session *s)
{
	free(s->msgs);
	free(s->username);
	free(s);
}

static void ok(struct pop3_session *s, const char *text)
{
	conn_printf(s->conn, "+OK %s\r\n", text);
}

static void err(struct pop3_session *s, const char *text)
{
	conn_printf(s->conn, "-ERR %s\r\n", text);
	if (++s->errors > MAX_ERRORS) {
		conn_printf(s->conn, "-ERR Too many errors, closing connection\r\n");
		conn_close(s->conn);
	}
}

static void resume(struct pop3_session *s)
{
	if (!conn_is_closing(s->conn) && evbuffer_get_length(conn_input(s->conn)) > 0)
		pop3_input(s->conn);
}

static struct pop3_job *job_new(struct pop3_session *s, enum pop3_job_kind kind)
{
	struct pop3_job *job = xcalloc(1, sizeof(*job));
	job->kind = kind;
	job->session = s;
	memcpy(job->user, s->user_id, STORE_ID_SIZE);
	return job;
}

static void job_free(struct pop3_job *job)
{
	buffer_free(&job->out);
	free(job->msgs);
	free(job);
}

/* A job finished: false if the session is gone (and freed). */
static bool job_resume(struct pop3_session *s)
{
	s->job = false;
	if (s->dead) {
		session_free(s);
		return false;
	}
	return true;
}

/* ---- AUTHORIZATION ---- */

static void load_done(void *arg)
{
	struct pop3_job *job = arg;
	struct pop3_session *s = job->session;
	if (job_resume(s)) {
		if (job->ret < 0) {
			log_error("event=pop3_load_failed session=%s user=%s error=\"%s\"",
				  conn_session_id(s->conn), s->user_id, job->error);
			err(s, "[SYS/TEMP] Cannot open the mailbox, try again later");
			s->user_id[0] = '\0';
		} else {
			s->state = STATE_TRANSACTION;
			memcpy(s->inbox, job->inbox, STORE_ID_SIZE);
			memcpy(s->trash, job->trash, STORE_ID_SIZE);
			s->msgs = job->msgs;
			s->count = job->count;
			job->msgs = NULL;
			log_info("event=pop3_login session=%s user=%s messages=%u",
				 conn_session_id(s->conn), s->user_id, s->count);
			ok(s, "Maildrop locked and ready");
		}
		resume(s);
	}
	job_free(job);
}

static void auth_done(const struct auth_result *r, void *ctx)
{
	struct pop3_session *s = ctx;
	s->auth_req = NULL;
	if (r->status == AUTH_OK) {
		snprintf(s->user_id, sizeof(s->user_id), "%s", r->user_id);
		s->job = true;
		workpool_submit(pop3_workpool, pop3_job_run, load_done, job_new(s, POP3_JOB_LOAD));
		return;
	}
	log_info("event=pop3_auth_failed session=%s ip=%s reason=%s", conn_session_id(s->conn),
		 conn_remote_ip(s->conn), r->reason != NULL ? r->reason : "-");
	if (r->status == AUTH_TEMPFAIL)
		err(s, "[SYS/TEMP] Temporary authentication failure, try again later");
	else
		err(s, "[AUTH] Authentication failed");
	resume(s);
}

static void authenticate(struct pop3_session *s, const char *username, const char *password)
{
	if (username[0] == '\0' || strlen(username) > AUTH_MAX_FIELD ||
	    strlen(password) > AUTH_MAX_FIELD) {
		err(s, "[AUTH] Authentication failed");
		return;
	}
	struct auth_query q = {
		.service = "pop3",
		.username = username,
		.secret = password,
		.remote_ip = conn_remote_ip(s->conn),
	};
	s->auth_req = auth_client_lookup(pop3_auth, &q, auth_done, s);
}

static void cmd_user(struct pop3_session *s, char *args)
{
	if (args[0] == '\0') {
		err(s, "Syntax: USER name");
		return;
	}
	free(s->username);
	s->username = xstrdup(args);
	ok(s, "Send PASS");
}

static void cmd_pass(struct pop3_session *s, char *args)
{
	if (s->username == NULL) {
		err(s, "Send USER first");
		return;
	}
	char *user = s->username;
	s->username = NULL;
	authenticate(s, user, args);
	explicit_bzero(args, strlen(args));
	free(user);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd */
static void sasl_plain(struct pop3_session *s, const char *b64)
{
	struct buffer dec = BUFFER_INIT;
	mime_base64_decode((const unsigned char *)b64, strlen(b64), &dec);
	const char *p = (const char *)dec.data;
	const char *nul1 = dec.len > 0 ? memchr(p, '\0', dec.len) : NULL;
	const char *nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', dec.len - (size_t)(nul1 + 1 - p)) :
			   NULL;
	if (nul1 == NULL || nul2 == NULL || memchr(nul2 + 1, '\0', dec.len - (size_t)(nul2 + 1 - p))) {
		err(s, "[AUTH] Malformed SASL PLAIN response");
	} else if (nul1 != p && (size_t)(nul1 - p) != (size_t)(nul2 - nul1 - 1) &&
		   strcmp(p, nul1 + 1) != 0) {
		err(s, "[AUTH] Authorization identity must match");
	} else {
		authenticate(s, nul1 + 1, nul2 + 1);
	}
	explicit_bzero(dec.data, dec.len);
	buffer_free(&dec);
}

static void cmd_auth(struct pop3_session *s, char *args)
{
	char *sp = strchr(args, ' ');
	if (sp != NULL)
		*sp++ = '\0';
	if (args[0] == '\0') {
		/* RFC 5034 leaves listing to CAPA; some clients still ask */
		conn_printf(s->conn, "+OK\r\nPLAIN\r\n.\r\n");
		return;
	}
	if (strcasecmp(args, "PLAIN") != 0) {
		err(s, "Unsupported authentication mechanism");
		return;
	}
	if (sp == NULL) {
		s->sasl_wait = true;
		conn_printf(s->conn, "+ \r\n");
		return;
	}
	sasl_plain(s, strcmp(sp, "=") == 0 ? "" : sp);
}

static void cmd_stls(struct pop3_session *s, char *args)
{
	const char *error;
	if (!conn_can_starttls(s->conn)) {
		err(s, conn_is_tls(s->conn) ? "TLS is already active" : "STLS not available");
		return;
	}
	ok(s, "Begin TLS negotiation");
	free(s->username);
	s->username = NULL;
	if (conn_starttls(s->conn, &error) < 0) {
		log_error("event=starttls_failed session=%s error=\"%s\"",
			  conn_session_id(s->conn), error);
		conn_close(s->conn);
	}
}

static void cmd_capa(struct pop3_session *s, char *args)
{
	conn_printf(s->conn, "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
		    "AUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (s->state == STATE_AUTHORIZATION) {
		conn_printf(s->conn, "USER\r\nSASL PLAIN\r\n");
		if (conn_can_starttls(s->conn))
			conn_printf(s->conn, "STLS\r\n");
	}
	conn_printf(s->conn, "IMPLEMENTATION wildduck-c\r\n.\r\n");
}

/* ---- TRANSACTION ---- */

/* The message a number names, or NULL after an -ERR. */
static struct pop3_msg *msg_arg(struct pop3_session *s, const char *arg, bool allow_deleted)
{
	char *end;
	if (arg[0] < '0' || arg[0] > '9') {
		err(s, "Syntax: a message number is required");
		return NULL;
	}
	unsigned long n = strtoul(arg, &end, 10);
	if (*end != '\0' && *end != ' ') {
		err(s, "Syntax: bad message number");
		return NULL;
	}
	if (n < 1 || n > s->count) {
		err(s, "No such message");
		return NULL;
	}
	struct pop3_msg *m = &s->msgs[n - 1];
	if (m->deleted && !allow_deleted) {
		err(s, "Message is deleted");
		return NULL;
	}
	return m;
}

static void cmd_stat(struct pop3_session *s, char *args)
{
	unsigned int n = 0;
	uint64_t size = 0;
	for (unsigned int i = 0; i < s->count; i++) {
		if (!s->msgs[i].deleted) {
			n++;
			size += s->msgs[i].size;
		}
	}
	conn_printf(s->conn, "+OK %u %llu\r\n", n, (unsigned long long)size);
}

static void list_or_uidl(struct pop3_session *s, char *args, bool uidl)
{
	if (args[0] != '\0') {
		struct pop3_msg *m = msg_arg(s, args, false);
		if (m == NULL)
			return;
		unsigned int n = (unsigned int)(m - s->msgs) + 1;
		if (uidl)
			conn_printf(s->conn, "+OK %u %s\r\n", n, m->id);
		else
			conn_printf(s->conn, "+OK %u %llu\r\n", n, (unsigned long long)m->size);
		return;
	}
	conn_printf(s->conn, "+OK\r\n");
	for (unsigned int i = 0; i < s->count; i++) {
		if (s->msgs[i].deleted)
			continue;
		if (uidl)
			conn_printf(s->conn, "%u %s\r\n", i + 1, s->msgs[i].id);
		else
			conn_printf(s->conn, "%u %llu\r\n", i + 1, (unsigned long long)s->msgs[i].size);
	}
	conn_printf(s->conn, ".\r\n");
}

static void cmd_list(struct pop3_session *s, char *args) { list_or_uidl(s, args, false); }
static void cmd_uidl(struct pop3_session *s, char *args) { list_or_uidl(s, args, true); }

static void cmd_dele(struct pop3_session *s, char *args)
{
	struct pop3_msg *m = msg_arg(s, args, false);
	if (m == NULL)
		return;
	m->deleted = true;
	ok(s, "Message deleted");
}

static void cmd_rset(struct pop3_session *s, char *args)
{
	for (unsigned int i = 0; i < s->count; i++)
		s->msgs[i].deleted = false;
	ok(s, "Maildrop has been reset");
}

static void fetch_done(void *arg);

static void fetch_submit(struct pop3_session *s, struct pop3_job *job)
{
	s->stream = NULL;
	s->job = true;
	workpool_submit(pop3_workpool, pop3_job_run, fetch_done, job);
}

/* The output has room again: read the next chunk of the message. */
static void pop3_output_drained(struct conn *conn)
{
	struct pop3_session *s = conn_context(conn);
	if (s != NULL && s->stream != NULL && conn_output_pending(conn) <= OUTPUT_RESUME_BYTES)
		fetch_submit(s, s->stream);
}

static void fetch_failed(struct pop3_session *s, struct pop3_job *job)
{
	struct pop3_msg *m = &s->msgs[s->fetch_index];
	log_error("event=pop3_fetch_failed session=%s message=%s offset=%zu error=\"%s\"",
		  conn_session_id(s->conn), m->id, job->offset, job->error);
	if (job->started) {
		/* part of the message is out: no -ERR can follow, only a close */
		conn_close(s->conn);
		return;
	}
	err(s, job->ret == -2 ? "Message is gone" :
	       "[SYS/TEMP] Cannot read the message, try again later");
}

static void fetch_done(void *arg)
{
	struct pop3_job *job = arg;
	struct pop3_session *s = job->session;
	if (!job_resume(s)) {
		job_free(job);
		return;
	}
	if (job->ret < 0) {
		fetch_failed(s, job);
		job_free(job);
		resume(s);
		return;
	}
	struct pop3_msg *m = &s->msgs[s->fetch_index];
	if (!job->started && s->top_lines < 0)
		conn_printf(s->conn, "+OK %llu octets\r\n", (unsigned long long)m->size);
	else if (!job->started)
		conn_printf(s->conn, "+OK\r\n");
	job->started = true;
	conn_write(s->conn, job->out.data, job->out.len);
	buffer_truncate(&job->out, 0);
	if (!job->finished) {
		s->stream = job;
		pop3_output_drained(s->conn);
		return;
	}
	if (s->top_lines < 0)
		m->retrieved = true;
	job_free(job);
	resume(s);
}

static void fetch(struct pop3_session *s, struct pop3_msg *m, int top_lines)
{
	struct pop3_job *job = job_new(s, POP3_JOB_FETCH);
	memcpy(job->message_id, m->id, STORE_ID_SIZE);
	job->top_lines = top_lines;
	pop3_stuffer_init(&job->stuffer, top_lines);
	s->top_lines = top_lines;
	s->fetch_index = (unsigned int)(m - s->msgs);
	fetch_submit(s, job);
}

static void cmd_retr(struct pop3_session *s, char *args)
{
	struct pop3_msg *m = msg_arg(s, args, false);
	if (m != NULL)
		fetch(s, m, -1);
}

static void cmd_top(struct pop3_session *s, char *args)
{
	char *sp = strchr(args, ' ');
	char *end;
	if (sp == NULL || sp[1] < '0' || sp[1] > '9') {
		err(s, "Syntax: TOP msg n");
		return;
	}
	unsigned long n = strtoul(sp + 1, &end, 10);
	if (*end != '\0' || n > 1000000000UL) {
		err(s, "Syntax: TOP msg n");
		return;
	}
	*sp = '\0';
	struct pop3_msg *m = msg_arg(s, args, false);
	if (m != NULL)
		fetch(s, m, (int)n);
}

static void cmd_noop(struct pop3_session *s, char *args)
{
	ok(s, "");
}

static void update_done(void *arg)
{
	struct pop3_job *job = arg;
	struct pop3_session *s = job->session;
	/* even a partial UPDATE changed the mailbox */
	notify_publish(pop3_notify, job->user);
	if (job_resume(s)) {
		if (job->ret < 0) {
			log_error("event=pop3_update_failed session=%s error=\"%s\"",
				  conn_session_id(s->conn), job->error);
			err(s, "[SYS/TEMP] Some deleted messages were not removed");
		} else {
			ok(s, "Bye");
		}
		conn_close(s->conn);
	}
	job_free(job);
}

static void cmd_quit(struct pop3_session *s, char *args)
{
	bool changes = false;
	for (unsigned int i = 0; i < s->count; i++)
		changes |= s->msgs[i].deleted || (s->msgs[i].retrieved && !s->msgs[i].seen);
	if (s->state != STATE_TRANSACTION || !changes) {
		ok(s, "Bye");
		conn_close(s->conn);
		return;
	}
	/* UPDATE state */
	struct pop3_job *job = job_new(s, POP3_JOB_UPDATE);
	memcpy(job->inbox, s->inbox, STORE_ID_SIZE);
	memcpy(job->trash, s->trash, STORE_ID_SIZE);
	job->msgs = xmalloc(s->count * sizeof(*job->msgs));
	memcpy(job->msgs, s->msgs, s->count * sizeof(*job->msgs));
	job->count = s->count;
	s->job = true;
	s->quitting = true;
	workpool_submit(pop3_workpool, pop3_job_run, update_done, job);
}

/* ---- dispatch ---- */

enum { IN_AUTH = 1, IN_TRANS = 2 };

static const struct {
	const char *name;
	void (*fn)(struct pop3_session *s, char *args);
	int states;
} commands[] = {
	{ "CAPA", cmd_capa, IN_AUTH | IN_TRANS },
	{ "QUIT", cmd_quit, IN_AUTH | IN_TRANS },
	{ "NOOP", cmd_noop, IN_TRANS },
	{ "USER", cmd_user, IN_AUTH },
	{ "PASS", cmd_pass, IN_AUTH },
	{ "AUTH", cmd_auth, IN_AUTH },
	{ "STLS", cmd_stls, IN_AUTH },
	{ "STAT", cmd_stat, IN_TRANS },
	{ "LIST", cmd_list, IN_TRANS },
	{ "UIDL", cmd_uidl, IN_TRANS },
	{ "RETR", cmd_retr, IN_TRANS },
	{ "TOP", cmd_top, IN_TRANS },
	{ "DELE", cmd_dele, IN_TRANS },
	{ "RSET", cmd_rset, IN_TRANS },
};

static void pop3_line(struct pop3_session *s, char *line)
{
	if (s->sasl_wait) {
		s->sasl_wait = false;
		if (strcmp(line, "*") == 0)
			err(s, "[AUTH] Authentication cancelled");
		else
			sasl_plain(s, line);
		return;
	}
	char *args = strchr(line, ' ');
	if (args != NULL)
		*args++ = '\0';
	else
		args = line + strlen(line);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcasecmp(line, commands[i].name) != 0)
			continue;
		int state = s->state == STATE_AUTHORIZATION ? IN_AUTH : IN_TRANS;
		if (!(commands[i].states & state)) {
			err(s, state == IN_AUTH ? "Command not valid before authentication" :
			       "Command not valid after authentication");
			return;
		}
		commands[i].fn(s, args);
		return;
	}
	err(s, "Unknown command");
}

static void pop3_input(struct conn *conn)
{
	struct pop3_session *s = conn_context(conn);
	struct evbuffer *in = conn_input(conn);
	while (!conn_is_closing(conn) && !busy(s) && !s->quitting) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > POP3_MAX_LINE) {
				conn_printf(conn, "-ERR Line too long, closing connection\r\n");
				conn_close(conn);
			}
			return;
		}
		if (len > POP3_MAX_LINE || memchr(line, '\0', len) != NULL)
			err(s, "Line too long or contains NUL");
		else
			pop3_line(s, line);
		explicit_bzero(line, len);
		free(line);
	}
}

static void pop3_connected(struct conn *conn)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	s->conn = conn;
	conn_set_context(conn, s);
	conn_printf(conn, "+OK wildduck-c POP3 ready\r\n");
}

static void pop3_shutdown(struct conn *conn)
{
	conn_printf(conn, "-ERR Server shutting down\r\n");
}

static void pop3_timeout(struct conn *conn)
{
	conn_printf(conn, "-ERR Idle timeout, closing connection\r\n");
}

static void pop3_destroyed(struct conn *conn)
{
	struct pop3_session *s = conn_context(conn);
	if (s == NULL)
		return;
	s->conn = NULL;
	auth_request_cancel(&s->auth_req);
	if (s->stream != NULL) {
		job_free(s->stream);
		s->stream = NULL;
	}
	if (s->job)
		s->dead = true;	/* the job's completion frees it */
	else
		session_free(s);
}

const struct conn_handler pop3_conn_handler = {
	.connected = pop3_connected,
	.input = pop3_input,
	.output_drained = pop3_output_drained,
	.shutdown = pop3_shutdown,
	.timeout = pop3_timeout,
	.destroyed = pop3_destroyed,
};
