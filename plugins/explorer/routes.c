/* Explorer routes (any role, read-only): blocks, transactions and addresses with keyset cursors,
 * newest first. Every query runs in one read transaction, so a page is a consistent snapshot. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "explorer.h"
#include "../chain/txjson.h"

#define TX_SELECT "SELECT " CHAIN_TX_COLS ", seq FROM chain_txs "
#define RECENT_TXS 10

static int decimals_cb(void *user, const char *asset)
{
    const aitbc_ledger_v1 *l = ((ex_state *)user)->ledger;
    return l->asset_decimals(l->self, asset);
}

/* One list request's paging inputs, validated; answers 400 itself when invalid. */
typedef struct page {
    int limit;
    int64_t before; /* rows with key < before */
    char tag[AITBC_CURSOR_TAG_LEN + 1];
} page;

static int page_parse(ex_state *es, aitbc_request *req, const char *listing, const char *fa,
                      const char *fb, page *p)
{
    const aitbc_host_api *api = es->api;
    if (aitbc_page_limit(api->req_query(req, "limit"), &p->limit) != 0) {
        api->respond_error(req, 400, "invalid_argument", "limit", "limit must be 1..%d",
                           AITBC_LIMIT_MAX);
        return -1;
    }
    const char *filters[] = {fa, fb};
    aitbc_cursor_tag(listing, filters, 2, p->tag);
    p->before = INT64_MAX;
    const char *cur = api->req_query(req, "cursor");
    if (!cur || !cur[0])
        return 0;
    int rc = aitbc_cursor_decode(cur, p->tag, &p->before, NULL);
    if (rc != 0) {
        api->respond_error(req, 400, "invalid_argument", "cursor",
                           rc == AITBC_ECONFLICT ? "cursor was made for other filters"
                                                 : "malformed cursor");
        return -1;
    }
    return 0;
}

static cJSON *block_row(aitbc_stmt *s, void *user)
{
    return chain_block_json(((ex_state *)user)->api, s);
}

static cJSON *tx_row(aitbc_stmt *s, void *user)
{
    ex_state *es = user;
    return chain_tx_json(es->api, s, decimals_cb, es);
}

/* Step s (already bound) into a page answer; key_col is the keyset column. NULL on error. */
static cJSON *collect(ex_state *es, aitbc_stmt *s, const page *p, int key_col, int blocks)
{
    return aitbc_page_collect(es->api, s, p->limit, key_col, p->tag, blocks ? block_row : tx_row,
                              es);
}

static void respond_or_500(ex_state *es, aitbc_request *req, aitbc_txn *t, cJSON *body)
{
    if (t)
        es->api->txn_commit(t);
    if (body)
        es->api->respond_json(req, 200, body);
    else
        es->api->respond_error(req, 500, "internal", NULL, "internal error");
}

static void h_blocks(aitbc_request *req, void *user)
{
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    page p;
    if (page_parse(es, req, "blocks", NULL, NULL, &p) != 0)
        return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, "SELECT " CHAIN_BLOCK_COLS " FROM chain_blocks "
                                     "WHERE height < ?1 ORDER BY height DESC LIMIT ?2")
                      : NULL;
    cJSON *body = NULL;
    if (s) {
        api->bind_int64(s, 1, p.before);
        api->bind_int64(s, 2, p.limit + 1);
        body = collect(es, s, &p, 0, 1);
    }
    respond_or_500(es, req, t, body);
}

static int is_hash(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

/* A height: 1..18 digits, no sign, no leading zero (except "0"). */
static int parse_height(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static cJSON *block_txs(ex_state *es, aitbc_txn *t, int64_t height)
{
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(t, TX_SELECT "WHERE block_height = ?1 ORDER BY idx");
    if (!s)
        return NULL;
    api->bind_int64(s, 1, height);
    cJSON *arr = cJSON_CreateArray();
    while (api->step(s) == AITBC_ROW)
        cJSON_AddItemToArray(arr, chain_tx_json(api, s, decimals_cb, es));
    api->stmt_done(s);
    return arr;
}

static void h_block(aitbc_request *req, void *user)
{
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *id = api->req_param(req, "height_or_hash");
    int64_t height = -1;
    int by_hash = id && is_hash(id);
    if (!id || (!by_hash && parse_height(id, &height) != 0)) {
        api->respond_error(req, 400, "invalid_argument", "height_or_hash",
                           "expected a block height or a 64-hex-digit block hash");
        return;
    }
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = !t ? NULL
                  : by_hash ? api->stmt(t, "SELECT " CHAIN_BLOCK_COLS " FROM chain_blocks WHERE hash = ?1")
                            : api->stmt(t, "SELECT " CHAIN_BLOCK_COLS " FROM chain_blocks WHERE height = ?1");
    if (!s) {
        respond_or_500(es, req, t, NULL);
        return;
    }
    if (by_hash)
        api->bind_text(s, 1, id);
    else
        api->bind_int64(s, 1, height);
    cJSON *blk = NULL;
    if (api->step(s) == AITBC_ROW) {
        blk = chain_block_json(api, s);
        height = api->col_int64(s, 0);
    }
    api->stmt_done(s);
    if (!blk) {
        api->txn_commit(t);
        api->respond_error(req, 404, "not_found", NULL, "no such block");
        return;
    }
    cJSON *txs = block_txs(es, t, height);
    if (txs)
        cJSON_AddItemToObject(blk, "transactions", txs);
    else {
        cJSON_Delete(blk);
        blk = NULL;
    }
    respond_or_500(es, req, t, blk);
}

static int known_type(const char *type)
{
    static const char *const types[] = {"MINT", "TRANSFER", "ESCROW_LOCK", "ESCROW_RELEASE",
                                        "ESCROW_REFUND", "EXCHANGE_SETTLE", "FEE", NULL};
    for (size_t i = 0; types[i]; i++)
        if (strcmp(type, types[i]) == 0)
            return 1;
    return 0;
}

static void h_transactions(aitbc_request *req, void *user)
{
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *type = api->req_query(req, "type");
    if (type && !type[0])
        type = NULL;
    if (type && !known_type(type)) {
        api->respond_error(req, 400, "invalid_argument", "type",
                           "unknown transaction type");
        return;
    }
    page p;
    if (page_parse(es, req, "transactions", type, NULL, &p) != 0)
        return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = !t ? NULL
                  : type ? api->stmt(t, TX_SELECT "WHERE type = ?3 AND seq < ?1 "
                                                  "ORDER BY seq DESC LIMIT ?2")
                         : api->stmt(t, TX_SELECT "WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2");
    cJSON *body = NULL;
    if (s) {
        api->bind_int64(s, 1, p.before);
        api->bind_int64(s, 2, p.limit + 1);
        if (type)
            api->bind_text(s, 3, type);
        body = collect(es, s, &p, CHAIN_TX_NCOLS, 0);
    }
    respond_or_500(es, req, t, body);
}

static void h_transaction(aitbc_request *req, void *user)
{
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *hash = api->req_param(req, "hash");
    if (!is_hash(hash)) {
        api->respond_error(req, 400, "invalid_argument", "hash",
                           "expected a 64-hex-digit transaction hash");
        return;
    }
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, TX_SELECT "WHERE hash = ?1") : NULL;
    if (!s) {
        respond_or_500(es, req, t, NULL);
        return;
    }
    api->bind_text(s, 1, hash);
    cJSON *tx = api->step(s) == AITBC_ROW ? chain_tx_json(api, s, decimals_cb, es) : NULL;
    api->stmt_done(s);
    api->txn_commit(t);
    if (tx)
        api->respond_json(req, 200, tx);
    else
        api->respond_error(req, 404, "not_found", NULL, "no such transaction");
}

/* Newest-first transactions touching address, keyset below `before`; each side uses its index. */
static aitbc_stmt *address_txs_stmt(ex_state *es, aitbc_txn *t, const char *address,
                                    int64_t before, int64_t limit)
{
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(
        t, TX_SELECT "WHERE seq IN ("
                     "SELECT seq FROM (SELECT seq FROM chain_txs WHERE from_addr = ?3 AND seq < ?1 "
                     "ORDER BY seq DESC LIMIT ?2) UNION "
                     "SELECT seq FROM (SELECT seq FROM chain_txs WHERE to_addr = ?3 AND seq < ?1 "
                     "ORDER BY seq DESC LIMIT ?2)) ORDER BY seq DESC LIMIT ?2");
    if (s) {
        api->bind_int64(s, 1, before);
        api->bind_int64(s, 2, limit);
        api->bind_text(s, 3, address);
    }
    return s;
}

static int check_address(ex_state *es, aitbc_request *req, const char **address)
{
    *address = es->api->req_param(req, "address");
    if (!*address || !aitbc_address_valid(*address)) {
        es->api->respond_error(req, 400, "invalid_argument", "address",
                               "expected ait1 followed by 40 lowercase hex digits");
        return -1;
    }
    return 0;
}

/* created_ms of the account, or -1 if unknown. */
static int64_t account_created(ex_state *es, aitbc_txn *t, const char *address)
{
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(t, "SELECT created_ms FROM chain_accounts WHERE address = ?1");
    if (!s)
        return -2;
    api->bind_text(s, 1, address);
    int64_t v = api->step(s) == AITBC_ROW ? api->col_int64(s, 0) : -1;
    api->stmt_done(s);
    return v;
}

static int add_balances(ex_state *es, aitbc_txn *t, const char *address, cJSON *out)
{
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(t, "SELECT a.symbol, a.decimals, COALESCE(b.available, 0), "
                                 "COALESCE(b.locked, 0) FROM chain_assets a LEFT JOIN "
                                 "chain_balances b ON b.asset = a.symbol AND b.address = ?1 "
                                 "ORDER BY a.symbol");
    if (!s)
        return -1;
    api->bind_text(s, 1, address);
    cJSON *bal = cJSON_AddObjectToObject(out, "balances");
    cJSON *locked = cJSON_AddObjectToObject(out, "locked");
    while (api->step(s) == AITBC_ROW) {
        const char *sym = api->col_text(s, 0);
        int dec = (int)api->col_int64(s, 1);
        aitbc_json_add_money(bal, sym, api->col_int64(s, 2), dec);
        aitbc_json_add_money(locked, sym, api->col_int64(s, 3), dec);
    }
    api->stmt_done(s);
    return 0;
}

static int add_activity(ex_state *es, aitbc_txn *t, const char *address, cJSON *out,
                        int64_t created)
{
    const aitbc_host_api *api = es->api;
    /* An unlock has from == to: count it once. */
    aitbc_stmt *s = api->stmt(t, "SELECT (SELECT COUNT(*) FROM chain_txs WHERE from_addr = ?1) + "
                                 "(SELECT COUNT(*) FROM chain_txs WHERE to_addr = ?1 AND "
                                 "(from_addr IS NULL OR from_addr != ?1)), "
                                 "MAX((SELECT COALESCE(MAX(ts_ms), -1) FROM chain_txs WHERE from_addr = ?1), "
                                 "(SELECT COALESCE(MAX(ts_ms), -1) FROM chain_txs WHERE to_addr = ?1))");
    if (s)
        api->bind_text(s, 1, address);
    if (!s || api->step(s) != AITBC_ROW) {
        if (s)
            api->stmt_done(s);
        return -1;
    }
    int64_t count = api->col_int64(s, 0), last = api->col_int64(s, 1);
    api->stmt_done(s);
    char ts[AITBC_TIME_MAX];
    aitbc_json_add_i64(out, "tx_count", count);
    aitbc_time_format(created, ts);
    cJSON_AddStringToObject(out, "first_seen", ts);
    if (last >= 0) {
        aitbc_time_format(last, ts);
        cJSON_AddStringToObject(out, "last_active", ts);
    } else {
        cJSON_AddNullToObject(out, "last_active");
    }
    return 0;
}

static void h_address(aitbc_request *req, void *user)
{
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *address;
    if (check_address(es, req, &address) != 0)
        return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    int64_t created = t ? account_created(es, t, address) : -2;
    if (created == -1) {
        api->txn_commit(t);
        api->respond_error(req, 404, "not_found", NULL, "unknown address");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "address", address);
    int ok = created >= 0 && add_balances(es, t, address, out) == 0 &&
             add_activity(es, t, address, out, created) == 0;
    aitbc_stmt *s = ok ? address_txs_stmt(es, t, address, INT64_MAX, RECENT_TXS) : NULL;
    if (s) {
        cJSON *recent = cJSON_AddArrayToObject(out, "recent_transactions");
        while (api->step(s) == AITBC_ROW)
            cJSON_AddItemToArray(recent, chain_tx_json(api, s, decimals_cb, es));
        api->stmt_done(s);
    } else {
        cJSON_Delete(out);
        out = NULL;
    }
    respond_or_500(es, req, t, out);
}

static void h_address_txs(aitbc_request *req, void *user)
{
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *address;
    if (check_address(es, req, &address) != 0)
        return;
    page p;
    if (page_parse(es, req, "address_transactions", address, NULL, &p) != 0)
        return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    int64_t created = t ? account_created(es, t, address) : -2;
    if (created == -1) {
        api->txn_commit(t);
        api->respond_error(req, 404, "not_found", NULL, "unknown address");
        return;
    }
    aitbc_stmt *s = created >= 0 ? address_txs_stmt(es, t, address, p.before, p.limit + 1) : NULL;
    cJSON *body = s ? collect(es, s, &p, CHAIN_TX_NCOLS, 0) : NULL;
    respond_or_500(es, req, t, body);
}

int ex_routes_register(ex_state *es)
{
    const aitbc_route routes[] = {
        {.method = "GET", .path = "/v1/explorer/blocks", .handler = h_blocks},
        {.method = "GET", .path = "/v1/explorer/blocks/{height_or_hash}", .handler = h_block},
        {.method = "GET", .path = "/v1/explorer/transactions", .handler = h_transactions},
        {.method = "GET", .path = "/v1/explorer/transactions/{hash}", .handler = h_transaction},
        {.method = "GET", .path = "/v1/explorer/address/{address}", .handler = h_address},
        {.method = "GET", .path = "/v1/explorer/address/{address}/transactions",
         .handler = h_address_txs},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        aitbc_route r = routes[i];
        r.roles = AITBC_ROLE_ANY;
        r.body = AITBC_BODY_NONE;
        r.user = es;
        int rc = es->api->route(es->ctx, &r);
        if (rc != 0)
            return rc;
    }
    return 0;
}
