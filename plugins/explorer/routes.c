/* Explorer routes (any role, read-only): blocks, transactions and addresses with keyset cursors,
 * newest first. This file checks the request and maps the answer; the chain plugin's
 * chain-query@1 service reads the chain (one read transaction per call). */
#include <stdint.h>
#include <string.h>
#include <aitbc/ledger.h>
#include "explorer.h"

#define RECENT_TXS 10

/* A chain-query@1 result → the HTTP answer. body is taken (sent or freed). */
static void answer(ex_state *es, aitbc_request *req, int rc, cJSON *body, const char *missing) {
    const aitbc_host_api *api = es->api;
    if (rc == 0)
        api->respond_json(req, 200, body);
    else if (rc == AITBC_ENOTFOUND)
        api->respond_error(req, 404, "not_found", NULL, "%s", missing);
    else if (rc == AITBC_ECONFLICT)
        api->respond_error(req, 400, "invalid_argument", "cursor",
                           "cursor was made for other filters");
    else if (rc == AITBC_EINVAL)
        api->respond_error(req, 400, "invalid_argument", "cursor", "malformed cursor");
    else
        api->respond_error(req, 500, "internal", NULL, "internal error");
}

/* ?limit= and ?cursor=; answers 400 itself when the limit is invalid. */
static int page_params(ex_state *es, aitbc_request *req, int *limit, const char **cursor) {
    const aitbc_host_api *api = es->api;
    if (aitbc_req_limit(api, req, limit) != 0) return -1;
    *cursor = api->req_query(req, "cursor");
    return 0;
}

static int is_hash(const char *s) {
    if (!s || strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

/* A height: 1..18 digits, no sign, no leading zero (except "0"). */
static int parse_height(const char *s, int64_t *out) {
    size_t n = strlen(s);
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0')) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static void h_blocks(aitbc_request *req, void *user) {
    ex_state *es = user;
    int limit;
    const char *cursor;
    if (page_params(es, req, &limit, &cursor) != 0) return;
    cJSON *body = NULL;
    int rc = es->query->blocks(es->query->self, limit, cursor, &body);
    answer(es, req, rc, body, "no such block");
}

static void h_block(aitbc_request *req, void *user) {
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
    cJSON *body = NULL;
    int rc = es->query->block(es->query->self, height, by_hash ? id : NULL, &body);
    answer(es, req, rc, body, "no such block");
}

static int known_type(const char *type) {
    static const char *const types[] = {AITBC_TX_MINT,          AITBC_TX_TRANSFER,
                                        AITBC_TX_ESCROW_LOCK,   AITBC_TX_ESCROW_RELEASE,
                                        AITBC_TX_ESCROW_REFUND, AITBC_TX_EXCHANGE_SETTLE,
                                        AITBC_TX_FEE,           NULL};
    for (size_t i = 0; types[i]; i++)
        if (strcmp(type, types[i]) == 0) return 1;
    return 0;
}

static void h_transactions(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *type = api->req_query(req, "type");
    if (type && !type[0]) type = NULL;
    if (type && !known_type(type)) {
        api->respond_error(req, 400, "invalid_argument", "type", "unknown transaction type");
        return;
    }
    int limit;
    const char *cursor;
    if (page_params(es, req, &limit, &cursor) != 0) return;
    cJSON *body = NULL;
    int rc = es->query->transactions(es->query->self, type, limit, cursor, &body);
    answer(es, req, rc, body, "no such transaction");
}

static void h_transaction(aitbc_request *req, void *user) {
    ex_state *es = user;
    const char *hash = es->api->req_param(req, "hash");
    if (!is_hash(hash)) {
        es->api->respond_error(req, 400, "invalid_argument", "hash",
                               "expected a 64-hex-digit transaction hash");
        return;
    }
    cJSON *body = NULL;
    int rc = es->query->transaction(es->query->self, hash, &body);
    answer(es, req, rc, body, "no such transaction");
}

static int check_address(ex_state *es, aitbc_request *req, const char **address) {
    *address = es->api->req_param(req, "address");
    if (!*address || !aitbc_address_valid(*address)) {
        es->api->respond_error(req, 400, "invalid_argument", "address",
                               "expected ait1 followed by 40 lowercase hex digits");
        return -1;
    }
    return 0;
}

static void h_address(aitbc_request *req, void *user) {
    ex_state *es = user;
    const char *address;
    if (check_address(es, req, &address) != 0) return;
    cJSON *body = NULL;
    int rc = es->query->address(es->query->self, address, RECENT_TXS, &body);
    answer(es, req, rc, body, "unknown address");
}

static void h_address_txs(aitbc_request *req, void *user) {
    ex_state *es = user;
    const char *address;
    if (check_address(es, req, &address) != 0) return;
    int limit;
    const char *cursor;
    if (page_params(es, req, &limit, &cursor) != 0) return;
    cJSON *body = NULL;
    int rc = es->query->address_transactions(es->query->self, address, limit, cursor, &body);
    answer(es, req, rc, body, "unknown address");
}

int ex_routes_register(ex_state *es) {
    const aitbc_route routes[] = {
        {.method = "GET", .path = "/v1/explorer/blocks", .handler = h_blocks},
        {.method = "GET", .path = "/v1/explorer/blocks/{height_or_hash}", .handler = h_block},
        {.method = "GET", .path = "/v1/explorer/transactions", .handler = h_transactions},
        {.method = "GET", .path = "/v1/explorer/transactions/{hash}", .handler = h_transaction},
        {.method = "GET", .path = "/v1/explorer/address/{address}", .handler = h_address},
        {.method = "GET",
         .path = "/v1/explorer/address/{address}/transactions",
         .handler = h_address_txs},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        aitbc_route r = routes[i];
        r.roles = AITBC_ROLE_ANY;
        r.body = AITBC_BODY_NONE;
        r.user = es;
        int rc = es->api->route(es->ctx, &r);
        if (rc != 0) return rc;
    }
    return 0;
}
