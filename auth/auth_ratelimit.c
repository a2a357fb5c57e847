/* In-memory failure counters: a chained hash table; expired entries are
 * dropped whenever their bucket is visited and by a sweep every few
 * thousand hits, so memory follows the keys active within a window. */
#include "auth_ratelimit.h"

#include "mem.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096
#define SWEEP_EVERY 4096

struct entry {
	struct entry *next;
	int64_t reset_ms;
	int count;
	char key[];
};

struct ratelimit {
	struct entry *buckets[BUCKETS];
	unsigned int hits;
};

static unsigned int hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

struct ratelimit *ratelimit_create(void)
{
	return xcalloc(1, sizeof(struct ratelimit));
}

void ratelimit_free(struct ratelimit **rlp)
{
	struct ratelimit *rl = *rlp;
	if (rl == NULL)
		return;
	for (unsigned int i = 0; i < BUCKETS; i++) {
		while (rl->buckets[i] != NULL) {
			struct entry *e = rl->buckets[i];
			rl->buckets[i] = e->next;
			free(e);
		}
	}
	free(rl);
	*rlp = NULL;
}

static void purge_bucket(struct entry **bucket, int64_t now_ms)
{
	for (struct entry **ep = bucket; *ep != NULL;) {
		if ((*ep)->reset_ms <= now_ms) {
			struct entry *e = *ep;
			*ep = e->next;
			free(e);
		} else {
			ep = &(*ep)->next;
		}
	}
}

static struct entry *find(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	struct entry **bucket = &rl->buckets[hash(key)];
	purge_bucket(bucket, now_ms);
	for (struct entry *e = *bucket; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

unsigned int ratelimit_check(struct ratelimit *rl, const char *key, int limit, int64_t now_ms)
{
	struct entry *e = find(rl, key, now_ms);
	if (e == NULL || e->count < limit)
		return 0;
	return (unsigned int)((e->reset_ms - now_ms + 999) / 1000);
}

void ratelimit_hit(struct ratelimit *rl, const char *key, int window_ms, int64_t now_ms)
{
	if (++rl->hits % SWEEP_EVERY == 0)
		for (unsigned int i = 0; i < BUCKETS; i++)
			purge_bucket(&rl->buckets[i], now_ms);
	struct entry *e = find(rl, key, now_ms);
	if (e == NULL) {
		size_t len = strlen(key);
		e = xmalloc(sizeof(*e) + len + 1);
		memcpy(e->key, key, len + 1);
		e->count = 0;
		e->reset_ms = now_ms + window_ms;
		unsigned int h = hash(key);
		e->next = rl->buckets[h];
		rl->buckets[h] = e;
	}
	e->count++;
}

void ratelimit_reset(struct ratelimit *rl, const char *key)
{
	for (struct entry **ep = &rl->buckets[hash(key)]; *ep != NULL; ep = &(*ep)->next) {
		if (strcmp((*ep)->key, key) == 0) {
			struct entry *e = *ep;
			*ep = e->next;
			free(e);
			return;
		}
	}
}

unsigned int ratelimit_count(struct ratelimit *rl, int64_t now_ms)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < BUCKETS; i++) {
		purge_bucket(&rl->buckets[i], now_ms);
		for (struct entry *e = rl->buckets[i]; e != NULL; e = e->next)
			n++;
	}
	return n;
}
