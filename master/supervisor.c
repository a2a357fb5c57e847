/* The worker table: fork+exec each service's workers, pass them the
 * master_proto.h contract, reap them, restart with backoff, watch their
 * status reports, drain old generations after a reload. */
#include "master.h"
#include "ipc.h"
#include "log.h"
#include "master_proto.h"
#include "mem.h"
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct service_state {
	struct service_state *next;
	char *name;
	unsigned restarts;
};

struct worker {
	struct worker *next;
	struct service_state *svc;
	int slot;
	unsigned generation;
	pid_t pid;            /* 0 while waiting for a restart */
	struct timespec started;
	time_t last_report;   /* 0 until the first report */
	int available, connections, flags;
	int delay_ms;         /* next restart delay for this slot */
	bool old;             /* of an older generation: never restarted */
	struct event *restart_ev;
};

static struct event *sigchld_ev, *status_ev, *watchdog_ev, *kill_ev;

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double worker_age(const struct worker *w)
{
	return now_mono() - ((double)w->started.tv_sec + w->started.tv_nsec / 1e9);
}

static struct service_state *service_get(const char *name)
{
	for (struct service_state *s = master.services; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	struct service_state *s = xcalloc(1, sizeof(*s));
	s->name = xstrdup(name);
	s->next = master.services;
	master.services = s;
	return s;
}

static const char *worker_binary(const char *service)
{
	/* next to our own binary (a build tree), else the install location */
	static char path[PATH_MAX + 64];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/wd-%s", self, service);
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	snprintf(path, sizeof(path), "%s/wd-%s", WD_LIBEXECDIR, service);
	return path;
}

/* In the child: put every inherited fd at its contract number. */
static void child_setup_fds(const int *fds, int count)
{
	int high[64];
	for (int i = 0; i < count; i++) {
		high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64 + count);
		if (high[i] < 0)
			_exit(126);
	}
	for (int i = 0; i < count; i++)
		if (dup2(high[i], 3 + i) < 0)
			_exit(126);
	/* everything else: gone (close_range needs glibc 2.34, bookworm has 2.36) */
	close_range((unsigned)(3 + count), ~0U, 0);
}

static char **child_env(const char *service, int listen_count, char **listen_desc,
			int config_fd, int tls_fd, int metrics_fd)
{
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **env = xcalloc(n + (size_t)listen_count + 12, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "WD_", 3) != 0)
			env[k++] = environ[i];
	env[k++] = xasprintf("%s=%s", MASTER_ENV_SERVICE, service);
	env[k++] = xasprintf("%s=%u", MASTER_ENV_GENERATION, master.generation);
	env[k++] = xasprintf("%s=%s", MASTER_ENV_CONFIG_PATH, master.config->path);
	env[k++] = xasprintf("%s=%d", MASTER_ENV_CONFIG_FD, config_fd);
	if (tls_fd >= 0)
		env[k++] = xasprintf("%s=%d", MASTER_ENV_TLS_FD, tls_fd);
	if (metrics_fd >= 0)
		env[k++] = xasprintf("%s=%d", MASTER_ENV_METRICS_FD, metrics_fd);
	env[k++] = xasprintf("%s=%d", MASTER_ENV_FOREGROUND, master.foreground ? 1 : 0);
	env[k++] = xasprintf("%s=%d", MASTER_ENV_LISTEN_COUNT, listen_count);
	for (int i = 0; i < listen_count; i++)
		env[k++] = xasprintf("%s%d=%s", MASTER_ENV_LISTEN_PREFIX, i, listen_desc[i]);
	return env;
}

static void worker_spawn(struct worker *w)
{
	int fds[64], count = 0;
	char *desc[48];
	fds[count++] = master.status_pipe[1];
	fds[count++] = master.alive_pipe[0];
	int listen_count = 0;
	for (struct master_listener *l = master.listeners; l != NULL && listen_count < 48; l = l->next) {
		if (strcmp(l->service, w->svc->name) != 0)
			continue;
		desc[listen_count++] = xasprintf("%s,%s%s", l->bound, l->tls ? "tls" : "plain",
						 l->proxy ? ",proxy" : "");
		fds[count++] = l->fd;
	}
	int config_fd = 3 + count;
	fds[count++] = master.config_fd;
	int tls_fd = -1;
	if (master.tls_fd >= 0) {
		tls_fd = 3 + count;
		fds[count++] = master.tls_fd;
	}
	int metrics_fd = -1;
	if (master.metrics_fd >= 0) {
		metrics_fd = 3 + count;
		fds[count++] = master.metrics_fd;
	}
	char **env = child_env(w->svc->name, listen_count, desc, config_fd, tls_fd, metrics_fd);
	const char *bin = worker_binary(w->svc->name);
	char *argv[] = { xasprintf("wd-%s", w->svc->name), NULL };
	/* WD_WORKER_WRAPPER="valgrind --error-exitcode=99 ...": a test hook that
	 * runs every worker under a wrapper command (words split on spaces,
	 * looked up in PATH); the worker binary becomes its last argument.
	 * Workers do not see the variable: child_env drops WD_* names. */
	char *wrap = getenv("WD_WORKER_WRAPPER") != NULL && *getenv("WD_WORKER_WRAPPER") != '\0' ?
		xstrdup(getenv("WD_WORKER_WRAPPER")) : NULL;
	char *wrap_argv[32];
	if (wrap != NULL) {
		int n = 0;
		char *save = NULL;
		for (char *word = strtok_r(wrap, " ", &save); word != NULL && n < 30;
		     word = strtok_r(NULL, " ", &save))
			wrap_argv[n++] = word;
		wrap_argv[n++] = (char *)bin;
		wrap_argv[n] = NULL;
	}

	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		child_setup_fds(fds, count);
		if (wrap != NULL)
			execvpe(wrap_argv[0], wrap_argv, env);
		else
			execve(bin, argv, env);
		dprintf(STDERR_FILENO, "wildduck: exec %s failed: %s\n", bin, strerror(errno));
		_exit(127);
	}
	/* free what only the child needed (env entries past the inherited ones) */
	for (char **e = env; *e != NULL; e++)
		if (strncmp(*e, "WD_", 3) == 0)
			free(*e);
	free(env);
	free(argv[0]);
	free(wrap);
	for (int i = 0; i < listen_count; i++)
		free(desc[i]);
	if (pid < 0) {
		log_error("event=fork_failed service=%s error=\"%s\"", w->svc->name, strerror(errno));
		return;
	}
	w->pid = pid;
	clock_gettime(CLOCK_MONOTONIC, &w->started);
	w->last_report = 0;
	w->available = w->connections = w->flags = 0;
	log_info("event=worker_started service=%s pid=%d generation=%u slot=%d", w->svc->name,
		 (int)pid, w->generation, w->slot);
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	if (!master.stopping && !w->old && w->pid == 0)
		worker_spawn(w);
}

static struct worker *worker_new(struct service_state *svc, int slot)
{
	struct worker *w = xcalloc(1, sizeof(*w));
	w->svc = svc;
	w->slot = slot;
	w->generation = master.generation;
	w->delay_ms = master.config->restart_delay_min;
	w->restart_ev = evtimer_new(master.base, restart_cb, w);
	w->next = master.workers;
	master.workers = w;
	return w;
}

static void worker_free(struct worker *w)
{
	for (struct worker **wp = &master.workers; *wp != NULL; wp = &(*wp)->next) {
		if (*wp == w) {
			*wp = w->next;
			break;
		}
	}
	event_free(w->restart_ev);
	free(w);
}

void supervisor_start_generation(void)
{
	for (const char *const *name = config_service_names; *name != NULL; name++) {
		struct config_service *s = config_service(master.config, *name);
		if (!s->enabled)
			continue;
		struct service_state *svc = service_get(*name);
		for (int i = 0; i < s->workers; i++)
			worker_spawn(worker_new(svc, i));
	}
}

void supervisor_drain_old(void)
{
	for (struct worker *w = master.workers; w != NULL; w = w->next) {
		if (w->generation == master.generation || w->old)
			continue;
		w->old = true;
		evtimer_del(w->restart_ev);
		if (w->pid > 0)
			kill(w->pid, MASTER_SIGNAL_DRAIN);
	}
	/* slots waiting for a restart have nothing to drain */
	for (struct worker *w = master.workers, *next; w != NULL; w = next) {
		next = w->next;
		if (w->old && w->pid == 0)
			worker_free(w);
	}
}

static struct worker *worker_by_pid(pid_t pid)
{
	for (struct worker *w = master.workers; w != NULL; w = w->next)
		if (w->pid == pid)
			return w;
	return NULL;
}

static void worker_exited(struct worker *w, int status)
{
	bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	double age = worker_age(w);
	if (WIFSIGNALED(status))
		log_warn("event=worker_died service=%s pid=%d signal=%d uptime=%.1fs", w->svc->name,
			 (int)w->pid, WTERMSIG(status), age);
	else if (!clean)
		log_warn("event=worker_died service=%s pid=%d status=%d uptime=%.1fs", w->svc->name,
			 (int)w->pid, WEXITSTATUS(status), age);
	else
		log_info("event=worker_exited service=%s pid=%d uptime=%.1fs", w->svc->name,
			 (int)w->pid, age);
	w->pid = 0;
	if (w->old || master.stopping) {
		worker_free(w);
		return;
	}
	w->svc->restarts++;
	metrics_worker_restart(w->svc->name);
	/* a clean exit or a long, useful life resets the backoff */
	int delay = 0;
	if (clean || age * 1000 >= master.config->restart_delay_max) {
		w->delay_ms = master.config->restart_delay_min;
	} else {
		delay = w->delay_ms;
		w->delay_ms = w->delay_ms * 2 > master.config->restart_delay_max
			? master.config->restart_delay_max : (w->delay_ms > 0 ? w->delay_ms * 2 : 1);
		log_warn("event=worker_throttled service=%s slot=%d restart_in=%dms", w->svc->name,
			 w->slot, delay);
	}
	struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
	evtimer_add(w->restart_ev, &tv);
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct worker *w = worker_by_pid(pid);
		if (w != NULL)
			worker_exited(w, status);
	}
	if (master.stopping && supervisor_idle())
		event_base_loopexit(master.base, NULL);
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master_status st[64];
	ssize_t n;
	while ((n = read(fd, st, sizeof(st))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(st[0]); i++) {
			struct worker *w = worker_by_pid(st[i].pid);
			if (w == NULL || w->generation != st[i].generation)
				continue; /* a worker already reaped, or a stale report */
			w->last_report = time(NULL);
			w->available = st[i].available_slots;
			w->connections = st[i].connections;
			w->flags = st[i].flags;
		}
	}
	if (master.reloading)
		master_reload_progress();
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);
	for (struct worker *w = master.workers; w != NULL; w = w->next) {
		if (w->pid <= 0)
			continue;
		double silent = w->last_report != 0 ? (double)(now - w->last_report) : worker_age(w);
		if (silent * 1000 >= master.config->worker_timeout) {
			log_error("event=worker_hung service=%s pid=%d silent=%.0fs action=kill",
				  w->svc->name, (int)w->pid, silent);
			kill(w->pid, SIGKILL);
		}
	}
	if (master.reloading)
		master_reload_progress();
}

void supervisor_init(void)
{
	sigchld_ev = evsignal_new(master.base, SIGCHLD, sigchld_cb, NULL);
	event_add(sigchld_ev, NULL);
	status_ev = event_new(master.base, master.status_pipe[0], EV_READ | EV_PERSIST, status_cb, NULL);
	event_add(status_ev, NULL);
	struct timeval tv = { 1, 0 };
	watchdog_ev = event_new(master.base, -1, EV_PERSIST, watchdog_cb, NULL);
	event_add(watchdog_ev, &tv);
}

static void kill_cb(evutil_socket_t fd, short what, void *arg)
{
	for (struct worker *w = master.workers; w != NULL; w = w->next) {
		if (w->pid > 0) {
			log_warn("event=worker_killed service=%s pid=%d reason=grace_expired",
				 w->svc->name, (int)w->pid);
			kill(w->pid, SIGKILL);
		}
	}
}

void supervisor_stop_all(void)
{
	for (struct worker *w = master.workers, *next; w != NULL; w = next) {
		next = w->next;
		evtimer_del(w->restart_ev);
		if (w->pid > 0)
			kill(w->pid, SIGTERM);
		else
			worker_free(w);
	}
	int grace = master.config->shutdown_grace;
	struct timeval tv = { grace / 1000, (grace % 1000) * 1000 };
	kill_ev = evtimer_new(master.base, kill_cb, NULL);
	evtimer_add(kill_ev, &tv);
	if (supervisor_idle())
		event_base_loopexit(master.base, NULL);
}

bool supervisor_idle(void)
{
	for (struct worker *w = master.workers; w != NULL; w = w->next)
		if (w->pid > 0)
			return false;
	return true;
}

bool supervisor_new_generation_reported(void)
{
	for (struct worker *w = master.workers; w != NULL; w = w->next)
		if (w->pid > 0 && w->generation == master.generation && w->last_report == 0)
			return false;
	return true;
}

bool supervisor_old_drained(void)
{
	for (struct worker *w = master.workers; w != NULL; w = w->next)
		if (w->pid > 0 && w->generation != master.generation &&
		    !(w->old && (w->flags & MASTER_STATUS_DRAINING)))
			return false;
	return true;
}

static const char *worker_state(const struct worker *w)
{
	if (w->pid <= 0)
		return "restarting";
	if (w->flags & MASTER_STATUS_DRAINING)
		return "draining";
	return w->last_report == 0 ? "starting" : "running";
}

void supervisor_connections(uint64_t current[METRICS_SVC_COUNT])
{
	for (int i = 0; i < METRICS_SVC_COUNT; i++)
		current[i] = 0;
	for (struct worker *w = master.workers; w != NULL; w = w->next) {
		int id = metrics_service_id(w->svc->name);
		if (id >= 0 && w->pid > 0 && w->connections > 0)
			current[id] += (uint64_t)w->connections;
	}
}

void supervisor_describe(struct buffer *out, const char *id)
{
	for (const char *const *name = config_service_names; *name != NULL; name++) {
		struct config_service *s = config_service(master.config, *name);
		struct service_state *svc = service_get(*name);
		int running = 0, conns = 0;
		for (struct worker *w = master.workers; w != NULL; w = w->next) {
			if (w->svc != svc)
				continue;
			running += w->pid > 0 && !w->old;
			conns += w->pid > 0 ? w->connections : 0;
		}
		char f[6][64];
		snprintf(f[0], sizeof(f[0]), "name=%s", *name);
		snprintf(f[1], sizeof(f[1]), "enabled=%s", s->enabled ? "yes" : "no");
		snprintf(f[2], sizeof(f[2]), "workers=%d", running);
		snprintf(f[3], sizeof(f[3]), "wanted=%d", s->enabled ? s->workers : 0);
		snprintf(f[4], sizeof(f[4]), "connections=%d", conns);
		snprintf(f[5], sizeof(f[5]), "restarts=%u", svc->restarts);
		ipc_line_appendv(out, "SERVICE", id, f[0], f[1], f[2], f[3], f[4], f[5], NULL);
	}
	for (struct worker *w = master.workers; w != NULL; w = w->next) {
		char f[7][64];
		snprintf(f[0], sizeof(f[0]), "service=%s", w->svc->name);
		snprintf(f[1], sizeof(f[1]), "pid=%d", (int)w->pid);
		snprintf(f[2], sizeof(f[2]), "generation=%u", w->generation);
		snprintf(f[3], sizeof(f[3]), "slot=%d", w->slot);
		snprintf(f[4], sizeof(f[4]), "state=%s", worker_state(w));
		snprintf(f[5], sizeof(f[5]), "connections=%d", w->pid > 0 ? w->connections : 0);
		snprintf(f[6], sizeof(f[6]), "uptime=%.0f", w->pid > 0 ? worker_age(w) : 0.0);
		ipc_line_appendv(out, "WORKER", id, f[0], f[1], f[2], f[3], f[4], f[5], f[6], NULL);
	}
	for (struct master_listener *l = master.listeners; l != NULL; l = l->next) {
		char *svc = xasprintf("service=%s", l->service), *addr = xasprintf("address=%s", l->bound);
		ipc_line_appendv(out, "LISTEN", id, svc, addr, l->tls ? "tls=yes" : "tls=no", NULL);
		free(svc);
		free(addr);
	}
}

void supervisor_deinit(void)
{
	while (master.workers != NULL)
		worker_free(master.workers);
	while (master.services != NULL) {
		struct service_state *s = master.services;
		master.services = s->next;
		free(s->name);
		free(s);
	}
	event_free(sigchld_ev);
	event_free(status_ev);
	event_free(watchdog_ev);
	if (kill_ev != NULL)
		event_free(kill_ev);
}
