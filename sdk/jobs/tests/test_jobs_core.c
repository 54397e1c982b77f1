/* Unit tests of the pure job logic: submit validation, matching, pricing, signed texts,
 * receipt signatures and cursors. */
#include "jobs_core.h"
#include <aitbc/errors.h>
#include <aitbc/util.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static int submit_rc(const char *text, jc_submit *s, aitbc_jobs_error *e) {
    cJSON *b = cJSON_Parse(text);
    memset(e, 0, sizeof *e);
    int rc = jc_parse_submit(b, s, e);
    cJSON_Delete(b);
    return rc;
}

static void test_submit_valid(void **st) {
    (void)st;
    jc_submit s;
    aitbc_jobs_error e;
    cJSON *b =
        cJSON_Parse("{\"payload\":{\"type\":\"inference\",\"prompt\":\"hi\"},"
                    "\"constraints\":{\"models\":[\"llama3\"],\"min_vram_gb\":24,"
                    "\"max_unit_price\":\"0.5\"},\"ttl_seconds\":60,\"max_price\":\"12.5\"}");
    assert_int_equal(jc_parse_submit(b, &s, &e), 0);
    assert_string_equal(s.job_type, "inference");
    assert_int_equal(s.ttl_s, 60);
    assert_int_equal(s.max_price, 12500000);
    assert_non_null(s.constraints);
    cJSON_Delete(b);
    b = cJSON_Parse("{\"payload\":{\"type\":\"ocr\"}}");
    assert_int_equal(jc_parse_submit(b, &s, &e), 0);
    assert_int_equal(s.ttl_s, JC_DEFAULT_TTL_S);
    assert_int_equal(s.max_price, 0);
    assert_null(s.constraints);
    cJSON_Delete(b);
}

static void test_submit_invalid(void **st) {
    (void)st;
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"[]", ""},
        {"{}", "payload"},
        {"{\"payload\":\"x\"}", "payload"},
        {"{\"payload\":{}}", "payload.type"},
        {"{\"payload\":{\"type\":\"BAD TYPE\"}}", "payload.type"},
        {"{\"payload\":{\"type\":7}}", "payload.type"},
        {"{\"payload\":{\"type\":\"x\"},\"extra\":1}", "extra"},
        {"{\"payload\":{\"type\":\"x\"},\"ttl_seconds\":0}", "ttl_seconds"},
        {"{\"payload\":{\"type\":\"x\"},\"ttl_seconds\":86401}", "ttl_seconds"},
        {"{\"payload\":{\"type\":\"x\"},\"ttl_seconds\":1.5}", "ttl_seconds"},
        {"{\"payload\":{\"type\":\"x\"},\"ttl_seconds\":\"9\"}", "ttl_seconds"},
        {"{\"payload\":{\"type\":\"x\"},\"max_price\":1}", "max_price"},
        {"{\"payload\":{\"type\":\"x\"},\"max_price\":\"-1\"}", "max_price"},
        {"{\"payload\":{\"type\":\"x\"},\"max_price\":\"1.1234567\"}", "max_price"},
        {"{\"payload\":{\"type\":\"x\"},\"max_price\":\"1e3\"}", "max_price"},
        {"{\"payload\":{\"type\":\"x\"},\"max_price\":\"99999999999999999999\"}", "max_price"},
        {"{\"payload\":{\"type\":\"x\"},\"constraints\":[]}", "constraints"},
        {"{\"payload\":{\"type\":\"x\"},\"constraints\":{\"foo\":1}}", "constraints.foo"},
        {"{\"payload\":{\"type\":\"x\"},\"constraints\":{\"models\":\"a\"}}", "constraints.models"},
        {"{\"payload\":{\"type\":\"x\"},\"constraints\":{\"models\":[1]}}", "constraints.models"},
        {"{\"payload\":{\"type\":\"x\"},\"constraints\":{\"min_vram_gb\":0}}",
         "constraints.min_vram_gb"},
        {"{\"payload\":{\"type\":\"x\"},\"constraints\":{\"miner\":\"ait1zz\"}}",
         "constraints.miner"},
        {"{\"payload\":{\"type\":\"x\"},\"constraints\":{\"gpu\":\"\"}}", "constraints.gpu"},
        {"{\"payload\":{\"type\":\"x\"},\"constraints\":{\"max_unit_price\":\"0.0000001\"}}",
         "constraints.max_unit_price"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jc_submit s;
        aitbc_jobs_error e;
        assert_int_equal(submit_rc(cases[i].body, &s, &e), -1);
        assert_int_equal(e.status, 400);
        assert_string_equal(e.code, "invalid_argument");
        if (strcmp(e.field, cases[i].field) != 0)
            fail_msg("case %zu (%s): field %s, want %s", i, cases[i].body, e.field, cases[i].field);
    }
}

static aitbc_jobs_miner miner(cJSON *caps, int64_t unit_price) {
    aitbc_jobs_miner m = {.address = "ait1"
                                     "0000000000000000000000000000000000000001",
                          .capabilities = caps,
                          .unit_price = unit_price,
                          .unit_type = "token",
                          .concurrency = 1};
    return m;
}

static void test_match(void **st) {
    (void)st;
    cJSON *caps = cJSON_Parse("{\"gpus\":[{\"name\":\"NVIDIA RTX 4090\",\"memory_mb\":24000},"
                              "{\"name\":\"NVIDIA A100\",\"memory_mb\":80000}],"
                              "\"models\":[\"llama3\",\"mistral\"],\"job_types\":[\"inference\"],"
                              "\"region\":\"eu\"}");
    aitbc_jobs_miner m = miner(caps, 100);
    struct {
        const char *type, *c;
        int64_t max;
        int want;
    } cases[] = {
        {"inference", NULL, 1000, JC_MATCH_OK},
        {"ocr", NULL, 1000, JC_MATCH_NO},
        {"inference", "{\"models\":[\"llama3\",\"mistral\"]}", 1000, JC_MATCH_OK},
        {"inference", "{\"models\":[\"llama3\",\"gpt\"]}", 1000, JC_MATCH_NO},
        {"inference", "{\"min_vram_gb\":80}", 1000, JC_MATCH_OK},
        {"inference", "{\"min_vram_gb\":81}", 1000, JC_MATCH_NO},
        {"inference", "{\"gpu\":\"a100\"}", 1000, JC_MATCH_OK},
        {"inference", "{\"gpu\":\"4090\",\"min_vram_gb\":40}", 1000, JC_MATCH_NO},
        {"inference", "{\"gpu\":\"H100\"}", 1000, JC_MATCH_NO},
        {"inference", "{\"region\":\"eu\"}", 1000, JC_MATCH_OK},
        {"inference", "{\"region\":\"us\"}", 1000, JC_MATCH_NO},
        {"inference", "{\"miner\":\"ait10000000000000000000000000000000000000001\"}", 1000,
         JC_MATCH_OK},
        {"inference", "{\"miner\":\"ait10000000000000000000000000000000000000002\"}", 1000,
         JC_MATCH_NO},
        {"inference", "{\"max_unit_price\":\"0.0001\"}", 1000, JC_MATCH_OK},
        {"inference", "{\"max_unit_price\":\"0.000099\"}", 1000, JC_MATCH_PRICE},
        {"inference", NULL, 99, JC_MATCH_PRICE},
        {"inference", NULL, 100, JC_MATCH_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *c = cases[i].c ? cJSON_Parse(cases[i].c) : NULL;
        int got = jc_match(cases[i].type, c, cases[i].max, &m);
        if (got != cases[i].want) fail_msg("case %zu: got %d want %d", i, got, cases[i].want);
        cJSON_Delete(c);
    }
    cJSON_Delete(caps);
}

static void test_price(void **st) {
    (void)st;
    jc_money m;
    assert_int_equal(jc_price(10, 100, 5000, 250, &m), 0);
    assert_int_equal(m.price, 1000);
    assert_int_equal(m.fee, 25);
    assert_int_equal(m.payout, 975);
    assert_int_equal(m.refund, 4000);
    /* capped by max_price */
    assert_int_equal(jc_price(1000, 100, 5000, 0, &m), 0);
    assert_int_equal(m.price, 5000);
    assert_int_equal(m.fee, 0);
    assert_int_equal(m.refund, 0);
    /* overflow of units × unit_price → max_price */
    assert_int_equal(jc_price(INT64_MAX, 3, 7, 10000, &m), 0);
    assert_int_equal(m.price, 7);
    assert_int_equal(m.fee, 7);
    assert_int_equal(m.payout, 0);
    /* fee rounds down; conservation: payout + fee + refund = max */
    assert_int_equal(jc_price(3, 3, 100, 3333, &m), 0);
    assert_int_equal(m.fee, 2);
    assert_int_equal(m.payout + m.fee + m.refund, 100);
    assert_int_equal(jc_price(1, INT64_MAX / 2, INT64_MAX, 9999, &m), 0);
    assert_int_equal(m.payout + m.fee + m.refund, INT64_MAX);
    assert_int_equal(jc_price(-1, 1, 1, 0, &m), AITBC_EINVAL);
    assert_int_equal(jc_price(1, 1, 1, 10001, &m), AITBC_EINVAL);
}

static void test_texts(void **st) {
    (void)st;
    char buf[256];
    assert_int_equal(jc_result_text("job_x", 2, "ab", 17, buf, sizeof buf), 29);
    assert_string_equal(buf, "aitbc-result-v1\njob_x\n2\nab\n17");
    assert_true(jc_register_text("00ff", 1700000000, buf, sizeof buf) > 0);
    assert_string_equal(buf, "aitbc-register\n00ff\n1700000000");
    assert_int_equal(jc_result_text("job_x", 2, "ab", 17, buf, 10), -1);
}

static void test_receipt_sign_verify(void **st) {
    (void)st;
    unsigned char seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)i;
    jc_key k;
    jc_key_from_seed(seed, &k);
    assert_int_equal(strlen(k.key_id), 16);
    cJSON *r = cJSON_Parse("{\"version\":1,\"receipt_id\":\"rcpt_a\",\"job_id\":\"job_b\","
                           "\"units\":5,\"price\":\"1.5\",\"miner_signature\":null}");
    assert_int_equal(jc_receipt_sign(r, &k), 0);
    assert_int_equal(jc_receipt_verify(r, k.pk_hex), 0);
    /* any change breaks it */
    cJSON_ReplaceItemInObjectCaseSensitive(r, "units", cJSON_CreateNumber(6));
    assert_int_equal(jc_receipt_verify(r, k.pk_hex), AITBC_ESIG);
    cJSON_ReplaceItemInObjectCaseSensitive(r, "units", cJSON_CreateNumber(5));
    assert_int_equal(jc_receipt_verify(r, k.pk_hex), 0);
    /* another key does not verify */
    seed[0] = 99;
    jc_key k2;
    jc_key_from_seed(seed, &k2);
    assert_int_equal(jc_receipt_verify(r, k2.pk_hex), AITBC_ESIG);
    /* the signed bytes are exactly the canonical JSON without signature (nulls dropped) */
    const char *sig = cJSON_GetObjectItem(r, "signature")->valuestring;
    const char *text = "{\"coordinator_key_id\":\"";
    char msg[512];
    snprintf(msg, sizeof msg,
             "%s%s\",\"job_id\":\"job_b\",\"price\":\"1.5\",\"receipt_id\":"
             "\"rcpt_a\",\"units\":5,\"version\":1}",
             text, k.key_id);
    unsigned char raw[64];
    assert_int_equal(aitbc_b64url_decode(sig, raw, sizeof raw), 64);
    assert_int_equal(crypto_sign_verify_detached(raw, (unsigned char *)msg, strlen(msg), k.pk), 0);
    cJSON_Delete(r);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_valid), cmocka_unit_test(test_submit_invalid),
        cmocka_unit_test(test_match),        cmocka_unit_test(test_price),
        cmocka_unit_test(test_texts),        cmocka_unit_test(test_receipt_sign_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
