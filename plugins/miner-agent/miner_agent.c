/* miner-agent: descriptor, config schema and lifecycle. init reads the config and the miner's
 * identity; start finds the compute backends and starts the poller and progress threads; stop is
 * the drain (SIGTERM): DRAINING, no new work, running jobs get drain_grace_s to finish, the rest
 * are reported as retryable failures. */
#include "miner_agent.h"
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A drain request the coordinator does not answer this fast is left to the spool. */
#define DRAIN_REQUEST_MS 3000

static const aitbc_cfg_key schema[] = {
    {"coordinator_url", AITBC_CFG_STRING, 1,
     "base URL of the coordinator, e.g. \"http://127.0.0.1:18000\" (with its path_prefix, if any)",
     .def = NULL},
    {"concurrency", AITBC_CFG_INT, 0, "jobs run at once", .def = "1", AITBC_CFG_RANGE(1, 256)},
    {"unit_price", AITBC_CFG_STRING, 0, "AIT per unit of work, e.g. \"0.01\"", .def = "0"},
    {"unit_type", AITBC_CFG_STRING, 0, "what a unit is: job, token, megapixel …", .def = "job"},
    {"region", AITBC_CFG_STRING, 0, "region advertised for job constraints (default none)",
     .def = NULL},
    {"enrolment_token", AITBC_CFG_STRING, 0,
     "the coordinator operator's token, when it has closed open registration (default none)",
     .def = NULL},
    {"drain_grace_s", AITBC_CFG_INT, 0,
     "on SIGTERM, seconds running jobs get to finish before they are failed as retryable",
     .def = "30", AITBC_CFG_RANGE(0, 3600)},
    {"poll_wait_s", AITBC_CFG_INT, 0, "long-poll wait for new work, s", .def = "25",
     AITBC_CFG_RANGE(0, 30)},
    {"job_timeout_s", AITBC_CFG_INT, 0, "a job's run time limit, s; 0 = none", .def = "3600",
     AITBC_CFG_RANGE(0, 7 * 86400)},
    {"request_timeout_s", AITBC_CFG_INT, 0, "time limit of one request to the coordinator, s",
     .def = "30", AITBC_CFG_RANGE(1, 600)},
    {"progress_interval_ms", AITBC_CFG_INT, 0,
     "at most one progress update per job per this many ms", .def = "1000",
     AITBC_CFG_RANGE(100, 60000)},
    {"backoff_max_ms", AITBC_CFG_INT, 0,
     "longest wait between retries while the coordinator is unreachable, ms", .def = "30000",
     AITBC_CFG_RANGE(100, 600000)},
    {"hardware", AITBC_CFG_OBJECT, 0,
     "override what is detected: {gpus: [{name, memory_mb}], cpu_model, cpu_cores, memory_mb}",
     .def = NULL},
    {0}};

static void agent_destroy(void *state);

static int agent_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (api->size < offsetof(aitbc_host_api, service_names) + sizeof api->service_names) {
        api->log(ctx, AITBC_LOG_ERROR, "this host is too old (no service_names)");
        return AITBC_EINVAL;
    }
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return AITBC_EIO;
    ma_agent *a = calloc(1, sizeof *a);
    if (!a) {
        curl_global_cleanup();
        return AITBC_ENOMEM;
    }
    a->ctx = ctx;
    a->api = api;
    a->heartbeat_s = 15;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = ma_config_load(a, api->config(ctx));
    if (rc == 0) rc = ma_identity_load(a);
    if (rc == 0) rc = ma_spool_init(a);
    if (rc == 0) {
        ma_metrics_init(a);
        rc = api->service_register(ctx, "metrics:miner-agent@1", &a->metrics);
    }
    if (rc != 0) {
        agent_destroy(a);
        return rc;
    }
    api->log(ctx, AITBC_LOG_INFO, "miner %s → %s, %d slot(s), %s AIT per %s", a->address,
             a->cfg.coordinator_url, a->cfg.concurrency, a->cfg.unit_price, a->cfg.unit_type);
    *state = a;
    return 0;
}

static int agent_start(void *state) {
    ma_agent *a = state;
    int rc = ma_backends_find(a);
    if (rc == 0) rc = ma_jobs_init(a);
    if (rc == 0 && !(a->poll_http = ma_http_new(a))) rc = AITBC_ENOMEM;
    if (rc == 0) rc = ma_poller_start(a);
    if (rc == 0) rc = ma_progress_start(a);
    return rc;
}

/* Wait until the DRAINING heartbeat went out and no job runs, or the grace is over. */
static void wait_drained(ma_agent *a) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += a->cfg.drain_grace_s;
    pthread_mutex_lock(&a->mu);
    while ((ma_jobs_running_locked(a) > 0 || !a->drain_announced) &&
           pthread_cond_timedwait(&a->cv, &a->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&a->mu);
}

static void agent_stop(void *state) {
    ma_agent *a = state;
    if (a->poller_live) {
        pthread_mutex_lock(&a->mu);
        int running = ma_jobs_running_locked(a);
        pthread_mutex_unlock(&a->mu);
        a->api->log(a->ctx, AITBC_LOG_INFO, "draining: %d job(s) running, grace %d s", running,
                    a->cfg.drain_grace_s);
        atomic_store(&a->draining, 1);
        ma_poller_interrupt(a);
        wait_drained(a);
        ma_http *h = ma_http_new(a);
        ma_http_cap(h, DRAIN_REQUEST_MS);
        if (h) ma_jobs_fail_all(a, h);
        ma_http_free(h);
    }
    atomic_store(&a->quit, 1);
    if (a->poll_http) ma_poller_interrupt(a);
    if (a->poller_live) pthread_join(a->poller, NULL);
    if (a->progress_live) pthread_join(a->progress_thread, NULL);
    a->poller_live = a->progress_live = 0;
    ma_jobs_join_all(a); /* a backend that ignores should_stop holds the shutdown here */
}

static void agent_destroy(void *state) {
    ma_agent *a = state;
    ma_jobs_free(a);
    ma_http_free(a->poll_http);
    ma_hw_free(&a->hw);
    ma_config_free(&a->cfg);
    sodium_memzero(&a->key, sizeof a->key);
    sodium_memzero(a->api_key, sizeof a->api_key);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    curl_global_cleanup();
    free(a);
}

static int agent_health(void *state) {
    ma_agent *a = state;
    return atomic_load(&a->failing) ? AITBC_EUNAVAIL : 0;
}

/* Every compute backend, whichever plugins provide them; none at all refuses the start. */
static const char *const k_uses[] = {AITBC_COMPUTE_ANY, NULL};
static const char *const k_provides[] = {"metrics:miner-agent@1", NULL};

static const aitbc_plugin_desc desc = {
    AITBC_PLUGIN_HEADER,
    .name = "miner-agent",
    .version = "1.0.0",
    .description = "miner node: registers with a coordinator, runs its jobs on compute backends",
    .config_schema = schema,
    .init = agent_init,
    .start = agent_start,
    .stop = agent_stop,
    .destroy = agent_destroy,
    .health = agent_health,
    .uses = k_uses,
    .provides = k_provides,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &desc;
}
