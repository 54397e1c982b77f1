/* The ledger@1 service (chain plugin): balances, transfers, escrow, mints.
 * Every call is idempotent on (type, ref): a repeat with the same type and ref returns AITBC_EEXIST
 * and moves nothing.
 * txn (see aitbc/txn.h): non-NULL joins the caller's transaction, which must be open on the
 * calling thread; the call never commits or rolls it back, and a refusal (EEXIST, EFUNDS,
 * ENOTFOUND, EINVAL, EOVERFLOW) is checked before any write, so it leaves that transaction
 * usable; after any other error the caller must roll back. NULL: the call is a unit of its own
 * (committed on success, nothing of it kept on failure). */
#ifndef AITBC_LEDGER_H
#define AITBC_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AITBC_LEDGER_SERVICE "ledger@1"
/* Bus topics the chain plugin owns: each sealed block, and each transaction as it is sealed. */
#define AITBC_TOPIC_BLOCKS "blocks"
#define AITBC_TOPIC_TRANSACTIONS "transactions"
#define AITBC_ADDRESS_MAX 48 /* "ait1" + 40 hex + NUL, rounded up */
#define AITBC_TX_HASH_MAX 65 /* 64 hex + NUL */

/** Transaction types, exactly as API.md names them. */
#define AITBC_TX_MINT "MINT"
#define AITBC_TX_TRANSFER "TRANSFER"
#define AITBC_TX_ESCROW_LOCK "ESCROW_LOCK"
#define AITBC_TX_ESCROW_RELEASE "ESCROW_RELEASE"
#define AITBC_TX_ESCROW_REFUND "ESCROW_REFUND"
#define AITBC_TX_EXCHANGE_SETTLE "EXCHANGE_SETTLE"
#define AITBC_TX_FEE "FEE"

/** Every call runs on the caller's thread, is thread-safe and may block on the database (a write
 *  call without txn opens its own write transaction). Pointers are borrowed for the call. */
typedef struct aitbc_ledger_v1 {
    uint32_t size;
    void *self;
    /** Make a new custodial account (node-generated Ed25519 key); address_out gets "ait1…". */
    int (*create_account)(void *self, aitbc_txn *txn, char address_out[AITBC_ADDRESS_MAX]);
    /** Make sure an account row exists for an address derived elsewhere (a miner's key). */
    int (*ensure_account)(void *self, aitbc_txn *txn, const char *address);
    /** 1 if the account exists, 0 if not. */
    int (*account_exists)(void *self, aitbc_txn *txn, const char *address);
    /** Decimals of an asset, or AITBC_ENOTFOUND. */
    int (*asset_decimals)(void *self, const char *asset);
    /** Available and locked balance (0 for unknown accounts). */
    int (*balance)(void *self, aitbc_txn *txn, const char *address, const char *asset,
                   int64_t *available, int64_t *locked);
    /** MINT: credit `to`. */
    int (*mint)(void *self, aitbc_txn *txn, const char *to, const char *asset, int64_t amount,
                const char *ref, char hash_out[AITBC_TX_HASH_MAX]);
    /** TRANSFER (or another type, e.g. FEE): available(from) → available(to). AITBC_EFUNDS if
     * short. */
    int (*transfer)(void *self, aitbc_txn *txn, const char *type, const char *from, const char *to,
                    const char *asset, int64_t amount, const char *ref,
                    char hash_out[AITBC_TX_HASH_MAX]);
    /** ESCROW_LOCK: available(owner) → locked(owner). AITBC_EFUNDS if short. */
    int (*lock)(void *self, aitbc_txn *txn, const char *owner, const char *asset, int64_t amount,
                const char *ref, char hash_out[AITBC_TX_HASH_MAX]);
    /** ESCROW_REFUND: locked(owner) → available(owner). */
    int (*unlock)(void *self, aitbc_txn *txn, const char *owner, const char *asset, int64_t amount,
                  const char *ref, char hash_out[AITBC_TX_HASH_MAX]);
    /** locked(from) → available(to), recorded with type (ESCROW_RELEASE, EXCHANGE_SETTLE, FEE). */
    int (*settle)(void *self, aitbc_txn *txn, const char *type, const char *from, const char *to,
                  const char *asset, int64_t amount, const char *ref,
                  char hash_out[AITBC_TX_HASH_MAX]);
    /** Chain height and total transactions (for stats). */
    int (*chain_info)(void *self, int64_t *height, int64_t *tx_count);
    /** The same ledger, with every lock, unlock and settle out of locked funds recorded as
     *  owned by `module` (the plugin's name), so a node can tell whose escrow is left when a
     *  module is switched off (see aitbc_ledger_for). The table lives as long as the ledger. */
    const struct aitbc_ledger_v1 *(*for_module)(void *self, const char *module);

    /* ---- appended (check with aitbc_ledger_has_version) ---- */
    /** The balances' version: it moves before any balance is written on this host (also when that
     *  write later rolls back, alone or with the writer's whole batch). *settled (may be NULL)
     *  gets 1 when every balance write made so far has ended, committed or rolled back, so a read
     *  transaction begun after this call sees the outcome of each. A copy of balances read in a
     *  read transaction begun after a call that returned v with *settled 1, and followed by a
     *  call that still returns v, is exact for as long as version() returns v. Writes by other
     *  hosts on a shared database (PostgreSQL, aitbc_store_shared) do not move it. Any thread,
     *  lock-free; never touches the database. */
    uint64_t (*version)(void *self, int *settled);
} aitbc_ledger_v1;

/** 1 when l has `version` (a provider older than it does not). */
static inline int aitbc_ledger_has_version(const aitbc_ledger_v1 *l) {
    return l && l->size >= offsetof(aitbc_ledger_v1, version) + sizeof l->version && l->version;
}

/** The ledger view a plugin that locks funds should keep: l->for_module(module) when the
 *  provider has it, else l itself. */
static inline const aitbc_ledger_v1 *aitbc_ledger_for(const aitbc_ledger_v1 *l,
                                                      const char *module) {
    if (!l || l->size < offsetof(aitbc_ledger_v1, for_module) + sizeof l->for_module ||
        !l->for_module)
        return l;
    const aitbc_ledger_v1 *v = l->for_module(l->self, module);
    return v ? v : l;
}

#ifdef __cplusplus
}
#endif

#endif
