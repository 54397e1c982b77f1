/* A third party can build a plugin with the installed SDK alone: install the SDK component to a
 * temp prefix, compile sdk/examples/hello with `cc $(pkg-config --cflags aitbc-sdk) -shared -fPIC`,
 * and the real host loads and serves it. */
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

static void builds_and_serves_hello_out_of_tree(void **state) {
    (void)state;
    char cmd[2048];
    snprintf(
        cmd, sizeof cmd,
        "cmake --install '%s' --component sdk --prefix '%s' >/dev/null && mkdir -p '%s/plugins'",
        AITBC_BUILD_DIR, prefix, prefix);
    run_or_fail(cmd);
    snprintf(
        cmd, sizeof cmd,
        "export PKG_CONFIG_PATH='%s/lib/pkgconfig'; "
        "cc -std=c11 %s $(pkg-config --cflags aitbc-sdk) -shared -fPIC -o '%s/plugins/hello.so' "
        "'%s/share/aitbc/examples/hello/hello.c' $(pkg-config --libs aitbc-sdk)",
        prefix, AITBC_SANITIZE_CFLAGS, prefix, prefix);
    run_or_fail(cmd);

    char plugin_dir[300];
    snprintf(plugin_dir, sizeof plugin_dir, "%s/plugins", prefix);
    setenv("AITBC_PLUGIN_PATH", plugin_dir, 1); /* searched before the build's own plugins */
    th_host *h = th_start("  hello: {}\n"
                          "  auth-static: { keys: [ { key: \"k-client-1\", role: client } ] }\n",
                          NULL);
    assert_non_null(h);
    char *log = th_stderr(h);
    char loaded[340];
    snprintf(loaded, sizeof loaded, "hello 1.0.0 loaded from %s/hello.so", plugin_dir);
    assert_non_null(log);
    assert_non_null(strstr(log, loaded)); /* the out-of-tree build, not the in-tree one */
    free(log);

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

static int make_prefix(void **state) {
    (void)state;
    snprintf(prefix, sizeof prefix, "/tmp/aitbc-sdk-XXXXXX");
    return mkdtemp(prefix) ? 0 : -1;
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
    };
    return cmocka_run_group_tests(tests, make_prefix, remove_prefix);
}
