/* The exchange's route table: public market data (market_routes.c, klines.c), a client's orders
 * (place.c, orders.c) and balances. */
#include "exchange.h"

int ex_routes_register(ex_state *es) {
    const aitbc_route routes[] = {
        {.method = "GET",
         .path = "/v1/exchange/markets",
         .roles = AITBC_ROLE_ANY,
         .handler = ex_h_markets,
         .user = es},
        {.method = "GET",
         .path = "/v1/exchange/ticker",
         .roles = AITBC_ROLE_ANY,
         .handler = ex_h_ticker,
         .user = es},
        {.method = "GET",
         .path = "/v1/exchange/orderbook",
         .roles = AITBC_ROLE_ANY,
         .handler = ex_h_orderbook,
         .user = es},
        {.method = "GET",
         .path = "/v1/exchange/trades",
         .roles = AITBC_ROLE_ANY,
         .handler = ex_h_trades,
         .user = es},
        {.method = "GET",
         .path = "/v1/exchange/klines",
         .roles = AITBC_ROLE_ANY,
         .handler = ex_h_klines,
         .user = es},
        {.method = "POST",
         .path = "/v1/exchange/orders",
         .roles = AITBC_ROLE_CLIENT,
         .body = AITBC_BODY_JSON,
         .handler = ex_h_place,
         .user = es,
         .idempotent = 1,
         .write = 1}, /* a failed batch reloads the book (ex_market_batch_join) */
        {.method = "GET",
         .path = "/v1/exchange/orders",
         .roles = AITBC_ROLE_CLIENT,
         .handler = ex_h_orders_list,
         .user = es},
        {.method = "GET",
         .path = "/v1/exchange/orders/{order_id}",
         .roles = AITBC_ROLE_CLIENT,
         .handler = ex_h_order_get,
         .user = es},
        {.method = "DELETE",
         .path = "/v1/exchange/orders/{order_id}",
         .roles = AITBC_ROLE_CLIENT,
         .handler = ex_h_order_cancel,
         .user = es,
         .write = 1},
        {.method = "GET",
         .path = "/v1/exchange/balances",
         .roles = AITBC_ROLE_CLIENT,
         .handler = ex_h_balances,
         .user = es},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = es->api->route(es->ctx, &routes[i]);
        if (rc != 0) return rc;
    }
    return 0;
}
