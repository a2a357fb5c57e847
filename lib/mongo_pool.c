/* The process-wide mongoc client pools (mongo_pool.h), shared by the
 * MongoDB store driver and the MongoDB full-text index.
 *
 * One mongoc_client_pool_t per URI, options and process, made on first use
 * after fork/exec (DESIGN §2.2, LIBRARIES gotcha 8). A pool inherited
 * through a plain fork() (tests do that) belongs to the parent: its monitor
 * threads do not exist here, so the child makes its own and never touches
 * it. Pools live as long as the process. */
#include "mongo_pool.h"

#include "log.h"
#include "mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mongo_pool {
	struct mongo_pool *next;
	char *uri;
	char *appname;
	int32_t majority_wtimeout_msecs;
	char *indexed;		/* "\nkey\nkey\n": what mongo_pool_indexed_set() named */
	pid_t pid;
	mongoc_client_pool_t *clients;
};

static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mongo_pool *pools;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void log_mongoc(mongoc_log_level_t level, const char *domain, const char *message,
		       void *data)
{
	if (level <= MONGOC_LOG_LEVEL_WARNING)
		log_warn("event=mongoc_log domain=%s message=\"%s\"", domain, message);
	else if (level <= MONGOC_LOG_LEVEL_INFO)
		log_debug("event=mongoc_log domain=%s message=\"%s\"", domain, message);
}

static void global_init(void)
{
	mongoc_init();
	mongoc_log_set_handler(log_mongoc, NULL);
}

static bool pool_matches(const struct mongo_pool *p, pid_t pid, const char *uri,
			 const struct mongo_pool_options *options)
{
	return p->pid == pid && strcmp(p->uri, uri) == 0 &&
		strcmp(p->appname, options->appname) == 0 &&
		p->majority_wtimeout_msecs == options->majority_wtimeout_msecs;
}

static mongoc_uri_t *uri_with_defaults(const char *uri_string,
				       const struct mongo_pool_options *options,
				       bson_error_t *error)
{
	mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_string, error);
	if (uri == NULL)
		return NULL;
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
					       MONGO_POOL_SELECTION_TIMEOUT_MSECS);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS,
					       MONGO_POOL_SELECTION_TIMEOUT_MSECS);
	if (options->majority_wtimeout_msecs > 0 && !mongoc_uri_has_option(uri, MONGOC_URI_W)) {
		mongoc_write_concern_t *wc =
			mongoc_write_concern_copy(mongoc_uri_get_write_concern(uri));
		mongoc_write_concern_set_wmajority(wc, options->majority_wtimeout_msecs);
		mongoc_uri_set_write_concern(uri, wc);
		mongoc_write_concern_destroy(wc);
	}
	return uri;
}

struct mongo_pool *mongo_pool_get(const char *uri_string, const struct mongo_pool_options *options,
				  bson_error_t *error)
{
	pthread_once(&init_once, global_init);
	pid_t pid = getpid();
	pthread_mutex_lock(&pools_lock);
	struct mongo_pool *p;
	for (p = pools; p != NULL; p = p->next)
		if (pool_matches(p, pid, uri_string, options))
			break;
	if (p == NULL) {
		mongoc_uri_t *uri = uri_with_defaults(uri_string, options, error);
		if (uri != NULL) {
			p = xcalloc(1, sizeof(*p));
			p->uri = xstrdup(uri_string);
			p->appname = xstrdup(options->appname);
			p->majority_wtimeout_msecs = options->majority_wtimeout_msecs;
			p->indexed = xstrdup("\n");
			p->pid = pid;
			p->clients = mongoc_client_pool_new(uri);
			mongoc_client_pool_set_error_api(p->clients, MONGOC_ERROR_API_VERSION_2);
			mongoc_client_pool_set_appname(p->clients, options->appname);
			mongoc_uri_destroy(uri);
			p->next = pools;
			pools = p;
		}
	}
	pthread_mutex_unlock(&pools_lock);
	return p;
}

mongoc_client_pool_t *mongo_pool_clients(struct mongo_pool *pool)
{
	return pool->clients;
}

bool mongo_pool_indexed(struct mongo_pool *pool, const char *key)
{
	char *needle = xasprintf("\n%s\n", key);
	pthread_mutex_lock(&pools_lock);
	bool done = strstr(pool->indexed, needle) != NULL;
	pthread_mutex_unlock(&pools_lock);
	free(needle);
	return done;
}

void mongo_pool_indexed_set(struct mongo_pool *pool, const char *key)
{
	pthread_mutex_lock(&pools_lock);
	char *joined = xasprintf("%s%s\n", pool->indexed, key);
	free(pool->indexed);
	pool->indexed = joined;
	pthread_mutex_unlock(&pools_lock);
}
