/* Prometheus metrics of the whole suite: a fixed, versioned table of
 * uint64 counters in one memfd the master creates at start and every
 * worker maps shared (master_proto.h MASTER_ENV_METRICS_FD), so counters
 * survive worker restarts and need no IPC; and the text exposition writer
 * (format 0.0.4) the master serves. Not a general metrics library: a new
 * metric is a field here, a hook and a block in metrics_write(). */
#ifndef WD_METRICS_H
#define WD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"

#define METRICS_MAGIC 0x5744534d45545231ULL /* "WDSMETR1" */
#define METRICS_VERSION 2

/* The services, in config_service_names order. */
enum metrics_service {
	METRICS_SVC_IMAP, METRICS_SVC_LMTP, METRICS_SVC_POP3, METRICS_SVC_API,
	METRICS_SVC_AUTH, METRICS_SVC_INDEXER, METRICS_SVC_COUNT
};

/* IMAP commands by class: a label per command would let a client invent
 * label values; unknown commands count as "other". */
enum metrics_imap_class {
	METRICS_IMAP_AUTH, METRICS_IMAP_SELECT, METRICS_IMAP_FETCH, METRICS_IMAP_STORE,
	METRICS_IMAP_SEARCH, METRICS_IMAP_APPEND, METRICS_IMAP_COPY, METRICS_IMAP_EXPUNGE,
	METRICS_IMAP_LIST, METRICS_IMAP_IDLE, METRICS_IMAP_OTHER, METRICS_IMAP_CLASS_COUNT
};

enum metrics_lmtp_result {
	METRICS_LMTP_DELIVERED, METRICS_LMTP_TEMPFAIL, METRICS_LMTP_REJECTED, METRICS_LMTP_COUNT
};

enum metrics_auth_result {
	METRICS_AUTH_OK, METRICS_AUTH_FAIL, METRICS_AUTH_TEMPFAIL, METRICS_AUTH_COUNT
};

enum metrics_store_error { METRICS_STORE_TEMPORARY, METRICS_STORE_INTERNAL, METRICS_STORE_COUNT };

/* HTTP API replies by status class: 1xx..5xx. */
#define METRICS_API_CLASS_COUNT 5

/* Upper bounds of the latency buckets in milliseconds; the last bucket is +Inf. */
#define METRICS_BUCKETS 8
extern const unsigned metrics_bucket_ms[METRICS_BUCKETS - 1];

/* The shared layout. Buckets are stored non-cumulative (one increment per
 * observation); the writer sums them. A change of layout bumps
 * METRICS_VERSION: a worker refuses an area of another version. */
struct metrics_area {
	uint64_t magic;
	uint32_t version;
	uint32_t size;
	_Atomic uint64_t connections_total[METRICS_SVC_COUNT];
	_Atomic uint64_t worker_restarts[METRICS_SVC_COUNT];
	_Atomic uint64_t imap_commands[METRICS_IMAP_CLASS_COUNT];
	_Atomic uint64_t imap_bucket[METRICS_IMAP_CLASS_COUNT][METRICS_BUCKETS];
	_Atomic uint64_t imap_usec_sum[METRICS_IMAP_CLASS_COUNT];
	_Atomic uint64_t lmtp_deliveries[METRICS_LMTP_COUNT];
	_Atomic uint64_t auth_attempts[METRICS_AUTH_COUNT];
	_Atomic uint64_t store_errors[METRICS_STORE_COUNT];
	_Atomic uint64_t api_requests[METRICS_API_CLASS_COUNT];
};

/* Master: creates the memfd (close-on-exec; the supervisor passes it on)
 * and maps it for this process. */
int metrics_create(int *fd_r, const char **error_r);
/* Worker: maps the area the master handed over and closes fd; service is
 * the worker's own (connections count for it). Without an area (-1, a
 * wrong version, wdctl) every hook does nothing. */
int metrics_attach(int fd, const char *service, const char **error_r);
/* This process's mapping (NULL before create/attach). */
struct metrics_area *metrics_area(void);
void metrics_detach(void);

/* Hooks: one call where the event happens. */
void metrics_connection(void);
void metrics_imap_command(const char *name, uint64_t usec);
void metrics_lmtp_delivery(int code); /* 2xx delivered, 4xx tempfail, else rejected */
void metrics_auth(enum metrics_auth_result result);
void metrics_store_error(enum metrics_store_error error);
void metrics_api_request(int status); /* an HTTP API reply's status */
void metrics_worker_restart(const char *service);

enum metrics_imap_class metrics_imap_class(const char *name);
/* -1 for a name that is no service. */
int metrics_service_id(const char *name);

/* Appends the exposition text of area to out; connections_current comes
 * from the caller (the master counts it from worker status reports, which
 * stay right when a worker dies with connections open). */
void metrics_write(struct buffer *out, const struct metrics_area *area,
		   const uint64_t connections_current[METRICS_SVC_COUNT]);

#endif
