/* The web plugin through the real host, without a browser: every shipped file is served with its
 * Content-Type, an ETag that answers 304, a strict CSP and nosniff, under path_prefix too; names
 * that are not shipped files (dot segments, encoded slashes, NUL) are 404; config.json carries the
 * configured WebSocket URL; a malformed websocket_url stops the start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static th_host *H;

static int setup(void **st) {
    (void)st;
    H = th_start("  web: { websocket_url: \"ws://127.0.0.1:18999/ws\" }\n",
                 "http:\n  listen: \"127.0.0.1:0\"\n  path_prefix: /ui\n");
    return H ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    th_free(H);
    return 0;
}

static long get(const char *path, const char *const *headers, th_resp *r) {
    memset(r, 0, sizeof *r);
    assert_int_equal(th_req_ex(H, "GET", path, NULL, NULL, headers, r), 0);
    return r->status;
}

static void expect_header(const th_resp *r, const char *name, const char *want_sub) {
    char v[1024];
    if (!th_resp_header(r, name, v, sizeof v)) fail_msg("no %s header", name);
    if (!strstr(v, want_sub)) fail_msg("%s: %s lacks %s", name, v, want_sub);
}

static void test_files_and_types(void **st) {
    (void)st;
    static const struct {
        const char *path, *type, *body;
    } files[] = {
        {"/", "text/html; charset=utf-8", "<script type=\"module\" src=\"web/app.js\">"},
        {"/ui/", "text/html; charset=utf-8", "web/style.css"},
        {"/ui/web/index.html", "text/html; charset=utf-8", "Skip to content"},
        {"/ui/web/app.js", "text/javascript; charset=utf-8", "import"},
        {"/web/receipt.js", "text/javascript; charset=utf-8", "Ed25519"},
        {"/ui/web/style.css", "text/css; charset=utf-8", ":focus-visible"},
        {"/ui/web/favicon.svg", "image/svg+xml", "<svg"},
        {"/ui/web/config.json", "application/json",
         "\"websocket_url\":\"ws://127.0.0.1:18999/ws\""},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        th_resp r;
        if (get(files[i].path, NULL, &r) != 200) fail_msg("%s: %ld", files[i].path, r.status);
        expect_header(&r, "Content-Type", files[i].type);
        expect_header(&r, "Content-Security-Policy", "default-src 'none'; script-src 'self';");
        expect_header(&r, "Content-Security-Policy", "connect-src 'self' ws://127.0.0.1:18999;");
        expect_header(&r, "Content-Security-Policy", "frame-ancestors 'none'");
        expect_header(&r, "X-Content-Type-Options", "nosniff");
        expect_header(&r, "Cache-Control", "no-cache");
        if (!strstr(r.body, files[i].body)) fail_msg("%s lacks %s", files[i].path, files[i].body);
        char csp[1024];
        th_resp_header(&r, "Content-Security-Policy", csp, sizeof csp);
        assert_null(strstr(csp, "unsafe"));
        th_resp_free(&r);
    }
}

static void test_etag(void **st) {
    (void)st;
    th_resp r;
    assert_int_equal(get("/ui/web/app.js", NULL, &r), 200);
    char etag[64], hdr[100];
    assert_non_null(th_resp_header(&r, "ETag", etag, sizeof etag));
    assert_int_equal(etag[0], '"');
    th_resp_free(&r);
    snprintf(hdr, sizeof hdr, "If-None-Match: %s", etag);
    const char *const same[] = {hdr, NULL};
    assert_int_equal(get("/ui/web/app.js", same, &r), 304);
    assert_int_equal(r.body_len, 0);
    th_resp_free(&r);
    snprintf(hdr, sizeof hdr, "If-None-Match: \"nope\", %s", etag);
    assert_int_equal(get("/ui/web/app.js", same, &r), 304);
    th_resp_free(&r);
    /* Another file's tag is not this file's. */
    assert_int_equal(get("/ui/web/style.css", same, &r), 200);
    th_resp_free(&r);
    const char *const other[] = {"If-None-Match: \"0000\"", NULL};
    assert_int_equal(get("/ui/web/app.js", other, &r), 200);
    th_resp_free(&r);
}

/* Plain dot segments ("/web/..") are resolved by libcurl before sending; the browser test sends
 * those byte for byte. Here: the encoded forms, which reach the server as they are. */
static void test_no_traversal(void **st) {
    (void)st;
    static const char *const bad[] = {
        "/web/..%2Fweb.c", "/web/%2E%2E%2Fweb.c",

        "/web/%2e%2e",     "/web/nope.js",         "/web/APP.JS",         "/web/app.js%00.txt",
        "/web/app.js%2F",  "/web/%2Fetc%2Fpasswd", "/web/index.html.bak", "/web/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        th_resp r;
        long s = get(bad[i], NULL, &r);
        if (s != 404) fail_msg("%s: %ld, want 404", bad[i], s);
        th_resp_free(&r);
    }
    th_resp r;
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(H, "POST", "/web/app.js", NULL, "{}", &r), 0);
    assert_int_equal(r.status, 405);
    th_resp_free(&r);
}

static void test_bad_config(void **st) {
    (void)st;
    static const char *const bad[] = {
        "  web: { websocket_url: \"http://x/ws\" }\n",
        "  web: { websocket_url: \"ws://bad host/ws\" }\n",
        "  web: { websocket_url: \"ws://x;script-src *\" }\n",
        "  web: { surprise: 1 }\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        th_host *h = th_start(bad[i], NULL);
        if (h) {
            th_free(h);
            fail_msg("accepted: %s", bad[i]);
        }
    }
    /* Without websocket_url the page derives the URL; the CSP allows port 18001 on any host. */
    th_host *h = th_start("  web: {}\n", NULL);
    assert_non_null(h);
    th_resp r;
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(h, "GET", "/web/config.json", NULL, NULL, &r), 0);
    assert_non_null(strstr(r.body, "\"websocket_url\":null"));
    char csp[1024];
    assert_non_null(th_resp_header(&r, "Content-Security-Policy", csp, sizeof csp));
    assert_non_null(strstr(csp, "ws://*:18001"));
    th_resp_free(&r);
    th_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_and_types),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_no_traversal),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
