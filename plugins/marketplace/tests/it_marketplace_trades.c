/* Integration tests of marketplace trades through the real host with real escrow (chain
 * plugin): buying with exact balances, 402, eight concurrent buyers racing for the last hours
 * (never oversold, losers keep every unit), hourly release until COMPLETED, seller cancel with a
 * pro-rata refund, own-only listing (foreign trades 404), bad input, Idempotency-Key replay, and
 * at the end conservation of funds and `aitbc-host --verify-chain`. A "hour" lasts 200 ms. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <aitbc/util.h>
#include "mk_th.h"

#define TRADES "/v1/marketplace/trades"
#define U(x) ((int64_t)(x)*1000000) /* whole AIT in base units */

static int group_setup(void **st) {
    (void)st;
    if (mk_start() != 0) return -1;
    return 0;
}

static int group_teardown(void **st) {
    (void)st;
    mk_stop();
    return 0;
}

/* POST a trade; returns the status and (on 201) the trade JSON in *out (caller frees). */
static long buy(const char *key, const char *offer_id, int hours, cJSON **out) {
    char body[200];
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":%d}", offer_id, hours);
    th_resp r;
    long st = mk_req("POST", TRADES, key, body, &r);
    if (out) *out = st == 201 ? cJSON_Duplicate(r.json, 1) : NULL;
    th_resp_free(&r);
    return st;
}

static cJSON *get_json(const char *path, const char *key) {
    th_resp r;
    if (mk_req("GET", path, key, NULL, &r) != 200)
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    cJSON *o = cJSON_Duplicate(r.json, 1);
    th_resp_free(&r);
    return o;
}

typedef struct watch {
    char path[160];
    const char *key, *status;
    int64_t min_hours_released;
} watch;

static int trade_reached(void *arg) {
    watch *w = arg;
    th_resp r;
    int yes = mk_req("GET", w->path, w->key, NULL, &r) == 200 &&
              (!w->status || strcmp(jstr(r.json, "status"), w->status) == 0) &&
              jint(r.json, "hours_released") >= w->min_hours_released;
    th_resp_free(&r);
    return yes;
}

static void test_buy_and_release(void **st) {
    (void)st;
    mk_mint(ALICE, "100");
    cJSON *o = mk_offer("k-m1", "RTX 4090", 24, "eu", "1.5", 10);
    int64_t m1_av0, m1_lk0;
    mk_balance(M1, &m1_av0, &m1_lk0);
    cJSON *t;
    assert_int_equal(buy("k-alice", jstr(o, "offer_id"), 4, &t), 201);
    assert_true(strncmp(jstr(t, "trade_id"), "trd_", 4) == 0);
    assert_string_equal(jstr(t, "offer_id"), jstr(o, "offer_id"));
    assert_string_equal(jstr(t, "buyer"), ALICE);
    assert_string_equal(jstr(t, "seller"), M1);
    assert_int_equal(jint(t, "hours"), 4);
    assert_string_equal(jstr(t, "price_per_hour"), "1.5");
    assert_string_equal(jstr(t, "total"), "6");
    assert_string_equal(jstr(t, "status"), "ACTIVE");
    int64_t c, e;
    assert_int_equal(aitbc_time_parse(jstr(t, "created_at"), &c), 0);
    assert_int_equal(aitbc_time_parse(jstr(t, "ends_at"), &e), 0);
    assert_int_equal(e - c, 4 * MK_HOUR_MS);
    /* The hours left the offer; the total left Alice's available funds at once. */
    char path[160];
    snprintf(path, sizeof path, "/v1/marketplace/offers/%s", jstr(o, "offer_id"));
    cJSON *g = get_json(path, "k-bob");
    assert_int_equal(jint(g, "hours_remaining"), 6);
    assert_string_equal(jstr(g, "status"), "OPEN");
    cJSON_Delete(g);
    int64_t av, lk, sav, slk;
    mk_balance(ALICE, &av, &lk);
    assert_int_equal(av, U(94));
    /* Escrow drains to the seller hour by hour; wait for the end. */
    watch w = {.key = "k-alice", .status = "COMPLETED", .min_hours_released = 4};
    snprintf(w.path, sizeof w.path, TRADES "/%s", jstr(t, "trade_id"));
    assert_true(th_wait_until(trade_reached, &w, 15000));
    g = get_json(w.path, "k-m1"); /* the seller sees it too */
    assert_string_equal(jstr(g, "released"), "6");
    assert_string_equal(jstr(g, "refunded"), "0");
    cJSON_Delete(g);
    mk_balance(ALICE, &av, &lk);
    assert_int_equal(av, U(94));
    assert_int_equal(lk, 0);
    mk_balance(M1, &sav, &slk);
    assert_int_equal(sav - m1_av0, U(6));
    cJSON_Delete(t);
    cJSON_Delete(o);
}

static void test_insufficient_funds(void **st) {
    (void)st;
    mk_mint(BOB, "1");
    cJSON *o = mk_offer("k-m1", "A10", 24, "us", "1.5", 3);
    char body[200];
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":1}", jstr(o, "offer_id"));
    mk_expect_error("POST", TRADES, "k-bob", body, 402, "insufficient_funds", NULL);
    int64_t av, lk;
    mk_balance(BOB, &av, &lk);
    assert_int_equal(av, U(1));
    assert_int_equal(lk, 0);
    char path[160];
    snprintf(path, sizeof path, "/v1/marketplace/offers/%s", jstr(o, "offer_id"));
    cJSON *g = get_json(path, "k-bob");
    assert_int_equal(jint(g, "hours_remaining"), 3); /* the hours went back with the rollback */
    cJSON_Delete(g);
    cJSON_Delete(o);
}

typedef struct racer {
    int i;
    const char *offer_id;
    long status;
} racer;

static void *race(void *arg) {
    racer *r = arg;
    char key[16], body[200];
    snprintf(key, sizeof key, "k-c%d", r->i);
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":1}", r->offer_id);
    th_resp resp;
    memset(&resp, 0, sizeof resp);
    r->status = th_req(H, "POST", TRADES, key, body, &resp) == 0 ? resp.status : -1;
    th_resp_free(&resp);
    return NULL;
}

static void test_oversell_race(void **st) {
    (void)st;
    cJSON *o = mk_offer("k-m2", "H100", 80, "us", "1", 6);
    mk_mint(ALICE, "2");
    assert_int_equal(buy("k-alice", jstr(o, "offer_id"), 2, NULL), 201);
    for (int i = 0; i < MK_RACERS; i++)
        mk_mint(mk_racer(i), "10");
    /* Four hours left, eight buyers of one hour each at the same moment. */
    pthread_t th[MK_RACERS];
    racer rs[MK_RACERS];
    for (int i = 0; i < MK_RACERS; i++) {
        rs[i] = (racer){i, jstr(o, "offer_id"), 0};
        assert_int_equal(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    int won = 0;
    for (int i = 0; i < MK_RACERS; i++) {
        pthread_join(th[i], NULL);
        int64_t av, lk;
        mk_balance(mk_racer(i), &av, &lk);
        if (rs[i].status == 201) {
            won++;
            assert_int_equal(av, U(9));
        } else {
            assert_int_equal(rs[i].status, 409);
            assert_int_equal(av, U(10)); /* nothing locked for a loser */
            assert_int_equal(lk, 0);
        }
    }
    assert_int_equal(won, 4);
    char path[160];
    snprintf(path, sizeof path, "/v1/marketplace/offers/%s", jstr(o, "offer_id"));
    cJSON *g = get_json(path, "k-alice");
    assert_int_equal(jint(g, "hours_remaining"), 0);
    assert_string_equal(jstr(g, "status"), "SOLD_OUT");
    cJSON_Delete(g);
    char body[200];
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":1}", jstr(o, "offer_id"));
    mk_expect_error("POST", TRADES, "k-c0", body, 409, "conflict", "offer_id");
    cJSON_Delete(o);
}

static void test_cancel_prorata(void **st) {
    (void)st;
    mk_mint(BOB, "200");
    cJSON *o = mk_offer("k-m1", "L40S", 48, "eu", "2", 50);
    int64_t bob_av0, bob_lk0, m1_av0, m1_lk0;
    mk_balance(BOB, &bob_av0, &bob_lk0);
    mk_balance(M1, &m1_av0, &m1_lk0);
    cJSON *t;
    assert_int_equal(buy("k-bob", jstr(o, "offer_id"), 50, &t), 201); /* 10 s of "hours" */
    assert_string_equal(jstr(t, "total"), "100");
    watch w = {.key = "k-bob", .status = NULL, .min_hours_released = 2};
    snprintf(w.path, sizeof w.path, TRADES "/%s", jstr(t, "trade_id"));
    assert_true(th_wait_until(trade_reached, &w, 15000));
    char path[160];
    snprintf(path, sizeof path, "/v1/marketplace/offers/%s", jstr(o, "offer_id"));
    th_resp r;
    assert_int_equal(mk_req("DELETE", path, "k-m1", NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "CANCELED");
    th_resp_free(&r);
    cJSON *g = get_json(w.path, "k-bob");
    assert_string_equal(jstr(g, "status"), "CANCELED");
    int64_t released = mk_units(jstr(g, "released")), refunded = mk_units(jstr(g, "refunded"));
    assert_int_equal(released + refunded, U(100));
    assert_true(released >= U(4));  /* at least the two hours that had passed */
    assert_true(refunded >= U(50)); /* and well short of 50 hours */
    cJSON_Delete(g);
    int64_t av, lk;
    mk_balance(BOB, &av, &lk);
    assert_int_equal(av, bob_av0 - U(100) + refunded);
    assert_int_equal(lk, bob_lk0);
    mk_balance(M1, &av, &lk);
    assert_int_equal(av, m1_av0 + released);
    cJSON_Delete(t);
    cJSON_Delete(o);
}

static void test_lists_and_foreign(void **st) {
    (void)st;
    /* Alice bought twice (test_buy_and_release, test_oversell_race). */
    cJSON *l = get_json(TRADES, "k-alice");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(l, "items");
    assert_int_equal(cJSON_GetArraySize(items), 2);
    char alice_trade[160];
    snprintf(alice_trade, sizeof alice_trade, TRADES "/%s",
             jstr(cJSON_GetArrayItem(items, 0), "trade_id"));
    cJSON_Delete(l);
    /* Paged one by one, newest first, cursor bound to the filter. */
    l = get_json(TRADES "?limit=1", "k-alice");
    const char *next = jstr(l, "next_cursor");
    assert_non_null(next);
    char q[400];
    snprintf(q, sizeof q, TRADES "?limit=1&cursor=%s", next);
    cJSON *l2 = get_json(q, "k-alice");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l2, "items")), 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(l2, "next_cursor")));
    cJSON_Delete(l2);
    snprintf(q, sizeof q, TRADES "?limit=1&status=ACTIVE&cursor=%s", next);
    mk_expect_error("GET", q, "k-alice", NULL, 400, "invalid_argument", "cursor");
    cJSON_Delete(l);
    /* The seller sees its trades as seller; M2 sold five (Alice + four racers). */
    l = get_json(TRADES "?limit=500", "k-m2");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "items")), 5);
    cJSON_Delete(l);
    l = get_json(TRADES "?status=CANCELED", "k-bob");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "items")), 1);
    cJSON_Delete(l);
    mk_expect_error("GET", TRADES "?status=done", "k-bob", NULL, 400, "invalid_argument", "status");
    mk_expect_error("GET", TRADES "?limit=0", "k-bob", NULL, 400, "invalid_argument", "limit");
    /* Someone else's trade does not exist for the caller. */
    mk_expect_error("GET", alice_trade, "k-bob", NULL, 404, "not_found", NULL);
    mk_expect_error("GET", alice_trade, "k-m1", NULL, 404, "not_found", NULL);
    mk_expect_error("GET", TRADES "/trd_nope", "k-alice", NULL, 404, "not_found", NULL);
}

static void test_trade_bad_input(void **st) {
    (void)st;
    cJSON *o = mk_offer("k-m2", "T4", 16, "ap", "0.25", 5);
    const char *id = jstr(o, "offer_id");
    char body[300];
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":1}", id);
    mk_expect_error("POST", TRADES, "k-m1", body, 403, "forbidden", NULL);
    mk_expect_error("POST", TRADES, NULL, body, 401, "unauthenticated", NULL);
    mk_expect_error("POST", TRADES, "k-alice", "{\"offer_id\"", 400, "invalid_json", NULL);
    mk_expect_error("POST", TRADES, "k-alice", "[1]", 400, "invalid_argument", NULL);
    const char *hours[] = {"0", "-1", "1.5", "\"1\"", "null", "9000", "true"};
    for (size_t i = 0; i < sizeof hours / sizeof *hours; i++) {
        snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":%s}", id, hours[i]);
        mk_expect_error("POST", TRADES, "k-alice", body, 400, "invalid_argument", "hours");
    }
    mk_expect_error("POST", TRADES, "k-alice", "{\"hours\":1}", 400, "invalid_argument",
                    "offer_id");
    mk_expect_error("POST", TRADES, "k-alice", "{\"offer_id\":\"trd_x\",\"hours\":1}", 400,
                    "invalid_argument", "offer_id");
    mk_expect_error("POST", TRADES, "k-alice", "{\"offer_id\":7,\"hours\":1}", 400,
                    "invalid_argument", "offer_id");
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":1,\"price\":\"0\"}", id);
    mk_expect_error("POST", TRADES, "k-alice", body, 400, "invalid_argument", "price");
    mk_expect_error("POST", TRADES, "k-alice", "{\"offer_id\":\"ofr_nope\",\"hours\":1}", 404,
                    "not_found", "offer_id");
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":6}", id);
    mk_expect_error("POST", TRADES, "k-alice", body, 409, "conflict", "offer_id");
    cJSON_Delete(o);
}

static void test_idempotent_trade(void **st) {
    (void)st;
    mk_mint(mk_racer(7), "5");
    cJSON *o = mk_offer("k-m2", "A6000", 48, "us", "1", 5);
    char body[200], other[200];
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":2}", jstr(o, "offer_id"));
    snprintf(other, sizeof other, "{\"offer_id\":\"%s\",\"hours\":3}", jstr(o, "offer_id"));
    int64_t av0, lk0, av, lk;
    mk_balance(mk_racer(7), &av0, &lk0);
    th_resp a, b, c;
    assert_int_equal(mk_req_idem(TRADES, "k-c7", body, "buy-once", &a), 201);
    assert_int_equal(mk_req_idem(TRADES, "k-c7", body, "buy-once", &b), 201);
    assert_string_equal(jstr(a.json, "trade_id"), jstr(b.json, "trade_id"));
    assert_int_equal(mk_req_idem(TRADES, "k-c7", other, "buy-once", &c), 409);
    assert_string_equal(th_error_code(&c), "idempotency_mismatch");
    th_resp_free(&a);
    th_resp_free(&b);
    th_resp_free(&c);
    mk_balance(mk_racer(7), &av, &lk);
    assert_int_equal(av, av0 - U(2)); /* charged once */
    char path[160];
    snprintf(path, sizeof path, "/v1/marketplace/offers/%s", jstr(o, "offer_id"));
    cJSON *g = get_json(path, "k-c7");
    assert_int_equal(jint(g, "hours_remaining"), 3);
    cJSON_Delete(g);
    cJSON_Delete(o);
}

static int none_active(void *arg) {
    (void)arg;
    const char *keys[] = {"k-m1", "k-m2"};
    for (int i = 0; i < 2; i++) {
        th_resp r;
        int busy = mk_req("GET", TRADES "?status=ACTIVE", keys[i], NULL, &r) != 200 ||
                   cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")) != 0;
        th_resp_free(&r);
        if (busy) return 0;
    }
    return 1;
}

static void test_conservation_and_chain(void **st) {
    (void)st;
    /* Once every trade has settled, nothing is in flight between two balance reads. */
    assert_true(th_wait_until(none_active, NULL, 20000));
    assert_int_equal(mk_total_held(), mk_minted());
    int64_t av, lk;
    const char *who[] = {ALICE, BOB, M1, M2};
    for (int i = 0; i < 4; i++) {
        mk_balance(who[i], &av, &lk);
        assert_int_equal(lk, 0);
    }
    assert_int_equal(mk_verify_chain(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buy_and_release),   cmocka_unit_test(test_insufficient_funds),
        cmocka_unit_test(test_oversell_race),     cmocka_unit_test(test_cancel_prorata),
        cmocka_unit_test(test_lists_and_foreign), cmocka_unit_test(test_trade_bad_input),
        cmocka_unit_test(test_idempotent_trade),  cmocka_unit_test(test_conservation_and_chain),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
