/* Two hosts of one node on one PostgreSQL schema (AITBC_TEST_PG_DSN; skipped without it): what
 * each keeps in memory stays correct when the other writes.
 *  - A miner that heartbeats only to host A stays in host B's online registry (B's in-memory
 *    heartbeat times of it go stale; B asks the table instead of dropping it).
 *  - A miner registered on A is online for B: a job queued on B says "queued", not
 *    "no_miner_online".
 *  - A miner re-registered on A with other capabilities gets work for its new capabilities when
 *    it polls B, which held its old profile in memory.
 *  - A key revoked on A is refused by B, which had it cached as valid. */
#include "jobs_th.h"
#include <aitbc/util.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static th_host *A, *B;

static void nap_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **st) {
    (void)st;
    A = jt_start("heartbeat_interval_s: 1, lease_s: 30");
    if (!A) return -1;
    B = th_start_beside(A, jt_plugins_yaml(), NULL);
    return B ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    int rc = th_end(&B);
    return th_end(&A) | rc;
}

static cJSON *job_on(th_host *h, const char *job_id) {
    return jt_job(h, job_id, 0);
}

/* A job of type on host h by a fresh client; its id into job_id. */
static void submit_on(th_host *h, const char *type, char job_id[64]) {
    jt_client c;
    jt_client_new(h, "10", &c);
    char body[256];
    snprintf(body, sizeof body,
             "{\"payload\":{\"type\":\"%s\"},\"max_price\":\"1\",\"ttl_seconds\":600}", type);
    assert_int_equal(jt_submit(h, &c, body, job_id), 201);
}

static void expect_reason(th_host *h, const char *job_id, const char *want) {
    cJSON *j = job_on(h, job_id);
    assert_string_equal(jt_str(j, "state"), "QUEUED");
    assert_string_equal(jt_str(j, "pending_reason"), want);
    cJSON_Delete(j);
}

/* m registers on A for type at price; a job of type queued on B then waits for the reason want
 * (as B sees the registry). */
static void miner_on_a_job_on_b(jt_miner *m, const char *type, const char *price, const char *want,
                                char job[64]) {
    char caps[128];
    snprintf(caps, sizeof caps, "{\"job_types\":[\"%s\"]}", type);
    assert_int_equal(jt_miner_register(A, m, caps, 1, price), 201);
    submit_on(B, type, job);
    expect_reason(B, job, want);
}

/* First (before other miners exist, whose silence would move the registry generation and hide
 * a wrong drop): m beats only to A for longer than the OFFLINE cutoff (3 heartbeats). B's
 * memory last saw m when B first asked about it; B must not take m for silent. m asks more than
 * the job pays, so its heartbeats do not take the job, and B names the price while it knows m. */
static void test_beating_elsewhere_is_not_silent(void **st) {
    (void)st;
    jt_miner m;
    char job[64];
    /* B holds m after this, with this moment's heartbeat time */
    miner_on_a_job_on_b(&m, "t_far", "5", "price_too_low", job);
    th_resp r;
    for (int i = 0; i < 16; i++) { /* 4.8 s of heartbeats every 0.3 s, all to A */
        assert_int_equal(jt_beat(A, &m, -1, NULL, &r), 200);
        th_resp_free(&r);
        nap_ms(300);
    }
    expect_reason(B, job, "price_too_low");
}

static void test_registered_elsewhere_is_online(void **st) {
    (void)st;
    jt_miner m;
    char job[64];
    miner_on_a_job_on_b(&m, "t_seen", "0.1", "queued", job);
}

/* The job ids in a poll answer's "jobs". */
static int answer_has(const th_resp *r, const char *job_id) {
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(r->json, "jobs")) {
        if (strcmp(jt_str(j, "job_id"), job_id) == 0) return 1;
    }
    return 0;
}

static void test_profile_changed_elsewhere(void **st) {
    (void)st;
    jt_miner m;
    th_resp r;
    assert_int_equal(jt_miner_register(A, &m, "{\"job_types\":[\"t_old\"]}", 1, "0.1"), 201);
    assert_int_equal(jt_beat(B, &m, 0, NULL, &r), 200); /* B holds the t_old profile now */
    th_resp_free(&r);
    /* Re-registered on A (same key pair, a later timestamp): new capabilities, new API key. */
    char *body =
        jt_register_body(&m, aitbc_now_ms() / 1000 + 1, "{\"job_types\":[\"t_new\"]}", 1, "0.1");
    assert_int_equal(th_req(A, "POST", "/v1/miners/register", NULL, body, &r), 0);
    free(body);
    assert_int_equal(r.status, 200);
    snprintf(m.key, sizeof m.key, "%s", jt_str(r.json, "api_key"));
    th_resp_free(&r);
    char job[64];
    submit_on(A, "t_new", job);
    assert_int_equal(jt_beat(B, &m, 0, NULL, &r), 200);
    assert_true(answer_has(&r, job));
    th_resp_free(&r);
}

static void test_revoked_elsewhere(void **st) {
    (void)st;
    jt_client c;
    jt_client_new(A, "0", &c);
    th_resp r;
    assert_int_equal(th_req(B, "GET", "/v1/account", c.key, NULL, &r), 0);
    assert_int_equal(r.status, 200); /* B has the key cached as valid now */
    char key_id[64];
    snprintf(key_id, sizeof key_id, "%s", jt_str(r.json, "key_id"));
    th_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/keys/%s", key_id);
    assert_int_equal(th_req(A, "DELETE", path, jt_admin(A), NULL, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(th_req(B, "GET", "/v1/account", c.key, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    th_resp_free(&r);
}

int main(void) {
    if (!th_on_postgres()) {
        fprintf(stderr, "it_two_hosts: needs AITBC_TEST_PG_DSN (several hosts share PostgreSQL "
                        "only); skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beating_elsewhere_is_not_silent),
        cmocka_unit_test(test_registered_elsewhere_is_online),
        cmocka_unit_test(test_profile_changed_elsewhere),
        cmocka_unit_test(test_revoked_elsewhere),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
