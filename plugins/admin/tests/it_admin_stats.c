/* GET /v1/admin/stats has its exchange section ({markets, trades_24h}, API.md) when the exchange
 * plugin runs, read through exchange@1. */
#include "it_jobs_common.h"

static void stats_exchange(int64_t *markets, int64_t *trades) {
    th_resp r;
    assert_int_equal(th_req(H, "GET", "/v1/admin/stats", jt_admin(H), NULL, &r), 0);
    expect_status(r.status, 200, &r, "stats");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(r.json, "exchange");
    if (!x) fail_msg("no exchange section: %s", r.body);
    *markets = jt_int(x, "markets");
    *trades = jt_int(x, "trades_24h");
    th_resp_free(&r);
}

static void test_stats_count_exchange(void **st) {
    (void)st;
    int64_t markets = -1, trades = -1;
    stats_exchange(&markets, &trades);
    assert_int_equal(markets, 1);
    assert_int_equal(trades, 0);
    jt_client seller, buyer;
    jt_exchange_pair(H, &seller, &buyer);
    assert_int_equal(jt_exchange_order(H, &seller, "sell"), 201);
    assert_int_equal(jt_exchange_order(H, &buyer, "buy"), 201);
    stats_exchange(&markets, &trades);
    assert_int_equal(markets, 1);
    assert_int_equal(trades, 1);
}

int main(void) {
    H = jt_start_full("heartbeat_interval_s: 30", NULL, "  exchange: {}\n", NULL);
    if (!H) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_count_exchange),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    int stc = th_stop(H);
    th_free(H);
    return rc ? rc : stc;
}
