/* Pure marketplace arithmetic and query parsing (see mkmath.h). Money is int64 base units; the
 * pro-rata product can exceed 64 bits, so it is formed in 128 bits and is exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <aitbc/errors.h>
#include <aitbc/json.h>
#include <aitbc/money.h>
#include "mkmath.h"

int64_t mk_hours_done(int64_t hours, int64_t hour_ms, int64_t elapsed_ms) {
    if (elapsed_ms <= 0 || hour_ms <= 0) return 0;
    int64_t k = elapsed_ms / hour_ms;
    return k < hours ? k : hours;
}

int64_t mk_prorata(int64_t total, int64_t duration_ms, int64_t elapsed_ms) {
    if (elapsed_ms <= 0 || duration_ms <= 0 || total <= 0) return 0;
    if (elapsed_ms >= duration_ms) return total;
    unsigned __int128 p = (unsigned __int128)(uint64_t)total * (uint64_t)elapsed_ms;
    return (int64_t)(p / (uint64_t)duration_ms);
}

void mk_terminate_split(int64_t total, int64_t released, int64_t duration_ms, int64_t elapsed_ms,
                        int64_t *pay, int64_t *refund) {
    int64_t share = mk_prorata(total, duration_ms, elapsed_ms);
    /* Hourly releases never run ahead of the pro-rata share, but stay safe if they did. */
    if (share < released) share = released;
    *pay = share - released;
    *refund = total - share;
}

int mk_text_ok(const char *s, size_t max) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || s[0] == ' ' || s[n - 1] == ' ') return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return 0;
    return 1;
}

/* Decimal 0..max without sign, spaces or leading zeros. */
static int parse_uint(const char *s, int64_t max, int64_t *out) {
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n || (n > 1 && s[0] == '0'))
        return AITBC_EINVAL;
    int64_t v = strtoll(s, NULL, 10);
    if (v > max) return AITBC_EINVAL;
    *out = v;
    return 0;
}

static int status_ok(const char *s) {
    return strcmp(s, "OPEN") == 0 || strcmp(s, "SOLD_OUT") == 0 || strcmp(s, "CANCELED") == 0 ||
           strcmp(s, "EXPIRED") == 0;
}

int mk_offer_query_parse(mk_query_get_fn get, void *user, mk_offer_query *q,
                         const char **bad_field) {
    memset(q, 0, sizeof *q);
    q->min_memory_gb = q->max_price = -1;
    const char *v;
#define BAD(f)                                                                                     \
    do {                                                                                           \
        *bad_field = f;                                                                            \
        return AITBC_EINVAL;                                                                       \
    } while (0)
    q->status = (v = get(user, "status")) ? v : "OPEN";
    if (!status_ok(q->status)) BAD("status");
    if ((q->gpu = get(user, "gpu")) && !mk_text_ok(q->gpu, MK_TEXT_MAX)) BAD("gpu");
    if ((q->region = get(user, "region")) && !mk_text_ok(q->region, MK_TEXT_MAX)) BAD("region");
    if ((q->model = get(user, "model")) && !mk_text_ok(q->model, MK_TEXT_MAX)) BAD("model");
    const char *mem = get(user, "min_memory_gb");
    if (mem && parse_uint(mem, MK_MAX_MEMORY_GB, &q->min_memory_gb) != 0) BAD("min_memory_gb");
    const char *price = get(user, "max_price");
    if (price && aitbc_money_parse(price, MK_DECIMALS, &q->max_price) != 0) BAD("max_price");
    const char *sort = get(user, "sort");
    if (sort && strcmp(sort, "price") != 0 && strcmp(sort, "created") != 0) BAD("sort");
    q->sort_price = sort && strcmp(sort, "price") == 0;
    if (aitbc_page_limit(get(user, "limit"), &q->limit) != 0) BAD("limit");
    /* The tag covers every filter as given (canonical forms, so "1.0" and "1" agree). */
    char memtxt[24] = "", pricetxt[24] = "";
    if (mem) snprintf(memtxt, sizeof memtxt, "%lld", (long long)q->min_memory_gb);
    if (price) snprintf(pricetxt, sizeof pricetxt, "%lld", (long long)q->max_price);
    const char *filters[] = {q->status,
                             q->gpu,
                             q->region,
                             q->model,
                             mem ? memtxt : NULL,
                             price ? pricetxt : NULL,
                             q->sort_price ? "price" : "created"};
    aitbc_cursor_tag("marketplace.offers", filters, sizeof filters / sizeof *filters, q->tag);
    const char *cur = get(user, "cursor");
    if (cur && cur[0]) {
        char tie[AITBC_CURSOR_TIE_MAX] = "";
        if (aitbc_cursor_decode(cur, q->tag, &q->after_key, tie) != 0 || q->after_key < 0)
            BAD("cursor");
        if (q->sort_price && parse_uint(tie, INT64_MAX / 2, &q->after_seq) != 0) BAD("cursor");
        q->has_cursor = 1;
    }
#undef BAD
    return 0;
}

int mk_offer_cursor(const mk_offer_query *q, int64_t price, int64_t seq,
                    char out[AITBC_CURSOR_MAX]) {
    if (!q->sort_price) return aitbc_cursor_encode(q->tag, seq, NULL, out);
    char tie[24];
    snprintf(tie, sizeof tie, "%lld", (long long)seq);
    return aitbc_cursor_encode(q->tag, price, tie, out);
}

static int name_has(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

static int has_string(const cJSON *arr, const char *s) {
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0) return 1;
    return 0;
}

const char *mk_offer_misfit(const cJSON *caps, const char *gpu_model, int64_t memory_gb,
                            int64_t gpu_count, const char *region, const char *models) {
    int64_t named = 0, big = 0;
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(caps, "gpus")) {
        int64_t mb = 0;
        if (!name_has(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "name")), gpu_model))
            continue;
        named++;
        if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(g, "memory_mb"), &mb) == 0 &&
            mb >= memory_gb * 1000)
            big++;
    }
    if (named == 0) return "gpu_model";
    if (big == 0) return "gpu_memory_gb";
    if (big < gpu_count) return "gpu_count";
    const char *have = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(caps, "region"));
    if (!have || strcmp(have, region) != 0) return "region";
    cJSON *want = models ? cJSON_Parse(models) : NULL;
    const cJSON *m;
    const char *bad = NULL;
    cJSON_ArrayForEach(m, want) if (!bad &&
                                    (!cJSON_IsString(m) ||
                                     !has_string(cJSON_GetObjectItemCaseSensitive(caps, "models"),
                                                 m->valuestring))) bad = "models";
    cJSON_Delete(want);
    return bad;
}
