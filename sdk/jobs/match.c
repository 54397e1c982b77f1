/* Matching a job to a miner (API.md constraints against advertised capabilities) and the money
 * of a completion. Pure functions: dispatch and pending_reason both rest on jc_match. */
#include "jobs_core.h"
#include <aitbc/errors.h>
#include <aitbc/json.h>
#include <aitbc/money.h>
#include <string.h>
#include <strings.h>

static int array_has(const cJSON *arr, const char *s) {
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0) return 1;
    return 0;
}

/* Case-insensitive substring: "a100" finds "NVIDIA A100-SXM4-80GB". */
static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return n == 0;
}

static int gpus_fit(const cJSON *gpus, int64_t min_vram_gb, const char *name) {
    const cJSON *g;
    cJSON_ArrayForEach(g, gpus) {
        int64_t mb = 0;
        const char *gname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "name"));
        if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(g, "memory_mb"), &mb) != 0) mb = 0;
        /* One GPU must satisfy both: a big card and a named card may be different cards. */
        if (min_vram_gb > 0 && mb < 1000 * min_vram_gb) continue;
        if (name && (!gname || !contains_ci(gname, name))) continue;
        return 1;
    }
    return 0;
}

int jc_match(const char *job_type, const cJSON *constraints, int64_t max_price,
             const aitbc_jobs_miner *m) {
    const cJSON *caps = m->capabilities;
    if (!array_has(cJSON_GetObjectItemCaseSensitive(caps, "job_types"), job_type))
        return JC_MATCH_NO;
    const cJSON *c = constraints;
    const char *want_miner = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "miner"));
    if (want_miner && strcmp(want_miner, m->address) != 0) return JC_MATCH_NO;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(c, "models"), *it;
    const cJSON *have = cJSON_GetObjectItemCaseSensitive(caps, "models");
    cJSON_ArrayForEach(it, models) if (!cJSON_IsString(it) ||
                                       !array_has(have, it->valuestring)) return JC_MATCH_NO;
    int64_t vram = 0;
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(c, "min_vram_gb"), &vram) != 0) vram = 0;
    const char *gpu = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "gpu"));
    if ((vram > 0 || gpu) && !gpus_fit(cJSON_GetObjectItemCaseSensitive(caps, "gpus"), vram, gpu))
        return JC_MATCH_NO;
    const char *region = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "region"));
    if (region) {
        const char *mr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(caps, "region"));
        if (!mr || strcmp(mr, region) != 0) return JC_MATCH_NO;
    }
    const char *mup = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "max_unit_price"));
    int64_t cap = 0;
    if (mup && aitbc_money_parse(mup, JC_AIT_DECIMALS, &cap) == 0 && m->unit_price > cap)
        return JC_MATCH_PRICE;
    /* A job that cannot pay for a single unit would make the miner work for nothing. */
    if (m->unit_price > max_price) return JC_MATCH_PRICE;
    return JC_MATCH_OK;
}

int jc_price(int64_t units, int64_t unit_price, int64_t max_price, int64_t fee_bps, jc_money *out) {
    if (units < 0 || unit_price < 0 || max_price < 0 || fee_bps < 0 || fee_bps > 10000)
        return AITBC_EINVAL;
    int64_t cost;
    if (aitbc_mul_i64(units, unit_price, &cost) != 0 || cost > max_price) cost = max_price;
    out->price = cost;
    /* floor(price × bps / 10000) without overflow: split price into 10000s and the rest. */
    out->fee = (cost / 10000) * fee_bps + (cost % 10000) * fee_bps / 10000;
    out->payout = cost - out->fee;
    out->refund = max_price - cost;
    return 0;
}
