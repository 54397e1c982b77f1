/* A finished result survives the coordinator being away: the coordinator stops while a job runs
 * on the miner node, the result is spooled to disk, and after the coordinator comes back (same
 * port, same database) it is delivered exactly once — also when the miner node was killed -9
 * while holding it and started again. Paid once, funds conserved, spool empty. */
#include "agent_th.h"
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static th_host *C;
static th_host *M;

static int spooled(void *m) {
    return at_spooled(m) > 0;
}

/* A funded client's job running on the miner node, the coordinator stopped, the result spooled;
 * *before is the miner's balance before. */
static void result_held_while_coordinator_down(char addr[48], char id[64], int64_t *before) {
    int64_t locked;
    jt_client c;
    at_address(M, addr);
    jt_client_new(C, "10", &c);
    jt_balance(C, addr, before, &locked);
    at_submit(C, &c, "\"ms\":1000,\"steps\":2,\"units\":2,\"echo\":\"kept\"", "1", id);
    assert_true(at_wait_job(C, id, "RUNNING", addr, 10000));
    assert_int_equal(th_stop(C), 0);
    assert_true(th_wait_until(spooled, M, 15000));
}

/* The node's /healthz says what its agent last saw, in the status code and in the body (the
 * host keeps the body per health mask: it must follow the flip both ways). */
static int health_says(th_host *h, unsigned code, const char *status) {
    th_resp r;
    if (th_req(h, "GET", "/healthz", NULL, NULL, &r) != 0) return 0;
    int ok = r.status == code && strcmp(jt_str(r.json, "status"), status) == 0;
    th_resp_free(&r);
    return ok;
}

static int node_degraded(void *m) {
    return health_says(m, 503, "degraded");
}

static int node_healthy(void *m) {
    return health_says(m, 200, "ok");
}

static void paid_once(const char *addr, const char *id, int64_t before) {
    assert_true(at_wait_job(C, id, "COMPLETED", addr, 20000));
    cJSON *job = jt_job(C, id, 0);
    assert_int_equal(jt_int(job, "attempt"), 1);
    assert_string_equal(jt_str(cJSON_GetObjectItem(job, "result"), "echo"), "kept");
    cJSON_Delete(job);
    assert_true(at_wait_unspooled(M, 10000));
    int64_t avail, locked;
    jt_balance(C, addr, &avail, &locked);
    assert_int_equal(avail - before, 2 * 250000 - 12500); /* 2 units × 0.25, 2.5 % fee */
    assert_true(jt_conserved(C));
}

static void test_spooled_result_delivered_after_restart(void **st) {
    (void)st;
    char addr[48], id[64];
    int64_t before;
    assert_true(node_healthy(M));
    result_held_while_coordinator_down(addr, id, &before);
    assert_true(th_wait_until(node_degraded, M, 15000));
    assert_int_equal(th_restart(C, 1), 0);
    paid_once(addr, id, before);
    assert_true(at_log_has(M, "kept in the spool"));
    assert_true(th_wait_until(node_healthy, M, 15000));
}

static void test_spool_survives_kill9_of_the_miner(void **st) {
    (void)st;
    char addr[48], id[64];
    int64_t before;
    result_held_while_coordinator_down(addr, id, &before);
    assert_int_equal(th_kill(M), 128 + SIGKILL);
    assert_int_equal(at_spooled(M), 1);
    assert_int_equal(th_restart(C, 1), 0);
    assert_int_equal(th_restart(M, 0), 0);
    paid_once(addr, id, before);
}

static int setup(void **st) {
    (void)st;
    /* silence of 3 heartbeats would requeue the job: the outage must stay shorter */
    C = jt_start("heartbeat_interval_s: 10, lease_s: 60, max_attempts: 3, sweep_ms: 100");
    if (!C) return -1;
    M = at_miner(C, "unit_price: \"0.25\", poll_wait_s: 2, backoff_max_ms: 300");
    if (!M) return -1;
    char addr[48];
    at_address(M, addr);
    jt_track(addr);
    return at_wait_miner(C, addr, "ONLINE", 10000) ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    th_free(M);
    int rc = th_stop(C);
    th_free(C);
    return rc == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spooled_result_delivered_after_restart),
        cmocka_unit_test(test_spool_survives_kill9_of_the_miner),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
