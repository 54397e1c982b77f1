/* Integration tests of the chain plugin through the real host: POST /v1/admin/mint and
 * POST /v1/transfers over HTTP (validation, 402/403/404, Idempotency-Key), blocks sealed by the
 * timer, `aitbc-host --verify-chain` on the stored files (and after tampering with them through
 * SQLite directly), and a restart that keeps the chain going. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "harness.h"

#define ADMIN "ait1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ALICE "ait1a11ce00000000000000000000000000000000000"
#define BOB "ait1b0b0000000000000000000000000000000000000"
#define NOBODY "ait1dead000000000000000000000000000000000000"

static const char *k_plugins =
    "  auth-static: { keys: [ {key: \"k-admin\", role: admin, address: \"" ADMIN "\"},\n"
    "    {key: \"k-alice\", role: client, address: \"" ALICE "\"},\n"
    "    {key: \"k-bob\", role: client, address: \"" BOB "\"} ] }\n"
    "  chain: { block_interval_ms: 50, max_empty_interval_s: 0,\n"
    "    genesis: { accounts: [\"" ALICE "\", \"" BOB "\"] } }\n"
    "  explorer: {}\n";

static th_host *H;
static char g_dir[512];

static long req(const char *method, const char *path, const char *key, const char *body,
                th_resp *r) {
    memset(r, 0, sizeof *r);
    assert_int_equal(th_req(H, method, path, key, body, r), 0);
    return r->status;
}

static const char *jstr(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static char *balance(const char *addr, const char *asset) {
    th_resp r;
    char path[128];
    snprintf(path, sizeof path, "/v1/explorer/address/%s", addr);
    assert_int_equal(req("GET", path, "k-admin", NULL, &r), 200);
    char *v = strdup(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), asset));
    th_resp_free(&r);
    return v;
}

static void expect_error(const char *method, const char *path, const char *key, const char *body,
                         long status, const char *code, const char *field) {
    th_resp r;
    long got = req(method, path, key, body, &r);
    if (got != status || !th_error_code(&r) || strcmp(th_error_code(&r), code) != 0)
        fail_msg("%s %s %s: got %ld %s, want %ld %s", method, path, body ? body : "", got, r.body,
                 status, code);
    if (field) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(r.json, "error");
        const char *f = jstr(e, "field");
        if (!f || strcmp(f, field) != 0)
            fail_msg("%s: field %s, want %s", body ? body : path, f ? f : "(none)", field);
    }
    th_resp_free(&r);
}

/* Runs aitbc-host --verify-chain on the test's config; returns exit status, output in out. */
static int verify_chain(char *out, size_t cap) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s/config.yaml' --verify-chain 2>/dev/null", AITBC_HOST_BIN,
             g_dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int group_setup(void **st) {
    (void)st;
    H = th_start(k_plugins, NULL);
    if (!H) return -1;
    snprintf(g_dir, sizeof g_dir, "%s", th_data_dir(H));
    return 0;
}

static int group_teardown(void **st) {
    (void)st;
    th_free(H);
    return 0;
}

/* The answer (built from what was written) is the transaction as the explorer shows it, apart
 * from its place in a block, which is null until sealed. */
static void assert_same_as_stored(const cJSON *answer) {
    char path[160];
    snprintf(path, sizeof path, "/v1/explorer/transactions/%s", jstr(answer, "hash"));
    th_resp r;
    assert_int_equal(req("GET", path, "k-admin", NULL, &r), 200);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(answer, "block_height")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(answer, "index")));
    cJSON_DeleteItemFromObjectCaseSensitive(r.json, "block_height");
    cJSON_DeleteItemFromObjectCaseSensitive(r.json, "index");
    cJSON *mine = cJSON_Duplicate(answer, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(mine, "block_height");
    cJSON_DeleteItemFromObjectCaseSensitive(mine, "index");
    if (!cJSON_Compare(mine, r.json, 1)) {
        char *a = cJSON_PrintUnformatted(mine), *b = cJSON_PrintUnformatted(r.json);
        fail_msg("answer %s, stored %s", a, b);
    }
    cJSON_Delete(mine);
    th_resp_free(&r);
}

static void test_mint(void **st) {
    (void)st;
    th_resp r;
    assert_int_equal(req("POST", "/v1/admin/mint", "k-admin",
                         "{\"address\":\"" ALICE "\",\"asset\":\"AIT\",\"amount\":\"100.5\"}", &r),
                     201);
    assert_string_equal(jstr(r.json, "type"), "MINT");
    assert_string_equal(jstr(r.json, "to"), ALICE);
    assert_string_equal(jstr(r.json, "amount"), "100.5");
    assert_string_equal(jstr(r.json, "asset"), "AIT");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "from")));
    assert_int_equal(strlen(jstr(r.json, "hash")), 64);
    assert_same_as_stored(r.json);
    th_resp_free(&r);
    assert_int_equal(req("POST", "/v1/admin/mint", "k-admin",
                         "{\"address\":\"" BOB "\",\"asset\":\"BTC\",\"amount\":\"0.00000001\"}",
                         &r),
                     201);
    assert_string_equal(jstr(r.json, "amount"), "0.00000001");
    th_resp_free(&r);
    char *b = balance(ALICE, "AIT");
    assert_string_equal(b, "100.5");
    free(b);
}

static void test_mint_refusals(void **st) {
    (void)st;
    const char *m = "/v1/admin/mint";
    expect_error("POST", m, "k-alice",
                 "{\"address\":\"" ALICE "\",\"asset\":\"AIT\",\"amount\":\"1\"}", 403, "forbidden",
                 NULL);
    expect_error("POST", m, NULL, "{}", 401, "unauthenticated", NULL);
    expect_error("POST", m, "k-admin",
                 "{\"address\":\"" NOBODY "\",\"asset\":\"AIT\",\"amount\":\"1\"}", 404,
                 "not_found", NULL);
    expect_error("POST", m, "k-admin",
                 "{\"address\":\"ait1XYZ\",\"asset\":\"AIT\",\"amount\":\"1\"}", 400,
                 "invalid_argument", "address");
    expect_error("POST", m, "k-admin",
                 "{\"address\":\"" ALICE "\",\"asset\":\"DOGE\",\"amount\":\"1\"}", 400,
                 "invalid_argument", "asset");
    const char *bad_amounts[] = {"\"1.1234567\"", "\"-1\"", "\"1e3\"", "\" 1\"",
                                 "\"0\"",         "1",      "\"01\"",  "\"99999999999999999999\"",
                                 "\"\"",          "null"};
    for (size_t i = 0; i < sizeof bad_amounts / sizeof *bad_amounts; i++) {
        char body[200];
        snprintf(body, sizeof body, "{\"address\":\"" ALICE "\",\"asset\":\"AIT\",\"amount\":%s}",
                 bad_amounts[i]);
        expect_error("POST", m, "k-admin", body, 400, "invalid_argument", "amount");
    }
    expect_error("POST", m, "k-admin",
                 "{\"address\":\"" ALICE "\",\"asset\":\"AIT\",\"amount\":\"1\",\"x\":1}", 400,
                 "invalid_argument", "x");
    expect_error("POST", m, "k-admin", "[]", 400, "invalid_argument", NULL);
    expect_error("POST", m, "k-admin", "{\"address\":", 400, "invalid_json", NULL);
    /* Supply overflow: 9223372036854.775807 AIT is INT64_MAX base units. */
    const char *huge =
        "{\"address\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"9223372036854.775807\"}";
    expect_error("POST", m, "k-admin", huge, 400, "invalid_argument", "amount");
    char *b = balance(BOB, "AIT");
    assert_string_equal(b, "0");
    free(b);
}

static void test_mint_idempotency_key(void **st) {
    (void)st;
    const char *body = "{\"address\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"7\"}";
    const char *hdr[] = {"Idempotency-Key: mint-once-1", NULL};
    th_resp a, b, c;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    assert_int_equal(th_req_ex(H, "POST", "/v1/admin/mint", "k-admin", body, hdr, &a), 0);
    assert_int_equal(a.status, 201);
    assert_int_equal(th_req_ex(H, "POST", "/v1/admin/mint", "k-admin", body, hdr, &b), 0);
    assert_int_equal(b.status, 201);
    assert_string_equal(jstr(a.json, "hash"), jstr(b.json, "hash"));
    assert_int_equal(th_req_ex(H, "POST", "/v1/admin/mint", "k-admin",
                               "{\"address\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"8\"}", hdr,
                               &c),
                     0);
    assert_int_equal(c.status, 409);
    assert_string_equal(th_error_code(&c), "idempotency_mismatch");
    th_resp_free(&a);
    th_resp_free(&b);
    th_resp_free(&c);
    char *bal = balance(BOB, "AIT");
    assert_string_equal(bal, "7");
    free(bal);
}

static void test_transfers(void **st) {
    (void)st;
    th_resp r;
    assert_int_equal(req("POST", "/v1/transfers", "k-alice",
                         "{\"to\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"40.25\"}", &r),
                     201);
    assert_string_equal(jstr(r.json, "type"), "TRANSFER");
    assert_string_equal(jstr(r.json, "from"), ALICE);
    assert_string_equal(jstr(r.json, "to"), BOB);
    assert_string_equal(jstr(r.json, "amount"), "40.25");
    assert_same_as_stored(r.json);
    th_resp_free(&r);
    const char *t = "/v1/transfers";
    expect_error("POST", t, "k-alice",
                 "{\"to\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"60.250001\"}", 402,
                 "insufficient_funds", NULL);
    expect_error("POST", t, "k-alice", "{\"to\":\"" ALICE "\",\"asset\":\"AIT\",\"amount\":\"1\"}",
                 400, "invalid_argument", "to");
    expect_error("POST", t, "k-alice", "{\"to\":\"" NOBODY "\",\"asset\":\"AIT\",\"amount\":\"1\"}",
                 404, "not_found", NULL);
    expect_error("POST", t, "k-alice", "{\"to\":\"" BOB "\",\"asset\":\"AIT\"}", 400,
                 "invalid_argument", "amount");
    expect_error("POST", t, "k-alice",
                 "{\"to\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"1\",\"from\":\"" BOB "\"}",
                 400, "invalid_argument", "from");
    /* The admin's address never received anything: an empty account, so 402. */
    expect_error("POST", t, "k-admin", "{\"to\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"1\"}",
                 402, "insufficient_funds", NULL);
    char *a = balance(ALICE, "AIT"), *b = balance(BOB, "AIT");
    assert_string_equal(a, "60.25");
    assert_string_equal(b, "47.25");
    free(a);
    free(b);
}

static int all_sealed(void *arg) {
    (void)arg;
    th_resp r;
    memset(&r, 0, sizeof r);
    if (th_req(H, "GET", "/v1/explorer/transactions?limit=1", "k-admin", NULL, &r) != 0) return 0;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(r.json, "items");
    const cJSON *first = cJSON_GetArrayItem(items, 0);
    int ok = first && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(first, "block_height"));
    th_resp_free(&r);
    return ok;
}

static int64_t height(void) {
    th_resp r;
    assert_int_equal(req("GET", "/v1/explorer/blocks?limit=1", "k-admin", NULL, &r), 200);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    int64_t h = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "height"));
    th_resp_free(&r);
    return h;
}

/* Stop the host, verify the files, tamper with one value at a time, verify again. */
static void test_verify_and_tamper(void **st) {
    (void)st;
    if (th_on_postgres()) skip(); /* tampers with the SQLite file itself */
    assert_true(th_wait_until(all_sealed, NULL, 10000));
    assert_int_equal(th_stop(H), 0);
    char out[1024];
    assert_int_equal(verify_chain(out, sizeof out), 0);
    assert_non_null(strstr(out, "ok, "));
    assert_non_null(strstr(out, " blocks, "));
    char db[600];
    snprintf(db, sizeof db, "%s/aitbc.db", g_dir);
    static const struct {
        const char *tamper, *undo, *expect;
    } cases[] = {
        {"UPDATE chain_txs SET amount = amount + 1 WHERE type = 'TRANSFER'",
         "UPDATE chain_txs SET amount = amount - 1 WHERE type = 'TRANSFER'", "transaction "},
        {"UPDATE chain_blocks SET ts_ms = ts_ms + 1 WHERE height = 1",
         "UPDATE chain_blocks SET ts_ms = ts_ms - 1 WHERE height = 1", "block 1"},
        {"UPDATE chain_balances SET available = available - 1 WHERE address = '" BOB
         "' AND asset = 'AIT'",
         "UPDATE chain_balances SET available = available + 1 WHERE address = '" BOB
         "' AND asset = 'AIT'",
         "balance " BOB},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sqlite3 *conn;
        assert_int_equal(sqlite3_open(db, &conn), SQLITE_OK);
        assert_int_equal(sqlite3_exec(conn, cases[i].tamper, NULL, NULL, NULL), SQLITE_OK);
        assert_true(sqlite3_changes(conn) >= 1);
        sqlite3_close(conn);
        assert_int_equal(verify_chain(out, sizeof out), 1);
        if (!strstr(out, "FAIL") || !strstr(out, cases[i].expect))
            fail_msg("tamper %zu: \"%s\" does not name %s", i, out, cases[i].expect);
        assert_int_equal(sqlite3_open(db, &conn), SQLITE_OK);
        assert_int_equal(sqlite3_exec(conn, cases[i].undo, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(conn);
        assert_int_equal(verify_chain(out, sizeof out), 0);
    }
}

/* Start again on the same files: the height is kept and the next block links to the old tip. */
static void test_restart_continues(void **st) {
    (void)st;
    th_host *old = H;
    H = th_start_in(g_dir, k_plugins, NULL);
    assert_non_null(H);
    th_forget(old); /* stopped already; its directory now belongs to the new host */
    int64_t h0 = height();
    assert_true(h0 >= 1);
    th_resp r;
    assert_int_equal(req("POST", "/v1/admin/mint", "k-admin",
                         "{\"address\":\"" ALICE "\",\"asset\":\"AIT\",\"amount\":\"1\"}", &r),
                     201);
    th_resp_free(&r);
    assert_true(th_wait_until(all_sealed, NULL, 10000));
    assert_int_equal(height(), h0 + 1);
    char path[64];
    snprintf(path, sizeof path, "/v1/explorer/blocks/%lld", (long long)h0);
    assert_int_equal(req("GET", path, "k-admin", NULL, &r), 200);
    char *tip = strdup(jstr(r.json, "hash"));
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/explorer/blocks/%lld", (long long)h0 + 1);
    assert_int_equal(req("GET", path, "k-admin", NULL, &r), 200);
    assert_string_equal(jstr(r.json, "parent_hash"), tip);
    th_resp_free(&r);
    free(tip);
    assert_int_equal(th_stop(H), 0);
    char out[1024];
    assert_int_equal(verify_chain(out, sizeof out), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mint),
        cmocka_unit_test(test_mint_refusals),
        cmocka_unit_test(test_mint_idempotency_key),
        cmocka_unit_test(test_transfers),
        cmocka_unit_test(test_verify_and_tamper),
        cmocka_unit_test(test_restart_continues),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
