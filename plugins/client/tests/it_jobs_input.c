/* Hostile input on every job route through the real host: wrong types, sizes, unknown and foreign
 * jobs, wrong roles, bad and stale signatures, replayed registrations, key rotation and
 * deregistration — each answered with its documented status and error code, nothing stored. */
#include "jobs_th.h"
#include <aitbc/util.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static th_host *H;
static jt_client C, C2;
static jt_miner M, M2;
static char JOB[64];

#define CAPS "{\"gpus\":[{\"name\":\"A100\",\"memory_mb\":80000}],\"job_types\":[\"input\"]}"

static void expect(const char *method, const char *path, const char *key, const char *body,
                   long status, const char *code, const char *field) {
    th_resp r;
    assert_int_equal(th_req(H, method, path, key, body, &r), 0);
    const char *c = th_error_code(&r);
    if (r.status != status || (code && (!c || strcmp(c, code) != 0)))
        fail_msg("%s %s %s: got %ld %s, want %ld %s", method, path, body ? body : "", r.status,
                 r.body, status, code ? code : "");
    if (field) {
        const char *f = jt_str(cJSON_GetObjectItemCaseSensitive(r.json, "error"), "field");
        if (!f || strcmp(f, field) != 0)
            fail_msg("%s %s %s: field %s, want %s", method, path, body ? body : "",
                     f ? f : "(none)", field);
    }
    th_resp_free(&r);
}

static int setup(void **st) {
    (void)st;
    H = jt_start("heartbeat_interval_s: 30, lease_s: 60, max_attempts: 3");
    if (!H) return -1;
    jt_client_new(H, "50", &C);
    jt_client_new(H, "0", &C2);
    if (jt_miner_register(H, &M, CAPS, 1, "1") != 201 ||
        jt_miner_register(H, &M2, CAPS, 1, "1") != 201)
        return -1;
    return jt_submit(H, &C, "{\"payload\":{\"type\":\"input\"},\"max_price\":\"5\"}", JOB) == 201
               ? 0
               : -1;
}

static int teardown(void **st) {
    (void)st;
    int rc = th_stop(H);
    th_free(H);
    return rc == 0 ? 0 : -1;
}

static void test_submit_bad_input(void **st) {
    (void)st;
    expect("POST", "/v1/jobs", NULL, "{\"payload\":{\"type\":\"x\"}}", 401, "unauthenticated",
           NULL);
    expect("POST", "/v1/jobs", M.key, "{\"payload\":{\"type\":\"x\"}}", 403, "forbidden", NULL);
    expect("POST", "/v1/jobs", jt_admin(H), "{\"payload\":{\"type\":\"x\"}}", 403, "forbidden",
           NULL);
    expect("POST", "/v1/jobs", C.key, "{\"payload\":", 400, "invalid_json", NULL);
    expect("POST", "/v1/jobs", C.key, "[1]", 400, "invalid_argument", NULL);
    expect("POST", "/v1/jobs", C.key, "{}", 400, "invalid_argument", "payload");
    expect("POST", "/v1/jobs", C.key, "{\"payload\":{\"type\":1}}", 400, "invalid_argument",
           "payload.type");
    expect("POST", "/v1/jobs", C.key, "{\"payload\":{\"type\":\"x\"},\"ttl_seconds\":0}", 400,
           "invalid_argument", "ttl_seconds");
    expect("POST", "/v1/jobs", C.key, "{\"payload\":{\"type\":\"x\"},\"max_price\":\"1.0000001\"}",
           400, "invalid_argument", "max_price");
    expect("POST", "/v1/jobs", C.key, "{\"payload\":{\"type\":\"x\"},\"max_price\":-1}", 400,
           "invalid_argument", "max_price");
    expect("POST", "/v1/jobs", C.key,
           "{\"payload\":{\"type\":\"x\"},\"constraints\":{\"min_vram_gb\":\"8\"}}", 400,
           "invalid_argument", "constraints.min_vram_gb");
    expect("POST", "/v1/jobs", C.key, "{\"payload\":{\"type\":\"x\"},\"surprise\":true}", 400,
           "invalid_argument", "surprise");
    /* more than the balance: 402 and nothing locked or stored */
    int64_t a0, l0, a1, l1;
    jt_balance(H, C.address, &a0, &l0);
    expect("POST", "/v1/jobs", C.key, "{\"payload\":{\"type\":\"x\"},\"max_price\":\"1000\"}", 402,
           "insufficient_funds", "max_price");
    expect("POST", "/v1/jobs", C2.key, "{\"payload\":{\"type\":\"x\"},\"max_price\":\"0.1\"}", 402,
           "insufficient_funds", NULL);
    jt_balance(H, C.address, &a1, &l1);
    assert_int_equal(a0, a1);
    assert_int_equal(l0, l1);
    th_resp r;
    th_req(H, "GET", "/v1/jobs?limit=500", C2.key, NULL, &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 0);
    th_resp_free(&r);
    /* wrong media type */
    const char *const ct[] = {"Content-Type: text/plain", NULL};
    th_req_ex(H, "POST", "/v1/jobs", C.key, "{\"payload\":{\"type\":\"x\"}}", ct, &r);
    assert_int_equal(r.status, 415);
    th_resp_free(&r);
    /* a payload over the 16 MiB route limit is refused from Content-Length */
    size_t big = (16u << 20) + 1024;
    char *body = malloc(big + 64);
    int n = snprintf(body, big + 64, "{\"payload\":{\"type\":\"x\",\"blob\":\"");
    memset(body + n, 'a', big);
    strcpy(body + n + big, "\"}}");
    th_req(H, "POST", "/v1/jobs", C.key, body, &r);
    assert_int_equal(r.status, 413);
    th_resp_free(&r);
    free(body);
}

static void test_read_routes_bad_input(void **st) {
    (void)st;
    char path[160];
    expect("GET", "/v1/jobs/job_doesnotexist", C.key, NULL, 404, "not_found", NULL);
    expect("GET", "/v1/jobs/job_doesnotexist/receipt", C.key, NULL, 404, "not_found", NULL);
    expect("POST", "/v1/jobs/job_doesnotexist/cancel", C.key, NULL, 404, "not_found", NULL);
    snprintf(path, sizeof path, "/v1/jobs/%s", JOB);
    expect("GET", path, C2.key, NULL, 404, "not_found", NULL);
    expect("GET", path, M.key, NULL, 403, "forbidden", NULL);
    expect("GET", path, NULL, NULL, 401, "unauthenticated", NULL);
    snprintf(path, sizeof path, "/v1/jobs/%s?wait_s=31", JOB);
    expect("GET", path, C.key, NULL, 400, "invalid_argument", "wait_s");
    snprintf(path, sizeof path, "/v1/jobs/%s?wait_s=x", JOB);
    expect("GET", path, C.key, NULL, 400, "invalid_argument", "wait_s");
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", JOB);
    expect("GET", path, C.key, NULL, 409, "not_ready", NULL);
    expect("GET", "/v1/jobs?limit=0", C.key, NULL, 400, "invalid_argument", "limit");
    expect("GET", "/v1/jobs?limit=501", C.key, NULL, 400, "invalid_argument", "limit");
    expect("GET", "/v1/jobs?state=DONE", C.key, NULL, 400, "invalid_argument", "state");
    expect("GET", "/v1/jobs?cursor=zzz", C.key, NULL, 400, "invalid_argument", "cursor");
    expect("DELETE", "/v1/jobs", C.key, NULL, 405, "method_not_allowed", NULL);
    expect("GET", "/v1/admin/jobs", C.key, NULL, 403, "forbidden", NULL);
    expect("GET", "/v1/admin/stats", M.key, NULL, 403, "forbidden", NULL);
    expect("GET", "/v1/admin/miners?status=GONE", jt_admin(H), NULL, 400, "invalid_argument",
           "status");
    expect("GET", "/v1/admin/jobs?client=nobody", jt_admin(H), NULL, 400, "invalid_argument",
           "client");
    expect("GET", "/v1/admin/jobs?limit=9999", jt_admin(H), NULL, 400, "invalid_argument", "limit");
    th_resp r;
    th_req(H, "GET", "/v1/receipts/public-key", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    const cJSON *k = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "keys"), 0);
    assert_string_equal(jt_str(k, "alg"), "Ed25519");
    assert_int_equal(strlen(jt_str(k, "public_key")), 64);
    assert_string_equal(jt_str(k, "status"), "active");
    th_resp_free(&r);
}

static void test_miner_routes_bad_input(void **st) {
    (void)st;
    char path[160];
    snprintf(path, sizeof path, "/v1/miners/%s/heartbeat", M.address);
    expect("POST", path, M2.key, "{}", 403, "forbidden", NULL);
    expect("POST", path, C.key, "{}", 403, "forbidden", NULL);
    expect("POST", path, M.key, "{\"status\":\"SLEEPING\"}", 400, "invalid_argument", "status");
    expect("POST", path, M.key, "{\"running\":\"job_x\"}", 400, "invalid_argument", "running");
    expect("POST", path, M.key, "{\"running\":[1,2]}", 400, "invalid_argument", "running");
    expect("POST", path, M.key, "{\"metrics\":[1]}", 400, "invalid_argument", "metrics");
    expect("POST", path, M.key, "{\"bogus\":1}", 400, "invalid_argument", "bogus");
    snprintf(path, sizeof path, "/v1/miners/%s/poll?wait_s=99", M.address);
    expect("POST", path, M.key, NULL, 400, "invalid_argument", "wait_s");
    expect("GET", "/v1/miners/ait10000000000000000000000000000000000000000", jt_admin(H), NULL, 404,
           "not_found", NULL);
    snprintf(path, sizeof path, "/v1/miners/%s", M.address);
    expect("GET", path, M2.key, NULL, 403, "forbidden", NULL);
    /* completion input */
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", JOB);
    expect("POST", path, C.key, "{\"attempt\":1,\"error\":{\"code\":\"x\"}}", 403, "forbidden",
           NULL);
    expect("POST", path, M.key, "{}", 400, "invalid_argument", "attempt");
    expect("POST", path, M.key, "{\"attempt\":0,\"error\":{\"code\":\"x\"}}", 400,
           "invalid_argument", "attempt");
    expect("POST", path, M.key, "{\"attempt\":1}", 400, "invalid_argument", "result");
    expect("POST", path, M.key,
           "{\"attempt\":1,\"result\":{},\"error\":{\"code\":\"x\"},\"units\":1,"
           "\"miner_signature\":\"x\"}",
           400, "invalid_argument", "error");
    expect("POST", path, M.key,
           "{\"attempt\":1,\"result\":{},\"units\":-1,"
           "\"miner_signature\":\"x\"}",
           400, "invalid_argument", "units");
    expect("POST", path, M.key, "{\"attempt\":1,\"error\":{\"code\":7}}", 400, "invalid_argument",
           "error");
    expect("POST", path, M.key, "{\"attempt\":1,\"error\":{\"code\":\"x\"},\"retryable\":\"y\"}",
           400, "invalid_argument", "retryable");
    expect("POST", "/v1/jobs/job_nope/complete", M.key,
           "{\"attempt\":1,\"error\":{\"code\":\"x\"}}", 404, "not_found", NULL);
    /* a job queued but never handed to M */
    expect("POST", path, M.key, "{\"attempt\":1,\"error\":{\"code\":\"x\"}}", 403, "forbidden",
           NULL);
    /* M takes it; M2 may not finish it; a wrong attempt is a lost lease; bad signature 400 */
    th_resp r;
    jt_beat(H, &M, 2, "[]", &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "jobs")), 1);
    th_resp_free(&r);
    expect("POST", path, M2.key, "{\"attempt\":1,\"error\":{\"code\":\"x\"}}", 403, "forbidden",
           NULL);
    expect("POST", path, M.key, "{\"attempt\":2,\"error\":{\"code\":\"x\"}}", 409, "lease_lost",
           NULL);
    /* signed by M2's key instead of M's */
    jt_miner fake = M2;
    snprintf(fake.key, sizeof fake.key, "%s", M.key);
    assert_int_equal(jt_complete(H, &fake, JOB, 1, "{\"a\":1}", 1, &r), 400);
    assert_string_equal(th_error_code(&r), "invalid_signature");
    th_resp_free(&r);
    /* the right key completes it */
    assert_int_equal(jt_complete(H, &M, JOB, 1, "{\"a\":1}", 1, &r), 200);
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

static void test_registration(void **st) {
    (void)st;
    jt_miner m;
    th_resp r;
    assert_int_equal(jt_miner_register(H, &m, CAPS, 1, "1"), 201);
    int64_t now = aitbc_now_ms() / 1000;
    /* stale and future timestamps */
    char *b = jt_register_body(&m, now - 1000, CAPS, 1, "1");
    expect("POST", "/v1/miners/register", NULL, b, 400, "invalid_signature", "timestamp");
    free(b);
    b = jt_register_body(&m, now + 1000, CAPS, 1, "1");
    expect("POST", "/v1/miners/register", NULL, b, 400, "invalid_signature", "timestamp");
    free(b);
    /* a signature by another key */
    jt_miner other = M2;
    memcpy(other.pk_hex, m.pk_hex, sizeof other.pk_hex);
    b = jt_register_body(&other, now, CAPS, 1, "1");
    expect("POST", "/v1/miners/register", NULL, b, 400, "invalid_signature", "signature");
    free(b);
    /* the first registration replayed: refused */
    b = jt_register_body(&m, now - 1, CAPS, 1, "1");
    expect("POST", "/v1/miners/register", NULL, b, 400, "invalid_signature", "timestamp");
    free(b);
    /* field checks */
    expect("POST", "/v1/miners/register", NULL, "{\"public_key\":\"zz\"}", 400, "invalid_argument",
           "public_key");
    expect("POST", "/v1/miners/register", NULL, "[]", 400, "invalid_argument", NULL);
    expect("POST", "/v1/miners/register", NULL, "{\"nope\":1}", 400, "invalid_argument", "nope");
    b = jt_register_body(&m, now + 1, "{\"job_types\":[]}", 1, "1");
    expect("POST", "/v1/miners/register", NULL, b, 400, "invalid_argument",
           "capabilities.job_types");
    free(b);
    b = jt_register_body(&m, now + 1, CAPS, 0, "1");
    expect("POST", "/v1/miners/register", NULL, b, 400, "invalid_argument", "concurrency");
    free(b);
    b = jt_register_body(&m, now + 1, CAPS, 1, "-1");
    expect("POST", "/v1/miners/register", NULL, b, 400, "invalid_argument", "unit_price");
    free(b);
    /* a newer signed registration rotates the key: the old one stops working at once */
    b = jt_register_body(&m, now + 2, CAPS, 2, "2");
    assert_int_equal(th_req(H, "POST", "/v1/miners/register", NULL, b, &r), 0);
    free(b);
    assert_int_equal(r.status, 200);
    assert_string_equal(jt_str(r.json, "address"), m.address);
    char old[192];
    snprintf(old, sizeof old, "%s", m.key);
    snprintf(m.key, sizeof m.key, "%s", jt_str(r.json, "api_key"));
    th_resp_free(&r);
    assert_string_not_equal(old, m.key);
    char path[160];
    snprintf(path, sizeof path, "/v1/miners/%s/heartbeat", m.address);
    expect("POST", path, old, "{}", 401, "unauthenticated", NULL);
    th_req(H, "POST", path, m.key, "{}", &r);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/miners/%s", m.address);
    th_req(H, "GET", path, m.key, NULL, &r);
    assert_int_equal(jt_int(r.json, "concurrency"), 2);
    assert_string_equal(jt_str(r.json, "unit_price"), "2");
    th_resp_free(&r);
    /* deregistration: the key dies with it */
    th_req(H, "DELETE", path, m.key, NULL, &r);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    expect("GET", path, m.key, NULL, 401, "unauthenticated", NULL);
    expect("GET", path, jt_admin(H), NULL, 404, "not_found", NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_bad_input),
        cmocka_unit_test(test_read_routes_bad_input),
        cmocka_unit_test(test_miner_routes_bad_input),
        cmocka_unit_test(test_registration),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
