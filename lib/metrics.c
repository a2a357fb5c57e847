/* The shared counter area and the Prometheus text writer; see metrics.h.
 * Increments are relaxed atomics: counters need no ordering with anything
 * else, and a scrape that sees one counter a moment before another is
 * what every Prometheus client library gives too. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const unsigned metrics_bucket_ms[METRICS_BUCKETS - 1] = { 1, 5, 10, 50, 100, 500, 1000 };

static const char *const service_names[METRICS_SVC_COUNT] = {
	"imap", "lmtp", "pop3", "api", "auth", "indexer",
};
static const char *const imap_class_names[METRICS_IMAP_CLASS_COUNT] = {
	"auth", "select", "fetch", "store", "search", "append", "copy", "expunge", "list",
	"idle", "other",
};
static const char *const lmtp_result_names[METRICS_LMTP_COUNT] = {
	"delivered", "tempfail", "rejected",
};
static const char *const auth_result_names[METRICS_AUTH_COUNT] = { "ok", "fail", "tempfail" };
static const char *const store_error_names[METRICS_STORE_COUNT] = { "temporary", "internal" };

static struct metrics_area *area;
static int own_service = -1;

#define INC(field) atomic_fetch_add_explicit(&(field), 1, memory_order_relaxed)

static size_t area_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t p = page > 0 ? (size_t)page : 4096;
	return (sizeof(struct metrics_area) + p - 1) / p * p;
}

int metrics_create(int *fd_r, const char **error_r)
{
	static char err[128];
	size_t size = area_size();
	int fd = memfd_create("wildduck-metrics", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		snprintf(err, sizeof(err), "metrics memfd: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		*error_r = err;
		return -1;
	}
	/* workers map it writable, but none may resize it under the others */
	fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, sizeof(err), "metrics mmap: %s", strerror(errno));
		close(fd);
		*error_r = err;
		return -1;
	}
	area = p;
	area->magic = METRICS_MAGIC;
	area->version = METRICS_VERSION;
	area->size = (uint32_t)sizeof(struct metrics_area);
	*fd_r = fd;
	return 0;
}

int metrics_attach(int fd, const char *service, const char **error_r)
{
	size_t size = area_size();
	struct stat st;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < size) {
		close(fd);
		*error_r = "metrics area missing or too small";
		return -1;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		*error_r = "metrics mmap failed";
		return -1;
	}
	struct metrics_area *a = p;
	if (a->magic != METRICS_MAGIC || a->version != METRICS_VERSION ||
	    a->size != sizeof(struct metrics_area)) {
		munmap(p, size);
		*error_r = "metrics area of another version";
		return -1;
	}
	area = a;
	own_service = metrics_service_id(service);
	return 0;
}

struct metrics_area *metrics_area(void) { return area; }

void metrics_detach(void)
{
	if (area != NULL)
		munmap(area, area_size());
	area = NULL;
}

int metrics_service_id(const char *name)
{
	for (int i = 0; name != NULL && i < METRICS_SVC_COUNT; i++)
		if (strcmp(service_names[i], name) == 0)
			return i;
	return -1;
}

void metrics_connection(void)
{
	if (area != NULL && own_service >= 0)
		INC(area->connections_total[own_service]);
}

enum metrics_imap_class metrics_imap_class(const char *name)
{
	static const struct { const char *name; enum metrics_imap_class cls; } map[] = {
		{ "LOGIN", METRICS_IMAP_AUTH }, { "AUTHENTICATE", METRICS_IMAP_AUTH },
		{ "SELECT", METRICS_IMAP_SELECT }, { "EXAMINE", METRICS_IMAP_SELECT },
		{ "FETCH", METRICS_IMAP_FETCH }, { "STORE", METRICS_IMAP_STORE },
		{ "SEARCH", METRICS_IMAP_SEARCH }, { "SORT", METRICS_IMAP_SEARCH },
		{ "THREAD", METRICS_IMAP_SEARCH }, { "APPEND", METRICS_IMAP_APPEND },
		{ "COPY", METRICS_IMAP_COPY }, { "MOVE", METRICS_IMAP_COPY },
		{ "EXPUNGE", METRICS_IMAP_EXPUNGE }, { "LIST", METRICS_IMAP_LIST },
		{ "LSUB", METRICS_IMAP_LIST }, { "STATUS", METRICS_IMAP_LIST },
		{ "IDLE", METRICS_IMAP_IDLE },
	};
	for (size_t i = 0; name != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(map[i].name, name) == 0)
			return map[i].cls;
	return METRICS_IMAP_OTHER;
}

void metrics_imap_command(const char *name, uint64_t usec)
{
	if (area == NULL)
		return;
	enum metrics_imap_class cls = metrics_imap_class(name);
	unsigned b = 0;
	while (b < METRICS_BUCKETS - 1 && usec > (uint64_t)metrics_bucket_ms[b] * 1000)
		b++;
	INC(area->imap_commands[cls]);
	INC(area->imap_bucket[cls][b]);
	atomic_fetch_add_explicit(&area->imap_usec_sum[cls], usec, memory_order_relaxed);
}

void metrics_lmtp_delivery(int code)
{
	if (area != NULL)
		INC(area->lmtp_deliveries[code / 100 == 2 ? METRICS_LMTP_DELIVERED
					  : code / 100 == 4 ? METRICS_LMTP_TEMPFAIL
					  : METRICS_LMTP_REJECTED]);
}

void metrics_auth(enum metrics_auth_result result)
{
	if (area != NULL && (unsigned)result < METRICS_AUTH_COUNT)
		INC(area->auth_attempts[result]);
}

void metrics_store_error(enum metrics_store_error error)
{
	if (area != NULL && (unsigned)error < METRICS_STORE_COUNT)
		INC(area->store_errors[error]);
}

void metrics_api_request(int status)
{
	if (area != NULL && status >= 100 && status < 600)
		INC(area->api_requests[status / 100 - 1]);
}

void metrics_worker_restart(const char *service)
{
	int id = metrics_service_id(service);
	if (area != NULL && id >= 0)
		INC(area->worker_restarts[id]);
}

/* ---- exposition ---- */

#define LOAD(field) atomic_load_explicit(&(field), memory_order_relaxed)

static void header(struct buffer *out, const char *name, const char *type, const char *help)
{
	buffer_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void labelled(struct buffer *out, const char *name, const char *label,
		     const char *const *values, const _Atomic uint64_t *counters, size_t count)
{
	for (size_t i = 0; i < count; i++)
		buffer_printf(out, "%s{%s=\"%s\"} %llu\n", name, label, values[i],
			      (unsigned long long)LOAD(counters[i]));
}

void metrics_write(struct buffer *out, const struct metrics_area *a,
		   const uint64_t connections_current[METRICS_SVC_COUNT])
{
	header(out, "wildduck_connections_total", "counter",
	       "Connections accepted, by service.");
	labelled(out, "wildduck_connections_total", "service", service_names,
		 a->connections_total, METRICS_SVC_COUNT);
	header(out, "wildduck_connections_current", "gauge",
	       "Connections open now, by service.");
	for (int i = 0; i < METRICS_SVC_COUNT; i++)
		buffer_printf(out, "wildduck_connections_current{service=\"%s\"} %llu\n",
			      service_names[i],
			      (unsigned long long)(connections_current != NULL ? connections_current[i] : 0));
	header(out, "wildduck_imap_commands_total", "counter",
	       "IMAP commands completed, by command class.");
	labelled(out, "wildduck_imap_commands_total", "class", imap_class_names, a->imap_commands,
		 METRICS_IMAP_CLASS_COUNT);
	header(out, "wildduck_imap_command_duration_seconds", "histogram",
	       "Time from an IMAP command's line to its tagged reply, by command class.");
	for (int c = 0; c < METRICS_IMAP_CLASS_COUNT; c++) {
		uint64_t cumulative = 0;
		for (int b = 0; b < METRICS_BUCKETS; b++) {
			cumulative += LOAD(a->imap_bucket[c][b]);
			char le[16];
			if (b < METRICS_BUCKETS - 1)
				snprintf(le, sizeof(le), "%g", metrics_bucket_ms[b] / 1000.0);
			else
				snprintf(le, sizeof(le), "+Inf");
			buffer_printf(out,
				      "wildduck_imap_command_duration_seconds_bucket{class=\"%s\",le=\"%s\"} %llu\n",
				      imap_class_names[c], le, (unsigned long long)cumulative);
		}
		uint64_t usec = LOAD(a->imap_usec_sum[c]);
		buffer_printf(out, "wildduck_imap_command_duration_seconds_sum{class=\"%s\"} %llu.%06llu\n",
			      imap_class_names[c], (unsigned long long)(usec / 1000000),
			      (unsigned long long)(usec % 1000000));
		/* the +Inf bucket, not imap_commands: a scrape between the
		 * increments must still see _count equal to +Inf */
		buffer_printf(out, "wildduck_imap_command_duration_seconds_count{class=\"%s\"} %llu\n",
			      imap_class_names[c], (unsigned long long)cumulative);
	}
	header(out, "wildduck_lmtp_deliveries_total", "counter",
	       "LMTP recipients answered after DATA, by result.");
	labelled(out, "wildduck_lmtp_deliveries_total", "result", lmtp_result_names,
		 a->lmtp_deliveries, METRICS_LMTP_COUNT);
	header(out, "wildduck_auth_attempts_total", "counter",
	       "Authentication attempts answered by wd-auth, by result.");
	labelled(out, "wildduck_auth_attempts_total", "result", auth_result_names,
		 a->auth_attempts, METRICS_AUTH_COUNT);
	header(out, "wildduck_store_errors_total", "counter",
	       "Store calls that failed by a fault of the server, by kind.");
	labelled(out, "wildduck_store_errors_total", "kind", store_error_names, a->store_errors,
		 METRICS_STORE_COUNT);
	static const char *const api_class_names[METRICS_API_CLASS_COUNT] = {
		"1xx", "2xx", "3xx", "4xx", "5xx",
	};
	header(out, "wildduck_api_requests_total", "counter",
	       "HTTP API replies, by status class.");
	labelled(out, "wildduck_api_requests_total", "code", api_class_names, a->api_requests,
		 METRICS_API_CLASS_COUNT);
	header(out, "wildduck_worker_restarts_total", "counter",
	       "Workers restarted by the master after they exited, by service.");
	labelled(out, "wildduck_worker_restarts_total", "service", service_names,
		 a->worker_restarts, METRICS_SVC_COUNT);
}
