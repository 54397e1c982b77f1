/* The ticker is answered from memory (ticker.c) and kept until a trade commits, the best bid or
 * ask changes, or the oldest trade of the 24 h window leaves it. A trade stored 24 h minus a few
 * seconds ago (written into the database before the host ever answered a ticker, as if made then)
 * is counted first and must drop out of the 24 h figures once its day has passed, while staying the
 * last price. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include "ex_common.h"

#define DAY_MS (24LL * 3600 * 1000)
#define LEFT_MS 2500 /* how long the old trade stays in the window after it is written */

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Another writer's statement on the host's database (either driver). */
static void db_exec(const char *sql) {
    if (th_on_postgres()) {
        PGconn *db = th_pg_session(H);
        assert_non_null(db);
        PGresult *r = PQexec(db, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("%s: %s", sql, PQerrorMessage(db));
        PQclear(r);
        PQfinish(db);
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/aitbc.db", th_data_dir(H));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

static void ticker(th_resp *r) {
    assert_int_equal(req("GET", "/v1/exchange/ticker?market=AIT-BTC", "k-bob", NULL, r), 200);
}

static int64_t count_24h(const th_resp *r) {
    return (int64_t)cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(r->json, "trade_count_24h"));
}

static void test_old_trade_leaves_the_window(void **st) {
    (void)st;
    int64_t written = wall_ms();
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO exchange_trades(trade_id, market, price, quantity, notional, taker_side,"
             " taker_order, maker_order, taker_fee, maker_fee, ts_ms) VALUES('trd_old', 'AIT-BTC',"
             " 100000, 1000000, 100000, 0, 'ord_a', 'ord_b', 0, 0, %lld)",
             (long long)(written - DAY_MS + LEFT_MS));
    db_exec(sql);
    th_resp r;
    ticker(&r);
    assert_int_equal(count_24h(&r), 1);
    assert_string_equal(jstr(r.json, "open_24h"), "0.001");
    assert_string_equal(jstr(r.json, "volume_24h"), "1");
    th_resp_free(&r);
    struct timespec nap = {0, 100 * 1000000L};
    while (wall_ms() <= written + LEFT_MS + 50)
        nanosleep(&nap, NULL);
    ticker(&r);
    assert_int_equal(count_24h(&r), 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "open_24h")));
    assert_string_equal(jstr(r.json, "volume_24h"), "0");
    assert_string_equal(jstr(r.json, "last_price"), "0.001"); /* the last trade ever */
    th_resp_free(&r);
}

/* The kept ticker follows the book without a trade: a new best bid, then its cancel. */
static void test_book_top_without_trades(void **st) {
    (void)st;
    mint(BOB, "BTC", "1");
    th_resp r;
    ticker(&r);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "bid_price")));
    th_resp_free(&r);
    order("k-bob",
          "{\"market\":\"AIT-BTC\",\"side\":\"buy\",\"type\":\"limit\",\"price\":\"0.0005\","
          "\"quantity\":\"2\"}",
          201, &r);
    char path[128];
    snprintf(path, sizeof path, "/v1/exchange/orders/%s", jstr(r.json, "order_id"));
    th_resp_free(&r);
    ticker(&r);
    assert_string_equal(jstr(r.json, "bid_price"), "0.0005");
    assert_string_equal(jstr(r.json, "bid_qty"), "2");
    assert_int_equal(count_24h(&r), 0);
    th_resp_free(&r);
    assert_int_equal(req("DELETE", path, "k-bob", NULL, &r), 200);
    th_resp_free(&r);
    ticker(&r);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "bid_price")));
    assert_string_equal(jstr(r.json, "bid_qty"), "0");
    th_resp_free(&r);
}

/* A market the node does not list, or an empty one, is a 400 naming `market`; no market is
 * every market's ticker, the kept one among them. */
static void test_market_query(void **st) {
    (void)st;
    static const char *const bad[] = {
        "/v1/exchange/ticker?market=NOPE-BTC",
        "/v1/exchange/ticker?market=", "/v1/exchange/ticker?market=ait-btc"};
    th_resp r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(req("GET", bad[i], "k-bob", NULL, &r), 400);
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(r.json, "error");
        assert_string_equal(jstr(err, "code"), "invalid_argument");
        assert_string_equal(jstr(err, "field"), "market");
        th_resp_free(&r);
    }
    th_resp one;
    ticker(&one);
    assert_int_equal(req("GET", "/v1/exchange/ticker", "k-bob", NULL, &r), 200);
    assert_true(cJSON_IsArray(r.json));
    const cJSON *t, *found = NULL;
    cJSON_ArrayForEach(t, r.json) {
        if (strcmp(jstr(t, "market"), "AIT-BTC") == 0) found = t;
    }
    assert_non_null(found);
    /* the same object as the single-market answer, but for its time */
    cJSON *a = cJSON_Duplicate(found, 1), *b = cJSON_Duplicate(one.json, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(a, "time");
    cJSON_DeleteItemFromObjectCaseSensitive(b, "time");
    assert_true(cJSON_Compare(a, b, 1));
    cJSON_Delete(a);
    cJSON_Delete(b);
    th_resp_free(&one);
    th_resp_free(&r);
}

static int setup(void **st) {
    (void)st;
    H = th_start(k_plugins, NULL);
    return H ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    return th_end(&H);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_old_trade_leaves_the_window),
                                       cmocka_unit_test(test_book_top_without_trades),
                                       cmocka_unit_test(test_market_query)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
