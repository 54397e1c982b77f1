/* "metrics:exchange@1": the exchange series of GET /metrics. Cost per scrape: open orders counted
 * per configured market from the partial index exchange_orders_open (live orders only), and the
 * orders and trades ever made read as the tables' largest `seq` (rows are never
 * deleted): constant time, where a per-market count would walk all history. */
#include "exchange.h"

static int64_t max_seq(ex_state *es, aitbc_txn *t, const char *sql) {
    aitbc_stmt *s = es->api->stmt(t, sql);
    int64_t v = 0;
    if (s && es->api->step(s) == AITBC_ROW) v = es->api->col_int64(s, 0);
    if (s) es->api->stmt_done(s);
    return v;
}

static void open_orders(ex_state *es, aitbc_txn *t, const aitbc_metrics_writer_v1 *w,
                        aitbc_metrics_out *out) {
    const aitbc_host_api *api = es->api;
    if (w->family(out, "aitbc_exchange_open_orders", AITBC_METRIC_GAUGE,
                  "Orders resting on the book, by market and side.") != 0)
        return;
    for (size_t i = 0; i < es->nmarkets; i++) {
        int64_t by_side[2] = {0, 0};
        aitbc_stmt *s = api->stmt(t, "SELECT side, COUNT(*) FROM exchange_orders WHERE "
                                     "is_open = 1 AND market = ?1 GROUP BY side");
        if (!s) return;
        api->bind_text(s, 1, es->markets[i].symbol);
        while (api->step(s) == AITBC_ROW) {
            int64_t side = api->col_int64(s, 0);
            if (side == EX_BUY || side == EX_SELL) by_side[side == EX_SELL] = api->col_int64(s, 1);
        }
        api->stmt_done(s);
        aitbc_metric_label l[2] = {{"market", es->markets[i].symbol}, {"side", "buy"}};
        w->sample(out, l, 2, (double)by_side[0]);
        l[1].value = "sell";
        w->sample(out, l, 2, (double)by_side[1]);
    }
}

static void collect(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    ex_state *es = self;
    aitbc_txn *t = es->api->txn_begin(AITBC_TXN_READ);
    if (!t) return;
    open_orders(es, t, w, out);
    aitbc_metric_one(w, out, "aitbc_exchange_orders_total", AITBC_METRIC_COUNTER,
                     "Orders placed on every market.",
                     (double)max_seq(es, t, "SELECT MAX(seq) FROM exchange_orders"));
    aitbc_metric_one(w, out, "aitbc_exchange_trades_total", AITBC_METRIC_COUNTER,
                     "Trades matched on every market.",
                     (double)max_seq(es, t, "SELECT MAX(seq) FROM exchange_trades"));
    es->api->txn_commit(t);
}

void ex_metrics_init(ex_state *es) {
    es->metrics = (aitbc_metrics_v1){.size = sizeof es->metrics, .self = es, .collect = collect};
}
