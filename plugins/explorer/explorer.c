/* The explorer plugin: descriptor and lifecycle. It owns no tables and never writes; everything
 * it shows comes from the chain plugin's chain-query@1 service. */
#include <stdlib.h>
#include "explorer.h"

static int ex_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    ex_state *es = calloc(1, sizeof *es);
    if (!es) return AITBC_ENOMEM;
    es->ctx = ctx;
    es->api = api;
    *state = es;
    return 0;
}

static int ex_start(void *state) {
    ex_state *es = state;
    es->query = es->api->service_lookup(AITBC_CHAIN_QUERY_SERVICE);
    if (!es->query || es->query->size < sizeof(aitbc_chain_query_v1)) {
        es->api->log(es->ctx, AITBC_LOG_ERROR, "needs %s (the chain plugin)",
                     AITBC_CHAIN_QUERY_SERVICE);
        return AITBC_EUNAVAIL;
    }
    return ex_routes_register(es);
}

static void ex_stop(void *state) {
    (void)state;
}

static void ex_destroy(void *state) {
    free(state);
}

static const char *const k_requires[] = {AITBC_CHAIN_QUERY_SERVICE, NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "explorer",
    .version = "0.1.0",
    .description = "Read-only explorer API over the chain: blocks, transactions, addresses",
    .provides = NULL,
    .requires = k_requires,
    .config_schema = NULL,
    .init = ex_init,
    .start = ex_start,
    .stop = ex_stop,
    .destroy = ex_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
