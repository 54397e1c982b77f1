/* What the agent says to the coordinator and how it reads the answers: the signed registration,
 * completion bodies (result canonicalised, hashed and signed exactly as the receipt will cover
 * it), the heartbeat/poll answer read as hostile input, and the retry backoff. */
#include "miner_agent.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_JOBS_MAX 1024
#define ERROR_MESSAGE_MAX 1024

int ma_job_id_ok(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= AITBC_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* One AssignedJob. 0 when it names a usable job id (payload may still be refused), else -1. */
static int parse_job(const cJSON *o, ma_assigned *j) {
    memset(j, 0, sizeof *j);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "job_id"));
    if (!cJSON_IsObject(o) || !ma_job_id_ok(id)) return -1;
    snprintf(j->job_id, sizeof j->job_id, "%s", id);
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(o, "attempt"), &j->attempt) != 0 ||
        j->attempt < 1)
        return -1; /* a completion needs the attempt: without it nothing can be reported */
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(o, "payload");
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "type"));
    if (!cJSON_IsObject(payload) || !type || !type[0] || strlen(type) >= sizeof j->type) {
        j->error = "payload is not an object with a job type";
        return 0;
    }
    snprintf(j->type, sizeof j->type, "%s", type);
    j->payload = cJSON_Duplicate(payload, 1);
    if (!j->payload) j->error = "out of memory";
    return 0;
}

int ma_wire_parse_answer(const cJSON *json, ma_answer *out) {
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(json)) return AITBC_EINVAL;
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(json, "jobs");
    const cJSON *cancel = cJSON_GetObjectItemCaseSensitive(json, "cancel"), *it;
    int nj = cJSON_IsArray(jobs) ? cJSON_GetArraySize(jobs) : 0;
    int nc = cJSON_IsArray(cancel) ? cJSON_GetArraySize(cancel) : 0;
    nj = nj > ANSWER_JOBS_MAX ? ANSWER_JOBS_MAX : nj;
    nc = nc > ANSWER_JOBS_MAX ? ANSWER_JOBS_MAX : nc;
    out->jobs = nj ? calloc((size_t)nj, sizeof *out->jobs) : NULL;
    out->cancel = nc ? calloc((size_t)nc, sizeof *out->cancel) : NULL;
    if ((nj && !out->jobs) || (nc && !out->cancel)) {
        ma_answer_free(out);
        return AITBC_ENOMEM;
    }
    const cJSON *job_list = nj ? jobs : NULL, *cancel_list = nc ? cancel : NULL;
    cJSON_ArrayForEach(it, job_list) {
        if ((int)out->njobs == nj) break;
        if (parse_job(it, &out->jobs[out->njobs]) == 0) out->njobs++;
    }
    cJSON_ArrayForEach(it, cancel_list) {
        if ((int)out->ncancel == nc) break;
        if (ma_job_id_ok(cJSON_GetStringValue(it)))
            snprintf(out->cancel[out->ncancel++], AITBC_ID_MAX, "%s", it->valuestring);
    }
    int64_t next = 0;
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(json, "next_heartbeat_s"), &next) == 0 &&
        next > 0)
        out->next_heartbeat_s = next;
    return 0;
}

void ma_answer_free(ma_answer *ans) {
    for (size_t i = 0; i < ans->njobs; i++)
        cJSON_Delete(ans->jobs[i].payload);
    free(ans->jobs);
    free(ans->cancel);
    memset(ans, 0, sizeof *ans);
}

char *ma_wire_register_body(const ma_agent *a, int64_t ts, const cJSON *caps) {
    char text[160], sig[88];
    if (jc_register_text(a->key.pk_hex, ts, text, sizeof text) < 0) return NULL;
    ma_sign(a, text, sig);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "public_key", a->key.pk_hex);
    aitbc_json_add_i64(b, "timestamp", ts);
    cJSON_AddStringToObject(b, "signature", sig);
    cJSON_AddItemToObject(b, "capabilities", cJSON_Duplicate(caps, 1));
    aitbc_json_add_i64(b, "concurrency", a->cfg.concurrency);
    cJSON_AddStringToObject(b, "unit_price", a->cfg.unit_price);
    cJSON_AddStringToObject(b, "unit_type", a->cfg.unit_type);
    char *text_out = aitbc_json_print(b);
    cJSON_Delete(b);
    return text_out;
}

char *ma_wire_result_body(const ma_agent *a, const char *job_id, int64_t attempt,
                          const cJSON *result, int64_t units) {
    /* The result goes out as its canonical text, so the coordinator hashes the very bytes the
     * signature covers. */
    char *canon = aitbc_json_canonical(result);
    unsigned char digest[crypto_hash_sha256_BYTES];
    char sha[65], text[256], sig[88];
    if (!canon) return NULL;
    crypto_hash_sha256(digest, (const unsigned char *)canon, strlen(canon));
    aitbc_hex_encode(digest, sizeof digest, sha);
    if (jc_result_text(job_id, attempt, sha, units, text, sizeof text) < 0) {
        free(canon);
        return NULL;
    }
    ma_sign(a, text, sig);
    cJSON *b = cJSON_CreateObject();
    aitbc_json_add_i64(b, "attempt", attempt);
    cJSON_AddRawToObject(b, "result", canon);
    aitbc_json_add_i64(b, "units", units);
    cJSON_AddStringToObject(b, "miner_signature", sig);
    char *out = aitbc_json_print(b);
    cJSON_Delete(b);
    free(canon);
    return out;
}

char *ma_wire_error_body(int64_t attempt, const char *code, const char *message, int retryable) {
    char msg[ERROR_MESSAGE_MAX + 1];
    snprintf(msg, sizeof msg, "%s", message ? message : "");
    /* Never cut a UTF-8 sequence in half: the coordinator refuses invalid UTF-8. */
    size_t n = strlen(msg);
    while (n > 0 && !aitbc_utf8_valid(msg, n))
        msg[--n] = '\0';
    cJSON *b = cJSON_CreateObject(), *e = cJSON_CreateObject();
    aitbc_json_add_i64(b, "attempt", attempt);
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddItemToObject(b, "error", e);
    cJSON_AddBoolToObject(b, "retryable", retryable != 0);
    char *out = aitbc_json_print(b);
    cJSON_Delete(b);
    return out;
}

int64_t ma_backoff_ms(int n, int64_t cap_ms) {
    int64_t d = 250;
    for (int i = 0; i < n && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms) d = cap_ms;
    int64_t half = d / 2;
    return half + (int64_t)randombytes_uniform((uint32_t)(d - half + 1));
}
