/* compute-test: a real compute@1 backend for the miner agent's tests, whose payload says what to
 * do: {"type":"test", "echo":any, "ms":run time, "steps":progress steps, "units":n,
 * "fail":"code", "retryable":bool, "slow_stop_ms":n}. It sleeps `ms` in `steps` slices reporting
 * progress, stops early when asked (after `slow_stop_ms`, to play a backend slow to stop), and
 * answers {"echo", "steps"} or the failure it was told to produce. Config: {models: [...]}. */
#include <aitbc/aitbc.h>
#include <aitbc/compute.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ct_state {
    cJSON *models;
} ct_state;

static ct_state g_state;

static const char *const *ct_types(void *self) {
    (void)self;
    static const char *const types[] = {"test", NULL};
    return types;
}

static cJSON *ct_models(void *self) {
    ct_state *s = self;
    return s->models ? cJSON_Duplicate(s->models, 1) : cJSON_CreateArray();
}

static void nap_ms(int64_t ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int fail(aitbc_compute_out *out, const char *code, const char *msg, int retryable) {
    out->error = cJSON_CreateObject();
    cJSON_AddStringToObject(out->error, "code", code);
    cJSON_AddStringToObject(out->error, "message", msg);
    out->retryable = retryable;
    return AITBC_EINVAL;
}

static int64_t field(const cJSON *p, const char *key, int64_t def, int64_t max) {
    int64_t v = def;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(p, key);
    if (it && (aitbc_json_int(it, &v) != 0 || v < 0 || v > max)) return -1;
    return v;
}

static int ct_run(void *self, const cJSON *payload, const aitbc_compute_ctl *ctl,
                  aitbc_compute_out *out) {
    (void)self;
    int64_t ms = field(payload, "ms", 0, 600000), steps = field(payload, "steps", 0, 1000);
    int64_t units = field(payload, "units", 1, 1000000);
    int64_t slow_stop = field(payload, "slow_stop_ms", 0, 600000);
    if (ms < 0 || steps < 0 || units < 0 || slow_stop < 0)
        return fail(out, "invalid_payload", "ms, steps, units, slow_stop_ms: integers in range", 0);
    int64_t slices = steps > 0 ? steps : ms / 10 + 1;
    for (int64_t i = 0; i < slices; i++) {
        nap_ms(ms / slices);
        int stop = steps > 0 ? ctl->progress(ctl->user, (double)(i + 1) / (double)steps)
                             : ctl->should_stop(ctl->user);
        if (stop) {
            nap_ms(slow_stop);
            return fail(out, "stopped", "the job was asked to stop", 1);
        }
    }
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "fail"));
    if (code)
        return fail(out, code, "failed as the payload asked",
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(payload, "retryable")));
    out->result = cJSON_CreateObject();
    const cJSON *echo = cJSON_GetObjectItemCaseSensitive(payload, "echo");
    cJSON_AddItemToObject(out->result, "echo",
                          echo ? cJSON_Duplicate(echo, 1) : cJSON_CreateNull());
    aitbc_json_add_i64(out->result, "steps", steps);
    out->units = units;
    out->unit_type = "job";
    return 0;
}

static aitbc_compute_v1 g_table = {sizeof g_table, &g_state, ct_types, ct_models, ct_run};

static int ct_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(api->config(ctx), "models");
    g_state.models = models ? cJSON_Duplicate(models, 1) : NULL;
    *state = &g_state;
    return api->service_register(ctx, "compute:compute-test@1", &g_table);
}

static int ct_start(void *state) {
    (void)state;
    return 0;
}

static void ct_stop(void *state) {
    (void)state;
}

static void ct_destroy(void *state) {
    ct_state *s = state;
    cJSON_Delete(s->models);
    s->models = NULL;
}

static const aitbc_cfg_key ct_schema[] = {
    {"models", AITBC_CFG_ARRAY, 0, "model names to advertise (default none)", .def = NULL}, {0}};
static const char *const ct_provides[] = {"compute:compute-test@1", NULL};

static const aitbc_plugin_desc ct_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "compute-test",
    .version = "1.0.0",
    .description = "test compute backend: runs for as long as the payload says",
    .provides = ct_provides,
    .config_schema = ct_schema,
    .init = ct_init,
    .start = ct_start,
    .stop = ct_stop,
    .destroy = ct_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &ct_desc;
}
