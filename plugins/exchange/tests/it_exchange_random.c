/* Conservation under a randomized order flow: ~200 orders (limit/market, GTC/IOC/FOK, post-only,
 * cancels) from three accounts through the real host, after a burst of concurrent crossing orders.
 * Afterwards every asset's available + locked over the accounts and the treasury equals what was
 * minted, the book is not crossed and equals the open orders, canceling everything frees every
 * lock, and `aitbc-host --verify-chain` passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <aitbc/money.h>
#include "ex_common.h"

#define ORDERS 200

static const char *const k_keys[] = {"k-alice", "k-bob", "k-carol"};
static const char *const k_addrs[] = {ALICE, BOB, CAROL};
static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (unsigned)(g_rng % n);
}

static int64_t units(const char *s, int dec) {
    int64_t v = 0;
    if (aitbc_money_parse(s, dec, &v) != 0) fail_msg("not an amount: %s", s);
    return v;
}

/* A random order body (prices 0.0009..0.0011 BTC on the 0.000001 tick, 0.11..5.1 AIT). */
static void random_order(char *body, size_t cap) {
    const char *side = rnd(2) ? "buy" : "sell";
    char price[32], qty[32];
    snprintf(price, sizeof price, "0.%06u", 900 + rnd(201));
    unsigned steps = 11 + rnd(500); /* ≥ 0.11 AIT: above min_notional at these prices */
    snprintf(qty, sizeof qty, "%u.%02u", steps / 100, steps % 100);
    if (rnd(5) == 0) {
        if (side[0] == 'b')
            snprintf(body, cap,
                     "{\"market\":\"AIT-BTC\",\"side\":\"buy\",\"type\":\"market\","
                     "\"quote_quantity\":\"0.00%u\"}",
                     1 + rnd(500));
        else
            snprintf(body, cap,
                     "{\"market\":\"AIT-BTC\",\"side\":\"sell\",\"type\":\"market\","
                     "\"quantity\":\"%s\"}",
                     qty);
        return;
    }
    unsigned r = rnd(20);
    const char *tif = r < 3 ? "IOC" : r < 6 ? "FOK" : "GTC";
    int post = tif[0] == 'G' && rnd(10) == 0;
    snprintf(body, cap,
             "{\"market\":\"AIT-BTC\",\"side\":\"%s\",\"type\":\"limit\",\"price\":\"%s\","
             "\"quantity\":\"%s\",\"time_in_force\":\"%s\",\"post_only\":%s}",
             side, price, qty, tif, post ? "true" : "false");
}

/* Open orders of one key (ids into ids[], returns count) and the sum of remaining per side. */
static int open_orders(const char *key, char ids[][64], int cap, int64_t rem[2]) {
    th_resp r;
    if (req("GET", "/v1/exchange/orders?status=open&limit=500", key, NULL, &r) != 200)
        fail_msg("orders: %ld", r.status);
    int n = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(r.json, "items")) {
        if (n < cap) snprintf(ids[n], 64, "%s", jstr(o, "order_id"));
        n++;
        rem[strcmp(jstr(o, "side"), "buy") == 0 ? 0 : 1] += units(jstr(o, "remaining_quantity"), 6);
    }
    th_resp_free(&r);
    return n;
}

static void cancel(const char *key, const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/exchange/orders/%s", id);
    th_resp r;
    if (req("DELETE", path, key, NULL, &r) != 200)
        fail_msg("cancel %s: %ld %s", id, r.status, r.body);
    th_resp_free(&r);
}

/* Sum of available + locked of an asset over the accounts and the treasury. */
static int64_t total(const char *treasury, const char *asset, int dec, int64_t *locked_sum) {
    int64_t sum = 0;
    *locked_sum = 0;
    char av[48], lk[48];
    for (int i = 0; i < 3; i++) {
        bal(k_keys[i], asset, av, lk);
        sum += units(av, dec) + units(lk, dec);
        *locked_sum += units(lk, dec);
    }
    addr_bal(treasury, asset, av, lk);
    return sum + units(av, dec) + units(lk, dec);
}

static int64_t side_total(const cJSON *levels) {
    int64_t s = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, levels) {
        s += units(cJSON_GetStringValue(cJSON_GetArrayItem(l, 1)), 6);
    }
    return s;
}

static int all_sealed(void *arg) {
    (void)arg;
    th_resp r;
    memset(&r, 0, sizeof r);
    if (th_req(H, "GET", "/v1/explorer/transactions?limit=1", "k-admin", NULL, &r) != 0) return 0;
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    int ok = first && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(first, "block_height"));
    th_resp_free(&r);
    return ok;
}

static void expect_ticker_matches_trades(void);

static void test_conservation(void **st) {
    (void)st;
    int placed = 0, trades = 0, canceled = 0;
    for (int n = 0; n < ORDERS; n++) {
        int who = (int)rnd(3);
        char body[512];
        random_order(body, sizeof body);
        th_resp r;
        long st_code = req("POST", "/v1/exchange/orders", k_keys[who], body, &r);
        if (st_code != 201 && st_code != 402)
            fail_msg("order %d %s: %ld %s", n, body, st_code, r.body);
        if (st_code == 201) {
            placed++;
            trades += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "fills"));
        }
        th_resp_free(&r);
        if (rnd(10) == 0) { /* cancel one of this account's open orders */
            char ids[500][64];
            int64_t rem[2] = {0, 0};
            int k = open_orders(k_keys[who], ids, 500, rem);
            if (k > 0) {
                cancel(k_keys[who], ids[rnd((unsigned)(k < 500 ? k : 500))]);
                canceled++;
            }
        }
    }
    print_message("%d orders placed, %d fills seen by takers, %d cancels\n", placed, trades,
                  canceled);
    assert_true(trades > 10); /* the flow really matched */
    expect_ticker_matches_trades();

    th_resp r;
    assert_int_equal(req("GET", "/v1/explorer/transactions?type=FEE&limit=1", "k-admin", NULL, &r),
                     200);
    char treasury[64];
    snprintf(treasury, sizeof treasury, "%s",
             jstr(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0), "to"));
    th_resp_free(&r);
    int64_t lk_ait, lk_btc;
    assert_int_equal(total(treasury, "AIT", 6, &lk_ait), 30000LL * 1000000);
    assert_int_equal(total(treasury, "BTC", 8, &lk_btc), 300LL * 100000000);

    /* The book is not crossed and holds exactly the open orders' remaining quantities. */
    assert_int_equal(
        req("GET", "/v1/exchange/orderbook?market=AIT-BTC&depth=500", "k-bob", NULL, &r), 200);
    const cJSON *bids = cJSON_GetObjectItemCaseSensitive(r.json, "bids");
    const cJSON *asks = cJSON_GetObjectItemCaseSensitive(r.json, "asks");
    if (cJSON_GetArraySize(bids) && cJSON_GetArraySize(asks))
        assert_true(
            units(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetArrayItem(bids, 0), 0)), 8) <
            units(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetArrayItem(asks, 0), 0)), 8));
    int64_t rem[2] = {0, 0};
    static char ids[3][500][64];
    int nopen[3];
    for (int i = 0; i < 3; i++)
        nopen[i] = open_orders(k_keys[i], ids[i], 500, rem);
    assert_int_equal(side_total(bids), rem[0]);
    assert_int_equal(side_total(asks), rem[1]);
    th_resp_free(&r);

    /* Canceling everything frees every lock; totals still hold. */
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < nopen[i] && k < 500; k++)
            cancel(k_keys[i], ids[i][k]);
    assert_int_equal(total(treasury, "AIT", 6, &lk_ait), 30000LL * 1000000);
    assert_int_equal(total(treasury, "BTC", 8, &lk_btc), 300LL * 100000000);
    assert_int_equal(lk_ait, 0);
    assert_int_equal(lk_btc, 0);

    assert_true(th_wait_until(all_sealed, NULL, 10000));
    char dir[512];
    snprintf(dir, sizeof dir, "%s", th_data_dir(H));
    assert_int_equal(th_stop(H), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s/config.yaml' --verify-chain >/dev/null 2>&1",
             AITBC_HOST_BIN, dir);
    int stc = system(cmd);
    assert_true(WIFEXITED(stc) && WEXITSTATUS(stc) == 0);
}

/* Three clients at once, crossing each other: the market lock and the single writer keep every
 * placement whole, so the totals still hold. Runs before the sequential flow on the same host. */
typedef struct flow {
    int who, ok, bad;
} flow;

static void *concurrent_flow(void *arg) {
    flow *f = arg;
    for (int i = 0; i < 40; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"market\":\"AIT-BTC\",\"side\":\"%s\",\"type\":\"limit\","
                 "\"price\":\"0.%06d\",\"quantity\":\"%d\"}",
                 (i + f->who) % 2 ? "buy" : "sell", 995 + (i * 7 + f->who) % 11, 1 + i % 3);
        th_resp r;
        memset(&r, 0, sizeof r);
        if (th_req(H, "POST", "/v1/exchange/orders", k_keys[f->who], body, &r) == 0 &&
            r.status == 201)
            f->ok++;
        else
            f->bad++;
        th_resp_free(&r);
    }
    return NULL;
}

/* Reads the ticker while the flows trade: the kept ticker is read and replaced under load. */
static void *ticker_reader(void *arg) {
    atomic_int *stop = arg;
    while (!atomic_load(stop)) {
        th_resp r;
        memset(&r, 0, sizeof r);
        th_req(H, "GET", "/v1/exchange/ticker?market=AIT-BTC", "k-bob", NULL, &r);
        th_resp_free(&r);
    }
    return NULL;
}

/* Trades in the listing: their number and summed base quantity. */
static void trade_totals(int64_t *count, int64_t *volume) {
    *count = *volume = 0;
    char path[256] = "/v1/exchange/trades?limit=500";
    for (;;) {
        th_resp r;
        assert_int_equal(req("GET", path, "k-bob", NULL, &r), 200);
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r.json, "items")) {
            ++*count;
            *volume += units(jstr(t, "quantity"), 6);
        }
        const char *next = jstr(r.json, "next_cursor");
        if (next) snprintf(path, sizeof path, "/v1/exchange/trades?limit=500&cursor=%s", next);
        th_resp_free(&r);
        if (!next) return;
    }
}

/* The ticker kept in memory says what the stored trades say. */
static void expect_ticker_matches_trades(void) {
    int64_t count, volume;
    trade_totals(&count, &volume);
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/ticker?market=AIT-BTC", "k-bob", NULL, &r), 200);
    assert_int_equal(
        (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "trade_count_24h")),
        count);
    assert_int_equal(units(jstr(r.json, "volume_24h"), 6), volume);
    th_resp_free(&r);
}

static void test_concurrent(void **st) {
    (void)st;
    for (int i = 0; i < 3; i++) {
        mint(k_addrs[i], "AIT", "10000");
        mint(k_addrs[i], "BTC", "100");
    }
    pthread_t t[3], reader;
    flow f[3];
    atomic_int stop = 0;
    assert_int_equal(pthread_create(&reader, NULL, ticker_reader, &stop), 0);
    for (int i = 0; i < 3; i++) {
        f[i] = (flow){.who = i};
        assert_int_equal(pthread_create(&t[i], NULL, concurrent_flow, &f[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(f[i].bad, 0);
    }
    atomic_store(&stop, 1);
    pthread_join(reader, NULL);
    expect_ticker_matches_trades();
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/trades?limit=1", "k-bob", NULL, &r), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 1);
    th_resp_free(&r);
}

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

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_concurrent),
                                       cmocka_unit_test(test_conservation)};
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
