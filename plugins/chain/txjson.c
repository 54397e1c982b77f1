/* Rows → API JSON for transactions and blocks (see txjson.h). */
#include "txjson.h"

#include <stdio.h>

static void add_text_or_null(cJSON *o, const char *key, const char *v) {
    if (v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_int_or_null(cJSON *o, const char *key, int64_t v) {
    if (v < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, (double)v);
}

static void add_amount(cJSON *o, const char *key, int64_t units, int decimals) {
    char buf[AITBC_MONEY_MAX];
    if (decimals < 0 || aitbc_money_format(units, decimals, buf) < 0)
        snprintf(buf, sizeof buf, "%lld", (long long)units);
    cJSON_AddStringToObject(o, key, buf);
}

/* The transaction object; text fields may be NULL (JSON null), block_height/index < 0 = null. */
typedef struct tx_fields {
    const char *hash, *type, *from, *to, *asset, *ref;
    int64_t block_height, index, amount, fee, ts_ms;
} tx_fields;

static cJSON *tx_object(const tx_fields *f, int decimals) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char ts[AITBC_TIME_MAX];
    aitbc_time_format(f->ts_ms, ts);
    add_text_or_null(o, "hash", f->hash);
    add_int_or_null(o, "block_height", f->block_height);
    add_int_or_null(o, "index", f->index);
    add_text_or_null(o, "type", f->type);
    add_text_or_null(o, "from", f->from);
    add_text_or_null(o, "to", f->to);
    add_text_or_null(o, "asset", f->asset);
    add_amount(o, "amount", f->amount, decimals);
    add_amount(o, "fee", f->fee, decimals);
    add_text_or_null(o, "ref", f->ref);
    cJSON_AddStringToObject(o, "timestamp", ts);
    return o;
}

static int64_t col_or_minus1(const aitbc_host_api *api, aitbc_stmt *s, int col) {
    return api->col_is_null(s, col) ? -1 : api->col_int64(s, col);
}

cJSON *chain_tx_json(const aitbc_host_api *api, aitbc_stmt *s, chain_decimals_fn dec, void *user) {
    tx_fields f = {.hash = api->col_text(s, 0),
                   .block_height = col_or_minus1(api, s, 1),
                   .index = col_or_minus1(api, s, 2),
                   .type = api->col_text(s, 3),
                   .from = api->col_text(s, 4),
                   .to = api->col_text(s, 5),
                   .asset = api->col_text(s, 6),
                   .amount = api->col_int64(s, 7),
                   .fee = api->col_int64(s, 8),
                   .ref = api->col_text(s, 9),
                   .ts_ms = api->col_int64(s, 10)};
    return tx_object(&f, f.asset && dec ? dec(user, f.asset) : -1);
}

cJSON *chain_tx_to_json(const chain_tx *tx, const char *hash, int decimals) {
    tx_fields f = {.hash = hash,
                   .block_height = -1,
                   .index = -1,
                   .type = tx->type,
                   .from = tx->from[0] ? tx->from : NULL,
                   .to = tx->to[0] ? tx->to : NULL,
                   .asset = tx->asset,
                   .amount = tx->amount,
                   .fee = tx->fee,
                   .ref = tx->ref,
                   .ts_ms = tx->ts_ms};
    return tx_object(&f, decimals);
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
