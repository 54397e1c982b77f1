/* The exchange plugin: descriptor and lifecycle. init migrates the tables (store.c); start
 * resolves the markets against the ledger's assets, finds (or makes) the treasury account,
 * rebuilds every book from the open orders in the database, declares the bus topics and registers
 * the routes (routes.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exchange.h"

static const aitbc_cfg_key k_schema[] = {
    {"markets", AITBC_CFG_ARRAY, 0,
     "list of {symbol, base, quote, tick_size, step_size, min_notional, maker_fee_bps, "
     "taker_fee_bps}; default one AIT-BTC market",
     .def = NULL},
    {"treasury_address", AITBC_CFG_STRING, 0,
     "address that receives trading fees; default a node account made at first start", .def = NULL},
    {0},
};

static void ex_destroy(void *state);

static int ex_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    ex_state *es = calloc(1, sizeof *es);
    if (!es) return AITBC_ENOMEM;
    es->ctx = ctx;
    es->api = api;
    es->pg = aitbc_store_is_postgres(api);
    es->shared = aitbc_store_shared(api);
    const char *tre = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(api->config(ctx), "treasury_address"));
    if (tre && !aitbc_address_valid(tre)) {
        api->log(ctx, AITBC_LOG_ERROR, "treasury_address: not an address (ait1 + 40 hex)");
        free(es); /* the init-failure rule: destroy is not called */
        return AITBC_EINVAL;
    }
    if (tre) snprintf(es->treasury, sizeof es->treasury, "%s", tre);
    ex_service_init(es);
    int rc = ex_store_migrate(es);
    if (rc == 0) rc = api->service_register(ctx, AITBC_EXCHANGE_SERVICE, &es->service);
    ex_metrics_init(es);
    if (rc == 0) rc = api->service_register(ctx, "metrics:exchange@1", &es->metrics);
    if (rc != 0) {
        ex_destroy(es); /* the init-failure rule: destroy is not called */
        return rc;
    }
    *state = es;
    return 0;
}

/* The configured treasury, or the node account stored at first start (made now if absent). */
static int treasury_setup(ex_state *es) {
    const aitbc_host_api *api = es->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    int rc = 0;
    if (es->treasury[0]) {
        rc = es->ledger->ensure_account(es->ledger->self, t, es->treasury);
    } else {
        aitbc_stmt *s = api->stmt(t, "SELECT value FROM exchange_meta WHERE key = 'treasury'");
        rc = s ? api->step(s) : AITBC_EIO;
        if (rc == AITBC_ROW) snprintf(es->treasury, sizeof es->treasury, "%s", api->col_text(s, 0));
        if (s) api->stmt_done(s);
        rc = rc < 0 ? rc : 0;
        if (rc == 0 && !es->treasury[0]) {
            rc = es->ledger->create_account(es->ledger->self, t, es->treasury);
            s = rc == 0 ? api->stmt(t, "INSERT INTO exchange_meta(key, value) "
                                       "VALUES('treasury', ?1)")
                        : NULL;
            if (rc == 0 && !s) rc = AITBC_EIO;
            if (s) {
                api->bind_text(s, 1, es->treasury);
                rc = api->step(s) < 0 ? AITBC_EIO : 0;
                api->stmt_done(s);
            }
        }
    }
    if (rc == 0) return api->txn_commit(t);
    api->txn_rollback(t);
    return rc;
}

static int declare_topics(ex_state *es) {
    const aitbc_host_api *api = es->api;
    aitbc_topic tp = {.name = "trades", .roles = AITBC_ROLE_ANY};
    int rc = api->bus_topic(es->ctx, &tp);
    tp.name = "orderbook";
    if (rc == 0) rc = api->bus_topic(es->ctx, &tp);
    for (size_t i = 0; rc == 0 && i < es->nmarkets; i++) {
        tp.name = es->markets[i].topic;
        rc = api->bus_topic(es->ctx, &tp);
    }
    return rc;
}

static int ex_start(void *state) {
    ex_state *es = state;
    es->ledger = aitbc_ledger_for(es->api->service_lookup(AITBC_LEDGER_SERVICE), "exchange");
    if (!es->ledger || es->ledger->size < sizeof(aitbc_ledger_v1)) {
        es->api->log(es->ctx, AITBC_LOG_ERROR, "needs %s (the chain plugin)", AITBC_LEDGER_SERVICE);
        return AITBC_EUNAVAIL;
    }
    int rc = ex_config_markets(es);
    if (rc == 0 && (rc = treasury_setup(es)) != 0)
        es->api->log(es->ctx, AITBC_LOG_ERROR, "treasury account setup failed (%d)", rc);
    if (rc == 0 && (rc = ex_books_rebuild(es)) != 0)
        es->api->log(es->ctx, AITBC_LOG_ERROR, "rebuilding the order books failed (%d)", rc);
    if (rc == 0 && (rc = ex_sequences_load(es)) != 0)
        es->api->log(es->ctx, AITBC_LOG_ERROR, "loading the book sequences failed (%d)", rc);
    if (rc == 0) rc = declare_topics(es);
    if (rc == 0) rc = ex_routes_register(es);
    return rc;
}

static void ex_stop(void *state) {
    (void)state;
}

static void ex_destroy(void *state) {
    ex_state *es = state;
    for (size_t i = 0; i < es->nmarkets; i++) {
        ex_book_free(&es->markets[i].book);
        free(es->markets[i].ticker_text);
        pthread_mutex_destroy(&es->markets[i].lock);
    }
    free(es->markets);
    free(es);
}

static const char *const k_requires[] = {AITBC_LEDGER_SERVICE, NULL};
static const char *const k_provides[] = {AITBC_EXCHANGE_SERVICE, "metrics:exchange@1", NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "exchange",
    .version = "0.1.0",
    .description = "Token exchange: order book, matching, settlement through the ledger",
    .provides = k_provides,
    .requires = k_requires,
    .config_schema = k_schema,
    .init = ex_init,
    .start = ex_start,
    .stop = ex_stop,
    .destroy = ex_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
