/* Token buckets: per key (requests per second by role) and per remote address (failed attempts per
 * minute). Pure logic with the clock passed in, so the unit tests drive time by hand. */
#ifndef AUTH_APIKEY_RATELIMIT_H
#define AUTH_APIKEY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/** Refill rate and capacity. rate <= 0 means unlimited. */
typedef struct rl_limit {
    double rate;  /**< tokens per second */
    double burst; /**< capacity (at least 1 when limited) */
} rl_limit;

typedef struct rl_bucket {
    double tokens;
    int64_t last_ms; /**< 0 = never used: starts full */
} rl_bucket;

/** @brief Take one token at now_ms.
 *  @return 1 if allowed; 0 if empty, with *retry_after_s = whole seconds until one token is back
 *  (at least 1). */
int rl_take(rl_bucket *b, const rl_limit *lim, int64_t now_ms, int *retry_after_s);
/** @brief 1 if the bucket holds less than one token at now_ms (without taking one). */
int rl_empty(rl_bucket *b, const rl_limit *lim, int64_t now_ms, int *retry_after_s);
/** @brief 1 if the bucket has refilled to capacity (it can be forgotten). */
int rl_full(const rl_bucket *b, const rl_limit *lim, int64_t now_ms);

/** Failed-authentication limiter keyed by remote address; thread-safe, bounded memory. */
typedef struct rl_addr_table rl_addr_table;
/** @brief per_minute failures allowed (burst = per_minute); 0 disables. max_entries bounds memory.
 */
rl_addr_table *rl_addr_new(int per_minute, size_t max_entries);
/** @brief n events per window_ms per address (burst = n); n <= 0 disables. */
rl_addr_table *rl_addr_new_window(int n, int64_t window_ms, size_t max_entries);
void rl_addr_free(rl_addr_table *t);
/** @brief 1 (and *retry_after_s) if addr has used up its failures. */
int rl_addr_blocked(rl_addr_table *t, const char *addr, int64_t now_ms, int *retry_after_s);
/** @brief Record one failed attempt (or, for other tables, one counted event) from addr. */
void rl_addr_fail(rl_addr_table *t, const char *addr, int64_t now_ms);
/** @brief Forget addresses whose buckets are full again. */
void rl_addr_sweep(rl_addr_table *t, int64_t now_ms);
/** @brief Addresses currently tracked (for tests). */
size_t rl_addr_count(rl_addr_table *t);

#endif
