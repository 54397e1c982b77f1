/* compute-ocr loaded by the real host: the config schema is enforced by --check-config, init
 * refuses a language that is not installed, and the registered compute:compute-ocr@1 table
 * recognises the shipped image when the compute-probe test plugin runs a job through it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "harness.h"
#include <aitbc/json.h>

static const char *const k_check[] = {"--check-config", NULL};

static void schema_is_checked(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(th_run_once("  compute-ocr: { default_lang: eng, max_pixels: 1000000, "
                                 "max_input_bytes: 65536, max_seconds: 5, pool_size: 1 }\n",
                                 NULL, k_check, &out),
                     0);
    assert_non_null(strstr(out, "config ok: 1 plugins"));
    free(out);
    assert_int_not_equal(th_run_once("  compute-ocr: { max_pixel: 5 }\n", NULL, k_check, &out), 0);
    assert_non_null(strstr(out, "max_pixel"));
    free(out);
    assert_int_not_equal(
        th_run_once("  compute-ocr: { max_seconds: \"soon\" }\n", NULL, k_check, &out), 0);
    assert_non_null(strstr(out, "max_seconds"));
    free(out);
}

static void init_refuses_bad_settings(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_not_equal(th_run_once("  compute-ocr: { default_lang: zz }\n", NULL, NULL, &out), 0);
    assert_non_null(strstr(out, "cannot load Tesseract language 'zz'"));
    free(out);
    assert_int_not_equal(th_run_once("  compute-ocr: { max_seconds: 0 }\n", NULL, NULL, &out), 0);
    /* Refused by the host against the schema's bounds, before init. */
    assert_non_null(strstr(out, "plugin 'compute-ocr': config key 'max_seconds' = 0 is out of "
                                "range (allowed 1..86400)"));
    free(out);
}

static char *image_payload(const char *lang) {
    FILE *f = fopen(OCR_TEST_DATA "/hello.png", "rb");
    assert_non_null(f);
    unsigned char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char b64[12000];
    sodium_bin2base64(b64, sizeof b64, buf, n, sodium_base64_VARIANT_ORIGINAL);
    char *payload = malloc(strlen(b64) + 128);
    sprintf(payload, "{\"type\":\"ocr\",\"image_base64\":\"%s\"%s%s%s}", b64,
            lang ? ",\"lang\":\"" : "", lang ? lang : "", lang ? "\"" : "");
    return payload;
}

static void registered_backend_runs_a_job(void **state) {
    (void)state;
    th_host *h = th_start("  compute-ocr: { pool_size: 1 }\n  compute-probe: {}\n", NULL);
    assert_non_null(h);

    th_resp r;
    assert_int_equal(th_req(h, "GET", "/v1/compute-probe/backends", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "backends"), 0);
    assert_string_equal(cJSON_GetObjectItem(b, "service")->valuestring, "compute:compute-ocr@1");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "job_types"), 0)->valuestring,
                        "ocr");
    char *models = aitbc_json_print(cJSON_GetObjectItem(b, "models"));
    assert_non_null(strstr(models, "\"tesseract:eng\""));
    free(models);
    th_resp_free(&r);

    char *payload = image_payload(NULL);
    assert_int_equal(th_req(h, "POST", "/v1/compute-probe/run", NULL, payload, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetObjectItem(r.json, "rc")->valueint, 0);
    const cJSON *result = cJSON_GetObjectItem(r.json, "result");
    assert_string_equal(cJSON_GetObjectItem(result, "text")->valuestring, "Invoice 2041 paid\n");
    assert_int_equal(cJSON_GetObjectItem(r.json, "units")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(r.json, "unit_type")->valuestring, "megapixel");
    assert_true(cJSON_GetObjectItem(r.json, "progress_calls")->valueint >= 2);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r.json, "bad_progress")));
    th_resp_free(&r);
    free(payload);

    payload = image_payload("klingon");
    assert_int_equal(th_req(h, "POST", "/v1/compute-probe/run", NULL, payload, &r), 0);
    assert_int_not_equal(cJSON_GetObjectItem(r.json, "rc")->valueint, 0);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "error"), "code")->valuestring,
        "unknown_language");
    th_resp_free(&r);
    free(payload);
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_is_checked),
        cmocka_unit_test(init_refuses_bad_settings),
        cmocka_unit_test(registered_backend_runs_a_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
