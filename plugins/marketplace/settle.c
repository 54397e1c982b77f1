/* Escrow settlement of trades: hourly releases to the seller (ESCROW_RELEASE "<trade>:h<k>"),
 * early endings split pro rata (ESCROW_RELEASE "<trade>:end" + ESCROW_REFUND "<trade>:refund"),
 * and the marketplace@1 trade_active query. Callers hold the write transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "marketplace.h"

#define MK_BATCH 64 /* trades settled per transaction; the next tick takes the rest */

typedef struct trade_row {
    char trade_id[AITBC_ID_MAX], buyer[48], seller[48];
    int64_t hours, total, created_ms, ends_ms, released, hours_released;
} trade_row;

/* Step s collecting up to MK_BATCH rows of (trade_id, buyer, seller, hours, total, created_ms,
 * ends_ms, released, hours_released). Returns rows or <0. */
static int collect(const aitbc_host_api *api, aitbc_stmt *s, trade_row *rows) {
    int n = 0, rc = 0;
    while (n < MK_BATCH && (rc = api->step(s)) == AITBC_ROW) {
        trade_row *r = &rows[n++];
        snprintf(r->trade_id, sizeof r->trade_id, "%s", api->col_text(s, 0));
        snprintf(r->buyer, sizeof r->buyer, "%s", api->col_text(s, 1));
        snprintf(r->seller, sizeof r->seller, "%s", api->col_text(s, 2));
        r->hours = api->col_int64(s, 3);
        r->total = api->col_int64(s, 4);
        r->created_ms = api->col_int64(s, 5);
        r->ends_ms = api->col_int64(s, 6);
        r->released = api->col_int64(s, 7);
        r->hours_released = api->col_int64(s, 8);
    }
    api->stmt_done(s);
    return n < MK_BATCH && rc < 0 ? rc : n;
}

#define ROW_COLS                                                                                   \
    "trade_id, buyer, seller, hours, total, created_ms, ends_ms, released, hours_released"

/* A ledger move that already happened (same type and ref) is not an error: a retry after a
 * crash between the move and our row update must converge. */
static int moved(int rc) {
    return rc == AITBC_EEXIST ? 0 : rc;
}

static int release_one(mk_state *ms, aitbc_txn *t, const trade_row *r, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    int64_t hour_len = (r->ends_ms - r->created_ms) / r->hours;
    int64_t done = mk_hours_done(r->hours, hour_len, now_ms - r->created_ms);
    int64_t released = r->released, per_hour = r->total / r->hours;
    char ref[AITBC_ID_MAX + 32], hash[AITBC_TX_HASH_MAX];
    for (int64_t k = r->hours_released + 1; k <= done; k++) {
        /* The last hour takes whatever is left, so the releases sum to the total exactly. */
        int64_t amount = k == r->hours ? r->total - released : per_hour;
        snprintf(ref, sizeof ref, "%s:h%lld", r->trade_id, (long long)k);
        int rc = amount > 0
                     ? moved(ms->ledger->settle(ms->ledger->self, t, AITBC_TX_ESCROW_RELEASE,
                                                r->buyer, r->seller, MK_ASSET, amount, ref, hash))
                     : 0;
        if (rc != 0) return rc;
        released += amount;
    }
    aitbc_stmt *s = api->stmt(
        t, "UPDATE marketplace_trades SET released = ?2, hours_released = ?3, next_ms = ?4, "
           "status = CASE WHEN ?3 = hours THEN 'COMPLETED' ELSE status END WHERE trade_id = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, r->trade_id);
    api->bind_int64(s, 2, released);
    api->bind_int64(s, 3, done);
    api->bind_int64(s, 4, r->created_ms + (done + 1) * hour_len);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

int mk_trades_release_due(mk_state *ms, aitbc_txn *t, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    trade_row rows[MK_BATCH];
    aitbc_stmt *s = api->stmt(t, "SELECT " ROW_COLS " FROM marketplace_trades "
                                 "WHERE status = 'ACTIVE' AND next_ms <= ?1 ORDER BY next_ms");
    if (!s) return AITBC_EIO;
    api->bind_int64(s, 1, now_ms);
    int n = collect(api, s, rows);
    for (int i = 0; i < n; i++) {
        int rc = release_one(ms, t, &rows[i], now_ms);
        if (rc != 0) return rc;
    }
    return n;
}

static int end_one(mk_state *ms, aitbc_txn *t, const trade_row *r, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    int64_t pay, refund;
    mk_terminate_split(r->total, r->released, r->ends_ms - r->created_ms, now_ms - r->created_ms,
                       &pay, &refund);
    char ref[AITBC_ID_MAX + 32], hash[AITBC_TX_HASH_MAX];
    int rc = 0;
    if (pay > 0) {
        snprintf(ref, sizeof ref, "%s:end", r->trade_id);
        rc = moved(ms->ledger->settle(ms->ledger->self, t, AITBC_TX_ESCROW_RELEASE, r->buyer,
                                      r->seller, MK_ASSET, pay, ref, hash));
    }
    if (rc == 0 && refund > 0) {
        snprintf(ref, sizeof ref, "%s:refund", r->trade_id);
        rc = moved(ms->ledger->unlock(ms->ledger->self, t, r->buyer, MK_ASSET, refund, ref, hash));
    }
    if (rc != 0) return rc;
    aitbc_stmt *s = api->stmt(t, "UPDATE marketplace_trades SET status = 'CANCELED', "
                                 "released = released + ?2, refunded = ?3 WHERE trade_id = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, r->trade_id);
    api->bind_int64(s, 2, pay);
    api->bind_int64(s, 3, refund);
    rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

int mk_trades_terminate(mk_state *ms, aitbc_txn *t, const char *trade_id, const char *offer_id,
                        const char *seller, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    /* Hours already completed are released first, so the hourly refs stay the record of them. */
    int total = 0;
    for (;;) {
        trade_row rows[MK_BATCH];
        aitbc_stmt *s = api->stmt(t, "SELECT " ROW_COLS " FROM marketplace_trades "
                                     "WHERE status = 'ACTIVE' AND (?1 IS NULL OR trade_id = ?1) "
                                     "AND (?2 IS NULL OR offer_id = ?2) "
                                     "AND (?3 IS NULL OR seller = ?3)");
        if (!s) return AITBC_EIO;
        const char *args[3] = {trade_id, offer_id, seller};
        for (int i = 0; i < 3; i++)
            if (args[i])
                api->bind_text(s, i + 1, args[i]);
            else
                api->bind_null(s, i + 1);
        int n = collect(api, s, rows);
        if (n <= 0) return n < 0 ? n : total;
        for (int i = 0; i < n; i++) {
            int rc = release_one(ms, t, &rows[i], now_ms);
            /* release_one may have completed it; re-read its released amount. */
            trade_row r = rows[i];
            if (rc == 0) {
                aitbc_stmt *q = api->stmt(t, "SELECT released, status FROM marketplace_trades "
                                             "WHERE trade_id = ?1");
                rc = q ? 0 : AITBC_EIO;
                if (q) {
                    api->bind_text(q, 1, r.trade_id);
                    int done = 0;
                    if (api->step(q) == AITBC_ROW) {
                        r.released = api->col_int64(q, 0);
                        done = strcmp(api->col_text(q, 1), "ACTIVE") != 0;
                    }
                    api->stmt_done(q);
                    if (done) continue;
                }
            }
            if (rc == 0) rc = end_one(ms, t, &r, now_ms);
            if (rc != 0) return rc;
            total++;
        }
    }
}

int mk_trade_active(void *self, const char *trade_id, const char *buyer, char seller_out[48]) {
    mk_state *ms = self;
    const aitbc_host_api *api = ms->api;
    if (!trade_id || !buyer) return 0;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(t, "SELECT seller FROM marketplace_trades WHERE trade_id = ?1 "
                                 "AND buyer = ?2 AND status = 'ACTIVE' AND created_ms <= ?3 "
                                 "AND ?3 < ends_ms");
    int rc = s ? 0 : AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, trade_id);
        api->bind_text(s, 2, buyer);
        api->bind_int64(s, 3, api->now_ms());
        rc = api->step(s);
        if (rc == AITBC_ROW) {
            if (seller_out) snprintf(seller_out, 48, "%s", api->col_text(s, 0));
            rc = 1;
        }
        api->stmt_done(s);
    }
    api->txn_commit(t);
    return rc;
}
