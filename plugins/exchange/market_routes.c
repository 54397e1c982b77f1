/* Public market data (any role): the markets and the public trade list (the ticker is ticker.c);
 * and a client's exchange balances (available and locked, from the ledger). Also the request side
 * of list paging shared with orders.c (the SDK's limits and cursors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exchange.h"

int ex_page(ex_state *es, aitbc_request *req, const char *tag, int *limit, int64_t *before) {
    const aitbc_host_api *api = es->api;
    *before = INT64_MAX;
    if (aitbc_req_limit(api, req, limit) != 0) return -1;
    return aitbc_req_cursor(api, req, tag, before, NULL) < 0 ? -1 : 0;
}

void ex_h_markets(aitbc_request *req, void *user) {
    ex_state *es = user;
    cJSON *out = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(out, "items");
    for (size_t i = 0; i < es->nmarkets; i++) {
        const ex_market *m = &es->markets[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "market", m->symbol);
        cJSON_AddStringToObject(o, "base", m->base);
        cJSON_AddStringToObject(o, "quote", m->quote);
        aitbc_json_add_i64(o, "base_decimals", m->p.base_dec);
        aitbc_json_add_i64(o, "quote_decimals", m->p.quote_dec);
        aitbc_json_add_money(o, "tick_size", m->p.tick, m->p.quote_dec);
        aitbc_json_add_money(o, "step_size", m->p.step, m->p.base_dec);
        aitbc_json_add_money(o, "min_notional", m->p.min_notional, m->p.quote_dec);
        aitbc_json_add_i64(o, "maker_fee_bps", m->p.maker_bps);
        aitbc_json_add_i64(o, "taker_fee_bps", m->p.taker_bps);
        cJSON_AddItemToArray(items, o);
    }
    cJSON_AddNullToObject(out, "next_cursor");
    es->api->respond_json(req, 200, out);
}

/* One public trade: columns seq, trade_id, market, price, quantity, notional, taker_side, ts_ms. */
static cJSON *trade_row(aitbc_stmt *s, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const ex_market *m = ex_find_market(es, api->col_text(s, 2));
    if (!m) return NULL; /* a market removed from the config since */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "trade_id", api->col_text(s, 1));
    cJSON_AddStringToObject(o, "market", m->symbol);
    aitbc_json_add_money(o, "price", api->col_int64(s, 3), m->p.quote_dec);
    aitbc_json_add_money(o, "quantity", api->col_int64(s, 4), m->p.base_dec);
    aitbc_json_add_money(o, "quote_quantity", api->col_int64(s, 5), m->p.quote_dec);
    cJSON_AddStringToObject(o, "side", api->col_int64(s, 6) == EX_BUY ? "buy" : "sell");
    char ts[AITBC_TIME_MAX];
    aitbc_time_format(api->col_int64(s, 7), ts);
    cJSON_AddStringToObject(o, "time", ts);
    return o;
}

void ex_h_trades(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *sym = api->req_query(req, "market");
    if (sym && !ex_find_market(es, sym)) {
        api->respond_error(req, 400, "invalid_argument", "market", "unknown market");
        return;
    }
    char tag[AITBC_CURSOR_TAG_LEN + 1];
    const char *filters[] = {sym};
    aitbc_cursor_tag("exchange.trades", filters, 1, tag);
    int limit;
    int64_t before;
    if (ex_page(es, req, tag, &limit, &before) != 0) return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, "SELECT seq, trade_id, market, price, quantity, notional,"
                                     " taker_side, ts_ms FROM exchange_trades WHERE seq < ?1"
                                     " AND (CAST(?2 AS TEXT) IS NULL OR market = ?2)"
                                     " ORDER BY seq DESC LIMIT ?3")
                      : NULL;
    if (!s) {
        if (t) api->txn_commit(t);
        api->respond_error(req, 500, "internal", NULL, "internal error");
        return;
    }
    api->bind_int64(s, 1, before);
    if (sym)
        api->bind_text(s, 2, sym);
    else
        api->bind_null(s, 2);
    api->bind_int64(s, 3, limit + 1);
    cJSON *out = aitbc_page_collect(api, s, limit, 0, tag, trade_row, es);
    api->txn_commit(t);
    if (!out) {
        api->respond_error(req, 500, "internal", NULL, "internal error");
        return;
    }
    api->respond_json(req, 200, out);
}

void ex_h_balances(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const aitbc_principal *who = api->req_principal(req);
    if (!who || !aitbc_address_valid(who->owner_address)) {
        api->respond_error(req, 403, "forbidden", NULL, "this key has no account");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "address", who->owner_address);
    cJSON *items = cJSON_AddArrayToObject(out, "balances");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < 2 * es->nmarkets; i++) {
        const ex_market *m = &es->markets[i / 2];
        const char *asset = i % 2 ? m->quote : m->base;
        int seen = 0; /* each asset once, in market order */
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(j % 2 ? es->markets[j / 2].quote : es->markets[j / 2].base, asset) == 0;
        if (seen) continue;
        int64_t avail = 0, locked = 0;
        rc =
            es->ledger->balance(es->ledger->self, NULL, who->owner_address, asset, &avail, &locked);
        if (rc == AITBC_ENOTFOUND) rc = avail = locked = 0;
        int dec = es->ledger->asset_decimals(es->ledger->self, asset);
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "asset", asset);
        aitbc_json_add_money(b, "available", avail, dec);
        aitbc_json_add_money(b, "locked", locked, dec);
        cJSON_AddItemToArray(items, b);
    }
    if (rc != 0) {
        cJSON_Delete(out);
        ex_respond_rc(es, req, rc);
        return;
    }
    api->respond_json(req, 200, out);
}
