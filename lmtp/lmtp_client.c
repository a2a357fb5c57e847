/* LMTP sessions (RFC 2033): command framing, the transaction state
 * machine, DATA streaming with the size limit, and resumption after the
 * store jobs that RCPT and the end of DATA submit. While a job runs the
 * session is busy: input stays buffered (pipelining) and is read again
 * when the job's completion has written its reply. */
#include "lmtp.h"

#include "address.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "notify.h"
#include "pool.h"
#include "workpool.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bytes of pipelined input buffered while a job runs before we stop
 * reading it (a client should wait for replies long before). */
#define MAX_ERRORS 30

struct lmtp_session {
	struct conn *conn;		/* NULL once the connection is gone */
	struct pool *pool;		/* per transaction */
	bool lhlo, busy, dead, in_data;
	bool smtputf8;
	char *mail_from;		/* NULL: no transaction */
	struct lmtp_rcpt *rcpts;
	unsigned int rcpts_count, rcpts_cap;
	struct buffer data;
	struct smtp_data reader;
	unsigned int errors;
};

static void reply(struct lmtp_session *s, int code, const char *text)
{
	conn_printf(s->conn, "%d %s\r\n", code, text);
	if (code >= 500 && ++s->errors > MAX_ERRORS) {
		conn_printf(s->conn, "421 4.7.0 Too many errors, closing connection\r\n");
		conn_close(s->conn);
	}
}

static void transaction_reset(struct lmtp_session *s)
{
	s->mail_from = NULL;
	s->smtputf8 = false;
	s->rcpts = NULL;
	s->rcpts_count = s->rcpts_cap = 0;
	s->in_data = false;
	buffer_free(&s->data);
	pool_clear(s->pool);
}

static void session_free(struct lmtp_session *s)
{
	buffer_free(&s->data);
	pool_destroy(&s->pool);
	free(s);
}

static void lmtp_input(struct conn *conn);

/* A job finished: the session may be gone, or it goes on reading. */
static bool job_resume(struct lmtp_session *s)
{
	s->busy = false;
	if (s->dead) {
		session_free(s);
		return false;
	}
	return true;
}

static void resume_input(struct lmtp_session *s)
{
	if (!conn_is_closing(s->conn) && evbuffer_get_length(conn_input(s->conn)) > 0)
		lmtp_input(s->conn);
}

/* ---- commands ---- */

static void cmd_lhlo(struct lmtp_session *s, const char *args)
{
	if (args[0] == '\0') {
		reply(s, 501, "5.5.4 Syntax: LHLO hostname");
		return;
	}
	transaction_reset(s);
	s->lhlo = true;
	conn_printf(s->conn, "250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
		    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n%s250 SIZE %" PRIu64 "\r\n",
		    lmtp_set.hostname, conn_can_starttls(s->conn) ? "250-STARTTLS\r\n" : "",
		    lmtp_set.max_message_size);
}

static void cmd_mail(struct lmtp_session *s, const char *args)
{
	if (!s->lhlo) {
		reply(s, 503, "5.5.1 Send LHLO first");
		return;
	}
	if (s->mail_from != NULL) {
		reply(s, 503, "5.5.1 Nested MAIL command");
		return;
	}
	struct smtp_path path;
	int code;
	const char *error;
	if (smtp_path_parse(s->pool, args, "FROM", true, &path, &code, &error) < 0) {
		reply(s, code, error);
		return;
	}
	bool smtputf8 = false;
	for (unsigned int i = 0; i < path.params_count; i++) {
		const struct smtp_param *p = &path.params[i];
		if (strcmp(p->keyword, "SIZE") == 0) {
			char *end;
			if (p->value == NULL || p->value[0] < '0' || p->value[0] > '9') {
				reply(s, 501, "5.5.4 Bad SIZE parameter");
				return;
			}
			unsigned long long size = strtoull(p->value, &end, 10);
			if (*end != '\0') {
				reply(s, 501, "5.5.4 Bad SIZE parameter");
				return;
			}
			if (size > lmtp_set.max_message_size) {
				reply(s, 552, "5.3.4 Message size exceeds fixed maximum message size");
				return;
			}
		} else if (strcmp(p->keyword, "BODY") == 0) {
			if (p->value == NULL || (strcasecmp(p->value, "7BIT") != 0 &&
						 strcasecmp(p->value, "8BITMIME") != 0)) {
				reply(s, 501, "5.5.4 BODY must be 7BIT or 8BITMIME");
				return;
			}
		} else if (strcmp(p->keyword, "SMTPUTF8") == 0) {
			if (p->value != NULL) {
				reply(s, 501, "5.5.4 SMTPUTF8 takes no value");
				return;
			}
			smtputf8 = true;
		} else {
			reply(s, 555, "5.5.4 Unsupported MAIL parameter");
			return;
		}
	}
	if (path.utf8 && !smtputf8) {
		reply(s, 553, "5.6.7 Non-ASCII address without SMTPUTF8");
		return;
	}
	s->mail_from = pool_strdup(s->pool, path.address);
	s->smtputf8 = smtputf8;
	reply(s, 250, "2.1.0 Sender OK");
}

static void rcpt_done(void *arg)
{
	struct lmtp_rcpt_job *job = arg;
	struct lmtp_session *s = job->session;
	if (job_resume(s)) {
		if (job->reply.code == 250) {
			if (s->rcpts_count == s->rcpts_cap) {
				s->rcpts_cap = s->rcpts_cap == 0 ? 8 : s->rcpts_cap * 2;
				struct lmtp_rcpt *bigger = pool_alloc(s->pool, s->rcpts_cap *
								      sizeof(*bigger));
				if (s->rcpts_count > 0)
					memcpy(bigger, s->rcpts, s->rcpts_count * sizeof(*bigger));
				s->rcpts = bigger;
			}
			struct lmtp_rcpt *r = &s->rcpts[s->rcpts_count++];
			r->address = pool_strdup(s->pool, job->address);
			memcpy(r->user, job->user, STORE_ID_SIZE);
			r->matched = pool_strdup(s->pool, job->matched);
		}
		reply(s, job->reply.code, job->reply.text);
		log_info("event=rcpt session=%s to=%s code=%d", conn_session_id(s->conn),
			 job->address, job->reply.code);
		resume_input(s);
	}
	pool_destroy(&job->pool);
	free(job);
}

static void cmd_rcpt(struct lmtp_session *s, const char *args)
{
	if (s->mail_from == NULL) {
		reply(s, 503, "5.5.1 Need MAIL before RCPT");
		return;
	}
	struct smtp_path path;
	int code;
	const char *error, *norm;
	if (smtp_path_parse(s->pool, args, "TO", false, &path, &code, &error) < 0) {
		reply(s, code, error);
		return;
	}
	if (path.params_count > 0) {
		reply(s, 555, "5.5.4 Unsupported RCPT parameter");
		return;
	}
	if (path.utf8 && !s->smtputf8) {
		reply(s, 553, "5.6.7 Non-ASCII address without SMTPUTF8");
		return;
	}
	/* the store job checks the runtime limit (const:max:rcpt_to); this
	 * only bounds the session's memory at the limit's highest value */
	if (s->rcpts_count >= LMTP_RECIPIENTS_CAP) {
		reply(s, 452, "4.5.3 Too many recipients");
		return;
	}
	struct pool *pool = pool_create(1024);
	if (address_normalize(pool, path.address, 0, &norm, &error) < 0) {
		char *text = pool_printf(pool, "5.1.3 Bad recipient address: %s", error);
		reply(s, 553, text);
		pool_destroy(&pool);
		return;
	}
	struct lmtp_rcpt_job *job = xcalloc(1, sizeof(*job));
	job->session = s;
	job->pool = pool;
	job->address = norm;
	job->accepted = s->rcpts_count;
	s->busy = true;
	workpool_submit(lmtp_workpool, lmtp_rcpt_job_run, rcpt_done, job);
}

static void data_done(void *arg)
{
	struct lmtp_data_job *job = arg;
	struct lmtp_session *s = job->session;
	if (job_resume(s)) {
		for (unsigned int i = 0; i < job->rcpts_count; i++) {
			log_info("event=delivery session=%s from=<%s> to=%s size=%zu code=%d "
				 "reply=\"%s\"", conn_session_id(s->conn), job->mail_from,
				 job->rcpts[i].address, job->len, job->replies[i].code,
				 job->replies[i].text);
			conn_printf(s->conn, "%d %s\r\n", job->replies[i].code, job->replies[i].text);
			metrics_lmtp_delivery(job->replies[i].code);
			if (job->replies[i].code == 250 && job->rcpts[i].user[0] != '\0')
				notify_publish(lmtp_notify, job->rcpts[i].user);
		}
		transaction_reset(s);
		resume_input(s);
	}
	for (unsigned int i = 0; i < job->woken_count; i++)
		notify_publish(lmtp_notify, job->woken[i]);
	lmtp_gate_run(job);
	free(job->raw);
	pool_destroy(&job->pool);
	free(job);
}

/* The end line was read: refuse an oversized message, or deliver. */
static void data_end(struct lmtp_session *s)
{
	s->in_data = false;
	if (s->reader.too_big) {
		for (unsigned int i = 0; i < s->rcpts_count; i++)
			conn_printf(s->conn, "552 5.3.4 <%s> Message too big (limit %" PRIu64
				    " bytes)\r\n", s->rcpts[i].address, lmtp_set.max_message_size);
		log_info("event=data_too_big session=%s size=%" PRIu64, conn_session_id(s->conn),
			 s->reader.size);
		transaction_reset(s);
		return;
	}
	struct lmtp_data_job *job = xcalloc(1, sizeof(*job));
	struct pool *pool = pool_create(4096);
	job->session = s;
	job->pool = pool;
	job->raw = (unsigned char *)buffer_steal(&s->data, &job->len);
	job->mail_from = pool_strdup(pool, s->mail_from);
	struct lmtp_rcpt *rcpts = pool_alloc(pool, s->rcpts_count * sizeof(*rcpts));
	for (unsigned int i = 0; i < s->rcpts_count; i++) {
		rcpts[i].address = pool_strdup(pool, s->rcpts[i].address);
		rcpts[i].matched = pool_strdup(pool, s->rcpts[i].matched);
		memcpy(rcpts[i].user, s->rcpts[i].user, STORE_ID_SIZE);
	}
	job->rcpts = rcpts;
	job->rcpts_count = s->rcpts_count;
	job->replies = pool_alloc(pool, s->rcpts_count * sizeof(*job->replies));
	s->busy = true;
	workpool_submit(lmtp_workpool, lmtp_data_job_run, data_done, job);
}

static void cmd_data(struct lmtp_session *s, const char *args)
{
	if (args[0] != '\0') {
		reply(s, 501, "5.5.4 DATA takes no arguments");
		return;
	}
	if (s->mail_from == NULL) {
		reply(s, 503, "5.5.1 Need MAIL before DATA");
		return;
	}
	if (s->rcpts_count == 0) {
		reply(s, 503, "5.5.1 No valid recipients");
		return;
	}
	buffer_free(&s->data);
	smtp_data_init(&s->reader, &s->data, lmtp_set.max_message_size);
	s->in_data = true;
	conn_printf(s->conn, "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
}

static void cmd_starttls(struct lmtp_session *s, const char *args)
{
	const char *error;
	if (!conn_can_starttls(s->conn)) {
		reply(s, 502, "5.5.1 STARTTLS not available");
		return;
	}
	transaction_reset(s);
	s->lhlo = false;
	conn_printf(s->conn, "220 2.0.0 Ready to start TLS\r\n");
	if (conn_starttls(s->conn, &error) < 0) {
		log_error("event=starttls_failed session=%s error=\"%s\"",
			  conn_session_id(s->conn), error);
		conn_close(s->conn);
	}
}

static void lmtp_line(struct lmtp_session *s, const char *line)
{
	const char *args;
	switch (smtp_command_parse(line, &args)) {
	case SMTP_VERB_LHLO: cmd_lhlo(s, args); break;
	case SMTP_VERB_MAIL: cmd_mail(s, args); break;
	case SMTP_VERB_RCPT: cmd_rcpt(s, args); break;
	case SMTP_VERB_DATA: cmd_data(s, args); break;
	case SMTP_VERB_STARTTLS: cmd_starttls(s, args); break;
	case SMTP_VERB_RSET:
		transaction_reset(s);
		reply(s, 250, "2.0.0 OK");
		break;
	case SMTP_VERB_NOOP:
		reply(s, 250, "2.0.0 OK");
		break;
	case SMTP_VERB_QUIT:
		conn_printf(s->conn, "221 2.0.0 %s closing connection\r\n", lmtp_set.hostname);
		conn_close(s->conn);
		break;
	case SMTP_VERB_VRFY:
		reply(s, 252, "2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case SMTP_VERB_HELP:
		reply(s, 214, "2.0.0 See RFC 2033");
		break;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		reply(s, 500, "5.5.1 This is LMTP: use LHLO");
		break;
	case SMTP_VERB_EXPN:
	case SMTP_VERB_BDAT:
	case SMTP_VERB_AUTH:
		reply(s, 502, "5.5.1 Command not implemented");
		break;
	default:
		reply(s, 500, "5.5.2 Command unrecognized");
		break;
	}
}

/* Feeds buffered DATA input to the reader; true when the end was seen. */
static bool data_input(struct lmtp_session *s, struct evbuffer *in)
{
	while (evbuffer_get_length(in) > 0 && !s->reader.done) {
		struct evbuffer_iovec vec;
		if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
			break;
		size_t used = smtp_data_feed(&s->reader, vec.iov_base, vec.iov_len);
		evbuffer_drain(in, used);
	}
	return s->reader.done;
}

static void lmtp_input(struct conn *conn)
{
	struct lmtp_session *s = conn_context(conn);
	struct evbuffer *in = conn_input(conn);
	while (!conn_is_closing(conn) && !s->busy) {
		if (s->in_data) {
			if (!data_input(s, in))
				return;
			data_end(s);
			continue;
		}
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > SMTP_MAX_LINE + 2) {
				conn_printf(conn, "500 5.5.2 Line too long, closing connection\r\n");
				conn_close(conn);
			}
			return;
		}
		if (len > SMTP_MAX_LINE)
			reply(s, 500, "5.5.2 Line too long");
		else if (memchr(line, '\0', len) != NULL)
			reply(s, 500, "5.5.2 NUL in command");
		else
			lmtp_line(s, line);
		free(line);
	}
}

static void lmtp_connected(struct conn *conn)
{
	struct lmtp_session *s = xcalloc(1, sizeof(*s));
	s->conn = conn;
	s->pool = pool_create(4096);
	conn_set_context(conn, s);
	conn_printf(conn, "220 %s LMTP wildduck-c ready\r\n", lmtp_set.hostname);
}

static void lmtp_shutdown(struct conn *conn)
{
	conn_printf(conn, "421 4.3.2 %s Service shutting down\r\n", lmtp_set.hostname);
}

static void lmtp_timeout(struct conn *conn)
{
	conn_printf(conn, "421 4.4.2 %s Idle timeout, closing connection\r\n", lmtp_set.hostname);
}

static void lmtp_destroyed(struct conn *conn)
{
	struct lmtp_session *s = conn_context(conn);
	if (s == NULL)
		return;
	if (s->in_data)
		log_info("event=data_aborted session=%s size=%" PRIu64, conn_session_id(conn),
			 s->reader.size);
	s->conn = NULL;
	if (s->busy)
		s->dead = true;	/* the job's completion frees it */
	else
		session_free(s);
}

const struct conn_handler lmtp_conn_handler = {
	.connected = lmtp_connected,
	.input = lmtp_input,
	.shutdown = lmtp_shutdown,
	.timeout = lmtp_timeout,
	.destroyed = lmtp_destroyed,
};
