/* The auth protocol server (wildduck-auth(8)). The loop thread parses
 * request lines, checks the rate limits, and hands each request to a
 * workpool thread (its own store handle; bcrypt runs there, so one slow
 * hash never delays other connections); replies go out as requests
 * complete, matched by id. Failures feed the rate limits (in Redis when
 * configured, so every instance shares them; in this process otherwise),
 * a success resets the username's count. */
#include "auth_server.h"

#include "auth_check.h"
#include "auth_ratelimit.h"
#include "buffer.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "pool.h"
#include "redis.h"
#include "workpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistr.h>

/* Requests one connection may have in flight, and in the whole process. */
#define CONN_MAX_PENDING 1000
#define SERVER_MAX_PENDING 20000
#define IP_MAX 64
#define ID_MAX 64
#define PURGE_INTERVAL_SECS 3600

struct auth_conn;

struct auth_job {
	struct auth_job *prev, *next; /* in the connection's list */
	struct auth_conn *ac;         /* NULL once the connection is gone */
	char *id, *user_key, *ip_key;
	struct auth_check check;
	char *strings;                /* one allocation for the check's inputs */
};

struct auth_conn {
	struct conn *conn;
	struct auth_job *jobs;
	unsigned int pending;
};

static struct {
	const struct config *config;
	struct workpool *pool;
	struct ratelimit *rl;
	struct auth_check_settings check;
	struct store_settings store;
	struct event *purge_ev;
	unsigned int pending;
	struct redis *redis; /* shared rate limits across instances, or NULL */
	bool stopping;
} srv;

static int64_t now_msecs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(struct conn *conn, const char *first, ...) __attribute__((sentinel));
static void reply(struct conn *conn, const char *first, ...)
{
	const char *fields[8];
	size_t n = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *f = first; f != NULL && n < 8; f = va_arg(ap, const char *))
		fields[n++] = f;
	va_end(ap);
	if (conn_is_closing(conn))
		return;
	struct buffer out = BUFFER_INIT;
	ipc_line_append(&out, fields, n);
	conn_write(conn, out.data, out.len);
	buffer_free(&out);
}

/* ---- store threads ---- */

static void *thread_init(void *arg)
{
	struct store *store;
	const char *error;
	if (store_open(&srv.store, &store, &error) < 0) {
		log_error("event=store_open_failed error=\"%s\"", error);
		return NULL;
	}
	return store;
}

static void thread_deinit(void *ctx)
{
	struct store *store = ctx;
	store_close(&store);
}

static void job_run(void *thread_ctx, void *job_)
{
	struct auth_job *job = job_;
	auth_check_run(thread_ctx, &srv.check, &job->check);
}

static void job_free(struct auth_job *job)
{
	if (job->check.secret != NULL)
		explicit_bzero((char *)job->check.secret, strlen(job->check.secret));
	free(job->strings);
	free(job->user_key);
	free(job->ip_key);
	free(job->id);
	free(job);
}

/* Takes a finished or refused job out of its connection's list. */
static void job_unlink(struct auth_job *job)
{
	struct auth_conn *ac = job->ac;
	srv.pending--;
	if (ac == NULL)
		return;
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		ac->jobs = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	ac->pending--;
}

/* ---- rate limits: in this process, and in Redis when configured ---- */

/* For each key: its failure count and milliseconds left in its window. */
static const char limits_read_lua[] =
	"local r = {} for i, k in ipairs(KEYS) do "
	"r[#r+1] = tonumber(redis.call('GET', k) or '0') r[#r+1] = redis.call('PTTL', k) end "
	"return r";
/* One failure: the window starts with the first one (INCR + PEXPIRE). */
static const char limits_hit_lua[] =
	"local c = redis.call('INCR', KEYS[1]) "
	"if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return c";

static char *redis_key(const char *key)
{
	return xasprintf("%sauth:%s", srv.config->redis.prefix, key);
}

static void limits_record(struct auth_job *job)
{
	const struct config *cfg = srv.config;
	struct auth_check *c = &job->check;
	int64_t now = now_msecs();
	if (c->status == AUTH_OK) {
		ratelimit_reset(srv.rl, job->user_key);
	} else if (c->counts_failure) {
		ratelimit_hit(srv.rl, job->user_key, cfg->auth_settings.user_window, now);
		ratelimit_hit(srv.rl, job->ip_key, cfg->auth_settings.ip_window, now);
	}
	if (srv.redis == NULL || (c->status != AUTH_OK && !c->counts_failure))
		return;
	char *ukey = redis_key(job->user_key), *ikey = redis_key(job->ip_key);
	if (c->status == AUTH_OK) {
		redis_command(srv.redis, NULL, NULL, "DEL %s", ukey);
	} else {
		redis_command(srv.redis, NULL, NULL, "EVAL %s 1 %s %d", limits_hit_lua, ukey,
			      cfg->auth_settings.user_window);
		redis_command(srv.redis, NULL, NULL, "EVAL %s 1 %s %d", limits_hit_lua, ikey,
			      cfg->auth_settings.ip_window);
	}
	free(ukey);
	free(ikey);
}

static void job_done(void *job_)
{
	struct auth_job *job = job_;
	struct auth_check *c = &job->check;
	limits_record(job);
	log_info("event=auth service=%s user=%s ip=%s result=%s reason=%s", c->service,
		 c->user_id[0] != '\0' ? c->user_id : "-", c->remote_ip,
		 c->status == AUTH_OK ? "ok" : c->status == AUTH_FAIL ? "fail" : "tempfail",
		 c->reason);
	metrics_auth(c->status == AUTH_OK ? METRICS_AUTH_OK
		     : c->status == AUTH_FAIL ? METRICS_AUTH_FAIL : METRICS_AUTH_TEMPFAIL);
	struct auth_conn *ac = job->ac;
	if (ac != NULL) {
		if (c->status == AUTH_OK)
			reply(ac->conn, "OK", job->id, c->user_id, c->username_out,
			      c->flags[0] != '\0' ? c->flags : NULL, NULL);
		else
			reply(ac->conn, c->status == AUTH_FAIL ? "FAIL" : "TEMPFAIL", job->id,
			      c->reason, NULL);
	}
	job_unlink(job);
	job_free(job);
}

/* A refused attempt still goes to the user's auth log, off the loop. */
struct limited_log {
	char *service, *username, *ip;
};

static void limited_log_run(void *thread_ctx, void *arg)
{
	struct limited_log *l = arg;
	struct store *store = thread_ctx;
	struct pool *pool = pool_create(1024);
	struct store_user *u;
	const char *error;
	if (store != NULL && store_user_get_by_username(store, l->username, pool, &u, &error) == 0) {
		struct store_authlog_entry e = {
			.created = (int64_t)time(NULL), .service = l->service, .remote_ip = l->ip,
			.success = false, .reason = "ratelimited",
		};
		e.expires = e.created + (int64_t)srv.config->auth_settings.authlog_days * 86400;
		memcpy(e.user, u->id, STORE_ID_SIZE);
		if (store_authlog_add(store, &e, &error) < 0)
			log_warn("event=authlog_failed user=%s error=\"%s\"", u->id, error);
	}
	pool_destroy(&pool);
}

static void limited_log_done(void *arg)
{
	struct limited_log *l = arg;
	free(l->service);
	free(l->username);
	free(l->ip);
	free(l);
}

static void limited_log(const struct auth_job *job)
{
	struct limited_log *l = xcalloc(1, sizeof(*l));
	l->service = xstrdup(job->check.service);
	l->username = xstrdup(job->check.username);
	l->ip = xstrdup(job->check.remote_ip);
	workpool_submit(srv.pool, limited_log_run, limited_log_done, l);
}

/* The limits said yes (wait == 0) or no: run the check or refuse. */
static void limits_decided(struct auth_job *job, unsigned int wait, bool unavailable)
{
	unavailable |= srv.stopping;
	if (wait == 0 && !unavailable) {
		workpool_submit(srv.pool, job_run, job_done, job);
		return;
	}
	if (job->ac != NULL) {
		char after[16];
		snprintf(after, sizeof(after), "%u", wait);
		log_info("event=auth service=%s ip=%s result=%s reason=%s retry_after=%s",
			 job->check.service, job->check.remote_ip, unavailable ? "tempfail" : "fail",
			 unavailable ? "ratelimit-unavailable" : "ratelimited", after);
		metrics_auth(unavailable ? METRICS_AUTH_TEMPFAIL : METRICS_AUTH_FAIL);
		if (unavailable)
			reply(job->ac->conn, "TEMPFAIL", job->id, "ratelimit-unavailable", NULL);
		else
			reply(job->ac->conn, "FAIL", job->id, "ratelimited", after, NULL);
	}
	if (!unavailable)
		limited_log(job);
	job_unlink(job);
	job_free(job);
}

static unsigned int local_wait(struct auth_job *job)
{
	const struct config *cfg = srv.config;
	int64_t now = now_msecs();
	unsigned int wu = ratelimit_check(srv.rl, job->user_key, cfg->auth_settings.user_failures, now);
	unsigned int wi = ratelimit_check(srv.rl, job->ip_key, cfg->auth_settings.ip_failures, now);
	return wu > wi ? wu : wi;
}

static unsigned int redis_wait(long long count, long long pttl, int limit, int window)
{
	if (count < limit)
		return 0;
	long long ms = pttl > 0 ? pttl : window;
	return (unsigned int)((ms + 999) / 1000);
}

static void limits_read_cb(struct redis *r, const redisReply *reply_, void *ctx)
{
	struct auth_job *job = ctx;
	const struct config *cfg = srv.config;
	if (reply_ == NULL || reply_->type != REDIS_REPLY_ARRAY || reply_->elements != 4) {
		/* Redis is down or odd: auth.redis_fail_open decides */
		if (cfg->auth_settings.redis_fail_open)
			limits_decided(job, local_wait(job), false);
		else
			limits_decided(job, 0, true);
		return;
	}
	long long v[4];
	for (size_t i = 0; i < 4; i++)
		v[i] = reply_->element[i]->type == REDIS_REPLY_INTEGER ? reply_->element[i]->integer : 0;
	unsigned int wu = redis_wait(v[0], v[1], cfg->auth_settings.user_failures,
				     cfg->auth_settings.user_window);
	unsigned int wi = redis_wait(v[2], v[3], cfg->auth_settings.ip_failures,
				     cfg->auth_settings.ip_window);
	limits_decided(job, wu > wi ? wu : wi, false);
}

static void limits_check(struct auth_job *job)
{
	if (srv.redis == NULL) {
		limits_decided(job, local_wait(job), false);
		return;
	}
	char *ukey = redis_key(job->user_key), *ikey = redis_key(job->ip_key);
	int r = redis_command(srv.redis, limits_read_cb, job, "EVAL %s 2 %s %s", limits_read_lua,
			      ukey, ikey);
	free(ukey);
	free(ikey);
	if (r < 0)
		limits_read_cb(srv.redis, NULL, job);
}

/* ---- requests ---- */

/* The id of a line that does not split (bad escape, NUL): its raw second
 * field if it is plain, so the client still gets its FAIL. */
static const char *raw_id(const char *line, char buf[ID_MAX + 1])
{
	const char *tab = strchr(line, '\t');
	if (tab == NULL)
		return "-";
	size_t n = strcspn(tab + 1, "\t\001");
	if (n == 0 || n > ID_MAX)
		return "-";
	memcpy(buf, tab + 1, n);
	buf[n] = '\0';
	return buf;
}

static bool text_ok(const char *s, size_t max, bool allow_space)
{
	size_t len = strlen(s);
	if (len == 0 || len > max || u8_check((const uint8_t *)s, len) != NULL)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || (!allow_space && s[i] == ' '))
			return false;
	return true;
}

/* A key for the rate limit of a username: lowercased, so case variants
 * share one count. */
static char *user_key(const char *username)
{
	char *k = xasprintf("u:%s", username);
	for (char *p = k; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return k;
}

static void handle_line(struct auth_conn *ac, char *line, size_t len)
{
	struct conn *conn = ac->conn;
	char idbuf[ID_MAX + 1];
	char *f[IPC_MAX_FIELDS];
	const char *error;
	/* before splitting: a failed split leaves the line half unescaped */
	const char *rid = raw_id(line, idbuf);
	if (memchr(line, '\0', len) != NULL) {
		reply(conn, "FAIL", rid, "badinput", NULL);
		return;
	}
	int n = ipc_line_split(line, f, IPC_MAX_FIELDS, &error);
	if (n < 0) {
		reply(conn, "FAIL", rid, "badinput", NULL);
		return;
	}
	if (n < 2 || strcmp(f[0], "AUTH") != 0 || strlen(f[1]) > ID_MAX || f[1][0] == '\0') {
		reply(conn, "FAIL", n >= 2 && strlen(f[1]) <= ID_MAX ? f[1] : "-", "badrequest",
		      NULL);
		return;
	}
	const char *id = f[1];
	if (n != 6 && n != 7) {
		reply(conn, "FAIL", id, "badrequest", NULL);
		return;
	}
	const char *service = f[2], *username = f[3], *secret = f[4], *ip = f[5];
	const char *scope = auth_check_scope(service, n == 7 ? f[6] : NULL);
	/* secrets may contain spaces, usernames not */
	if (!text_ok(service, 32, false) || !text_ok(username, AUTH_MAX_FIELD, false) ||
	    !text_ok(secret, AUTH_MAX_FIELD, true) || !text_ok(ip, IP_MAX, false) || scope == NULL) {
		log_info("event=auth service=%.32s ip=%.64s result=fail reason=badinput", service, ip);
		metrics_auth(METRICS_AUTH_FAIL);
		reply(conn, "FAIL", id, "badinput", NULL);
		return;
	}
	if (ac->pending >= CONN_MAX_PENDING || srv.pending >= SERVER_MAX_PENDING) {
		reply(conn, "TEMPFAIL", id, "busy", NULL);
		return;
	}
	struct auth_job *job = xcalloc(1, sizeof(*job));
	job->id = xstrdup(id);
	job->user_key = user_key(username);
	job->ip_key = xasprintf("ip:%s", ip);

	/* the strings live in one block owned by the job */
	size_t ls = strlen(service) + 1, lu = strlen(username) + 1, lp = strlen(secret) + 1,
	       li = strlen(ip) + 1;
	char *p = job->strings = xmalloc(ls + lu + lp + li);
	job->check.service = memcpy(p, service, ls);
	job->check.username = memcpy(p += ls, username, lu);
	job->check.secret = memcpy(p += lu, secret, lp);
	job->check.remote_ip = memcpy(p += lp, ip, li);
	job->check.scope = scope;
	explicit_bzero(f[4], strlen(f[4]));
	job->ac = ac;
	job->next = ac->jobs;
	if (ac->jobs != NULL)
		ac->jobs->prev = job;
	ac->jobs = job;
	ac->pending++;
	srv.pending++;
	limits_check(job);
}

/* ---- connections ---- */

static void auth_connected(struct conn *conn)
{
	struct auth_conn *ac = xcalloc(1, sizeof(*ac));
	ac->conn = conn;
	conn_set_context(conn, ac);
}

static void auth_input(struct conn *conn)
{
	struct auth_conn *ac = conn_context(conn);
	struct evbuffer *in = conn_input(conn);
	char *line;
	size_t len;
	while (!conn_is_closing(conn) &&
	       (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len > 0)
			handle_line(ac, line, len);
		explicit_bzero(line, len);
		free(line);
	}
	if (evbuffer_get_length(in) > IPC_MAX_LINE) {
		log_warn("event=line_too_long session=%s", conn_session_id(conn));
		reply(conn, "FAIL", "-", "badinput", NULL);
		evbuffer_drain(in, evbuffer_get_length(in));
		conn_close(conn);
	}
}

static void auth_shutdown(struct conn *conn) { }

static void auth_timeout(struct conn *conn)
{
	conn_close(conn);
}

static void auth_destroyed(struct conn *conn)
{
	struct auth_conn *ac = conn_context(conn);
	if (ac == NULL)
		return;
	/* running jobs finish; their answers go nowhere */
	for (struct auth_job *j = ac->jobs; j != NULL; j = j->next)
		j->ac = NULL;
	free(ac);
}

const struct conn_handler auth_conn_handler = {
	.connected = auth_connected,
	.input = auth_input,
	.shutdown = auth_shutdown,
	.timeout = auth_timeout,
	.destroyed = auth_destroyed,
};

/* ---- expiry of the auth log ---- */

static void purge_run(void *thread_ctx, void *job)
{
	unsigned int purged = 0;
	const char *error;
	if (thread_ctx != NULL &&
	    store_authlog_purge(thread_ctx, (int64_t)time(NULL), &purged, &error) == 0 && purged > 0)
		log_info("event=authlog_purged entries=%u", purged);
}

static void purge_done(void *job) { }

static void purge_cb(evutil_socket_t fd, short what, void *arg)
{
	workpool_submit(srv.pool, purge_run, purge_done, NULL);
}

int auth_server_start(struct event_base *base, const struct config *config,
		      const char **error_r)
{
	srv.config = config;
	if (password_scheme_parse(config->auth_settings.hash, &srv.check.hash.scheme) < 0) {
		*error_r = "unknown auth.hash";
		return -1;
	}
	srv.check.hash.bcrypt_cost = config->auth_settings.bcrypt_cost;
	srv.check.hash.pbkdf2_iterations = config->auth_settings.pbkdf2_iterations;
	srv.check.rehash = config->auth_settings.rehash;
	srv.check.authlog_days = config->auth_settings.authlog_days;
	store_settings_from_config(&srv.store, config);
	srv.rl = ratelimit_create();
	struct workpool_settings ws = {
		.threads = config->auth_settings.threads,
		.thread_init = thread_init,
		.thread_deinit = thread_deinit,
	};
	srv.pool = workpool_create(base, &ws);
	struct timeval tv = { PURGE_INTERVAL_SECS, 0 }, now = { 0, 0 };
	srv.purge_ev = event_new(base, -1, EV_PERSIST, purge_cb, NULL);
	event_add(srv.purge_ev, &tv);
	event_base_once(base, -1, EV_TIMEOUT, purge_cb, NULL, &now);
	struct redis_settings rs;
	if (redis_settings_from_config(&rs, config) &&
	    (srv.redis = redis_create(base, &rs, error_r)) == NULL)
		return -1;
	return 0;
}

void auth_server_deinit(void)
{
	/* Redis callbacks still pending refuse their jobs; jobs then drain */
	srv.stopping = true;
	redis_free(&srv.redis);
	workpool_destroy(&srv.pool);
	if (srv.purge_ev != NULL)
		event_free(srv.purge_ev);
	ratelimit_free(&srv.rl);
}
