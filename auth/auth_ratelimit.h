/* Failed-login counters kept in this process's memory, used when no Redis
 * is configured (one host): fixed windows that start at the first failure,
 * like Redis INCR + EXPIRE. With Redis the same policy lives in Redis
 * (auth_server.c) so that every instance shares it. */
#ifndef WD_AUTH_RATELIMIT_H
#define WD_AUTH_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_create(void);
void ratelimit_free(struct ratelimit **rl);
/* 0 if key may try again, else the seconds until its window ends (it
 * reached limit failures within it). */
unsigned int ratelimit_check(struct ratelimit *rl, const char *key, int limit, int64_t now_ms);
/* Counts one failure of key; a new window of window_ms starts if none runs. */
void ratelimit_hit(struct ratelimit *rl, const char *key, int window_ms, int64_t now_ms);
/* Forgets key (a successful login resets the username's count). */
void ratelimit_reset(struct ratelimit *rl, const char *key);
/* Keys currently tracked (for tests). */
unsigned int ratelimit_count(struct ratelimit *rl, int64_t now_ms);

#endif
