/* Memory pool (arena) for one connection or one request.
 * Allocations are freed all at once by pool_clear() or pool_destroy();
 * nothing allocated from a pool is freed on its own. */
#ifndef WD_POOL_H
#define WD_POOL_H

#include <stdarg.h>
#include <stddef.h>

struct pool;

/* chunk_size is a hint for the first block; larger requests get their own. */
struct pool *pool_create(size_t chunk_size);
void pool_destroy(struct pool **pool);
/* Frees everything allocated so far but keeps the first block for reuse. */
void pool_clear(struct pool *pool);

/* Returns zeroed memory aligned for any type. */
void *pool_alloc(struct pool *pool, size_t size);
char *pool_strdup(struct pool *pool, const char *s);
char *pool_strndup(struct pool *pool, const char *s, size_t n);
char *pool_printf(struct pool *pool, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Bytes handed out since creation or the last clear (for accounting). */
size_t pool_used(const struct pool *pool);

#endif
