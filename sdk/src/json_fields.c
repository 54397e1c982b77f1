/* Typed access to request JSON and small builders for responses. */
#include "aitbc/json.h"
#include "aitbc/errors.h"
#include "aitbc/money.h"

#include <math.h>
#include <string.h>

/* 2^53: beyond it a JSON number no longer names one integer exactly. */
#define JSON_EXACT_INT_LIMIT 9007199254740992.0

int aitbc_json_int(const cJSON *item, int64_t *out) {
    if (!cJSON_IsNumber(item)) return AITBC_EINVAL;
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || fabs(v) > JSON_EXACT_INT_LIMIT) return AITBC_EINVAL;
    *out = (int64_t)v;
    return 0;
}

int64_t aitbc_cfg_i64(const cJSON *cfg, const char *key) {
    int64_t v = 0;
    return aitbc_json_int(cJSON_GetObjectItemCaseSensitive(cfg, key), &v) == 0 ? v : 0;
}

int aitbc_cfg_bool(const cJSON *cfg, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, key));
}

int aitbc_cfg_int(const cJSON *cfg, const char *key, int64_t def, int64_t lo, int64_t hi,
                  int64_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, key);
    *out = def;
    if (!it) return 0;
    if (aitbc_json_int(it, out) != 0 || *out < lo || *out > hi) return AITBC_EINVAL;
    return 0;
}

int aitbc_cfg_ints(const cJSON *cfg, const aitbc_cfg_int_spec *specs, size_t n, int64_t *out) {
    for (size_t i = 0; i < n; i++)
        if (aitbc_cfg_int(cfg, specs[i].key, specs[i].def, specs[i].lo, specs[i].hi, &out[i]) != 0)
            return (int)i;
    return -1;
}

const char *aitbc_json_unknown_key(const cJSON *obj, const char *const *allowed) {
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
        int known = 0;
        for (const char *const *a = allowed; *a && !known; a++)
            known = c->string && strcmp(c->string, *a) == 0;
        if (!known) return c->string ? c->string : "";
    }
    return NULL;
}

cJSON *aitbc_json_add_str(cJSON *obj, const char *key, const char *text) {
    if (text)
        cJSON_AddStringToObject(obj, key, text);
    else
        cJSON_AddNullToObject(obj, key);
    return obj;
}

cJSON *aitbc_json_add_i64(cJSON *obj, const char *key, int64_t v) {
    cJSON_AddNumberToObject(obj, key, (double)v);
    return obj;
}

cJSON *aitbc_json_add_money(cJSON *obj, const char *key, int64_t units, int decimals) {
    char text[AITBC_MONEY_MAX];
    if (aitbc_money_format(units, decimals, text) < 0) return aitbc_json_add_str(obj, key, NULL);
    return aitbc_json_add_str(obj, key, text);
}
