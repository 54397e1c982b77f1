/* Fuzz target: the HTTP router (host/router.c) against request lines it never expected.
 *
 * Input: a method and a path. A first byte below 8 picks a method from a table (so the fuzzer
 * does not spend its time spelling "GET"); otherwise the method runs up to the first space.
 * The router holds a fixed set of routes shaped like API.md's (literals beside parameters at the
 * same depth, several parameters, several methods per pattern). Every answer is checked against
 * a slow reference matcher written from the rules in router.c's header comment:
 *  - FOUND iff some pattern matches the decoded path with this method; the route's method is
 *    the request's; nparams equals the pattern's parameter count; every name and value is set,
 *    and each value is the decoded segment at that parameter's position;
 *  - 405 iff some pattern matches the path but none for this method; Allow lists exactly the
 *    methods of the matching patterns, sorted;
 *  - 404 otherwise. Any violation abort()s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "http_priv.h"

static void dummy_handler(aitbc_request *req, void *user) {
    (void)req;
    (void)user;
}

static const struct {
    const char *method, *path;
} routes[] = {
    {"GET", "/healthz"},
    {"GET", "/metrics"},
    {"GET", "/v1/account"},
    {"POST", "/v1/jobs"},
    {"GET", "/v1/jobs"},
    {"GET", "/v1/jobs/{job_id}"},
    {"GET", "/v1/jobs/{job_id}/receipt"},
    {"POST", "/v1/jobs/{job_id}/cancel"},
    {"POST", "/v1/jobs/{job_id}/complete"},
    {"POST", "/v1/miners/register"},
    {"GET", "/v1/miners/{address}"},
    {"DELETE", "/v1/miners/{address}"},
    {"POST", "/v1/miners/{address}/heartbeat"},
    {"POST", "/v1/miners/{address}/poll"},
    {"GET", "/v1/explorer/blocks"},
    {"GET", "/v1/explorer/blocks/{height_or_hash}"},
    {"GET", "/v1/explorer/transactions/{hash}"},
    {"GET", "/v1/explorer/address/{address}"},
    {"GET", "/v1/admin/keys"},
    {"POST", "/v1/admin/keys"},
    {"DELETE", "/v1/admin/keys/{key_id}"},
    {"GET", "/v1/exchange/orders/{order_id}"},
    {"DELETE", "/v1/exchange/orders/{order_id}"},
    {"GET", "/v1/exchange/orders"},
    /* Not in API.md: deeper shapes so backtracking and multi-parameter binding get exercised. */
    {"GET", "/v1/markets/{base}/{quote}/book"},
    {"GET", "/v1/markets/{base}/usd/book"},
    {"PUT", "/v1/markets/{base}/{quote}"},
    {"GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}"},
    {"GET", "/"},
};
#define NROUTES (sizeof routes / sizeof *routes)

static router *the_router;
static aitbc_route route_defs[NROUTES];

static void teardown(void) {
    router_free(the_router);
}

static void setup(void) {
    the_router = router_new();
    if (!the_router) abort();
    for (size_t i = 0; i < NROUTES; i++) {
        route_defs[i] = (aitbc_route){
            .method = routes[i].method, .path = routes[i].path, .handler = dummy_handler};
        if (router_add(the_router, &route_defs[i], NULL) != 0) {
            fprintf(stderr, "fuzz_router: cannot add %s %s\n", routes[i].method, routes[i].path);
            abort();
        }
    }
    atexit(teardown);
}

#define MAX_SEGS 32

/* Reference decode of one segment: %XX only, no NUL, UTF-8, '+' stays. -1 if it can match
 * nothing. */
static int ref_decode(const char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= len) /* needs two characters after the '%' */
            return -1;
        char hex[3] = {s[i + 1], s[i + 2], 0};
        if (!hex[0] || !hex[1] || !strchr("0123456789abcdefABCDEF", hex[0]) ||
            !strchr("0123456789abcdefABCDEF", hex[1]))
            return -1;
        long v = strtol(hex, NULL, 16);
        if (v == 0) return -1;
        out[o++] = (char)v;
        i += 2;
    }
    out[o] = '\0';
    if (!aitbc_utf8_valid(out, o)) return -1; /* not UTF-8: matches nothing either */
    return 0;
}

/* Reference split; returns the number of segments or -1. segs point into buf. */
static int ref_split(const char *path, char *buf, char **segs) {
    size_t len = strlen(path);
    if (path[0] != '/') return -1;
    if (len > 1 && path[len - 1] == '/') len--;
    if (len <= 1) return 0;
    int n = 0;
    size_t off = 0, i = 1;
    while (i <= len) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        if (j == i || n == MAX_SEGS) return -1;
        if (ref_decode(path + i, j - i, buf + off) != 0) return -1;
        segs[n++] = buf + off;
        off += strlen(buf + off) + 1;
        i = j + 1;
    }
    return n;
}

/* Does the pattern match these segments? Fills the values of its parameters in order. */
static int ref_pattern(const char *pattern, char **segs, int nsegs, const char **vals,
                       size_t *nvals) {
    *nvals = 0;
    if (!strcmp(pattern, "/")) return nsegs == 0;
    const char *p = pattern + 1;
    int k = 0;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (k == nsegs) return 0;
        if (p[0] == '{')
            vals[(*nvals)++] = segs[k];
        else if (strlen(segs[k]) != len || strncmp(segs[k], p, len) != 0)
            return 0;
        k++;
        if (!end) break;
        p = end + 1;
    }
    return k == nsegs;
}

static size_t count_params(const char *pattern) {
    size_t n = 0;
    for (; *pattern; pattern++)
        n += *pattern == '{';
    return n;
}

static void check(const char *method, const char *path) {
    route_match m;
    route_result res = router_match(the_router, method, path, &m);

    char *buf = malloc(strlen(path) + 2);
    if (!buf) abort();
    char *segs[MAX_SEGS];
    int nsegs = ref_split(path, buf, segs);
    int method_hit = 0, path_hit = 0;
    char expect_allow[256] = "";
    const char *allow[NROUTES];
    size_t nallow = 0;
    for (size_t i = 0; nsegs >= 0 && i < NROUTES; i++) {
        const char *vals[ROUTER_MAX_PARAMS];
        size_t nvals;
        if (!ref_pattern(routes[i].path, segs, nsegs, vals, &nvals)) continue;
        path_hit = 1;
        if (!strcmp(routes[i].method, method)) method_hit = 1;
        size_t k = 0;
        while (k < nallow && strcmp(allow[k], routes[i].method))
            k++;
        if (k == nallow) allow[nallow++] = routes[i].method;
    }
    /* Sorted, ", "-joined, like the router renders it. */
    for (size_t i = 1; i < nallow; i++)
        for (size_t j = i; j > 0 && strcmp(allow[j - 1], allow[j]) > 0; j--) {
            const char *t = allow[j];
            allow[j] = allow[j - 1];
            allow[j - 1] = t;
        }
    for (size_t i = 0; i < nallow; i++) {
        if (i) strcat(expect_allow, ", ");
        strcat(expect_allow, allow[i]);
    }

    if (res == ROUTE_FOUND) {
        if (!method_hit || !m.route || !m.pattern || strcmp(m.route->method, method) != 0) abort();
        if (m.nparams != count_params(m.pattern) || m.nparams > ROUTER_MAX_PARAMS) abort();
        const char *vals[ROUTER_MAX_PARAMS];
        size_t nvals;
        if (!ref_pattern(m.pattern, segs, nsegs, vals, &nvals) || nvals != m.nparams)
            abort(); /* the router picked a pattern that does not match the path */
        for (size_t i = 0; i < m.nparams; i++) {
            if (!m.names[i] || !m.values[i] || !m.values[i][0] || strcmp(m.values[i], vals[i]))
                abort();
        }
    } else if (res == ROUTE_METHOD_NOT_ALLOWED) {
        if (method_hit || !path_hit || !m.allow[0] || strcmp(m.allow, expect_allow) != 0) abort();
    } else if (res == ROUTE_NOT_FOUND) {
        if (path_hit) abort();
    } else {
        abort();
    }
    route_match_free(&m);
    free(buf);

    /* The prefix rule: the routed path is a suffix of the request path, or "/". */
    const char *routed = router_route_path("/api", path);
    if (routed && strcmp(routed, "/") != 0) {
        size_t pl = strlen(path), rl = strlen(routed);
        if (rl > pl || strcmp(path + pl - rl, routed) != 0) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const methods[] = {"GET",  "POST",    "DELETE", "PUT",
                                          "HEAD", "OPTIONS", "get",    "PATCH"};
    if (!the_router) setup();
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0'; /* an embedded NUL ends the path, as it would in a C string */
    const char *method, *path;
    char mbuf[32];
    if (size > 0 && data[0] < 8) {
        method = methods[data[0]];
        path = text + 1;
    } else {
        char *sp = strchr(text, ' ');
        size_t mlen = sp ? (size_t)(sp - text) : strlen(text);
        if (mlen >= sizeof mbuf) mlen = sizeof mbuf - 1;
        memcpy(mbuf, text, mlen);
        mbuf[mlen] = '\0';
        method = mbuf;
        path = sp ? sp + 1 : "";
    }
    check(method, path);
    free(text);
    return 0;
}
