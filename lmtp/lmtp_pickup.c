/* The outbound spool's own pickup, when lmtp.sendmail is set: each file of
 * new/ is claimed by renaming it into cur/ (with the worker's pid, so
 * several workers never send one file twice), its envelope block is read,
 * and the command runs with posix_spawn(3), without a shell, with the
 * message after the envelope block on its standard input. Exit status 0
 * removes the file; anything else puts it back into new/ with its mtime
 * set to when it may be tried again (PICKUP_RETRY_MSECS later), so one
 * failing file holds back no other.
 * One command at a time per worker, polled from a timer on the loop (the
 * workers do not handle SIGCHLD). Not for: writing the spool
 * (lmtp_outbound.c), or speaking SMTP itself. */
#include "lmtp.h"

#include "log.h"
#include "mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PICKUP_IDLE_MSECS 1000		/* spool empty: look again */
#define PICKUP_BUSY_MSECS 20		/* a command runs: poll it */
#define PICKUP_RETRY_MSECS 30000	/* a failed file or command: wait this long */

static struct {
	struct event *timer;
	const char *spool;
	char **words;			/* the command split at spaces */
	unsigned int words_count;
	pid_t child;
	char claimed[4096];		/* cur/NAME.PID of the running command */
	char name[1024];		/* NAME */
} pk;

static void pickup_schedule(unsigned int msecs)
{
	struct timeval tv = { msecs / 1000, (msecs % 1000) * 1000 };
	evtimer_add(pk.timer, &tv);
}

/* Puts a claimed file back into new/ for another try. */
static void pickup_unclaim(const char *claimed, const char *name)
{
	char dst[4096];
	snprintf(dst, sizeof(dst), "%s/new/%s", pk.spool, name);
	if (rename(claimed, dst) < 0)
		log_error("event=outbound_unclaim_failed file=%s error=\"rename(%s) failed: %m\"",
			  claimed, dst);
}

/* Files of dead workers in cur/ go back to new/. */
static void pickup_recover(void)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/cur", pk.spool);
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *dot = strrchr(e->d_name, '.');
		if (e->d_name[0] == '.' || dot == NULL)
			continue;
		long pid = strtol(dot + 1, NULL, 10);
		if (pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		char claimed[4096], name[1024];
		if (snprintf(claimed, sizeof(claimed), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(claimed) ||
		    snprintf(name, sizeof(name), "%.*s", (int)(dot - e->d_name), e->d_name) >=
		    (int)sizeof(name))
			continue;
		pickup_unclaim(claimed, name);
	}
	closedir(d);
}

/* The envelope block: sender, recipients, and where the message starts. */
static int envelope_read(FILE *f, char **sender_r, char ***rcpts_r, unsigned int *count_r,
			 long *offset_r)
{
	char *line = NULL, **rcpts = NULL;
	size_t cap = 0;
	unsigned int count = 0;
	ssize_t len;
	*sender_r = NULL;
	long offset = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *value;
		bool first = offset == 0;
		if (first && strncmp(line, "Return-Path: <", 14) == 0)
			value = line + 14;
		else if (!first && strncmp(line, "X-Envelope-To: <", 16) == 0)
			value = line + 16;
		else
			break;
		if (len == 0 || line[len - 1] != '>')
			break;
		line[len - 1] = '\0';
		if (first) {
			*sender_r = xstrdup(value);
		} else {
			rcpts = xrealloc(rcpts, (count + 1) * sizeof(*rcpts));
			rcpts[count++] = xstrdup(value);
		}
		offset = ftell(f);
	}
	free(line);
	*rcpts_r = rcpts;
	*count_r = count;
	*offset_r = offset;
	return *sender_r != NULL && count > 0 ? 0 : -1;
}

static void strings_free(char **list, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

/* Runs the command on one claimed file: 0 started, -1 failed (the file
 * goes back), 1 the file was malformed and set aside. */
static int pickup_spawn(void)
{
	FILE *f = fopen(pk.claimed, "re");
	if (f == NULL) {
		log_error("event=outbound_open_failed error=\"fopen(%s) failed: %m\"", pk.claimed);
		return -1;
	}
	char *sender, **rcpts;
	unsigned int count;
	long offset;
	if (envelope_read(f, &sender, &rcpts, &count, &offset) < 0) {
		/* set aside (not *.eml any more), so it blocks nothing */
		char bad[4096];
		snprintf(bad, sizeof(bad), "%s/new/%s.bad", pk.spool, pk.name);
		log_error("event=outbound_bad_file file=%s error=\"no envelope block\"", bad);
		if (rename(pk.claimed, bad) < 0)
			log_error("event=outbound_bad_file error=\"rename(%s) failed: %m\"", bad);
		free(sender);
		strings_free(rcpts, count);
		fclose(f);
		return 1;
	}
	char **argv = xcalloc(pk.words_count + count + 1, sizeof(*argv));
	unsigned int argc = 0;
	for (unsigned int i = 0; i < pk.words_count; i++) {
		if (strcmp(pk.words[i], "{recipients}") == 0)
			for (unsigned int j = 0; j < count; j++)
				argv[argc++] = rcpts[j];
		else if (strcmp(pk.words[i], "{sender}") == 0)
			argv[argc++] = sender;
		else
			argv[argc++] = pk.words[i];
	}
	int fd = fileno(f);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, deflt;
	sigemptyset(&none);
	sigfillset(&deflt);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, STDIN_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int ret = lseek(fd, offset, SEEK_SET) < 0 ? errno :
		  posix_spawn(&pk.child, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (ret != 0) {
		errno = ret;
		log_error("event=outbound_spawn_failed command=%s error=\"posix_spawn failed: %m\"",
			  argv[0]);
		pk.child = 0;
	} else {
		log_debug("event=outbound_spawned file=%s pid=%ld rcpts=%u", pk.name,
			  (long)pk.child, count);
	}
	free(argv);
	free(sender);
	strings_free(rcpts, count);
	fclose(f);
	return ret == 0 ? 0 : -1;
}

/* Claims the next file of new/; false if there is none. */
static bool pickup_claim(void)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/new", pk.spool);
	DIR *d = opendir(dir);
	if (d == NULL)
		return false;
	struct dirent *e;
	bool claimed = false;
	time_t now = time(NULL);
	while (!claimed && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 4 || strcmp(e->d_name + len - 4, ".eml") != 0 ||
		    len >= sizeof(pk.name))
			continue;
		char src[4096];
		struct stat st;
		if (snprintf(src, sizeof(src), "%s/%s", dir, e->d_name) >= (int)sizeof(src) ||
		    stat(src, &st) < 0 || st.st_mtime > now ||
		    snprintf(pk.claimed, sizeof(pk.claimed), "%s/cur/%s.%ld", pk.spool, e->d_name,
			     (long)getpid()) >= (int)sizeof(pk.claimed))
			continue;
		if (rename(src, pk.claimed) == 0) {
			snprintf(pk.name, sizeof(pk.name), "%s", e->d_name);
			claimed = true;
		}
	}
	closedir(d);
	return claimed;
}

static void pickup_tick(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	(void)ctx;
	if (pk.child > 0) {
		int status;
		pid_t r = waitpid(pk.child, &status, WNOHANG);
		if (r == 0) {
			pickup_schedule(PICKUP_BUSY_MSECS);
			return;
		}
		pk.child = 0;
		if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			if (unlink(pk.claimed) < 0)
				log_error("event=outbound_unlink_failed error=\"unlink(%s) failed: %m\"",
					  pk.claimed);
			log_info("event=outbound_sent file=%s", pk.name);
		} else {
			log_warn("event=outbound_send_failed file=%s status=%d", pk.name,
				 r < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
				 WTERMSIG(status));
			/* its mtime says when to try it again; the others go on */
			struct timespec t[2] = { { 0, UTIME_OMIT },
						 { time(NULL) + PICKUP_RETRY_MSECS / 1000, 0 } };
			if (utimensat(AT_FDCWD, pk.claimed, t, 0) < 0)
				log_error("event=outbound_retry_failed error=\"utimensat(%s) failed: %m\"",
					  pk.claimed);
			pickup_unclaim(pk.claimed, pk.name);
		}
	}
	if (!pickup_claim()) {
		pickup_schedule(PICKUP_IDLE_MSECS);
		return;
	}
	int ret = pickup_spawn();
	if (ret < 0) {
		pickup_unclaim(pk.claimed, pk.name);
		pickup_schedule(PICKUP_RETRY_MSECS);
		return;
	}
	pickup_schedule(ret == 0 ? PICKUP_BUSY_MSECS : 0);
}

int lmtp_pickup_start(struct event_base *base, const char *spool, const char *command,
		      const char **error_r)
{
	char *copy = xstrdup(command), *save = NULL;
	for (char *w = strtok_r(copy, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		pk.words = xrealloc(pk.words, (pk.words_count + 1) * sizeof(*pk.words));
		pk.words[pk.words_count++] = xstrdup(w);
	}
	free(copy);
	if (pk.words_count == 0 || pk.words[0][0] != '/') {
		*error_r = "lmtp.sendmail must start with an absolute path";
		return -1;
	}
	pk.spool = spool;
	pk.timer = evtimer_new(base, pickup_tick, NULL);
	pickup_recover();
	pickup_schedule(0);
	return 0;
}

void lmtp_pickup_stop(void)
{
	if (pk.timer == NULL)
		return;
	event_free(pk.timer);
	pk.timer = NULL;
	if (pk.child > 0) {
		/* let it finish: the file stays claimed and goes back to new/ at
		 * the next start if it was not sent */
		int status;
		if (waitpid(pk.child, &status, 0) == pk.child && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			(void)unlink(pk.claimed);
		else
			pickup_unclaim(pk.claimed, pk.name);
		pk.child = 0;
	}
	strings_free(pk.words, pk.words_count);
	pk.words = NULL;
	pk.words_count = 0;
}
