/* POST /v1/signup through the real host with auth-apikey and the chain: the key is shown once and
 * works, the starting grant is a TRANSFER from the faucet (never a MINT to the newcomer), a dry
 * faucet still signs people up without a grant, the per-address limit answers 429 + Retry-After,
 * hostile bodies get the documented errors, and with sign-up off the routes do not exist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define FAUCET "ait1fa0ce70000000000000000000000000000000001"
#define PLUGINS                                                                                    \
    "  auth-apikey: { signup: { enabled: true, per_hour: 4, grant: { asset: AIT, amount: \"2.5\" " \
    "}, faucet_address: \"" FAUCET "\" } }\n"                                                      \
    "  chain: { block_interval_ms: 50, max_empty_interval_s: 0 }\n"                                \
    "  explorer: {}\n"

static th_host *H;
static char g_admin[200];

static long req(const char *method, const char *path, const char *key, const char *body,
                th_resp *r) {
    memset(r, 0, sizeof *r);
    if (th_req(H, method, path, key, body, r) != 0) fail_msg("%s %s: no response", method, path);
    return r->status;
}

static const char *jstr(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void expect(const char *body, const char *const *headers, long status, const char *code,
                   const char *field) {
    th_resp r;
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req_ex(H, "POST", "/v1/signup", NULL, body, headers, &r), 0);
    const char *c = th_error_code(&r);
    if (r.status != status || !c || strcmp(c, code) != 0)
        fail_msg("signup %s: got %ld %s, want %ld %s", body ? body : "(none)", r.status, r.body,
                 status, code);
    if (field) {
        const char *f = jstr(cJSON_GetObjectItemCaseSensitive(r.json, "error"), "field");
        if (!f || strcmp(f, field) != 0)
            fail_msg("%s: field %s, want %s", body, f ? f : "-", field);
    }
    th_resp_free(&r);
}

static int setup(void **st) {
    (void)st;
    H = th_start(PLUGINS, NULL);
    if (!H) return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/admin.key", th_data_dir(H));
    FILE *f = fopen(path, "r");
    if (!f || !fgets(g_admin, sizeof g_admin, f)) return -1;
    fclose(f);
    g_admin[strcspn(g_admin, "\r\n")] = '\0';
    return 0;
}

static int teardown(void **st) {
    (void)st;
    th_free(H);
    return 0;
}

static void mint_faucet(const char *amount) {
    char body[200];
    snprintf(body, sizeof body, "{\"address\":\"" FAUCET "\",\"asset\":\"AIT\",\"amount\":\"%s\"}",
             amount);
    th_resp r;
    if (req("POST", "/v1/admin/mint", g_admin, body, &r) != 201) fail_msg("mint: %s", r.body);
    th_resp_free(&r);
}

static void signup_ok(const char *body, th_resp *r) {
    if (req("POST", "/v1/signup", NULL, body, r) != 201)
        fail_msg("signup: %ld %s", r->status, r->body);
}

static void test_info_and_dry_faucet(void **st) {
    (void)st;
    th_resp r;
    assert_int_equal(req("GET", "/v1/signup", NULL, NULL, &r), 200);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(r.json, "grant");
    assert_string_equal(jstr(g, "amount"), "2.5");
    assert_string_equal(jstr(g, "faucet_address"), FAUCET);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(g, "available")));
    th_resp_free(&r);
    /* The faucet holds nothing yet: a key, no grant, nothing minted for the newcomer. */
    signup_ok(NULL, &r);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "grant")));
    char key[200];
    snprintf(key, sizeof key, "%s", jstr(r.json, "api_key"));
    th_resp_free(&r);
    assert_int_equal(req("GET", "/v1/account", key, NULL, &r), 200);
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), "AIT"), "0");
    assert_string_equal(jstr(r.json, "role"), "client");
    assert_string_equal(jstr(r.json, "label"), "signup");
    th_resp_free(&r);
}

static void test_grant_is_a_transfer(void **st) {
    (void)st;
    mint_faucet("10");
    th_resp r;
    signup_ok("{\"label\":\"alice\"}", &r);
    assert_string_equal(jstr(r.json, "role"), "client");
    assert_string_equal(jstr(r.json, "label"), "alice");
    const char *key = jstr(r.json, "api_key");
    assert_non_null(key);
    assert_true(strncmp(key, "aitbc_client_key_", 17) == 0);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(r.json, "grant");
    assert_string_equal(jstr(g, "amount"), "2.5");
    assert_string_equal(jstr(g, "from"), FAUCET);
    char hash[80], addr[64], k[200];
    snprintf(hash, sizeof hash, "%s", jstr(g, "tx_hash"));
    snprintf(addr, sizeof addr, "%s", jstr(r.json, "address"));
    snprintf(k, sizeof k, "%s", key);
    char cc[64];
    assert_non_null(th_resp_header(&r, "Cache-Control", cc, sizeof cc));
    assert_string_equal(cc, "no-store");
    th_resp_free(&r);

    assert_int_equal(req("GET", "/v1/account", k, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "address"), addr);
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), "AIT"), "2.5");
    th_resp_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/v1/explorer/transactions/%s", hash);
    assert_int_equal(req("GET", path, k, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "type"), "TRANSFER");
    assert_string_equal(jstr(r.json, "from"), FAUCET);
    assert_string_equal(jstr(r.json, "to"), addr);
    assert_string_equal(jstr(r.json, "amount"), "2.5");
    th_resp_free(&r);
    /* The newcomer's only transaction is that transfer: no MINT to it. */
    snprintf(path, sizeof path, "/v1/explorer/address/%s", addr);
    assert_int_equal(req("GET", path, k, NULL, &r), 200);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(r.json, "tx_count")->valueint, 1);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/explorer/address/%s", FAUCET);
    assert_int_equal(req("GET", path, k, NULL, &r), 200);
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), "AIT"), "7.5");
    th_resp_free(&r);
    /* A sign-up key is an ordinary client key: no admin routes. */
    assert_int_equal(req("GET", "/v1/admin/keys", k, NULL, &r), 403);
    th_resp_free(&r);
}

static void test_hostile_bodies(void **st) {
    (void)st;
    /* None of these count against the address's budget (they are refused before it). */
    expect("[]", NULL, 400, "invalid_argument", NULL);
    expect("\"x\"", NULL, 400, "invalid_argument", NULL);
    expect("{\"label\":\"a\",\"role\":\"admin\"}", NULL, 400, "invalid_argument", "role");
    expect("{\"label\":5}", NULL, 400, "invalid_argument", "label");
    expect("{\"label\":\"tab\\there\"}", NULL, 400, "invalid_argument", "label");
    char big[600];
    memset(big, 'x', sizeof big);
    memcpy(big, "{\"label\":\"", 10);
    memcpy(big + sizeof big - 3, "\"}", 3);
    expect(big, NULL, 400, "invalid_argument", "label");
    expect("{\"label\":", NULL, 400, "invalid_json", NULL);
    static const char *const text[] = {"Content-Type: text/plain", NULL};
    expect("{\"label\":\"x\"}", text, 415, "unsupported_media_type", NULL);
    char *huge = malloc(5000);
    memset(huge, ' ', 4999);
    huge[0] = '{';
    huge[4998] = '}';
    huge[4999] = '\0';
    expect(huge, NULL, 413, "payload_too_large", NULL);
    free(huge);
    th_resp r;
    assert_int_equal(req("PUT", "/v1/signup", NULL, "{}", &r), 405);
    th_resp_free(&r);
}

static void test_rate_limit(void **st) {
    (void)st;
    /* per_hour 4: two used above, two more pass, the fifth is refused with Retry-After. */
    th_resp r;
    signup_ok("{}", &r);
    th_resp_free(&r);
    signup_ok("{\"label\":null}", &r);
    th_resp_free(&r);
    assert_int_equal(req("POST", "/v1/signup", NULL, "{}", &r), 429);
    assert_string_equal(th_error_code(&r), "rate_limited");
    char ra[16];
    assert_non_null(th_resp_header(&r, "Retry-After", ra, sizeof ra));
    assert_true(atoi(ra) >= 1 && atoi(ra) <= 3600);
    th_resp_free(&r);
}

static void test_off_by_default(void **st) {
    (void)st;
    th_host *off = th_start("  auth-apikey: {}\n", NULL);
    assert_non_null(off);
    th_resp r;
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(off, "POST", "/v1/signup", NULL, "{}", &r), 0);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(off, "GET", "/v1/signup", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
    th_free(off);
}

static void test_bad_config_refused(void **st) {
    (void)st;
    static const char *const bad[] = {
        "  auth-apikey: { signup: { enabled: yes please } }\n",
        "  auth-apikey: { signup: { enabled: true, per_hour: 0 } }\n",
        "  auth-apikey: { signup: { enabled: true, surprise: 1 } }\n",
        "  auth-apikey: { signup: { enabled: true, faucet_address: \"ait1xyz\" } }\n",
        /* a grant needs the ledger */
        "  auth-apikey: { signup: { enabled: true, grant: { asset: AIT, amount: \"1\" } } }\n",
        "  auth-apikey: { signup: { enabled: true, grant: { asset: AIT, amount: \"1.0000001\" } } "
        "}\n"
        "  chain: {}\n",
        "  auth-apikey: { signup: { enabled: true, grant: { asset: DOGE, amount: \"1\" } } }\n"
        "  chain: {}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        th_host *h = th_start(bad[i], NULL);
        if (h) {
            th_free(h);
            fail_msg("config %zu was accepted: %s", i, bad[i]);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_and_dry_faucet), cmocka_unit_test(test_grant_is_a_transfer),
        cmocka_unit_test(test_hostile_bodies),      cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_off_by_default),      cmocka_unit_test(test_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
