/* The process-wide mongoc client pools that the MongoDB store driver and
 * the MongoDB full-text index draw their clients from: one pool per URI,
 * user (its options) and process, made on first use after fork/exec.
 * Not for talking to the server: callers pop and push clients themselves. */
#ifndef MONGO_POOL_H
#define MONGO_POOL_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

/* What a user of the registry sets on its pools; the URI wins where it
 * says otherwise. Two users with different options never share a pool. */
struct mongo_pool_options {
	const char *appname;		/* the handshake's application name */
	/* > 0: write concern "majority" with this wtimeout unless the URI
	 * sets w; 0: the URI's (or mongoc's) write concern */
	int32_t majority_wtimeout_msecs;
};

/* Server selection and connect timeout unless the URI sets them: an
 * unreachable server fails a call within seconds, not mongoc's 30. */
#define MONGO_POOL_SELECTION_TIMEOUT_MSECS 5000

struct mongo_pool;

/* The pool for uri and options in this process, made on first use. A pool
 * made by another pid (inherited through a plain fork) is never returned.
 * NULL with error set if the URI does not parse. */
struct mongo_pool *mongo_pool_get(const char *uri, const struct mongo_pool_options *options,
				  bson_error_t *error);
mongoc_client_pool_t *mongo_pool_clients(struct mongo_pool *pool);

/* Whether mongo_pool_indexed_set(pool, key) was called before in this
 * process: lets a user create its indexes once per pool and database. */
bool mongo_pool_indexed(struct mongo_pool *pool, const char *key);
void mongo_pool_indexed_set(struct mongo_pool *pool, const char *key);

#endif
