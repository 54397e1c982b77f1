/* compute-ollama plugin: descriptor and lifecycle. init reads the server URL and limits and
 * registers the compute@1 table as "compute:compute-ollama@1". The server need not be up at start:
 * models() then lists nothing and jobs fail as retryable until it is. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <aitbc/aitbc.h>
#include <aitbc/compute.h>
#include "ollama.h"

#define OLLAMA_SERVICE AITBC_COMPUTE_PREFIX "compute-ollama@1"

typedef struct ollama_plugin {
    aitbc_compute_v1 table;
    ollama_config cfg;
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
} ollama_plugin;

static const aitbc_cfg_key k_schema[] = {
    {"url", AITBC_CFG_STRING, 0, "base URL of the Ollama-compatible server",
     .def = "http://127.0.0.1:11434"},
    {"models", AITBC_CFG_ARRAY, 0,
     "model names this miner serves (default: every model the server's /api/tags lists)",
     .def = NULL},
    {"connect_timeout_ms", AITBC_CFG_INT, 0, "time to reach the server, ms", .def = "3000",
     AITBC_CFG_RANGE(1, 600000)},
    {"idle_timeout_s", AITBC_CFG_INT, 0,
     "longest silence inside a stream before it counts as dropped, s", .def = "120",
     AITBC_CFG_RANGE(1, 86400)},
    {"max_seconds", AITBC_CFG_INT, 0, "wall-clock limit of one job, s", .def = "600",
     AITBC_CFG_RANGE(1, 86400)},
    {"max_tokens_default", AITBC_CFG_INT, 0, "tokens when a job names no max_tokens", .def = "256",
     AITBC_CFG_RANGE(1, 1000000)},
    {"max_tokens_limit", AITBC_CFG_INT, 0, "largest max_tokens a job may ask for", .def = "4096",
     AITBC_CFG_RANGE(1, 1000000)},
    {"max_prompt_bytes", AITBC_CFG_INT, 0, "largest prompt + system text, bytes", .def = "1048576",
     AITBC_CFG_RANGE(1, 268435456)},
    {"max_output_bytes", AITBC_CFG_INT, 0, "largest generated text, bytes", .def = "1048576",
     AITBC_CFG_RANGE(1, 268435456)},
    {0},
};

static const char *const *ollama_types(void *self) {
    (void)self;
    static const char *const types[] = {"inference", NULL};
    return types;
}

static cJSON *ollama_models_of(void *self) {
    ollama_plugin *p = self;
    cJSON *models = ollama_models(&p->cfg);
    if (!models)
        p->api->log(p->ctx, AITBC_LOG_WARN, "cannot list models: %s/api/tags did not answer",
                    p->cfg.url);
    return models;
}

static int ollama_job(void *self, const cJSON *payload, const aitbc_compute_ctl *ctl,
                      aitbc_compute_out *out) {
    return ollama_run(&((ollama_plugin *)self)->cfg, payload, ctl, out);
}

static int read_config(ollama_plugin *p) {
    const cJSON *cfg = p->api->config(p->ctx);
    /* Types, ranges and defaults are the host's (k_schema); the rules across keys are here. */
    static const char *const ints[] = {"connect_timeout_ms", "idle_timeout_s",   "max_seconds",
                                       "max_tokens_default", "max_tokens_limit", "max_prompt_bytes",
                                       "max_output_bytes"};
    int64_t v[7];
    for (size_t i = 0; i < 7; i++)
        v[i] = aitbc_cfg_i64(cfg, ints[i]);
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "url"));
    if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strlen(url) > 1024) {
        p->api->log(p->ctx, AITBC_LOG_ERROR,
                    "compute-ollama.url must be an http:// or https:// "
                    "URL of at most 1024 characters");
        return AITBC_EINVAL;
    }
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(cfg, "models");
    const cJSON *m;
    cJSON_ArrayForEach(m, models) {
        if (!cJSON_IsString(m) || !m->valuestring[0]) {
            p->api->log(p->ctx, AITBC_LOG_ERROR, "compute-ollama.models must list model names");
            return AITBC_EINVAL;
        }
    }
    if (v[3] > v[4]) {
        p->api->log(p->ctx, AITBC_LOG_ERROR,
                    "compute-ollama.max_tokens_default is larger than max_tokens_limit");
        return AITBC_EINVAL;
    }
    p->cfg = (ollama_config){url,  models, v[0],         v[1] * 1000, v[2] * 1000,
                             v[3], v[4],   (size_t)v[5], (size_t)v[6]};
    return 0;
}

static int ollama_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (api->size < sizeof(aitbc_host_api)) return AITBC_EINVAL;
    ollama_plugin *p = calloc(1, sizeof *p);
    if (!p) return AITBC_ENOMEM;
    p->ctx = ctx;
    p->api = api;
    int rc = read_config(p);
    /* Before any thread of ours uses libcurl (reference-counted: other plugins may too). */
    if (rc == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) rc = AITBC_EIO;
    if (rc != 0) {
        free(p);
        return rc;
    }
    p->table = (aitbc_compute_v1){sizeof p->table, p, ollama_types, ollama_models_of, ollama_job};
    rc = api->service_register(ctx, OLLAMA_SERVICE, &p->table);
    if (rc != 0) {
        curl_global_cleanup();
        free(p);
        return rc;
    }
    api->log(ctx, AITBC_LOG_INFO, "inference jobs go to %s", p->cfg.url);
    *state = p;
    return 0;
}

static int ollama_start(void *state) {
    (void)state;
    return 0;
}

static void ollama_stop(void *state) {
    (void)state; /* jobs run on the agent's threads */
}

static void ollama_destroy(void *state) {
    curl_global_cleanup();
    free(state);
}

static const char *const k_provides[] = {OLLAMA_SERVICE, NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "compute-ollama",
    .version = "1.0.0",
    .description = "compute@1 backend: inference on an Ollama-compatible server",
    .provides = k_provides,
    .config_schema = k_schema,
    .init = ollama_init,
    .start = ollama_start,
    .stop = ollama_stop,
    .destroy = ollama_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
