/* The miner agent against a hostile coordinator (the hostile-coord test plugin in a second
 * aitbc-host): broken registration answers, garbage heartbeat answers, path-traversal ids, a job
 * type it does not serve, more jobs than slots, a body over its cap, deep nesting, invalid UTF-8,
 * 401, 429 and 500. The agent must stay up, report what it can report (invalid_payload,
 * unsupported_type, miner_busy), deliver the one good job with a valid signature — again after a
 * 500 — and exit cleanly. */
#include "agent_th.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static th_host *H, *M;

static cJSON *stats(void) {
    return at_get_json(H, "/v1/hostile/stats", NULL);
}

static int good_job_delivered(void *arg) {
    (void)arg;
    cJSON *s = stats();
    const char *good = jt_str(cJSON_GetObjectItem(s, "completions"), "job_good");
    int done = good && strcmp(good, "ok") == 0 && jt_int(s, "good_deliveries") >= 2;
    cJSON_Delete(s);
    return done;
}

static void test_hostile_answers_do_not_break_the_agent(void **st) {
    (void)st;
    char plugins[512];
    snprintf(plugins, sizeof plugins,
             "  miner-agent: { coordinator_url: \"http://127.0.0.1:%d\", concurrency: 1, "
             "poll_wait_s: 1, backoff_max_ms: 200, request_timeout_s: 5 }\n"
             "  compute-test: {}\n",
             th_http_port(H));
    M = th_start(plugins, NULL);
    assert_non_null(M);
    assert_true(th_wait_until(good_job_delivered, NULL, 60000));
    assert_true(at_wait_unspooled(M, 10000));

    cJSON *s = stats();
    const cJSON *done = cJSON_GetObjectItem(s, "completions");
    assert_string_equal(jt_str(done, "job_bad"), "invalid_payload");
    assert_string_equal(jt_str(done, "job_unknown"), "unsupported_type");
    assert_string_equal(jt_str(done, "job_many0"), "ok");
    assert_string_equal(jt_str(done, "job_many1"), "miner_busy");
    assert_null(cJSON_GetObjectItem(done, "job_noattempt")); /* nothing it could report */
    assert_true(jt_int(s, "registrations") >= 6);            /* 4 bad answers, then the 401 */
    cJSON_Delete(s);

    th_resp r;
    assert_int_equal(th_req(M, "GET", "/healthz", NULL, NULL, &r), 0);
    assert_true(r.status == 200 || r.status == 503);
    th_resp_free(&r);
    assert_int_equal(th_stop(M), 0);
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int says_unreachable(void *m) {
    return at_log_has(m, "not reachable");
}

/* Nobody listens at the coordinator URL: the node keeps retrying, reports itself degraded, and
 * still stops at once (nothing to drain, nobody to tell) although drain_grace_s is 30 s. */
static void test_no_coordinator(void **st) {
    (void)st;
    th_host *m = th_start("  miner-agent: { coordinator_url: \"http://127.0.0.1:1\", "
                          "backoff_max_ms: 200 }\n  compute-test: {}\n",
                          NULL);
    assert_non_null(m);
    assert_true(th_wait_until(says_unreachable, m, 10000));
    th_resp r;
    assert_int_equal(th_req(m, "GET", "/healthz", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 503);
    th_resp_free(&r);
    int64_t t0 = mono_ms();
    assert_int_equal(th_stop(m), 0);
    assert_true(mono_ms() - t0 < 5000);
    th_free(m);
}

static int setup(void **st) {
    (void)st;
    H = th_start("  hostile-coord: {}\n", NULL);
    return H ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    th_free(M);
    th_free(H);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_answers_do_not_break_the_agent),
        cmocka_unit_test(test_no_coordinator),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
