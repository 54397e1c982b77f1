/* A hostile-input sweep generated from the router table: GET /v1/openapi.json lists exactly the
 * routes the node serves, and every one of them gets malformed JSON, wrong types, a NUL, bad
 * UTF-8, repeated member names, unrepresentable numbers, unknown and missing fields, a body over
 * every limit, bad path ids, hostile query values, and missing, malformed and wrong-role keys.
 * Every answer must be a documented 4xx (or a 2xx where the input is legal, e.g. a body sent to a
 * route that reads none) with the JSON error body — never a 5xx — and the host must still be
 * healthy and stop cleanly (the ASan run of the suite checks it leaks and corrupts nothing).
 * Run twice: with auth-static (keys of all three roles, so miner routes are swept too) and with
 * the real auth-apikey (its own routes, /v1/admin/keys…). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define PRODUCT_PLUGINS                                                                            \
    "  chain: { block_interval_ms: 100, max_empty_interval_s: 0 }\n"                               \
    "  explorer: {}\n  client: {}\n  miner: {}\n  admin: {}\n  marketplace: {}\n  exchange: {}\n"
#define ACCT(x) "ait1000000000000000000000000000000000000000" x
#define STATIC_AUTH                                                                                \
    "  auth-static: { keys: [ {key: \"k-client\", role: client, address: \"" ACCT(                 \
        "c") "\"},\n"                                                                              \
             "    {key: \"k-miner\", role: miner, address: \"" ACCT(                               \
                 "d") "\"},\n"                                                                     \
                      "    {key: \"k-admin\", role: admin, address: \"" ACCT("a") "\"} ] }\n"
#define APIKEY_AUTH                                                                                \
    "  auth-apikey: { rate_limits: { client: { rps: 0 }, miner: { rps: 0 }, admin: { rps: 0 } },"  \
    " failed_auth: { per_minute: 0 } }\n"
#define HUGE_BODY ((size_t)16 * 1024 * 1024 + 1) /* over every route's limit */

typedef struct sweep {
    th_host *h;
    const char *key[3]; /* client, miner, admin (NULL: none of that role) */
    cJSON *doc;
    char *huge;
    long requests, fours, twos;
} sweep;

static sweep S;

/* ---- the answer contract ---- */

static void check_answer(const char *what, const th_resp *r, int must_refuse) {
    S.requests++;
    if (r->status >= 500 || r->status < 200)
        fail_msg("%s: %ld %.300s", what, r->status, r->body ? r->body : "");
    if (r->status < 400) {
        if (must_refuse) fail_msg("%s: accepted (%ld) %.300s", what, r->status, r->body);
        S.twos++;
        return;
    }
    S.fours++;
    char ct[96];
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    if (!th_resp_header(r, "Content-Type", ct, sizeof ct) || strcmp(ct, "application/json") != 0 ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "code")) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "message")) ||
        !th_resp_header(r, "Request-Id", ct, sizeof ct))
        fail_msg("%s: %ld without the JSON error contract: %.300s", what, r->status, r->body);
}

static void send_one(const char *method, const char *path, const char *key, const char *body,
                     const char *const *headers, int must_refuse, const char *label) {
    th_resp r;
    memset(&r, 0, sizeof r);
    if (th_req_ex(S.h, method, path, key, body, headers, &r) != 0)
        fail_msg("%s %s (%s): no answer", method, path, label);
    char what[600];
    snprintf(what, sizeof what, "%s %.400s (%s)", method, path, label);
    check_answer(what, &r, must_refuse);
    th_resp_free(&r);
}

/* ---- the route table ---- */

static const cJSON *resolve(const cJSON *schema) {
    const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(schema, "$ref"));
    if (!ref || strncmp(ref, "#/components/schemas/", 21) != 0) return schema;
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(S.doc, "components");
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(comps, "schemas"),
                                            ref + 21);
}

/* A key whose role the route allows (NULL if the sweep has none), and one it refuses. */
static void keys_for(const cJSON *op, const char **allowed, const char **refused) {
    static const char *const names[3] = {"client", "miner", "admin"};
    int ok[3] = {0, 0, 0}, pub = 0;
    const cJSON *role;
    cJSON_ArrayForEach(role, cJSON_GetObjectItemCaseSensitive(op, "x-roles")) {
        const char *n = cJSON_GetStringValue(role);
        if (n && strcmp(n, "public") == 0) pub = 1;
        for (int i = 0; i < 3; i++)
            if (n && strcmp(n, names[i]) == 0) ok[i] = 1;
    }
    *allowed = *refused = NULL;
    for (int i = 0; i < 3; i++) {
        if (!S.key[i]) continue;
        if ((ok[i] || pub) && !*allowed) *allowed = S.key[i];
        if (!ok[i] && !pub && !*refused) *refused = S.key[i];
    }
}

/* The path with every {param} replaced by value (already URL-safe). */
static void fill_path(const char *tmpl, const char *value, char *out, size_t cap) {
    size_t o = 0;
    for (const char *p = tmpl; *p && o + 1 < cap;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (!end) break;
            o += (size_t)snprintf(out + o, cap - o, "%s", value);
            if (o >= cap) o = cap - 1;
            p = end + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* A JSON value no schema of this type accepts. */
static const char *wrong_value(const cJSON *prop) {
    const char *type =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(resolve(prop), "type"));
    if (!type) return NULL;
    if (strcmp(type, "string") == 0) return "12345";
    if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0) return "\"12\"";
    if (strcmp(type, "boolean") == 0) return "\"true\"";
    if (strcmp(type, "array") == 0) return "{\"a\":1}";
    if (strcmp(type, "object") == 0) return "[1,2]";
    return NULL;
}

static void sweep_body(const char *method, const char *path, const char *key, const cJSON *op,
                       int takes_json) {
    static const char *const malformed[][2] = {
        {"{\"a\":", "truncated"},
        {"{\"a\":1}}", "trailing"},
        {"[]", "array"},
        {"\"text\"", "string"},
        {"42", "number"},
        {"null", "null"},
        {"{}", "empty object"},
        {"{\"zz_unknown_field\":1}", "unknown field"},
        {"{\"a\":\"x\\u0000y\"}", "NUL"},
        {"{\"a\":\"\xff\xfe\"}", "bad UTF-8"},
        {"{\"a\":\"x\x01y\"}", "raw control character"},
        {"{\"a\":1,\"a\":2}", "repeated member"},
        {"{\"a\":1e999}", "1e999"},
        {"{\"a\":-1e999}", "-1e999"},
        {"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         "deep nesting"},
    };
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++)
        send_one(method, path, key, malformed[i][0], NULL, takes_json, malformed[i][1]);
    send_one(method, path, key, S.huge, NULL, 1, "huge body");
    static const char *const form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    send_one(method, path, key, "{\"a\":1}", form, takes_json, "form content type");
    if (!takes_json) return;
    /* Every documented field with a value of the wrong type, and with an unrepresentable number. */
    const cJSON *schema = resolve(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "requestBody"),
                                             "content"),
            "application/json"),
        "schema"));
    const cJSON *prop;
    cJSON_ArrayForEach(prop, cJSON_GetObjectItemCaseSensitive(schema, "properties")) {
        char body[512], label[160];
        const char *wrong = wrong_value(prop);
        if (wrong) {
            snprintf(body, sizeof body, "{\"%s\":%s}", prop->string, wrong);
            snprintf(label, sizeof label, "%s of the wrong type", prop->string);
            send_one(method, path, key, body, NULL, 1, label);
        }
        snprintf(body, sizeof body, "{\"%s\":1e999}", prop->string);
        snprintf(label, sizeof label, "%s = 1e999", prop->string);
        send_one(method, path, key, body, NULL, 1, label);
        /* Extremes of the right type may be legal somewhere; they must never be a 5xx. */
        static const char *const extremes[] = {
            "1e300", "-1e300", "9007199254740993", "-0.0", "\"-1\"", "\"1e999\"", "\"\""};
        for (size_t i = 0; i < sizeof extremes / sizeof *extremes; i++) {
            snprintf(body, sizeof body, "{\"%s\":%s}", prop->string, extremes[i]);
            snprintf(label, sizeof label, "%s = %s", prop->string, extremes[i]);
            send_one(method, path, key, body, NULL, 0, label);
        }
        size_t n = 200 * 1024;
        char *long_text = malloc(n + 64);
        assert_non_null(long_text);
        int at = snprintf(long_text, 64, "{\"%s\":\"", prop->string);
        memset(long_text + at, 'x', n);
        snprintf(long_text + at + n, 8, "\"}");
        snprintf(label, sizeof label, "%s = 200 KiB string", prop->string);
        send_one(method, path, key, long_text, NULL, 0, label);
        free(long_text);
    }
}

static void sweep_route(const char *tmpl, const char *method, const cJSON *op) {
    const char *allowed, *refused;
    keys_for(op, &allowed, &refused);
    int takes_json = cJSON_GetObjectItemCaseSensitive(op, "requestBody") != NULL;
    int has_param = strchr(tmpl, '{') != NULL;
    char path[1200];
    fill_path(tmpl, "zz_no_such_id", path, sizeof path);
    /* Keys: none, malformed, unknown of a valid shape, and one of a role the route refuses. */
    static const char *const bad_keys[] = {
        "not-a-key", "aitbc_client_key_aaaaaaaaaaaaaaaaaaaaaaaaaa_" /* too short a secret */,
        "aitbc_admin_key_aaaaaaaaaaaaaaaaaaaaaaaaaa_"
        "0000000000000000000000000000000000000000000000000000000000000000"};
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(op, "x-roles");
    int pub = 0;
    const cJSON *role;
    cJSON_ArrayForEach(role, roles) pub |= strcmp(cJSON_GetStringValue(role), "public") == 0;
    pub |= strcmp(tmpl, "/metrics") == 0; /* open from loopback (docs/api.md) */
    const char *body = takes_json ? "{}" : NULL;
    if (!pub) {
        send_one(method, path, NULL, body, NULL, 1, "no key");
        for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++)
            send_one(method, path, bad_keys[i], body, NULL, 1, "bad key");
        if (refused) send_one(method, path, refused, body, NULL, 1, "role refused");
    }
    if (!allowed && !pub) return;
    /* Bad ids in every path parameter. */
    if (has_param) {
        static const char *const ids[] = {
            "x%00y", "%ff%fe",      "..%2f..%2fetc", "-1", "99999999999999999999999999999",
            "%20",   "job_%27%3B--"};
        for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
            char p[1200];
            fill_path(tmpl, ids[i], p, sizeof p);
            send_one(method, p, allowed, body, NULL, 1, ids[i]);
        }
        char longid[700];
        memset(longid, 'a', 600);
        longid[600] = '\0';
        char p[1200];
        fill_path(tmpl, longid, p, sizeof p);
        send_one(method, p, allowed, body, NULL, 1, "600-byte id");
    }
    /* Hostile query values (GET and DELETE may also just ignore what they do not read). */
    static const char *const queries[] = {"?limit=-1",
                                          "?limit=99999999999999999999",
                                          "?limit=1e999",
                                          "?cursor=%ff%fe%fd",
                                          "?cursor=zzzz",
                                          "?wait_s=abc",
                                          "?state=%00",
                                          "?market=AIT%2FBTC%00",
                                          "?depth=-5&interval=0s",
                                          "?start=1e999&end=-1"};
    if (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0) {
        for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
            char p[1400];
            snprintf(p, sizeof p, "%s%s", path, queries[i]);
            /* A NUL anywhere in the query is refused whatever the route reads. */
            send_one(method, p, allowed, NULL, NULL, strstr(queries[i], "%00") != NULL, queries[i]);
        }
    }
    if (strcmp(method, "GET") != 0) sweep_body(method, path, allowed, op, takes_json);
}

static void run_sweep(void) {
    th_resp r;
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(S.h, "GET", "/v1/openapi.json", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    S.doc = r.json;
    r.json = NULL;
    th_resp_free(&r);
    assert_non_null(S.doc);
    S.huge = malloc(HUGE_BODY + 1);
    assert_non_null(S.huge);
    memset(S.huge, ' ', HUGE_BODY);
    S.huge[0] = '{';
    S.huge[HUGE_BODY - 1] = '}';
    S.huge[HUGE_BODY] = '\0';
    int routes = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(S.doc, "paths")) {
        const cJSON *op;
        cJSON_ArrayForEach(op, p) {
            char method[8];
            size_t n = strlen(op->string);
            if (n >= sizeof method || !strchr("gpd", op->string[0])) continue;
            for (size_t i = 0; i <= n; i++)
                method[i] = (char)(op->string[i] >= 'a' ? op->string[i] - 32 : op->string[i]);
            if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT") &&
                strcmp(method, "DELETE") && strcmp(method, "PATCH"))
                continue;
            sweep_route(p->string, method, op);
            routes++;
        }
    }
    print_message("swept %d routes: %ld requests, %ld refused (4xx), %ld accepted (2xx)\n", routes,
                  S.requests, S.fours, S.twos);
    assert_true(routes >= 10);
    free(S.huge);
    cJSON_Delete(S.doc);
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(S.h, "GET", "/healthz", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(th_stop(S.h), 0);
    th_free(S.h);
}

static void with_static_keys_of_every_role(void **state) {
    (void)state;
    memset(&S, 0, sizeof S);
    S.h = th_start(STATIC_AUTH PRODUCT_PLUGINS "  hello: {}\n",
                   "websocket: { listen: \"127.0.0.1:0\" }\n");
    assert_non_null(S.h);
    S.key[0] = "k-client";
    S.key[1] = "k-miner";
    S.key[2] = "k-admin";
    run_sweep();
}

static void with_the_real_key_store(void **state) {
    (void)state;
    memset(&S, 0, sizeof S);
    S.h = th_start(APIKEY_AUTH PRODUCT_PLUGINS, NULL);
    assert_non_null(S.h);
    static char admin[200], client[200];
    char path[4200];
    snprintf(path, sizeof path, "%s/admin.key", th_data_dir(S.h));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(admin, sizeof admin, f));
    fclose(f);
    admin[strcspn(admin, "\r\n")] = '\0';
    th_resp r;
    memset(&r, 0, sizeof r);
    assert_int_equal(
        th_req(S.h, "POST", "/v1/admin/keys", admin, "{\"role\":\"client\",\"label\":\"s\"}", &r),
        0);
    assert_int_equal(r.status, 201);
    snprintf(client, sizeof client, "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "api_key")));
    th_resp_free(&r);
    S.key[0] = client;
    S.key[2] = admin;
    run_sweep();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(with_static_keys_of_every_role),
        cmocka_unit_test(with_the_real_key_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
