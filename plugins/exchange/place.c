/* POST /v1/exchange/orders: validate, plan against the book under the market's lock, then lock
 * the funds, settle every fill and store the orders and trades in ONE write transaction (every
 * ledger call joins it); the book changes and the bus events happen only after the commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exchange.h"

static const char *const k_fields[] = {
    "market",         "side",          "type",      "price",           "quantity",
    "quote_quantity", "time_in_force", "post_only", "client_order_id", NULL};

typedef struct order_in {
    ex_market *m;
    ex_taker t;
    const char *coid;
    char owner[AITBC_ADDRESS_MAX];
    char id[AITBC_ID_MAX];
} order_in;

static int bad(ex_state *es, aitbc_request *req, const char *field, const char *msg) {
    es->api->respond_error(req, 400, "invalid_argument", field, "%s", msg);
    return -1;
}

/* One of the allowed strings → its index; -1 (absent, if allowed) or -2 (invalid). */
static int pick(const cJSON *body, const char *k, const char *const *names, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, k);
    if (!v) return def;
    const char *s = cJSON_GetStringValue(v);
    for (int i = 0; s && names[i]; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -2;
}

/* An amount field on a grid: absent → 0; present → > 0 and a multiple of step. */
static int amount(ex_state *es, aitbc_request *req, const cJSON *body, const char *k, int dec,
                  int64_t step, int64_t *out) {
    *out = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, k);
    if (!v) return 0;
    const char *s = cJSON_GetStringValue(v);
    if (!s || aitbc_money_parse(s, dec, out) != 0 || *out <= 0)
        return bad(es, req, k, "must be a decimal string > 0 within the asset's decimals");
    if (*out % step != 0) return bad(es, req, k, "is not a multiple of the market's step");
    return 0;
}

static int parse(ex_state *es, aitbc_request *req, order_in *in) {
    static const char *const sides[] = {"buy", "sell", NULL};
    static const char *const types[] = {"limit", "market", NULL};
    static const char *const tifs[] = {"GTC", "IOC", "FOK", NULL};
    const cJSON *body = aitbc_req_object(es->api, req, k_fields);
    if (!body) return -1;
    in->m =
        ex_find_market(es, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "market")));
    if (!in->m) return bad(es, req, "market", "unknown market");
    const ex_params *p = &in->m->p;
    ex_taker *t = &in->t;
    if ((t->side = pick(body, "side", sides, -2)) < 0)
        return bad(es, req, "side", "must be \"buy\" or \"sell\"");
    if ((t->type = pick(body, "type", types, -2)) < 0)
        return bad(es, req, "type", "must be \"limit\" or \"market\"");
    if ((t->tif = pick(body, "time_in_force", tifs, EX_GTC)) < 0)
        return bad(es, req, "time_in_force", "must be GTC, IOC or FOK");
    const cJSON *po = cJSON_GetObjectItemCaseSensitive(body, "post_only");
    if (po && !cJSON_IsBool(po)) return bad(es, req, "post_only", "must be a boolean");
    t->post_only = cJSON_IsTrue(po);
    if (t->post_only && (t->type != EX_LIMIT || t->tif != EX_GTC))
        return bad(es, req, "post_only", "only a GTC limit order can be post-only");
    const cJSON *co = cJSON_GetObjectItemCaseSensitive(body, "client_order_id");
    in->coid = cJSON_IsNull(co) ? NULL : cJSON_GetStringValue(co);
    if (co && !cJSON_IsNull(co) &&
        (!in->coid || !in->coid[0] || strlen(in->coid) > 64 ||
         strspn(in->coid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:") !=
             strlen(in->coid)))
        return bad(es, req, "client_order_id", "must be 1-64 of A-Z a-z 0-9 - _ . :");
    if (amount(es, req, body, "price", p->quote_dec, p->tick, &t->price) != 0 ||
        amount(es, req, body, "quantity", p->base_dec, p->step, &t->quantity) != 0 ||
        amount(es, req, body, "quote_quantity", p->quote_dec, 1, &t->quote_budget) != 0)
        return -1;
    if (t->type == EX_LIMIT) {
        if (!t->price) return bad(es, req, "price", "a limit order needs a price");
        if (!t->quantity) return bad(es, req, "quantity", "a limit order needs a quantity");
        if (t->quote_budget)
            return bad(es, req, "quote_quantity", "only a market buy takes quote_quantity");
        int64_t n;
        if (ex_notional(t->price, t->quantity, p->base_scale, &n) != 0)
            return bad(es, req, "quantity", "price × quantity is too large");
        if (n < p->min_notional)
            return bad(es, req, "quantity", "price × quantity is below the market's min_notional");
    } else if (t->side == EX_SELL) {
        if (t->price || t->quote_budget)
            return bad(es, req, t->price ? "price" : "quote_quantity",
                       "a market sell takes only a quantity");
        if (!t->quantity) return bad(es, req, "quantity", "a market sell needs a quantity");
    } else {
        if (t->price || t->quantity)
            return bad(es, req, t->price ? "price" : "quantity",
                       "a market buy takes only quote_quantity (what it may spend)");
        if (!t->quote_budget)
            return bad(es, req, "quote_quantity", "a market buy needs quote_quantity");
        if (t->quote_budget < p->min_notional)
            return bad(es, req, "quote_quantity", "below the market's min_notional");
    }
    return 0;
}

/* What placing the order locks: quote (price × quantity or the budget) or base. */
static int64_t lock_amount(const order_in *in) {
    const ex_taker *t = &in->t;
    if (t->side == EX_SELL) return t->quantity;
    if (t->type == EX_MARKET) return t->quote_budget;
    int64_t n = 0;
    ex_notional(t->price, t->quantity, in->m->p.base_scale, &n);
    return n;
}

static int coid_taken(ex_state *es, aitbc_txn *txn, const order_in *in) {
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(txn, "SELECT 1 FROM exchange_orders WHERE owner = ?1 AND "
                                   "client_order_id = ?2 AND is_open = 1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, in->owner);
    api->bind_text(s, 2, in->coid);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc == AITBC_ROW ? AITBC_ECONFLICT : rc < 0 ? rc : 0;
}

/* Ledger call results that are not errors here: a repeat (EEXIST) cannot happen with fresh ids. */
static int unlock(ex_state *es, aitbc_txn *txn, const char *owner, const char *asset, int64_t amt,
                  const char *order_id) {
    char ref[AITBC_ID_MAX + 16];
    snprintf(ref, sizeof ref, "%s:unlock", order_id);
    return es->ledger->unlock(es->ledger->self, txn, owner, asset, amt, ref, NULL);
}

/* After a fill: the maker's row, and the release of what it still holds once it is done. */
static int update_maker(ex_state *es, aitbc_txn *txn, const order_in *in, const ex_fill *f,
                        const ex_rest *mk, int64_t now) {
    const aitbc_host_api *api = es->api;
    int maker_buys = in->t.side == EX_SELL;
    int64_t spent = maker_buys ? f->notional : f->qty;
    aitbc_stmt *s = api->stmt(
        txn, "UPDATE exchange_orders SET filled = filled + ?2, filled_quote = filled_quote + ?3,"
             " fees = fees + ?4, remaining = remaining - ?5, locked = locked - ?6,"
             " status = CASE WHEN remaining = ?5 THEN CAST(?7 AS INTEGER)"
             " ELSE CAST(?8 AS INTEGER) END,"
             " is_open = CASE WHEN remaining = ?5 THEN 0 ELSE 1 END, updated_ms = ?9"
             " WHERE order_id = ?1 RETURNING remaining, locked");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, mk->order_id);
    api->bind_int64(s, 2, f->qty);
    api->bind_int64(s, 3, f->notional);
    api->bind_int64(s, 4, f->maker_fee);
    api->bind_int64(s, 5, f->qty);
    api->bind_int64(s, 6, spent);
    api->bind_int64(s, 7, EX_ST_FILLED);
    api->bind_int64(s, 8, EX_ST_PARTIALLY_FILLED);
    api->bind_int64(s, 9, now);
    int rc = api->step(s);
    int64_t remaining = rc == AITBC_ROW ? api->col_int64(s, 0) : -1;
    int64_t locked = rc == AITBC_ROW ? api->col_int64(s, 1) : 0;
    api->stmt_done(s);
    if (rc != AITBC_ROW || remaining < 0 || locked < 0) return rc < 0 ? rc : AITBC_EIO;
    if (remaining > 0 || locked == 0) return 0;
    rc = unlock(es, txn, mk->owner, maker_buys ? in->m->quote : in->m->base, locked, mk->order_id);
    s = rc == 0 ? api->stmt(txn, "UPDATE exchange_orders SET locked = 0 WHERE order_id = ?1")
                : NULL;
    if (rc == 0 && !s) return AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, mk->order_id);
        rc = api->step(s) < 0 ? AITBC_EIO : 0;
        api->stmt_done(s);
    }
    return rc;
}

static int insert_trade(ex_state *es, aitbc_txn *txn, const order_in *in, const ex_fill *f,
                        const char *trade_id, const char *maker_order, int64_t now) {
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(
        txn, "INSERT INTO exchange_trades(trade_id, market, price, quantity, notional, taker_side,"
             " taker_order, maker_order, taker_fee, maker_fee, ts_ms)"
             " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, trade_id);
    api->bind_text(s, 2, in->m->symbol);
    api->bind_int64(s, 3, f->price);
    api->bind_int64(s, 4, f->qty);
    api->bind_int64(s, 5, f->notional);
    api->bind_int64(s, 6, in->t.side);
    api->bind_text(s, 7, in->id);
    api->bind_text(s, 8, maker_order);
    api->bind_int64(s, 9, f->taker_fee);
    api->bind_int64(s, 10, f->maker_fee);
    api->bind_int64(s, 11, now);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

/* Move base seller → buyer and quote buyer → seller out of their locks, then each one's fee out
 * of what it received to the treasury. */
static int settle(ex_state *es, aitbc_txn *txn, const order_in *in, const ex_fill *f,
                  const ex_rest *mk, const char *trade_id) {
    const aitbc_ledger_v1 *l = es->ledger;
    int taker_buys = in->t.side == EX_BUY;
    const char *buyer = taker_buys ? in->owner : mk->owner;
    const char *seller = taker_buys ? mk->owner : in->owner;
    int64_t buyer_fee = taker_buys ? f->taker_fee : f->maker_fee;
    int64_t seller_fee = taker_buys ? f->maker_fee : f->taker_fee;
    char ref[AITBC_ID_MAX + 16];
    snprintf(ref, sizeof ref, "%s:base", trade_id);
    int rc = l->settle(l->self, txn, AITBC_TX_EXCHANGE_SETTLE, seller, buyer, in->m->base, f->qty,
                       ref, NULL);
    snprintf(ref, sizeof ref, "%s:quote", trade_id);
    if (rc == 0)
        rc = l->settle(l->self, txn, AITBC_TX_EXCHANGE_SETTLE, buyer, seller, in->m->quote,
                       f->notional, ref, NULL);
    snprintf(ref, sizeof ref, "%s:fee_buyer", trade_id);
    if (rc == 0 && buyer_fee > 0 && strcmp(buyer, es->treasury) != 0)
        rc = l->transfer(l->self, txn, AITBC_TX_FEE, buyer, es->treasury, in->m->base, buyer_fee,
                         ref, NULL);
    snprintf(ref, sizeof ref, "%s:fee_seller", trade_id);
    if (rc == 0 && seller_fee > 0 && strcmp(seller, es->treasury) != 0)
        rc = l->transfer(l->self, txn, AITBC_TX_FEE, seller, es->treasury, in->m->quote, seller_fee,
                         ref, NULL);
    return rc;
}

static int insert_taker(ex_state *es, aitbc_txn *txn, const order_in *in, const ex_plan *plan,
                        int64_t locked, int64_t now, int64_t *seq) {
    const aitbc_host_api *api = es->api;
    const ex_taker *t = &in->t;
    aitbc_stmt *s = api->stmt(
        txn, "INSERT INTO exchange_orders(order_id, owner, market, side, type, tif, post_only,"
             " price, quantity, quote_quantity, client_order_id, status, is_open, filled,"
             " filled_quote, fees, remaining, locked, created_ms, updated_ms)"
             " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
             " ?17, ?18, ?19, ?19) RETURNING seq");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, in->id);
    api->bind_text(s, 2, in->owner);
    api->bind_text(s, 3, in->m->symbol);
    api->bind_int64(s, 4, t->side);
    api->bind_int64(s, 5, t->type);
    api->bind_int64(s, 6, t->tif);
    api->bind_int64(s, 7, t->post_only);
    if (t->price)
        api->bind_int64(s, 8, t->price);
    else
        api->bind_null(s, 8);
    if (t->quantity)
        api->bind_int64(s, 9, t->quantity);
    else
        api->bind_null(s, 9);
    if (t->quote_budget)
        api->bind_int64(s, 10, t->quote_budget);
    else
        api->bind_null(s, 10);
    if (in->coid)
        api->bind_text(s, 11, in->coid);
    else
        api->bind_null(s, 11);
    api->bind_int64(s, 12, plan->status);
    api->bind_int64(s, 13, plan->rest_qty > 0);
    api->bind_int64(s, 14, plan->filled);
    api->bind_int64(s, 15, plan->filled_quote);
    api->bind_int64(s, 16, plan->taker_fees);
    api->bind_int64(s, 17, t->quantity ? t->quantity - plan->filled : 0);
    api->bind_int64(s, 18, locked);
    api->bind_int64(s, 19, now);
    int rc = api->step(s);
    if (rc == AITBC_ROW) *seq = api->col_int64(s, 0);
    api->stmt_done(s);
    return rc == AITBC_ROW ? 0 : rc < 0 ? rc : AITBC_EIO;
}

/* Everything of one order inside txn. trade_ids gets one id per fill. */
static int execute(ex_state *es, aitbc_txn *txn, const order_in *in, const ex_plan *plan,
                   char (*trade_ids)[AITBC_ID_MAX], int64_t now, int64_t *seq) {
    const char *asset = in->t.side == EX_BUY ? in->m->quote : in->m->base;
    const aitbc_ledger_v1 *l = es->ledger;
    int rc = in->coid ? coid_taken(es, txn, in) : 0;
    int64_t locked = lock_amount(in);
    char ref[AITBC_ID_MAX + 16];
    snprintf(ref, sizeof ref, "%s:lock", in->id);
    if (rc == 0) rc = l->lock(l->self, txn, in->owner, asset, locked, ref, NULL);
    /* An address the ledger has no account for holds nothing: it cannot fund the order. (Making
     * the account first would only be rolled back with the refused order.) */
    if (rc == AITBC_ENOTFOUND) rc = AITBC_EFUNDS;
    for (size_t k = 0; rc == 0 && k < plan->nfills; k++) {
        const ex_fill *f = &plan->fills[k];
        const ex_rest *mk = ex_fill_maker(&in->m->book, in->t.side, f);
        aitbc_random_id("trd", trade_ids[k]);
        rc = settle(es, txn, in, f, mk, trade_ids[k]);
        if (rc == 0) rc = insert_trade(es, txn, in, f, trade_ids[k], mk->order_id, now);
        if (rc == 0) rc = update_maker(es, txn, in, f, mk, now);
        locked -= in->t.side == EX_BUY ? f->notional : f->qty;
    }
    if (rc == 0 && plan->rest_qty == 0 && locked > 0) {
        rc = unlock(es, txn, in->owner, asset, locked, in->id);
        locked = 0;
    }
    if (rc == 0) rc = insert_taker(es, txn, in, plan, locked, now, seq);
    return rc;
}

/* The price levels the plan changes: each fill's on the other side, then the rest's. */
typedef struct levels {
    int *sides;
    int64_t *prices;
    size_t n;
} levels;

static int plan_levels(const order_in *in, const ex_plan *plan, levels *lv) {
    lv->n = 0;
    lv->sides = calloc(plan->nfills + 1, sizeof *lv->sides);
    lv->prices = calloc(plan->nfills + 1, sizeof *lv->prices);
    if (!lv->sides || !lv->prices) return AITBC_ENOMEM;
    int opp = in->t.side == EX_BUY ? EX_SELL : EX_BUY;
    for (size_t i = 0; i < plan->nfills; i++, lv->n++) {
        lv->sides[lv->n] = opp;
        lv->prices[lv->n] = plan->fills[i].price;
    }
    if (plan->rest_qty > 0) {
        lv->sides[lv->n] = in->t.side;
        lv->prices[lv->n++] = in->t.price;
    }
    return 0;
}

/* After commit: the book, then the events (trades, and the changed levels). */
static void apply(ex_state *es, const order_in *in, const ex_plan *plan,
                  char (*trade_ids)[AITBC_ID_MAX], int64_t now, int64_t seq, const levels *lv) {
    ex_market *m = in->m;
    ex_book_apply(&m->book, in->t.side, plan);
    if (plan->nfills) ex_ticker_traded(m);
    if (plan->rest_qty > 0) {
        ex_rest r = {.price = in->t.price, .remaining = plan->rest_qty, .seq = seq};
        snprintf(r.order_id, sizeof r.order_id, "%s", in->id);
        snprintf(r.owner, sizeof r.owner, "%s", in->owner);
        if (ex_book_insert(&m->book, in->t.side, &r) != 0)
            es->api->log(es->ctx, AITBC_LOG_ERROR, "out of memory adding %s to the book", in->id);
    }
    char time[AITBC_TIME_MAX];
    aitbc_time_format(now, time);
    for (size_t i = 0; i < plan->nfills; i++) {
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "market", m->symbol);
        cJSON_AddStringToObject(ev, "trade_id", trade_ids[i]);
        aitbc_json_add_money(ev, "price", plan->fills[i].price, m->p.quote_dec);
        aitbc_json_add_money(ev, "quantity", plan->fills[i].qty, m->p.base_dec);
        cJSON_AddStringToObject(ev, "side", in->t.side == EX_BUY ? "buy" : "sell");
        cJSON_AddStringToObject(ev, "time", time);
        aitbc_publish_take(es->api, es->ctx, "trades", ev);
    }
    ex_publish_levels(es, m, lv->sides, lv->prices, lv->n);
}

/* The Order as just stored (insert_taker) with its fills: what reading it back would give. */
static cJSON *placed_json(const order_in *in, const ex_plan *plan, char (*trade_ids)[AITBC_ID_MAX],
                          int64_t now) {
    const ex_taker *t = &in->t;
    ex_order_view v = {
        .order_id = in->id,
        .client_order_id = in->coid,
        .m = in->m,
        .side = t->side,
        .type = t->type,
        .tif = t->tif,
        .post_only = t->post_only,
        .status = plan->status,
        .price = t->price,
        .quantity = t->quantity,
        .quote_quantity = t->quote_budget,
        .filled = plan->filled,
        .filled_quote = plan->filled_quote,
        .fees = plan->taker_fees,
        .remaining = t->quantity ? t->quantity - plan->filled : 0,
        .created_ms = now,
        .updated_ms = now,
    };
    cJSON *fills = cJSON_CreateArray();
    for (size_t k = 0; k < plan->nfills; k++) {
        const ex_fill *f = &plan->fills[k];
        cJSON_AddItemToArray(
            fills, ex_fill_json(in->m, t->side, trade_ids[k], f->price, f->qty, f->taker_fee, 1));
    }
    return ex_order_view_json(&v, fills);
}

void ex_h_place(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const aitbc_principal *who = api->req_principal(req);
    order_in in;
    memset(&in, 0, sizeof in);
    if (!who || !aitbc_address_valid(who->owner_address)) {
        api->respond_error(req, 403, "forbidden", NULL, "this key has no account");
        return;
    }
    if (parse(es, req, &in) != 0) return;
    snprintf(in.owner, sizeof in.owner, "%s", who->owner_address);
    in.t.owner = in.owner;
    aitbc_random_id("ord", in.id);
    ex_market *m = in.m;
    pthread_mutex_lock(&m->lock);
    ex_plan plan;
    memset(&plan, 0, sizeof plan);
    levels lv = {0};
    int rc = ex_market_batch_join(m);
    aitbc_txn *txn = rc == 0 ? api->txn_begin(AITBC_TXN_WRITE) : NULL;
    if (rc == 0 && !txn) rc = AITBC_EBUSY;
    /* Another host may have changed the book since this one last saw it: match against the
     * database's (ex_book_sync, book.c), inside the transaction that settles the match. */
    if (rc == 0) rc = ex_book_sync(m, txn, NULL);
    if (rc == 0) rc = ex_match(&m->book, &m->p, &in.t, &plan);
    char(*trade_ids)[AITBC_ID_MAX] = rc == 0 ? calloc(plan.nfills + 1, sizeof *trade_ids) : NULL;
    if (rc == 0 && !trade_ids) rc = AITBC_ENOMEM;
    if (rc == 0) rc = plan_levels(&in, &plan, &lv);
    int64_t now = api->now_ms(), seq = 0;
    if (rc == 0) rc = execute(es, txn, &in, &plan, trade_ids, now, &seq);
    if (rc == 0) rc = ex_book_bump(m, txn, ex_levels_distinct(lv.sides, lv.prices, lv.n));
    if (rc == 0)
        rc = api->txn_commit(txn);
    else if (txn)
        api->txn_rollback(txn);
    if (rc == 0) apply(es, &in, &plan, trade_ids, now, seq, &lv);
    pthread_mutex_unlock(&m->lock);
    cJSON *o = rc == 0 ? placed_json(&in, &plan, trade_ids, now) : NULL;
    ex_plan_free(&plan);
    free(trade_ids);
    free(lv.sides);
    free(lv.prices);
    if (rc != 0)
        ex_respond_rc(es, req, rc);
    else
        api->respond_json(req, 201, o);
}
