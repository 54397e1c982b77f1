/* "metrics:chain@1": the chain series of GET /metrics. Cost per scrape: the top block (primary
 * key), pending transactions (the partial index chain_txs_pending, bounded by one block's worth),
 * and locked funds summed over chain_lock_owners, which holds only live locks (rows are deleted
 * when they reach 0): proportional to open escrows and orders, never to history. */
#include <stdio.h>
#include "chain.h"

static void top_block(chain_state *cs, aitbc_txn *t, const aitbc_metrics_writer_v1 *w,
                      aitbc_metrics_out *out) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s =
        api->stmt(t, "SELECT height, ts_ms FROM chain_blocks ORDER BY height DESC LIMIT 1");
    int64_t height = -1, ts = 0;
    if (s && api->step(s) == AITBC_ROW) {
        height = api->col_int64(s, 0);
        ts = api->col_int64(s, 1);
    }
    if (s) api->stmt_done(s);
    if (height < 0) return; /* no genesis yet: no height to report */
    int64_t now = api->now_ms();
    aitbc_metric_one(w, out, "aitbc_chain_height", AITBC_METRIC_GAUGE,
                     "Height of the newest block.", (double)height);
    aitbc_metric_one(w, out, "aitbc_chain_last_block_timestamp_seconds", AITBC_METRIC_GAUGE,
                     "Unix time of the newest block.", (double)ts / 1e3);
    aitbc_metric_one(w, out, "aitbc_chain_last_block_age_seconds", AITBC_METRIC_GAUGE,
                     "Seconds since the newest block was sealed.",
                     now > ts ? (double)(now - ts) / 1e3 : 0.0);
}

static void pending(chain_state *cs, aitbc_txn *t, const aitbc_metrics_writer_v1 *w,
                    aitbc_metrics_out *out) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT COUNT(*) FROM chain_txs WHERE block_height IS NULL");
    if (!s) return;
    if (api->step(s) == AITBC_ROW)
        aitbc_metric_one(w, out, "aitbc_chain_pending_transactions", AITBC_METRIC_GAUGE,
                         "Transactions waiting for the next block.", (double)api->col_int64(s, 0));
    api->stmt_done(s);
}

static void locked(chain_state *cs, aitbc_txn *t, const aitbc_metrics_writer_v1 *w,
                   aitbc_metrics_out *out) {
    const aitbc_host_api *api = cs->api;
    if (w->family(out, "aitbc_ledger_locked", AITBC_METRIC_GAUGE,
                  "Funds locked by each module, in the asset's base units.") != 0)
        return;
    aitbc_stmt *s = api->stmt(t, "SELECT module, asset, SUM(amount) FROM chain_lock_owners "
                                 "GROUP BY module, asset ORDER BY module, asset");
    while (s && api->step(s) == AITBC_ROW) {
        const char *module = api->col_text(s, 0), *asset = api->col_text(s, 1);
        aitbc_metric_label l[2] = {{"module", module ? module : ""}, {"asset", asset ? asset : ""}};
        w->sample(out, l, 2, (double)api->col_int64(s, 2));
    }
    if (s) api->stmt_done(s);
}

static void collect(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    chain_state *cs = self;
    aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_READ);
    if (!t) return;
    top_block(cs, t, w, out);
    pending(cs, t, w, out);
    locked(cs, t, w, out);
    cs->api->txn_commit(t);
}

void chain_metrics_init(chain_state *cs) {
    cs->metrics = (aitbc_metrics_v1){.size = sizeof cs->metrics, .self = cs, .collect = collect};
}
