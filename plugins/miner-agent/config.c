/* The miner agent's config section: types, numeric ranges and defaults are the host's (the
 * schema in miner_agent.c); URL shape, string lengths, money and the hardware override are
 * checked here. */
#include "miner_agent.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(ma_agent *a, const char *key, const char *why) {
    a->api->log(a->ctx, AITBC_LOG_ERROR, "config: %s %s", key, why);
    return AITBC_EINVAL;
}

/* String key of 1..cap-1 bytes, or the default when absent. */
static int get_str(ma_agent *a, const cJSON *s, const char *key, const char *def, char *out,
                   size_t cap) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(s, key);
    const char *v = it ? cJSON_GetStringValue(it) : def;
    if (!v || (it && !v[0]) || strlen(v) >= cap) {
        char why[64];
        snprintf(why, sizeof why, "must be a string of 1..%zu characters", cap - 1);
        return fail(a, key, why);
    }
    snprintf(out, cap, "%s", v);
    return 0;
}

static int url_ok(const char *u) {
    const char *rest = strncmp(u, "http://", 7) == 0    ? u + 7
                       : strncmp(u, "https://", 8) == 0 ? u + 8
                                                        : NULL;
    if (!rest || !*rest || *rest == '/') return 0;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#') return 0;
    return 1;
}

int ma_config_load(ma_agent *a, const cJSON *s) {
    ma_config *c = &a->cfg;
    int64_t price;
    if (get_str(a, s, "coordinator_url", NULL, c->coordinator_url, sizeof c->coordinator_url))
        return AITBC_EINVAL;
    size_t n = strlen(c->coordinator_url);
    while (n > 0 && c->coordinator_url[n - 1] == '/')
        c->coordinator_url[--n] = '\0';
    if (!url_ok(c->coordinator_url))
        return fail(a, "coordinator_url", "must be http://host[:port][/prefix] or https://…");
    c->concurrency = (int)aitbc_cfg_i64(s, "concurrency");
    c->drain_grace_s = (int)aitbc_cfg_i64(s, "drain_grace_s");
    c->poll_wait_s = (int)aitbc_cfg_i64(s, "poll_wait_s");
    c->job_timeout_s = (int)aitbc_cfg_i64(s, "job_timeout_s");
    c->request_timeout_s = (int)aitbc_cfg_i64(s, "request_timeout_s");
    c->progress_interval_ms = (int)aitbc_cfg_i64(s, "progress_interval_ms");
    c->backoff_max_ms = (int)aitbc_cfg_i64(s, "backoff_max_ms");
    if (get_str(a, s, "unit_price", NULL, c->unit_price, sizeof c->unit_price) ||
        get_str(a, s, "unit_type", NULL, c->unit_type, sizeof c->unit_type))
        return AITBC_EINVAL;
    if (aitbc_money_parse(c->unit_price, JC_AIT_DECIMALS, &price) != 0)
        return fail(a, "unit_price", "must be an AIT amount like \"0.01\" (at most 6 decimals)");
    if (cJSON_GetObjectItemCaseSensitive(s, "region") &&
        get_str(a, s, "region", NULL, c->region, sizeof c->region))
        return AITBC_EINVAL;
    if (cJSON_GetObjectItemCaseSensitive(s, "enrolment_token") &&
        get_str(a, s, "enrolment_token", NULL, c->enrolment_token, sizeof c->enrolment_token))
        return AITBC_EINVAL;
    const cJSON *hw = cJSON_GetObjectItemCaseSensitive(s, "hardware");
    if (hw) {
        char why[160];
        if (ma_hw_check_override(hw, why, sizeof why) != 0) return fail(a, "hardware", why);
        c->hardware = cJSON_Duplicate(hw, 1);
        if (!c->hardware) return AITBC_ENOMEM;
    }
    return 0;
}

void ma_config_free(ma_config *c) {
    cJSON_Delete(c->hardware);
    c->hardware = NULL;
}
