/* In-memory answers of GET /v1/account, per key: the key row's fixed fields and the account's
 * balances, each entry valid only for the ledger version it was read at (ledger@1 `version`).
 * The cache never decides validity itself: callers pass the current version to ac_get and the
 * version a read began at to ac_put (routes.c says when a read may be stored at all).
 * Bounded (a fixed number of entries, second-chance "clock" eviction) and thread-safe with
 * striped locks, so requests for different keys rarely meet on one. Pure logic: unit-tested. */
#ifndef AUTH_APIKEY_ACCTCACHE_H
#define AUTH_APIKEY_ACCTCACHE_H

#include <stddef.h>
#include <stdint.h>

#define AC_KEY_ID_MAX 47   /* longest key id cached (longer ids are never cached) */
#define AC_LABEL_BYTES 513 /* a label of up to 128 UTF-8 characters, NUL-terminated */
#define AC_ASSET_BYTES 16  /* an asset symbol, NUL-terminated */
#define AC_ASSETS_MAX 4    /* balances per account */
#define AC_STRIPES 16      /* locks; the capacity is spread over them */
#define AC_TEXT_BYTES 1024 /* the rendered answer (a longer one is built each time instead) */

typedef struct ac_balance {
    char asset[AC_ASSET_BYTES];
    int decimals;
    int64_t available, locked;
} ac_balance;

/** What GET /v1/account shows beyond the principal itself. */
typedef struct ac_view {
    int has_row; /**< 0: a configured admin hash (no key row, no times) */
    char label[AC_LABEL_BYTES];
    int64_t created_ms;
    int64_t used_ms; /**< last use as stored; memory may know a later one (not cached) */
    int balances;    /**< 1: the answer has balances/locked objects (the ledger is loaded) */
    size_t nbal;
    ac_balance bal[AC_ASSETS_MAX];
    /** The answer as rendered once, without last_used_at's value (memory knows the latest use,
     *  so each answer inserts its own at text[used_at]; used_at 0: the answer has no such
     *  member). text_len 0: not rendered; answers are then built from the fields above. */
    size_t text_len, used_at;
    char text[AC_TEXT_BYTES];
} ac_view;

typedef struct acctcache acctcache;

/** @brief A cache of at most `capacity` entries (at least one per stripe). NULL on no memory. */
acctcache *ac_new(size_t capacity);
void ac_free(acctcache *c);
/** @brief 1 and *out when key_id is cached at exactly `version`; 0 otherwise (an entry of another
 *  version is dropped: versions only move forward). */
int ac_get(acctcache *c, const char *key_id, uint64_t version, ac_view *out);
/** @brief Remember v for key_id as read at `version` (replacing what was there, evicting an entry
 *  not used since the clock last passed it when full). */
void ac_put(acctcache *c, const char *key_id, uint64_t version, const ac_view *v);
/** @brief Drop key_id's entry (its key was revoked). */
void ac_forget(acctcache *c, const char *key_id);
/** @brief Entries held (for tests). */
size_t ac_count(acctcache *c);

#endif
