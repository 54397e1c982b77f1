/* The marketplace's route table and the caller check its handlers share: offers (miners sell,
 * anyone reads) and trades (clients buy); the handlers live in offers.c and trades.c. */
#include "marketplace.h"

const char *mk_caller(mk_state *ms, aitbc_request *req) {
    const aitbc_principal *who = ms->api->req_principal(req);
    if (!who || !aitbc_address_valid(who->owner_address)) {
        ms->api->respond_error(req, 403, "forbidden", NULL, "this key has no account");
        return NULL;
    }
    return who->owner_address;
}

int mk_routes_register(mk_state *ms) {
    const aitbc_route routes[] = {
        {.method = "GET",
         .path = "/v1/marketplace/offers",
         .roles = AITBC_ROLE_ANY,
         .handler = mk_h_offer_list,
         .user = ms},
        {.method = "POST",
         .path = "/v1/marketplace/offers",
         .roles = AITBC_ROLE_MINER,
         .body = AITBC_BODY_JSON,
         .handler = mk_h_offer_create,
         .user = ms,
         .idempotent = 1,
         .write = 1},
        {.method = "GET",
         .path = "/v1/marketplace/offers/{offer_id}",
         .roles = AITBC_ROLE_ANY,
         .handler = mk_h_offer_get,
         .user = ms},
        {.method = "DELETE",
         .path = "/v1/marketplace/offers/{offer_id}",
         .roles = AITBC_ROLE_MINER,
         .handler = mk_h_offer_cancel,
         .user = ms,
         .write = 1},
        {.method = "POST",
         .path = "/v1/marketplace/trades",
         .roles = AITBC_ROLE_CLIENT,
         .body = AITBC_BODY_JSON,
         .handler = mk_h_trade_create,
         .user = ms,
         .idempotent = 1,
         .write = 1},
        {.method = "GET",
         .path = "/v1/marketplace/trades",
         .roles = AITBC_ROLE_ANY,
         .handler = mk_h_trade_list,
         .user = ms},
        {.method = "GET",
         .path = "/v1/marketplace/trades/{trade_id}",
         .roles = AITBC_ROLE_ANY,
         .handler = mk_h_trade_get,
         .user = ms},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = ms->api->route(ms->ctx, &routes[i]);
        if (rc != 0) return rc;
    }
    return 0;
}
