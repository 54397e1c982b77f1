/* compute-wordcount: the smallest complete compute@1 backend, built against the public SDK alone
 * (docs/plugins.md walks through it). Job type "wordcount": {"type":"wordcount","text":"…"} →
 * {"words": n, "lines": n}, one "job" unit each. It shows the whole contract: a config key, the
 * service registered from init, hostile payloads refused with {"code","message"}, progress
 * reported and a stop request honoured while it works. */
#include <stdlib.h>
#include <string.h>

#include <aitbc/aitbc.h>
#include <aitbc/compute.h>

#define SERVICE AITBC_COMPUTE_PREFIX "compute-wordcount@1" /* "compute:<plugin name>@1" */
#define SLICE 4096 /* bytes counted between progress reports */

typedef struct wordcount {
    aitbc_compute_v1 table; /* registered with the host: must live as long as the plugin */
    int64_t max_text_bytes;
} wordcount;

static const aitbc_cfg_key schema[] = {
    {"max_text_bytes", AITBC_CFG_INT, 0, "longest text accepted, bytes", .def = "1048576",
     AITBC_CFG_RANGE(1, 1 << 30)},
    {0},
};

/* Which payload.type values this backend runs. Static: the agent may call it at any time. */
static const char *const *wc_job_types(void *self) {
    (void)self;
    static const char *const types[] = {"wordcount", NULL};
    return types;
}

/* Nothing model-like to advertise. */
static cJSON *wc_models(void *self) {
    (void)self;
    return cJSON_CreateArray();
}

/* Runs on one of the agent's job threads; several jobs may run at once, so keep no mutable
 * shared state (or lock it). The payload is hostile input. */
static int wc_run(void *self, const cJSON *payload, const aitbc_compute_ctl *ctl,
                  aitbc_compute_out *out) {
    const wordcount *wc = self;
    static const char *const fields[] = {"type", "text", NULL};
    const char *unknown = aitbc_json_unknown_key(payload, fields);
    if (unknown)
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "unknown field '%.64s' (wordcount takes text)", unknown);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(payload, "text");
    if (!cJSON_IsString(text))
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload", "text must be a string");
    size_t len = strlen(text->valuestring);
    if ((int64_t)len > wc->max_text_bytes)
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "text_too_large",
                                  "text is %zu bytes; this miner takes %lld", len,
                                  (long long)wc->max_text_bytes);

    int64_t words = 0, lines = len > 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        if (i % SLICE == 0 && i > 0) {
            /* progress() answers nonzero when the job must stop (canceled, lease lost, drain);
             * aitbc_compute_stopping() also covers ctl->deadline_ms. Stopped jobs may be retried
             * elsewhere, so say so. */
            int stop = ctl->progress && ctl->progress(ctl->user, (double)i / (double)len);
            if (stop || aitbc_compute_stopping(ctl))
                return aitbc_compute_fail(out, AITBC_EUNAVAIL, 1, "stopped",
                                          "stopped after %zu of %zu bytes", i, len);
        }
        char c = text->valuestring[i];
        int space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        words += !space && !in_word;
        in_word = !space;
        lines += c == '\n' && i + 1 < len;
    }
    out->result = cJSON_CreateObject(); /* the agent frees it */
    aitbc_json_add_i64(out->result, "words", words);
    aitbc_json_add_i64(out->result, "lines", lines);
    out->units = 1;
    out->unit_type = "job";
    return 0;
}

static int wc_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (api->size < sizeof(aitbc_host_api)) return AITBC_EINVAL; /* an older host */
    wordcount *wc = calloc(1, sizeof *wc);
    if (!wc) return AITBC_ENOMEM;
    /* The host checked the range and filled the default (the schema above). */
    wc->max_text_bytes = aitbc_cfg_i64(api->config(ctx), "max_text_bytes");
    wc->table = (aitbc_compute_v1){sizeof wc->table, wc, wc_job_types, wc_models, wc_run};
    int rc = api->service_register(ctx, SERVICE, &wc->table);
    if (rc != 0) {
        free(wc);
        return rc;
    }
    *state = wc;
    return 0;
}

static int wc_start(void *state) {
    (void)state;
    return 0;
}

static void wc_stop(void *state) {
    (void)state; /* no threads of our own: jobs run on the agent's */
}

static void wc_destroy(void *state) {
    free(state);
}

static const char *const provides[] = {SERVICE, NULL};

static const aitbc_plugin_desc desc = {
    AITBC_PLUGIN_HEADER,  .name = "compute-wordcount",
    .version = "1.0.0",   .description = "Example compute@1 backend: counts words",
    .provides = provides, .config_schema = schema,
    .init = wc_init,      .start = wc_start,
    .stop = wc_stop,      .destroy = wc_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &desc;
}
