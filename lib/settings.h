/* Runtime settings (WildDuck's /settings): limits that the API changes
 * while the suite runs, each overriding the value of one config option
 * without a restart. They are stored as API objects of kind "setting"
 * (key: the setting's name, doc: {"value": N}); daemons read them through
 * settings_get_int(), which keeps them for settings_cache milliseconds per
 * process, so a change is enforced everywhere within that time. */
#ifndef WD_SETTINGS_H
#define WD_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

struct config;
struct store;

#define SETTINGS_KIND "setting"

enum settings_type {
	SETTINGS_NUMBER,	/* a count */
	SETTINGS_SIZE,		/* bytes */
	SETTINGS_DURATION,	/* milliseconds */
};

struct settings_key {
	const char *key;	/* WildDuck's name, e.g. "const:max:forwards" */
	enum settings_type type;
	/* the config option it overrides (its range and default), or NULL */
	const char *option;
	long long min, max, def;	/* when option is NULL */
	const char *description;
};

/* The supported keys, NULL-terminated. */
extern const struct settings_key settings_keys[];
const struct settings_key *settings_key_find(const char *key);
const char *settings_type_name(enum settings_type type);
/* The range of values the key accepts (its option's range). */
void settings_key_range(const struct settings_key *k, long long *min_r, long long *max_r);
/* The value in effect when no setting is stored: the option's value in
 * config, or the built-in default. */
long long settings_key_default(const struct settings_key *k, const struct config *config);

/* Takes the cache lifetime (settings_cache) from config; before the first
 * settings_get_int(). */
void settings_configure(const struct config *config);
/* The stored value of key, or def when none is stored or the store fails.
 * Store threads only; reads the store at most once per cache lifetime. */
long long settings_get_int(struct store *store, const char *key, long long def);
/* Forgets the cached values (after this process changed one). */
void settings_invalidate(void);
/* Milliseconds since an arbitrary point (CLOCK_MONOTONIC), and the cache
 * lifetime: shared with the audit lookup of lib/audit.c. */
int64_t settings_now_msecs(void);
int64_t settings_cache_msecs(void);

#endif
