/* The admin plugin: descriptor and lifecycle; its routes (routes.c) serve GET /v1/admin/miners,
 * /v1/admin/jobs and /v1/admin/stats. Everything comes from jobs@1 and miners@1 (indexed lists,
 * counters), plus ledger@1 for the chain section and exchange@1 for the exchange section when
 * those plugins are loaded. Sections of plugins that are not loaded are absent. It owns no tables
 * and provides no service, so it has no store.c or service.c. */
#include <stdlib.h>
#include "admin.h"

static int admin_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    admin_state *as = calloc(1, sizeof *as);
    if (!as) return AITBC_ENOMEM;
    as->ctx = ctx;
    as->api = api;
    *state = as;
    return 0;
}

static int admin_start(void *state) {
    admin_state *as = state;
    const aitbc_host_api *api = as->api;
    as->jobs = api->service_lookup(AITBC_JOBS_SERVICE);
    as->miners = api->service_lookup(AITBC_MINERS_SERVICE);
    as->ledger = api->service_lookup(AITBC_LEDGER_SERVICE);
    as->exchange = api->service_lookup(AITBC_EXCHANGE_SERVICE);
    if (!as->jobs || !as->miners) return AITBC_EUNAVAIL;
    return admin_routes_register(as);
}

static void admin_stop(void *state) {
    (void)state;
}

static void admin_destroy(void *state) {
    free(state);
}

static const char *const k_requires[] = {AITBC_JOBS_SERVICE, AITBC_MINERS_SERVICE, NULL};
/* the chain and exchange sections */
static const char *const k_uses[] = {AITBC_LEDGER_SERVICE, AITBC_EXCHANGE_SERVICE, NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,      .name = "admin",
    .version = ADMIN_VERSION, .description = "Admin API: miners, jobs and statistics",
    .requires = k_requires,   .uses = k_uses,
    .init = admin_init,       .start = admin_start,
    .stop = admin_stop,       .destroy = admin_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
