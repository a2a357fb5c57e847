/* wildduck: the master process. Reads the config, binds every listener,
 * forks and execs the workers, restarts what dies, reloads on SIGHUP,
 * stops gracefully on SIGTERM/SIGINT and serves wdctl's control socket. */
#include "master.h"
#include "buffer.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_CONFIG WD_SYSCONFDIR "/wildduck/wildduck.yaml"

struct master master = { .config_fd = -1, .tls_fd = -1, .metrics_fd = -1 };
static int pid_fd = -1;
static struct event *sig_evs[4];

/* systemd's readiness protocol, without linking libsystemd. */
static void sd_notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if (len >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, len);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

static int memfd_with(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	const unsigned char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	/* workers only read it; seal it so none can change what siblings see */
	fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	return fd;
}

/* Loads and validates the config file and its certificates into memfds
 * for the workers. Nothing changes unless everything succeeds. */
static int load_generation(struct config **config_r, int *config_fd_r, int *tls_fd_r,
			   const char **error_r)
{
	struct config *config;
	if (config_load_file(master.config_path, &config, error_r) < 0)
		return -1;
	struct buffer text = BUFFER_INIT, blob = BUFFER_INIT;
	FILE *f = fopen(config->path, "r");
	char chunk[8192];
	size_t n;
	while (f != NULL && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buffer_append(&text, chunk, n);
	if (f != NULL)
		fclose(f);
	/* the text we hand out must be the text we validated */
	struct config *check;
	int ret = config_load_buffer(config->path, buffer_cstr(&text), text.len, &check, error_r);
	config_free(&check);
	if (ret == 0 && config->tls.certificates.count > 0)
		ret = tls_blob_from_files(config, &blob, error_r);
	*tls_fd_r = -1;
	if (ret == 0) {
		*config_fd_r = memfd_with("wildduck-config", text.data, text.len);
		if (blob.len > 0)
			*tls_fd_r = memfd_with("wildduck-tls", blob.data, blob.len);
		if (*config_fd_r < 0 || (blob.len > 0 && *tls_fd_r < 0)) {
			*error_r = "memfd_create failed";
			ret = -1;
		}
	}
	buffer_free(&text);
	buffer_free(&blob);
	if (ret < 0) {
		config_free(&config);
		return -1;
	}
	*config_r = config;
	return 0;
}

static void replace_generation(struct config *config, int config_fd, int tls_fd)
{
	config_free(&master.config);
	if (master.config_fd >= 0)
		close(master.config_fd);
	if (master.tls_fd >= 0)
		close(master.tls_fd);
	master.config = config;
	master.config_fd = config_fd;
	master.tls_fd = tls_fd;
	master.generation++;
	enum log_level level;
	if (log_level_parse(config->log_level, &level) == 0)
		log_set_level(level);
	log_gelf_close();
	const char *gelf_error;
	if (config->gelf.address[0] != '\0' &&
	    log_gelf_open(config->gelf.address, config->gelf.facility, config->gelf.compress,
			  &gelf_error) < 0)
		log_warn("event=gelf_unavailable address=%s error=\"%s\"", config->gelf.address,
			 gelf_error);
}

int master_reload(const char **error_r)
{
	struct config *config;
	int config_fd, tls_fd;
	if (master.stopping || master.reloading) {
		*error_r = master.stopping ? "the suite is stopping" : "a reload is in progress";
		return -1;
	}
	sd_notify_send("RELOADING=1");
	if (load_generation(&config, &config_fd, &tls_fd, error_r) < 0)
		goto fail;
	if (listeners_update(config, &master.stale_listeners, error_r) < 0) {
		config_free(&config);
		close(config_fd);
		if (tls_fd >= 0)
			close(tls_fd);
		goto fail;
	}
	replace_generation(config, config_fd, tls_fd);
	metrics_http_update();
	log_info("event=reload generation=%u", master.generation);
	supervisor_start_generation();
	master.reloading = true;
	master.reload_started = time(NULL);
	return 0;
fail:
	log_error("event=reload_failed error=\"%s\" action=\"keeping the running config\"", *error_r);
	sd_notify_send("READY=1");
	return -1;
}

void master_reload_progress(void)
{
	bool slow = time(NULL) - master.reload_started > 30;
	if (!supervisor_new_generation_reported() && !slow)
		return;
	/* the new generation accepts now: the old one may stop accepting */
	supervisor_drain_old();
	listeners_close(&master.stale_listeners);
	if (!supervisor_old_drained() && !slow)
		return;
	if (slow)
		log_warn("event=reload_slow reason=\"workers did not report within 30s\"");
	master.reloading = false;
	log_info("event=reload_done generation=%u", master.generation);
	sd_notify_send("READY=1");
	if (master.reload_waiter != NULL)
		control_reply_reload(master.reload_waiter, NULL);
}

void master_stop(const char *why)
{
	if (master.stopping)
		return;
	master.stopping = true;
	log_info("event=stopping reason=%s", why);
	sd_notify_send("STOPPING=1");
	/* the control socket stays: wdctl status works while workers finish */
	supervisor_stop_all();
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	const char *error;
	if (sig == SIGHUP) {
		log_info("event=reload_requested by=sighup");
		master_reload(&error);
	} else {
		master_stop(sig == SIGTERM ? "sigterm" : "sigint");
	}
}

/* Creates missing parent folders of a path (as for /run/wildduck/...). */
static void make_parent_dirs(const char *path)
{
	char *copy = xstrdup(path);
	for (char *p = copy + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(copy, 0755);
			*p = '/';
		}
	}
	free(copy);
}

/* Takes the pid file lock; a second master on the same file is refused. */
static int pidfile_lock(const char *path, const char **error_r)
{
	static char err[512];
	make_parent_dirs(path);
	pid_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pid_fd < 0) {
		snprintf(err, sizeof(err), "pid file %s: %s", path, strerror(errno));
		*error_r = err;
		return -1;
	}
	if (flock(pid_fd, LOCK_EX | LOCK_NB) < 0) {
		char buf[32] = "";
		ssize_t n = pread(pid_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, sizeof(err), "already running (pid %s, pid file %s)",
			 buf[0] ? buf : "unknown", path);
		close(pid_fd);
		pid_fd = -1;
		*error_r = err;
		return -1;
	}
	return 0;
}

static void pidfile_write(void)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(pid_fd, 0) < 0 || pwrite(pid_fd, buf, (size_t)n, 0) != n)
		log_warn("event=pidfile_write_failed error=\"%s\"", strerror(errno));
}

/* Forks into the background; the parent exits once the child says it is
 * ready (status 0) or failed (status 1), so init scripts see the truth. */
static int daemonize(int *ready_fd_r)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		char c = 1;
		ssize_t n = read(p[0], &c, 1);
		if (n == 1 && c == 0)
			_exit(0);
		char msg[512];
		n = read(p[0], msg, sizeof(msg) - 1);
		msg[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "wildduck: %s\n", msg[0] ? msg : "failed to start (see the log)");
		_exit(1);
	}
	close(p[0]);
	setsid();
	if (fork() > 0)
		_exit(0);
	int null = open("/dev/null", O_RDWR);
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	if (null > 2)
		close(null);
	*ready_fd_r = p[1];
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: wildduck [-F] [-t] [-c FILE]\n"
		"  -c FILE  configuration file (default %s)\n"
		"  -F       stay in the foreground and log to stderr\n"
		"  -t       check the configuration (and certificates) and exit\n"
		"  -h       this help\n", DEFAULT_CONFIG);
}

/* The data folder belongs to the service user, who must write the store. */
static int data_dir_prepare(const struct config *config, const char **error_r)
{
	static char err[512];
	make_parent_dirs(config->data_dir);
	if (mkdir(config->data_dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, sizeof(err), "data_dir %s: %s", config->data_dir, strerror(errno));
		*error_r = err;
		return -1;
	}
	if (geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(config->user);
	struct group *gr = getgrnam(config->group);
	if (pw == NULL || gr == NULL) {
		snprintf(err, sizeof(err), "unknown %s '%s' (user and group in the config)",
			 pw == NULL ? "user" : "group", pw == NULL ? config->user : config->group);
		*error_r = err;
		return -1;
	}
	if (chown(config->data_dir, pw->pw_uid, gr->gr_gid) < 0) {
		snprintf(err, sizeof(err), "chown %s: %s", config->data_dir, strerror(errno));
		*error_r = err;
		return -1;
	}
	return 0;
}

static int setup(const char **error_r)
{
	if (pidfile_lock(master.config->pid_file, error_r) < 0 ||
	    data_dir_prepare(master.config, error_r) < 0)
		return -1;
	make_parent_dirs(master.config->control_socket);
	if (pipe2(master.status_pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(master.alive_pipe, O_CLOEXEC) < 0) {
		*error_r = "pipe failed";
		return -1;
	}
	struct master_listener *stale = NULL;
	if (listeners_update(master.config, &stale, error_r) < 0)
		return -1;
	master.base = event_base_new();
	if (master.base == NULL) {
		*error_r = "event_base_new failed";
		return -1;
	}
	if (control_open(master.config->control_socket, error_r) < 0)
		return -1;
	/* once per run, not per generation: counters outlive reloads */
	if (metrics_create(&master.metrics_fd, error_r) < 0)
		return -1;
	metrics_http_update();
	int sigs[] = { SIGHUP, SIGTERM, SIGINT };
	for (size_t i = 0; i < 3; i++) {
		sig_evs[i] = evsignal_new(master.base, sigs[i], signal_cb, NULL);
		event_add(sig_evs[i], NULL);
	}
	supervisor_init();
	return 0;
}

static void teardown(void)
{
	supervisor_deinit();
	control_close();
	metrics_http_close();
	listeners_close(&master.listeners);
	listeners_close(&master.stale_listeners);
	for (size_t i = 0; i < 3; i++)
		event_free(sig_evs[i]);
	event_base_free(master.base);
	unlink(master.config->pid_file);
	close(pid_fd);
	config_free(&master.config);
	free(master.config_path);
	metrics_detach();
	if (master.metrics_fd >= 0)
		close(master.metrics_fd);
}

int main(int argc, char **argv)
{
	bool test_only = false;
	const char *path = DEFAULT_CONFIG, *error;
	int opt;
	while ((opt = getopt(argc, argv, "c:Fth")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'F': master.foreground = true; break;
		case 't': test_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* thousands of idle IMAP connections per worker need descriptors */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	master.config_path = xstrdup(path);
	struct config *config;
	int config_fd, tls_fd;
	if (load_generation(&config, &config_fd, &tls_fd, &error) < 0) {
		fprintf(stderr, "wildduck: %s\n", error);
		return 1;
	}
	replace_generation(config, config_fd, tls_fd);
	if (test_only) {
		printf("wildduck: configuration %s is valid\n", config->path);
		config_free(&master.config);
		free(master.config_path);
		return 0;
	}
	int ready_fd = -1;
	if (!master.foreground && daemonize(&ready_fd) < 0) {
		fprintf(stderr, "wildduck: cannot go to the background: %s\n", strerror(errno));
		return 1;
	}
	log_open("wildduck", master.foreground);
	master.started = time(NULL);
	if (setup(&error) < 0) {
		log_error("event=start_failed error=\"%s\"", error);
		if (ready_fd >= 0) {
			char fail = 1;
			(void)!write(ready_fd, &fail, 1);
			(void)!write(ready_fd, error, strlen(error));
		}
		return 1;
	}
	pidfile_write();
	supervisor_start_generation();
	struct buffer where = BUFFER_INIT;
	for (struct master_listener *l = master.listeners; l != NULL; l = l->next)
		buffer_printf(&where, "%s%s=%s%s", where.len > 0 ? "," : "", l->service, l->bound,
			      l->tls ? "/tls" : "");
	log_info("event=started pid=%d config=%s generation=%u listeners=%s", (int)getpid(),
		 master.config->path, master.generation, buffer_cstr(&where));
	buffer_free(&where);
	sd_notify_send("READY=1");
	if (ready_fd >= 0) {
		char ok = 0;
		(void)!write(ready_fd, &ok, 1);
		close(ready_fd);
	}
	event_base_dispatch(master.base);
	log_info("event=stopped");
	teardown();
	return 0;
}
