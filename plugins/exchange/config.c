/* Markets from the config: each one's assets (decimals from the ledger), grid and fees. A market
 * whose tick × step is not a whole number of quote base units is refused, because then some fill
 * could not settle exactly. Without `markets`, one AIT-BTC market with the documented defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exchange.h"

static const char *const k_market_keys[] = {"symbol",        "base",          "quote",
                                            "tick_size",     "step_size",     "min_notional",
                                            "maker_fee_bps", "taker_fee_bps", NULL};

/* Defaults of the one AIT-BTC market: 0.000001 BTC × 0.01 AIT = 1 satoshi per step. */
#define DEF_TICK "0.000001"
#define DEF_STEP "0.01"
#define DEF_MIN_NOTIONAL "0.0001"
#define DEF_MAKER_BPS 10
#define DEF_TAKER_BPS 20

static const char *str_or(const cJSON *o, const char *k, const char *def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return v ? cJSON_GetStringValue(v) : def; /* present but not a string → NULL → error */
}

static int bps_or(const cJSON *o, const char *k, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    int64_t x = def;
    if (v && aitbc_json_int(v, &x) != 0) return -1;
    if (x < 0 || x > 10000) return -1;
    *out = (int)x;
    return 0;
}

static int amount(const char *text, int dec, int64_t *out) {
    return text && aitbc_money_parse(text, dec, out) == 0 && *out > 0 ? 0 : -1;
}

static int fail(ex_state *es, size_t i, const char *what) {
    es->api->log(es->ctx, AITBC_LOG_ERROR, "exchange.markets[%zu]: %s", i, what);
    return AITBC_EINVAL;
}

static int parse_market(ex_state *es, size_t i, const cJSON *o, ex_market *m) {
    const aitbc_ledger_v1 *l = es->ledger;
    if (o && !cJSON_IsObject(o)) return fail(es, i, "must be an object");
    const char *unknown = o ? aitbc_json_unknown_key(o, k_market_keys) : NULL;
    if (unknown) return fail(es, i, "unknown key");
    const char *base = str_or(o, "base", "AIT"), *quote = str_or(o, "quote", "BTC");
    if (!base || !quote || strlen(base) >= EX_ASSET_MAX || strlen(quote) >= EX_ASSET_MAX)
        return fail(es, i, "base/quote must be asset symbols");
    if (strcmp(base, quote) == 0) return fail(es, i, "base and quote must differ");
    int bd = l->asset_decimals(l->self, base), qd = l->asset_decimals(l->self, quote);
    if (bd < 0 || qd < 0) return fail(es, i, "base/quote is not a ledger asset");
    snprintf(m->base, sizeof m->base, "%s", base);
    snprintf(m->quote, sizeof m->quote, "%s", quote);
    const char *sym = str_or(o, "symbol", NULL);
    char def_sym[EX_SYMBOL_MAX];
    snprintf(def_sym, sizeof def_sym, "%s-%s", base, quote);
    if (o && cJSON_GetObjectItemCaseSensitive(o, "symbol") && !sym)
        return fail(es, i, "symbol must be a string");
    sym = sym ? sym : def_sym;
    if (!sym[0] || strlen(sym) >= EX_SYMBOL_MAX ||
        strspn(sym, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789-_") != strlen(sym))
        return fail(es, i, "symbol must be 1-31 of A-Z 0-9 - _");
    snprintf(m->symbol, sizeof m->symbol, "%s", sym);
    snprintf(m->topic, sizeof m->topic, "orderbook:%s", sym);
    ex_params *p = &m->p;
    p->base_dec = bd;
    p->quote_dec = qd;
    p->base_scale = 1;
    for (int k = 0; k < bd; k++)
        p->base_scale *= 10;
    if (amount(str_or(o, "tick_size", DEF_TICK), qd, &p->tick) != 0)
        return fail(es, i, "tick_size must be a quote amount > 0");
    if (amount(str_or(o, "step_size", DEF_STEP), bd, &p->step) != 0)
        return fail(es, i, "step_size must be a base amount > 0");
    if (amount(str_or(o, "min_notional", DEF_MIN_NOTIONAL), qd, &p->min_notional) != 0)
        return fail(es, i, "min_notional must be a quote amount > 0");
    if (bps_or(o, "maker_fee_bps", DEF_MAKER_BPS, &p->maker_bps) != 0 ||
        bps_or(o, "taker_fee_bps", DEF_TAKER_BPS, &p->taker_bps) != 0)
        return fail(es, i, "fee bps must be integers 0..10000");
    if (!ex_grid_ok(p->tick, p->step, p->base_scale))
        return fail(es, i,
                    "tick_size × step_size is not a whole number of quote base units, so "
                    "fills could not settle exactly");
    return 0;
}

int ex_config_markets(ex_state *es) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(es->api->config(es->ctx), "markets");
    size_t n = arr ? (size_t)cJSON_GetArraySize(arr) : 1;
    if (n == 0) return fail(es, 0, "at least one market is needed");
    es->markets = calloc(n, sizeof *es->markets);
    if (!es->markets) return AITBC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        ex_market *m = &es->markets[i];
        int rc = parse_market(es, i, arr ? cJSON_GetArrayItem(arr, (int)i) : NULL, m);
        if (rc != 0) return rc;
        if (ex_find_market(es, m->symbol)) return fail(es, i, "duplicate symbol");
        pthread_mutex_init(&m->lock, NULL);
        m->es = es;
        es->nmarkets++;
    }
    return 0;
}

ex_market *ex_find_market(ex_state *es, const char *symbol) {
    for (size_t i = 0; symbol && i < es->nmarkets; i++)
        if (strcmp(es->markets[i].symbol, symbol) == 0) return &es->markets[i];
    return NULL;
}
