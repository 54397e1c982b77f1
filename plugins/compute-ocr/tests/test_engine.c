/* compute-ocr engine, called directly with real payloads on real Tesseract: the shipped images
 * are recognised, and every hostile input ends as a failure with a clear error, never a crash. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include <aitbc/errors.h>
#include <aitbc/util.h>
#include "../ocr.h"
#include "compute_probe.h"

static ocr_engine *g_engine;
static char *g_png_b64, *g_tif_b64;
static unsigned char *g_png;
static size_t g_png_len;

static const ocr_config k_cfg = {NULL, "eng", 1 << 20, 4000000, 30000, 2};

static unsigned char *read_file(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", OCR_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static char *b64(const unsigned char *data, size_t len) {
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(cap);
    sodium_bin2base64(text, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
    return text;
}

static int setup(void **state) {
    (void)state;
    char err[256] = "";
    if (ocr_engine_new(&k_cfg, &g_engine, err, sizeof err) != 0) {
        fprintf(stderr, "engine: %s\n", err);
        return -1;
    }
    size_t tif_len;
    unsigned char *tif = read_file("hello.tif", &tif_len);
    g_png = read_file("hello.png", &g_png_len);
    if (!tif || !g_png) return -1;
    g_png_b64 = b64(g_png, g_png_len);
    g_tif_b64 = b64(tif, tif_len);
    free(tif);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ocr_engine_free(g_engine);
    free(g_png_b64);
    free(g_tif_b64);
    free(g_png);
    return 0;
}

/* Runs payload (JSON text with one %s for the image) on g_engine. */
static int run_with(ocr_engine *e, const char *fmt, const char *image, compute_probe *probe,
                    aitbc_compute_out *out) {
    size_t cap = strlen(fmt) + (image ? strlen(image) : 0) + 1;
    char *text = malloc(cap);
    snprintf(text, cap, fmt, image ? image : "");
    cJSON *payload = cJSON_Parse(text);
    free(text);
    assert_non_null(payload);
    memset(out, 0, sizeof *out);
    int rc = ocr_engine_run(e, payload, &probe->ctl, out);
    cJSON_Delete(payload);
    const char *broken = compute_probe_violation(rc, out);
    if (broken) fail_msg("compute@1 contract: %s", broken);
    return rc;
}

static const char *result_text(const aitbc_compute_out *out) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out->result, "text"));
}

static void recognises_png_and_bills_megapixels(void **state) {
    (void)state;
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(
        run_with(g_engine, "{\"type\":\"ocr\",\"image_base64\":\"%s\"}", g_png_b64, &probe, &out),
        0);
    assert_string_equal(result_text(&out), "Invoice 2041 paid\n");
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(out.result, "confidence");
    assert_true(cJSON_IsNumber(conf) && conf->valueint >= 60 && conf->valueint <= 100);
    assert_null(cJSON_GetObjectItemCaseSensitive(out.result, "words"));
    assert_int_equal(out.units, 1); /* 800 × 160 = 0.128 MP, a started megapixel */
    assert_string_equal(out.unit_type, "megapixel");
    assert_true(probe.progress_calls >= 2);
    assert_false(probe.went_backwards);
    assert_false(probe.out_of_range);
    compute_probe_out_reset(&out);
}

static void recognises_tiff_with_words(void **state) {
    (void)state;
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(run_with(g_engine,
                              "{\"type\":\"ocr\",\"image_base64\":\"%s\",\"lang\":\"eng\","
                              "\"words\":true}",
                              g_tif_b64, &probe, &out),
                     0);
    assert_string_equal(result_text(&out), "Invoice 2041 paid\n");
    const cJSON *words = cJSON_GetObjectItemCaseSensitive(out.result, "words");
    assert_int_equal(cJSON_GetArraySize(words), 3);
    const cJSON *w = cJSON_GetArrayItem(words, 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(w, "text")), "2041");
    const cJSON *box = cJSON_GetObjectItem(w, "box");
    assert_int_equal(cJSON_GetArraySize(box), 4);
    assert_true(cJSON_GetArrayItem(box, 0)->valueint < cJSON_GetArrayItem(box, 2)->valueint);
    compute_probe_out_reset(&out);
}

static void unpadded_and_wrapped_base64_is_accepted(void **state) {
    (void)state;
    /* Strip the '=' padding and break the text into 76-char lines, as `base64` prints it. */
    size_t n = strlen(g_png_b64);
    while (n && g_png_b64[n - 1] == '=')
        n--;
    char *wrapped = malloc(n + n / 76 * 2 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && i % 76 == 0) wrapped[o++] = '\\', wrapped[o++] = 'n';
        wrapped[o++] = g_png_b64[i];
    }
    wrapped[o] = '\0';
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(
        run_with(g_engine, "{\"type\":\"ocr\",\"image_base64\":\"%s\"}", wrapped, &probe, &out), 0);
    assert_string_equal(result_text(&out), "Invoice 2041 paid\n");
    compute_probe_out_reset(&out);
    free(wrapped);
}

typedef struct bad_case {
    const char *payload;
    const char *code;
} bad_case;

static void hostile_payloads_fail_with_a_code(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"[]", "invalid_payload"},
        {"{\"type\":\"ocr\"}", "invalid_payload"},
        {"{\"type\":\"ocr\",\"image_base64\":\"\"}", "invalid_payload"},
        {"{\"type\":\"ocr\",\"image_base64\":42}", "invalid_payload"},
        {"{\"type\":\"ocr\",\"image_base64\":\"%s\",\"lang\":7}", "invalid_payload"},
        {"{\"type\":\"ocr\",\"image_base64\":\"%s\",\"words\":\"yes\"}", "invalid_payload"},
        {"{\"type\":\"ocr\",\"image_base64\":\"%s\",\"dpi\":300}", "invalid_payload"},
        {"{\"type\":\"ocr\",\"image_base64\":\"not base64 at all!\"}", "invalid_payload"},
        {"{\"type\":\"ocr\",\"image_base64\":\"aGVsbG8gd29ybGQsIG5vdCBhbiBpbWFnZQ==\"}",
         "unsupported_image"},
        {"{\"type\":\"ocr\",\"image_base64\":\"iVBORw==\"}", "unsupported_image"},
        {"{\"type\":\"ocr\",\"image_base64\":\"%s\",\"lang\":\"xx\"}", "unknown_language"},
        {"{\"type\":\"ocr\",\"image_base64\":\"%s\",\"lang\":\"../../../etc/passwd\"}",
         "unknown_language"},
        {"{\"type\":\"ocr\",\"image_base64\":\"%s\",\"lang\":\"eng+\"}", "unknown_language"},
        {"{\"type\":\"ocr\",\"image_base64\":\"%s\",\"lang\":\"\"}", "unknown_language"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        compute_probe probe;
        compute_probe_init(&probe);
        aitbc_compute_out out;
        int rc = run_with(g_engine, cases[i].payload, g_png_b64, &probe, &out);
        if (rc == 0 || strcmp(compute_probe_code(&out), cases[i].code) != 0)
            fail_msg("case %zu (%s): rc %d code %s", i, cases[i].payload, rc,
                     rc ? compute_probe_code(&out) : "-");
        assert_int_equal(rc, AITBC_EINVAL);
        assert_false(out.retryable);
        compute_probe_out_reset(&out);
    }
}

static void truncated_png_is_corrupt(void **state) {
    (void)state;
    /* The header survives (so the size checks pass), the compressed pixels do not. */
    char *half = b64(g_png, g_png_len / 2);
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(
        run_with(g_engine, "{\"type\":\"ocr\",\"image_base64\":\"%s\"}", half, &probe, &out),
        AITBC_EINVAL);
    assert_string_equal(compute_probe_code(&out), "corrupt_image");
    compute_probe_out_reset(&out);
    /* A PNG signature and nothing else. */
    static const unsigned char sig[16] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a,
                                          0,    0,   0,   13,  'I',  'H',  'D',  'R'};
    char *head = b64(sig, sizeof sig);
    assert_int_equal(
        run_with(g_engine, "{\"type\":\"ocr\",\"image_base64\":\"%s\"}", head, &probe, &out),
        AITBC_EINVAL);
    assert_string_equal(compute_probe_code(&out), "corrupt_image");
    compute_probe_out_reset(&out);
    free(head);
    free(half);
}

static void limits_refuse_large_images(void **state) {
    (void)state;
    ocr_config small_pixels = k_cfg;
    small_pixels.max_pixels = 100000; /* the image has 128000 */
    ocr_config small_bytes = k_cfg;
    small_bytes.max_input_bytes = 1024; /* the PNG has ~1900 */
    const ocr_config *cfgs[] = {&small_pixels, &small_bytes};
    for (size_t i = 0; i < 2; i++) {
        ocr_engine *e = NULL;
        char err[256];
        assert_int_equal(ocr_engine_new(cfgs[i], &e, err, sizeof err), 0);
        compute_probe probe;
        compute_probe_init(&probe);
        aitbc_compute_out out;
        assert_int_equal(
            run_with(e, "{\"type\":\"ocr\",\"image_base64\":\"%s\"}", g_png_b64, &probe, &out),
            AITBC_EINVAL);
        assert_string_equal(compute_probe_code(&out), "image_too_large");
        compute_probe_out_reset(&out);
        ocr_engine_free(e);
    }
}

static void stop_request_ends_recognition(void **state) {
    (void)state;
    compute_probe probe;
    compute_probe_init(&probe);
    atomic_store(&probe.stop, 1);
    aitbc_compute_out out;
    int rc =
        run_with(g_engine, "{\"type\":\"ocr\",\"image_base64\":\"%s\"}", g_png_b64, &probe, &out);
    assert_int_equal(rc, AITBC_EUNAVAIL);
    assert_string_equal(compute_probe_code(&out), "stopped");
    assert_true(out.retryable);
    compute_probe_out_reset(&out);
    /* The instance went back to the pool in a usable state. */
    compute_probe_init(&probe);
    assert_int_equal(
        run_with(g_engine, "{\"type\":\"ocr\",\"image_base64\":\"%s\"}", g_png_b64, &probe, &out),
        0);
    assert_string_equal(result_text(&out), "Invoice 2041 paid\n");
    compute_probe_out_reset(&out);
}

static void passed_deadline_is_a_timeout(void **state) {
    (void)state;
    compute_probe probe;
    compute_probe_init(&probe);
    probe.ctl.deadline_ms = aitbc_now_ms() - 1;
    aitbc_compute_out out;
    assert_int_equal(
        run_with(g_engine, "{\"type\":\"ocr\",\"image_base64\":\"%s\"}", g_png_b64, &probe, &out),
        AITBC_EUNAVAIL);
    assert_string_equal(compute_probe_code(&out), "timeout");
    assert_false(out.retryable);
    compute_probe_out_reset(&out);
}

static void *one_job(void *arg) {
    aitbc_compute_out *out = arg;
    compute_probe probe;
    compute_probe_init(&probe);
    cJSON *payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "type", "ocr");
    cJSON_AddStringToObject(payload, "image_base64", g_png_b64);
    ocr_engine_run(g_engine, payload, &probe.ctl, out);
    cJSON_Delete(payload);
    return NULL;
}

static void concurrent_jobs_each_get_their_text(void **state) {
    (void)state;
    enum { N = 3 };
    pthread_t t[N];
    aitbc_compute_out outs[N];
    memset(outs, 0, sizeof outs);
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&t[i], NULL, one_job, &outs[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_non_null(outs[i].result);
        assert_string_equal(result_text(&outs[i]), "Invoice 2041 paid\n");
        compute_probe_out_reset(&outs[i]);
    }
}

static void models_list_installed_languages(void **state) {
    (void)state;
    cJSON *models = ocr_engine_models(g_engine);
    int has_eng = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, models) {
        assert_true(cJSON_IsString(m));
        assert_string_not_equal(m->valuestring, "tesseract:osd");
        has_eng |= strcmp(m->valuestring, "tesseract:eng") == 0;
    }
    assert_true(has_eng);
    cJSON_Delete(models);
}

static void missing_language_refuses_the_engine(void **state) {
    (void)state;
    ocr_config c = k_cfg;
    c.default_lang = "zz";
    ocr_engine *e = NULL;
    char err[256] = "";
    assert_int_equal(ocr_engine_new(&c, &e, err, sizeof err), AITBC_EINVAL);
    assert_null(e);
    assert_non_null(strstr(err, "'zz'"));
    c = k_cfg;
    c.tessdata_dir = "/nonexistent/tessdata";
    assert_int_equal(ocr_engine_new(&c, &e, err, sizeof err), AITBC_EINVAL);
    assert_non_null(strstr(err, "/nonexistent/tessdata"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recognises_png_and_bills_megapixels),
        cmocka_unit_test(recognises_tiff_with_words),
        cmocka_unit_test(unpadded_and_wrapped_base64_is_accepted),
        cmocka_unit_test(hostile_payloads_fail_with_a_code),
        cmocka_unit_test(truncated_png_is_corrupt),
        cmocka_unit_test(limits_refuse_large_images),
        cmocka_unit_test(stop_request_ends_recognition),
        cmocka_unit_test(passed_deadline_is_a_timeout),
        cmocka_unit_test(concurrent_jobs_each_get_their_text),
        cmocka_unit_test(models_list_installed_languages),
        cmocka_unit_test(missing_language_refuses_the_engine),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
