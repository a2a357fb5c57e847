/* IMAP connections: feeding lib/imap_parser from the connection's input,
 * dispatching commands one at a time, continuation lines (IDLE DONE,
 * AUTHENTICATE responses), store jobs and the worker-wide services
 * (store threads, auth client, change beacons). */
#include "imap_client.h"
#include "imap_limits.h"
#include "auth_client.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "notify.h"
#include "pool.h"
#include "workpool.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


static struct {
	const struct config *config;
	struct workpool *pool;
	struct auth_client *auth;
	struct notify *notify;
	struct imap_client *clients;
	struct store_settings store_set;
} w;

const struct config *imap_config(void) { return w.config; }

/* ---- store threads ---- */

struct store_thread {
	struct store *store;
};

static void *store_thread_init(void *arg)
{
	return xcalloc(1, sizeof(struct store_thread));
}

static void store_thread_deinit(void *ctx)
{
	struct store_thread *t = ctx;
	store_close(&t->store);
	free(t);
}

struct imap_job {
	struct imap_client *client;
	imap_job_run_fn *run;
	void (*done)(void *job);
	void (*free_job)(void *job);
	void *job;
};

static void client_free(struct imap_client *c);

static void job_run(void *thread_ctx, void *arg)
{
	struct store_thread *t = thread_ctx;
	struct imap_job *j = arg;
	struct imap_job_status *st = j->job;
	const char *error;
	/* opened lazily, and again after a failure: the store may come back */
	if (t->store == NULL && store_open(&w.store_set, &t->store, &error) < 0) {
		log_error("event=store_open_failed error=\"%s\"", error);
		st->error = STORE_ERR_TEMPORARY;
		snprintf(st->error_text, sizeof(st->error_text), "Mail store unavailable");
		return;
	}
	j->run(t->store, j->job);
}

static void job_done(void *arg)
{
	struct imap_job *j = arg;
	struct imap_client *c = j->client;
	c->jobs--;
	if (c->gone) {
		if (j->free_job != NULL)
			j->free_job(j->job);
		if (c->jobs == 0)
			client_free(c);
	} else {
		j->done(j->job);
	}
	free(j);
}

void imap_client_hold(struct imap_client *client)
{
	client->jobs++;
}

bool imap_client_release(struct imap_client *client)
{
	client->jobs--;
	if (!client->gone)
		return false;
	if (client->jobs == 0)
		client_free(client);
	return true;
}

void imap_job(struct imap_client *client, imap_job_run_fn *run, void (*done)(void *job),
	      void (*free_job)(void *job), void *job)
{
	struct imap_job *j = xcalloc(1, sizeof(*j));
	j->client = client;
	j->run = run;
	j->done = done;
	j->free_job = free_job;
	j->job = job;
	client->jobs++;
	workpool_submit(w.pool, job_run, job_done, j);
}

void imap_job_failed(struct imap_job_status *st, struct store *store, const char *error)
{
	st->error = store_last_error(store);
	if (st->error == STORE_OK)
		st->error = STORE_ERR_INTERNAL;
	snprintf(st->error_text, sizeof(st->error_text), "%s", error != NULL ? error : "failed");
}

/* ---- replies ---- */

void imap_printf(struct imap_client *client, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct buffer b = BUFFER_INIT;
	buffer_vprintf(&b, fmt, ap);
	va_end(ap);
	conn_write(client->conn, b.data, b.len);
	buffer_free(&b);
}

void imap_write(struct imap_client *client, const void *data, size_t len)
{
	conn_write(client->conn, data, len);
}

static void client_input(struct conn *conn);

void imap_cmd_end(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t usec = (now.tv_sec - cmd->started.tv_sec) * 1000000LL +
		(now.tv_nsec - cmd->started.tv_nsec) / 1000;
	metrics_imap_command(cmd->name, usec > 0 ? (uint64_t)usec : 0);
	c->busy = false;
	c->idle_cmd = c->sasl_cmd = NULL;
	pool_clear(c->cmd_pool);
	if (!c->in_input && !c->gone && !conn_is_closing(c->conn))
		client_input(c->conn);
}

/* Writes the tagged reply and lets the next command run. */
static void cmd_finish(struct imap_cmd *cmd, const char *text)
{
	struct imap_client *c = cmd->client;
	imap_printf(c, "%s %s\r\n", cmd->tag, text);
	imap_cmd_end(cmd);
}

struct finish_ctx {
	struct imap_cmd *cmd;
	char *text;
};

static void finish_after_sync(void *arg)
{
	struct finish_ctx *f = arg;
	cmd_finish(f->cmd, f->text);
}

void imap_cmd_done(struct imap_cmd *cmd, const char *text)
{
	struct imap_client *c = cmd->client;
	const struct imap_command *def = imap_command_find(cmd->name);
	/* other sessions' changes go out before the tagged reply where allowed */
	if (c->state == IMAP_STATE_SELECTED && c->changed && !c->syncing) {
		struct finish_ctx *f = pool_alloc(cmd->pool, sizeof(*f));
		f->cmd = cmd;
		f->text = pool_strdup(cmd->pool, text);
		bool expunges = cmd->uid || def == NULL || !(def->flags & IMAP_CMD_NO_EXPUNGE);
		imap_sync(c, expunges, finish_after_sync, f);
		return;
	}
	cmd_finish(cmd, text);
}

void imap_cmd_donef(struct imap_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = xvasprintf(fmt, ap);
	va_end(ap);
	char *copy = pool_strdup(cmd->pool, text);
	free(text);
	imap_cmd_done(cmd, copy);
}

void imap_cmd_store_error(struct imap_cmd *cmd, enum store_error error, const char *what)
{
	switch (error) {
	case STORE_ERR_NOT_FOUND:
		imap_cmd_donef(cmd, "NO [NONEXISTENT] %s", what != NULL ? what : "No such mailbox");
		break;
	case STORE_ERR_EXISTS:
		imap_cmd_donef(cmd, "NO [ALREADYEXISTS] %s", what != NULL ? what : "Already exists");
		break;
	case STORE_ERR_OVER_QUOTA:
		imap_cmd_done(cmd, "NO [OVERQUOTA] Quota exceeded");
		break;
	case STORE_ERR_INVALID:
		imap_cmd_donef(cmd, "NO [CANNOT] %s", what != NULL ? what : "Invalid request");
		break;
	case STORE_ERR_TEMPORARY:
		imap_cmd_done(cmd, "NO [UNAVAILABLE] Mail store temporarily unavailable, try again");
		break;
	default:
		log_error("event=store_error session=%s error=\"%s\"", conn_session_id(cmd->client->conn),
			  what != NULL ? what : "internal");
		imap_cmd_done(cmd, "NO [SERVERBUG] Internal error");
	}
}

/* ---- command dispatch ---- */

static bool state_allows(struct imap_cmd *cmd, const struct imap_command *def)
{
	struct imap_client *c = cmd->client;
	if ((def->flags & IMAP_CMD_NO_ARGS) && cmd->args_count > 0) {
		imap_cmd_donef(cmd, "BAD %s takes no arguments", cmd->name);
		return false;
	}
	if (cmd->uid && !(def->flags & IMAP_CMD_UID)) {
		imap_cmd_done(cmd, "BAD This command has no UID form");
		return false;
	}
	if (c->state == IMAP_STATE_NOT_AUTH && !(def->flags & IMAP_CMD_NOT_AUTH)) {
		imap_cmd_done(cmd, "BAD Log in first");
		return false;
	}
	if (c->state != IMAP_STATE_NOT_AUTH && !(def->flags & (IMAP_CMD_AUTH | IMAP_CMD_SELECTED))) {
		imap_cmd_done(cmd, "BAD Already authenticated");
		return false;
	}
	if ((def->flags & IMAP_CMD_SELECTED) && !(def->flags & IMAP_CMD_AUTH) &&
	    c->state != IMAP_STATE_SELECTED) {
		imap_cmd_done(cmd, "BAD No mailbox selected");
		return false;
	}
	return true;
}

static void run_command(struct imap_client *c, const struct imap_parser_result *res)
{
	struct imap_cmd *cmd = pool_alloc(c->cmd_pool, sizeof(*cmd));
	cmd->client = c;
	cmd->pool = c->cmd_pool;
	clock_gettime(CLOCK_MONOTONIC, &cmd->started);
	cmd->tag = res->tag;
	cmd->args = res->args;
	cmd->args_count = res->args_count;
	char *name = pool_strdup(c->cmd_pool, res->name);
	for (char *p = name; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	c->busy = true;
	if (strcmp(name, "UID") == 0) {
		const char *sub;
		if (cmd->args_count == 0 || !imap_arg_get_atom(&cmd->args[0], &sub)) {
			cmd->name = "UID";
			imap_cmd_done(cmd, "BAD UID needs a command");
			return;
		}
		name = pool_strdup(c->cmd_pool, sub);
		for (char *p = name; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		cmd->uid = true;
		cmd->args++;
		cmd->args_count--;
	}
	cmd->name = name;
	const struct imap_command *def = imap_command_find(name);
	if (def == NULL) {
		imap_cmd_done(cmd, "BAD Unknown or unsupported command");
		return;
	}
	log_debug("event=command session=%s command=%s%s", conn_session_id(c->conn),
		  cmd->uid ? "UID " : "", name);
	if (state_allows(cmd, def))
		def->fn(cmd);
}

/* ---- input ---- */

/* Lines that are no commands: IDLE's DONE, AUTHENTICATE responses. */
static bool read_special_line(struct imap_client *c, struct evbuffer *in)
{
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > 8192) {
			imap_printf(c, "* BYE Line too long\r\n");
			conn_close(c->conn);
		}
		return false;
	}
	if (c->idle_cmd != NULL)
		imap_idle_line(c, line);
	else
		imap_sasl_line(c, line);
	free(line);
	return true;
}

static void parse_error(struct imap_client *c, const struct imap_parser_result *res,
			const char *error)
{
	const char *tag = res->tag != NULL ? res->tag : "*";
	if (res->error_code == IMAP_PARSER_ERROR_TOOBIG)
		imap_printf(c, "%s NO [TOOBIG] %s\r\n", tag, error);
	else
		imap_printf(c, "%s BAD %s\r\n", tag, error);
	if (res->fatal) {
		imap_printf(c, "* BYE %s\r\n", error);
		conn_close(c->conn);
	}
	pool_clear(c->cmd_pool);
}

static void client_input(struct conn *conn)
{
	struct imap_client *c = conn_context(conn);
	struct evbuffer *in = conn_input(conn);
	c->in_input = true;
	while (!conn_is_closing(conn) && evbuffer_get_length(in) > 0) {
		if (c->idle_cmd != NULL || c->sasl_cmd != NULL) {
			if (!read_special_line(c, in))
				break;
			continue;
		}
		if (c->busy)
			break;
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used = 0;
		struct imap_parser_result res;
		const char *error = NULL;
		int r = imap_parser_read(c->parser, c->cmd_pool, v.iov_base, v.iov_len, &used, &res,
					 &error);
		evbuffer_drain(in, used);
		if (r == IMAP_PARSE_COMMAND) {
			run_command(c, &res);
		} else if (r == IMAP_PARSE_LITERAL) {
			/* size limits were checked by the parser before any byte */
			imap_parser_literal_accept(c->parser, false);
			if (res.literal_sync)
				imap_printf(c, "+ Ready for literal data\r\n");
		} else if (r == IMAP_PARSE_ERROR) {
			parse_error(c, &res, error);
		}
		/* NEED_MORE consumed this chunk; the loop looks at the next */
	}
	c->in_input = false;
}

/* ---- output flow control ---- */

#define OUTPUT_RESUME_BYTES (256 * 1024)

static void client_drained(struct conn *conn)
{
	struct imap_client *c = conn_context(conn);
	if (c->drained_cb == NULL || conn_output_pending(conn) > OUTPUT_RESUME_BYTES)
		return;
	void (*cb)(struct imap_client *, void *) = c->drained_cb;
	c->drained_cb = NULL;
	cb(c, c->drained_ctx);
}

void imap_when_output_drained(struct imap_client *c,
			      void (*cb)(struct imap_client *client, void *ctx), void *ctx)
{
	if (conn_output_pending(c->conn) <= OUTPUT_RESUME_BYTES) {
		cb(c, ctx);
		return;
	}
	c->drained_cb = cb;
	c->drained_ctx = ctx;
}

/* ---- connections ---- */

static void client_connected(struct conn *conn)
{
	struct imap_client *c = xcalloc(1, sizeof(*c));
	c->conn = conn;
	c->cmd_pool = pool_create(4096);
	struct imap_parser_settings set;
	imap_parser_settings_init(&set);
	set.max_literal_size = (uint64_t)w.config->imap_settings.max_message_size;
	c->parser = imap_parser_create(&set);
	conn_set_context(conn, c);
	c->next = w.clients;
	if (w.clients != NULL)
		w.clients->prev = c;
	w.clients = c;
	struct buffer caps = BUFFER_INIT;
	imap_capabilities(c, &caps);
	imap_printf(c, "* OK [CAPABILITY %s] wildduck-c ready\r\n", buffer_cstr(&caps));
	buffer_free(&caps);
}

static void client_free(struct imap_client *c)
{
	imap_parser_destroy(&c->parser);
	pool_destroy(&c->cmd_pool);
	imap_view_free(&c->view);
	free(c->username);
	free(c);
}

static void client_destroyed(struct conn *conn)
{
	struct imap_client *c = conn_context(conn);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w.clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	auth_request_cancel(&c->auth);
	imap_limits_release(c);
	c->gone = true;
	if (c->jobs == 0)
		client_free(c);
	/* else the last job_done frees it */
}

static void client_shutdown(struct conn *conn)
{
	imap_printf(conn_context(conn), "* BYE Server shutting down\r\n");
}

static void client_timeout(struct conn *conn)
{
	imap_printf(conn_context(conn), "* BYE Idle timeout, closing connection\r\n");
}

const struct conn_handler imap_conn_handler = {
	.connected = client_connected,
	.input = client_input,
	.shutdown = client_shutdown,
	.timeout = client_timeout,
	.destroyed = client_destroyed,
	.output_drained = client_drained,
};

/* ---- the worker ---- */

static void notified(const char *user_id, void *ctx)
{
	for (struct imap_client *c = w.clients; c != NULL; c = c->next) {
		if (c->state != IMAP_STATE_SELECTED ||
		    (strcmp(user_id, NOTIFY_ALL) != 0 && strcmp(c->user_id, user_id) != 0))
			continue;
		c->changed = true;
		if (c->idle_cmd != NULL && !c->syncing)
			imap_sync(c, true, NULL, NULL);
	}
}

void imap_notify_changed(const char *user_id)
{
	notify_publish(w.notify, user_id);
}

int imap_worker_start(struct event_base *base, const struct config *config, const char **error_r)
{
	w.config = config;
	store_settings_from_config(&w.store_set, config);
	struct workpool_settings ws = {
		.threads = config->imap_settings.store_threads,
		.thread_init = store_thread_init,
		.thread_deinit = store_thread_deinit,
	};
	w.pool = workpool_create(base, &ws);
	const char *auth_path = auth_client_socket_path((struct config *)config);
	if (auth_path != NULL)
		w.auth = auth_client_create(base, auth_path);
	if (imap_limits_start(base, config, error_r) < 0)
		return -1;
	w.notify = notify_open(base, config, notified, NULL, error_r);
	return w.notify == NULL ? -1 : 0;
}

void imap_worker_stop(void)
{
	imap_limits_stop();
	workpool_destroy(&w.pool);
	auth_client_free(&w.auth);
	notify_free(&w.notify);
}

struct imap_client *imap_clients(void)
{
	return w.clients;
}

struct auth_client *imap_auth_client(void)
{
	return w.auth;
}

void imap_client_logged_in(struct imap_client *client, const char *user_id, const char *username)
{
	if (user_id != client->user_id)
		snprintf(client->user_id, sizeof(client->user_id), "%s", user_id);
	free(client->username);
	client->username = xstrdup(username);
	client->state = IMAP_STATE_AUTH;
	log_info("event=login session=%s user=%s ip=%s", conn_session_id(client->conn), username,
		 conn_remote_ip(client->conn));
}
