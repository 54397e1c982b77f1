/* Registration with the coordinator: capabilities from the backends and the hardware, signed
 * with the miner key (proof of possession), the operator's enrolment token when registration is
 * closed. Every start registers again (capabilities may have changed); so does a 401, which means
 * the API key was revoked or rotated. */
#include "miner_agent.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMESTAMP_TRIES 5

void ma_api_key(ma_agent *a, char out[AITBC_API_KEY_MAX]) {
    pthread_mutex_lock(&a->mu);
    memcpy(out, a->api_key, AITBC_API_KEY_MAX);
    pthread_mutex_unlock(&a->mu);
}

void ma_key_rejected(ma_agent *a, const char *key_used) {
    pthread_mutex_lock(&a->mu);
    int same = key_used && strcmp(key_used, a->api_key) == 0;
    if (same) a->registered = 0;
    pthread_mutex_unlock(&a->mu);
    if (same) ma_poller_wake(a);
}

static cJSON *capabilities(ma_agent *a) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(c, "gpus", cJSON_Duplicate(a->hw.gpus, 1));
    cJSON_AddItemToObject(c, "models", ma_backends_models(a));
    cJSON_AddItemToObject(c, "job_types", ma_backends_job_types(a));
    if (a->cfg.region[0]) cJSON_AddStringToObject(c, "region", a->cfg.region);
    return c;
}

static int key_text_ok(const char *k) {
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n >= AITBC_API_KEY_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] <= ' ' || k[i] > '~') return 0;
    return 1;
}

/* A 2xx registration answer: keep the key. 0, or -1 when the answer is unusable. */
static int accept_answer(ma_agent *a, const ma_resp *r) {
    const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->json, "api_key"));
    const char *addr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->json, "address"));
    int64_t hb = 0;
    if (!key_text_ok(key)) {
        a->api->log(a->ctx, AITBC_LOG_WARN, "registration answer has no usable api_key");
        return -1;
    }
    if (addr && strcmp(addr, a->address) != 0)
        a->api->log(a->ctx, AITBC_LOG_WARN, "coordinator names address %.48s; ours is %s", addr,
                    a->address);
    aitbc_json_int(cJSON_GetObjectItemCaseSensitive(r->json, "heartbeat_interval_s"), &hb);
    ma_identity_save_apikey(a, key); /* a failure is logged; the key still works in memory */
    pthread_mutex_lock(&a->mu);
    snprintf(a->api_key, sizeof a->api_key, "%s", key);
    a->registered = 1;
    if (hb > 0) a->heartbeat_s = hb > 300 ? 300 : hb;
    pthread_mutex_unlock(&a->mu);
    a->api->log(a->ctx, AITBC_LOG_INFO, "registered as %s with %s (%s)", a->address,
                a->cfg.coordinator_url, r->status == 201 ? "new miner" : "known miner");
    return 0;
}

int64_t ma_register(ma_agent *a, ma_http *h) {
    cJSON *caps = capabilities(a);
    int64_t ts = a->api->now_ms() / 1000, wait = -1;
    if (ts <= a->last_register_ts) ts = a->last_register_ts + 1;
    for (int i = 0; i < TIMESTAMP_TRIES; i++, ts++) {
        char *body = ma_wire_register_body(a, ts, caps);
        ma_resp r;
        ma_http_post(h, "/v1/miners/register",
                     a->cfg.enrolment_token[0] ? a->cfg.enrolment_token : NULL, body,
                     (int64_t)a->cfg.request_timeout_s * 1000, &a->quit, &r);
        free(body);
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(r.json, "error");
        const char *field = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "field"));
        int stale_ts = r.status == 400 && strcmp(ma_resp_code(&r), "invalid_signature") == 0 &&
                       field && strcmp(field, "timestamp") == 0;
        if ((r.status == 200 || r.status == 201) && accept_answer(a, &r) == 0) {
            a->last_register_ts = ts;
            wait = 0;
        } else if (r.status == 401) {
            a->api->log(a->ctx, AITBC_LOG_ERROR,
                        "registration refused (401): the coordinator wants an enrolment token; "
                        "set enrolment_token to the operator's token");
        } else if (!stale_ts) {
            a->api->log(a->ctx, ma_trouble_level(a), "registration with %s failed: %ld %s%s",
                        a->cfg.coordinator_url, r.status, r.status ? ma_resp_code(&r) : "",
                        r.status ? "" : r.error);
            if (r.retry_after_s > 0) wait = r.retry_after_s * 1000;
        }
        ma_resp_free(&r);
        /* A stale timestamp means an earlier run registered in this second: take the next one. */
        if (!stale_ts) break;
    }
    cJSON_Delete(caps);
    return wait;
}
