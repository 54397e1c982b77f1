/* GET /v1/openapi.json against a node running every product plugin behind path_prefix /api:
 * - it is public, OpenAPI 3.1, and names the prefix as a server;
 * - no served operation lacks a description in docs/openapi.json (x-aitbc-undocumented);
 * - every operation docs/openapi.json describes for a loaded plugin is served (no stale paths);
 * - every served operation is really routed: each is called and /metrics must count it under its
 *   own route pattern (a request nobody routes is counted as "unmatched");
 * - every $ref resolves, every {param} of a path is declared, roles and security agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static const char *k_plugins = "  auth-apikey: { signup: { enabled: true } }\n"
                               "  chain: { block_interval_ms: 100, max_empty_interval_s: 0 }\n"
                               "  explorer: {}\n"
                               "  client: {}\n"
                               "  miner: {}\n"
                               "  admin: {}\n"
                               "  marketplace: {}\n"
                               "  exchange: {}\n"
#ifdef OPENAPI_WITH_WEB
                               "  web: {}\n"
#endif
    ;

static th_host *H;
static cJSON *g_doc, *g_shipped;
static char g_admin[200];

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = '\0';
    return b;
}

static int setup(void **st) {
    (void)st;
    H = th_start(k_plugins, "http:\n  listen: \"127.0.0.1:0\"\n  path_prefix: /api\n"
                            "websocket: { listen: \"127.0.0.1:0\" }\n");
    if (!H) return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/admin.key", th_data_dir(H));
    char *k = slurp(path);
    if (!k) return -1;
    k[strcspn(k, "\r\n")] = '\0';
    snprintf(g_admin, sizeof g_admin, "%s", k);
    free(k);
    char *shipped = slurp(AITBC_SOURCE_DIR "/docs/openapi.json");
    g_shipped = shipped ? cJSON_Parse(shipped) : NULL;
    free(shipped);
    return g_shipped ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    cJSON_Delete(g_doc);
    cJSON_Delete(g_shipped);
    th_free(H);
    return 0;
}

static const char *jstr(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void test_public_and_prefixed(void **st) {
    (void)st;
    th_resp r;
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(H, "GET", "/api/v1/openapi.json", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    char ct[80];
    assert_non_null(th_resp_header(&r, "Content-Type", ct, sizeof ct));
    assert_non_null(strstr(ct, "application/json"));
    g_doc = r.json;
    r.json = NULL;
    th_resp_free(&r);
    assert_non_null(g_doc);
    assert_string_equal(jstr(g_doc, "openapi"), "3.1.0");
    const cJSON *servers = cJSON_GetObjectItemCaseSensitive(g_doc, "servers");
    assert_string_equal(jstr(cJSON_GetArrayItem(servers, 0), "url"), "/api");
    /* Unprefixed too, and no key needed even when a wrong one is sent. */
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(H, "GET", "/v1/openapi.json", "aitbc_client_key_bogus_00", NULL, &r),
                     0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
}

static int plugin_loaded(const char *name) {
    if (strcmp(name, "host") == 0) return 1;
    th_resp r;
    memset(&r, 0, sizeof r);
    if (th_req(H, "GET", "/healthz", NULL, NULL, &r) != 0) return 0;
    int found = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r.json, "plugins")) found |=
        strcmp(jstr(p, "name"), name) == 0;
    th_resp_free(&r);
    return found;
}

static void test_documented_both_ways(void **st) {
    (void)st;
    assert_non_null(g_doc);
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g_doc, "paths");
    const cJSON *p, *op;
    int nops = 0;
    cJSON_ArrayForEach(p, paths) {
        cJSON_ArrayForEach(op, p) {
            nops++;
            if (cJSON_GetObjectItemCaseSensitive(op, "x-aitbc-undocumented"))
                fail_msg("%s %s is served but docs/openapi.json does not describe it", op->string,
                         p->string);
            const cJSON *tags = cJSON_GetObjectItemCaseSensitive(op, "tags");
            assert_true(cJSON_GetArraySize(tags) >= 1);
        }
    }
    assert_true(nops >= 50);
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(g_shipped, "paths")) {
        cJSON_ArrayForEach(op, p) {
            const char *tag = cJSON_GetStringValue(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(op, "tags"), 0));
            /* Untagged entries take their plugin from the route: those plugins are all loaded. */
            if (tag && !plugin_loaded(tag)) continue;
            const cJSON *served = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(paths, p->string), op->string);
            if (!served)
                fail_msg("docs/openapi.json describes %s %s, which no loaded plugin routes",
                         op->string, p->string);
        }
    }
}

/* Replace each {param} with a harmless value. */
static void concrete(const char *pattern, char *out, size_t cap) {
    size_t o = 0;
    for (const char *s = pattern; *s && o + 8 < cap;) {
        if (*s == '{') {
            const char *e = strchr(s, '}');
            memcpy(out + o, "zz9", 3);
            o += 3;
            s = e ? e + 1 : s + strlen(s);
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
}

/* 1 when /metrics counts every described operation under its own pattern; else names one. */
static int all_counted(void *arg) {
    char *missing = arg;
    th_resp m;
    memset(&m, 0, sizeof m);
    if (th_req(H, "GET", "/metrics", NULL, NULL, &m) != 0 || m.status != 200) {
        th_resp_free(&m);
        return 0;
    }
    int ok = 1;
    const cJSON *p, *op;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(g_doc, "paths")) {
        cJSON_ArrayForEach(op, p) {
            char needle[400], method[16];
            size_t i = 0;
            for (; op->string[i] && i + 1 < sizeof method; i++)
                method[i] =
                    (char)(op->string[i] - 32 * (op->string[i] >= 'a' && op->string[i] <= 'z'));
            method[i] = '\0';
            snprintf(needle, sizeof needle, "aitbc_http_requests_total{route=\"%s\",method=\"%s\"",
                     p->string, method);
            if (ok && !strstr(m.body, needle)) {
                snprintf(missing, 400, "%s %s", method, p->string);
                ok = 0;
            }
        }
    }
    th_resp_free(&m);
    return ok;
}

static void test_every_operation_is_routed(void **st) {
    (void)st;
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g_doc, "paths");
    const cJSON *p, *op;
    cJSON_ArrayForEach(p, paths) {
        cJSON_ArrayForEach(op, p) {
            char path[300], method[16];
            concrete(p->string, path, sizeof path);
            size_t i = 0;
            for (; op->string[i] && i + 1 < sizeof method; i++)
                method[i] =
                    (char)(op->string[i] - 32 * (op->string[i] >= 'a' && op->string[i] <= 'z'));
            method[i] = '\0';
            th_resp r;
            memset(&r, 0, sizeof r);
            assert_int_equal(th_req(H, method, path, g_admin, NULL, &r), 0);
            th_resp_free(&r);
        }
    }
    /* Metrics are recorded when a request completes, which may trail its answer: wait for them. */
    char missing[400] = "";
    if (!th_wait_until(all_counted, missing, 5000))
        fail_msg("%s is described but not routed", missing);
}

/* Resolve "#/a/b/c" inside the document. */
static const cJSON *pointer(const cJSON *doc, const char *ref) {
    if (strncmp(ref, "#/", 2) != 0) return NULL;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", ref + 2);
    const cJSON *cur = doc;
    for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok && cur;
         tok = strtok_r(NULL, "/", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    return cur;
}

static void check_refs(const cJSON *node, int *n) {
    const cJSON *c;
    cJSON_ArrayForEach(c, node) {
        if (c->string && strcmp(c->string, "$ref") == 0) {
            (*n)++;
            if (!cJSON_IsString(c) || !pointer(g_doc, c->valuestring))
                fail_msg("$ref %s does not resolve",
                         cJSON_GetStringValue(c) ? c->valuestring : "?");
        }
        if (cJSON_IsObject(c) || cJSON_IsArray(c)) check_refs(c, n);
    }
}

static void test_refs_params_security(void **st) {
    (void)st;
    int nrefs = 0;
    check_refs(g_doc, &nrefs);
    assert_true(nrefs > 50);
    const cJSON *p, *op;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(g_doc, "paths")) {
        cJSON_ArrayForEach(op, p) {
            for (const char *s = strchr(p->string, '{'); s; s = strchr(s + 1, '{')) {
                char name[64];
                size_t len = strcspn(s + 1, "}");
                snprintf(name, sizeof name, "%.*s", (int)len, s + 1);
                int found = 0;
                const cJSON *prm;
                cJSON_ArrayForEach(prm, cJSON_GetObjectItemCaseSensitive(op, "parameters")) {
                    const char *in = jstr(prm, "in"), *nm = jstr(prm, "name");
                    found |= in && nm && strcmp(in, "path") == 0 && strcmp(nm, name) == 0;
                }
                if (!found)
                    fail_msg("%s %s: path parameter %s undeclared", op->string, p->string, name);
            }
            const cJSON *roles = cJSON_GetObjectItemCaseSensitive(op, "x-roles");
            const cJSON *sec = cJSON_GetObjectItemCaseSensitive(op, "security");
            int public = strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(roles, 0)), "public") == 0;
            assert_int_equal(cJSON_GetArraySize(sec), public ? 0 : 1);
        }
    }
    /* Spot checks that the words match the behaviour. */
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g_doc, "paths");
    const cJSON *signup = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(paths, "/v1/signup"), "post");
    const cJSON *role0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(signup, "x-roles"), 0);
    assert_string_equal(cJSON_GetStringValue(role0), "public");
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(paths, "/v1/jobs"), "post");
    char *text = cJSON_PrintUnformatted(jobs);
    assert_non_null(strstr(text, "#/components/parameters/IdempotencyKey"));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_and_prefixed),
        cmocka_unit_test(test_documented_both_ways),
        cmocka_unit_test(test_every_operation_is_routed),
        cmocka_unit_test(test_refs_params_security),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
