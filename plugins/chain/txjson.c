/* Rows → API JSON for transactions and blocks (see txjson.h). */
#include "txjson.h"

#include <stdio.h>

static void add_text_or_null(cJSON *o, const char *key, const char *v) {
    if (v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_int_or_null(const aitbc_host_api *api, aitbc_stmt *s, int col, cJSON *o,
                            const char *key) {
    if (api->col_is_null(s, col))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, (double)api->col_int64(s, col));
}

static void add_amount(cJSON *o, const char *key, int64_t units, int decimals) {
    char buf[AITBC_MONEY_MAX];
    if (decimals < 0 || aitbc_money_format(units, decimals, buf) < 0)
        snprintf(buf, sizeof buf, "%lld", (long long)units);
    cJSON_AddStringToObject(o, key, buf);
}

cJSON *chain_tx_json(const aitbc_host_api *api, aitbc_stmt *s, chain_decimals_fn dec, void *user) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    const char *asset = api->col_text(s, 6);
    int decimals = asset && dec ? dec(user, asset) : -1;
    char ts[AITBC_TIME_MAX];
    aitbc_time_format(api->col_int64(s, 10), ts);
    add_text_or_null(o, "hash", api->col_text(s, 0));
    add_int_or_null(api, s, 1, o, "block_height");
    add_int_or_null(api, s, 2, o, "index");
    add_text_or_null(o, "type", api->col_text(s, 3));
    add_text_or_null(o, "from", api->col_text(s, 4));
    add_text_or_null(o, "to", api->col_text(s, 5));
    add_text_or_null(o, "asset", asset);
    add_amount(o, "amount", api->col_int64(s, 7), decimals);
    add_amount(o, "fee", api->col_int64(s, 8), decimals);
    add_text_or_null(o, "ref", api->col_text(s, 9));
    cJSON_AddStringToObject(o, "timestamp", ts);
    return o;
}

cJSON *chain_block_to_json(const chain_block *b) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char ts[AITBC_TIME_MAX];
    aitbc_time_format(b->ts_ms, ts);
    cJSON_AddNumberToObject(o, "height", (double)b->height);
    cJSON_AddStringToObject(o, "hash", b->hash);
    cJSON_AddStringToObject(o, "parent_hash", b->parent_hash);
    cJSON_AddStringToObject(o, "timestamp", ts);
    cJSON_AddNumberToObject(o, "tx_count", (double)b->tx_count);
    cJSON_AddStringToObject(o, "merkle_root", b->merkle_root);
    cJSON_AddStringToObject(o, "state_root", b->state_root);
    cJSON_AddStringToObject(o, "proposer", b->proposer);
    cJSON_AddStringToObject(o, "signature", b->signature);
    return o;
}

cJSON *chain_block_json(const aitbc_host_api *api, aitbc_stmt *s) {
    chain_block b;
    const char *text;
    b.height = api->col_int64(s, 0);
    snprintf(b.hash, sizeof b.hash, "%s", (text = api->col_text(s, 1)) ? text : "");
    snprintf(b.parent_hash, sizeof b.parent_hash, "%s", (text = api->col_text(s, 2)) ? text : "");
    b.ts_ms = api->col_int64(s, 3);
    snprintf(b.merkle_root, sizeof b.merkle_root, "%s", (text = api->col_text(s, 4)) ? text : "");
    snprintf(b.state_root, sizeof b.state_root, "%s", (text = api->col_text(s, 5)) ? text : "");
    snprintf(b.proposer, sizeof b.proposer, "%s", (text = api->col_text(s, 6)) ? text : "");
    snprintf(b.signature, sizeof b.signature, "%s", (text = api->col_text(s, 7)) ? text : "");
    b.tx_count = api->col_int64(s, 8);
    return chain_block_to_json(&b);
}
