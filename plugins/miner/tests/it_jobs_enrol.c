/* Closed registration through the real host: the operator's enrolment token in X-Api-Key, the
 * per-address registration limit (429 + Retry-After), and Idempotency-Key on completions. */
#include "jobs_th.h"
#include <aitbc/util.h>
#include <sodium.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

#define TOKEN "enrol-0123456789abcdef"
#define CAPS "{\"job_types\":[\"enrol\"]}"

static th_host *H;
static jt_miner g_setup_miner; /* registered before the limit is spent */

/* POST /v1/miners/register for a fresh key with X-Api-Key = key (NULL: none). */
static long register_with(const char *key, jt_miner *m, th_resp *r) {
    crypto_sign_keypair(m->pk, m->sk);
    aitbc_hex_encode(m->pk, 32, m->pk_hex);
    char *body = jt_register_body(m, aitbc_now_ms() / 1000, CAPS, 1, "1");
    assert_int_equal(th_req(H, "POST", "/v1/miners/register", key, body, r), 0);
    free(body);
    if (r->status == 201) {
        snprintf(m->key, sizeof m->key, "%s", jt_str(r->json, "api_key"));
        snprintf(m->address, sizeof m->address, "%s", jt_str(r->json, "address"));
        jt_track(m->address);
    }
    return r->status;
}

static void test_enrolment_and_rate_limit(void **st) {
    (void)st;
    jt_miner m;
    th_resp r;
    assert_int_equal(register_with(NULL, &m, &r), 401);
    assert_string_equal(th_error_code(&r), "unauthenticated");
    th_resp_free(&r);
    assert_int_equal(register_with("enrol-0123456789abcdeX", &m, &r), 401);
    th_resp_free(&r);
    /* four per minute from one address: the one in main() and these three */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(register_with(TOKEN, &m, &r), 201);
        th_resp_free(&r);
    }
    assert_int_equal(register_with(TOKEN, &m, &r), 429);
    assert_string_equal(th_error_code(&r), "rate_limited");
    char ra[16];
    assert_non_null(th_resp_header(&r, "Retry-After", ra, sizeof ra));
    assert_true(atoi(ra) >= 1 && atoi(ra) <= 61);
    th_resp_free(&r);
}

static void test_idempotent_completion(void **st) {
    (void)st;
    jt_client c;
    jt_client_new(H, "10", &c);
    jt_miner m = g_setup_miner;
    th_resp r;
    char id[64];
    assert_int_equal(jt_submit(H, &c, "{\"payload\":{\"type\":\"enrol\"},\"max_price\":\"3\"}", id),
                     201);
    assert_int_equal(jt_beat(H, &m, 5, "[]", &r), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "jobs")), 1);
    th_resp_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
    const char *const k[] = {"Idempotency-Key: done-1", NULL};
    const char *fail1 = "{\"attempt\":1,\"error\":{\"code\":\"oom\"}}";
    assert_int_equal(th_req_ex(H, "POST", path, m.key, fail1, k, &r), 0);
    assert_int_equal(r.status, 200);
    char *first = strdup(r.body);
    th_resp_free(&r);
    assert_int_equal(th_req_ex(H, "POST", path, m.key, fail1, k, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, first); /* the stored first answer, byte for byte */
    th_resp_free(&r);
    free(first);
    assert_int_equal(
        th_req_ex(H, "POST", path, m.key, "{\"attempt\":1,\"error\":{\"code\":\"x\"}}", k, &r), 0);
    assert_int_equal(r.status, 409);
    assert_string_equal(th_error_code(&r), "idempotency_mismatch");
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

int main(void) {
    H = jt_start("heartbeat_interval_s: 30, lease_s: 60, open_registration: false, "
                 "enrolment_token: \"" TOKEN "\", register_rate_per_min: 4");
    if (!H || sodium_init() < 0) return 1;
    th_resp r;
    if (register_with(TOKEN, &g_setup_miner, &r) != 201) return 1;
    th_resp_free(&r);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enrolment_and_rate_limit),
        cmocka_unit_test(test_idempotent_completion),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    int st = th_stop(H);
    th_free(H);
    return rc ? rc : st;
}
