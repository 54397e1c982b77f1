/* wsprobe: a test-only plugin that publishes bus events on demand, so WebSocket tests and
 * bench/ws can drive the real host end to end.
 *
 * Topics it declares (the WebSocket bridge enforces their rules):
 *   probe_public  any role, every event to every subscriber
 *   probe_owned   any role, each event only to data.owner's own connections and to admins
 *   probe_admin   admins only
 * Route: POST /v1/wsprobe/publish (admin) {"topic", "data":{…}, "count":1..100000}
 *   publishes `count` copies of data, each with "n": 1..count and "t_us": CLOCK_MONOTONIC µs at
 *   publish time (for latency measurements) → 200 {"published": count}. */
#include "aitbc/aitbc.h"
#include <string.h>
#include <time.h>

typedef struct probe {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
} probe;

static int owner_visible(const aitbc_principal *who, const cJSON *data, void *user) {
    (void)user;
    const char *owner = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "owner"));
    if (who->role == AITBC_ROLE_ADMIN) return 1;
    return owner && who->owner_address[0] && !strcmp(owner, who->owner_address);
}

static double mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)(ts.tv_nsec / 1000);
}

static void h_publish(aitbc_request *req, void *user) {
    probe *p = user;
    const aitbc_host_api *api = p->api;
    const cJSON *body = api->req_json(req);
    const char *topic = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "topic"));
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(body, "data");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(body, "count");
    if (!topic) {
        api->respond_error(req, 400, "invalid_argument", "topic", "topic must be a string");
        return;
    }
    if (data && !cJSON_IsObject(data)) {
        api->respond_error(req, 400, "invalid_argument", "data", "data must be an object");
        return;
    }
    int n = 1;
    if (count) {
        if (!cJSON_IsNumber(count) || count->valuedouble < 1 || count->valuedouble > 100000) {
            api->respond_error(req, 400, "invalid_argument", "count", "count must be 1..100000");
            return;
        }
        n = (int)count->valuedouble;
    }
    cJSON *ev = data ? cJSON_Duplicate(data, 1) : cJSON_CreateObject();
    if (!ev) {
        api->respond_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(ev, "n");
    cJSON_DeleteItemFromObjectCaseSensitive(ev, "t_us");
    cJSON *num = cJSON_AddNumberToObject(ev, "n", 0);
    cJSON *at = cJSON_AddNumberToObject(ev, "t_us", 0);
    int done = 0;
    for (int i = 1; i <= n; i++) {
        cJSON_SetNumberValue(num, i);
        cJSON_SetNumberValue(at, mono_us());
        if (api->bus_publish(p->ctx, topic, ev) != 0) break;
        done++;
    }
    cJSON_Delete(ev);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "published", done);
    api->respond_json(req, done == n ? 200 : 503, res);
}

static probe g_probe;

static int probe_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    g_probe.ctx = ctx;
    g_probe.api = api;
    const aitbc_topic topics[] = {
        {.name = "probe_public", .roles = AITBC_ROLE_ANY},
        {.name = "probe_owned", .roles = AITBC_ROLE_ANY, .visible = owner_visible},
        {.name = "probe_admin", .roles = AITBC_ROLE_ADMIN},
    };
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        int rc = api->bus_topic(ctx, &topics[i]);
        if (rc) return rc;
    }
    *state = &g_probe;
    return 0;
}

static int probe_start(void *state) {
    probe *p = state;
    aitbc_route r = {.method = "POST",
                     .path = "/v1/wsprobe/publish",
                     .roles = AITBC_ROLE_ADMIN,
                     .body = AITBC_BODY_JSON,
                     .handler = h_publish,
                     .user = p};
    return p->api->route(p->ctx, &r);
}

static void probe_stop(void *state) {
    (void)state;
}

static void probe_destroy(void *state) {
    (void)state;
}

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "wsprobe",
    .version = "0.1.0",
    .description = "test only: publishes bus events on demand (POST /v1/wsprobe/publish)",
    .init = probe_init,
    .start = probe_start,
    .stop = probe_stop,
    .destroy = probe_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
