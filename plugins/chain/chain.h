/* The chain plugin's internal state and the functions its files share (not part of the SDK). */
#ifndef AITBC_CHAIN_CHAIN_H
#define AITBC_CHAIN_CHAIN_H

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <aitbc/aitbc.h>
#include <aitbc/ledger.h>
#include <aitbc/chain_query.h>
#include "chainmath.h"

#define CHAIN_MAX_ASSETS 16
/* The leader role of the one host that seals blocks when several share a database. */
#define CHAIN_PRODUCER_ROLE "chain.producer"

#define AITBC_MODULE_MAX 64 /* a plugin name owning locks */
#define CHAIN_VIEWS_MAX 64  /* modules with a ledger view */

typedef struct chain_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    int pg; /* PostgreSQL storage: the state root's bytewise order is spelled out (README) */
    chain_asset assets[CHAIN_MAX_ASSETS];
    size_t nassets;
    int64_t block_interval_ms;    /* producer period */
    int64_t max_empty_interval_s; /* heartbeat block period; 0 = never */
    int64_t genesis_ms;           /* genesis timestamp; 0 = now at first start */
    char key_path[4096];
    /* node key: signs blocks, derives the custody key */
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char pk_hex[65];
    char address[AITBC_ADDRESS_MAX];
    unsigned char custody_key[crypto_secretbox_KEYBYTES];
    /* extra authorities allowed to have signed blocks (pubkeys), besides the node key */
    unsigned char (*authorities)[32];
    size_t nauthorities;
    aitbc_ledger_v1 ledger;
    aitbc_chain_query_v1 query;
    aitbc_command_v1 verify_cmd;
    aitbc_command_v1 release_cmd;
    aitbc_metrics_v1 metrics;     /* metrics.c */
    void *views[CHAIN_VIEWS_MAX]; /* ledger views per module (lock_owners.c) */
    size_t nviews;
    pthread_mutex_t views_mu;
    aitbc_timer *timer;
    pthread_mutex_t seal_mu; /* one seal at a time (timer vs. tests/bench calling it) */
    atomic_int seal_queued;  /* the timer's seal waits for the writer: do not queue another */
    /* The balances' version (ledger@1 version, ledger.c): moves before every balance write. */
    atomic_uint_fast64_t bal_version;
    /* host write_turns() count at which the last balance write's transaction has ended. */
    atomic_uint_fast64_t bal_settles_at;
} chain_state;

/* metrics.c: fills cs->metrics, the "metrics:chain@1" table */
void chain_metrics_init(chain_state *cs);

/* chain.c */
const chain_asset *chain_find_asset(const chain_state *cs, const char *symbol);

/* lock_owners.c: which module owns each lock */
/** ledger@1 for_module: a view recording module as the owner of its locks (NULL if no room). */
const aitbc_ledger_v1 *chain_ledger_for_module(void *self, const char *module);
void chain_ledger_views_free(chain_state *cs);
/** At start: AITBC_EINVAL (after logging module, accounts, amount and the fix) when a module
 *  that is not loaded still owns locked funds. */
int chain_lock_owners_check(chain_state *cs);
/** command:release-locks@1: refund every lock of a module that is not loaded. */
int chain_release_locks_run(void *self, int argc, char **argv);

/* ledger.c: fills cs->ledger */
void chain_ledger_init(chain_state *cs);
/** Status code → HTTP mapping lives in routes.c; ledger.c exposes the raw move for benches. */

/* query.c: fills cs->query (chain-query@1) */
void chain_query_init(chain_state *cs);

/* keyfile.c */
/** Load <path> or create it (0600) with a new Ed25519 seed. 0 or an AITBC_E* code. */
int chain_key_load_or_create(chain_state *cs, const char *path);
/** Encrypt a custodial secret key for storage: hex(nonce || secretbox). out needs
 *  2*(24+16+64)+1 bytes. */
#define CHAIN_SEALED_SK_HEX                                                                        \
    (2 * (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + crypto_sign_SECRETKEYBYTES) + 1)
void chain_custody_seal(const chain_state *cs, const unsigned char sk[64], char *out_hex);
/** Decrypt what chain_custody_seal wrote. 0 or AITBC_EINVAL. */
int chain_custody_open(const chain_state *cs, const char *hex, unsigned char sk_out[64]);

/** One ledger movement (ledger.c; what every ledger@1 call does), also handing back the stored
 *  transaction in *tx_out when it was recorded (rc 0), so an answer needs no re-read. */
int chain_move(chain_state *cs, aitbc_txn *txn, const char *op, const char *type, const char *from,
               const char *to, const char *asset, int64_t amount, const char *ref,
               char hash_out[AITBC_TX_HASH_MAX], chain_tx *tx_out);

/** Schema steps (store.c); exposed for the upgrade test. */
extern const aitbc_migration chain_migrations[];
extern const size_t chain_migrations_n;

/* blocks.c */
/** Seal every committed pending transaction into a new block (its own write transaction), or a
 *  heartbeat block when due (or when force). Publishes events after commit.
 *  *height_out = new height or -1 when nothing was sealed. */
int chain_seal(chain_state *cs, int force, int64_t *height_out);
/** Inside an open write transaction: seal pending transactions into the next block at time
 *  ts_ms. Fills *blk. Events are not published. */
int chain_seal_in(chain_state *cs, aitbc_txn *t, int64_t ts_ms, int force, chain_block *blk,
                  int *sealed);
/** Create the genesis block (and its allocations) when the chain is empty. */
int chain_genesis(chain_state *cs, const cJSON *genesis_cfg);
/** Timer callback. */
void chain_seal_tick(void *arg);
/** Full pass over the balance table: the state root. */
int chain_state_root_db(chain_state *cs, aitbc_txn *t, char out[65]);

/* verify.c */
int chain_verify_run(void *self, int argc, char **argv);
/** The verification itself; writes the report line into msg. 0 = consistent. */
int chain_verify(chain_state *cs, char *msg, size_t msglen);

/* routes.c */
int chain_routes_register(chain_state *cs);

#endif
