/* Job lifecycle through the real host and real HTTP, part 1: happy path with exact balances and
 * receipts checked by two Ed25519 implementations, failure refunds, retryable failures, a silent
 * miner losing its job to another, max_attempts, TTL expiry by the timer. Ledger conservation is
 * checked after every scenario. Each scenario uses its own job type so miners of other scenarios
 * never take its jobs. */
#include "it_jobs_common.h"

static void test_happy_path(void **st) {
    (void)st;
    jt_client c, other;
    jt_miner m, m2;
    jt_client_new(H, "100", &c);
    jt_client_new(H, "1", &other);
    assert_int_equal(jt_miner_register(H, &m, caps("happy"), 2, "0.5"), 201);
    assert_int_equal(jt_miner_register(H, &m2, caps("happy-other"), 1, "0.5"), 201);
    int64_t tr0, trl;
    jt_balance(H, JT_TREASURY, &tr0, &trl);
    char id[64];
    assert_int_equal(jt_submit(H, &c,
                               "{\"payload\":{\"type\":\"happy\",\"prompt\":\"hi\"},"
                               "\"max_price\":\"10\",\"ttl_seconds\":600}",
                               id),
                     201);
    int64_t a, l;
    jt_balance(H, c.address, &a, &l);
    assert_int_equal(a, 90000000);
    assert_int_equal(l, 10000000);
    cJSON *j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "state"), "QUEUED");
    assert_string_equal(jt_str(j, "payment_status"), "escrowed");
    assert_string_equal(jt_str(j, "pending_reason"), "queued");
    cJSON_Delete(j);

    th_resp r;
    expect_status(jt_beat(H, &m, 5, "[]", &r), 200, &r, "poll");
    const cJSON *aj = only_job(&r, id);
    assert_int_equal(jt_int(aj, "attempt"), 1);
    assert_string_equal(jt_str(aj, "unit_price"), "0.5");
    assert_string_equal(jt_str(aj, "max_price"), "10");
    assert_non_null(jt_str(aj, "lease_expires_at"));
    th_resp_free(&r);
    j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "state"), "RUNNING");
    assert_string_equal(jt_str(j, "assigned_miner"), m.address);
    cJSON_Delete(j);

    /* a miner that never held the job may not complete it */
    expect_status(jt_complete(H, &m2, id, 1, "{\"text\":\"x\"}", 1, &r), 403, &r, "wrong miner");
    check_error(&r, 403, "forbidden", "wrong miner");
    th_resp_free(&r);
    /* a signature over other numbers is refused */
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
    th_req(H, "POST", path, m.key,
           "{\"attempt\":1,\"result\":{\"text\":\"hello\",\"tokens\":7},\"units\":7,"
           "\"miner_signature\":\"AAAA\"}",
           &r);
    check_error(&r, 400, "invalid_signature", "bad miner signature");
    th_resp_free(&r);

    expect_status(jt_complete(H, &m, id, 1, "{\"text\":\"hello\",\"tokens\":7}", 7, &r), 200, &r,
                  "complete");
    assert_string_equal(jt_str(r.json, "state"), "COMPLETED");
    cJSON *receipt = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r.json, "receipt"), 1);
    th_resp_free(&r);
    assert_string_equal(jt_str(receipt, "price"), "3.5");
    assert_string_equal(jt_str(receipt, "unit_price"), "0.5");
    assert_int_equal(jt_int(receipt, "units"), 7);
    assert_string_equal(jt_str(receipt, "miner"), m.address);
    assert_string_equal(jt_str(receipt, "client"), c.address);
    assert_non_null(jt_str(receipt, "miner_signature"));
    assert_true(jt_node_verify(H, receipt));
    assert_int_equal(jt_cli_verify(H, receipt), 0);
    /* tampering breaks both */
    cJSON *bad = cJSON_Duplicate(receipt, 1);
    cJSON_ReplaceItemInObjectCaseSensitive(bad, "price", cJSON_CreateString("3.6"));
    assert_false(jt_node_verify(H, bad));
    assert_int_equal(jt_cli_verify(H, bad), 1);
    cJSON_Delete(bad);

    /* exact money: 3.5 charged, 2.5% fee, 6.5 refunded */
    jt_balance(H, c.address, &a, &l);
    assert_int_equal(a, 96500000);
    assert_int_equal(l, 0);
    jt_balance(H, m.address, &a, &l);
    assert_int_equal(a, 3412500);
    int64_t tr1;
    jt_balance(H, JT_TREASURY, &tr1, &trl);
    assert_int_equal(tr1 - tr0, 87500);

    j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "state"), "COMPLETED");
    assert_string_equal(jt_str(j, "payment_status"), "released");
    assert_string_equal(jt_str(j, "price"), "3.5");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "pending_reason")));
    assert_int_equal(jt_int(cJSON_GetObjectItemCaseSensitive(j, "result"), "tokens"), 7);
    cJSON_Delete(j);

    /* the same completion again: the same answer; the receipt route agrees */
    expect_status(jt_complete(H, &m, id, 1, "{\"text\":\"hello\",\"tokens\":7}", 7, &r), 200, &r,
                  "complete again");
    assert_string_equal(jt_str(cJSON_GetObjectItemCaseSensitive(r.json, "receipt"), "receipt_id"),
                        jt_str(receipt, "receipt_id"));
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    th_req(H, "GET", path, c.key, NULL, &r);
    expect_status(r.status, 200, &r, "receipt");
    assert_string_equal(jt_str(r.json, "signature"), jt_str(receipt, "signature"));
    th_resp_free(&r);
    /* a different completion for the same attempt is not a repeat */
    expect_status(jt_complete(H, &m, id, 1, "{\"text\":\"other\"}", 1, &r), 409, &r, "other body");
    check_error(&r, 409, "lease_lost", "other body");
    th_resp_free(&r);

    /* another client sees nothing of it */
    th_req(H, "GET", path, other.key, NULL, &r);
    check_error(&r, 404, "not_found", "foreign receipt");
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    th_req(H, "GET", path, other.key, NULL, &r);
    check_error(&r, 404, "not_found", "foreign job");
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    th_req(H, "POST", path, other.key, NULL, &r);
    check_error(&r, 404, "not_found", "foreign cancel");
    th_resp_free(&r);
    /* cancel after completion: conflict */
    th_req(H, "POST", path, c.key, NULL, &r);
    check_error(&r, 409, "conflict", "cancel completed");
    th_resp_free(&r);
    /* own list shows it; the other client's list does not */
    th_req(H, "GET", "/v1/jobs?state=COMPLETED", c.key, NULL, &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 1);
    th_resp_free(&r);
    th_req(H, "GET", "/v1/jobs", other.key, NULL, &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 0);
    th_resp_free(&r);
    cJSON_Delete(receipt);
    assert_true(jt_conserved(H));
}

static void test_failure_refunds(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "20", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("fail"), 1, "1"), 201);
    char id[64], path[160];
    assert_int_equal(jt_submit(H, &c, "{\"payload\":{\"type\":\"fail\"},\"max_price\":\"5\"}", id),
                     201);
    th_resp r;
    jt_beat(H, &m, 5, "[]", &r);
    only_job(&r, id);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
    th_req(H, "POST", path, m.key,
           "{\"attempt\":1,\"error\":{\"code\":\"oom\",\"message\":\"out of memory\"},"
           "\"retryable\":false}",
           &r);
    expect_status(r.status, 200, &r, "fail");
    assert_string_equal(jt_str(r.json, "state"), "FAILED");
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(r.json, "receipt");
    assert_string_equal(jt_str(rc, "state"), "FAILED");
    assert_string_equal(jt_str(rc, "price"), "0");
    assert_true(jt_node_verify(H, rc));
    th_resp_free(&r);
    int64_t a, l;
    jt_balance(H, c.address, &a, &l);
    assert_int_equal(a, 20000000);
    assert_int_equal(l, 0);
    jt_balance(H, m.address, &a, &l);
    assert_int_equal(a, 0);
    cJSON *j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "payment_status"), "refunded");
    assert_string_equal(jt_str(cJSON_GetObjectItemCaseSensitive(j, "error"), "code"), "oom");
    cJSON_Delete(j);

    /* retryable: back to the queue with the attempt kept, then attempt 2 succeeds */
    assert_int_equal(jt_submit(H, &c, "{\"payload\":{\"type\":\"fail\"},\"max_price\":\"5\"}", id),
                     201);
    jt_beat(H, &m, 5, "[]", &r);
    only_job(&r, id);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
    th_req(H, "POST", path, m.key,
           "{\"attempt\":1,\"error\":{\"code\":\"busy\"},\"retryable\":true}", &r);
    expect_status(r.status, 200, &r, "retryable");
    assert_string_equal(jt_str(r.json, "state"), "QUEUED");
    th_resp_free(&r);
    jt_beat(H, &m, 5, "[]", &r);
    assert_int_equal(jt_int(only_job(&r, id), "attempt"), 2);
    th_resp_free(&r);
    expect_status(jt_complete(H, &m, id, 2, "{\"ok\":true}", 2, &r), 200, &r, "attempt 2");
    assert_string_equal(jt_str(cJSON_GetObjectItemCaseSensitive(r.json, "receipt"), "price"), "2");
    th_resp_free(&r);
    jt_balance(H, c.address, &a, &l);
    assert_int_equal(a, 18000000);
    assert_int_equal(l, 0);
    assert_true(jt_conserved(H));
}

static void test_silent_miner_loses_job(void **st) {
    (void)st;
    jt_client c;
    jt_miner ma, mb;
    char id[64];
    th_resp r;
    running_on_first(&c, &ma, &mb, "silent", "3", id);
    /* A goes silent; B keeps polling and receives the job once A's lease lapses */
    const cJSON *got = NULL;
    int64_t deadline = mono_ms() + 20000;
    while (!got && mono_ms() < deadline) {
        jt_beat(H, &mb, 2, "[]", &r);
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "jobs")) > 0)
            got = only_job(&r, id);
        else
            th_resp_free(&r);
    }
    assert_non_null(got);
    assert_int_equal(jt_int(got, "attempt"), 2);
    th_resp_free(&r);
    /* A comes back with its stale attempt: lease lost, no pay; its heartbeat says drop it */
    expect_status(jt_complete(H, &ma, id, 1, "{\"t\":1}", 1, &r), 409, &r, "stale attempt");
    check_error(&r, 409, "lease_lost", "stale attempt");
    th_resp_free(&r);
    char running[96];
    snprintf(running, sizeof running, "[\"%s\"]", id);
    jt_beat(H, &ma, -1, running, &r);
    assert_true(in_list(&r, "cancel", id));
    th_resp_free(&r);
    expect_status(jt_complete(H, &mb, id, 2, "{\"t\":2}", 1, &r), 200, &r, "B completes");
    th_resp_free(&r);
    int64_t a, l;
    jt_balance(H, ma.address, &a, &l);
    assert_int_equal(a, 0);
    jt_balance(H, mb.address, &a, &l);
    assert_int_equal(a, 975000); /* 1 AIT less 2.5 % */
    /* A was marked OFFLINE at some point or lost the lease: either way the admin view has it */
    th_req(H, "GET", "/v1/admin/miners", jt_admin(H), NULL, &r);
    expect_status(r.status, 200, &r, "admin miners");
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

static void test_max_attempts_fails(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("maxatt"), 1, "1"), 201);
    char id[64];
    assert_int_equal(
        jt_submit(H, &c, "{\"payload\":{\"type\":\"maxatt\"},\"max_price\":\"4\"}", id), 201);
    th_resp r;
    jt_beat(H, &m, 5, "[]", &r);
    assert_int_equal(jt_int(only_job(&r, id), "attempt"), 1);
    th_resp_free(&r);
    wait_job(id, "QUEUED", 1); /* lease lapsed: requeued, attempt kept */
    jt_beat(H, &m, 5, "[]", &r);
    assert_int_equal(jt_int(only_job(&r, id), "attempt"), 2);
    th_resp_free(&r);
    cJSON *j = jt_job(H, id, 15); /* held until terminal */
    if (strcmp(jt_str(j, "state"), "FAILED") != 0) {
        char *text = aitbc_json_print(j);
        fail_msg("not FAILED: %s", text);
    }
    assert_string_equal(jt_str(j, "payment_status"), "refunded");
    assert_string_equal(jt_str(cJSON_GetObjectItemCaseSensitive(j, "error"), "code"),
                        "lease_expired");
    cJSON_Delete(j);
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    th_req(H, "GET", path, c.key, NULL, &r);
    expect_status(r.status, 200, &r, "failed receipt");
    assert_string_equal(jt_str(r.json, "state"), "FAILED");
    assert_true(jt_node_verify(H, r.json));
    th_resp_free(&r);
    int64_t a, l;
    jt_balance(H, c.address, &a, &l);
    assert_int_equal(a, 10000000);
    assert_int_equal(l, 0);
    assert_true(jt_conserved(H));
}

static void test_ttl_expires_by_timer(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("ttl-run"), 1, "1"), 201);
    char id[64], path[160];
    assert_int_equal(jt_submit(H, &c,
                               "{\"payload\":{\"type\":\"nobody-does-this\"},"
                               "\"max_price\":\"3\",\"ttl_seconds\":1}",
                               id),
                     201);
    cJSON *j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "pending_reason"), "no_matching_miner");
    cJSON_Delete(j);
    /* nobody reads the job: the timer expires it, the long-poll below is woken by it */
    job_state_arg q = {id, "EXPIRED", -1};
    int64_t t0 = mono_ms();
    j = jt_job(H, id, 20);
    assert_string_equal(jt_str(j, "state"), "EXPIRED");
    assert_string_equal(jt_str(j, "payment_status"), "refunded");
    cJSON_Delete(j);
    assert_true(mono_ms() - t0 < 15000);
    assert_true(job_is(&q));
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    th_resp r;
    th_req(H, "GET", path, c.key, NULL, &r);
    check_error(&r, 404, "not_found", "never ran");
    th_resp_free(&r);

    /* a RUNNING job expires too; the miner is told to drop it and cannot complete it */
    assert_int_equal(jt_submit(H, &c,
                               "{\"payload\":{\"type\":\"ttl-run\"},\"max_price\":\"3\","
                               "\"ttl_seconds\":2}",
                               id),
                     201);
    jt_beat(H, &m, 5, "[]", &r);
    only_job(&r, id);
    th_resp_free(&r);
    char running[96];
    snprintf(running, sizeof running, "[\"%s\"]", id);
    int dropped = 0;
    int64_t deadline = mono_ms() + 20000;
    while (!dropped && mono_ms() < deadline) {
        jt_beat(H, &m, -1, running, &r); /* heartbeats keep the lease alive */
        dropped = in_list(&r, "cancel", id);
        th_resp_free(&r);
        if (!dropped) {
            cJSON *w = jt_job(H, id, 1);
            cJSON_Delete(w);
        }
    }
    assert_true(dropped);
    j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "state"), "EXPIRED");
    cJSON_Delete(j);
    expect_status(jt_complete(H, &m, id, 1, "{\"late\":true}", 1, &r), 409, &r, "after expiry");
    check_error(&r, 409, "lease_lost", "after expiry");
    th_resp_free(&r);
    int64_t a, l;
    jt_balance(H, c.address, &a, &l);
    assert_int_equal(a, 10000000);
    assert_int_equal(l, 0);
    assert_true(jt_conserved(H));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_failure_refunds),
        cmocka_unit_test(test_silent_miner_loses_job),
        cmocka_unit_test(test_max_attempts_fails),
        cmocka_unit_test(test_ttl_expires_by_timer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
