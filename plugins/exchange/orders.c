/* A client's own orders: the Order JSON (with its fills), GET one, list with a keyset cursor, and
 * DELETE (cancel: the remaining lock is released in the same transaction as the status change,
 * the book and the `orderbook` event follow the commit). Another account's order is a 404. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exchange.h"

#define ORDER_COLS                                                                                 \
    "order_id, owner, market, side, type, tif, post_only, price, quantity, quote_quantity,"        \
    " client_order_id, status, is_open, filled, filled_quote, fees, remaining, locked,"            \
    " created_ms, updated_ms, seq"

void ex_respond_rc(ex_state *es, aitbc_request *req, int rc) {
    static const aitbc_rc_text own[] = {
        {AITBC_EFUNDS, NULL, "available balance too low to lock this order's funds"},
        {AITBC_ECONFLICT, "client_order_id",
         "client_order_id is already used by one of your open orders"},
        {AITBC_EEXIST, NULL, "duplicate"},
        {AITBC_EOVERFLOW, NULL, "amount would overflow a balance"},
        {0}};
    aitbc_respond_rc(es->api, es->ctx, req, rc, own);
}

cJSON *ex_fill_json(const ex_market *m, int side, const char *trade_id, int64_t price, int64_t qty,
                    int64_t fee, int taker) {
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "trade_id", trade_id);
    aitbc_json_add_money(f, "price", price, m->p.quote_dec);
    aitbc_json_add_money(f, "quantity", qty, m->p.base_dec);
    aitbc_json_add_money(f, "fee", fee, side == EX_BUY ? m->p.base_dec : m->p.quote_dec);
    cJSON_AddStringToObject(f, "fee_asset", side == EX_BUY ? m->base : m->quote);
    cJSON_AddStringToObject(f, "liquidity", taker ? "taker" : "maker");
    return f;
}

static cJSON *fills_json(ex_state *es, aitbc_txn *t, const ex_market *m, const char *order_id,
                         int side) {
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(t, "SELECT trade_id, price, quantity, taker_order, taker_fee,"
                                 " maker_fee FROM exchange_trades"
                                 " WHERE taker_order = ?1 OR maker_order = ?1 ORDER BY seq");
    if (!s) return NULL;
    api->bind_text(s, 1, order_id);
    cJSON *arr = cJSON_CreateArray();
    while (api->step(s) == AITBC_ROW) {
        int taker = strcmp(api->col_text(s, 3), order_id) == 0;
        cJSON_AddItemToArray(arr, ex_fill_json(m, side, api->col_text(s, 0), api->col_int64(s, 1),
                                               api->col_int64(s, 2),
                                               api->col_int64(s, taker ? 4 : 5), taker));
    }
    api->stmt_done(s);
    return arr;
}

static void add_opt_money(cJSON *o, const char *k, int64_t v, int dec) {
    if (v == 0) /* stored NULL: the field does not belong to the order's type */
        cJSON_AddNullToObject(o, k);
    else
        aitbc_json_add_money(o, k, v, dec);
}

cJSON *ex_order_view_json(const ex_order_view *v, cJSON *fills) {
    static const char *const tifs[] = {"GTC", "IOC", "FOK"};
    const ex_market *m = v->m;
    int qd = m->p.quote_dec, bd = m->p.base_dec, side = v->side;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "order_id", v->order_id);
    aitbc_json_add_str(o, "client_order_id", v->client_order_id);
    cJSON_AddStringToObject(o, "market", m->symbol);
    cJSON_AddStringToObject(o, "side", side == EX_BUY ? "buy" : "sell");
    cJSON_AddStringToObject(o, "type", v->type == EX_LIMIT ? "limit" : "market");
    cJSON_AddStringToObject(o, "time_in_force", v->tif >= 0 && v->tif <= 2 ? tifs[v->tif] : "GTC");
    cJSON_AddBoolToObject(o, "post_only", v->post_only != 0);
    add_opt_money(o, "price", v->price, qd);
    add_opt_money(o, "quantity", v->quantity, bd);
    add_opt_money(o, "quote_quantity", v->quote_quantity, qd);
    cJSON_AddStringToObject(o, "status", ex_status_name(v->status));
    aitbc_json_add_money(o, "filled_quantity", v->filled, bd);
    aitbc_json_add_money(o, "filled_quote_quantity", v->filled_quote, qd);
    if (v->quantity == 0)
        cJSON_AddNullToObject(o, "remaining_quantity");
    else
        aitbc_json_add_money(o, "remaining_quantity", v->remaining, bd);
    if (v->filled > 0) /* volume-weighted, rounded down to a quote base unit */
        aitbc_json_add_money(
            o, "avg_price", (int64_t)((__int128)v->filled_quote * m->p.base_scale / v->filled), qd);
    else
        cJSON_AddNullToObject(o, "avg_price");
    aitbc_json_add_money(o, "fees", v->fees, side == EX_BUY ? bd : qd);
    cJSON_AddStringToObject(o, "fee_asset", side == EX_BUY ? m->base : m->quote);
    char ts[AITBC_TIME_MAX];
    aitbc_time_format(v->created_ms, ts);
    cJSON_AddStringToObject(o, "created_at", ts);
    aitbc_time_format(v->updated_ms, ts);
    cJSON_AddStringToObject(o, "updated_at", ts);
    cJSON_AddItemToObject(o, "fills", fills);
    return o;
}

static int64_t col_or_0(const aitbc_host_api *api, aitbc_stmt *s, int col) {
    return api->col_is_null(s, col) ? 0 : api->col_int64(s, col);
}

/* The Order of the current row of s (ORDER_COLS). */
static cJSON *row_json(ex_state *es, aitbc_txn *t, aitbc_stmt *s) {
    const aitbc_host_api *api = es->api;
    ex_market *m = ex_find_market(es, api->col_text(s, 2));
    if (!m) return NULL;
    char id[AITBC_ID_MAX], coid[AITBC_ID_MAX];
    snprintf(id, sizeof id, "%s", api->col_text(s, 0));
    const char *c = api->col_text(s, 10);
    if (c) snprintf(coid, sizeof coid, "%s", c);
    ex_order_view v = {
        .order_id = id,
        .client_order_id = c ? coid : NULL,
        .m = m,
        .side = api->col_int64(s, 3) == EX_BUY ? EX_BUY : EX_SELL,
        .type = (int)api->col_int64(s, 4),
        .tif = (int)api->col_int64(s, 5),
        .post_only = api->col_int64(s, 6) != 0,
        .status = (int)api->col_int64(s, 11),
        .price = col_or_0(api, s, 7),
        .quantity = col_or_0(api, s, 8),
        .quote_quantity = col_or_0(api, s, 9),
        .filled = api->col_int64(s, 13),
        .filled_quote = api->col_int64(s, 14),
        .fees = api->col_int64(s, 15),
        .remaining = api->col_int64(s, 16),
        .created_ms = api->col_int64(s, 18),
        .updated_ms = api->col_int64(s, 19),
    };
    /* Fills are read with another statement: nothing is taken from s after it. */
    cJSON *fills = fills_json(es, t, m, id, v.side);
    return fills ? ex_order_view_json(&v, fills) : NULL;
}

/* aitbc_page_collect's row callback: an order row with the transaction its fills are read in. */
typedef struct order_row_ctx {
    ex_state *es;
    aitbc_txn *t;
} order_row_ctx;

static cJSON *order_row(aitbc_stmt *s, void *user) {
    order_row_ctx *ctx = user;
    return row_json(ctx->es, ctx->t, s);
}

cJSON *ex_order_json(ex_state *es, aitbc_txn *t, const char *order_id, const char *owner) {
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(t, "SELECT " ORDER_COLS " FROM exchange_orders WHERE order_id = ?1"
                                 " AND (CAST(?2 AS TEXT) IS NULL OR owner = ?2)");
    if (!s) return NULL;
    api->bind_text(s, 1, order_id);
    if (owner)
        api->bind_text(s, 2, owner);
    else
        api->bind_null(s, 2);
    cJSON *o = NULL;
    if (api->step(s) == AITBC_ROW) o = row_json(es, t, s);
    api->stmt_done(s);
    return o;
}

static const char *caller(ex_state *es, aitbc_request *req) {
    const aitbc_principal *who = es->api->req_principal(req);
    if (!who || !aitbc_address_valid(who->owner_address)) {
        es->api->respond_error(req, 403, "forbidden", NULL, "this key has no account");
        return NULL;
    }
    return who->owner_address;
}

void ex_h_order_get(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *owner = caller(es, req);
    if (!owner) return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    cJSON *o = t ? ex_order_json(es, t, api->req_param(req, "order_id"), owner) : NULL;
    if (t) api->txn_commit(t);
    if (o)
        api->respond_json(req, 200, o);
    else
        api->respond_error(req, 404, "not_found", NULL, "no such order");
}

/* The open order's market, side, price and what it still locks; 0, ENOTFOUND or ECONFLICT. */
static int find_open(ex_state *es, aitbc_txn *t, const char *id, const char *owner, ex_market **m,
                     int *side, int64_t *price, int64_t *locked) {
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(t, "SELECT market, side, price, locked, is_open FROM exchange_orders"
                                 " WHERE order_id = ?1 AND owner = ?2");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, id);
    api->bind_text(s, 2, owner);
    int rc = api->step(s);
    if (rc == AITBC_ROW) {
        *m = ex_find_market(es, api->col_text(s, 0));
        *side = api->col_int64(s, 1) == EX_BUY ? EX_BUY : EX_SELL;
        *price = api->col_int64(s, 2);
        *locked = api->col_int64(s, 3);
        rc = !*m ? AITBC_ENOTFOUND : api->col_int64(s, 4) ? 0 : AITBC_ECONFLICT;
    } else {
        rc = rc < 0 ? rc : AITBC_ENOTFOUND;
    }
    api->stmt_done(s);
    return rc;
}

static int cancel_in(ex_state *es, aitbc_txn *t, const char *id, const char *owner,
                     const ex_market *m, int side, int64_t locked) {
    const aitbc_host_api *api = es->api;
    char ref[AITBC_ID_MAX + 16];
    snprintf(ref, sizeof ref, "%s:unlock", id);
    int rc = locked > 0 ? es->ledger->unlock(es->ledger->self, t, owner,
                                             side == EX_BUY ? m->quote : m->base, locked, ref, NULL)
                        : 0;
    aitbc_stmt *s = rc == 0 ? api->stmt(t, "UPDATE exchange_orders SET status = ?2, is_open = 0,"
                                           " locked = 0, updated_ms = ?3 WHERE order_id = ?1")
                            : NULL;
    if (rc == 0 && !s) return AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, id);
        api->bind_int64(s, 2, EX_ST_CANCELED);
        api->bind_int64(s, 3, api->now_ms());
        rc = api->step(s) < 0 ? AITBC_EIO : 0;
        api->stmt_done(s);
    }
    return rc;
}

void ex_h_order_cancel(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *owner = caller(es, req);
    if (!owner) return;
    const char *id = api->req_param(req, "order_id");
    ex_market *m = NULL;
    int side = 0;
    int64_t price = 0, locked = 0;
    /* Find the market first (outside its lock), then redo the check under the lock. */
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    int rc = t ? find_open(es, t, id, owner, &m, &side, &price, &locked) : AITBC_EBUSY;
    if (t) api->txn_commit(t);
    if (rc == 0) {
        pthread_mutex_lock(&m->lock);
        rc = ex_market_batch_join(m);
        t = rc == 0 ? api->txn_begin(AITBC_TXN_WRITE) : NULL;
        if (rc == 0 && t) rc = ex_book_sync(m, t, NULL); /* another host's changes */
        if (rc == 0) rc = t ? find_open(es, t, id, owner, &m, &side, &price, &locked) : AITBC_EBUSY;
        if (rc == 0) rc = cancel_in(es, t, id, owner, m, side, locked);
        if (rc == 0) rc = ex_book_bump(m, t, 1);
        if (rc == 0)
            rc = api->txn_commit(t);
        else if (t)
            api->txn_rollback(t);
        if (rc == 0 && ex_book_remove(&m->book, side, price, id, NULL) == 0)
            ex_publish_levels(es, m, &side, &price, 1);
        pthread_mutex_unlock(&m->lock);
    }
    if (rc == AITBC_ENOTFOUND) {
        api->respond_error(req, 404, "not_found", NULL, "no such order");
        return;
    }
    if (rc == AITBC_ECONFLICT) {
        api->respond_error(req, 409, "conflict", NULL, "the order is no longer open");
        return;
    }
    if (rc != 0) {
        ex_respond_rc(es, req, rc);
        return;
    }
    t = api->txn_begin(AITBC_TXN_READ);
    cJSON *o = t ? ex_order_json(es, t, id, owner) : NULL;
    if (t) api->txn_commit(t);
    if (o)
        api->respond_json(req, 200, o);
    else
        api->respond_error(req, 500, "internal", NULL, "order canceled but not readable");
}

void ex_h_orders_list(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *owner = caller(es, req);
    if (!owner) return;
    const char *status = api->req_query(req, "status");
    const char *market = api->req_query(req, "market");
    if (status && strcmp(status, "open") != 0 && strcmp(status, "all") != 0) {
        api->respond_error(req, 400, "invalid_argument", "status", "status must be open or all");
        return;
    }
    if (market && !ex_find_market(es, market)) {
        api->respond_error(req, 400, "invalid_argument", "market", "unknown market");
        return;
    }
    int open_only = !status || strcmp(status, "open") == 0;
    char tag[AITBC_CURSOR_TAG_LEN + 1];
    const char *filters[] = {open_only ? "open" : "all", market};
    aitbc_cursor_tag("exchange.orders", filters, 2, tag);
    int limit;
    int64_t before;
    if (ex_page(es, req, tag, &limit, &before) != 0) return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, "SELECT " ORDER_COLS " FROM exchange_orders WHERE owner = ?1"
                                     " AND seq < ?2 AND (CAST(?3 AS INTEGER) = 0 OR is_open = 1)"
                                     " AND (CAST(?4 AS TEXT) IS NULL OR market = ?4)"
                                     " ORDER BY seq DESC LIMIT ?5")
                      : NULL;
    if (!s) {
        if (t) api->txn_commit(t);
        api->respond_error(req, 500, "internal", NULL, "internal error");
        return;
    }
    api->bind_text(s, 1, owner);
    api->bind_int64(s, 2, before);
    api->bind_int64(s, 3, open_only);
    if (market)
        api->bind_text(s, 4, market);
    else
        api->bind_null(s, 4);
    api->bind_int64(s, 5, limit + 1);
    order_row_ctx ctx = {es, t};
    cJSON *out = aitbc_page_collect(api, s, limit, 20, tag, order_row, &ctx);
    api->txn_commit(t);
    if (!out) {
        api->respond_error(req, 500, "internal", NULL, "internal error");
        return;
    }
    api->respond_json(req, 200, out);
}
