/* HTTP routes of the chain plugin: POST /v1/admin/mint (the on-ramp) and POST /v1/transfers.
 * Both answer 201 with the transaction as the explorer shows it (block_height null until sealed),
 * built from what was written.
 */
#include <stdio.h>
#include <string.h>
#include "chain.h"
#include "txjson.h"

static const char *const k_fields[] = {"address", "asset", "amount", NULL};
static const char *const k_xfer_fields[] = {"to", "asset", "amount", NULL};

/* 201 with the transaction as written (the answer needs no re-read). */
static void respond_tx(chain_state *cs, aitbc_request *req, const chain_tx *tx, const char *hash) {
    const chain_asset *a = chain_find_asset(cs, tx->asset);
    cJSON *o = chain_tx_to_json(tx, hash, a ? a->decimals : -1);
    if (o)
        cs->api->respond_json(req, 201, o);
    else
        cs->api->respond_error(req, 500, "internal", NULL, "out of memory");
}

/* Validate {<addr_field>, asset, amount}; answers 400 itself. 0 when valid. */
static int parse_body(chain_state *cs, aitbc_request *req, const char *const *allowed,
                      const char *addr_field, const char **addr, const char **asset,
                      int64_t *units) {
    const aitbc_host_api *api = cs->api;
    const cJSON *body = aitbc_req_object(api, req, allowed);
    if (!body) return -1;
    *addr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, addr_field));
    if (!*addr || !aitbc_address_valid(*addr)) {
        api->respond_error(req, 400, "invalid_argument", addr_field,
                           "must be an address: ait1 followed by 40 lowercase hex digits");
        return -1;
    }
    *asset = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "asset"));
    const chain_asset *a = *asset ? chain_find_asset(cs, *asset) : NULL;
    if (!a) {
        api->respond_error(req, 400, "invalid_argument", "asset", "unknown asset");
        return -1;
    }
    const char *amount = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "amount"));
    int rc = amount ? aitbc_money_parse(amount, a->decimals, units) : AITBC_EINVAL;
    if (rc != 0 || *units <= 0) {
        api->respond_error(req, 400, "invalid_argument", "amount",
                           rc == AITBC_EOVERFLOW ? "amount too large"
                                                 : "must be a decimal string > 0 with at most %d "
                                                   "decimals",
                           a->decimals);
        return -1;
    }
    return 0;
}

static void respond_ledger_error(chain_state *cs, aitbc_request *req, int rc, const char *who) {
    const aitbc_rc_text own[] = {
        {AITBC_ENOTFOUND, who, "unknown address"},
        {AITBC_EFUNDS, "amount", "available balance too low"},
        {AITBC_EOVERFLOW, "amount", "amount would overflow a balance or the total supply"},
        {AITBC_EINVAL, NULL, "invalid transaction"},
        {0}};
    aitbc_respond_rc(cs->api, cs->ctx, req, rc, own);
}

static void h_mint(aitbc_request *req, void *user) {
    chain_state *cs = user;
    const char *addr, *asset;
    int64_t units;
    if (parse_body(cs, req, k_fields, "address", &addr, &asset, &units) != 0) return;
    /* Each mint request is its own movement; retries are deduplicated by Idempotency-Key. */
    char ref[AITBC_ID_MAX], hash[AITBC_TX_HASH_MAX];
    aitbc_random_id("mint", ref);
    chain_tx tx;
    int rc = chain_move(cs, NULL, CHAIN_OP_MINT, AITBC_TX_MINT, NULL, addr, asset, units, ref, hash,
                        &tx);
    if (rc != 0) {
        respond_ledger_error(cs, req, rc, "address");
        return;
    }
    respond_tx(cs, req, &tx, hash);
}

static void h_transfer(aitbc_request *req, void *user) {
    chain_state *cs = user;
    const aitbc_host_api *api = cs->api;
    const aitbc_principal *who = api->req_principal(req);
    if (!who || !aitbc_address_valid(who->owner_address)) {
        api->respond_error(req, 403, "forbidden", NULL, "this key has no account");
        return;
    }
    const char *to, *asset;
    int64_t units;
    if (parse_body(cs, req, k_xfer_fields, "to", &to, &asset, &units) != 0) return;
    if (strcmp(to, who->owner_address) == 0) {
        api->respond_error(req, 400, "invalid_argument", "to", "cannot transfer to yourself");
        return;
    }
    char ref[AITBC_ID_MAX], hash[AITBC_TX_HASH_MAX];
    chain_tx tx;
    aitbc_random_id("xfr", ref);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) {
        respond_ledger_error(cs, req, AITBC_EBUSY, NULL);
        return;
    }
    /* An authenticated owner address is an account even if nothing was ever paid to it. */
    int rc = cs->ledger.ensure_account(cs, t, who->owner_address);
    if (rc == 0)
        rc = chain_move(cs, t, CHAIN_OP_TRANSFER, AITBC_TX_TRANSFER, who->owner_address, to, asset,
                        units, ref, hash, &tx);
    if (rc == 0)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    if (rc != 0) {
        respond_ledger_error(cs, req, rc, "to");
        return;
    }
    respond_tx(cs, req, &tx, hash);
}

int chain_routes_register(chain_state *cs) {
    const aitbc_route routes[] = {
        {.method = "POST",
         .path = "/v1/admin/mint",
         .roles = AITBC_ROLE_ADMIN,
         .body = AITBC_BODY_JSON,
         .handler = h_mint,
         .user = cs,
         .idempotent = 1,
         .write = 1},
        {.method = "POST",
         .path = "/v1/transfers",
         .roles = AITBC_ROLE_ANY,
         .body = AITBC_BODY_JSON,
         .handler = h_transfer,
         .user = cs,
         .idempotent = 1,
         .write = 1},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = cs->api->route(cs->ctx, &routes[i]);
        if (rc != 0) return rc;
    }
    return 0;
}
