/* The marketplace plugin: descriptor, config, lifecycle and the marketplace@1 table (its calls
 * live in trades.c; the routes in routes.c, the tables in store.c).
 * Miners sell GPU hours as offers; clients buy hours as trades paid into ledger escrow and
 * released to the seller hour by hour by a timer (see README.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include "marketplace.h"

static const aitbc_cfg_key k_schema[] = {
    {"hour_ms", AITBC_CFG_INT, 0, "length of one sold hour in ms (tests shrink it)",
     .def = "3600000", AITBC_CFG_RANGE(10, 86400000)},
    {"tick_ms", AITBC_CFG_INT, 0, "settlement timer period in ms: releases, expiry, seller checks",
     .def = "1000", AITBC_CFG_RANGE(5, 3600000)},
    {0},
};

static int mk_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    mk_state *ms = calloc(1, sizeof *ms);
    if (!ms) return AITBC_ENOMEM;
    ms->ctx = ctx;
    ms->api = api;
    ms->pg = aitbc_store_is_postgres(api);
    ms->service =
        (aitbc_marketplace_v1){sizeof(aitbc_marketplace_v1), ms, mk_trade_active, mk_trade_use};
    ms->hour_ms = aitbc_cfg_i64(api->config(ctx), "hour_ms");
    ms->tick_ms = aitbc_cfg_i64(api->config(ctx), "tick_ms");
    int rc = api->migrate(ctx, mk_migrations, mk_migrations_n);
    if (rc == 0) rc = api->service_register(ctx, AITBC_MARKETPLACE_SERVICE, &ms->service);
    aitbc_topic offers = {AITBC_TOPIC_OFFERS, AITBC_ROLE_ANY, NULL, NULL};
    if (rc == 0) rc = api->bus_topic(ctx, &offers);
    if (rc != 0) {
        api->log(ctx, AITBC_LOG_ERROR, "init failed (%d)", rc);
        free(ms);
        return rc;
    }
    *state = ms;
    return 0;
}

static int mk_start(void *state) {
    mk_state *ms = state;
    ms->ledger = aitbc_ledger_for(ms->api->service_lookup(AITBC_LEDGER_SERVICE), "marketplace");
    if (!ms->ledger) return AITBC_EUNAVAIL;
    ms->miners = ms->api->service_lookup(AITBC_MINERS_SERVICE);
    if (ms->miners && ms->miners->size < offsetof(aitbc_miners_v1, status) + sizeof(void *)) {
        ms->api->log(ms->ctx, AITBC_LOG_ERROR,
                     "the loaded miners@1 has no status(address): update the miner plugin");
        return AITBC_EUNAVAIL;
    }
    int rc = mk_routes_register(ms);
    if (rc != 0) return rc;
    ms->timer = ms->api->timer_add(ms->ctx, ms->tick_ms, mk_tick, ms);
    if (!ms->timer) return AITBC_EIO;
    ms->api->log(ms->ctx, AITBC_LOG_INFO, "hour = %lld ms, tick %lld ms, seller registry: %s",
                 (long long)ms->hour_ms, (long long)ms->tick_ms,
                 ms->miners ? "miners@1" : "none (any miner key may sell)");
    return 0;
}

static void mk_stop(void *state) {
    mk_state *ms = state;
    if (ms && ms->timer) {
        ms->api->timer_cancel(ms->timer);
        ms->timer = NULL;
    }
}

static void mk_destroy(void *state) {
    free(state);
}

static const char *const k_provides[] = {AITBC_MARKETPLACE_SERVICE, NULL};
static const char *const k_requires[] = {AITBC_LEDGER_SERVICE, NULL};
static const char *const k_uses[] = {AITBC_MINERS_SERVICE, NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "marketplace",
    .version = "0.1.0",
    .description = "Compute marketplace: miners' GPU-hour offers, clients' trades paid through "
                   "ledger escrow and released hour by hour (marketplace@1)",
    .provides = k_provides,
    .requires = k_requires,
    .uses = k_uses,
    .config_schema = k_schema,
    .init = mk_init,
    .start = mk_start,
    .stop = mk_stop,
    .destroy = mk_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
