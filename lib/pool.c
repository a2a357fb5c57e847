/* Arena allocator: a list of blocks, bump allocation inside the newest. */
#include "pool.h"
#include "mem.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_ALIGN alignof(max_align_t)

struct pool_block {
	struct pool_block *next;
	size_t size, used;
	alignas(max_align_t) unsigned char data[];
};

struct pool {
	struct pool_block *blocks; /* newest first; the last is the first block */
	size_t chunk_size;
	size_t used;
};

static struct pool_block *block_new(size_t size)
{
	struct pool_block *b = xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct pool *pool_create(size_t chunk_size)
{
	struct pool *pool = xcalloc(1, sizeof(*pool));
	pool->chunk_size = chunk_size < 256 ? 256 : chunk_size;
	pool->blocks = block_new(pool->chunk_size);
	return pool;
}

void pool_clear(struct pool *pool)
{
	struct pool_block *b = pool->blocks;
	while (b->next != NULL) {
		struct pool_block *next = b->next;
		free(b);
		b = next;
	}
	b->used = 0;
	pool->blocks = b;
	pool->used = 0;
}

void pool_destroy(struct pool **poolp)
{
	struct pool *pool = *poolp;
	if (pool == NULL)
		return;
	pool_clear(pool);
	free(pool->blocks);
	free(pool);
	*poolp = NULL;
}

void *pool_alloc(struct pool *pool, size_t size)
{
	size_t rounded = (size + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1);
	if (rounded < size)
		return xmalloc(SIZE_MAX); /* overflow: fatal */
	struct pool_block *b = pool->blocks;
	if (b->size - b->used < rounded) {
		size_t bsize = pool->chunk_size;
		while (bsize < rounded)
			bsize *= 2;
		struct pool_block *nb = block_new(bsize);
		nb->next = b;
		pool->blocks = b = nb;
	}
	void *p = b->data + b->used;
	b->used += rounded;
	pool->used += size;
	memset(p, 0, size);
	return p;
}

char *pool_strndup(struct pool *pool, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = pool_alloc(pool, len + 1);
	memcpy(p, s, len);
	return p;
}

char *pool_strdup(struct pool *pool, const char *s)
{
	return pool_strndup(pool, s, strlen(s));
}

char *pool_printf(struct pool *pool, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = pool_alloc(pool, n > 0 ? (size_t)n + 1 : 1);
	if (n > 0)
		vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

size_t pool_used(const struct pool *pool)
{
	return pool->used;
}
