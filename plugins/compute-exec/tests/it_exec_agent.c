/* compute-exec end to end in two processes on loopback: a coordinator (the job plugins) and a
 * miner node (miner-agent + compute-exec). A client's job runs a configured command and comes back
 * with its output as the result and a receipt that verifies; a hung command ends as a FAILED job
 * with a timeout error and the client refunded; a type no backend runs is never dispatched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent_th.h"

static th_host *C, *M;
static char ADDR[48];

static void command_output_is_the_result(void **state) {
    (void)state;
    jt_client c;
    char id[64];
    jt_client_new(C, "10", &c);
    assert_int_equal(
        jt_submit(C, &c, "{\"payload\":{\"type\":\"echo\",\"n\":7},\"max_price\":\"1\"}", id), 201);
    assert_true(at_wait_job(C, id, "COMPLETED", ADDR, 30000));
    cJSON *job = jt_job(C, id, 0);
    char *result = cJSON_PrintUnformatted(cJSON_GetObjectItem(job, "result"));
    assert_string_equal(result, "{\"n\":7,\"type\":\"echo\"}"); /* the payload, through cat */
    free(result);
    assert_string_equal(jt_str(job, "price"), "0.01");
    cJSON_Delete(job);

    th_resp r;
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    assert_int_equal(th_req(C, "GET", path, c.key, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(jt_int(r.json, "units"), 1);
    assert_int_equal(jt_cli_verify(C, r.json), 0);
    th_resp_free(&r);
}

static void hung_command_fails_with_a_timeout(void **state) {
    (void)state;
    jt_client c;
    char id[64];
    jt_client_new(C, "10", &c);
    assert_int_equal(jt_submit(C, &c, "{\"payload\":{\"type\":\"hang\"},\"max_price\":\"1\"}", id),
                     201);
    assert_true(at_wait_job(C, id, "FAILED", ADDR, 30000));
    cJSON *job = jt_job(C, id, 0);
    const cJSON *err = cJSON_GetObjectItem(job, "error");
    assert_string_equal(jt_str(err, "code"), "timeout");
    assert_non_null(strstr(jt_str(err, "message"), "/bin/sleep did not finish within 1000 ms"));
    assert_string_equal(jt_str(job, "payment_status"), "refunded");
    assert_int_equal(jt_int(job, "attempt"), 1); /* not retryable: no second attempt */
    cJSON_Delete(job);
    assert_true(at_wait_unspooled(M, 10000)); /* the agent deletes it once it reads the answer */
    assert_true(jt_conserved(C));
}

typedef struct pending_q {
    const char *id;
} pending_q;

static int waits_for_a_matching_miner(void *p) {
    pending_q *q = p;
    cJSON *job = jt_job(C, q->id, 0);
    int ok = strcmp(jt_str(job, "state"), "QUEUED") == 0 && jt_str(job, "pending_reason") &&
             strcmp(jt_str(job, "pending_reason"), "no_matching_miner") == 0;
    cJSON_Delete(job);
    return ok;
}

static void unknown_type_is_not_dispatched(void **state) {
    (void)state;
    jt_client c;
    char id[64];
    jt_client_new(C, "10", &c);
    assert_int_equal(
        jt_submit(C, &c, "{\"payload\":{\"type\":\"nosuch\"},\"max_price\":\"1\"}", id), 201);
    pending_q q = {id};
    assert_true(th_wait_until(waits_for_a_matching_miner, &q, 10000));
}

static int setup(void **state) {
    (void)state;
    return at_pair_start(&C, &M, ADDR, "unit_price: \"0.01\", concurrency: 2",
                         "  compute-exec:\n    commands:\n"
                         "      - { type: echo, argv: [/bin/cat] }\n"
                         "      - { type: hang, argv: [/bin/sleep, \"60\"], timeout_s: 1 }\n");
}

static int teardown(void **state) {
    (void)state;
    return at_pair_stop(C, M);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(command_output_is_the_result),
        cmocka_unit_test(hung_command_fails_with_a_timeout),
        cmocka_unit_test(unknown_type_is_not_dispatched),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
