/* POST /v1/miners/register: proof of key possession (Ed25519 over "aitbc-register\n{pk}\n{ts}",
 * ts within ±300 s and, for a known key, newer than the last registration so a captured request
 * cannot be replayed), capability validation, and the miner API key from auth@1 — a repeat
 * rotates it (revoke_owner, then create_key) in the same transaction as the registry row. */
#include "miner.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MN_SKEW_S 300

typedef struct mn_reg {
    const char *pk, *sig;
    int64_t ts, concurrency, unit_price;
    const char *unit_type;
    const cJSON *caps;
} mn_reg;

static int bad(aitbc_request *req, const char *field, const char *msg) {
    g_miner->api->respond_error(req, 400, "invalid_argument", field, "%s", msg);
    return -1;
}

static int str_ok(const cJSON *it, size_t max) {
    return cJSON_IsString(it) && it->valuestring[0] && strlen(it->valuestring) <= max;
}

static int str_array_ok(const cJSON *arr, int max_items, size_t max_len) {
    const cJSON *it;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > max_items) return 0;
    cJSON_ArrayForEach(it, arr) if (!str_ok(it, max_len)) return 0;
    return 1;
}

static int check_caps(aitbc_request *req, const cJSON *c) {
    static const char *const allowed[] = {"gpus", "models", "job_types", "region", NULL};
    static const char *const gpu_keys[] = {"name", "memory_mb", NULL};
    if (!cJSON_IsObject(c)) return bad(req, "capabilities", "must be an object");
    const char *u = aitbc_json_unknown_key(c, allowed);
    if (u) return bad(req, "capabilities", "unknown field in capabilities");
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(c, "gpus"), *g;
    if (gpus && (!cJSON_IsArray(gpus) || cJSON_GetArraySize(gpus) > 64))
        return bad(req, "capabilities.gpus", "must be an array of at most 64 GPUs");
    cJSON_ArrayForEach(g, gpus) {
        int64_t mb;
        if (!cJSON_IsObject(g) || aitbc_json_unknown_key(g, gpu_keys) ||
            !str_ok(cJSON_GetObjectItemCaseSensitive(g, "name"), 128) ||
            aitbc_json_int(cJSON_GetObjectItemCaseSensitive(g, "memory_mb"), &mb) != 0 || mb < 0 ||
            mb > 100000000)
            return bad(req, "capabilities.gpus", "each GPU is {name: string, memory_mb: integer}");
    }
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(c, "models");
    if (models && !str_array_ok(models, 256, 128))
        return bad(req, "capabilities.models", "must be an array of model names");
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(c, "job_types");
    if (!types || !str_array_ok(types, 64, JC_TYPE_MAX - 1) || cJSON_GetArraySize(types) == 0)
        return bad(req, "capabilities.job_types", "must be a non-empty array of job types");
    const cJSON *region = cJSON_GetObjectItemCaseSensitive(c, "region");
    if (region && !cJSON_IsNull(region) && !str_ok(region, 64))
        return bad(req, "capabilities.region", "must be a string of 1..64 characters");
    return 0;
}

static int hex64_ok(const char *s) {
    if (!s || strlen(s) != 64) return 0;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static int parse_reg(aitbc_request *req, const cJSON *b, mn_reg *r) {
    static const char *const allowed[] = {"public_key",  "timestamp",  "signature", "capabilities",
                                          "concurrency", "unit_price", "unit_type", NULL};
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(b)) return bad(req, NULL, "body must be a JSON object");
    const char *u = aitbc_json_unknown_key(b, allowed);
    if (u) return bad(req, u, "unknown field");
    r->pk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "public_key"));
    if (!hex64_ok(r->pk))
        return bad(req, "public_key", "must be 64 lowercase hex (Ed25519 public key)");
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(b, "timestamp"), &r->ts) != 0)
        return bad(req, "timestamp", "must be integer unix seconds");
    r->sig = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "signature"));
    if (!r->sig || strlen(r->sig) > 128)
        return bad(req, "signature", "must be a base64url Ed25519 signature");
    r->caps = cJSON_GetObjectItemCaseSensitive(b, "capabilities");
    if (check_caps(req, r->caps) != 0) return -1;
    r->concurrency = 1;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(b, "concurrency");
    if (it &&
        (aitbc_json_int(it, &r->concurrency) != 0 || r->concurrency < 1 || r->concurrency > 256))
        return bad(req, "concurrency", "must be an integer 1..256");
    it = cJSON_GetObjectItemCaseSensitive(b, "unit_price");
    if (it && (!cJSON_IsString(it) ||
               aitbc_money_parse(it->valuestring, JC_AIT_DECIMALS, &r->unit_price) != 0))
        return bad(req, "unit_price", "must be a decimal string with at most 6 decimals");
    it = cJSON_GetObjectItemCaseSensitive(b, "unit_type");
    if (it && !str_ok(it, 32)) return bad(req, "unit_type", "must be a string of 1..32 characters");
    r->unit_type = it ? it->valuestring : "job";
    return 0;
}

/* Fixed-window limit per remote address; 0 = allowed, else seconds to wait. */
static int rate_check(miner_state *ms, const char *ip) {
    int64_t now = ms->api->now_ms(), retry = 0;
    unsigned h = 5381;
    for (const char *p = ip ? ip : ""; *p; p++)
        h = h * 33 + (unsigned char)*p;
    pthread_mutex_lock(&ms->rate_mu);
    mn_rate *r = &ms->rates[h % MN_RATE_SLOTS];
    if (strcmp(r->ip, ip ? ip : "") != 0 || now - r->window_start_ms >= 60000) {
        snprintf(r->ip, sizeof r->ip, "%s", ip ? ip : "");
        r->window_start_ms = now;
        r->count = 0;
    }
    if (++r->count > ms->rate_per_min) retry = (60000 - (now - r->window_start_ms)) / 1000 + 1;
    pthread_mutex_unlock(&ms->rate_mu);
    return (int)retry;
}

static int enrolled(miner_state *ms, aitbc_request *req) {
    if (ms->open_registration) return 1;
    const char *k = ms->api->req_header(req, "X-Api-Key");
    size_t n = strlen(ms->enrolment_token);
    return k && n && strlen(k) == n && sodium_memcmp(k, ms->enrolment_token, n) == 0;
}

/* Registry row + key rotation in one transaction. 1 new, 0 re-registered, <0 error. */
static int store_reg(miner_state *ms, const mn_reg *r, const char *address, char *api_key) {
    const aitbc_host_api *api = ms->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    mn_row row = {0};
    int rc = mn_load(ms, t, address, &row), known = rc == 1;
    if (rc >= 0 && known && r->ts <= row.last_register_ts) rc = AITBC_ECONFLICT;
    if (rc >= 0 && !known) {
        memset(&row, 0, sizeof row);
        snprintf(row.address, sizeof row.address, "%s", address);
        row.registered_ms = api->now_ms();
    }
    char key_id[48], owner[48];
    if (rc >= 0 && known) {
        rc = ms->auth->revoke_owner(ms->auth->self, t, address, AITBC_ROLE_MINER);
        rc = rc == AITBC_ENOTFOUND ? 0 : rc;
    }
    if (rc >= 0)
        rc = ms->auth->create_key(ms->auth->self, t, AITBC_ROLE_MINER, "miner", address, api_key,
                                  key_id, owner);
    if (rc >= 0) rc = ms->ledger->ensure_account(ms->ledger->self, t, address);
    if (rc >= 0) {
        snprintf(row.public_key, sizeof row.public_key, "%s", r->pk);
        snprintf(row.status, sizeof row.status, "ONLINE");
        snprintf(row.unit_type, sizeof row.unit_type, "%s", r->unit_type);
        cJSON_Delete(row.capabilities);
        row.capabilities = cJSON_Duplicate(r->caps, 1);
        row.concurrency = r->concurrency;
        row.unit_price = r->unit_price;
        row.last_heartbeat_ms = api->now_ms();
        row.last_register_ts = r->ts;
        rc = mn_upsert(ms, t, &row);
        if (rc >= 0) rc = aitbc_gen_bump(api, t, MN_GEN_TABLE, MN_GEN_REGISTRY);
        if (rc >= 0) rc = mn_live_put(ms, &row);
    }
    mn_row_free(&row);
    if (rc >= 0)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    return rc < 0 ? rc : !known;
}

/* The auth backend cannot issue keys (auth-static reads them from the config): registration
 * cannot work on this node, which is the operator's to fix, not the miner's. */
static void not_supported(miner_state *ms, aitbc_request *req) {
    ms->api->log(ms->ctx, AITBC_LOG_WARN,
                 "miner registration refused: the auth backend cannot create keys (auth-static "
                 "keys come from the config); load auth-apikey to let miners register");
    ms->api->respond_error(req, 501, "not_supported", NULL,
                           "This node's auth backend cannot issue miner keys.");
}

void mn_h_register(aitbc_request *req, void *user) {
    miner_state *ms = user;
    const aitbc_host_api *api = ms->api;
    if (!enrolled(ms, req)) {
        api->respond_error(req, 401, "unauthenticated", NULL,
                           "Registration needs the operator's enrolment token in X-Api-Key.");
        return;
    }
    int wait = rate_check(ms, api->req_remote(req));
    if (wait > 0) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", wait);
        api->resp_header(req, "Retry-After", buf);
        api->respond_error(req, 429, "rate_limited", NULL, "Too many registrations; retry later.");
        return;
    }
    mn_reg r;
    if (parse_reg(req, api->req_json(req), &r) != 0) return;
    int64_t now_s = api->now_ms() / 1000;
    if (r.ts < now_s - MN_SKEW_S || r.ts > now_s + MN_SKEW_S) {
        api->respond_error(req, 400, "invalid_signature", "timestamp",
                           "timestamp is more than 300 s away from the server clock");
        return;
    }
    char text[160];
    jc_register_text(r.pk, r.ts, text, sizeof text);
    if (aitbc_ed25519_verify_b64(r.pk, r.sig, text, strlen(text)) != 0) {
        api->respond_error(req, 400, "invalid_signature", "signature",
                           "signature does not verify over aitbc-register");
        return;
    }
    unsigned char pk[32];
    char address[48], api_key[AITBC_API_KEY_MAX];
    aitbc_hex_decode(r.pk, pk, 32);
    aitbc_address_from_pubkey(pk, address);
    int rc = store_reg(ms, &r, address, api_key);
    if (rc < 0) {
        if (rc == AITBC_ECONFLICT)
            api->respond_error(req, 400, "invalid_signature", "timestamp",
                               "a registration at least this recent was already used");
        else if (rc == AITBC_EBUSY)
            api->respond_error(req, 503, "unavailable", NULL, "The database is busy; retry.");
        else if (rc == AITBC_EUNAVAIL)
            not_supported(ms, req);
        else
            api->respond_error(req, 500, "internal", NULL, "Internal error.");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "address", address);
    cJSON_AddStringToObject(o, "api_key", api_key);
    aitbc_json_add_i64(o, "heartbeat_interval_s", ms->heartbeat_s);
    aitbc_json_add_i64(o, "lease_s", ms->lease_s);
    sodium_memzero(api_key, sizeof api_key);
    api->log(ms->ctx, AITBC_LOG_INFO, "miner %s %s", address,
             rc == 1 ? "registered" : "re-registered");
    api->respond_json(req, rc == 1 ? 201 : 200, o);
}
