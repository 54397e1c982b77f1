/* compute-ollama loaded by the real host, talking to the stand-in Ollama server of this test
 * process (ollama_standin.c on libmicrohttpd; no model weights exist here): --check-config
 * enforces the schema, init refuses a bad URL, and the registered compute:compute-ollama@1 table
 * lists the server's models and streams a generation through the compute-probe test plugin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "ollama_standin.h"

static const char *const k_check[] = {"--check-config", NULL};

static void schema_and_init_checks(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(th_run_once("  compute-ollama: { url: \"http://127.0.0.1:1\", models: [a], "
                                 "max_tokens_limit: 10, max_tokens_default: 5 }\n",
                                 NULL, k_check, &out),
                     0);
    free(out);
    assert_int_not_equal(th_run_once("  compute-ollama: { host: x }\n", NULL, k_check, &out), 0);
    assert_non_null(strstr(out, "host"));
    free(out);
    assert_int_not_equal(
        th_run_once("  compute-ollama: { url: \"file:///etc/passwd\" }\n", NULL, NULL, &out), 0);
    assert_non_null(strstr(out, "compute-ollama.url must be an http:// or https:// URL"));
    free(out);
    assert_int_not_equal(th_run_once("  compute-ollama: { max_tokens_default: 50, "
                                     "max_tokens_limit: 10 }\n",
                                     NULL, NULL, &out),
                         0);
    assert_non_null(strstr(out, "max_tokens_default is larger than max_tokens_limit"));
    free(out);
}

static void registered_backend_streams_a_generation(void **state) {
    (void)state;
    ollama_standin *server = ollama_standin_start();
    assert_non_null(server);
    char plugins[256];
    snprintf(plugins, sizeof plugins,
             "  compute-ollama: { url: \"http://127.0.0.1:%d\" }\n  compute-probe: {}\n",
             ollama_standin_port(server));
    th_host *h = th_start(plugins, NULL);
    assert_non_null(h);

    th_resp r;
    assert_int_equal(th_req(h, "GET", "/v1/compute-probe/backends", NULL, NULL, &r), 0);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "backends"), 0);
    assert_string_equal(cJSON_GetObjectItem(b, "service")->valuestring, "compute:compute-ollama@1");
    char *models = cJSON_PrintUnformatted(cJSON_GetObjectItem(b, "models"));
    assert_string_equal(models, "[\"tiny\",\"slow\",\"drop\"]");
    free(models);
    th_resp_free(&r);

    assert_int_equal(th_req(h, "POST", "/v1/compute-probe/run", NULL,
                            "{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"hi\","
                            "\"max_tokens\":3}",
                            &r),
                     0);
    assert_int_equal(cJSON_GetObjectItem(r.json, "rc")->valueint, 0);
    const cJSON *result = cJSON_GetObjectItem(r.json, "result");
    assert_string_equal(cJSON_GetObjectItem(result, "text")->valuestring, "t0 t1 t2 ");
    assert_int_equal(cJSON_GetObjectItem(result, "tokens")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(r.json, "units")->valueint, 3);
    assert_string_equal(cJSON_GetObjectItem(r.json, "unit_type")->valuestring, "token");
    th_resp_free(&r);

    assert_int_equal(th_req(h, "POST", "/v1/compute-probe/run", NULL,
                            "{\"type\":\"inference\",\"model\":\"drop\",\"prompt\":\"hi\"}", &r),
                     0);
    const cJSON *err = cJSON_GetObjectItem(r.json, "error");
    assert_string_equal(cJSON_GetObjectItem(err, "code")->valuestring, "stream_interrupted");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "retryable")));
    th_resp_free(&r);

    assert_int_equal(th_stop(h), 0);
    th_free(h);
    ollama_standin_stop(server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_and_init_checks),
        cmocka_unit_test(registered_backend_streams_a_generation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
