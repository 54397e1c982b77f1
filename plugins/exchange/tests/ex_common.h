/* Helpers shared by the exchange integration tests: the host's config (auth-static keys with
 * addresses, the chain for real balances, the exchange), requests, and balance reads. */
#ifndef EX_COMMON_H
#define EX_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include <aitbc/json.h>

#define ADMIN "ait1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ALICE "ait1a11ce00000000000000000000000000000000000"
#define BOB "ait1b0b0000000000000000000000000000000000000"
#define CAROL "ait1ca70100000000000000000000000000000000000"
#define DAVE "ait1da7e000000000000000000000000000000000000" /* no ledger account */

static const char *k_plugins =
    "  auth-static: { keys: [ {key: \"k-admin\", role: admin, address: \"" ADMIN "\"},\n"
    "    {key: \"k-alice\", role: client, address: \"" ALICE "\"},\n"
    "    {key: \"k-bob\", role: client, address: \"" BOB "\"},\n"
    "    {key: \"k-carol\", role: client, address: \"" CAROL "\"},\n"
    "    {key: \"k-dave\", role: client, address: \"" DAVE "\"} ] }\n"
    "  chain: { block_interval_ms: 50, max_empty_interval_s: 0,\n"
    "    genesis: { accounts: [\"" ALICE "\", \"" BOB "\", \"" CAROL "\"] } }\n"
    "  explorer: {}\n"
    "  exchange: { markets: [ { symbol: AIT-BTC, base: AIT, quote: BTC, tick_size: \"0.000001\",\n"
    "    step_size: \"0.01\", min_notional: \"0.0001\", maker_fee_bps: 10, taker_fee_bps: 20 } ] "
    "}\n";

static th_host *H;

static inline const char *jstr(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* Request that must get a response; returns the status. */
static inline long req(const char *method, const char *path, const char *key, const char *body,
                       th_resp *r) {
    memset(r, 0, sizeof *r);
    if (th_req(H, method, path, key, body, r) != 0) fail_msg("%s %s: no response", method, path);
    return r->status;
}

static inline void mint(const char *addr, const char *asset, const char *amount) {
    char body[256];
    snprintf(body, sizeof body, "{\"address\":\"%s\",\"asset\":\"%s\",\"amount\":\"%s\"}", addr,
             asset, amount);
    th_resp r;
    if (req("POST", "/v1/admin/mint", "k-admin", body, &r) != 201)
        fail_msg("mint: %ld %s", r.status, r.body);
    th_resp_free(&r);
}

/* available and locked of a key's account, as strings in av/lk (cap 48). */
static inline void bal(const char *key, const char *asset, char *av, char *lk) {
    th_resp r;
    if (req("GET", "/v1/exchange/balances", key, NULL, &r) != 200)
        fail_msg("balances: %ld %s", r.status, r.body);
    const cJSON *b;
    int found = 0;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(r.json, "balances")) {
        if (strcmp(jstr(b, "asset"), asset) == 0) {
            snprintf(av, 48, "%s", jstr(b, "available"));
            snprintf(lk, 48, "%s", jstr(b, "locked"));
            found = 1;
        }
    }
    th_resp_free(&r);
    if (!found) fail_msg("no %s balance", asset);
}

static inline void expect_bal(const char *key, const char *asset, const char *want_av,
                              const char *want_lk) {
    char av[48], lk[48];
    bal(key, asset, av, lk);
    if (strcmp(av, want_av) != 0 || strcmp(lk, want_lk) != 0)
        fail_msg("%s %s: available %s locked %s, want %s / %s", key, asset, av, lk, want_av,
                 want_lk);
}

/* Any address's balances from the explorer (the treasury has no key). */
static inline void addr_bal(const char *addr, const char *asset, char *av, char *lk) {
    char path[128];
    snprintf(path, sizeof path, "/v1/explorer/address/%s", addr);
    th_resp r;
    if (req("GET", path, "k-admin", NULL, &r) != 200) fail_msg("address: %ld %s", r.status, r.body);
    const char *a = jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), asset);
    const char *l = jstr(cJSON_GetObjectItemCaseSensitive(r.json, "locked"), asset);
    snprintf(av, 48, "%s", a ? a : "0");
    snprintf(lk, 48, "%s", l ? l : "0");
    th_resp_free(&r);
}

/* POST an order; returns the response (caller frees) after checking the status. A placed
 * order's answer is built from memory (place.c): it must equal the order read back at once. */
static inline void order(const char *key, const char *body, long want, th_resp *r) {
    if (req("POST", "/v1/exchange/orders", key, body, r) != want)
        fail_msg("order %s: got %ld %s, want %ld", body, r->status, r->body, want);
    if (want != 201) return;
    char path[128];
    snprintf(path, sizeof path, "/v1/exchange/orders/%s", jstr(r->json, "order_id"));
    th_resp got;
    if (req("GET", path, key, NULL, &got) != 200)
        fail_msg("%s: %ld %s", path, got.status, got.body);
    if (!cJSON_Compare(r->json, got.json, 1))
        fail_msg("placed order answered\n%s\nbut reads back as\n%s", r->body, got.body);
    th_resp_free(&got);
}

#endif
