/* Unit tests of the miner agent's pure parts: reading heartbeat answers as hostile input, the
 * signed registration and completion bodies (checked with the SDK's verifier against the texts
 * of API.md), the backoff, and the hardware parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "miner_agent.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ma_agent *agent(void) {
    static ma_agent a;
    static int ready;
    if (!ready) {
        unsigned char seed[32];
        for (int i = 0; i < 32; i++)
            seed[i] = (unsigned char)i;
        jc_key_from_seed(seed, &a.key);
        aitbc_address_from_pubkey(a.key.pk, a.address);
        a.cfg.concurrency = 2;
        snprintf(a.cfg.unit_price, sizeof a.cfg.unit_price, "0.25");
        snprintf(a.cfg.unit_type, sizeof a.cfg.unit_type, "job");
        ready = 1;
    }
    return &a;
}

static void test_job_id(void **st) {
    (void)st;
    assert_true(ma_job_id_ok("job_abcdefghijklmnopqrstuvwxyz"));
    assert_true(ma_job_id_ok("A-b_9"));
    assert_false(ma_job_id_ok(""));
    assert_false(ma_job_id_ok(NULL));
    assert_false(ma_job_id_ok("../etc/passwd"));
    assert_false(ma_job_id_ok("job.1"));
    assert_false(ma_job_id_ok("job/1"));
    char longid[64];
    memset(longid, 'a', sizeof longid - 1);
    longid[63] = '\0';
    assert_false(ma_job_id_ok(longid));
}

static ma_answer parse(const char *text, int *rc) {
    cJSON *j = cJSON_Parse(text);
    ma_answer a;
    *rc = ma_wire_parse_answer(j, &a);
    cJSON_Delete(j);
    return a;
}

static void test_answer_good(void **st) {
    (void)st;
    int rc;
    ma_answer a = parse("{\"jobs\":[{\"job_id\":\"job_a\",\"attempt\":2,\"payload\":{\"type\":"
                        "\"ocr\",\"x\":1},\"lease_expires_at\":\"t\"}],\"cancel\":[\"job_b\"],"
                        "\"next_heartbeat_s\":7}",
                        &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(a.njobs, 1);
    assert_string_equal(a.jobs[0].job_id, "job_a");
    assert_int_equal(a.jobs[0].attempt, 2);
    assert_string_equal(a.jobs[0].type, "ocr");
    assert_non_null(a.jobs[0].payload);
    assert_int_equal(a.ncancel, 1);
    assert_string_equal(a.cancel[0], "job_b");
    assert_int_equal(a.next_heartbeat_s, 7);
    ma_answer_free(&a);
}

static void test_answer_hostile(void **st) {
    (void)st;
    int rc;
    ma_answer a = parse("[1,2]", &rc);
    assert_int_equal(rc, AITBC_EINVAL);
    a = parse("{\"jobs\":\"x\",\"cancel\":{},\"next_heartbeat_s\":-5}", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(a.njobs + a.ncancel, 0);
    assert_int_equal(a.next_heartbeat_s, 0);
    ma_answer_free(&a);
    /* unusable ids and attempts are skipped; a usable id with a bad payload is kept to be
     * failed; cancel ids that are not ids are skipped */
    a = parse("{\"jobs\":[1,{\"job_id\":\"../x\",\"attempt\":1},{\"job_id\":\"job_c\"},"
              "{\"job_id\":\"job_d\",\"attempt\":1.5},{\"job_id\":\"job_e\",\"attempt\":1,"
              "\"payload\":[]},{\"job_id\":\"job_f\",\"attempt\":1,\"payload\":{\"type\":7}}],"
              "\"cancel\":[3,null,\"a/b\",\"job_g\"],\"next_heartbeat_s\":1e300}",
              &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(a.njobs, 2);
    assert_string_equal(a.jobs[0].job_id, "job_e");
    assert_null(a.jobs[0].payload);
    assert_non_null(a.jobs[0].error);
    assert_null(a.jobs[1].payload);
    assert_int_equal(a.ncancel, 1);
    assert_string_equal(a.cancel[0], "job_g");
    assert_int_equal(a.next_heartbeat_s, 0);
    ma_answer_free(&a);
}

static void test_register_body(void **st) {
    (void)st;
    ma_agent *a = agent();
    cJSON *caps = cJSON_Parse("{\"job_types\":[\"ocr\"],\"gpus\":[],\"models\":[]}");
    char *body = ma_wire_register_body(a, 1764000000, caps);
    cJSON *b = cJSON_Parse(body);
    assert_non_null(b);
    char text[160];
    jc_register_text(a->key.pk_hex, 1764000000, text, sizeof text);
    assert_string_equal(cJSON_GetObjectItem(b, "public_key")->valuestring, a->key.pk_hex);
    assert_int_equal(aitbc_ed25519_verify_b64(a->key.pk_hex,
                                              cJSON_GetObjectItem(b, "signature")->valuestring,
                                              text, strlen(text)),
                     0);
    assert_string_equal(cJSON_GetObjectItem(b, "unit_price")->valuestring, "0.25");
    assert_int_equal(cJSON_GetObjectItem(b, "concurrency")->valueint, 2);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "capabilities"), "job_types"));
    cJSON_Delete(b);
    free(body);
    cJSON_Delete(caps);
}

static void test_result_body(void **st) {
    (void)st;
    ma_agent *a = agent();
    /* keys out of order, a float, non-ASCII and a null: the body carries the canonical text */
    cJSON *result = cJSON_Parse("{\"z\":1.5,\"a\":\"\\u00fc\",\"n\":null,\"k\":[3,2]}");
    char *body = ma_wire_result_body(a, "job_x", 3, result, 42);
    assert_non_null(strstr(body, "\"result\":{\"a\":\"\xc3\xbc\",\"k\":[3,2],\"z\":1.5}"));
    cJSON *b = aitbc_json_parse_strict(body, strlen(body));
    assert_non_null(b);
    char sha[65], text[256];
    assert_int_equal(aitbc_json_sha256_hex(cJSON_GetObjectItem(b, "result"), sha), 0);
    char want[65];
    assert_int_equal(aitbc_json_sha256_hex(result, want), 0);
    assert_string_equal(sha, want); /* the coordinator's hash of what it receives = ours */
    jc_result_text("job_x", 3, sha, 42, text, sizeof text);
    assert_int_equal(aitbc_ed25519_verify_b64(
                         a->key.pk_hex, cJSON_GetObjectItem(b, "miner_signature")->valuestring,
                         text, strlen(text)),
                     0);
    assert_int_equal(cJSON_GetObjectItem(b, "attempt")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(b, "units")->valueint, 42);
    cJSON_Delete(b);
    free(body);
    cJSON_Delete(result);
}

static void test_error_body(void **st) {
    (void)st;
    /* a message cut at 1024 bytes must not end in half a UTF-8 sequence */
    char msg[2000];
    size_t n = 0;
    while (n + 2 < sizeof msg - 1) {
        msg[n++] = '\xc3';
        msg[n++] = '\xbc';
    }
    msg[n] = '\0';
    char *body = ma_wire_error_body(2, "timeout", msg, 1);
    cJSON *b = aitbc_json_parse_strict(body, strlen(body)); /* valid UTF-8 throughout */
    assert_non_null(b);
    const cJSON *e = cJSON_GetObjectItem(b, "error");
    assert_string_equal(cJSON_GetObjectItem(e, "code")->valuestring, "timeout");
    size_t len = strlen(cJSON_GetObjectItem(e, "message")->valuestring);
    assert_true(len <= 1024 && len % 2 == 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(b, "retryable")));
    cJSON_Delete(b);
    free(body);
}

static void test_backoff(void **st) {
    (void)st;
    for (int n = 0; n < 40; n++) {
        int64_t d = ma_backoff_ms(n, 30000);
        int64_t full = n < 7 ? 250LL << n : 30000;
        if (full > 30000) full = 30000;
        assert_true(d >= full / 2 && d <= full);
    }
    assert_true(ma_backoff_ms(1000, 500) <= 500);
}

static void test_hardware(void **st) {
    (void)st;
    cJSON *g = ma_hw_parse_nvidia("NVIDIA GeForce RTX 4090, 24564\n"
                                  "Tesla T4 , 15360\r\n"
                                  "broken line\n, 100\nNVIDIA A100, lots\nX, -5\n");
    assert_int_equal(cJSON_GetArraySize(g), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(g, 0), "name")->valuestring,
                        "NVIDIA GeForce RTX 4090");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(g, 1), "memory_mb")->valueint, 15360);
    cJSON_Delete(g);
    g = ma_hw_parse_nvidia(NULL);
    assert_int_equal(cJSON_GetArraySize(g), 0);
    cJSON_Delete(g);

    char model[128];
    ma_hw_parse_cpu_model("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC "
                          "7B13\nmodel name\t: other\n",
                          model, sizeof model);
    assert_string_equal(model, "AMD EPYC 7B13");
    ma_hw_parse_cpu_model("nothing here", model, sizeof model);
    assert_string_equal(model, "");
    assert_int_equal(ma_hw_parse_mem_mb("MemTotal:       16384000 kB\nMemFree: 1 kB\n"), 16000);
    assert_int_equal(ma_hw_parse_mem_mb("garbage"), -1);

    char why[160];
    cJSON *o = cJSON_Parse("{\"gpus\":[{\"name\":\"RTX\",\"memory_mb\":8000}],\"cpu_cores\":4}");
    assert_int_equal(ma_hw_check_override(o, why, sizeof why), 0);
    ma_hw hw = {cJSON_CreateArray(), "cpu", 2, 1000};
    ma_hw_override(&hw, o);
    assert_int_equal(cJSON_GetArraySize(hw.gpus), 1);
    assert_int_equal(hw.cpu_cores, 4);
    assert_int_equal(hw.memory_mb, 1000);
    ma_hw_free(&hw);
    cJSON_Delete(o);
    const char *bad[] = {"[]",
                         "{\"gpu\":[]}",
                         "{\"gpus\":[{\"name\":\"\",\"memory_mb\":1}]}",
                         "{\"gpus\":[{\"name\":\"x\"}]}",
                         "{\"cpu_cores\":-1}",
                         "{\"cpu_model\":5}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o = cJSON_Parse(bad[i]);
        assert_int_equal(ma_hw_check_override(o, why, sizeof why), AITBC_EINVAL);
        cJSON_Delete(o);
    }
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_id),         cmocka_unit_test(test_answer_good),
        cmocka_unit_test(test_answer_hostile), cmocka_unit_test(test_register_body),
        cmocka_unit_test(test_result_body),    cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_backoff),        cmocka_unit_test(test_hardware),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
