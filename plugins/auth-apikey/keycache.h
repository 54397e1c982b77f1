/* In-memory cache of key rows (hash, role, owner) with each key's rate bucket and last-use time,
 * so an authenticated request costs one hash and one lookup, not a database read.
 * Revocation leaves a tombstone that wins over any concurrent reload, so a revoked key fails on
 * the very next request. Pure logic (no host): unit-tested directly. */
#ifndef AUTH_APIKEY_KEYCACHE_H
#define AUTH_APIKEY_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "aitbc/http.h"
#include "keyfmt.h"
#include "ratelimit.h"

typedef struct keycache keycache;

/** What a database row (or a configured admin hash) says about a key. */
typedef struct kc_row {
    unsigned char hash[KEYFMT_HASH_BYTES];
    unsigned role;
    char owner[48]; /**< "" when the key has no account (configured admin hashes) */
    int revoked;
    int from_config; /**< no database row: last use is not flushed */
} kc_row;

/** Per-role request limits, indexed by kc_role_index(). */
typedef struct kc_limits {
    rl_limit by_role[3];
} kc_limits;

typedef enum {
    KC_MISS = 0, /**< not cached: load the row and kc_insert it, then check again */
    KC_OK,       /**< *out filled */
    KC_BAD,      /**< wrong secret, wrong role, or revoked */
    KC_RATE,     /**< valid but over its rate: *retry_after_s set */
} kc_result;

/** One key whose last-use time moved since the last flush. */
typedef struct kc_used {
    char key_id[KEYFMT_KEY_ID_MAX + 1];
    int64_t last_used_ms;
} kc_used;

/** @brief 0 client, 1 miner, 2 admin (anything else → 0). */
int kc_role_index(unsigned role);
keycache *kc_new(const kc_limits *limits);
void kc_free(keycache *c);
/** @brief Check a presented key against the cache. Compares hashes in constant time, also for
 *  tombstones (against a dummy), so revoked and wrong keys cost the same. */
kc_result kc_check(keycache *c, const char *key_id, unsigned role,
                   const unsigned char hash[KEYFMT_HASH_BYTES], int64_t now_ms,
                   aitbc_principal *out, int *retry_after_s);
/** @brief Insert a loaded row unless the id is already cached (a tombstone must win); a cached
 *  entry takes the row's revocation (one made on another host sharing the database). */
void kc_insert(keycache *c, const char *key_id, const kc_row *row);
/** @brief Mark key_id revoked now, inserting a tombstone if it is not cached. */
void kc_revoke(keycache *c, const char *key_id, int64_t now_ms);
/** @brief Last-use time held in memory for key_id (0 if none). */
int64_t kc_last_used(keycache *c, const char *key_id);
/** @brief Keys used since the last call; malloc'd array (caller frees), count in *n. */
kc_used *kc_collect_used(keycache *c, size_t *n);
/** @brief Drop tombstones older than keep_ms and entries idle longer than idle_ms (they reload
 *  from the database on their next use; their buckets refill meanwhile anyway). */
void kc_sweep(keycache *c, int64_t now_ms, int64_t keep_ms, int64_t idle_ms);
/** @brief Entries cached (for tests). */
size_t kc_count(keycache *c);

#endif
