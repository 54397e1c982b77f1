/* "metrics:chain@1": the chain series of GET /metrics. Cost per scrape: the top block and the
 * newest transaction (primary keys: blocks hold gap-free ranges of transaction sequence numbers,
 * so whatever lies past the top block's range is pending), and locked funds summed over
 * chain_lock_owners, which holds only live locks (rows are deleted when they reach 0):
 * proportional to open escrows and orders, never to history. */
#include <stdio.h>
#include "chain.h"

/* The newest block's series; *next_seq = the first transaction no block holds yet. */
static void top_block(chain_state *cs, aitbc_txn *t, const aitbc_metrics_writer_v1 *w,
                      aitbc_metrics_out *out, int64_t *next_seq) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT height, ts_ms, first_seq + tx_count FROM chain_blocks "
                                 "ORDER BY height DESC LIMIT 1");
    int64_t height = -1, ts = 0;
    if (s && api->step(s) == AITBC_ROW) {
        height = api->col_int64(s, 0);
        ts = api->col_int64(s, 1);
        if (!api->col_is_null(s, 2)) *next_seq = api->col_int64(s, 2);
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

static void pending(chain_state *cs, aitbc_txn *t, int64_t next_seq,
                    const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT MAX(seq) FROM chain_txs");
    if (!s) return;
    if (api->step(s) == AITBC_ROW) {
        int64_t last = api->col_is_null(s, 0) ? 0 : api->col_int64(s, 0);
        aitbc_metric_one(w, out, "aitbc_chain_pending_transactions", AITBC_METRIC_GAUGE,
                         "Transactions waiting for the next block.",
                         (double)(last >= next_seq ? last - next_seq + 1 : 0));
    }
    api->stmt_done(s);
}

static void locked(chain_state *cs, aitbc_txn *t, const aitbc_metrics_writer_v1 *w,
                   aitbc_metrics_out *out) {
    const aitbc_host_api *api = cs->api;
    if (w->family(out, "aitbc_ledger_locked", AITBC_METRIC_GAUGE,
                  "Funds locked by each module, in the asset's base units.") != 0)
        return;
    aitbc_stmt *s = api->stmt(t, "SELECT module, asset, CAST(SUM(amount) AS INTEGER) FROM "
                                 "chain_lock_owners "
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
    int64_t next_seq = 1; /* seq counts from 1 */
    top_block(cs, t, w, out, &next_seq);
    pending(cs, t, next_seq, w, out);
    locked(cs, t, w, out);
    cs->api->txn_commit(t);
}

void chain_metrics_init(chain_state *cs) {
    cs->metrics = (aitbc_metrics_v1){.size = sizeof cs->metrics, .self = cs, .collect = collect};
}
