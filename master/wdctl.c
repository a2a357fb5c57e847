/* wdctl: manage a running suite through the master's control socket.
 * Exit codes: 0 ok, 1 failure (including "not running"), 2 usage. */
#include "auth_client.h"
#include "buffer.h"
#include "config.h"
#include "fts.h"
#include "fts_indexer.h"
#include "ipc.h"
#include "mem.h"
#include "password.h"
#include "pool.h"
#include "store.h"
#include "wdctl_import.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <time.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_CONFIG WD_SYSCONFDIR "/wildduck/wildduck.yaml"
#define REPLY_TIMEOUT_MS 60000

struct reply {
	char **lines; /* raw lines, each split later */
	size_t count;
	bool ok;
	char *error;
};

static int control_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (e == ENOENT || e == ECONNREFUSED)
		fprintf(stderr, "wdctl: the suite is not running (no master listening on %s)\n", path);
	else
		fprintf(stderr, "wdctl: cannot connect to %s: %s\n", path, strerror(e));
	return -1;
}

/* Sends "CMD\t1" and collects reply lines up to OK/FAIL. */
static int request(int fd, const char *cmd, struct reply *r)
{
	struct buffer out = BUFFER_INIT, in = BUFFER_INIT, line = BUFFER_INIT;
	ipc_line_appendv(&out, cmd, "1", NULL);
	int ret = write(fd, out.data, out.len) == (ssize_t)out.len ? 0 : -1;
	buffer_free(&out);
	memset(r, 0, sizeof(*r));
	while (ret == 0) {
		int got = ipc_take_line(&in, IPC_MAX_LINE, &line);
		if (got < 0) {
			ret = -1;
			break;
		}
		if (got == 1) {
			char *copy = xstrdup(buffer_cstr(&line)), *fields[IPC_MAX_FIELDS];
			const char *err;
			char *split = xstrdup(copy);
			int n = ipc_line_split(split, fields, IPC_MAX_FIELDS, &err);
			bool last = n >= 2 && (strcmp(fields[0], "OK") == 0 || strcmp(fields[0], "FAIL") == 0);
			if (last) {
				r->ok = strcmp(fields[0], "OK") == 0;
				r->error = n >= 3 ? xstrdup(fields[2]) : NULL;
			}
			free(split);
			r->lines = xrealloc(r->lines, (r->count + 1) * sizeof(char *));
			r->lines[r->count++] = copy;
			if (last)
				break;
			continue;
		}
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "wdctl: no answer from the master\n");
			ret = -1;
			break;
		}
		unsigned char *p = buffer_reserve(&in, 4096);
		ssize_t n = read(fd, p, 4096);
		if (n <= 0) {
			fprintf(stderr, "wdctl: the master closed the connection\n");
			ret = -1;
			break;
		}
		in.len += (size_t)n;
	}
	buffer_free(&in);
	buffer_free(&line);
	return ret;
}

static void reply_free(struct reply *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r->error);
}

/* The value of key=... among fields, "" when absent. */
static const char *field(char **fields, int n, const char *key)
{
	size_t len = strlen(key);
	for (int i = 2; i < n; i++)
		if (strncmp(fields[i], key, len) == 0 && fields[i][len] == '=')
			return fields[i] + len + 1;
	return "";
}

static void format_uptime(const char *secs, char *out, size_t outlen)
{
	long s = atol(secs);
	if (s >= 86400)
		snprintf(out, outlen, "%ldd%ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, outlen, "%ldh%ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, outlen, "%ldm%lds", s / 60, s % 60);
	else
		snprintf(out, outlen, "%lds", s);
}

static void print_status(const struct reply *r)
{
	const char *kinds[] = { "MASTER", "SERVICE", "WORKER", "LISTEN" };
	for (size_t k = 0; k < 4; k++) {
		bool header = false;
		for (size_t i = 0; i < r->count; i++) {
			char *copy = xstrdup(r->lines[i]), *f[IPC_MAX_FIELDS];
			const char *err;
			int n = ipc_line_split(copy, f, IPC_MAX_FIELDS, &err);
			if (n < 2 || strcmp(f[0], kinds[k]) != 0) {
				free(copy);
				continue;
			}
			char up[32];
			format_uptime(field(f, n, "uptime"), up, sizeof(up));
			if (k == 0) {
				printf("wildduck: running, pid %s, up %s, generation %s\nconfig: %s\n",
				       field(f, n, "pid"), up, field(f, n, "generation"), field(f, n, "config"));
			} else if (k == 1) {
				if (!header)
					printf("\n%-10s %-8s %-8s %-12s %s\n", "SERVICE", "STATE", "WORKERS",
					       "CONNECTIONS", "RESTARTS");
				char workers[32];
				snprintf(workers, sizeof(workers), "%s/%s", field(f, n, "workers"),
					 field(f, n, "wanted"));
				printf("%-10s %-8s %-8s %-12s %s\n", field(f, n, "name"),
				       strcmp(field(f, n, "enabled"), "yes") == 0 ? "enabled" : "disabled",
				       workers, field(f, n, "connections"), field(f, n, "restarts"));
			} else if (k == 2) {
				if (!header)
					printf("\n%-10s %-8s %-5s %-11s %-12s %s\n", "WORKER", "PID", "GEN",
					       "STATE", "CONNECTIONS", "UPTIME");
				printf("%-10s %-8s %-5s %-11s %-12s %s\n", field(f, n, "service"),
				       field(f, n, "pid"), field(f, n, "generation"), field(f, n, "state"),
				       field(f, n, "connections"), up);
			} else {
				if (!header)
					printf("\n%-10s %-30s %s\n", "LISTENER", "ADDRESS", "TLS");
				printf("%-10s %-30s %s\n", field(f, n, "service"), field(f, n, "address"),
				       field(f, n, "tls"));
			}
			header = true;
			free(copy);
		}
	}
}

/* The master closes the control connection only when it exits. */
static int wait_master_exit(int fd)
{
	char buf[256];
	struct pollfd pfd = { fd, POLLIN, 0 };
	for (;;) {
		int r = poll(&pfd, 1, 120000);
		if (r == 0) {
			fprintf(stderr, "wdctl: the master is still running after 120s\n");
			return -1;
		}
		if (r < 0 && errno == EINTR)
			continue;
		ssize_t n = r < 0 ? -1 : read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 0;
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: wdctl [-c FILE] [-s SOCKET] COMMAND\n"
		"commands:\n"
		"  status   services, workers, connections, restarts and listeners\n"
		"  reload   re-read the configuration and certificates; returns when the\n"
		"           new workers run (the old ones finish their connections)\n"
		"  stop     stop the suite gracefully and wait until the master exits\n"
		"  user create USER PASSWORD [ADDRESS]   add a user (prints its id)\n"
		"  user disable|enable USER\n"
		"  asp create USER SCOPES [DESCRIPTION]  application password for scopes\n"
		"           imap,pop3,smtp or * (prints id and the password, shown once)\n"
		"  totp enable USER SECRET | totp disable USER   2FA with a base32 secret\n"
		"  authlog USER   the user's authentication log, newest first\n"
		"  auth USER SECRET [SERVICE [IP [SCOPE]]]   ask wd-auth (OK/FAIL/TEMPFAIL)\n"
		"  reindex USER|--all   rebuild the full-text index and threads of a user\n"
		"           (or of every user), printing progress\n"
		"  reindex --status USER   the index's backend, the user's indexed messages\n"
		"           and journal position\n"
		"  mailbox list USER   path, special use, messages, unseen, size\n"
		"  quota recalc USER   recount the storage used and correct it\n"
		"  import-maildir USER DIR   Maildir++ into the user's mailboxes (a re-run\n"
		"           imports nothing new)\n"
		"  export-mbox USER MAILBOX   the mailbox as mboxrd on stdout\n"
		"options:\n"
		"  -c FILE    configuration file naming the control socket (default %s)\n"
		"  -s SOCKET  control socket path (overrides -c)\n", DEFAULT_CONFIG);
}

static char *socket_path(const char *config_path, const char *sock)
{
	if (sock != NULL)
		return xstrdup(sock);
	struct config *config;
	const char *error;
	if (config_load_file(config_path, &config, &error) < 0) {
		fprintf(stderr, "wdctl: %s\n", error);
		return NULL;
	}
	char *path = xstrdup(config->control_socket);
	config_free(&config);
	return path;
}

/* ---- commands on the store (wdctl user/asp/totp/authlog) and wd-auth ---- */

/* As root, act as the service user so files the store creates stay
 * usable by the workers. */
static int drop_to_service_user(const struct config *config)
{
	if (geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(config->user);
	struct group *gr = getgrnam(config->group);
	if (pw == NULL || gr == NULL || setgroups(1, &gr->gr_gid) < 0 ||
	    setresgid(gr->gr_gid, gr->gr_gid, gr->gr_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		fprintf(stderr, "wdctl: cannot switch to user %s: %s\n", config->user,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int user_id_of(struct store *store, struct pool *pool, const char *name, char *id_r)
{
	struct store_user *u;
	const char *error;
	if (store_user_get_by_username(store, name, pool, &u, &error) < 0) {
		fprintf(stderr, "wdctl: user %s: %s\n", name, error);
		return -1;
	}
	memcpy(id_r, u->id, STORE_ID_SIZE);
	return 0;
}

static void reindex_progress(uint64_t done, uint64_t total, void *ctx)
{
	printf("reindex %s: %llu/%llu messages\n", (const char *)ctx, (unsigned long long)done,
	       (unsigned long long)total);
	fflush(stdout);
}

/* wdctl reindex USER|--all: rebuilds on the index directly, next to a
 * running indexer (SQLite: both take the index's write lock per user;
 * MongoDB: both write idempotently, the re-index replaces the user's
 * documents when it finishes). */
static int reindex_command(struct config *config, struct store *store, struct pool *pool,
			   const char *who)
{
	struct fts *fts;
	const char *error;
	int ret = 1;
	if (fts_open_config(config, true, &fts, &error) < 0) {
		fprintf(stderr, "wdctl: index: %s\n", error);
		return 1;
	}
	struct fts_index_stats stats = { 0 };
	if (strcmp(who, "--all") != 0) {
		char uid[STORE_ID_SIZE];
		if (user_id_of(store, pool, who, uid) == 0 &&
		    fts_reindex_user(store, fts, uid, reindex_progress, (void *)who, &stats,
				     &error) == 0)
			ret = 0;
		else if (store_last_error(store) == STORE_OK)
			fprintf(stderr, "wdctl: reindex %s: %s\n", who, error);
	} else {
		char after[STORE_ID_SIZE] = "";
		unsigned int users_done = 0;
		ret = 0;
		for (;;) {
			struct store_user *users;
			unsigned int count;
			if (store_user_list(store, after[0] != '\0' ? after : NULL, false, 500, pool,
					    &users, &count, &error) < 0) {
				fprintf(stderr, "wdctl: reindex: %s\n", error);
				ret = 1;
				break;
			}
			for (unsigned int i = 0; i < count && ret == 0; i++) {
				if (fts_reindex_user(store, fts, users[i].id, reindex_progress,
						     (void *)users[i].username, &stats, &error) < 0) {
					fprintf(stderr, "wdctl: reindex %s: %s\n", users[i].username,
						error);
					ret = 1;
				}
				users_done++;
			}
			if (count < 500 || ret != 0)
				break;
			memcpy(after, users[count - 1].id, STORE_ID_SIZE);
		}
		printf("reindex: %u users\n", users_done);
	}
	if (ret == 0)
		printf("reindex: %llu messages indexed, %llu thread ids changed\n",
		       (unsigned long long)stats.indexed, (unsigned long long)stats.threads_changed);
	fts_close(&fts);
	return ret;
}

/* wdctl reindex --status USER: what the index holds of the user (tests
 * and operators count documents without the backend's own tools). */
static int index_status_command(struct config *config, struct store *store, struct pool *pool,
				const char *who)
{
	struct fts *fts;
	const char *error;
	char uid[STORE_ID_SIZE];
	if (user_id_of(store, pool, who, uid) < 0)
		return 1;
	if (fts_open_config(config, false, &fts, &error) < 0) {
		fprintf(stderr, "wdctl: index: %s\n", error);
		return 1;
	}
	uint64_t count;
	int64_t position;
	bool found;
	int ret = 1;
	if (fts_count(fts, uid, &count, &error) == 0 &&
	    fts_position_get(fts, uid, &position, &found, &error) == 0) {
		printf("backend %s\nindexed %llu\nposition %s%lld\n", fts_backend_name(fts),
		       (unsigned long long)count, found ? "" : "none ", (long long)position);
		ret = 0;
	} else {
		fprintf(stderr, "wdctl: index: %s\n", error);
	}
	fts_close(&fts);
	return ret;
}

static int store_command(struct config *config, int argc, char **argv)
{
	const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "", *error;
	struct password_settings ps = {
		.bcrypt_cost = config->auth_settings.bcrypt_cost,
		.pbkdf2_iterations = config->auth_settings.pbkdf2_iterations,
	};
	(void)password_scheme_parse(config->auth_settings.hash, &ps.scheme);
	if (drop_to_service_user(config) < 0)
		return 1;
	struct store_settings set;
	store_settings_from_config(&set, config);
	struct store *store;
	if (store_open(&set, &store, &error) < 0) {
		fprintf(stderr, "wdctl: store: %s\n", error);
		return 1;
	}
	struct pool *pool = pool_create(4096);
	char id[STORE_ID_SIZE], uid[STORE_ID_SIZE];
	int ret = 2;
	if (strcmp(cmd, "reindex") == 0 && argc == 2) {
		ret = reindex_command(config, store, pool, argv[1]);
	} else if (strcmp(cmd, "reindex") == 0 && argc == 3 && strcmp(sub, "--status") == 0) {
		ret = index_status_command(config, store, pool, argv[2]);
	} else if (strcmp(cmd, "user") == 0 && strcmp(sub, "create") == 0 &&
		   (argc == 4 || argc == 5)) {
		char *hash = password_hash(&ps, argv[3]);
		struct store_user u = { .username = argv[2], .password_hash = hash,
					.address = argc == 5 ? argv[4] : NULL };
		ret = hash != NULL && store_user_create(store, &u, id, &error) == 0 ? 0 : 1;
		if (ret == 0)
			printf("%s\n", id);
		else
			fprintf(stderr, "wdctl: user create: %s\n", hash == NULL ? "hash" : error);
		free(hash);
	} else if (strcmp(cmd, "user") == 0 && argc == 3 &&
		   (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0)) {
		struct store_user u = { .disabled = strcmp(sub, "disable") == 0 };
		ret = user_id_of(store, pool, argv[2], uid) == 0 &&
			store_user_update(store, uid, STORE_USER_DISABLED, &u, &error) == 0 ? 0 : 1;
	} else if (strcmp(cmd, "asp") == 0 && strcmp(sub, "create") == 0 &&
		   (argc == 4 || argc == 5)) {
		const char *scopes[8];
		unsigned int n = 0;
		char *list = xstrdup(argv[3]), *save = NULL;
		for (char *t = strtok_r(list, ",", &save); t != NULL && n < 8;
		     t = strtok_r(NULL, ",", &save))
			scopes[n++] = t;
		char password[PASSWORD_ASP_LEN + 1];
		password_asp_generate(password);
		char *hash = password_hash(&ps, password);
		struct store_asp a = { .description = argc == 5 ? argv[4] : NULL, .scopes = scopes,
				       .scopes_count = n, .password_hash = hash };
		ret = 1;
		if (hash != NULL && user_id_of(store, pool, argv[2], uid) == 0) {
			if (store_asp_create(store, uid, &a, id, &error) == 0) {
				printf("%s %s\n", id, password);
				ret = 0;
			} else {
				fprintf(stderr, "wdctl: asp create: %s\n", error);
			}
		}
		free(hash);
		free(list);
	} else if (strcmp(cmd, "totp") == 0 && ((strcmp(sub, "enable") == 0 && argc == 4) ||
					      (strcmp(sub, "disable") == 0 && argc == 3))) {
		bool on = strcmp(sub, "enable") == 0;
		ret = user_id_of(store, pool, argv[2], uid) == 0 &&
			store_totp_set(store, uid, on ? argv[3] : NULL, on, &error) == 0 ? 0 : 1;
	} else if (strcmp(cmd, "authlog") == 0 && argc == 2) {
		struct store_authlog_entry *e;
		unsigned int count;
		ret = 1;
		if (user_id_of(store, pool, argv[1], uid) == 0 &&
		    store_authlog_list(store, uid, (int64_t)time(NULL), 1000, pool, &e, &count,
				       &error) == 0) {
			for (unsigned int i = 0; i < count; i++)
				printf("%lld\t%s\t%s\t%s\t%s\t%s\n", (long long)e[i].created,
				       e[i].success ? "success" : "fail",
				       e[i].service != NULL ? e[i].service : "-",
				       e[i].remote_ip != NULL ? e[i].remote_ip : "-",
				       e[i].reason != NULL ? e[i].reason : "-",
				       e[i].asp != NULL ? e[i].asp : "-");
			ret = 0;
		}
	}
	if (ret == 2)
		ret = wdctl_import_command(store, pool, argc, argv);
	if (ret == 2) {
		fprintf(stderr, "wdctl: bad arguments for %s\n", cmd);
		usage(stderr);
	} else if (ret != 0 && store_last_error(store) != STORE_OK) {
		fprintf(stderr, "wdctl: %s: %s\n", cmd, store_error_name(store_last_error(store)));
	}
	pool_destroy(&pool);
	store_close(&store);
	return ret;
}

static void auth_done(const struct auth_result *r, void *ctx)
{
	int *ret = ctx;
	if (r->status == AUTH_OK) {
		printf("OK\t%s\t%s\t%s\n", r->user_id, r->username, r->flags);
		*ret = 0;
	} else {
		printf("%s\t%s\t%u\n", r->status == AUTH_FAIL ? "FAIL" : "TEMPFAIL", r->reason,
		       r->retry_after);
		*ret = r->status == AUTH_FAIL ? 1 : 3;
	}
}

/* Exit 0 OK, 1 FAIL, 3 TEMPFAIL. */
static int auth_command(struct config *config, int argc, char **argv)
{
	if (argc < 3 || argc > 6) {
		usage(stderr);
		return 2;
	}
	const char *path = auth_client_socket_path(config);
	if (path == NULL) {
		fprintf(stderr, "wdctl: the auth service has no unix listener\n");
		return 1;
	}
	struct event_base *base = event_base_new();
	struct auth_client *client = auth_client_create(base, path);
	auth_client_set_timeout(client, (unsigned int)config->auth_settings.request_timeout);
	struct auth_query q = { .username = argv[1], .secret = argv[2],
				.service = argc > 3 ? argv[3] : "imap",
				.remote_ip = argc > 4 ? argv[4] : "127.0.0.1",
				.scope = argc > 5 ? argv[5] : NULL };
	int ret = 3;
	(void)auth_client_lookup(client, &q, auth_done, &ret);
	while (auth_client_pending(client) > 0)
		event_base_loop(base, EVLOOP_ONCE);
	auth_client_free(&client);
	event_base_free(base);
	return ret;
}

int main(int argc, char **argv)
{
	const char *config_path = DEFAULT_CONFIG, *sock = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "+c:s:h")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 's': sock = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc && (strcmp(argv[optind], "user") == 0 || strcmp(argv[optind], "asp") == 0 ||
			      strcmp(argv[optind], "totp") == 0 ||
			      strcmp(argv[optind], "authlog") == 0 || strcmp(argv[optind], "auth") == 0 ||
			      strcmp(argv[optind], "reindex") == 0 ||
			      strcmp(argv[optind], "mailbox") == 0 ||
			      strcmp(argv[optind], "quota") == 0 ||
			      strcmp(argv[optind], "import-maildir") == 0 ||
			      strcmp(argv[optind], "export-mbox") == 0)) {
		struct config *config;
		const char *error;
		if (config_load_file(config_path, &config, &error) < 0) {
			fprintf(stderr, "wdctl: %s\n", error);
			return 1;
		}
		int ret = strcmp(argv[optind], "auth") == 0 ?
			auth_command(config, argc - optind, argv + optind) :
			store_command(config, argc - optind, argv + optind);
		config_free(&config);
		return ret;
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "reload") != 0 && strcmp(cmd, "stop") != 0) {
		fprintf(stderr, "wdctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	char *path = socket_path(config_path, sock);
	int fd = path != NULL ? control_connect(path) : -1;
	free(path);
	if (fd < 0)
		return 1;
	struct reply r;
	char upper[16];
	snprintf(upper, sizeof(upper), "%s", cmd);
	for (char *p = upper; *p; p++)
		*p = (char)(*p - 'a' + 'A');
	int ret = request(fd, upper, &r) == 0 && r.ok ? 0 : 1;
	if (ret != 0 && r.error != NULL)
		fprintf(stderr, "wdctl: %s failed: %s\n", cmd, r.error);
	else if (ret == 0 && strcmp(cmd, "status") == 0)
		print_status(&r);
	else if (ret == 0 && strcmp(cmd, "reload") == 0)
		printf("wdctl: reloaded (%s)\n", r.error != NULL ? r.error : "done");
	else if (ret == 0 && strcmp(cmd, "stop") == 0) {
		ret = wait_master_exit(fd) < 0 ? 1 : 0;
		if (ret == 0)
			printf("wdctl: stopped\n");
	}
	reply_free(&r);
	close(fd);
	return ret;
}
