/* Shared helpers of the marketplace integration tests (see mk_th.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <aitbc/money.h>
#include "mk_th.h"

th_host *H;
const char *mk_admin_key = "k-admin";
static int64_t g_minted;
static char g_racers[MK_RACERS][48];

const char *mk_racer(int i) {
    snprintf(g_racers[i], 48, "ait1c0%037d%d", 0, i);
    return g_racers[i];
}

int mk_start(void) {
    char keys[4096], accounts[1024];
    int n = snprintf(keys, sizeof keys,
                     "  auth-static: { keys: [ {key: \"k-admin\", role: admin, address: \"" ADMIN
                     "\"},\n    {key: \"k-alice\", role: client, address: \"" ALICE "\"},\n"
                     "    {key: \"k-bob\", role: client, address: \"" BOB "\"},\n"
                     "    {key: \"k-m1\", role: miner, address: \"" M1 "\"},\n"
                     "    {key: \"k-m2\", role: miner, address: \"" M2 "\"}");
    int a = snprintf(accounts, sizeof accounts, "\"" ALICE "\", \"" BOB "\"");
    for (int i = 0; i < MK_RACERS; i++) {
        n += snprintf(keys + n, sizeof keys - (size_t)n,
                      ",\n    {key: \"k-c%d\", role: client, address: \"%s\"}", i, mk_racer(i));
        a += snprintf(accounts + a, sizeof accounts - (size_t)a, ", \"%s\"", mk_racer(i));
    }
    char yaml[8192];
    snprintf(yaml, sizeof yaml,
             "%s ] }\n"
             "  chain: { block_interval_ms: 50, max_empty_interval_s: 0,\n"
             "    genesis: { accounts: [%s] } }\n"
             "  explorer: {}\n"
             "  marketplace: { hour_ms: %d, tick_ms: 10 }\n",
             keys, accounts, MK_HOUR_MS);
    H = th_start(yaml, NULL);
    return H ? 0 : -1;
}

void mk_stop(void) {
    th_free(H);
}

long mk_req(const char *method, const char *path, const char *key, const char *body, th_resp *r) {
    memset(r, 0, sizeof *r);
    assert_int_equal(th_req(H, method, path, key, body, r), 0);
    return r->status;
}

long mk_req_idem(const char *path, const char *key, const char *body, const char *idem,
                 th_resp *r) {
    char hdr[300];
    snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", idem);
    const char *hdrs[] = {hdr, NULL};
    memset(r, 0, sizeof *r);
    assert_int_equal(th_req_ex(H, "POST", path, key, body, hdrs, r), 0);
    return r->status;
}

const char *jstr(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

int64_t jint(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) fail_msg("member %s is not a number", k);
    return (int64_t)v->valuedouble;
}

void mk_expect_error(const char *method, const char *path, const char *key, const char *body,
                     long status, const char *code, const char *field) {
    th_resp r;
    long got = mk_req(method, path, key, body, &r);
    if (got != status || !th_error_code(&r) || strcmp(th_error_code(&r), code) != 0)
        fail_msg("%s %s %s: got %ld %s, want %ld %s", method, path, body ? body : "", got, r.body,
                 status, code);
    if (field) {
        const char *f = jstr(cJSON_GetObjectItemCaseSensitive(r.json, "error"), "field");
        if (!f || strcmp(f, field) != 0)
            fail_msg("%s %s: field %s, want %s", path, body ? body : "", f ? f : "(none)", field);
    }
    th_resp_free(&r);
}

int64_t mk_units(const char *amount) {
    int64_t v = -1;
    if (!amount || aitbc_money_parse(amount, 6, &v) != 0)
        fail_msg("not an AIT amount: %s", amount ? amount : "(null)");
    return v;
}

void mk_balance(const char *addr, int64_t *available, int64_t *locked) {
    th_resp r;
    char path[128];
    snprintf(path, sizeof path, "/v1/explorer/address/%s", addr);
    long st = mk_req("GET", path, mk_admin_key, NULL, &r);
    if (st == 404) { /* no account yet: holds nothing */
        th_resp_free(&r);
        *available = *locked = 0;
        return;
    }
    assert_int_equal(st, 200);
    *available = mk_units(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), "AIT"));
    const char *l = jstr(cJSON_GetObjectItemCaseSensitive(r.json, "locked"), "AIT");
    *locked = l ? mk_units(l) : 0;
    th_resp_free(&r);
}

void mk_mint(const char *addr, const char *amount) {
    th_resp r;
    char body[200];
    snprintf(body, sizeof body, "{\"address\":\"%s\",\"asset\":\"AIT\",\"amount\":\"%s\"}", addr,
             amount);
    assert_int_equal(mk_req("POST", "/v1/admin/mint", mk_admin_key, body, &r), 201);
    th_resp_free(&r);
    g_minted += mk_units(amount);
}

int64_t mk_minted(void) {
    return g_minted;
}

cJSON *mk_offer(const char *key, const char *gpu, int mem, const char *region, const char *price,
                int hours) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"gpu_model\":\"%s\",\"gpu_memory_gb\":%d,\"gpu_count\":1,\"models\":[\"llama3\"],"
             "\"region\":\"%s\",\"price_per_hour\":\"%s\",\"hours_available\":%d}",
             gpu, mem, region, price, hours);
    th_resp r;
    if (mk_req("POST", "/v1/marketplace/offers", key, body, &r) != 201)
        fail_msg("offer: %ld %s", r.status, r.body);
    cJSON *o = cJSON_Duplicate(r.json, 1);
    th_resp_free(&r);
    return o;
}

int64_t mk_total_held(void) {
    const char *addrs[4 + MK_RACERS] = {ALICE, BOB, M1, M2};
    for (int i = 0; i < MK_RACERS; i++)
        addrs[4 + i] = mk_racer(i);
    int64_t sum = 0;
    for (int i = 0; i < 4 + MK_RACERS; i++) {
        int64_t av, lk;
        mk_balance(addrs[i], &av, &lk);
        sum += av + lk;
    }
    return sum;
}

int mk_verify_chain(void) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s/config.yaml' --verify-chain >/dev/null 2>&1",
             AITBC_HOST_BIN, th_data_dir(H));
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
