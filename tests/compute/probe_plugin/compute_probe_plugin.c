/* compute-probe: a test-only plugin that drives every compute@1 backend of the node over HTTP, so
 * plugin tests exercise a backend exactly as the host loads and registers it (schema, init,
 * service name, job_types, models, run) without needing the miner agent.
 *   GET  /v1/compute-probe/backends → {"backends":[{"service","job_types","models"}]}
 *   POST /v1/compute-probe/run[?stop_after_ms=N&deadline_ms=N] body = the job payload →
 *        {"rc","result","units","unit_type","error","retryable","progress_calls","service"}
 * Unlike the agent it runs the job on the HTTP thread that asked: fine for tests, never for a
 * product plugin. */
#include <stdlib.h>
#include <string.h>

#include <aitbc/aitbc.h>
#include <aitbc/compute.h>

#define PROBE_MAX_BACKENDS 16

typedef struct probe {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
} probe;

typedef struct job_ctl {
    aitbc_compute_ctl ctl;
    int64_t stop_at_ms; /* 0 = never */
    int progress_calls;
    int bad_progress; /* outside [0, 1] */
} job_ctl;

static int job_should_stop(void *user) {
    job_ctl *j = user;
    return j->stop_at_ms > 0 && aitbc_now_ms() >= j->stop_at_ms;
}

static int job_progress(void *user, double fraction) {
    job_ctl *j = user;
    j->progress_calls++;
    if (!(fraction >= 0 && fraction <= 1)) j->bad_progress = 1;
    return job_should_stop(user);
}

static cJSON *string_list(const char *const *list) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; list && list[i]; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(list[i]));
    return a;
}

static void get_backends(aitbc_request *req, void *user) {
    probe *p = user;
    const char *names[PROBE_MAX_BACKENDS];
    size_t n = p->api->service_names(AITBC_COMPUTE_PREFIX, names, PROBE_MAX_BACKENDS);
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "backends");
    for (size_t i = 0; i < n && i < PROBE_MAX_BACKENDS; i++) {
        const aitbc_compute_v1 *t = p->api->service_lookup(names[i]);
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "service", names[i]);
        cJSON_AddItemToObject(b, "job_types", string_list(t->job_types(t->self)));
        cJSON *models = t->models ? t->models(t->self) : NULL;
        cJSON_AddItemToObject(b, "models", models ? models : cJSON_CreateNull());
        cJSON_AddItemToArray(list, b);
    }
    p->api->respond_json(req, 200, out);
}

static const aitbc_compute_v1 *backend_for(probe *p, const char *type, const char **service) {
    const char *names[PROBE_MAX_BACKENDS];
    size_t n = p->api->service_names(AITBC_COMPUTE_PREFIX, names, PROBE_MAX_BACKENDS);
    for (size_t i = 0; i < n && i < PROBE_MAX_BACKENDS; i++) {
        const aitbc_compute_v1 *t = p->api->service_lookup(names[i]);
        for (const char *const *jt = t ? t->job_types(t->self) : NULL; jt && *jt; jt++)
            if (strcmp(*jt, type) == 0) {
                *service = names[i];
                return t;
            }
    }
    return NULL;
}

static int64_t query_ms(aitbc_request *req, const aitbc_host_api *api, const char *name) {
    const char *v = api->req_query(req, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

static void post_run(aitbc_request *req, void *user) {
    probe *p = user;
    const aitbc_host_api *api = p->api;
    const cJSON *payload = api->req_json(req);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "type"));
    const char *service = NULL;
    const aitbc_compute_v1 *t = type ? backend_for(p, type, &service) : NULL;
    if (!t) {
        api->respond_error(req, 404, "not_found", "type", "no backend runs this type");
        return;
    }
    job_ctl j = {{sizeof j.ctl, &j, job_progress, job_should_stop, 0}, 0, 0, 0};
    int64_t now = aitbc_now_ms();
    int64_t stop_after = query_ms(req, api, "stop_after_ms");
    int64_t deadline = query_ms(req, api, "deadline_ms");
    if (stop_after > 0) j.stop_at_ms = now + stop_after;
    if (deadline > 0) j.ctl.deadline_ms = now + deadline;
    aitbc_compute_out out = {0};
    int rc = t->run(t->self, payload, &j.ctl, &out);
    cJSON *body = cJSON_CreateObject();
    aitbc_json_add_i64(body, "rc", rc);
    aitbc_json_add_str(body, "service", service);
    cJSON_AddItemToObject(body, "result", out.result ? out.result : cJSON_CreateNull());
    cJSON_AddItemToObject(body, "error", out.error ? out.error : cJSON_CreateNull());
    aitbc_json_add_i64(body, "units", out.units);
    aitbc_json_add_str(body, "unit_type", out.unit_type);
    cJSON_AddBoolToObject(body, "retryable", out.retryable);
    aitbc_json_add_i64(body, "progress_calls", j.progress_calls);
    cJSON_AddBoolToObject(body, "bad_progress", j.bad_progress);
    api->respond_json(req, 200, body);
}

static int probe_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (api->size < sizeof(aitbc_host_api)) return AITBC_EINVAL;
    probe *p = calloc(1, sizeof *p);
    if (!p) return AITBC_ENOMEM;
    p->ctx = ctx;
    p->api = api;
    *state = p;
    return 0;
}

static int probe_start(void *state) {
    probe *p = state;
    const aitbc_route routes[] = {
        {.method = "GET",
         .path = "/v1/compute-probe/backends",
         .roles = AITBC_ROLE_PUBLIC,
         .handler = get_backends,
         .user = p},
        {.method = "POST",
         .path = "/v1/compute-probe/run",
         .roles = AITBC_ROLE_PUBLIC,
         .body = AITBC_BODY_JSON,
         .max_body_bytes = 16 << 20,
         .handler = post_run,
         .user = p},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        int rc = p->api->route(p->ctx, &routes[i]);
        if (rc != 0) return rc;
    }
    return 0;
}

static void probe_stop(void *state) {
    (void)state;
}

static void probe_destroy(void *state) {
    free(state);
}

/* Every compute backend of the node, whatever its name (they start before this plugin). */
static const char *const k_uses[] = {AITBC_COMPUTE_ANY, NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,      .name = "compute-probe",
    .version = "1.0.0",       .description = "test only: runs compute@1 backends over HTTP",
    .uses = k_uses,           .init = probe_init,
    .start = probe_start,     .stop = probe_stop,
    .destroy = probe_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
