/* hiredis 0.14 async over libevent (LIBRARIES "Redis with hiredis 0.14"):
 * two connections (commands; SUBSCRIBE), each reconnecting with doubling
 * backoff (100 ms .. 5 s). Every command arms an evtimer; on expiry its
 * callback gets NULL and the connection is dropped and made again, since
 * a reply that late means the connection cannot be trusted for order.
 *
 * Lifetimes: a request belongs to hiredis from redisAsyncCommand until
 * hiredis calls its callback exactly once (reply, or NULL when the
 * connection goes), which frees it; a timeout only detaches the user's
 * callback. */
#include "redis.h"
#include "config.h"

#include "log.h"
#include "mem.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MSECS 2000
#define BACKOFF_MIN_MSECS 100
#define BACKOFF_MAX_MSECS 5000

enum conn_kind { CONN_CMD, CONN_SUB };

struct redis_conn {
	struct redis *redis;
	enum conn_kind kind;
	redisAsyncContext *ac;
	bool up;			/* connected (and SELECTed) */
	unsigned int backoff_msecs;
	struct event *retry_ev;		/* reconnect timer */
	struct event *connect_ev;	/* connect timeout */
	unsigned int subscribed;	/* SUBSCRIBE confirmations on this connection */
};

struct subscription {
	struct subscription *next;
	char *channel;
	redis_message_cb *callback;
	void *context;
};

/* Sentinel mode: one connection to one sentinel at a time, which first
 * answers where the master is and then carries +switch-master events. */
struct sentinel {
	struct redis *redis;
	redisAsyncContext *ac;
	char **addrs;			/* "host:port" */
	unsigned int count, next;
	char *master;
	unsigned int backoff_msecs;
	struct event *retry_ev;
};

struct redis {
	struct event_base *base;
	char *host, *path;		/* path for unix sockets; host NULL: not known yet */
	int port, db;
	struct sentinel *sentinel;	/* NULL: plain address */
	unsigned int timeout_msecs;
	struct redis_conn conns[2];
	struct subscription *subs;
	bool freeing;
};

struct request {
	struct redis_conn *conn;
	redis_reply_cb *callback;
	void *context;
	struct event *timer;
};

static void conn_start(struct redis_conn *conn);

static void msecs_to_tv(unsigned int msecs, struct timeval *tv)
{
	tv->tv_sec = msecs / 1000;
	tv->tv_usec = (msecs % 1000) * 1000;
}

static const char *conn_name(const struct redis_conn *conn)
{
	return conn->kind == CONN_CMD ? "command" : "subscriber";
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_start(arg);
}

static void conn_schedule_retry(struct redis_conn *conn)
{
	if (conn->redis->freeing)
		return;
	struct timeval tv;
	msecs_to_tv(conn->backoff_msecs, &tv);
	evtimer_add(conn->retry_ev, &tv);
	conn->backoff_msecs = conn->backoff_msecs * 2 > BACKOFF_MAX_MSECS ? BACKOFF_MAX_MSECS :
		conn->backoff_msecs * 2;
}

static void request_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct request *req = privdata;
	if (req->timer != NULL)
		event_free(req->timer);
	if (req->callback != NULL)
		req->callback(req->conn->redis, r, req->context);
	free(req);
}

/* Closes the connection now (redisAsyncDisconnect would wait for the very
 * replies that are late) and reconnects later. Not from a hiredis callback. */
static void conn_drop(struct redis_conn *conn)
{
	redisAsyncContext *ac = conn->ac;
	if (ac == NULL)
		return;
	bool connected = (ac->c.flags & REDIS_CONNECTED) != 0;
	redisAsyncFree(ac);	/* pending callbacks get NULL; disconnect_cb if connected */
	if (!connected) {
		conn->ac = NULL;
		conn->up = false;
		conn_schedule_retry(conn);
	}
}

static void request_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct request *req = arg;
	struct redis_conn *conn = req->conn;
	redis_reply_cb *cb = req->callback;
	req->callback = NULL;	/* hiredis still owns req: it frees it later */
	log_warn("event=redis_timeout connection=%s", conn_name(conn));
	if (cb != NULL)
		cb(conn->redis, NULL, req->context);
	conn_drop(conn);	/* frees req through request_cb */
}

static int send_argv(struct redis_conn *conn, redis_reply_cb *callback, void *context,
		     int argc, const char **argv, const size_t *argvlen)
{
	struct request *req = xcalloc(1, sizeof(*req));
	req->conn = conn;
	req->callback = callback;
	req->context = context;
	req->timer = evtimer_new(conn->redis->base, request_timeout, req);
	struct timeval tv;
	msecs_to_tv(conn->redis->timeout_msecs, &tv);
	evtimer_add(req->timer, &tv);
	if (redisAsyncCommandArgv(conn->ac, request_cb, req, argc, argv, argvlen) != REDIS_OK) {
		event_free(req->timer);
		free(req);
		return -1;
	}
	return 0;
}

static void message_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redis_conn *conn = privdata;
	redisReply *reply = r;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
		return;
	const redisReply *kind = reply->element[0], *channel = reply->element[1];
	if (kind->type != REDIS_REPLY_STRING || channel->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(kind->str, "subscribe") == 0) {
		conn->subscribed++;
		return;
	}
	if (strcmp(kind->str, "message") != 0 || reply->element[2]->type != REDIS_REPLY_STRING)
		return;
	for (struct subscription *s = conn->redis->subs; s != NULL; s = s->next)
		if (strcmp(s->channel, channel->str) == 0)
			s->callback(channel->str, reply->element[2]->str,
				    reply->element[2]->len, s->context);
}

static void send_subscribe(struct redis_conn *conn, const char *channel)
{
	const char *argv[] = { "SUBSCRIBE", channel };
	/* subscription callbacks stay registered in hiredis per channel: no
	 * request (and no timeout) for them */
	(void)redisAsyncCommandArgv(conn->ac, message_cb, conn, 2, argv, NULL);
}

static void conn_ready(struct redis_conn *conn)
{
	conn->up = true;
	conn->backoff_msecs = BACKOFF_MIN_MSECS;
	conn->subscribed = 0;
	log_info("event=redis_connected connection=%s", conn_name(conn));
	if (conn->kind == CONN_SUB)
		for (struct subscription *s = conn->redis->subs; s != NULL; s = s->next)
			send_subscribe(conn, s->channel);
}

static void select_cb(struct redis *redis, const redisReply *reply, void *context)
{
	struct redis_conn *conn = context;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		log_error("event=redis_select_failed db=%d error=\"%s\"", redis->db,
			  reply == NULL ? "no reply" : reply->str);
		if (conn->ac != NULL)
			redisAsyncDisconnect(conn->ac);
		return;
	}
	conn_ready(conn);
}

static void conn_select(struct redis_conn *conn);
static void sentinel_requery(struct redis *redis);

static void role_cb(struct redis *redis, const redisReply *reply, void *context)
{
	struct redis_conn *conn = context;
	if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
	    reply->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(reply->element[0]->str, "master") == 0) {
		conn_select(conn);
		return;
	}
	/* the sentinel's answer is stale (a failover in progress): ask again */
	log_warn("event=redis_not_master connection=%s host=%s port=%d", conn_name(conn),
		 redis->host, redis->port);
	if (conn->ac != NULL)
		redisAsyncDisconnect(conn->ac);
	sentinel_requery(redis);
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
	struct redis_conn *conn = ac->data;
	event_del(conn->connect_ev);
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback */
		log_debug("event=redis_connect_failed connection=%s error=\"%s\"",
			  conn_name(conn), ac->errstr);
		conn->ac = NULL;
		conn_schedule_retry(conn);
		return;
	}
	if (conn->redis->sentinel != NULL) {
		const char *argv[] = { "ROLE" };
		if (send_argv(conn, role_cb, conn, 1, argv, NULL) < 0)
			redisAsyncDisconnect(conn->ac);
		return;
	}
	conn_select(conn);
}

/* After ROLE (sentinel mode) or at once: SELECT the database, then ready. */
static void conn_select(struct redis_conn *conn)
{
	if (conn->redis->db != 0) {
		char db[16];
		snprintf(db, sizeof(db), "%d", conn->redis->db);
		const char *argv[] = { "SELECT", db };
		if (send_argv(conn, select_cb, conn, 2, argv, NULL) < 0)
			redisAsyncDisconnect(conn->ac);
		return;
	}
	conn_ready(conn);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct redis_conn *conn = ac->data;
	bool was_up = conn->up;
	conn->ac = NULL;
	conn->up = false;
	conn->subscribed = 0;
	if (conn->redis->freeing)
		return;
	if (was_up)
		log_warn("event=redis_disconnected connection=%s error=\"%s\"", conn_name(conn),
			 ac->err != 0 ? ac->errstr : "closed");
	conn_schedule_retry(conn);
}

static void connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct redis_conn *conn = arg;
	if (conn->ac != NULL && !conn->up) {
		log_debug("event=redis_connect_timeout connection=%s", conn_name(conn));
		conn_drop(conn);
	}
}

static void conn_start(struct redis_conn *conn)
{
	struct redis *redis = conn->redis;
	if (redis->path == NULL && redis->host == NULL)
		return;		/* sentinel mode before the master is known */
	redisAsyncContext *ac = redis->path != NULL ? redisAsyncConnectUnix(redis->path) :
		redisAsyncConnect(redis->host, redis->port);
	if (ac == NULL || ac->err != 0) {
		log_debug("event=redis_connect_failed connection=%s error=\"%s\"", conn_name(conn),
			  ac == NULL ? "out of memory" : ac->errstr);
		if (ac != NULL)
			redisAsyncFree(ac);
		conn_schedule_retry(conn);
		return;
	}
	ac->data = conn;
	conn->ac = ac;
	redisLibeventAttach(ac, redis->base);
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	struct timeval tv;
	msecs_to_tv(redis->timeout_msecs, &tv);
	evtimer_add(conn->connect_ev, &tv);
}

/* ---- Redis Sentinel ---- */

static void sentinel_start(struct sentinel *st);

static void sentinel_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	sentinel_start(arg);
}

static void sentinel_schedule_retry(struct sentinel *st)
{
	if (st->redis->freeing)
		return;
	struct timeval tv;
	msecs_to_tv(st->backoff_msecs, &tv);
	evtimer_add(st->retry_ev, &tv);
	st->backoff_msecs = st->backoff_msecs * 2 > BACKOFF_MAX_MSECS ? BACKOFF_MAX_MSECS :
		st->backoff_msecs * 2;
}

/* The master moved (or was found): both connections go there. */
static void master_at(struct redis *redis, const char *host, int port)
{
	bool moved = redis->host == NULL || strcmp(redis->host, host) != 0 || redis->port != port;
	if (!moved)
		return;
	log_info("event=redis_master host=%s port=%d", host, port);
	free(redis->host);
	redis->host = xstrdup(host);
	redis->port = port;
	for (int i = 0; i < 2; i++) {
		struct redis_conn *conn = &redis->conns[i];
		bool wanted = i == CONN_CMD || redis->subs != NULL;
		conn->backoff_msecs = BACKOFF_MIN_MSECS;
		if (conn->ac != NULL)
			conn_drop(conn);	/* reconnects to the new address */
		else if (wanted && !evtimer_pending(conn->retry_ev, NULL))
			conn_start(conn);
	}
}

static void sentinel_event_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct sentinel *st = privdata;
	redisReply *reply = r;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
	    reply->element[2]->type != REDIS_REPLY_STRING ||
	    strcmp(reply->element[0]->str, "message") != 0)
		return;
	/* "<name> <old-ip> <old-port> <new-ip> <new-port>" */
	char name[256], old_ip[64], new_ip[64];
	int old_port, new_port;
	if (sscanf(reply->element[2]->str, "%255s %63s %d %63s %d", name, old_ip, &old_port,
		   new_ip, &new_port) == 5 && strcmp(name, st->master) == 0)
		master_at(st->redis, new_ip, new_port);
}

static void sentinel_master_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct sentinel *st = privdata;
	redisReply *reply = r;
	if (reply == NULL)
		return;		/* disconnected: disconnect callback retries */
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[1]->type != REDIS_REPLY_STRING) {
		log_warn("event=redis_sentinel_no_master sentinel=%s master=%s",
			 st->addrs[(st->next + st->count - 1) % st->count], st->master);
		redisAsyncDisconnect(ac);	/* try the next sentinel */
		return;
	}
	st->backoff_msecs = BACKOFF_MIN_MSECS;
	master_at(st->redis, reply->element[0]->str, atoi(reply->element[1]->str));
	const char *argv[] = { "SUBSCRIBE", "+switch-master" };
	(void)redisAsyncCommandArgv(ac, sentinel_event_cb, st, 2, argv, NULL);
}

static void sentinel_connect_cb(const redisAsyncContext *ac, int status)
{
	struct sentinel *st = ac->data;
	if (status != REDIS_OK) {
		st->ac = NULL;
		sentinel_schedule_retry(st);
		return;
	}
	const char *argv[] = { "SENTINEL", "get-master-addr-by-name", st->master };
	(void)redisAsyncCommandArgv(st->ac, sentinel_master_cb, st, 3, argv, NULL);
}

static void sentinel_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct sentinel *st = ac->data;
	st->ac = NULL;
	sentinel_schedule_retry(st);
}

static void sentinel_start(struct sentinel *st)
{
	const char *addr = st->addrs[st->next++ % st->count];
	const char *colon = strrchr(addr, ':');
	char host[256];
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	redisAsyncContext *ac = redisAsyncConnect(host, atoi(colon + 1));
	if (ac == NULL || ac->err != 0) {
		if (ac != NULL)
			redisAsyncFree(ac);
		sentinel_schedule_retry(st);
		return;
	}
	ac->data = st;
	st->ac = ac;
	redisLibeventAttach(ac, st->redis->base);
	redisAsyncSetConnectCallback(ac, sentinel_connect_cb);
	redisAsyncSetDisconnectCallback(ac, sentinel_disconnect_cb);
}

/* A data connection found no master where the sentinel said: ask again
 * (a new connection to a sentinel answers afresh). */
static void sentinel_requery(struct redis *redis)
{
	struct sentinel *st = redis->sentinel;
	if (st != NULL && st->ac != NULL)
		redisAsyncDisconnect(st->ac);
}

static struct sentinel *sentinel_create(struct redis *redis, const struct redis_settings *set)
{
	struct sentinel *st = xcalloc(1, sizeof(*st));
	st->redis = redis;
	st->master = xstrdup(set->sentinel_master == NULL || set->sentinel_master[0] == '\0' ?
			     "mymaster" : set->sentinel_master);
	st->backoff_msecs = BACKOFF_MIN_MSECS;
	char *list = xstrdup(set->sentinels), *save = NULL;
	for (char *tok = strtok_r(list, " ,", &save); tok != NULL;
	     tok = strtok_r(NULL, " ,", &save)) {
		const char *colon = strrchr(tok, ':');
		if (colon == NULL || colon == tok || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535)
			continue;
		st->addrs = xrealloc(st->addrs, (st->count + 1) * sizeof(*st->addrs));
		st->addrs[st->count++] = xstrdup(tok);
	}
	free(list);
	st->retry_ev = evtimer_new(redis->base, sentinel_retry_cb, st);
	return st;
}

static void sentinel_free(struct sentinel **stp)
{
	struct sentinel *st = *stp;
	if (st == NULL)
		return;
	if (st->ac != NULL) {
		redisAsyncContext *ac = st->ac;
		st->ac = NULL;
		redisAsyncFree(ac);
	}
	event_free(st->retry_ev);
	for (unsigned int i = 0; i < st->count; i++)
		free(st->addrs[i]);
	free(st->addrs);
	free(st->master);
	free(st);
	*stp = NULL;
}

struct redis *redis_create(struct event_base *base, const struct redis_settings *set,
			   const char **error_r)
{
	static char err[256];
	const char *address = set->address == NULL ? "" : set->address;
	struct redis *redis = xcalloc(1, sizeof(*redis));
	redis->base = base;
	redis->db = set->db;
	redis->timeout_msecs = set->timeout_msecs == 0 ? DEFAULT_TIMEOUT_MSECS :
		set->timeout_msecs;
	if (set->sentinels != NULL && set->sentinels[0] != '\0') {
		redis->sentinel = sentinel_create(redis, set);
		if (redis->sentinel->count == 0) {
			snprintf(err, sizeof(err), "bad redis sentinels '%s'", set->sentinels);
			*error_r = err;
			sentinel_free(&redis->sentinel);
			free(redis);
			return NULL;
		}
	} else if (strncmp(address, "unix:", 5) == 0 && address[5] != '\0') {
		redis->path = xstrdup(address + 5);
	} else {
		const char *colon = strrchr(address, ':');
		char *end = NULL;
		long port = colon == NULL ? 6379 : strtol(colon + 1, &end, 10);
		if (address[0] == '\0' || colon == address ||
		    (colon != NULL && (*end != '\0' || port <= 0 || port > 65535))) {
			snprintf(err, sizeof(err), "bad redis address '%s'", address);
			*error_r = err;
			free(redis);
			return NULL;
		}
		redis->host = colon == NULL ? xstrdup(address) :
			xstrndup(address, (size_t)(colon - address));
		redis->port = (int)port;
	}
	for (int i = 0; i < 2; i++) {
		struct redis_conn *conn = &redis->conns[i];
		conn->redis = redis;
		conn->kind = i == 0 ? CONN_CMD : CONN_SUB;
		conn->backoff_msecs = BACKOFF_MIN_MSECS;
		conn->retry_ev = evtimer_new(base, retry_cb, conn);
		conn->connect_ev = evtimer_new(base, connect_timeout, conn);
	}
	if (redis->sentinel != NULL)
		sentinel_start(redis->sentinel);	/* connects the rest when it answers */
	else
		conn_start(&redis->conns[CONN_CMD]);
	return redis;
}

void redis_free(struct redis **redisp)
{
	struct redis *redis = *redisp;
	if (redis == NULL)
		return;
	redis->freeing = true;
	sentinel_free(&redis->sentinel);
	for (int i = 0; i < 2; i++) {
		struct redis_conn *conn = &redis->conns[i];
		if (conn->ac != NULL) {
			redisAsyncContext *ac = conn->ac;
			conn->ac = NULL;
			redisAsyncFree(ac);	/* runs pending callbacks with NULL */
		}
		event_free(conn->retry_ev);
		event_free(conn->connect_ev);
	}
	while (redis->subs != NULL) {
		struct subscription *s = redis->subs;
		redis->subs = s->next;
		free(s->channel);
		free(s);
	}
	free(redis->host);
	free(redis->path);
	free(redis);
	*redisp = NULL;
}

bool redis_connected(const struct redis *redis)
{
	return redis->conns[CONN_CMD].up;
}

int redis_command_argv(struct redis *redis, redis_reply_cb *callback, void *context,
		       int argc, const char **argv, const size_t *argvlen)
{
	struct redis_conn *conn = &redis->conns[CONN_CMD];
	if (!conn->up || conn->ac == NULL)
		return -1;
	return send_argv(conn, callback, context, argc, argv, argvlen);
}

int redis_command(struct redis *redis, redis_reply_cb *callback, void *context,
		  const char *fmt, ...)
{
	struct redis_conn *conn = &redis->conns[CONN_CMD];
	if (!conn->up || conn->ac == NULL)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *cmd = NULL;
	int len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -1;
	struct request *req = xcalloc(1, sizeof(*req));
	req->conn = conn;
	req->callback = callback;
	req->context = context;
	req->timer = evtimer_new(redis->base, request_timeout, req);
	struct timeval tv;
	msecs_to_tv(redis->timeout_msecs, &tv);
	evtimer_add(req->timer, &tv);
	int ret = redisAsyncFormattedCommand(conn->ac, request_cb, req, cmd, (size_t)len);
	redisFreeCommand(cmd);
	if (ret != REDIS_OK) {
		event_free(req->timer);
		free(req);
		return -1;
	}
	return 0;
}

void redis_subscribe(struct redis *redis, const char *channel, redis_message_cb *callback,
		     void *context)
{
	struct subscription *s = xcalloc(1, sizeof(*s));
	s->channel = xstrdup(channel);
	s->callback = callback;
	s->context = context;
	s->next = redis->subs;
	redis->subs = s;
	struct redis_conn *conn = &redis->conns[CONN_SUB];
	if (conn->up)
		send_subscribe(conn, channel);
	else if (conn->ac == NULL && !evtimer_pending(conn->retry_ev, NULL))
		conn_start(conn);
}

bool redis_subscribed(const struct redis *redis)
{
	unsigned int n = 0;
	for (const struct subscription *s = redis->subs; s != NULL; s = s->next)
		n++;
	return redis->conns[CONN_SUB].up && redis->conns[CONN_SUB].subscribed >= n;
}

bool redis_settings_from_config(struct redis_settings *set, const struct config *config)
{
	if (config->redis.address[0] == '\0' && config->redis.sentinels[0] == '\0')
		return false;
	*set = (struct redis_settings){
		.address = config->redis.address,
		.sentinels = config->redis.sentinels,
		.sentinel_master = config->redis.sentinel_master,
		.db = config->redis.db,
		.timeout_msecs = (unsigned int)config->redis.timeout,
	};
	return true;
}
