/* Logging: one line per event, `key=value` fields after an `event=` key.
 * In the foreground lines go to stderr with a timestamp, otherwise to
 * syslog(3). Never log passwords or message bodies. */
#ifndef WD_LOG_H
#define WD_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* ident names the process in every line ("wildduck", "imap", ...). */
void log_open(const char *ident, bool to_stderr);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Returns 0 and sets *level_r for "error", "warn", "info" or "debug". */
int log_level_parse(const char *name, enum log_level *level_r);
const char *log_level_name(enum log_level level);

/* Also sends every line as GELF over UDP to address (HOST:PORT); the
 * process's ident is the _service field. Returns -1 with *error_r. */
int log_gelf_open(const char *address, const char *facility, bool compress, const char **error_r);
void log_gelf_close(void);
/* The session id appended (as session=) to lines of this thread that lack
 * one, while a connection's callback runs; NULL clears it. */
void log_set_session(const char *session_id);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
