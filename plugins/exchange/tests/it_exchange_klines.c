/* GET /v1/exchange/klines through the real host: candles are checked against an independent
 * computation from the public trade list (GET /v1/exchange/trades), for every interval, with the
 * start/end/limit windows, plus the 400s for hostile query strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "ex_common.h"
#include "aitbc/money.h"
#include "aitbc/util.h"

typedef struct trade {
    int64_t ms, price, qty, quote;
} trade;

static trade g_trades[16];
static int g_ntrades;

static int group_setup(void **st) {
    (void)st;
    H = th_start(k_plugins, NULL);
    return H ? 0 : -1;
}

static int group_teardown(void **st) {
    (void)st;
    th_free(H);
    return 0;
}

static int64_t money(const char *s, int dec) {
    int64_t v = -1;
    if (!s || aitbc_money_parse(s, dec, &v) != 0) fail_msg("bad money %s", s ? s : "(null)");
    return v;
}

/* Five trades at different prices: alice sells, bob buys (two partly crossing levels). */
static void test_make_trades(void **st) {
    (void)st;
    mint(ALICE, "AIT", "1000");
    mint(BOB, "BTC", "10");
    th_resp r;
    static const char *const prices[] = {"0.0005", "0.0007", "0.0004", "0.0009", "0.0006"};
    static const char *const qty[] = {"1", "2.5", "3", "0.5", "4"};
    for (int i = 0; i < 5; i++) {
        char sell[256], buy[256];
        snprintf(sell, sizeof sell,
                 "{\"market\":\"AIT-BTC\",\"side\":\"sell\",\"type\":\"limit\",\"price\":\"%s\","
                 "\"quantity\":\"%s\"}",
                 prices[i], qty[i]);
        snprintf(buy, sizeof buy,
                 "{\"market\":\"AIT-BTC\",\"side\":\"buy\",\"type\":\"limit\",\"price\":\"%s\","
                 "\"quantity\":\"%s\"}",
                 prices[i], qty[i]);
        order("k-alice", sell, 201, &r);
        th_resp_free(&r);
        order("k-bob", buy, 201, &r);
        assert_string_equal(jstr(r.json, "status"), "FILLED");
        th_resp_free(&r);
    }
    /* The oracle's input: the public list, oldest first. */
    assert_int_equal(req("GET", "/v1/exchange/trades?market=AIT-BTC&limit=50", "k-bob", NULL, &r),
                     200);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(r.json, "items");
    g_ntrades = cJSON_GetArraySize(items);
    assert_int_equal(g_ntrades, 5);
    for (int i = 0; i < g_ntrades; i++) {
        const cJSON *t = cJSON_GetArrayItem(items, g_ntrades - 1 - i);
        trade *x = &g_trades[i];
        assert_int_equal(aitbc_time_parse(jstr(t, "time"), &x->ms), 0);
        x->price = money(jstr(t, "price"), 8);
        x->qty = money(jstr(t, "quantity"), 6);
        x->quote = money(jstr(t, "quote_quantity"), 8);
    }
    th_resp_free(&r);
}

/* Expected candles for interval iv over trades whose bucket lies in [from, to]; compares with the
 * answer's items. */
static void check_candles(const cJSON *items, int64_t iv, int64_t from, int64_t to, int limit,
                          int newest) {
    int64_t open_t[16];
    int n = 0;
    for (int i = 0; i < g_ntrades; i++) {
        int64_t b = g_trades[i].ms / iv * iv;
        if (b < from || b > to) continue;
        if (n == 0 || open_t[n - 1] != b) open_t[n++] = b;
    }
    int first = 0;
    if (n > limit) {
        if (newest) first = n - limit;
        n = limit + first;
    }
    assert_int_equal(cJSON_GetArraySize(items), n - first);
    for (int k = first; k < n; k++) {
        const cJSON *c = cJSON_GetArrayItem(items, k - first);
        int64_t ot;
        assert_int_equal(aitbc_time_parse(jstr(c, "open_time"), &ot), 0);
        assert_int_equal(ot, open_t[k]);
        int64_t o = -1, cl = 0, hi = 0, lo = INT64_MAX, v = 0, qv = 0, cnt = 0;
        for (int i = 0; i < g_ntrades; i++) {
            const trade *t = &g_trades[i];
            if (t->ms / iv * iv != ot) continue;
            if (o < 0) o = t->price;
            cl = t->price;
            hi = t->price > hi ? t->price : hi;
            lo = t->price < lo ? t->price : lo;
            v += t->qty;
            qv += t->quote;
            cnt++;
        }
        assert_int_equal(money(jstr(c, "open"), 8), o);
        assert_int_equal(money(jstr(c, "close"), 8), cl);
        assert_int_equal(money(jstr(c, "high"), 8), hi);
        assert_int_equal(money(jstr(c, "low"), 8), lo);
        assert_int_equal(money(jstr(c, "volume"), 6), v);
        assert_int_equal(money(jstr(c, "quote_volume"), 8), qv);
        assert_int_equal((int64_t)cJSON_GetObjectItemCaseSensitive(c, "trades")->valuedouble, cnt);
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "open")));
    }
}

static void test_every_interval(void **st) {
    (void)st;
    static const struct {
        const char *name;
        int64_t ms;
    } ivs[] = {{"1m", 60000},   {"5m", 300000},   {"15m", 900000},
               {"1h", 3600000}, {"4h", 14400000}, {"1d", 86400000}};
    for (size_t i = 0; i < sizeof ivs / sizeof ivs[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "/v1/exchange/klines?market=AIT-BTC&interval=%s", ivs[i].name);
        th_resp r;
        assert_int_equal(req("GET", path, "k-carol", NULL, &r), 200);
        assert_string_equal(jstr(r.json, "market"), "AIT-BTC");
        assert_string_equal(jstr(r.json, "interval"), ivs[i].name);
        check_candles(cJSON_GetObjectItemCaseSensitive(r.json, "items"), ivs[i].ms, 0, INT64_MAX,
                      500, 1);
        th_resp_free(&r);
    }
}

static void test_windows(void **st) {
    (void)st;
    th_resp r;
    char path[200];
    int64_t first = g_trades[0].ms, last = g_trades[g_ntrades - 1].ms;
    int64_t sec = 1000;
    /* 1 s candles do not exist; use 1m and windows around the trades' own buckets. */
    int64_t b0 = first / 60000 * 60000, bl = last / 60000 * 60000;
    snprintf(path, sizeof path,
             "/v1/exchange/klines?market=AIT-BTC&interval=1m&start=%lld&end=%lld", (long long)b0,
             (long long)bl);
    assert_int_equal(req("GET", path, "k-carol", NULL, &r), 200);
    check_candles(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 60000, b0, bl, 500, 0);
    th_resp_free(&r);
    /* A start after the first bucket's open excludes that candle. */
    snprintf(path, sizeof path, "/v1/exchange/klines?market=AIT-BTC&interval=1m&start=%lld",
             (long long)(b0 + sec));
    assert_int_equal(req("GET", path, "k-carol", NULL, &r), 200);
    check_candles(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 60000, b0 + 60000, INT64_MAX,
                  500, 0);
    th_resp_free(&r);
    /* End before any trade: nothing. RFC 3339 works as well as milliseconds. */
    assert_int_equal(
        req("GET", "/v1/exchange/klines?market=AIT-BTC&interval=1d&end=2020-01-01T00:00:00.000Z",
            "k-carol", NULL, &r),
        200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 0);
    th_resp_free(&r);
    /* limit=1: the newest candle without start, the oldest with start=0. */
    assert_int_equal(req("GET", "/v1/exchange/klines?interval=1m&limit=1", "k-carol", NULL, &r),
                     200);
    check_candles(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 60000, 0, INT64_MAX, 1, 1);
    th_resp_free(&r);
    assert_int_equal(
        req("GET", "/v1/exchange/klines?interval=1m&limit=1&start=0", "k-carol", NULL, &r), 200);
    check_candles(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 60000, 0, INT64_MAX, 1, 0);
    th_resp_free(&r);
    /* Public market data needs a key like the other exchange routes. */
    assert_int_equal(req("GET", "/v1/exchange/klines?interval=1m", NULL, NULL, &r), 401);
    th_resp_free(&r);
}

static void test_hostile_queries(void **st) {
    (void)st;
    static const struct {
        const char *query, *field;
    } bad[] = {
        {"market=AIT-BTC", "interval"},
        {"market=AIT-BTC&interval=2m", "interval"},
        {"market=AIT-BTC&interval=1M", "interval"},
        {"market=AIT-BTC&interval=", "interval"},
        {"market=XYZ&interval=1m", "market"},
        {"market=&interval=1m", "market"},
        {"interval=1m&limit=0", "limit"},
        {"interval=1m&limit=1001", "limit"},
        {"interval=1m&limit=01", "limit"},
        {"interval=1m&limit=-1", "limit"},
        {"interval=1m&limit=1e2", "limit"},
        {"interval=1m&limit=", "limit"},
        {"interval=1m&start=abc", "start"},
        {"interval=1m&start=-5", "start"},
        {"interval=1m&start=0123", "start"},
        {"interval=1m&start=9999999999999999", "start"},
        {"interval=1m&end=2026-13-01T00:00:00Z", "end"},
        {"interval=1m&start=2000&end=1000", "end"},
        {"interval=1m&start=1.5", "start"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[200];
        snprintf(path, sizeof path, "/v1/exchange/klines?%s", bad[i].query);
        th_resp r;
        long s = req("GET", path, "k-carol", NULL, &r);
        const char *f = jstr(cJSON_GetObjectItemCaseSensitive(r.json, "error"), "field");
        if (s != 400 || !f || strcmp(f, bad[i].field) != 0)
            fail_msg("%s: got %ld %s, want 400 %s", bad[i].query, s, r.body, bad[i].field);
        th_resp_free(&r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_trades),
        cmocka_unit_test(test_every_interval),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_hostile_queries),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
