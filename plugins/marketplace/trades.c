/* Trades: a client buys hours of an offer. The hours come off the offer and the total goes into
 * ledger escrow in one write transaction (no oversell, nothing locked on failure). The escrow is
 * released to the seller hour by hour (mk_trades_release_due, from the timer) or split pro rata
 * when the trade ends early (mk_trades_terminate). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "marketplace.h"

cJSON *mk_trade_json(const aitbc_host_api *api, aitbc_stmt *s) {
    cJSON *o = cJSON_CreateObject();
    char ts[AITBC_TIME_MAX];
    aitbc_json_add_str(o, "trade_id", api->col_text(s, 1));
    aitbc_json_add_str(o, "offer_id", api->col_text(s, 2));
    aitbc_json_add_str(o, "buyer", api->col_text(s, 3));
    aitbc_json_add_str(o, "seller", api->col_text(s, 4));
    aitbc_json_add_i64(o, "hours", api->col_int64(s, 5));
    aitbc_json_add_money(o, "price_per_hour", api->col_int64(s, 6), MK_DECIMALS);
    aitbc_json_add_money(o, "total", api->col_int64(s, 7), MK_DECIMALS);
    aitbc_json_add_str(o, "status", api->col_text(s, 8));
    aitbc_time_format(api->col_int64(s, 9), ts);
    aitbc_json_add_str(o, "created_at", ts);
    aitbc_time_format(api->col_int64(s, 10), ts);
    aitbc_json_add_str(o, "ends_at", ts);
    aitbc_json_add_money(o, "released", api->col_int64(s, 11), MK_DECIMALS);
    aitbc_json_add_money(o, "refunded", api->col_int64(s, 12), MK_DECIMALS);
    aitbc_json_add_i64(o, "hours_released", api->col_int64(s, 13));
    if (api->col_is_null(s, 14)) {
        cJSON_AddNullToObject(o, "paused_since");
    } else {
        aitbc_time_format(api->col_int64(s, 14), ts);
        aitbc_json_add_str(o, "paused_since", ts);
    }
    return o;
}

static cJSON *trade_load(mk_state *ms, aitbc_txn *t, const char *trade_id) {
    const aitbc_host_api *api = ms->api;
    aitbc_stmt *s =
        api->stmt(t, "SELECT " MK_TRADE_COLS " FROM marketplace_trades WHERE trade_id = ?1");
    if (!s) return NULL;
    api->bind_text(s, 1, trade_id);
    cJSON *o = api->step(s) == AITBC_ROW ? mk_trade_json(api, s) : NULL;
    api->stmt_done(s);
    return o;
}

typedef struct offer_row {
    char provider[48], status[16];
    int64_t price, remaining, expires_ms; /* expires_ms -1 = none */
} offer_row;

static int offer_read(mk_state *ms, aitbc_txn *t, const char *id, offer_row *r) {
    const aitbc_host_api *api = ms->api;
    aitbc_stmt *s = api->stmt(t, "SELECT provider, status, price, hours_remaining, expires_ms "
                                 "FROM marketplace_offers WHERE offer_id = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, id);
    int rc = api->step(s);
    if (rc == AITBC_ROW) {
        snprintf(r->provider, sizeof r->provider, "%s", api->col_text(s, 0));
        snprintf(r->status, sizeof r->status, "%s", api->col_text(s, 1));
        r->price = api->col_int64(s, 2);
        r->remaining = api->col_int64(s, 3);
        r->expires_ms = api->col_is_null(s, 4) ? -1 : api->col_int64(s, 4);
        rc = 0;
    } else if (rc == AITBC_DONE) {
        rc = AITBC_ENOTFOUND;
    }
    api->stmt_done(s);
    return rc;
}

/* Run one write statement with text ?1 and integer ?2; 0 or an error; *changes rows. */
static int exec_ti(mk_state *ms, aitbc_txn *t, const char *sql, const char *a, int64_t b,
                   int64_t *changes) {
    const aitbc_host_api *api = ms->api;
    aitbc_stmt *s = api->stmt(t, sql);
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, a);
    api->bind_int64(s, 2, b);
    int rc = api->step(s);
    if (changes) *changes = api->changes(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

typedef struct buy_ctx {
    const char *buyer, *offer_id, *why;
    int64_t hours, now;
    char trade_id[AITBC_ID_MAX];
} buy_ctx;

/* Inside write transaction t: take the hours, lock the total, record the trade. */
static int buy_in(mk_state *ms, aitbc_txn *t, buy_ctx *b) {
    const aitbc_host_api *api = ms->api;
    offer_row o;
    int rc = offer_read(ms, t, b->offer_id, &o);
    if (rc != 0) return rc;
    if (strcmp(o.provider, b->buyer) == 0) {
        b->why = "cannot buy your own offer";
        return AITBC_ECONFLICT;
    }
    if (strcmp(o.status, "OPEN") != 0 || (o.expires_ms >= 0 && o.expires_ms <= b->now)) {
        b->why = "the offer is not open";
        return AITBC_ECONFLICT;
    }
    if (o.remaining < b->hours) {
        b->why = "fewer hours remain on the offer";
        return AITBC_ECONFLICT;
    }
    int64_t total, changes = 0;
    if (aitbc_mul_i64(o.price, b->hours, &total) != 0) return AITBC_EOVERFLOW;
    /* Writers are serialised (BEGIN IMMEDIATE), and the guard re-checks anyway. */
    rc = exec_ti(ms, t,
                 "UPDATE marketplace_offers SET hours_remaining = hours_remaining - ?2, status = "
                 "CASE WHEN hours_remaining = ?2 THEN 'SOLD_OUT' ELSE status END "
                 "WHERE offer_id = ?1 AND status = 'OPEN' AND hours_remaining >= ?2",
                 b->offer_id, b->hours, &changes);
    if (rc == 0 && changes != 1) {
        b->why = "fewer hours remain on the offer";
        rc = AITBC_ECONFLICT;
    }
    aitbc_random_id("trd", b->trade_id);
    char hash[AITBC_TX_HASH_MAX];
    if (rc == 0) rc = ms->ledger->ensure_account(ms->ledger->self, t, b->buyer);
    if (rc == 0)
        rc = ms->ledger->lock(ms->ledger->self, t, b->buyer, MK_ASSET, total, b->trade_id, hash);
    if (rc != 0) return rc;
    int64_t ends = b->now + b->hours * ms->hour_ms;
    aitbc_stmt *s = api->stmt(
        t, "INSERT INTO marketplace_trades(trade_id, offer_id, buyer, seller, hours, price, "
           "total, status, created_ms, ends_ms, next_ms) "
           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 'ACTIVE', ?8, ?9, ?10)");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, b->trade_id);
    api->bind_text(s, 2, b->offer_id);
    api->bind_text(s, 3, b->buyer);
    api->bind_text(s, 4, o.provider);
    api->bind_int64(s, 5, b->hours);
    api->bind_int64(s, 6, o.price);
    api->bind_int64(s, 7, total);
    api->bind_int64(s, 8, b->now);
    api->bind_int64(s, 9, ends);
    api->bind_int64(s, 10, b->now + ms->hour_ms);
    rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

/* The offer's seller must be reachable right now (miners@1 when loaded). */
static int seller_ok(mk_state *ms, aitbc_request *req, const char *offer_id) {
    aitbc_txn *t = ms->api->txn_begin(AITBC_TXN_READ);
    offer_row o;
    int rc = t ? offer_read(ms, t, offer_id, &o) : AITBC_EBUSY;
    if (t) ms->api->txn_commit(t);
    if (rc == AITBC_ENOTFOUND) {
        ms->api->respond_error(req, 404, "not_found", "offer_id", "no such offer");
        return 0;
    }
    int err = 0;
    const char *st = rc == 0 ? mk_seller_status(ms, o.provider, NULL, &err) : NULL;
    if (rc == 0 && err) rc = err;
    if (rc != 0) {
        aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return 0;
    }
    if (!st || strcmp(st, "OFFLINE") == 0) {
        ms->api->respond_error(req, 409, "conflict", "offer_id", "the seller is offline");
        return 0;
    }
    return 1;
}

void mk_h_trade_create(aitbc_request *req, void *user) {
    mk_state *ms = user;
    const aitbc_host_api *api = ms->api;
    buy_ctx b = {0};
    if (!(b.buyer = mk_caller(ms, req))) return;
    static const char *const allowed[] = {"offer_id", "hours", NULL};
    const cJSON *body = aitbc_req_object(api, req, allowed);
    if (!body) return;
    b.offer_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "offer_id"));
    if (!mk_text_ok(b.offer_id, MK_TEXT_MAX) || strncmp(b.offer_id, "ofr_", 4) != 0) {
        api->respond_error(req, 400, "invalid_argument", "offer_id", "must be an offer id");
        return;
    }
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(body, "hours");
    if (!h || aitbc_json_int(h, &b.hours) != 0 || b.hours < 1 || b.hours > MK_MAX_HOURS) {
        api->respond_error(req, 400, "invalid_argument", "hours", "must be an integer 1..%d",
                           MK_MAX_HOURS);
        return;
    }
    if (!seller_ok(ms, req, b.offer_id)) return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    b.now = api->now_ms();
    int rc = t ? buy_in(ms, t, &b) : AITBC_EBUSY;
    cJSON *tr = rc == 0 ? trade_load(ms, t, b.trade_id) : NULL;
    if (rc == 0 && !tr) rc = AITBC_EIO;
    if (rc == 0)
        rc = api->txn_commit(t);
    else if (t)
        api->txn_rollback(t);
    if (rc != 0) {
        cJSON_Delete(tr);
        if (rc == AITBC_ECONFLICT)
            api->respond_error(req, 409, "conflict", "offer_id", "%s", b.why ? b.why : "conflict");
        else if (rc == AITBC_ENOTFOUND)
            api->respond_error(req, 404, "not_found", "offer_id", "no such offer");
        else if (rc == AITBC_EOVERFLOW)
            api->respond_error(req, 400, "invalid_argument", "hours", "total too large");
        else
            aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return;
    }
    mk_offer_publish(ms, b.offer_id);
    api->respond_json(req, 201, tr);
}

void mk_h_trade_get(aitbc_request *req, void *user) {
    mk_state *ms = user;
    const aitbc_host_api *api = ms->api;
    const char *me = mk_caller(ms, req);
    if (!me) return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) {
        aitbc_respond_rc(ms->api, ms->ctx, req, AITBC_EBUSY, NULL);
        return;
    }
    cJSON *o = trade_load(ms, t, api->req_param(req, "trade_id"));
    api->txn_commit(t);
    const char *buyer = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "buyer"));
    const char *seller = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "seller"));
    if (o && (strcmp(buyer, me) == 0 || strcmp(seller, me) == 0)) {
        api->respond_json(req, 200, o);
        return;
    }
    cJSON_Delete(o);
    api->respond_error(req, 404, "not_found", NULL, "no such trade");
}

static cJSON *trade_row(aitbc_stmt *s, void *user) {
    return mk_trade_json(((mk_state *)user)->api, s);
}

void mk_h_trade_list(aitbc_request *req, void *user) {
    mk_state *ms = user;
    const aitbc_host_api *api = ms->api;
    const char *me = mk_caller(ms, req);
    if (!me) return;
    const char *status = api->req_query(req, "status");
    int limit;
    if (status && strcmp(status, "ACTIVE") != 0 && strcmp(status, "COMPLETED") != 0 &&
        strcmp(status, "CANCELED") != 0) {
        api->respond_error(req, 400, "invalid_argument", "status",
                           "status is ACTIVE, COMPLETED or CANCELED");
        return;
    }
    if (aitbc_req_limit(api, req, &limit) != 0) return;
    char tag[AITBC_CURSOR_TAG_LEN + 1];
    const char *filters[] = {me, status};
    aitbc_cursor_tag("marketplace.trades", filters, 2, tag);
    int64_t before = INT64_MAX;
    if (aitbc_req_cursor(api, req, tag, &before, NULL) < 0) return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s =
        t ? api->stmt(t, "SELECT " MK_TRADE_COLS " FROM marketplace_trades "
                         "WHERE (buyer = ?1 OR seller = ?1) AND seq < ?2 AND "
                         "(CAST(?3 AS TEXT) IS NULL OR status = ?3) ORDER BY seq DESC LIMIT ?4")
          : NULL;
    if (!s) {
        if (t) api->txn_commit(t);
        aitbc_respond_rc(ms->api, ms->ctx, req, t ? AITBC_EIO : AITBC_EBUSY, NULL);
        return;
    }
    api->bind_text(s, 1, me);
    api->bind_int64(s, 2, before);
    if (status)
        api->bind_text(s, 3, status);
    else
        api->bind_null(s, 3);
    api->bind_int64(s, 4, limit + 1);
    cJSON *out = aitbc_page_collect(api, s, limit, 0, tag, trade_row, ms);
    api->txn_commit(t);
    if (!out) {
        aitbc_respond_rc(ms->api, ms->ctx, req, AITBC_EIO, NULL);
        return;
    }
    api->respond_json(req, 200, out);
}
