/* wd-lmtp: mail delivery from the MTA (RFC 2033), started by wildduck(8). */
#include "daemon.h"
#include "lmtp.h"
#include "notify.h"
#include "redis.h"
#include "settings.h"
#include "workpool.h"

#include <errno.h>
#include <pwd.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lmtp_settings lmtp_set;
struct workpool *lmtp_workpool;
struct notify *lmtp_notify;

static char hostname[256];

/* The spool folders are made as root, for the service user. */
static int spool_prepare(const struct config *config, const char **error_r)
{
	const char *spool = config->lmtp_settings.outbound_spool;
	if (spool[0] == '\0')
		return 0;
	static char err[4200];
	const char *sub[] = { "", "/tmp", "/new", "/cur" };	/* cur: lmtp_pickup.c */
	struct passwd *pw = geteuid() == 0 ? getpwnam(config->user) : NULL;
	struct group *gr = geteuid() == 0 ? getgrnam(config->group) : NULL;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s%s", spool, sub[i]);
		if (mkdir(path, 0750) < 0 && errno != EEXIST) {
			snprintf(err, sizeof(err), "mkdir(%s) failed: %s", path, strerror(errno));
			*error_r = err;
			return -1;
		}
		if (pw != NULL && gr != NULL && chown(path, pw->pw_uid, gr->gr_gid) < 0) {
			snprintf(err, sizeof(err), "chown(%s) failed: %s", path, strerror(errno));
			*error_r = err;
			return -1;
		}
	}
	return 0;
}

static int lmtp_init(const struct config *config, const char **error_r)
{
	return spool_prepare(config, error_r);
}

static int lmtp_start(struct event_base *base, const struct config *config,
		      const char **error_r)
{
	const __typeof__(config->lmtp_settings) *c = &config->lmtp_settings;
	lmtp_set.max_message_size = (uint64_t)c->max_message_size;
	lmtp_set.max_recipients = (unsigned int)c->max_recipients;
	lmtp_set.over_quota_permanent = c->over_quota_permanent;
	lmtp_set.spam_headers = c->spam_headers;
	lmtp_set.outbound_spool = c->outbound_spool;
	lmtp_set.autoreply_interval = c->autoreply_interval / 1000;
	lmtp_set.forwards_per_day = (unsigned int)c->forwards_per_day;
	if (c->hostname[0] != '\0')
		snprintf(hostname, sizeof(hostname), "%s", c->hostname);
	else if (gethostname(hostname, sizeof(hostname) - 1) < 0 || hostname[0] == '\0')
		snprintf(hostname, sizeof(hostname), "localhost");
	lmtp_set.hostname = hostname;
	settings_configure(config);
	struct workpool_settings ws = {
		.threads = c->store_threads,
		.thread_init = daemon_store_thread_open,
		.thread_deinit = daemon_store_thread_close,
		.arg = (void *)config,
	};
	lmtp_workpool = workpool_create(base, &ws);
	lmtp_notify = notify_open(base, config, NULL, NULL, error_r);
	if (lmtp_notify == NULL)
		return -1;
	/* the autoreply and forward counters (lmtp_gate.c) */
	struct redis_settings rs;
	if (redis_settings_from_config(&rs, config)) {
		lmtp_redis = redis_create(base, &rs, error_r);
		if (lmtp_redis == NULL)
			return -1;
		lmtp_set.redis_counters = true;
		lmtp_set.redis_prefix = config->redis.prefix;
	}
	if (c->sendmail[0] != '\0' && c->outbound_spool[0] != '\0' &&
	    lmtp_pickup_start(base, c->outbound_spool, c->sendmail, error_r) < 0)
		return -1;
	return 0;
}

static void lmtp_deinit(void)
{
	/* first: its pending replies fall back to the store threads */
	redis_free(&lmtp_redis);
	workpool_destroy(&lmtp_workpool);
	lmtp_pickup_stop();
	notify_free(&lmtp_notify);
}

static const struct daemon_settings lmtp_daemon = {
	.name = "lmtp",
	.handler = &lmtp_conn_handler,
	.init = lmtp_init,
	.start = lmtp_start,
	.deinit = lmtp_deinit,
};

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &lmtp_daemon);
}
