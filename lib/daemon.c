/* Worker process skeleton: the master_proto.h contract, privilege drop,
 * status reports, signals. */
#include "daemon.h"
#include "buffer.h"
#include "log.h"
#include "master_proto.h"
#include "mem.h"
#include "metrics.h"
#include "store.h"

#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static struct {
	const struct daemon_settings *set;
	struct config *config;
	struct event_base *base;
	struct conn_server *server;
	size_t own_connections;	/* without a server: what the daemon reports */
	struct tls_server *tls;
	unsigned generation;
	bool stopping, draining;
	struct event *status_ev, *alive_ev, *term_ev, *drain_ev;
} d;

const struct config *daemon_config(void) { return d.config; }
struct event_base *daemon_event_base(void) { return d.base; }

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);
	return v != NULL ? atoi(v) : def;
}

int daemon_listener_fd(int index, bool *tls_r)
{
	if (index < 0 || index >= env_int(MASTER_ENV_LISTEN_COUNT, 0))
		return -1;
	char name[64];
	snprintf(name, sizeof(name), "%s%d", MASTER_ENV_LISTEN_PREFIX, index);
	const char *desc = getenv(name);
	if (tls_r != NULL)
		*tls_r = desc != NULL && strstr(desc, ",tls") != NULL;
	return MASTER_FD_LISTEN_FIRST + index;
}

struct tls_server *daemon_tls_server(void) { return d.tls; }

/* pread: sibling workers share the file offset of the master's memfd */
static int read_fd(int fd, struct buffer *out)
{
	for (;;) {
		unsigned char *p = buffer_reserve(out, 65536);
		ssize_t n = pread(fd, p, 65536, (off_t)out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
	}
}

static void report_status(void)
{
	struct master_status st = {
		.pid = (int32_t)getpid(),
		.generation = d.generation,
		.available_slots = d.server != NULL ? conn_server_available(d.server) : 0,
		.connections = d.server != NULL ? (int32_t)conn_server_count(d.server) :
			(int32_t)d.own_connections,
	};
	if (d.stopping || d.draining) {
		st.available_slots = 0;
		st.flags |= MASTER_STATUS_DRAINING;
	}
	/* non-blocking: if the master is not reading, a report can be skipped */
	(void)!write(MASTER_FD_STATUS, &st, sizeof(st));
}

void daemon_connections_changed(size_t count)
{
	d.own_connections = count;
	report_status();
}

void daemon_stop(void)
{
	event_base_loopexit(d.base, NULL);
}

static void maybe_exit(void)
{
	if ((d.stopping || d.draining) && (d.server == NULL || conn_server_count(d.server) == 0))
		daemon_stop();
}

static void conns_changed(void *ctx)
{
	report_status();
	maybe_exit();
}

static void begin_stop(const char *why)
{
	if (d.stopping)
		return;
	log_info("event=stopping reason=%s connections=%zu", why,
		 d.server != NULL ? conn_server_count(d.server) : (size_t)0);
	d.stopping = true;
	if (d.server != NULL)
		conn_server_shutdown(d.server);
	report_status();
	maybe_exit();
}

static void status_cb(evutil_socket_t fd, short what, void *arg) { report_status(); }

static void alive_cb(evutil_socket_t fd, short what, void *arg)
{
	char c;
	if (read(fd, &c, 1) <= 0) {
		event_del(d.alive_ev);
		begin_stop("master_gone");
	}
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGTERM) {
		begin_stop("sigterm");
	} else if (!d.draining && !d.stopping) {
		log_info("event=draining connections=%zu",
			 d.server != NULL ? conn_server_count(d.server) : (size_t)0);
		d.draining = true;
		if (d.server != NULL)
			conn_server_stop_accepting(d.server);
		report_status();
		maybe_exit();
	}
}

/* Drops to the configured user and group when running as root; after
 * this no client byte has been read yet and root cannot be regained. */
static int drop_privileges(const struct config *config, const char **error_r)
{
	if (geteuid() != 0)
		return 0;
	static char err[256];
	struct passwd *pw = getpwnam(config->user);
	struct group *gr = getgrnam(config->group);
	if (pw == NULL || gr == NULL) {
		snprintf(err, sizeof(err), "unknown %s '%s'", pw == NULL ? "user" : "group",
			 pw == NULL ? config->user : config->group);
		*error_r = err;
		return -1;
	}
	if (pw->pw_uid == 0) {
		*error_r = "refusing to run workers as root (set user in the config)";
		return -1;
	}
	if (setgroups(1, &gr->gr_gid) < 0 || setresgid(gr->gr_gid, gr->gr_gid, gr->gr_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		snprintf(err, sizeof(err), "dropping privileges failed: %s", strerror(errno));
		*error_r = err;
		return -1;
	}
	if (setuid(0) == 0) {
		*error_r = "root privileges could be regained after dropping them";
		return -1;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

static int load_config(const char **error_r)
{
	const char *path = getenv(MASTER_ENV_CONFIG_PATH);
	int fd = env_int(MASTER_ENV_CONFIG_FD, -1);
	struct buffer text = BUFFER_INIT;
	if (path == NULL || fd < 0 || read_fd(fd, &text) < 0) {
		buffer_free(&text);
		*error_r = "no config from the master";
		return -1;
	}
	close(fd);
	int ret = config_load_buffer(path, buffer_cstr(&text), text.len, &d.config, error_r);
	buffer_free(&text);
	return ret;
}

static int load_tls(const char **error_r)
{
	int fd = env_int(MASTER_ENV_TLS_FD, -1);
	if (fd < 0)
		return 0;
	struct buffer blob = BUFFER_INIT;
	int ret = read_fd(fd, &blob);
	close(fd);
	if (ret < 0)
		*error_r = "cannot read the certificates from the master";
	else
		ret = tls_server_create(d.config, blob.data, blob.len, &d.tls, error_r);
	buffer_free(&blob);
	return ret;
}

static int open_listeners(const char **error_r)
{
	int count = env_int(MASTER_ENV_LISTEN_COUNT, 0);
	if (count == 0 || d.set->handler == NULL)
		return 0;
	const struct config_service *svc = config_service(d.config, d.set->name);
	struct conn_server_settings cs = {
		.handler = d.set->handler,
		.max_connections = svc != NULL ? svc->max_connections : 1000,
		.idle_timeout_ms = svc != NULL ? svc->idle_timeout : 300000,
		.tls = d.tls,
		.proxy_trusted = d.config->proxy.trusted,
		.proxy_timeout_ms = d.config->proxy.timeout,
		.changed = conns_changed,
	};
	d.server = conn_server_create(d.base, &cs);
	for (int i = 0; i < count; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s%d", MASTER_ENV_LISTEN_PREFIX, i);
		const char *desc = getenv(name);
		bool tls = desc != NULL && strstr(desc, ",tls") != NULL;
		bool proxy = desc != NULL && strstr(desc, ",proxy") != NULL;
		if (conn_server_listen(d.server, MASTER_FD_LISTEN_FIRST + i, tls, proxy, error_r) < 0)
			return -1;
	}
	return 0;
}

static struct event *signal_watch(int sig)
{
	struct event *ev = evsignal_new(d.base, sig, signal_cb, NULL);
	event_add(ev, NULL);
	return ev;
}

static void setup_events(void)
{
	struct timeval tv = { MASTER_STATUS_INTERVAL, 0 };
	d.status_ev = event_new(d.base, -1, EV_PERSIST, status_cb, NULL);
	event_add(d.status_ev, &tv);
	d.alive_ev = event_new(d.base, MASTER_FD_ALIVE, EV_READ | EV_PERSIST, alive_cb, NULL);
	event_add(d.alive_ev, NULL);
	d.term_ev = signal_watch(SIGTERM);
	d.drain_ev = signal_watch(MASTER_SIGNAL_DRAIN);
}

static void cleanup(void)
{
	if (d.set->deinit != NULL)
		d.set->deinit();
	conn_server_free(&d.server);
	tls_server_unref(&d.tls);
	event_free(d.status_ev);
	event_free(d.alive_ev);
	event_free(d.term_ev);
	event_free(d.drain_ev);
	event_base_free(d.base);
	config_free(&d.config);
	log_gelf_close();
}

int daemon_main(int argc, char **argv, const struct daemon_settings *settings)
{
	const char *error;
	d.set = settings;
	signal(SIGPIPE, SIG_IGN);
	/* Message bodies come and go in large blocks on several threads: a
	 * fixed mmap threshold gives them back to the kernel when freed,
	 * where glibc's adaptive one would keep up to 32 MB per arena. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	/* Ctrl-C reaches the whole process group; the master decides */
	signal(SIGINT, SIG_IGN);
	const char *svc = getenv(MASTER_ENV_SERVICE);
	if (svc == NULL || strcmp(svc, settings->name) != 0) {
		fprintf(stderr, "wd-%s: this program is started by wildduck(8), not by hand\n",
			settings->name);
		return 2;
	}
	d.generation = (unsigned)env_int(MASTER_ENV_GENERATION, 0);
	log_open(settings->name, env_int(MASTER_ENV_FOREGROUND, 0) == 1);
	if (load_config(&error) == 0 && d.config->gelf.address[0] != '\0' &&
	    log_gelf_open(d.config->gelf.address, d.config->gelf.facility, d.config->gelf.compress,
			  &error) < 0)
		log_warn("event=gelf_unavailable address=%s error=\"%s\"", d.config->gelf.address,
			 error);
	int metrics_fd = env_int(MASTER_ENV_METRICS_FD, -1);
	if (metrics_fd >= 0 && metrics_attach(metrics_fd, settings->name, &error) < 0)
		log_warn("event=metrics_unavailable error=\"%s\"", error);
	if (d.config == NULL || load_tls(&error) < 0 ||
	    (settings->init != NULL && settings->init(d.config, &error) < 0) ||
	    drop_privileges(d.config, &error) < 0)
		log_fatal("event=start_failed error=\"%s\"", error);
	enum log_level level;
	const struct config_service *own = config_service(d.config, settings->name);
	if (own != NULL && own->log_level != NULL && own->log_level[0] != '\0' &&
	    log_level_parse(own->log_level, &level) == 0)
		log_set_level(level);
	else if (log_level_parse(d.config->log_level, &level) == 0)
		log_set_level(level);
	d.base = event_base_new();
	if (d.base == NULL)
		log_fatal("event=start_failed error=\"event_base_new failed\"");
	if (open_listeners(&error) < 0 ||
	    (settings->start != NULL && settings->start(d.base, d.config, &error) < 0))
		log_fatal("event=start_failed error=\"%s\"", error);
	setup_events();
	report_status();
	log_debug("event=started generation=%u", d.generation);
	event_base_dispatch(d.base);
	log_debug("event=exit");
	cleanup();
	return 0;
}

void *daemon_store_thread_open(void *config)
{
	struct store_settings set;
	store_settings_from_config(&set, config);
	struct store *store;
	const char *error;
	if (store_open(&set, &store, &error) < 0) {
		log_error("event=store_open_failed error=\"%s\"", error);
		return NULL;
	}
	return store;
}

void daemon_store_thread_close(void *store)
{
	struct store *s = store;
	store_close(&s);
}
