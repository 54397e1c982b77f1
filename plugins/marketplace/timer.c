/* The settlement timer: expires offers past expires_at, releases completed hours of active
 * trades to their sellers, and pauses, resumes or ends the trades of sellers by their registry
 * status. Each step checks
 * with a read first, so an idle marketplace takes no write lock. */
#include <stdio.h>
#include <string.h>
#include "marketplace.h"

#define MK_EXPIRE_BATCH 64

static int any(mk_state *ms, const char *sql, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, sql) : NULL;
    int found = 0;
    if (s) {
        api->bind_int64(s, 1, now_ms);
        found = api->step(s) == AITBC_ROW;
        api->stmt_done(s);
    }
    if (t) api->txn_commit(t);
    return found;
}

static void expire_offers(mk_state *ms, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    static const char *k_due = "SELECT offer_id FROM marketplace_offers WHERE status = 'OPEN' "
                               "AND expires_ms IS NOT NULL AND expires_ms <= ?1 LIMIT 64";
    if (!any(ms, k_due, now_ms)) return;
    char ids[MK_EXPIRE_BATCH][AITBC_ID_MAX];
    int n = 0, rc = 0;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    aitbc_stmt *s = t ? api->stmt(t, k_due) : NULL;
    if (s) {
        api->bind_int64(s, 1, now_ms);
        while (n < MK_EXPIRE_BATCH && api->step(s) == AITBC_ROW)
            snprintf(ids[n++], AITBC_ID_MAX, "%s", api->col_text(s, 0));
        api->stmt_done(s);
    }
    for (int i = 0; t && rc == 0 && i < n; i++) {
        s = api->stmt(t, "UPDATE marketplace_offers SET status = 'EXPIRED' WHERE offer_id = ?1");
        if (!s) {
            rc = AITBC_EIO;
            break;
        }
        api->bind_text(s, 1, ids[i]);
        rc = api->step(s) < 0 ? AITBC_EIO : 0;
        api->stmt_done(s);
    }
    if (t && rc == 0)
        rc = api->txn_commit(t);
    else if (t)
        api->txn_rollback(t);
    if (rc != 0 || !t) {
        api->log(ms->ctx, AITBC_LOG_WARN, "expiring offers failed (%d)", t ? rc : AITBC_EBUSY);
        return;
    }
    for (int i = 0; i < n; i++)
        mk_offer_publish(ms, ids[i]);
}

static void release_due(mk_state *ms, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    if (!any(ms,
             "SELECT 1 FROM marketplace_trades WHERE status = 'ACTIVE' AND next_ms <= ?1 "
             "AND (paused_ms IS NULL OR ends_ms <= ?1) LIMIT 1",
             now_ms))
        return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    int rc = t ? mk_trades_release_due(ms, t, now_ms) : AITBC_EBUSY;
    if (rc >= 0)
        rc = api->txn_commit(t);
    else if (t)
        api->txn_rollback(t);
    if (rc < 0)
        api->log(ms->ctx, AITBC_LOG_WARN, "releasing escrow failed (%d); retried next tick", rc);
}

void mk_tick(void *arg) {
    mk_state *ms = arg;
    int64_t now = ms->api->now_ms();
    expire_offers(ms, now);
    release_due(ms, now);
    mk_sellers_check(ms, now);
}
