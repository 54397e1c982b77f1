/* Real OCR end to end, in two processes on loopback: a coordinator (the plugins of
 * config/coordinator.yaml, plus explorer for balances) and a miner node (miner-agent +
 * compute-ocr, as config/miner.yaml). A client's OCR job on a shipped PNG comes back with the
 * right text, a receipt that verifies with `aitbc-host --verify-receipt`, `aitbc receipt verify`
 * and with Node's own Ed25519, and the miner is paid. Corrupt, oversized and unknown-language
 * images end as FAILED jobs with a clear error. The shipped configs pass --check-config. */
#include "agent_th.h"
#include <aitbc/json.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

static th_host *C, *M;
static char ADDR[48];

/* {"type":"ocr","image_base64":…} of bytes[0..n), plus members (may be ""). Caller frees. */
static char *ocr_body(const unsigned char *bytes, size_t n, const char *members) {
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap), *body = malloc(cap + 256);
    sodium_bin2base64(b64, cap, bytes, n, sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, cap + 256,
             "{\"payload\":{\"type\":\"ocr\",\"image_base64\":\"%s\"%s},\"max_price\":\"1\"}", b64,
             members);
    free(b64);
    return body;
}

static char *hello_png_body(const char *members) {
    unsigned char buf[8192];
    FILE *f = fopen(OCR_TEST_DATA "/hello.png", "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return ocr_body(buf, n, members);
}

static void test_ocr_job_end_to_end(void **st) {
    (void)st;
    jt_client c;
    char id[64], path[160];
    int64_t before, locked, after;
    jt_client_new(C, "10", &c);
    jt_balance(C, ADDR, &before, &locked);
    char *body = hello_png_body("");
    assert_int_equal(jt_submit(C, &c, body, id), 201);
    free(body);
    assert_true(at_wait_job(C, id, "COMPLETED", ADDR, 60000));
    cJSON *job = jt_job(C, id, 0);
    const cJSON *result = cJSON_GetObjectItem(job, "result");
    assert_string_equal(jt_str(result, "text"), "Invoice 2041 paid\n");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(result, "confidence")));
    assert_string_equal(jt_str(job, "price"), "0.01"); /* one started megapixel */
    cJSON_Delete(job);

    th_resp r;
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    assert_int_equal(th_req(C, "GET", path, c.key, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(jt_str(r.json, "unit_type"), "megapixel");
    assert_string_equal(jt_str(r.json, "miner"), ADDR);
    assert_int_equal(jt_cli_verify(C, r.json), 0);
    assert_true(jt_node_verify(C, r.json));
#ifdef AITBC_CLI_BIN
    /* What a client does with the receipt it got. */
    assert_int_equal(jt_verify_with(C, r.json, "'" AITBC_CLI_BIN "' receipt verify"), 0);
#endif
    th_resp_free(&r);

    jt_balance(C, ADDR, &after, &locked);
    assert_int_equal(after - before, 10000 - 250); /* 0.01 AIT minus the 2.5 % fee */
    assert_true(jt_conserved(C));
}

static void expect_failed(const jt_client *c, char *body, const char *code) {
    char id[64];
    assert_int_equal(jt_submit(C, c, body, id), 201);
    free(body);
    assert_true(at_wait_job(C, id, "FAILED", ADDR, 60000));
    cJSON *job = jt_job(C, id, 0);
    const cJSON *err = cJSON_GetObjectItem(job, "error");
    if (strcmp(jt_str(err, "code"), code) != 0) {
        char *text = cJSON_PrintUnformatted(err);
        fail_msg("want %s, got %s", code, text);
    }
    assert_true(strlen(jt_str(err, "message")) > 10);
    assert_string_equal(jt_str(job, "payment_status"), "refunded");
    cJSON_Delete(job);
}

static void test_bad_images_fail_clearly(void **st) {
    (void)st;
    jt_client c;
    jt_client_new(C, "10", &c);
    /* a PNG signature followed by garbage */
    unsigned char corrupt[600] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    for (size_t i = 8; i < sizeof corrupt; i++)
        corrupt[i] = (unsigned char)(i * 37);
    expect_failed(&c, ocr_body(corrupt, sizeof corrupt, ""), "corrupt_image");
    /* more bytes than this miner's max_input_bytes (8192) */
    unsigned char *big = calloc(1, 20000);
    memcpy(big, corrupt, 8);
    expect_failed(&c, ocr_body(big, 20000, ""), "image_too_large");
    free(big);
    expect_failed(&c, hello_png_body(",\"lang\":\"zz\""), "unknown_language");
    assert_true(at_wait_unspooled(M, 10000));
    assert_true(jt_conserved(C));
}

static int check_config(const char *name) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s/config/%s' --check-config >/dev/null 2>&1",
             AITBC_HOST_BIN, AITBC_SOURCE_DIR, name);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_shipped_configs_check(void **st) {
    (void)st;
    assert_int_equal(check_config("coordinator.yaml"), 0);
    assert_int_equal(check_config("miner.yaml"), 0);
#ifdef AITBC_FULL_YAML_PLUGINS /* a build without one of its plugins cannot load it */
    assert_int_equal(check_config("full.yaml"), 0);
#endif
}

static int setup(void **st) {
    (void)st;
    return at_pair_start(&C, &M, ADDR, "unit_price: \"0.01\", unit_type: megapixel",
                         "  compute-ocr: { pool_size: 1, max_input_bytes: 8192 }\n");
}

static int teardown(void **st) {
    (void)st;
    return at_pair_stop(C, M);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ocr_job_end_to_end),
        cmocka_unit_test(test_bad_images_fail_clearly),
        cmocka_unit_test(test_shipped_configs_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
