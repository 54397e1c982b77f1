/* The miner plugin: descriptor, config, migrations and lifecycle. Owns the miner registry,
 * provides miners@1, runs the liveness/lease timer and declares the miner topics. */
#include "miner.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

miner_state *g_miner;

static const aitbc_migration k_migrations[] = {
    {1, "CREATE TABLE miner_miners(seq INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE,"
        " public_key TEXT NOT NULL, status TEXT NOT NULL, unit_type TEXT NOT NULL,"
        " capabilities TEXT NOT NULL, metrics TEXT, concurrency INTEGER NOT NULL,"
        " unit_price INTEGER NOT NULL, last_heartbeat_ms INTEGER, registered_ms INTEGER NOT NULL,"
        " last_register_ts INTEGER NOT NULL, heartbeats INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX miner_miners_status ON miner_miners(status, seq);"
        "CREATE INDEX miner_miners_live ON miner_miners(last_heartbeat_ms)"
        " WHERE status IN ('ONLINE', 'DRAINING');"},
};

static const aitbc_cfg_key k_schema[] = {
    {"heartbeat_interval_s", AITBC_CFG_INT, 0,
     "seconds between miner heartbeats; 3 missed = OFFLINE", .def = "15", AITBC_CFG_RANGE(1, 3600)},
    {"lease_s", AITBC_CFG_INT, 0, "job lease in seconds, renewed by each heartbeat/poll",
     .def = "60", AITBC_CFG_RANGE(1, 86400)},
    {"max_attempts", AITBC_CFG_INT, 0, "assignments per job before it FAILs", .def = "3",
     AITBC_CFG_RANGE(1, 100)},
    {"open_registration", AITBC_CFG_BOOL, 0,
     "miners may register without a key (rate-limited per address)", .def = "true"},
    {"enrolment_token", AITBC_CFG_STRING, 0,
     "token miners send in X-Api-Key to register when open_registration is false", .def = NULL},
    {"register_rate_per_min", AITBC_CFG_INT, 0, "registrations per remote address per minute",
     .def = "30", AITBC_CFG_RANGE(1, 1000000)},
    {"sweep_ms", AITBC_CFG_INT, 0, "liveness and lease check period in ms", .def = "250",
     AITBC_CFG_RANGE(10, 60000)},
    {0},
};

static const char *const k_provides[] = {AITBC_MINERS_SERVICE, "metrics:miner@1", NULL};
static const char *const k_requires[] = {AITBC_JOBS_SERVICE, AITBC_AUTH_SERVICE,
                                         AITBC_LEDGER_SERVICE, NULL};

/* Types, bounds and defaults are the host's (k_schema); what is left is the rule across keys. */
static int parse_config(miner_state *ms) {
    int rc = 0;
    const cJSON *cfg = ms->api->config(ms->ctx);
    ms->heartbeat_s = aitbc_cfg_i64(cfg, "heartbeat_interval_s");
    ms->lease_s = aitbc_cfg_i64(cfg, "lease_s");
    ms->max_attempts = aitbc_cfg_i64(cfg, "max_attempts");
    ms->rate_per_min = aitbc_cfg_i64(cfg, "register_rate_per_min");
    ms->sweep_ms = aitbc_cfg_i64(cfg, "sweep_ms");
    ms->open_registration = aitbc_cfg_bool(cfg, "open_registration");
    const char *tok =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "enrolment_token"));
    if (rc == 0 && !ms->open_registration &&
        (!tok || strlen(tok) < 16 || strlen(tok) >= sizeof ms->enrolment_token)) {
        ms->api->log(ms->ctx, AITBC_LOG_ERROR,
                     "miner.enrolment_token (16..255 characters) is required when "
                     "open_registration is false");
        rc = AITBC_EINVAL;
    }
    snprintf(ms->enrolment_token, sizeof ms->enrolment_token, "%s", tok ? tok : "");
    return rc;
}

static int miner_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (sodium_init() < 0) return AITBC_EIO;
    miner_state *ms = calloc(1, sizeof *ms);
    if (!ms) return AITBC_ENOMEM;
    ms->ctx = ctx;
    ms->api = api;
    pthread_mutex_init(&ms->rate_mu, NULL);
    pthread_mutex_init(&ms->live_mu, NULL);
    *state = ms;
    int rc = parse_config(ms);
    if (rc == 0) rc = api->migrate(ctx, k_migrations, sizeof k_migrations / sizeof k_migrations[0]);
    if (rc == 0) {
        mn_service_init(ms);
        rc = api->service_register(ctx, AITBC_MINERS_SERVICE, &ms->service);
        mn_metrics_init(ms);
        if (rc == 0) rc = api->service_register(ctx, "metrics:miner@1", &ms->metrics);
    }
    if (rc != 0) { /* a failed init frees what it allocated: destroy is not called */
        pthread_mutex_destroy(&ms->rate_mu);
        pthread_mutex_destroy(&ms->live_mu);
        free(ms);
        *state = NULL;
        return rc;
    }
    g_miner = ms;
    return 0;
}

/* miner_heartbeats: admins, and a miner its own. */
static int beat_visible(const aitbc_principal *who, const cJSON *data, void *user) {
    (void)user;
    if (who->role == AITBC_ROLE_ADMIN) return 1;
    const char *a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "address"));
    return who->role == AITBC_ROLE_MINER && a && strcmp(a, who->owner_address) == 0;
}

/* job_assigned: the miner it names (and admins). */
static int assigned_visible(const aitbc_principal *who, const cJSON *data, void *user) {
    (void)user;
    if (who->role == AITBC_ROLE_ADMIN) return 1;
    const char *a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "miner"));
    return who->role == AITBC_ROLE_MINER && a && strcmp(a, who->owner_address) == 0;
}

static int miner_start(void *state) {
    miner_state *ms = state;
    const aitbc_host_api *api = ms->api;
    ms->jobs = api->service_lookup(AITBC_JOBS_SERVICE);
    ms->auth = api->service_lookup(AITBC_AUTH_SERVICE);
    ms->ledger = api->service_lookup(AITBC_LEDGER_SERVICE);
    if (!ms->jobs || !ms->auth || !ms->ledger) return AITBC_EUNAVAIL;
    int rc = mn_live_load(ms); /* the online miners as the table left them */
    if (rc != 0) return rc;
    aitbc_topic beats = {.name = AITBC_TOPIC_MINER_HEARTBEATS,
                         .roles = AITBC_ROLE_MINER | AITBC_ROLE_ADMIN,
                         .visible = beat_visible};
    aitbc_topic assigned = {.name = AITBC_TOPIC_JOB_ASSIGNED,
                            .roles = AITBC_ROLE_MINER | AITBC_ROLE_ADMIN,
                            .visible = assigned_visible};
    rc = api->bus_topic(ms->ctx, &beats);
    if (rc == 0) rc = api->bus_topic(ms->ctx, &assigned);
    if (rc == 0) rc = api->bus_subscribe(ms->ctx, AITBC_TOPIC_JOB_UPDATES, mn_on_job_update, ms);
    if (rc == 0) rc = mn_routes_register(ms);
    if (rc == 0) {
        ms->timer = api->timer_add(ms->ctx, ms->sweep_ms, mn_tick, ms);
        if (!ms->timer) rc = AITBC_EIO;
    }
    return rc;
}

static void miner_stop(void *state) {
    miner_state *ms = state;
    if (ms->timer) ms->api->timer_cancel(ms->timer);
    ms->timer = NULL;
}

static void miner_destroy(void *state) {
    miner_state *ms = state;
    if (!ms) return;
    if (g_miner == ms) g_miner = NULL;
    mn_offers_free(ms);
    mn_live_free(ms);
    pthread_mutex_destroy(&ms->live_mu);
    pthread_mutex_destroy(&ms->rate_mu);
    free(ms);
}

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "miner",
    .version = "0.1.0",
    .description = "Miner API: registration, heartbeats, long-poll dispatch, completion",
    .provides = k_provides,
    .requires = k_requires,
    .config_schema = k_schema,
    .init = miner_init,
    .start = miner_start,
    .stop = miner_stop,
    .destroy = miner_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
