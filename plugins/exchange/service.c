/* exchange@1: the figures GET /v1/admin/stats shows for the exchange. */
#include "exchange.h"

#define EX_DAY_MS 86400000

static int ex_stats(void *self, int64_t *markets, int64_t *trades_24h) {
    ex_state *es = self;
    const aitbc_host_api *api = es->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    int rc = 0;
    int64_t n = 0, since = api->now_ms() - EX_DAY_MS;
    for (size_t i = 0; rc == 0 && i < es->nmarkets; i++) {
        aitbc_stmt *s = api->stmt(
            t, AITBC_SQL_INDEXED_BY(es->pg, "SELECT COUNT(*) FROM exchange_trades",
                                    "exchange_trades_time", "WHERE market = ?1 AND ts_ms >= ?2"));
        if (!s) {
            rc = AITBC_EIO;
            break;
        }
        api->bind_text(s, 1, es->markets[i].symbol);
        api->bind_int64(s, 2, since);
        if (api->step(s) == AITBC_ROW)
            n += api->col_int64(s, 0);
        else
            rc = AITBC_EIO;
        api->stmt_done(s);
    }
    api->txn_commit(t);
    if (rc != 0) return rc;
    if (markets) *markets = (int64_t)es->nmarkets;
    if (trades_24h) *trades_24h = n;
    return 0;
}

void ex_service_init(ex_state *es) {
    es->service = (aitbc_exchange_v1){sizeof(aitbc_exchange_v1), es, ex_stats};
}
