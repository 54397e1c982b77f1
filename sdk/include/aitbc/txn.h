/* The one way a service call holds a transaction. Service tables (ledger@1, auth@1, …) take an
 * explicit `aitbc_txn *txn`: non-NULL joins the caller's transaction, NULL lets the call run as
 * its own unit. Every provider follows it through these two calls, so "join or own" and what a
 * failure does are written once:
 *
 *   aitbc_txn_use use;
 *   aitbc_txn *t = aitbc_txn_join(api, txn, AITBC_TXN_WRITE, &use);
 *   if (!t) return AITBC_EBUSY;
 *   int rc = …statements on t…;   (wrote = 1 once the first write ran)
 *   return aitbc_txn_leave(api, &use, rc, wrote);
 *
 * Joined: the call never commits or rolls back; on failure it returns the code and the caller
 * decides (it must roll back if the call may have written, see wrote). Owned: success commits;
 * a failure after a write rolls back, so no partial write is ever committed; a refusal before
 * any write closes the level without a rollback, because the host nests an own transaction
 * inside one the calling thread already has open and a rollback would doom that one too. */
#ifndef AITBC_TXN_H
#define AITBC_TXN_H

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aitbc_host_api aitbc_host_api;

/** Which transaction a service call runs in, between aitbc_txn_join and aitbc_txn_leave. */
typedef struct aitbc_txn_use {
    aitbc_txn *txn; /**< the transaction to run statements on */
    int owned;      /**< 1 when join began it (leave ends it), 0 when it is the caller's */
} aitbc_txn_use;

/** The transaction for a service call: the caller's `given` when non-NULL (joined; it must be
 *  open on the calling thread), else api->txn_begin(mode) (owned). Returns use->txn, or NULL
 *  when an own transaction could not begin: the call fails (usually AITBC_EBUSY, the write turn
 *  did not come), and leave on that use ends nothing and returns its rc. Thread: the caller's;
 *  may block on the database's write turn. */
aitbc_txn *aitbc_txn_join(const aitbc_host_api *api, aitbc_txn *given, int mode,
                          aitbc_txn_use *use);

/** Ends a service call begun with aitbc_txn_join and returns its result. Joined: rc unchanged,
 *  the transaction left open for the caller. Owned: rc 0 commits (the commit's error, e.g.
 *  AITBC_EIO, is returned); rc != 0 with wrote != 0 rolls back; rc != 0 with wrote 0 closes the
 *  level with a commit that keeps nothing new (the enclosing transaction stays usable). Pass
 *  wrote 1 when unsure: a rollback is always safe for the data. */
int aitbc_txn_leave(const aitbc_host_api *api, aitbc_txn_use *use, int rc, int wrote);

#ifdef __cplusplus
}
#endif

#endif
