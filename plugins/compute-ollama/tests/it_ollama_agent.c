/* compute-ollama end to end in two processes on loopback: a coordinator (the job plugins) and a
 * miner node (miner-agent + compute-ollama) whose inference server is the stand-in of this test
 * process (ollama_standin.c on libmicrohttpd; no model weights exist here). A generation is paid
 * per token with a verifying receipt and the server's models are advertised; a server that drops
 * the stream fails the attempt as retryable, so the job is retried and then FAILED with the
 * stream error once attempts run out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent_th.h"
#include "ollama_standin.h"

static ollama_standin *S;
static th_host *C, *M;
static char ADDR[48];

static void generation_is_paid_per_token(void **state) {
    (void)state;
    cJSON *miner = at_miner_record(C, ADDR);
    char *models = cJSON_PrintUnformatted(
        cJSON_GetObjectItem(cJSON_GetObjectItem(miner, "capabilities"), "models"));
    assert_string_equal(models, "[\"tiny\",\"slow\",\"drop\"]");
    free(models);
    cJSON_Delete(miner);

    jt_client c;
    char id[64];
    jt_client_new(C, "10", &c);
    assert_int_equal(jt_submit(C, &c,
                               "{\"payload\":{\"type\":\"inference\",\"model\":\"tiny\","
                               "\"prompt\":\"count\",\"max_tokens\":5},\"max_price\":\"1\","
                               "\"constraints\":{\"models\":[\"tiny\"]}}",
                               id),
                     201);
    assert_true(at_wait_job(C, id, "COMPLETED", ADDR, 30000));
    cJSON *job = jt_job(C, id, 0);
    const cJSON *result = cJSON_GetObjectItem(job, "result");
    assert_string_equal(jt_str(result, "text"), "t0 t1 t2 t3 t4 ");
    assert_int_equal(jt_int(result, "tokens"), 5);
    assert_string_equal(jt_str(job, "price"), "0.05"); /* 5 tokens × 0.01 */
    cJSON_Delete(job);

    th_resp r;
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    assert_int_equal(th_req(C, "GET", path, c.key, NULL, &r), 0);
    assert_int_equal(jt_int(r.json, "units"), 5);
    assert_string_equal(jt_str(r.json, "unit_type"), "token");
    assert_int_equal(jt_cli_verify(C, r.json), 0);
    th_resp_free(&r);
}

static void dropped_stream_is_retried_then_fails(void **state) {
    (void)state;
    jt_client c;
    char id[64];
    jt_client_new(C, "10", &c);
    assert_int_equal(jt_submit(C, &c,
                               "{\"payload\":{\"type\":\"inference\",\"model\":\"drop\","
                               "\"prompt\":\"p\"},\"max_price\":\"1\"}",
                               id),
                     201);
    assert_true(at_wait_job(C, id, "FAILED", ADDR, 30000));
    cJSON *job = jt_job(C, id, 0);
    const cJSON *err = cJSON_GetObjectItem(job, "error");
    assert_string_equal(jt_str(err, "code"), "stream_interrupted");
    assert_int_equal(jt_int(job, "attempt"), 2); /* retryable: tried again, then out of attempts */
    assert_string_equal(jt_str(job, "payment_status"), "refunded");
    cJSON_Delete(job);
    assert_true(jt_conserved(C));
}

static int setup(void **state) {
    (void)state;
    S = ollama_standin_start();
    if (!S) return -1;
    char backend[256];
    snprintf(backend, sizeof backend, "  compute-ollama: { url: \"http://127.0.0.1:%d\" }\n",
             ollama_standin_port(S));
    return at_pair_start(&C, &M, ADDR, "unit_price: \"0.01\", unit_type: token", backend);
}

static int teardown(void **state) {
    (void)state;
    int rc = at_pair_stop(C, M);
    ollama_standin_stop(S);
    return rc;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generation_is_paid_per_token),
        cmocka_unit_test(dropped_stream_is_retried_then_fails),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
