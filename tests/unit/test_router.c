/* Unit tests of the HTTP router (host/router.c): priorities, parameters, 404 vs 405, bad
 * patterns, duplicates, the path prefix rule, and a large table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "http_priv.h"

static void h1(aitbc_request *req, void *user) {
    (void)req;
    (void)user;
}

static int add(router *r, const char *method, const char *path) {
    aitbc_route rt = {.method = method, .path = path, .roles = AITBC_ROLE_ANY, .handler = h1};
    return router_add(r, &rt, NULL);
}

static const char *param(const route_match *m, const char *name) {
    for (size_t i = 0; i < m->nparams; i++)
        if (strcmp(m->names[i], name) == 0) return m->values[i];
    return NULL;
}

/* Match and return the pattern that won, or NULL. */
static const char *winner(router *r, const char *method, const char *path) {
    static char buf[256];
    route_match m;
    route_result res = router_match(r, method, path, &m);
    if (res != ROUTE_FOUND) {
        route_match_free(&m);
        return NULL;
    }
    snprintf(buf, sizeof buf, "%s", m.pattern);
    route_match_free(&m);
    return buf;
}

static void test_literal_beats_param(void **state) {
    (void)state;
    router *r = router_new();
    assert_int_equal(add(r, "GET", "/v1/jobs/{job_id}"), 0);
    assert_int_equal(add(r, "GET", "/v1/jobs/active"), 0);
    assert_int_equal(add(r, "GET", "/v1/jobs/{job_id}/receipt"), 0);
    assert_int_equal(add(r, "GET", "/v1/jobs/active/receipt"), 0);
    assert_string_equal(winner(r, "GET", "/v1/jobs/active"), "/v1/jobs/active");
    assert_string_equal(winner(r, "GET", "/v1/jobs/job_1"), "/v1/jobs/{job_id}");
    assert_string_equal(winner(r, "GET", "/v1/jobs/active/receipt"), "/v1/jobs/active/receipt");
    assert_string_equal(winner(r, "GET", "/v1/jobs/x/receipt"), "/v1/jobs/{job_id}/receipt");
    router_free(r);
}

static void test_backtracks_to_param(void **state) {
    (void)state;
    router *r = router_new();
    assert_int_equal(add(r, "GET", "/a/lit/x"), 0);
    assert_int_equal(add(r, "GET", "/a/{p}/y"), 0);
    assert_int_equal(add(r, "DELETE", "/a/{p}"), 0);
    assert_int_equal(add(r, "GET", "/a/lit"), 0);
    /* The literal branch has no "y" below it: the parameter branch answers. */
    assert_string_equal(winner(r, "GET", "/a/lit/y"), "/a/{p}/y");
    /* The literal pattern has no DELETE, the parameter one does. */
    assert_string_equal(winner(r, "DELETE", "/a/lit"), "/a/{p}");
    router_free(r);
}

static void test_params_decoded(void **state) {
    (void)state;
    router *r = router_new();
    assert_int_equal(add(r, "GET", "/v1/explorer/address/{address}/tx/{n}"), 0);
    route_match m;
    assert_int_equal(router_match(r, "GET", "/v1/explorer/address/a%20b%2Fc/tx/%7E1", &m),
                     ROUTE_FOUND);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(param(&m, "address"), "a b/c");
    assert_string_equal(param(&m, "n"), "~1");
    assert_null(param(&m, "nope"));
    route_match_free(&m);
    /* '+' is a plus sign in a path, not a space. */
    assert_int_equal(router_match(r, "GET", "/v1/explorer/address/a+b/tx/1", &m), ROUTE_FOUND);
    assert_string_equal(param(&m, "address"), "a+b");
    route_match_free(&m);
    /* Bad escapes and encoded NULs match nothing. */
    assert_int_equal(router_match(r, "GET", "/v1/explorer/address/%zz/tx/1", &m), ROUTE_NOT_FOUND);
    route_match_free(&m);
    assert_int_equal(router_match(r, "GET", "/v1/explorer/address/%00/tx/1", &m), ROUTE_NOT_FOUND);
    route_match_free(&m);
    assert_int_equal(router_match(r, "GET", "/v1/explorer/address/ab%2/tx/1", &m), ROUTE_NOT_FOUND);
    route_match_free(&m);
    /* So do bytes that are not UTF-8; UTF-8 beyond ASCII is a value like any other. */
    assert_int_equal(router_match(r, "GET", "/v1/explorer/address/%ff%fe/tx/1", &m),
                     ROUTE_NOT_FOUND);
    route_match_free(&m);
    assert_int_equal(router_match(r, "GET", "/v1/explorer/address/%c3%a9/tx/1", &m), ROUTE_FOUND);
    assert_string_equal(param(&m, "address"), "\xc3\xa9");
    route_match_free(&m);
    /* Literal segments compare decoded. */
    assert_int_equal(router_match(r, "GET", "/v1/%65xplorer/address/x/tx/1", &m), ROUTE_FOUND);
    route_match_free(&m);
    router_free(r);
}

static void test_404_vs_405(void **state) {
    (void)state;
    router *r = router_new();
    assert_int_equal(add(r, "GET", "/v1/jobs"), 0);
    assert_int_equal(add(r, "POST", "/v1/jobs"), 0);
    assert_int_equal(add(r, "DELETE", "/v1/jobs/{id}"), 0);
    assert_int_equal(add(r, "GET", "/v1/jobs/{id}"), 0);
    assert_int_equal(add(r, "POST", "/v1/jobs/mine"), 0);
    route_match m;
    assert_int_equal(router_match(r, "PUT", "/v1/jobs", &m), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, POST");
    route_match_free(&m);
    /* Allow is the union over every pattern matching the path. */
    assert_int_equal(router_match(r, "PATCH", "/v1/jobs/mine", &m), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "DELETE, GET, POST");
    route_match_free(&m);
    assert_int_equal(router_match(r, "GET", "/v1/nothing", &m), ROUTE_NOT_FOUND);
    assert_string_equal(m.allow, "");
    route_match_free(&m);
    assert_int_equal(router_match(r, "GET", "/v1", &m), ROUTE_NOT_FOUND);
    route_match_free(&m);
    assert_int_equal(router_match(r, "GET", "/v1/jobs/a/b", &m), ROUTE_NOT_FOUND);
    route_match_free(&m);
    assert_int_equal(router_match(r, "GET", "", &m), ROUTE_NOT_FOUND);
    route_match_free(&m);
    assert_int_equal(router_match(r, "GET", "v1/jobs", &m), ROUTE_NOT_FOUND);
    route_match_free(&m);
    router_free(r);
}

static void test_slashes(void **state) {
    (void)state;
    router *r = router_new();
    assert_int_equal(add(r, "GET", "/v1/jobs"), 0);
    assert_int_equal(add(r, "GET", "/v1/jobs/{id}"), 0);
    assert_int_equal(add(r, "GET", "/"), 0);
    assert_string_equal(winner(r, "GET", "/v1/jobs/"), "/v1/jobs");
    assert_string_equal(winner(r, "GET", "/v1/jobs/x/"), "/v1/jobs/{id}");
    assert_string_equal(winner(r, "GET", "/"), "/");
    assert_null(winner(r, "GET", "//v1/jobs"));
    assert_null(winner(r, "GET", "/v1//jobs"));
    assert_null(winner(r, "GET", "/v1/jobs//"));
    /* An empty segment never binds a parameter. */
    assert_null(winner(r, "GET", "/v1/jobs//x"));
    router_free(r);
}

static void test_duplicates_and_bad_patterns(void **state) {
    (void)state;
    router *r = router_new();
    assert_int_equal(add(r, "GET", "/v1/jobs/{id}"), 0);
    assert_int_equal(add(r, "GET", "/v1/jobs/{id}"), AITBC_EEXIST);
    /* Other parameter name, same shape: still the same route. */
    assert_int_equal(add(r, "GET", "/v1/jobs/{job}"), AITBC_EEXIST);
    assert_int_equal(add(r, "POST", "/v1/jobs/{job}"), 0);
    const char *bad[] = {"",          "v1/jobs",
                         "/v1//jobs", "/v1/jobs/",
                         "/v1/{",     "/v1/{}",
                         "/v1/{a-b}", "/v1/x{id}",
                         "/v1/{id}x", "/v1/{id}/{id}",
                         "/v1/a b",   "/v1/%41",
                         "/v1/a?b",   "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
                         NULL};
    for (size_t i = 0; bad[i]; i++) {
        if (add(r, "GET", bad[i]) != AITBC_EINVAL) fail_msg("pattern '%s' accepted", bad[i]);
    }
    assert_int_equal(add(r, "get", "/x"), AITBC_EINVAL);
    assert_int_equal(add(r, "", "/x"), AITBC_EINVAL);
    assert_int_equal(add(r, NULL, "/x"), AITBC_EINVAL);
    assert_int_equal(add(r, "GET", NULL), AITBC_EINVAL);
    aitbc_route no_handler = {.method = "GET", .path = "/y"};
    assert_int_equal(router_add(r, &no_handler, NULL), AITBC_EINVAL);
    assert_int_equal(router_count(r), 2);
    /* Failed adds left nothing routable behind. */
    assert_null(winner(r, "GET", "/v1/x"));
    router_free(r);
}

static void test_route_copied(void **state) {
    (void)state;
    router *r = router_new();
    char method[8] = "GET", path[32] = "/v1/things/{id}";
    int tag = 7;
    aitbc_route rt = {.method = method,
                      .path = path,
                      .roles = AITBC_ROLE_ADMIN,
                      .body = AITBC_BODY_JSON,
                      .max_body_bytes = 99,
                      .handler = h1,
                      .user = &tag};
    aitbc_plugin_ctx *owner = (aitbc_plugin_ctx *)&tag;
    assert_int_equal(router_add(r, &rt, owner), 0);
    memset(method, 'X', sizeof method - 1);
    memset(path, 'X', sizeof path - 1);
    route_match m;
    assert_int_equal(router_match(r, "GET", "/v1/things/1", &m), ROUTE_FOUND);
    assert_string_equal(m.route->path, "/v1/things/{id}");
    assert_string_equal(m.route->method, "GET");
    assert_int_equal(m.route->roles, AITBC_ROLE_ADMIN);
    assert_int_equal(m.route->max_body_bytes, 99);
    assert_ptr_equal(m.route->user, &tag);
    assert_ptr_equal(m.owner, owner);
    route_match_free(&m);
    router_free(r);
}

static void test_prefix(void **state) {
    (void)state;
    assert_string_equal(router_route_path("", "/v1/jobs"), "/v1/jobs");
    assert_string_equal(router_route_path(NULL, "/v1/jobs"), "/v1/jobs");
    assert_string_equal(router_route_path("/api", "/api/v1/jobs"), "/v1/jobs");
    assert_string_equal(router_route_path("/api/", "/api/v1/jobs"), "/v1/jobs");
    assert_string_equal(router_route_path("/api", "/api"), "/");
    assert_string_equal(router_route_path("/api", "/api/"), "/");
    /* Without the prefix a path is served as it is. */
    assert_string_equal(router_route_path("/api", "/v1/jobs"), "/v1/jobs");
    assert_string_equal(router_route_path("/api", "/apix/v1/jobs"), "/apix/v1/jobs");
    assert_string_equal(router_route_path("/api", "/"), "/");
    assert_null(router_route_path("/api", NULL));
    assert_string_equal(router_route_path("/api", "/healthz"), "/healthz");
    assert_string_equal(router_route_path("/api", "/metrics"), "/metrics");
    assert_string_equal(router_route_path("/api", "/api/healthz"), "/healthz");
    assert_string_equal(router_route_path("/api", "/healthz/x"), "/healthz/x");
    assert_string_equal(router_route_path("/a/b", "/a/b/v1"), "/v1");
}

static void test_url_decode(void **state) {
    (void)state;
    char out[32];
    assert_int_equal(router_url_decode("a+b%21", 6, out, 1), 4);
    assert_string_equal(out, "a b!");
    assert_int_equal(router_url_decode("a+b", 3, out, 0), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(router_url_decode("%4", 2, out, 0), -1);
    assert_int_equal(router_url_decode("%", 1, out, 0), -1);
    assert_int_equal(router_url_decode("%g0", 3, out, 0), -1);
    assert_int_equal(router_url_decode("", 0, out, 0), 0);
    assert_string_equal(out, "");
}

static void test_many_routes(void **state) {
    (void)state;
    router *r = router_new();
    char path[96];
    for (int i = 0; i < 2000; i++) {
        snprintf(path, sizeof path, "/v1/res%04d/{id}/sub%d", i, i % 7);
        assert_int_equal(add(r, i % 2 ? "POST" : "GET", path), 0);
    }
    assert_int_equal(router_count(r), 2000);
    for (int i = 0; i < 2000; i++) {
        char req[96], want[96];
        snprintf(req, sizeof req, "/v1/res%04d/abc/sub%d", i, i % 7);
        snprintf(want, sizeof want, "/v1/res%04d/{id}/sub%d", i, i % 7);
        const char *w = winner(r, i % 2 ? "POST" : "GET", req);
        assert_non_null(w);
        assert_string_equal(w, want);
        route_match m;
        assert_int_equal(router_match(r, i % 2 ? "GET" : "POST", req, &m),
                         ROUTE_METHOD_NOT_ALLOWED);
        route_match_free(&m);
    }
    assert_null(winner(r, "GET", "/v1/res9999/abc/sub1"));
    router_free(r);
}

static void test_long_path(void **state) {
    (void)state;
    router *r = router_new();
    assert_int_equal(add(r, "GET", "/x/{id}"), 0);
    size_t n = 5000;
    char *p = malloc(n + 4);
    memcpy(p, "/x/", 3);
    memset(p + 3, 'a', n);
    p[n + 3] = '\0';
    route_match m;
    assert_int_equal(router_match(r, "GET", p, &m), ROUTE_FOUND);
    assert_int_equal(strlen(m.values[0]), n);
    route_match_free(&m);
    /* Too deep to be any route. */
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "/a");
    assert_int_equal(router_match(r, "GET", deep, &m), ROUTE_NOT_FOUND);
    route_match_free(&m);
    free(p);
    router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_beats_param),
        cmocka_unit_test(test_backtracks_to_param),
        cmocka_unit_test(test_params_decoded),
        cmocka_unit_test(test_404_vs_405),
        cmocka_unit_test(test_slashes),
        cmocka_unit_test(test_duplicates_and_bad_patterns),
        cmocka_unit_test(test_route_copied),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_many_routes),
        cmocka_unit_test(test_long_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
