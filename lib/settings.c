/* Runtime settings: the table of supported keys and a per-process cache of
 * the stored values. The cache holds every stored setting (there are only
 * a few), refreshed by the first store thread that finds it older than
 * settings_cache; a store that fails keeps the old values in use. */
#include "settings.h"

#include "config.h"
#include "log.h"
#include "pool.h"
#include "store.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct settings_key settings_keys[] = {
	{ "const:autoreply:interval", SETTINGS_DURATION, "lmtp.autoreply_interval", 0, 0, 0,
	  "A sender gets at most one autoreply from a user in this time (ms)" },
	{ "const:max:forwards", SETTINGS_NUMBER, "lmtp.forwards_per_day", 0, 0, 0,
	  "Messages a user may forward per day, unless the user has its own limit" },
	{ "const:max:rcpt_to", SETTINGS_NUMBER, "lmtp.max_recipients", 0, 0, 0,
	  "Recipients of one message delivered over LMTP" },
	{ "const:max:storage", SETTINGS_SIZE, NULL, 0, 1LL << 53, 0,
	  "Storage quota in bytes of a user created without one (0: unlimited)" },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

const struct settings_key *settings_key_find(const char *key)
{
	for (const struct settings_key *k = settings_keys; key != NULL && k->key != NULL; k++)
		if (strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

const char *settings_type_name(enum settings_type type)
{
	switch (type) {
	case SETTINGS_SIZE:
		return "size";
	case SETTINGS_DURATION:
		return "duration";
	case SETTINGS_NUMBER:
		break;
	}
	return "number";
}

static const struct config_option *key_option(const struct settings_key *k)
{
	for (size_t i = 0; k->option != NULL && i < config_option_count; i++)
		if (strcmp(config_options[i].name, k->option) == 0)
			return &config_options[i];
	return NULL;
}

void settings_key_range(const struct settings_key *k, long long *min_r, long long *max_r)
{
	const struct config_option *o = key_option(k);
	*min_r = o != NULL ? o->min : k->min;
	*max_r = o != NULL ? o->max : k->max;
}

long long settings_key_default(const struct settings_key *k, const struct config *config)
{
	const struct config_option *o = key_option(k);
	if (o == NULL || config == NULL)
		return k->def;
	const char *field = (const char *)config + o->offset;
	switch (o->type) {
	case CFG_INT:
	case CFG_DURATION:
		return *(const int *)(const void *)field;
	case CFG_SIZE:
		return *(const long long *)(const void *)field;
	default:
		return k->def;
	}
}

/* ---- the cache ---- */

struct cached {
	char *key;
	long long value;
};

static struct {
	pthread_mutex_t lock;
	int64_t ttl_msecs;
	int64_t loaded_at;		/* settings_now_msecs(); -1: never */
	struct cached *items;
	unsigned int count;
} cache = { PTHREAD_MUTEX_INITIALIZER, 10000, -1, NULL, 0 };

int64_t settings_now_msecs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void settings_configure(const struct config *config)
{
	pthread_mutex_lock(&cache.lock);
	cache.ttl_msecs = config->settings_cache;
	cache.loaded_at = -1;
	pthread_mutex_unlock(&cache.lock);
}

int64_t settings_cache_msecs(void)
{
	pthread_mutex_lock(&cache.lock);
	int64_t ttl = cache.ttl_msecs;
	pthread_mutex_unlock(&cache.lock);
	return ttl;
}

void settings_invalidate(void)
{
	pthread_mutex_lock(&cache.lock);
	cache.loaded_at = -1;
	pthread_mutex_unlock(&cache.lock);
}

static void items_free(struct cached *items, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		free(items[i].key);
	free(items);
}

/* Reads every stored setting (outside the lock: the store may be slow). */
static int load(struct store *store, struct cached **items_r, unsigned int *count_r)
{
	struct pool *pool = pool_create(2048);
	struct store_object *objs;
	unsigned int count;
	const char *error;
	if (store_object_list(store, SETTINGS_KIND, NULL, NULL, pool, &objs, &count, &error) < 0) {
		log_warn("event=settings_load_failed error=\"%s\"", error);
		pool_destroy(&pool);
		return -1;
	}
	struct cached *items = calloc(count + 1, sizeof(*items));
	unsigned int n = 0;
	for (unsigned int i = 0; i < count; i++) {
		json_t *doc = objs[i].key != NULL ? json_loads(objs[i].doc, 0, NULL) : NULL;
		json_t *v = json_object_get(doc, "value");
		if (json_is_integer(v)) {
			items[n].key = strdup(objs[i].key);
			items[n].value = (long long)json_integer_value(v);
			if (items[n].key != NULL)
				n++;
		}
		json_decref(doc);
	}
	pool_destroy(&pool);
	*items_r = items;
	*count_r = n;
	return 0;
}

long long settings_get_int(struct store *store, const char *key, long long def)
{
	int64_t now = settings_now_msecs();
	pthread_mutex_lock(&cache.lock);
	bool fresh = cache.loaded_at >= 0 && now - cache.loaded_at < cache.ttl_msecs;
	pthread_mutex_unlock(&cache.lock);
	struct cached *items;
	unsigned int count;
	if (!fresh && store != NULL) {
		/* a store that fails keeps the old values until the next try,
		 * one cache lifetime later (not one warning per call) */
		int ret = load(store, &items, &count);
		pthread_mutex_lock(&cache.lock);
		if (ret == 0) {
			items_free(cache.items, cache.count);
			cache.items = items;
			cache.count = count;
		}
		cache.loaded_at = now;
		pthread_mutex_unlock(&cache.lock);
	}
	long long value = def;
	pthread_mutex_lock(&cache.lock);
	for (unsigned int i = 0; i < cache.count; i++)
		if (strcmp(cache.items[i].key, key) == 0)
			value = cache.items[i].value;
	pthread_mutex_unlock(&cache.lock);
	return value;
}
