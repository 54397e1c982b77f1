/* hostile-coord: a coordinator stand-in for the miner agent's tests that answers registration,
 * heartbeats and polls with a script of broken answers (not JSON, wrong types, path-traversal
 * ids, unknown job types, too many jobs, a body over the agent's cap, deep nesting, invalid
 * UTF-8, 401, 429, 500) before a good job, and refuses that job's first completion with a 500.
 * It checks every miner signature it receives. GET /v1/hostile/stats tells the test what it saw. */
#include <aitbc/aitbc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs_core.h"

typedef struct hostile {
    const aitbc_host_api *api;
    pthread_mutex_t mu;
    int registrations, beats, good_deliveries;
    char public_key[65];
    cJSON *completions; /* job_id → "ok" | error code | "bad_signature" */
} hostile;

static hostile g_h = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void respond_text(aitbc_request *req, unsigned status, const char *text) {
    g_h.api->respond_raw(req, status, "application/json", text, strlen(text));
}

static void h_register(aitbc_request *req, void *user) {
    (void)user;
    const char *pk = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(g_h.api->req_json(req), "public_key"));
    pthread_mutex_lock(&g_h.mu);
    int n = g_h.registrations++;
    if (pk && strlen(pk) == 64) snprintf(g_h.public_key, sizeof g_h.public_key, "%s", pk);
    pthread_mutex_unlock(&g_h.mu);
    char long_key[400];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    char body[600];
    switch (n) {
    case 0:
        respond_text(req, 201, "this is not json");
        return;
    case 1:
        respond_text(req, 201, "{\"api_key\":5,\"address\":[]}");
        return;
    case 2:
        snprintf(body, sizeof body, "{\"api_key\":\"%s\"}", long_key);
        respond_text(req, 201, body);
        return;
    case 3:
        g_h.api->resp_header(req, "Retry-After", "1");
        g_h.api->respond_error(req, 429, "rate_limited", NULL, "slow down");
        return;
    default:
        break;
    }
    unsigned char raw[32];
    char address[48] = "ait1";
    if (pk && aitbc_hex_decode(pk, raw, 32) == 0) aitbc_address_from_pubkey(raw, address);
    snprintf(body, sizeof body,
             "{\"address\":\"%s\",\"api_key\":\"aitbc_miner_key_hostile%d_secret\","
             "\"heartbeat_interval_s\":1,\"lease_s\":60}",
             address, n);
    respond_text(req, 201, body);
}

/* n jobs of type test, as an answer. Caller frees. */
static char *many_jobs(int n) {
    size_t cap = (size_t)n * 128 + 64;
    char *b = malloc(cap);
    size_t off = (size_t)snprintf(b, cap, "{\"jobs\":[");
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(b + off, cap - off,
                                "%s{\"job_id\":\"job_many%d\",\"attempt\":1,\"payload\":{\"type\":"
                                "\"test\",\"ms\":200}}",
                                i ? "," : "", i);
    snprintf(b + off, cap - off, "],\"next_heartbeat_s\":1}");
    return b;
}

static void h_beat(aitbc_request *req, void *user) {
    (void)user;
    pthread_mutex_lock(&g_h.mu);
    int n = g_h.beats++;
    pthread_mutex_unlock(&g_h.mu);
    char *big;
    switch (n) {
    case 0:
        respond_text(req, 200, "garbage");
        return;
    case 1:
        respond_text(req, 200, "[]");
        return;
    case 2:
        respond_text(req, 200, "{\"jobs\":\"x\",\"cancel\":5,\"next_heartbeat_s\":-1}");
        return;
    case 3:
        respond_text(req, 200,
                     "{\"jobs\":[{\"job_id\":\"../../etc/passwd\",\"attempt\":1,\"payload\":{"
                     "\"type\":\"test\"}},{\"job_id\":\"job_bad\",\"attempt\":1,\"payload\":[]},"
                     "{\"job_id\":\"job_noattempt\",\"payload\":{\"type\":\"test\"}}],"
                     "\"cancel\":[\"../x\",7]}");
        return;
    case 4:
        respond_text(req, 200,
                     "{\"jobs\":[{\"job_id\":\"job_unknown\",\"attempt\":1,\"payload\":{\"type\":"
                     "\"nope\"}}]}");
        return;
    case 5: /* over the agent's cap for one slot: 1 MiB + 17 MiB */
        big = malloc((19u << 20) + 3);
        memset(big, ' ', 19u << 20);
        memcpy(big + (19u << 20), "{}", 3);
        g_h.api->respond_raw(req, 200, "application/json", big, (19u << 20) + 2);
        free(big);
        return;
    case 6:
        g_h.api->resp_header(req, "Retry-After", "junk");
        g_h.api->respond_error(req, 500, "internal", NULL, "oops");
        return;
    case 7:
        big = many_jobs(20);
        respond_text(req, 200, big);
        free(big);
        return;
    case 8:
        big = malloc(20002);
        memset(big, '[', 10000);
        memset(big + 10000, ']', 10000);
        big[20000] = '\0';
        respond_text(req, 200, big);
        free(big);
        return;
    case 9:
        respond_text(req, 200, "{\"jobs\":[],\"cancel\":[\"\xff\xfe\"]}");
        return;
    case 10:
        g_h.api->respond_error(req, 401, "unauthenticated", NULL, "who are you");
        return;
    case 11:
        respond_text(req, 200,
                     "{\"jobs\":[{\"job_id\":\"job_good\",\"attempt\":1,\"payload\":{\"type\":"
                     "\"test\",\"echo\":{\"b\":[1.5,\"\\u00e9\"],\"a\":true}}}],"
                     "\"next_heartbeat_s\":1e300}");
        return;
    default:
        respond_text(req, 200, "{\"jobs\":[],\"cancel\":[],\"next_heartbeat_s\":1}");
    }
}

/* "ok" when the completion's miner_signature verifies over its result, else "bad_signature". */
static const char *check_result(const cJSON *b, const char *job_id) {
    char sha[65], text[256];
    int64_t attempt, units;
    const char *sig = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "miner_signature"));
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(b, "attempt"), &attempt) != 0 ||
        aitbc_json_int(cJSON_GetObjectItemCaseSensitive(b, "units"), &units) != 0 ||
        aitbc_json_sha256_hex(cJSON_GetObjectItemCaseSensitive(b, "result"), sha) != 0 ||
        jc_result_text(job_id, attempt, sha, units, text, sizeof text) < 0)
        return "bad_signature";
    pthread_mutex_lock(&g_h.mu);
    int ok = aitbc_ed25519_verify_b64(g_h.public_key, sig, text, strlen(text)) == 0;
    pthread_mutex_unlock(&g_h.mu);
    return ok ? "ok" : "bad_signature";
}

static void h_complete(aitbc_request *req, void *user) {
    (void)user;
    const char *job_id = g_h.api->req_param(req, "job_id");
    const cJSON *b = g_h.api->req_json(req);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(b, "error");
    const char *what = err ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "code"))
                           : check_result(b, job_id);
    pthread_mutex_lock(&g_h.mu);
    int good = strcmp(job_id, "job_good") == 0, first = good && g_h.good_deliveries == 0;
    g_h.good_deliveries += good;
    cJSON_DeleteItemFromObjectCaseSensitive(g_h.completions, job_id);
    cJSON_AddStringToObject(g_h.completions, job_id, what ? what : "?");
    pthread_mutex_unlock(&g_h.mu);
    if (first) {
        g_h.api->respond_error(req, 500, "internal", NULL, "try again");
        return;
    }
    respond_text(req, 200, "{\"state\":\"COMPLETED\",\"receipt\":null}");
}

static void h_stats(aitbc_request *req, void *user) {
    (void)user;
    pthread_mutex_lock(&g_h.mu);
    cJSON *o = cJSON_CreateObject();
    aitbc_json_add_i64(o, "registrations", g_h.registrations);
    aitbc_json_add_i64(o, "beats", g_h.beats);
    aitbc_json_add_i64(o, "good_deliveries", g_h.good_deliveries);
    cJSON_AddItemToObject(o, "completions", cJSON_Duplicate(g_h.completions, 1));
    pthread_mutex_unlock(&g_h.mu);
    g_h.api->respond_json(req, 200, o);
}

static void h_not_found(aitbc_request *req, void *user) {
    (void)user;
    g_h.api->respond_error(req, 404, "not_found", NULL, "no progress here");
}

static aitbc_plugin_ctx *g_ctx;

static int hc_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    g_h.api = api;
    g_ctx = ctx;
    g_h.completions = cJSON_CreateObject();
    *state = &g_h;
    return 0;
}

static int hc_start(void *state) {
    (void)state;
    const aitbc_route routes[] = {
        {"POST", "/v1/miners/register", AITBC_ROLE_PUBLIC, AITBC_BODY_JSON, 0, h_register, NULL, 0,
         0},
        {"POST", "/v1/miners/{address}/heartbeat", AITBC_ROLE_PUBLIC, AITBC_BODY_JSON, 0, h_beat,
         NULL, 0, 0},
        {"POST", "/v1/miners/{address}/poll", AITBC_ROLE_PUBLIC, AITBC_BODY_JSON, 0, h_beat, NULL,
         0, 0},
        {"POST", "/v1/jobs/{job_id}/complete", AITBC_ROLE_PUBLIC, AITBC_BODY_JSON, 0, h_complete,
         NULL, 0, 0},
        {"POST", "/v1/jobs/{job_id}/progress", AITBC_ROLE_PUBLIC, AITBC_BODY_JSON, 0, h_not_found,
         NULL, 0, 0},
        {"GET", "/v1/hostile/stats", AITBC_ROLE_PUBLIC, AITBC_BODY_NONE, 0, h_stats, NULL, 0, 0},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (g_h.api->route(g_ctx, &routes[i]) != 0) return AITBC_EINVAL;
    return 0;
}

static void hc_stop(void *state) {
    (void)state;
}

static void hc_destroy(void *state) {
    (void)state;
    cJSON_Delete(g_h.completions);
    g_h.completions = NULL;
}

static const aitbc_plugin_desc hc_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "hostile-coord",
    .version = "1.0.0",
    .description = "test stand-in for a coordinator that answers the miner agent with garbage",
    .init = hc_init,
    .start = hc_start,
    .stop = hc_stop,
    .destroy = hc_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &hc_desc;
}
