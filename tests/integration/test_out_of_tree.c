/* A third party can build a plugin with the installed SDK alone: install the SDK component to a
 * temp prefix, compile sdk/examples/hello (a route plugin) and sdk/examples/compute-wordcount (a
 * compute@1 backend) with `cc $(pkg-config --cflags aitbc-sdk) -shared -fPIC`, and the real host
 * loads and serves them: hello answers HTTP, the backend registers and runs a job handed to it by
 * the compute-probe test plugin exactly as the miner agent would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "harness.h"

static char prefix[256];

static void run_or_fail(const char *cmd) {
    int rc = system(cmd);
    if (rc != 0) fail_msg("command failed (%d): %s", rc, cmd);
}

typedef struct events_probe {
    th_host *host;
} events_probe;

static int one_event_seen(void *arg) {
    events_probe *p = arg;
    th_resp r;
    if (th_req(p->host, "GET", "/v1/hello", NULL, NULL, &r) != 0) return 0;
    const cJSON *seen = cJSON_GetObjectItemCaseSensitive(r.json, "events_seen");
    int ok = r.status == 200 && cJSON_IsNumber(seen) && seen->valueint == 1;
    th_resp_free(&r);
    return ok;
}

/* Compiles <prefix>/share/aitbc/examples/<src> into <prefix>/plugins/<name>.so with only what
 * the installed SDK's pkg-config file says. */
static void build_example(const char *name, const char *src) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "export PKG_CONFIG_PATH='%s/lib/pkgconfig'; "
             "cc -std=c11 -Wall -Wextra -Werror %s $(pkg-config --cflags aitbc-sdk) -shared -fPIC "
             "-fvisibility=hidden -o '%s/plugins/%s.so' '%s/share/aitbc/examples/%s' "
             "$(pkg-config --libs aitbc-sdk)",
             prefix, AITBC_SANITIZE_CFLAGS, prefix, name, prefix, src);
    run_or_fail(cmd);
}

static void assert_loaded_from_prefix(th_host *h, const char *name) {
    char *log = th_stderr(h);
    char loaded[400];
    snprintf(loaded, sizeof loaded, "%s 1.0.0 loaded from %s/plugins/%s.so", name, prefix, name);
    assert_non_null(log);
    if (!strstr(log, loaded)) fail_msg("'%s' not in the host's log", loaded);
    free(log);
}

static void builds_and_serves_hello_out_of_tree(void **state) {
    (void)state;
    build_example("hello", "hello/hello.c");

    char plugin_dir[300];
    snprintf(plugin_dir, sizeof plugin_dir, "%s/plugins", prefix);
    setenv("AITBC_PLUGIN_PATH", plugin_dir, 1); /* searched before the build's own plugins */
    th_host *h = th_start("  hello: {}\n"
                          "  auth-static: { keys: [ { key: \"k-client-1\", role: client } ] }\n",
                          NULL);
    assert_non_null(h);
    assert_loaded_from_prefix(h, "hello"); /* the out-of-tree build, not the in-tree one */

    th_resp r;
    assert_int_equal(th_req(h, "POST", "/v1/hello", "k-client-1", "{\"name\":\"world\"}", &r), 0);
    assert_int_equal(r.status, 201);
    assert_string_equal(cJSON_GetObjectItem(r.json, "greeting")->valuestring, "hello, world");
    th_resp_free(&r);

    events_probe probe = {h};
    assert_true(th_wait_until(one_event_seen, &probe, 10000));
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

static void builds_and_runs_a_compute_backend_out_of_tree(void **state) {
    (void)state;
    build_example("compute-wordcount", "compute-wordcount/compute_wordcount.c");
    char plugin_dir[300];
    snprintf(plugin_dir, sizeof plugin_dir, "%s/plugins", prefix);
    setenv("AITBC_PLUGIN_PATH", plugin_dir, 1);
    th_host *h =
        th_start("  compute-wordcount: { max_text_bytes: 100 }\n  compute-probe: {}\n", NULL);
    assert_non_null(h);
    assert_loaded_from_prefix(h, "compute-wordcount");

    th_resp r;
    assert_int_equal(th_req(h, "GET", "/v1/compute-probe/backends", NULL, NULL, &r), 0);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "backends"), 0);
    assert_string_equal(cJSON_GetObjectItem(b, "service")->valuestring,
                        "compute:compute-wordcount@1");
    th_resp_free(&r);
    assert_int_equal(th_req(h, "POST", "/v1/compute-probe/run", NULL,
                            "{\"type\":\"wordcount\",\"text\":\"one two\\nthree\"}", &r),
                     0);
    assert_int_equal(cJSON_GetObjectItem(r.json, "rc")->valueint, 0);
    const cJSON *result = cJSON_GetObjectItem(r.json, "result");
    assert_int_equal(cJSON_GetObjectItem(result, "words")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(result, "lines")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(r.json, "unit_type")->valuestring, "job");
    th_resp_free(&r);
    /* Its config limit and payload checks work from the out-of-tree build too. */
    assert_int_equal(
        th_req(h, "POST", "/v1/compute-probe/run", NULL, "{\"type\":\"wordcount\",\"text\":7}", &r),
        0);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "error"), "code")->valuestring,
        "invalid_payload");
    th_resp_free(&r);
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

/* The SDK is installed once for every test of this file. */
static int make_prefix(void **state) {
    (void)state;
    snprintf(prefix, sizeof prefix, "/tmp/aitbc-sdk-XXXXXX");
    if (!mkdtemp(prefix)) return -1;
    char cmd[1024];
    snprintf(
        cmd, sizeof cmd,
        "cmake --install '%s' --component sdk --prefix '%s' >/dev/null && mkdir -p '%s/plugins'",
        AITBC_BUILD_DIR, prefix, prefix);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_prefix(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", prefix);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builds_and_serves_hello_out_of_tree),
        cmocka_unit_test(builds_and_runs_a_compute_backend_out_of_tree),
    };
    return cmocka_run_group_tests(tests, make_prefix, remove_prefix);
}
