/* compute-exec loaded by the real host: --check-config enforces the schema, init refuses a
 * command that is not an absolute executable path, and the registered compute:compute-exec@1
 * table runs a job and a cancelled one through the compute-probe test plugin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <aitbc/util.h>
#include "harness.h"

static const char *const k_check[] = {"--check-config", NULL};

static void schema_and_init_checks(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(th_run_once("  compute-exec:\n    commands:\n"
                                 "      - { type: upper, argv: [/usr/bin/tr, a-z, A-Z] }\n",
                                 NULL, k_check, &out),
                     0);
    free(out);
    assert_int_not_equal(th_run_once("  compute-exec: {}\n", NULL, k_check, &out), 0);
    assert_non_null(strstr(out, "commands"));
    free(out);
    assert_int_not_equal(th_run_once("  compute-exec: { commands: {} }\n", NULL, k_check, &out), 0);
    assert_non_null(strstr(out, "commands"));
    free(out);
    assert_int_not_equal(th_run_once("  compute-exec:\n    commands:\n"
                                     "      - { type: upper, argv: [tr, a-z, A-Z] }\n",
                                     NULL, NULL, &out),
                         0);
    assert_non_null(strstr(out, "compute-exec.commands[0].argv[0] must be the absolute path"));
    free(out);
}

static void registered_backend_runs_and_cancels(void **state) {
    (void)state;
    th_host *h = th_start("  compute-exec:\n    commands:\n"
                          "      - { type: echo, argv: [/bin/cat] }\n"
                          "      - { type: hang, argv: [/bin/sleep, \"60\"], timeout_s: 120 }\n"
                          "  compute-probe: {}\n",
                          NULL);
    assert_non_null(h);
    th_resp r;
    assert_int_equal(th_req(h, "GET", "/v1/compute-probe/backends", NULL, NULL, &r), 0);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "backends"), 0);
    assert_string_equal(cJSON_GetObjectItem(b, "service")->valuestring, "compute:compute-exec@1");
    char *types = cJSON_PrintUnformatted(cJSON_GetObjectItem(b, "job_types"));
    assert_string_equal(types, "[\"echo\",\"hang\"]");
    free(types);
    th_resp_free(&r);

    assert_int_equal(
        th_req(h, "POST", "/v1/compute-probe/run", NULL, "{\"type\":\"echo\",\"text\":\"hi\"}", &r),
        0);
    assert_int_equal(cJSON_GetObjectItem(r.json, "rc")->valueint, 0);
    char *result = cJSON_PrintUnformatted(cJSON_GetObjectItem(r.json, "result"));
    assert_string_equal(result, "{\"text\":\"hi\",\"type\":\"echo\"}");
    free(result);
    th_resp_free(&r);

    /* The host blocks SIGTERM in its threads and ignores SIGPIPE; the command must still be
     * killable and stopped by the cancel. */
    int64_t t0 = aitbc_now_ms();
    assert_int_equal(th_req(h, "POST", "/v1/compute-probe/run?stop_after_ms=200", NULL,
                            "{\"type\":\"hang\"}", &r),
                     0);
    assert_true(aitbc_now_ms() - t0 < 10000);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "error"), "code")->valuestring, "stopped");
    th_resp_free(&r);
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_and_init_checks),
        cmocka_unit_test(registered_backend_runs_and_cancels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
