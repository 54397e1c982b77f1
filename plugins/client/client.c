/* The client plugin: descriptor, config and lifecycle (migrations in store.c). Owns the jobs
 * tables, provides jobs@1, runs the TTL timer and registers the client routes. */
#include "client.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

client_state *g_client;

static const aitbc_cfg_key k_schema[] = {
    {"fee_bps", AITBC_CFG_INT, 0, "platform fee on job payments in basis points", .def = "0",
     AITBC_CFG_RANGE(0, 10000)},
    {"treasury", AITBC_CFG_STRING, 0, "address that receives the fee (required when fee_bps > 0)",
     .def = NULL},
    {"receipt_key_file", AITBC_CFG_STRING, 0,
     "coordinator receipt signing key (default <data_dir>/receipt.key, 0600)", .def = NULL},
    {"ttl_sweep_ms", AITBC_CFG_INT, 0, "how often expired jobs are swept, ms", .def = "250",
     AITBC_CFG_RANGE(10, 60000)},
    {"progress_interval_ms", AITBC_CFG_INT, 0,
     "least time between two accepted progress reports of one job, ms (0 = any)", .def = "1000",
     AITBC_CFG_RANGE(0, 60000)},
    {"max_queued_jobs", AITBC_CFG_INT, 0,
     "QUEUED jobs one account may have; a submit past it answers 429 queue_limit", .def = "1000",
     AITBC_CFG_RANGE(1, 10000000)},
    {"max_queued_bytes", AITBC_CFG_INT, 0,
     "payload bytes (canonical JSON) one account's QUEUED jobs may hold; past it 429 queue_limit",
     .def = "268435456", AITBC_CFG_RANGE(1, 1099511627776.0)},
    {0},
};

static const char *const k_provides[] = {AITBC_JOBS_SERVICE, "metrics:client@1", NULL};
static const char *const k_requires[] = {AITBC_LEDGER_SERVICE, NULL};
/* Miners are looked up at dispatch time (miner requires jobs@1: a cycle through uses[]). */
static const char *const k_uses[] = {AITBC_MINERS_SERVICE, NULL};

static int parse_config(client_state *cs) {
    const cJSON *cfg = cs->api->config(cs->ctx);
    /* Types, bounds and defaults are the host's (k_schema); the rules across keys are here. */
    cs->fee_bps = aitbc_cfg_i64(cfg, "fee_bps");
    const char *tr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "treasury"));
    if ((tr && !aitbc_address_valid(tr)) || (cs->fee_bps > 0 && !tr)) {
        cs->api->log(cs->ctx, AITBC_LOG_ERROR,
                     "client.treasury must be an address (ait1 + 40 hex); required with fee_bps");
        return AITBC_EINVAL;
    }
    snprintf(cs->treasury, sizeof cs->treasury, "%s", tr ? tr : "");
    cs->sweep_ms = aitbc_cfg_i64(cfg, "ttl_sweep_ms");
    cs->progress_interval_ms = aitbc_cfg_i64(cfg, "progress_interval_ms");
    cs->max_queued_jobs = aitbc_cfg_i64(cfg, "max_queued_jobs");
    cs->max_queued_bytes = aitbc_cfg_i64(cfg, "max_queued_bytes");
    const char *kf =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "receipt_key_file"));
    int n = kf ? snprintf(cs->key_path, sizeof cs->key_path, "%s", kf)
               : snprintf(cs->key_path, sizeof cs->key_path, "%s/receipt.key",
                          cs->api->data_dir(cs->ctx));
    return n > 0 && (size_t)n < sizeof cs->key_path ? 0 : AITBC_EINVAL;
}

static int client_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (sodium_init() < 0) return AITBC_EIO;
    client_state *cs = calloc(1, sizeof *cs);
    if (!cs) return AITBC_ENOMEM;
    cs->ctx = ctx;
    cs->api = api;
    cs->pg = aitbc_store_is_postgres(api);
    *state = cs;
    int rc = parse_config(cs);
    if (rc == 0 && (rc = jc_key_load_or_create(cs->key_path, &cs->key)) != 0)
        api->log(ctx, AITBC_LOG_ERROR, "receipt key %s unreadable or not creatable", cs->key_path);
    if (rc == 0) rc = cl_store_migrate(cs);
    if (rc == 0) {
        cl_service_init(cs);
        rc = api->service_register(ctx, AITBC_JOBS_SERVICE, &cs->service);
        cl_metrics_init(cs);
        if (rc == 0) rc = api->service_register(ctx, "metrics:client@1", &cs->metrics);
    }
    if (rc != 0) { /* a failed init frees what it allocated: destroy is not called */
        sodium_memzero(&cs->key, sizeof cs->key);
        free(cs);
        *state = NULL;
        return rc;
    }
    g_client = cs;
    return 0;
}

/* job_updates: clients see their own jobs, admins every job. */
static int job_visible(const aitbc_principal *who, const cJSON *data, void *user) {
    (void)user;
    if (who->role == AITBC_ROLE_ADMIN) return 1;
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "client"));
    return who->role == AITBC_ROLE_CLIENT && c && strcmp(c, who->owner_address) == 0;
}

static int client_start(void *state) {
    client_state *cs = state;
    const aitbc_host_api *api = cs->api;
    cs->ledger = aitbc_ledger_for(api->service_lookup(AITBC_LEDGER_SERVICE), "client");
    if (!cs->ledger) return AITBC_EUNAVAIL;
    if (cs->treasury[0] && cs->ledger->ensure_account(cs->ledger->self, NULL, cs->treasury) != 0)
        return AITBC_EIO;
    aitbc_topic topic = {.name = AITBC_TOPIC_JOB_UPDATES,
                         .roles = AITBC_ROLE_CLIENT | AITBC_ROLE_ADMIN,
                         .visible = job_visible};
    int rc = api->bus_topic(cs->ctx, &topic);
    if (rc == 0) rc = cl_routes_register(cs);
    if (rc == 0) {
        cs->timer = api->timer_add(cs->ctx, cs->sweep_ms, cl_sweep_ttl, cs);
        if (!cs->timer) rc = AITBC_EIO;
    }
    if (rc == 0)
        api->log(cs->ctx, AITBC_LOG_INFO, "receipt key %s (key_id %s)", cs->key_path,
                 cs->key.key_id);
    return rc;
}

static void client_stop(void *state) {
    client_state *cs = state;
    if (cs->timer) cs->api->timer_cancel(cs->timer);
    cs->timer = NULL;
}

static void client_destroy(void *state) {
    client_state *cs = state;
    if (!cs) return;
    if (g_client == cs) g_client = NULL;
    sodium_memzero(&cs->key, sizeof cs->key);
    free(cs);
}

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "client",
    .version = "0.1.0",
    .description = "Client job API: submit, status, cancel, receipts; jobs@1 state machine",
    .provides = k_provides,
    .requires = k_requires,
    .uses = k_uses,
    .config_schema = k_schema,
    .init = client_init,
    .start = client_start,
    .stop = client_stop,
    .destroy = client_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
