/* The compute backends the agent runs jobs on: every "compute:<plugin>@1" service the node
 * registered. Their job types and models, unioned, are what the miner advertises. */
#include "miner_agent.h"
#include <stddef.h>
#include <string.h>

#define MODELS_MAX 256
#define MODEL_LEN_MAX 128

int ma_backends_find(ma_agent *a) {
    const aitbc_host_api *api = a->api;
    const char *names[MA_BACKENDS_MAX];
    size_t n = api->service_names(AITBC_COMPUTE_PREFIX, names, MA_BACKENDS_MAX);
    if (n > MA_BACKENDS_MAX) {
        api->log(a->ctx, AITBC_LOG_WARN, "%zu compute backends; using the first %d", n,
                 MA_BACKENDS_MAX);
        n = MA_BACKENDS_MAX;
    }
    a->nbackends = 0;
    for (size_t i = 0; i < n; i++) {
        const aitbc_compute_v1 *t = api->service_lookup(names[i]);
        if (!t || t->size < offsetof(aitbc_compute_v1, run) + sizeof t->run || !t->job_types ||
            !t->run || !t->job_types(t->self)) {
            api->log(a->ctx, AITBC_LOG_WARN, "%s: not a usable compute@1 table; skipped", names[i]);
            continue;
        }
        a->backends[a->nbackends].service = names[i];
        a->backends[a->nbackends++].t = t;
        api->log(a->ctx, AITBC_LOG_INFO, "compute backend %s", names[i]);
    }
    if (a->nbackends == 0) {
        api->log(a->ctx, AITBC_LOG_ERROR,
                 "no compute backend is loaded: list one (compute-ocr, compute-exec, "
                 "compute-ollama …) under plugins: next to miner-agent");
        return AITBC_ENOTFOUND;
    }
    return 0;
}

const ma_backend *ma_backend_for(const ma_agent *a, const char *job_type) {
    for (size_t i = 0; job_type && i < a->nbackends; i++)
        for (const char *const *t = a->backends[i].t->job_types(a->backends[i].t->self); t && *t;
             t++)
            if (strcmp(*t, job_type) == 0) return &a->backends[i];
    return NULL;
}

static int has_string(const cJSON *arr, const char *s) {
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) if (strcmp(it->valuestring, s) == 0) return 1;
    return 0;
}

/* Adds s to arr unless present, empty or too long (the coordinator's limits). */
static void add_unique(cJSON *arr, const char *s, size_t max_len, int max_items) {
    if (s && s[0] && strlen(s) <= max_len && cJSON_GetArraySize(arr) < max_items &&
        !has_string(arr, s))
        cJSON_AddItemToArray(arr, cJSON_CreateString(s));
}

cJSON *ma_backends_job_types(const ma_agent *a) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < a->nbackends; i++)
        for (const char *const *t = a->backends[i].t->job_types(a->backends[i].t->self); t && *t;
             t++)
            add_unique(arr, *t, MA_TYPE_MAX - 1, 64);
    return arr;
}

cJSON *ma_backends_models(const ma_agent *a) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < a->nbackends; i++) {
        const aitbc_compute_v1 *t = a->backends[i].t;
        if (t->size < offsetof(aitbc_compute_v1, models) + sizeof t->models || !t->models) continue;
        cJSON *m = t->models(t->self), *it;
        const cJSON *list = cJSON_IsArray(m) ? m : NULL;
        cJSON_ArrayForEach(it, list) if (cJSON_IsString(it))
            add_unique(arr, it->valuestring, MODEL_LEN_MAX, MODELS_MAX);
        cJSON_Delete(m);
    }
    return arr;
}
