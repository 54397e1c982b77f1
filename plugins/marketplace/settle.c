/* Escrow settlement of trades: hourly releases to the seller (ESCROW_RELEASE "<trade>:h<k>"),
 * pauses while the seller cannot take work (the paused time refunded pro rata as ESCROW_REFUND
 * "<trade>:p<paused_ms>"), early endings split pro rata (ESCROW_RELEASE "<trade>:end" +
 * ESCROW_REFUND "<trade>:refund"), and the marketplace@1 trade queries. Callers hold the write
 * transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "marketplace.h"

#define MK_BATCH 64 /* trades settled per transaction; the next tick takes the rest */

typedef struct trade_row {
    char trade_id[AITBC_ID_MAX], buyer[48], seller[48];
    int64_t hours, total, created_ms, ends_ms, released, hours_released, refunded;
    int64_t paused_ms; /* when the running pause began, -1 when not paused */
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
        r->refunded = api->col_int64(s, 9);
        r->paused_ms = api->col_is_null(s, 10) ? -1 : api->col_int64(s, 10);
    }
    api->stmt_done(s);
    return n < MK_BATCH && rc < 0 ? rc : n;
}

#define ROW_COLS                                                                                   \
    "trade_id, buyer, seller, hours, total, created_ms, ends_ms, released, hours_released, "       \
    "refunded, paused_ms"

/* A ledger move that already happened (same type and ref) is not an error: a retry after a
 * crash between the move and our row update must converge. */
static int moved(int rc) {
    return rc == AITBC_EEXIST ? 0 : rc;
}

/* End r's running pause at upto_ms (clamped to the trade's window): the buyer gets back the
 * paused time's pro-rata share of the total, at most what is still in escrow. */
static int end_pause(mk_state *ms, aitbc_txn *t, trade_row *r, int64_t upto_ms) {
    const aitbc_host_api *api = ms->api;
    if (r->paused_ms < 0) return 0;
    int64_t from = r->paused_ms > r->created_ms ? r->paused_ms : r->created_ms;
    int64_t to = upto_ms < r->ends_ms ? upto_ms : r->ends_ms;
    int64_t amount = to > from ? mk_prorata(r->total, r->ends_ms - r->created_ms, to - from) : 0;
    int64_t left = r->total - r->released - r->refunded;
    if (amount > left) amount = left;
    char ref[AITBC_ID_MAX + 32], hash[AITBC_TX_HASH_MAX];
    /* the precision bounds what GCC -O3 otherwise reads as the whole rows array */
    snprintf(ref, sizeof ref, "%.*s:p%lld", (int)sizeof r->trade_id, r->trade_id,
             (long long)r->paused_ms);
    int rc =
        amount > 0
            ? moved(ms->ledger->unlock(ms->ledger->self, t, r->buyer, MK_ASSET, amount, ref, hash))
            : 0;
    if (rc != 0) return rc;
    aitbc_stmt *s = api->stmt(t, "UPDATE marketplace_trades SET refunded = refunded + ?2, "
                                 "paused_ms = NULL WHERE trade_id = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, r->trade_id);
    api->bind_int64(s, 2, amount);
    rc = api->step(s);
    api->stmt_done(s);
    if (rc < 0) return rc;
    r->refunded += amount;
    r->paused_ms = -1;
    return 0;
}

static int release_one(mk_state *ms, aitbc_txn *t, trade_row *r, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    if (r->paused_ms >= 0) {
        if (now_ms < r->ends_ms) return 0; /* paused hours are not the seller's */
        int rc = end_pause(ms, t, r, r->ends_ms);
        if (rc != 0) return rc;
    }
    int64_t hour_len = (r->ends_ms - r->created_ms) / r->hours;
    int64_t done = mk_hours_done(r->hours, hour_len, now_ms - r->created_ms);
    int64_t released = r->released, per_hour = r->total / r->hours;
    char ref[AITBC_ID_MAX + 32], hash[AITBC_TX_HASH_MAX];
    for (int64_t k = r->hours_released + 1; k <= done; k++) {
        /* The last hour takes whatever is left, so releases and refunds sum to the total
         * exactly; after a paused stretch was refunded, hours pay only what is left. */
        int64_t left = r->total - released - r->refunded;
        int64_t amount = k == r->hours || per_hour > left ? left : per_hour;
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
                                 "WHERE status = 'ACTIVE' AND next_ms <= ?1 AND "
                                 "(paused_ms IS NULL OR ends_ms <= ?1) ORDER BY next_ms");
    if (!s) return AITBC_EIO;
    api->bind_int64(s, 1, now_ms);
    int n = collect(api, s, rows);
    for (int i = 0; i < n; i++) {
        int rc = release_one(ms, t, &rows[i], now_ms);
        if (rc != 0) return rc;
    }
    return n;
}

static int end_one(mk_state *ms, aitbc_txn *t, trade_row *r, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    int rc = end_pause(ms, t, r, now_ms);
    if (rc != 0) return rc;
    /* The seller's pro-rata share of the elapsed time, less the paused time already refunded. */
    int64_t share = mk_prorata(r->total, r->ends_ms - r->created_ms, now_ms - r->created_ms);
    share = share - r->refunded > r->released ? share - r->refunded : r->released;
    int64_t pay = share - r->released, refund = r->total - r->refunded - share;
    char ref[AITBC_ID_MAX + 32], hash[AITBC_TX_HASH_MAX];
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
                                 "released = released + ?2, refunded = refunded + ?3 "
                                 "WHERE trade_id = ?1");
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
                                     "WHERE status = 'ACTIVE' "
                                     "AND (CAST(?1 AS TEXT) IS NULL OR trade_id = ?1) "
                                     "AND (CAST(?2 AS TEXT) IS NULL OR offer_id = ?2) "
                                     "AND (CAST(?3 AS TEXT) IS NULL OR seller = ?3)");
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
            /* release_one may have completed it; re-read its escrow bookkeeping. */
            trade_row r = rows[i];
            if (rc == 0) {
                aitbc_stmt *q = api->stmt(t, "SELECT released, status, refunded, paused_ms "
                                             "FROM marketplace_trades WHERE trade_id = ?1");
                rc = q ? 0 : AITBC_EIO;
                if (q) {
                    api->bind_text(q, 1, r.trade_id);
                    int done = 0;
                    if (api->step(q) == AITBC_ROW) {
                        r.released = api->col_int64(q, 0);
                        done = strcmp(api->col_text(q, 1), "ACTIVE") != 0;
                        r.refunded = api->col_int64(q, 2);
                        r.paused_ms = api->col_is_null(q, 3) ? -1 : api->col_int64(q, 3);
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

int mk_trades_pause(mk_state *ms, aitbc_txn *t, const char *seller, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    aitbc_stmt *s = api->stmt(t, "UPDATE marketplace_trades SET paused_ms = ?2 WHERE seller = ?1 "
                                 "AND status = 'ACTIVE' AND paused_ms IS NULL");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, seller);
    api->bind_int64(s, 2, now_ms);
    int rc = api->step(s);
    int64_t n = rc < 0 ? 0 : api->changes(s);
    api->stmt_done(s);
    return rc < 0 ? rc : (int)n;
}

int mk_trades_resume(mk_state *ms, aitbc_txn *t, const char *seller, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    int total = 0;
    for (;;) {
        trade_row rows[MK_BATCH];
        aitbc_stmt *s = api->stmt(t, "SELECT " ROW_COLS " FROM marketplace_trades WHERE "
                                     "seller = ?1 AND status = 'ACTIVE' AND paused_ms IS NOT NULL");
        if (!s) return AITBC_EIO;
        api->bind_text(s, 1, seller);
        int n = collect(api, s, rows);
        if (n <= 0) return n < 0 ? n : total;
        for (int i = 0; i < n; i++) {
            int rc = end_pause(ms, t, &rows[i], now_ms);
            if (rc != 0) return rc;
        }
        total += n;
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

int mk_trade_use(void *self, const char *trade_id, const char *buyer, char seller_out[48],
                 int64_t *capacity) {
    mk_state *ms = self;
    const aitbc_host_api *api = ms->api;
    if (!trade_id || !buyer) return AITBC_TRADE_UNKNOWN;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(t, "SELECT tr.seller, tr.status, tr.created_ms, tr.ends_ms, "
                                 "tr.paused_ms, o.gpu_count FROM marketplace_trades tr "
                                 "JOIN marketplace_offers o ON o.offer_id = tr.offer_id "
                                 "WHERE tr.trade_id = ?1 AND tr.buyer = ?2");
    int rc = s ? 0 : AITBC_EIO;
    char seller[48] = "";
    if (s) {
        api->bind_text(s, 1, trade_id);
        api->bind_text(s, 2, buyer);
        rc = api->step(s);
        if (rc == AITBC_ROW) {
            int64_t now = api->now_ms();
            snprintf(seller, sizeof seller, "%s", api->col_text(s, 0));
            if (capacity) *capacity = api->col_int64(s, 5);
            if (strcmp(api->col_text(s, 1), "ACTIVE") != 0 || now >= api->col_int64(s, 3))
                rc = AITBC_TRADE_ENDED;
            else if (now < api->col_int64(s, 2) || !api->col_is_null(s, 4))
                rc = AITBC_TRADE_PAUSED;
            else
                rc = AITBC_TRADE_ACTIVE;
        } else if (rc == AITBC_DONE) {
            rc = AITBC_TRADE_UNKNOWN;
        }
        api->stmt_done(s);
    }
    api->txn_commit(t);
    if (rc == AITBC_TRADE_ACTIVE && ms->miners) {
        /* The timer marks pauses each tick; the registry already knows in between. */
        int err = 0;
        const char *st = mk_seller_status(ms, seller, NULL, &err);
        if (err == 0 && (!st || strcmp(st, "ONLINE") != 0)) rc = AITBC_TRADE_PAUSED;
    }
    if (rc > 0 && seller_out) snprintf(seller_out, 48, "%s", seller);
    return rc;
}
