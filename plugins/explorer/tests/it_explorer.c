/* Integration tests of the explorer through the real host with the real chain plugin: response
 * shapes, lookups by height/hash/address, keyset pagination that stays stable while blocks and
 * transactions are being added, and 400/404 answers for bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"

#define ADMIN "ait1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ALICE "ait1a11ce00000000000000000000000000000000000"
#define BOB "ait1b0b0000000000000000000000000000000000000"
#define NOBODY "ait1dead000000000000000000000000000000000000"

static th_host *H;

static long get(const char *path, th_resp *r) {
    memset(r, 0, sizeof *r);
    assert_int_equal(th_req(H, "GET", path, "k-bob", NULL, r), 0);
    return r->status;
}

static const char *jstr(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void mint(const char *to, const char *amount) {
    char body[160];
    th_resp r;
    memset(&r, 0, sizeof r);
    snprintf(body, sizeof body, "{\"address\":\"%s\",\"asset\":\"AIT\",\"amount\":\"%s\"}", to,
             amount);
    assert_int_equal(th_req(H, "POST", "/v1/admin/mint", "k-admin", body, &r), 0);
    assert_int_equal(r.status, 201);
    th_resp_free(&r);
}

static void transfer(const char *key, const char *to, const char *amount) {
    char body[160];
    th_resp r;
    memset(&r, 0, sizeof r);
    snprintf(body, sizeof body, "{\"to\":\"%s\",\"asset\":\"AIT\",\"amount\":\"%s\"}", to, amount);
    assert_int_equal(th_req(H, "POST", "/v1/transfers", key, body, &r), 0);
    assert_int_equal(r.status, 201);
    th_resp_free(&r);
}

static void expect_error(const char *path, long status, const char *field) {
    th_resp r;
    long got = get(path, &r);
    const char *code = th_error_code(&r);
    if (got != status || !code) fail_msg("GET %s: got %ld %s, want %ld", path, got, r.body, status);
    assert_string_equal(code, status == 404 ? "not_found" : "invalid_argument");
    if (field)
        assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "error"), "field"),
                            field);
    th_resp_free(&r);
}

static int pending_count(void) {
    th_resp r;
    assert_int_equal(get("/v1/explorer/transactions?limit=500", &r), 200);
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items")) n +=
        cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(it, "block_height"));
    th_resp_free(&r);
    return n;
}

static int none_pending(void *arg) {
    (void)arg;
    return pending_count() == 0;
}

static int group_setup(void **st) {
    (void)st;
    H = th_start("  auth-static: { keys: [ {key: \"k-admin\", role: admin, address: \"" ADMIN
                 "\"},\n"
                 "    {key: \"k-alice\", role: client, address: \"" ALICE "\"},\n"
                 "    {key: \"k-bob\", role: client, address: \"" BOB "\"} ] }\n"
                 "  chain: { block_interval_ms: 40, max_empty_interval_s: 0,\n"
                 "    genesis: { accounts: [\"" ALICE "\", \"" BOB "\"] } }\n"
                 "  explorer: {}\n",
                 NULL);
    return H ? 0 : -1;
}

static int group_teardown(void **st) {
    (void)st;
    th_free(H);
    return 0;
}

static void test_shapes(void **st) {
    (void)st;
    mint(ALICE, "10");
    transfer("k-alice", BOB, "2.5");
    assert_true(th_wait_until(none_pending, NULL, 10000));
    th_resp r;
    assert_int_equal(get("/v1/explorer/blocks", &r), 200);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(r.json, "items");
    assert_true(cJSON_GetArraySize(items) >= 2);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "next_cursor")));
    const cJSON *tip = cJSON_GetArrayItem(items, 0);
    const char *keys[] = {"height",      "hash",       "parent_hash", "timestamp", "tx_count",
                          "merkle_root", "state_root", "proposer",    "signature"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(tip, keys[i]));
    int64_t h = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(tip, "height"));
    char hash[80], path[160];
    snprintf(hash, sizeof hash, "%s", jstr(tip, "hash"));
    th_resp_free(&r);

    /* By height and by hash: the same block, with its transactions. */
    snprintf(path, sizeof path, "/v1/explorer/blocks/%s", hash);
    assert_int_equal(get(path, &r), 200);
    assert_int_equal(
        (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "height")), h);
    const cJSON *txs = cJSON_GetObjectItemCaseSensitive(r.json, "transactions");
    assert_int_equal(
        cJSON_GetArraySize(txs),
        (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "tx_count")));
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/explorer/blocks/%lld", (long long)h);
    assert_int_equal(get(path, &r), 200);
    assert_string_equal(jstr(r.json, "hash"), hash);
    th_resp_free(&r);
    assert_int_equal(get("/v1/explorer/blocks/0", &r), 200);
    assert_string_equal(jstr(r.json, "parent_hash"),
                        "0000000000000000000000000000000000000000000000000000000000000000");
    th_resp_free(&r);

    /* Transactions, filtered by type, and one by hash. */
    assert_int_equal(get("/v1/explorer/transactions?type=TRANSFER", &r), 200);
    const cJSON *tx = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    assert_string_equal(jstr(tx, "type"), "TRANSFER");
    assert_string_equal(jstr(tx, "from"), ALICE);
    assert_string_equal(jstr(tx, "amount"), "2.5");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(tx, "block_height")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(tx, "index")));
    assert_non_null(jstr(tx, "timestamp"));
    assert_non_null(jstr(tx, "ref"));
    snprintf(path, sizeof path, "/v1/explorer/transactions/%s", jstr(tx, "hash"));
    th_resp_free(&r);
    assert_int_equal(get(path, &r), 200);
    assert_string_equal(jstr(r.json, "type"), "TRANSFER");
    th_resp_free(&r);

    /* Address view. */
    assert_int_equal(get("/v1/explorer/address/" BOB, &r), 200);
    assert_string_equal(jstr(r.json, "address"), BOB);
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), "AIT"), "2.5");
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), "BTC"), "0");
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "locked"), "AIT"), "0");
    assert_int_equal(
        (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "tx_count")), 1);
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "recent_transactions")), 1);
    assert_non_null(jstr(r.json, "first_seen"));
    assert_non_null(jstr(r.json, "last_active"));
    th_resp_free(&r);
    assert_int_equal(get("/v1/explorer/address/" ALICE "/transactions", &r), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 2);
    th_resp_free(&r);
}

/* Page through with a small limit while new transactions keep arriving: no item is repeated or
 * skipped among those that existed when paging started, and the order is newest first. */
static void test_pagination_stable(void **st) {
    (void)st;
    for (int i = 0; i < 25; i++)
        mint(ALICE, "1");
    th_resp r;
    assert_int_equal(get("/v1/explorer/transactions?limit=500", &r), 200);
    int total = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items"));
    char(*before)[65] = calloc((size_t)total, 65);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items"))
        snprintf(before[i++], 65, "%s", jstr(it, "hash"));
    th_resp_free(&r);

    char path[300];
    char cursor[200] = "";
    int seen = 0, pages = 0;
    for (;;) {
        if (cursor[0])
            snprintf(path, sizeof path, "/v1/explorer/transactions?limit=4&cursor=%s", cursor);
        else
            snprintf(path, sizeof path, "/v1/explorer/transactions?limit=4");
        assert_int_equal(get(path, &r), 200);
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items")) {
            assert_true(seen < total);
            assert_string_equal(jstr(it, "hash"), before[seen]);
            seen++;
        }
        const char *next = jstr(r.json, "next_cursor");
        if (!next) {
            th_resp_free(&r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", next);
        th_resp_free(&r);
        mint(BOB, "1"); /* new rows arrive at the top between pages */
        pages++;
    }
    assert_int_equal(seen, total);
    assert_true(pages >= 5);
    free(before);

    /* Blocks: heights strictly consecutive downwards to genesis while new blocks are sealed. */
    cursor[0] = '\0';
    int64_t expect = -1;
    for (;;) {
        if (cursor[0])
            snprintf(path, sizeof path, "/v1/explorer/blocks?limit=2&cursor=%s", cursor);
        else
            snprintf(path, sizeof path, "/v1/explorer/blocks?limit=2");
        assert_int_equal(get(path, &r), 200);
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items")) {
            int64_t h =
                (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "height"));
            if (expect >= 0) assert_int_equal(h, expect);
            expect = h - 1;
        }
        const char *next = jstr(r.json, "next_cursor");
        if (!next) {
            th_resp_free(&r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", next);
        th_resp_free(&r);
        mint(BOB, "1");
    }
    assert_int_equal(expect, -1); /* reached genesis */
}

static void test_bad_input(void **st) {
    (void)st;
    expect_error("/v1/explorer/blocks?limit=0", 400, "limit");
    expect_error("/v1/explorer/blocks?limit=501", 400, "limit");
    expect_error("/v1/explorer/blocks?limit=abc", 400, "limit");
    expect_error("/v1/explorer/blocks?limit=-1", 400, "limit");
    expect_error("/v1/explorer/blocks?cursor=garbage!", 400, "cursor");
    expect_error("/v1/explorer/blocks?cursor=eyJmIjoxfQ", 400, "cursor"); /* {"f":1} */
    expect_error("/v1/explorer/blocks/abc", 400, "height_or_hash");
    expect_error("/v1/explorer/blocks/-1", 400, "height_or_hash");
    expect_error("/v1/explorer/blocks/01", 400, "height_or_hash");
    expect_error("/v1/explorer/blocks/99999999", 404, NULL);
    expect_error("/v1/explorer/blocks/"
                 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                 404, NULL);
    expect_error("/v1/explorer/transactions/xyz", 400, "hash");
    expect_error("/v1/explorer/transactions/"
                 "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
                 400, "hash");
    expect_error("/v1/explorer/transactions/"
                 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                 404, NULL);
    expect_error("/v1/explorer/transactions?type=STEAL", 400, "type");
    expect_error("/v1/explorer/address/bogus", 400, "address");
    expect_error("/v1/explorer/address/" NOBODY, 404, NULL);
    expect_error("/v1/explorer/address/" NOBODY "/transactions", 404, NULL);
    expect_error("/v1/explorer/address/AIT1A11CE00000000000000000000000000000000000", 400,
                 "address");

    /* A cursor made for one filter is refused for another listing or filter. */
    th_resp r;
    assert_int_equal(get("/v1/explorer/transactions?type=MINT&limit=1", &r), 200);
    const char *next = jstr(r.json, "next_cursor");
    assert_non_null(next);
    char path[300];
    snprintf(path, sizeof path, "/v1/explorer/transactions?type=TRANSFER&cursor=%s", next);
    expect_error(path, 400, "cursor");
    snprintf(path, sizeof path, "/v1/explorer/transactions?cursor=%s", next);
    expect_error(path, 400, "cursor");
    snprintf(path, sizeof path, "/v1/explorer/blocks?cursor=%s", next);
    expect_error(path, 400, "cursor");
    snprintf(path, sizeof path, "/v1/explorer/transactions?type=MINT&cursor=%s", next);
    th_resp ok;
    assert_int_equal(get(path, &ok), 200);
    th_resp_free(&ok);
    th_resp_free(&r);

    /* Explorer routes need a key, and the explorer never accepts writes. */
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(H, "GET", "/v1/explorer/blocks", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    th_resp_free(&r);
    memset(&r, 0, sizeof r);
    assert_int_equal(th_req(H, "POST", "/v1/explorer/blocks", "k-admin", "{}", &r), 0);
    assert_int_equal(r.status, 405);
    th_resp_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_pagination_stable),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
