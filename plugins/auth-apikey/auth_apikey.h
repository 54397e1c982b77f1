/* Internal shared state of the auth-apikey plugin and the functions its files offer each other. */
#ifndef AUTH_APIKEY_H
#define AUTH_APIKEY_H

#include <stddef.h>
#include <stdint.h>

#include "aitbc/aitbc.h"
#include "aitbc/auth.h"
#include "aitbc/ledger.h"
#include "acctcache.h"
#include "keycache.h"
#include "keyfmt.h"
#include "ratelimit.h"

#define AUTH_LABEL_MAX 128
/* GET /v1/account answers kept in memory (about 0.7 KiB each, allocated at start). */
#define AUTH_ACCOUNT_CACHE_ENTRIES 4096
#define AUTH_TOPIC_KEY_REVOKED AITBC_TOPIC_KEY_REVOKED

/** Self-service sign-up (signup.c): off unless configured. */
typedef struct auth_signup {
    int enabled;
    int per_hour;         /* sign-ups per remote address per hour */
    char grant_asset[16]; /* "" = no starting grant */
    char grant_text[32];  /* the configured amount, as written */
    int64_t grant;        /* base units, resolved in start */
    char faucet[48];      /* account the grant is transferred from */
    rl_addr_table *limit;
} auth_signup;

typedef struct auth_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    aitbc_auth_v1 service; /* the auth@1 table we register; self = this state */
    unsigned char pepper_key[KEYFMT_PEPPER_BYTES];
    unsigned char (*config_hashes)[KEYFMT_HASH_BYTES]; /* admin_key_hashes from config */
    size_t n_config_hashes;
    kc_limits limits;
    int failed_per_minute;
    keycache *cache;
    acctcache *acct; /* GET /v1/account answers by key (routes.c; off on a shared database) */
    int acct_on;     /* whether acct is used: decided at start (routes_account_cacheable) */
    rl_addr_table *fails;
    const aitbc_ledger_v1 *ledger; /* looked up in start; NULL without the chain plugin */
    aitbc_timer *timer;
    auth_signup signup;
} auth_state;

/* ---- config.c ---- */
/** @brief Read and check the plugin's config section (rate limits, hashes, pepper). */
int auth_config_load(auth_state *st, char *err, size_t errlen);
/** @brief Pepper from config, else from <data_dir>/auth.pepper (created 0600 on first start). */
int auth_pepper_load(auth_state *st);

/* ---- store.c: the auth_keys table ---- */
int store_migrate_keys(auth_state *st);
/** @brief Insert a new key row. Joins txn. */
int store_insert_key(auth_state *st, aitbc_txn *txn, const char *key_id, unsigned role,
                     const char *owner, const char *label,
                     const unsigned char hash[KEYFMT_HASH_BYTES], int64_t created_ms);
/** @brief Load a row for the cache: 0, AITBC_ENOTFOUND, or an I/O error. */
int store_load_key(auth_state *st, const char *key_id, kc_row *row);
/** @brief Set revoked_at on key_id (kept if already revoked); owner_out gets its owner.
 *  0 or AITBC_ENOTFOUND. */
int store_revoke_key(auth_state *st, aitbc_txn *txn, const char *key_id, int64_t now_ms,
                     char owner_out[48]);
/** @brief Ids of the owner's live keys of a role (malloc'd array of 48-byte ids; caller frees). */
int store_owner_keys(auth_state *st, aitbc_txn *txn, const char *owner, unsigned role,
                     char (**ids)[48], size_t *n);
/** @brief Number of live (unrevoked) admin keys. */
int store_count_admins(auth_state *st, int64_t *n);
/** @brief Write remembered last-use times (one transaction). */
void store_flush_used(auth_state *st, const kc_used *used, size_t n);
/** @brief The key row's label and times into out (has_row 1). Joins txn. 0, AITBC_ENOTFOUND, or
 *  an I/O error. */
int store_key_view(auth_state *st, aitbc_txn *txn, const char *key_id, ac_view *out);
/** @brief obj.name = the time ms as the API writes it, or null when ms <= 0. */
void auth_add_time(cJSON *obj, const char *name, int64_t ms);
/** @brief A key's last use: the later of the stored time and the one in memory. */
int64_t auth_last_used(auth_state *st, const char *key_id, int64_t stored_ms);
/** @brief A page of keys, newest first, after (created_ms, key_id) when after_id is non-NULL.
 *  role (0 = any) and owner (NULL = any) filter. Fetches up to limit+1 rows into *items. */
int store_list_keys(auth_state *st, unsigned role, const char *owner, int64_t after_ms,
                    const char *after_id, int limit, cJSON *items);

/* ---- service.c: the auth@1 implementation ---- */
void service_init(auth_state *st);
int service_authenticate(void *self, const char *api_key, const char *remote_addr,
                         aitbc_principal *out, int *retry_after_s);
int service_create_key(void *self, aitbc_txn *txn, unsigned role, const char *label,
                       const char *owner_address, char api_key_out[AITBC_API_KEY_MAX],
                       char key_id_out[48], char address_out[48]);
int service_revoke_key(void *self, aitbc_txn *txn, const char *key_id);
int service_revoke_owner(void *self, aitbc_txn *txn, const char *owner_address, unsigned role);
/** @brief Periodic work: flush last-use times, forget idle cache entries and addresses. */
void service_tick(void *arg);

/* ---- bootstrap.c ---- */
/** @brief Create the first admin key and write <data_dir>/admin.key (0600) if none exists. */
int bootstrap_admin(auth_state *st);

/* ---- routes.c ---- */
int routes_register(auth_state *st);
/* Whether GET /v1/account may answer from st->acct: the ledger (if any) reports its version and
 * no other host writes the database. Asked once, at start. */
int routes_account_cacheable(const auth_state *st);
/** @brief 1 if s is a valid key label: at most AUTH_LABEL_MAX characters, no control characters. */
int auth_label_ok(const char *s);

/* ---- signup.c ---- */
/** @brief Read the `signup` section (init). */
int signup_config_load(auth_state *st, char *err, size_t errlen);
/** @brief Resolve the grant against the ledger and find or make the faucet account (start). */
int signup_start(auth_state *st);
/** @brief POST/GET /v1/signup, only when enabled. */
int signup_routes(auth_state *st);
/** @brief Forget addresses whose sign-up budget refilled. */
void signup_sweep(auth_state *st, int64_t now_ms);

#endif
