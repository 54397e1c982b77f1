/* The host's Idempotency-Key handling (API.md), driven through a real idempotent route: the chain
 * plugin's POST /v1/admin/mint and POST /v1/transfers. Same key + same body (compared
 * canonically) → the first answer; 4xx answers are not stored; keys are per account and per path;
 * the key length is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define ADMIN                                                                                      \
    "ait1"                                                                                         \
    "00000000000000000000000000000000000000a1"
#define ADMIN2                                                                                     \
    "ait1"                                                                                         \
    "00000000000000000000000000000000000000a2"
#define BOB                                                                                        \
    "ait1"                                                                                         \
    "00000000000000000000000000000000000000b0"
#define NOBODY                                                                                     \
    "ait1"                                                                                         \
    "00000000000000000000000000000000000000ff"

static th_host *H;

static long mint(const char *key, const char *idem, const char *body, th_resp *r) {
    char header[400];
    snprintf(header, sizeof header, "Idempotency-Key: %s", idem);
    const char *headers[] = {header, NULL};
    assert_int_equal(th_req_ex(H, "POST", "/v1/admin/mint", key, body, headers, r), 0);
    return r->status;
}

static const char *hash_of(const th_resp *r) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->json, "hash"));
}

static void replays_the_first_answer_for_the_same_body(void **state) {
    (void)state;
    th_resp a, b;
    assert_int_equal(mint("k-admin", "same-1",
                          "{\"address\":\"" BOB "\",\"asset\":\"AIT\","
                          "\"amount\":\"5\"}",
                          &a),
                     201);
    /* Same members, other order and spacing: the same body canonically. */
    assert_int_equal(mint("k-admin", "same-1",
                          "{ \"amount\": \"5\", \"asset\": \"AIT\", "
                          "\"address\": \"" BOB "\" }",
                          &b),
                     201);
    assert_string_equal(hash_of(&a), hash_of(&b));
    th_resp_free(&a);
    th_resp_free(&b);
    assert_int_equal(mint("k-admin", "same-1",
                          "{\"address\":\"" BOB "\",\"asset\":\"AIT\","
                          "\"amount\":\"6\"}",
                          &a),
                     409);
    assert_string_equal(th_error_code(&a), "idempotency_mismatch");
    th_resp_free(&a);
}

static void does_not_store_refusals(void **state) {
    (void)state;
    th_resp r;
    assert_int_equal(mint("k-admin", "retry-1",
                          "{\"address\":\"" NOBODY "\",\"asset\":\"AIT\","
                          "\"amount\":\"1\"}",
                          &r),
                     404);
    th_resp_free(&r);
    /* The 404 left no record: the key is free for a corrected request. */
    assert_int_equal(mint("k-admin", "retry-1",
                          "{\"address\":\"" BOB "\",\"asset\":\"AIT\","
                          "\"amount\":\"1\"}",
                          &r),
                     201);
    th_resp_free(&r);
}

static void scopes_keys_per_account_and_path(void **state) {
    (void)state;
    const char *body = "{\"address\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"2\"}";
    th_resp a, b;
    assert_int_equal(mint("k-admin", "shared-key", body, &a), 201);
    assert_int_equal(mint("k-admin2", "shared-key", body, &b), 201);
    assert_string_not_equal(hash_of(&a), hash_of(&b)); /* two mints, one per account */
    th_resp_free(&a);
    th_resp_free(&b);
    /* The same key on another path of the same account is another request. */
    const char *headers[] = {"Idempotency-Key: shared-key", NULL};
    assert_int_equal(th_req_ex(H, "POST", "/v1/transfers", "k-bob",
                               "{\"to\":\"" ADMIN "\",\"asset\":\"AIT\",\"amount\":\"1\"}", headers,
                               &a),
                     0);
    assert_int_equal(a.status, 201);
    th_resp_free(&a);
}

#define MINT_BOB_1 "{\"address\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"1\"}"

static void assert_key_refused(const char *key) {
    th_resp r;
    assert_int_equal(mint("k-admin", key, MINT_BOB_1, &r), 400);
    assert_string_equal(th_error_code(&r), "invalid_argument");
    th_resp_free(&r);
}

static void bounds_the_key(void **state) {
    (void)state;
    char key[300];
    memset(key, 'k', 256);
    key[256] = '\0';
    assert_key_refused(key);
    key[255] = '\0'; /* 255 characters are allowed */
    th_resp r;
    assert_int_equal(mint("k-admin", key, MINT_BOB_1, &r), 201);
    th_resp_free(&r);
    assert_key_refused("key-\xff\xfe"); /* not UTF-8: no key (it is stored as text) */
}

static int setup(void **state) {
    (void)state;
    H = th_start("  auth-static: { keys: [ {key: \"k-admin\", role: admin, address: \"" ADMIN
                 "\"},\n"
                 "    {key: \"k-admin2\", role: admin, address: \"" ADMIN2 "\"},\n"
                 "    {key: \"k-bob\", role: client, address: \"" BOB "\"} ] }\n"
                 "  chain: { genesis: { accounts: [\"" ADMIN "\", \"" BOB "\"] } }\n",
                 NULL);
    return H ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    int rc = th_stop(H);
    th_free(H);
    return rc == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replays_the_first_answer_for_the_same_body),
        cmocka_unit_test(does_not_store_refusals),
        cmocka_unit_test(scopes_keys_per_account_and_path),
        cmocka_unit_test(bounds_the_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
