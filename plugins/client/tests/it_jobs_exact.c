/* Numbers reach everyone exactly as the client sent them: the job (GET), the miner's assignment
 * (poll), job_updates events (WebSocket) and the stored result all carry the same doubles, so the
 * receipt's hashes are the hashes of what each side received. Edge doubles: 0.1 + 0.2, 1e21,
 * 5e-324, DBL_MAX, -0, one ulp above 1, and a number longer than cJSON reads in one go. */
#include "jobs_th.h"
#include "ws_client.h"
#include <aitbc/json.h>
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static th_host *H;
static wsc_loop *L;

/* 0.1 to 57 digits plus a tail that does not change the double: 65 characters. */
#define LONG_TENTH "0.10000000000000000555111512312578270211815834045410156250000001"

static const char k_payload[] = "{\"type\":\"exact\",\"sum\":0.30000000000000004,\"big\":1e21,"
                                "\"tiny\":5e-324,\"max\":1.7976931348623157e308,\"neg0\":-0,"
                                "\"ulp\":1.0000000000000002,\"long\":" LONG_TENTH "}";
static const char k_result[] =
    "{\"sum\":0.30000000000000004,\"tiny\":5e-324,\"ulp\":1.0000000000000002}";

typedef struct expected {
    const char *key;
    double v;
} expected;

static expected k_payload_numbers[] = {
    {"sum", 0.1 + 0.2}, {"big", 1e21}, {"tiny", 4.9406564584124654e-324},
    {"max", DBL_MAX},   {"neg0", 0.0}, {"ulp", 1.0 + DBL_EPSILON},
    {"long", 0.1},      {NULL, 0}};
static expected k_result_numbers[] = {
    {"sum", 0.1 + 0.2}, {"tiny", 4.9406564584124654e-324}, {"ulp", 1.0 + DBL_EPSILON}, {NULL, 0}};

static void expect_numbers(const cJSON *o, const expected *want, const char *where) {
    for (const expected *e = want; e->key; e++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, e->key);
        if (!cJSON_IsNumber(n) || n->valuedouble != e->v)
            fail_msg("%s: %s is %.17g, want %.17g", where, e->key, n ? n->valuedouble : -1.0, e->v);
    }
}

static void sha_of(const cJSON *v, char out[65]) {
    assert_int_equal(aitbc_json_sha256_hex(v, out), 0);
}

static void test_edge_doubles_survive_every_path(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &m, "{\"job_types\":[\"exact\"]}", 1, "1"), 201);
    wsc *w = wsc_connect(L, th_ws_port(H), c.key, 5000);
    assert_true(wsc_is_open(w));
    assert_int_equal(wsc_subscribe(w, "job_updates", 5000), 0);

    char body[1024], id[64];
    snprintf(body, sizeof body, "{\"payload\":%s,\"max_price\":\"2\"}", k_payload);
    assert_int_equal(jt_submit(H, &c, body, id), 201);

    /* the job as its client reads it */
    char path[128], got_sha[65], miner_sha[65];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    th_resp r;
    assert_int_equal(th_req(H, "GET", path, c.key, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "0.30000000000000004"));
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(r.json, "payload");
    expect_numbers(payload, k_payload_numbers, "GET payload");
    sha_of(payload, got_sha);
    th_resp_free(&r);

    /* the job as its miner receives it */
    assert_int_equal(jt_beat(H, &m, 5, "[]", &r), 200);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(r.json, "jobs");
    assert_int_equal(cJSON_GetArraySize(jobs), 1);
    payload = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(jobs, 0), "payload");
    expect_numbers(payload, k_payload_numbers, "assigned payload");
    sha_of(payload, miner_sha);
    assert_string_equal(miner_sha, got_sha);
    th_resp_free(&r);
    assert_int_equal(jt_complete(H, &m, id, 1, k_result, 1, &r), 200);
    th_resp_free(&r);

    /* every job_updates frame carries the same numbers, up to COMPLETED with the result */
    for (int done = 0; !done;) {
        cJSON *msg = wsc_recv_json(w, 5000);
        if (!msg) fail_msg("no COMPLETED job_updates event for %s", id);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(msg, "params"), "data");
        if (jt_str(d, "job_id") && strcmp(jt_str(d, "job_id"), id) == 0) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(d, "payload");
            if (p) expect_numbers(p, k_payload_numbers, "event payload");
            done = strcmp(jt_str(d, "state"), "COMPLETED") == 0;
            if (done)
                expect_numbers(cJSON_GetObjectItemCaseSensitive(d, "result"), k_result_numbers,
                               "event result");
        }
        cJSON_Delete(msg);
    }

    /* the stored result reads back exactly, and the receipt hashes what both sides hold */
    cJSON *job = jt_job(H, id, 0);
    assert_non_null(job);
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(job, "result");
    expect_numbers(result, k_result_numbers, "GET result");
    char result_sha[65];
    sha_of(result, result_sha);
    cJSON_Delete(job);
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    assert_int_equal(th_req(H, "GET", path, c.key, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    const cJSON *receipt = cJSON_GetObjectItemCaseSensitive(r.json, "receipt");
    if (!receipt) receipt = r.json;
    assert_string_equal(jt_str(receipt, "payload_sha256"), miner_sha);
    assert_string_equal(jt_str(receipt, "result_sha256"), result_sha);
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

/* The parse side on its own: a number longer than the 63 characters older cJSON releases read
 * is still one exact number (the cJSON we build with reads it whole; this guards a downgrade),
 * and only numbers change form when printed (strings holding digits stay as sent). */
static void test_long_number_tokens_parse(void **st) {
    (void)st;
    const char text[] = "{\"a\":[" LONG_TENTH ",-" LONG_TENTH "e-1],\"s\":\"" LONG_TENTH "\\\"1\"}";
    cJSON *j = aitbc_json_parse_strict(text, strlen(text));
    assert_non_null(j);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "a");
    assert_true(cJSON_GetArrayItem(a, 0)->valuedouble == 0.1);
    assert_true(cJSON_GetArrayItem(a, 1)->valuedouble == strtod("-" LONG_TENTH "e-1", NULL));
    assert_string_equal(jt_str(j, "s"), LONG_TENTH "\"1");
    char *out = aitbc_json_print(j);
    assert_string_equal(out, "{\"a\":[0.1,-0.01],\"s\":\"" LONG_TENTH "\\\"1\"}");
    free(out);
    cJSON_Delete(j);
    const char bad[] = "[" LONG_TENTH "e]";
    assert_null(aitbc_json_parse_strict(bad, strlen(bad)));
}

int main(void) {
    H = jt_start_ex("heartbeat_interval_s: 30, lease_s: 60, max_attempts: 3",
                    "websocket: { listen: \"127.0.0.1:0\" }\n");
    L = H ? wsc_loop_new() : NULL;
    if (!L) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_doubles_survive_every_path),
        cmocka_unit_test(test_long_number_tokens_parse),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wsc_loop_free(L);
    int st = th_stop(H);
    th_free(H);
    return rc ? rc : st;
}
