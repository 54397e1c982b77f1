/* Integration tests of the example plugins themselves (sdk/examples): hello's input checks, that
 * its rows survive a restart while its event count does not, and auth-static's keys and config
 * refusals. The real aitbc-host, real HTTP, a real SQLite file. The HTTP layer's own checks (order
 * of checks, limits, prefix) are in test_http.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define ADDR                                                                                       \
    "ait1"                                                                                         \
    "0123456789abcdef0123456789abcdef01234567"
#define PLUGINS                                                                                    \
    "  auth-static: { keys: [ {key: \"k-admin\", role: admin},\n"                                  \
    "                         {key: \"k-client\", role: client, address: \"" ADDR "\"},\n"         \
    "                         {key: \"k-miner\", role: miner} ] }\n"                               \
    "  hello: {}\n"

static th_host *H;

static int setup(void **state) {
    (void)state;
    H = th_start(PLUGINS, NULL);
    return H ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    int rc = H ? th_stop(H) : 0;
    th_free(H);
    return rc == 0 ? 0 : -1;
}

/* POST /v1/hello with body; returns the status and, for errors, checks code and field. */
static long post(const char *key, const char *body, const char *code, const char *field) {
    th_resp r;
    assert_int_equal(th_req(H, "POST", "/v1/hello", key, body, &r), 0);
    long status = r.status;
    if (code) {
        assert_non_null(th_error_code(&r));
        assert_string_equal(th_error_code(&r), code);
        const cJSON *f = cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "error"), "field");
        if (field) {
            assert_true(cJSON_IsString(f));
            assert_string_equal(f->valuestring, field);
        }
    }
    th_resp_free(&r);
    return status;
}

/* greetings (rows stored) or events_seen from GET /v1/hello, which needs no key. */
static long counter(th_host *h, const char *name) {
    th_resp r;
    long v = -1;
    if (th_req(h, "GET", "/v1/hello", NULL, NULL, &r) == 0 && r.status == 200) {
        const cJSON *c = cJSON_GetObjectItem(r.json, name);
        if (cJSON_IsNumber(c)) v = (long)c->valuedouble;
    }
    th_resp_free(&r);
    return v;
}

static void hello_refuses_bad_names(void **state) {
    (void)state;
    long before = counter(H, "greetings");
    assert_true(before >= 0);
    char long_name[128];
    memset(long_name, 'x', 65);
    long_name[65] = '\0';
    char body[256];

    assert_int_equal(post("k-client", "{}", "invalid_argument", "name"), 400);
    assert_int_equal(post("k-client", "{\"name\":\"\"}", "invalid_argument", "name"), 400);
    assert_int_equal(post("k-client", "{\"name\":5}", "invalid_argument", "name"), 400);
    assert_int_equal(post("k-client", "{\"name\":null}", "invalid_argument", "name"), 400);
    assert_int_equal(post("k-client", "{\"name\":[\"a\"]}", "invalid_argument", "name"), 400);
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", long_name);
    assert_int_equal(post("k-client", body, "invalid_argument", "name"), 400);
    assert_int_equal(
        post("k-client", "{\"name\":\"a\",\"admin\":true}", "invalid_argument", "admin"), 400);
    assert_int_equal(post("k-client", "[\"name\"]", NULL, NULL), 400);
    assert_int_equal(post("k-client", "\"name\"", NULL, NULL), 400);
    assert_int_equal(post("k-client", "{\"name\":\"a\"", "invalid_json", NULL), 400);
    /* Nothing above was stored. */
    assert_int_equal(counter(H, "greetings"), before);

    /* The limit is inclusive: 64 bytes is fine. */
    long_name[64] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", long_name);
    assert_int_equal(post("k-client", body, NULL, NULL), 201);
    assert_int_equal(counter(H, "greetings"), before + 1);
}

static void hello_needs_a_known_key(void **state) {
    (void)state;
    assert_int_equal(post(NULL, "{\"name\":\"a\"}", "unauthenticated", NULL), 401);
    assert_int_equal(post("k-nobody", "{\"name\":\"a\"}", "unauthenticated", NULL), 401);
    /* A prefix or an extension of a real key is not that key. */
    assert_int_equal(post("k-admi", "{\"name\":\"a\"}", "unauthenticated", NULL), 401);
    assert_int_equal(post("k-admin2", "{\"name\":\"a\"}", "unauthenticated", NULL), 401);
    /* Every role may greet. */
    assert_int_equal(post("k-admin", "{\"name\":\"a\"}", NULL, NULL), 201);
    assert_int_equal(post("k-miner", "{\"name\":\"b\"}", NULL, NULL), 201);
    assert_int_equal(post("k-client", "{\"name\":\"Zoë \\\"q\\\"\"}", NULL, NULL), 201);
}

static void hello_answers_its_shape(void **state) {
    (void)state;
    th_resp r;
    assert_int_equal(th_req(H, "POST", "/v1/hello", "k-client", "{\"name\":\"shape\"}", &r), 0);
    assert_int_equal(r.status, 201);
    const cJSON *id = cJSON_GetObjectItem(r.json, "id");
    assert_true(cJSON_IsString(id));
    assert_int_equal(strncmp(id->valuestring, "hlo_", 4), 0);
    assert_int_equal(strlen(id->valuestring), 4 + 26);
    assert_string_equal(cJSON_GetObjectItem(r.json, "name")->valuestring, "shape");
    assert_string_equal(cJSON_GetObjectItem(r.json, "greeting")->valuestring, "hello, shape");
    assert_int_equal(cJSON_GetArraySize(r.json), 3);
    th_resp_free(&r);
}

typedef struct events_at_least {
    th_host *h;
    long n;
} events_at_least;

static int events_reached(void *arg) {
    events_at_least *e = arg;
    return counter(e->h, "events_seen") >= e->n;
}

/* Rows live in the database, the event count in memory: after a restart the first survive and
 * the second starts again from zero. */
static void hello_rows_survive_restart(void **state) {
    (void)state;
    th_host *h = th_start(PLUGINS, NULL);
    assert_non_null(h);
    th_resp r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(th_req(h, "POST", "/v1/hello", "k-client", "{\"name\":\"r\"}", &r), 0);
        assert_int_equal(r.status, 201);
        th_resp_free(&r);
    }
    events_at_least e = {h, 3};
    assert_true(th_wait_until(events_reached, &e, 10000));
    assert_int_equal(counter(h, "greetings"), 3);
    assert_int_equal(th_stop(h), 0);

    char dir[1024];
    snprintf(dir, sizeof dir, "%s", th_data_dir(h));
    th_host *again = th_start_in(dir, PLUGINS, NULL);
    assert_non_null(again);
    assert_int_equal(counter(again, "greetings"), 3);
    assert_int_equal(counter(again, "events_seen"), 0);
    /* The migration ran once: host.stderr holds both runs (appended), with one application. */
    char *log = th_stderr(again);
    assert_non_null(log);
    const char *first = strstr(log, "hello: applying migration 1");
    assert_non_null(first);
    assert_null(strstr(first + 1, "hello: applying migration"));
    free(log);
    assert_int_equal(th_stop(again), 0);
    th_free(again);
    th_free(h);
}

/* auth-static refuses a config it cannot use, naming the entry; the host does not start. */
static void auth_static_refuses_bad_keys(void **state) {
    (void)state;
    static const char *const bad[] = {
        "  auth-static: { keys: [ {key: \"k\", role: root} ] }\n",
        "  auth-static: { keys: [ {key: \"\", role: admin} ] }\n",
        "  auth-static: { keys: [ {role: admin} ] }\n",
        "  auth-static: { keys: [ {key: \"k\", role: admin, secret: 1} ] }\n",
        "  auth-static: { keys: [ {key: \"k\", role: admin, address: \"ait1XYZ\"} ] }\n",
        "  auth-static: { keys: [ \"k\" ] }\n",
        "  auth-static: { keys: {key: \"k\", role: admin} }\n",
        "  auth-static: { keyz: [] }\n",
        "  auth-static: { keys: [ {key: \"k\", role: client}, {key: \"k\", role: admin} ] }\n",
    };
    /* Control: the same shape with nothing wrong starts (so the refusals below are about keys). */
    th_host *good = th_start(
        "  auth-static: { keys: [ {key: \"k\", role: admin, address: \"" ADDR "\"} ] }\n", NULL);
    assert_non_null(good);
    assert_int_equal(th_stop(good), 0);
    th_free(good);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fprintf(stderr, "-- expecting a refusal of: %s", bad[i]);
        th_host *h = th_start(bad[i], NULL);
        if (h) {
            th_stop(h);
            th_free(h);
            fail_msg("the host started with %s", bad[i]);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hello_refuses_bad_names),
        cmocka_unit_test(hello_needs_a_known_key),
        cmocka_unit_test(hello_answers_its_shape),
        cmocka_unit_test(hello_rows_survive_restart),
        cmocka_unit_test(auth_static_refuses_bad_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
