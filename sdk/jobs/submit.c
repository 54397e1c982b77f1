/* Validation of a POST /v1/jobs body: payload, constraints, ttl_seconds, max_price. Everything a
 * client sends is hostile: wrong types, unknown fields, overlong strings and bad money → 400
 * with the offending field named. */
#include "jobs_core.h"
#include <aitbc/errors.h>
#include <aitbc/json.h>
#include <aitbc/money.h>
#include <aitbc/util.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int jc_fail(aitbc_jobs_error *err, unsigned status, const char *code, const char *field,
            const char *fmt, ...) {
    if (!err) return -1;
    err->status = status;
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int bad(aitbc_jobs_error *err, const char *field, const char *msg) {
    return jc_fail(err, 400, "invalid_argument", field, "%s", msg);
}

/* A short printable string of 1..max bytes. */
static int short_text(const cJSON *it, size_t max) {
    if (!cJSON_IsString(it)) return 0;
    size_t n = strlen(it->valuestring);
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)it->valuestring[i] < 0x20) return 0;
    return 1;
}

static int type_ok(const char *t) {
    size_t n = strlen(t);
    if (n == 0 || n >= JC_TYPE_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int check_constraints(const cJSON *c, aitbc_jobs_error *err) {
    static const char *const allowed[] = {"models",         "min_vram_gb", "gpu",      "region",
                                          "max_unit_price", "miner",       "trade_id", NULL};
    if (!cJSON_IsObject(c)) return bad(err, "constraints", "must be an object");
    const char *unknown = aitbc_json_unknown_key(c, allowed);
    if (unknown) {
        char f[64];
        snprintf(f, sizeof f, "constraints.%s", unknown);
        return bad(err, f, "unknown field");
    }
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(c, "models");
    if (it) {
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > 32)
            return bad(err, "constraints.models", "must be an array of at most 32 model names");
        const cJSON *m;
        cJSON_ArrayForEach(m, it) if (!short_text(m, 128)) return bad(
            err, "constraints.models", "model names are strings of 1..128 characters");
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(c, "min_vram_gb"))) {
        int64_t v;
        if (aitbc_json_int(it, &v) != 0 || v < 1 || v > 100000)
            return bad(err, "constraints.min_vram_gb", "must be an integer 1..100000");
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(c, "gpu")) && !short_text(it, 128))
        return bad(err, "constraints.gpu", "must be a string of 1..128 characters");
    if ((it = cJSON_GetObjectItemCaseSensitive(c, "region")) && !short_text(it, 64))
        return bad(err, "constraints.region", "must be a string of 1..64 characters");
    if ((it = cJSON_GetObjectItemCaseSensitive(c, "trade_id")) && !short_text(it, 64))
        return bad(err, "constraints.trade_id", "must be a trade id");
    if ((it = cJSON_GetObjectItemCaseSensitive(c, "miner")) &&
        (!cJSON_IsString(it) || !aitbc_address_valid(it->valuestring)))
        return bad(err, "constraints.miner", "must be an address: ait1 + 40 lowercase hex");
    if ((it = cJSON_GetObjectItemCaseSensitive(c, "max_unit_price"))) {
        int64_t v;
        if (!cJSON_IsString(it) || aitbc_money_parse(it->valuestring, JC_AIT_DECIMALS, &v) != 0)
            return bad(err, "constraints.max_unit_price",
                       "must be a decimal string with at most 6 decimals");
    }
    return 0;
}

int jc_parse_submit(const cJSON *body, jc_submit *out, aitbc_jobs_error *err) {
    static const char *const allowed[] = {"payload", "constraints", "ttl_seconds", "max_price",
                                          NULL};
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(body)) return bad(err, NULL, "body must be a JSON object");
    const char *unknown = aitbc_json_unknown_key(body, allowed);
    if (unknown) return bad(err, unknown, "unknown field");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "payload");
    if (!cJSON_IsObject(p)) return bad(err, "payload", "payload is required and must be an object");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "type");
    if (!cJSON_IsString(t) || !type_ok(t->valuestring))
        return bad(err, "payload.type", "must be a job type: 1..64 of [a-z0-9_.-]");
    snprintf(out->job_type, sizeof out->job_type, "%s", t->valuestring);
    out->payload = p;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "constraints");
    if (c && !cJSON_IsNull(c)) {
        if (check_constraints(c, err) != 0) return -1;
        out->constraints = c;
    }
    out->ttl_s = JC_DEFAULT_TTL_S;
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(body, "ttl_seconds");
    if (ttl &&
        (aitbc_json_int(ttl, &out->ttl_s) != 0 || out->ttl_s < 1 || out->ttl_s > JC_MAX_TTL_S))
        return bad(err, "ttl_seconds", "must be an integer 1..86400");
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(body, "max_price");
    if (mp) {
        int rc = cJSON_IsString(mp)
                     ? aitbc_money_parse(mp->valuestring, JC_AIT_DECIMALS, &out->max_price)
                     : AITBC_EINVAL;
        if (rc != 0)
            return bad(err, "max_price",
                       rc == AITBC_EOVERFLOW ? "amount too large"
                                             : "must be a decimal string with at most 6 decimals");
    }
    return 0;
}
