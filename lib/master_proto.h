/* The whole contract between the master (wildduck) and the workers it
 * forks and execs: which file descriptors a worker inherits, what the
 * environment says, the status report and the signals. */
#ifndef WD_MASTER_PROTO_H
#define WD_MASTER_PROTO_H

#include <stdint.h>
#include <sys/types.h>

/* Inherited descriptors. */
#define MASTER_FD_STATUS 3       /* worker -> master: struct master_status writes */
#define MASTER_FD_ALIVE 4        /* read end; EOF means the master is gone */
#define MASTER_FD_LISTEN_FIRST 5 /* listeners from here on, WD_LISTEN_COUNT of them */

/* Environment. */
#define MASTER_ENV_LISTEN_COUNT "WD_LISTEN_COUNT" /* number of listeners */
#define MASTER_ENV_LISTEN_PREFIX "WD_LISTEN"      /* WD_LISTEN<n>=address,tls|plain[,proxy] */
#define MASTER_ENV_CONFIG_FD "WD_CONFIG_FD"       /* memfd holding the validated YAML text */
#define MASTER_ENV_CONFIG_PATH "WD_CONFIG_PATH"   /* where that text came from */
#define MASTER_ENV_TLS_FD "WD_TLS_FD"             /* memfd of certificates, see tls.h */
#define MASTER_ENV_METRICS_FD "WD_METRICS_FD"     /* memfd of shared counters, see metrics.h;
						   * mapped MAP_SHARED, the same for every
						   * generation */
#define MASTER_ENV_GENERATION "WD_GENERATION"
#define MASTER_ENV_SERVICE "WD_SERVICE"
#define MASTER_ENV_FOREGROUND "WD_FOREGROUND"     /* "1": log to stderr */

/* A worker writes one of these at start, whenever its number of free
 * connection slots changes and at least every MASTER_STATUS_INTERVAL
 * seconds. It is smaller than PIPE_BUF, so writes never interleave. */
struct master_status {
	int32_t pid;
	uint32_t generation;
	int32_t available_slots; /* connections it can still take */
	int32_t connections;     /* connections it serves now */
	int32_t flags;           /* MASTER_STATUS_* */
};

/* The worker has stopped accepting (drain or stop). */
#define MASTER_STATUS_DRAINING 0x1

#define MASTER_STATUS_INTERVAL 5

/* Signals the master sends:
 *   SIGTERM  stop: stop accepting, tell clients goodbye, finish, exit;
 *   SIGUSR1  drain (after a reload): stop accepting, keep serving the
 *            connections it has, exit when the last one closes. */
#define MASTER_SIGNAL_DRAIN SIGUSR1

#endif
