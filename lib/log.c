/* Logging to stderr (foreground, with timestamps) or syslog. */
#include "log.h"
#include "gelf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_ident[32] = "wildduck";
static bool log_stderr = true;
static enum log_level log_min = LOG_LEVEL_INFO;
static struct gelf *log_gelf;
static __thread const char *log_session;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_syslog[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_open(const char *ident, bool to_stderr)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_stderr = to_stderr;
	if (!to_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(enum log_level level) { log_min = level; }
void log_set_session(const char *session_id) { log_session = session_id; }

int log_gelf_open(const char *address, const char *facility, bool compress, const char **error_r)
{
	struct gelf *g;
	if (gelf_open(address, facility, log_ident, compress, &g, error_r) < 0)
		return -1;
	gelf_close(&log_gelf);
	log_gelf = g;
	return 0;
}

void log_gelf_close(void) { gelf_close(&log_gelf); }
enum log_level log_get_level(void) { return log_min; }

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

int log_level_parse(const char *name, enum log_level *level_r)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void log_write(enum log_level level, const char *fmt, va_list ap)
{
	if (level > log_min)
		return;
	/* One write() per line so lines of several processes never interleave. */
	char line[4096];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(tv.tv_usec / 1000), log_ident, (int)getpid(),
			 level_names[level]);
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len] = '\0';
	if (log_session != NULL && strstr(line + n, "session=") == NULL) {
		int k = snprintf(line + len, sizeof(line) - len - 1, " session=%s", log_session);
		if (k > 0)
			len = len + (size_t)k > sizeof(line) - 2 ? sizeof(line) - 2 : len + (size_t)k;
	}
	/* control characters would let a client forge log lines */
	for (size_t i = (size_t)n; i < len; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	line[len] = '\0';
	if (log_gelf != NULL)
		gelf_send(log_gelf, level_syslog[level], line + n);
	if (!log_stderr) {
		syslog(level_syslog[level], "%s", line + n);
		return;
	}
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);
}

#define LOG_FN(name, level) \
	void name(const char *fmt, ...) \
	{ \
		va_list ap; \
		va_start(ap, fmt); \
		log_write(level, fmt, ap); \
		va_end(ap); \
	}

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

void log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}
