/* Settlement tests against the real storage layer and the real ledger: the chain plugin and the
 * marketplace's settlement code are driven through the in-process test host (testhost.h) on a temp
 * SQLite file, with chosen clock values, so every release and every pro-rata split is checked to
 * the base unit. Also the marketplace@1 trade_active answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "testhost.h"
#include "../marketplace.h"

#define BUYER "ait1b00000000000000000000000000000000000000b"
#define OTHER "ait1c00000000000000000000000000000000000000c"
#define SELLER "ait1e00000000000000000000000000000000000000e"
#define FUNDS 100000000 /* 100 AIT */

static char g_dir[AITBC_TESTHOST_PATH_MAX];
static aitbc_testhost *g_host;
static const aitbc_host_api *api;
static const aitbc_ledger_v1 *L;
static mk_state *g_ms;

/* The marketplace's code is linked in and initialised (not started: the tests run settlement
 * with chosen clock values instead of its timer); chain comes from chain.so. */
static int group_setup(void **st) {
    (void)st;
    char path[AITBC_TESTHOST_PATH_MAX];
    if (aitbc_testhost_temp_config(
            g_dir, path, "plugin_path: \"" AITBC_PLUGIN_DIR "\", log_level: warn",
            "plugins:\n  chain: { block_interval_ms: 1000, max_empty_interval_s: 0,\n"
            "    genesis: { accounts: [\"" SELLER "\", \"" OTHER "\"],\n"
            "      allocations: [ { address: \"" BUYER "\", asset: AIT, amount: \"100\" } ] } }\n"
            "  marketplace: { hour_ms: 1000 }\n") != 0)
        return -1;
    const aitbc_plugin_desc *const linked[] = {aitbc_plugin_describe(), NULL};
    if (!(g_host = aitbc_testhost_start(path, linked, AITBC_TESTHOST_INIT_ONLY))) return -1;
    api = aitbc_testhost_api(g_host);
    L = aitbc_testhost_service(g_host, AITBC_LEDGER_SERVICE);
    g_ms = aitbc_testhost_state(g_host, "marketplace");
    if (!L || !g_ms) return -1;
    g_ms->ledger = L; /* what start would look up */
    return 0;
}

static int group_teardown(void **st) {
    (void)st;
    aitbc_testhost_stop(g_host);
    return aitbc_testhost_temp_remove(g_dir);
}

static void balance(const char *addr, int64_t *av, int64_t *lk) {
    assert_int_equal(L->balance(L->self, NULL, addr, "AIT", av, lk), 0);
}

/* A trade as trades.c writes it: escrow locked, row inserted. */
static void add_trade(const char *id, const char *buyer, int64_t hours, int64_t price,
                      int64_t created, int64_t hour_ms) {
    char hash[AITBC_TX_HASH_MAX];
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    assert_non_null(t);
    assert_int_equal(L->lock(L->self, t, buyer, "AIT", hours * price, id, hash), 0);
    aitbc_stmt *s = api->stmt(
        t, "INSERT INTO marketplace_trades(trade_id, offer_id, buyer, seller, hours, price, total, "
           "status, created_ms, ends_ms, next_ms) VALUES(?1, 'ofr_x', ?2, '" SELLER "', ?3, ?4, "
           "?5, 'ACTIVE', ?6, ?7, ?8)");
    assert_non_null(s);
    api->bind_text(s, 1, id);
    api->bind_text(s, 2, buyer);
    api->bind_int64(s, 3, hours);
    api->bind_int64(s, 4, price);
    api->bind_int64(s, 5, hours * price);
    api->bind_int64(s, 6, created);
    api->bind_int64(s, 7, created + hours * hour_ms);
    api->bind_int64(s, 8, created + hour_ms);
    assert_int_equal(api->step(s), AITBC_DONE);
    api->stmt_done(s);
    assert_int_equal(api->txn_commit(t), 0);
}

static int release_at(int64_t now) {
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    int n = mk_trades_release_due(g_ms, t, now);
    assert_true(n >= 0);
    assert_int_equal(api->txn_commit(t), 0);
    return n;
}

static int terminate_at(const char *trade_id, int64_t now) {
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    int n = mk_trades_terminate(g_ms, t, trade_id, NULL, NULL, now);
    assert_true(n >= 0);
    assert_int_equal(api->txn_commit(t), 0);
    return n;
}

/* released, refunded, hours_released and status of a trade. */
static void trade_state(const char *id, int64_t *released, int64_t *refunded, int64_t *hours,
                        char status[16]) {
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = api->stmt(t, "SELECT released, refunded, hours_released, status FROM "
                                 "marketplace_trades WHERE trade_id = ?1");
    api->bind_text(s, 1, id);
    assert_int_equal(api->step(s), AITBC_ROW);
    *released = api->col_int64(s, 0);
    *refunded = api->col_int64(s, 1);
    *hours = api->col_int64(s, 2);
    snprintf(status, 16, "%s", api->col_text(s, 3));
    api->stmt_done(s);
    api->txn_commit(t);
}

static void test_hourly_release(void **st) {
    (void)st;
    const int64_t c = 1000000, price = 1333333;
    int64_t sav0, slk, bav0, blk, sav, bav, rel, ref, hrs;
    char status[16];
    balance(SELLER, &sav0, &slk);
    add_trade("trd_hourly", BUYER, 3, price, c, 1000);
    balance(BUYER, &bav0, &blk);
    assert_int_equal(blk, 3 * price);
    assert_int_equal(release_at(c + 999), 0); /* nothing due before the first hour ends */
    assert_int_equal(release_at(c + 1000), 1);
    balance(SELLER, &sav, &slk);
    assert_int_equal(sav - sav0, price);
    assert_int_equal(release_at(c + 1500), 0); /* next one at c + 2000 */
    assert_int_equal(release_at(c + 9999), 1); /* late tick: both remaining hours at once */
    trade_state("trd_hourly", &rel, &ref, &hrs, status);
    assert_int_equal(rel, 3 * price);
    assert_int_equal(ref, 0);
    assert_int_equal(hrs, 3);
    assert_string_equal(status, "COMPLETED");
    balance(SELLER, &sav, &slk);
    balance(BUYER, &bav, &blk);
    assert_int_equal(sav - sav0, 3 * price);
    assert_int_equal(bav, bav0);
    assert_int_equal(blk, 0);
    assert_int_equal(release_at(c + 99999), 0); /* COMPLETED stays put */
    assert_int_equal(terminate_at("trd_hourly", c + 99999), 0);
}

static void test_early_end_prorata(void **st) {
    (void)st;
    /* 10 hours of 1000 ms at 7 units: ended at 2.5 hours → seller floor(70 × 0.25) = 17. */
    const int64_t c = 5000000;
    int64_t sav0, slk, bav0, blk, sav, bav, rel, ref, hrs;
    char status[16];
    balance(SELLER, &sav0, &slk);
    balance(BUYER, &bav0, &blk);
    add_trade("trd_early", BUYER, 10, 7, c, 1000);
    assert_int_equal(terminate_at("trd_early", c + 2500), 1);
    trade_state("trd_early", &rel, &ref, &hrs, status);
    assert_string_equal(status, "CANCELED");
    assert_int_equal(hrs, 2);  /* the two whole hours went out as hourly releases first */
    assert_int_equal(rel, 17); /* 14 hourly + 3 for the half hour */
    assert_int_equal(ref, 53);
    balance(SELLER, &sav, &slk);
    balance(BUYER, &bav, &blk);
    assert_int_equal(sav - sav0, 17);
    assert_int_equal(bav - bav0, -17);
    assert_int_equal(blk, 0);
    /* Ending again moves nothing. */
    assert_int_equal(terminate_at("trd_early", c + 5000), 0);
    assert_int_equal(release_at(c + 99999), 0);
    balance(SELLER, &sav, &slk);
    assert_int_equal(sav - sav0, 17);
}

static void seller_step(int (*fn)(mk_state *, aitbc_txn *, const char *, int64_t), int64_t now,
                        int want) {
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(fn(g_ms, t, SELLER, now), want);
    assert_int_equal(api->txn_commit(t), 0);
}

static void expect_trade(const char *id, int64_t released, int64_t refunded, int64_t hours,
                         const char *status) {
    int64_t rel, ref, hrs;
    char st[16];
    trade_state(id, &rel, &ref, &hrs, st);
    assert_int_equal(rel, released);
    assert_int_equal(ref, refunded);
    assert_int_equal(hrs, hours);
    assert_string_equal(st, status);
}

/* While the seller cannot take work the trade is paused: no hour is paid, and the paused time
 * goes back to the buyer pro rata, on resume, at the end, or when the trade is ended. */
static void test_pause_refunds_paused_time(void **st) {
    (void)st;
    int64_t sav0, slk, bav0, blk, sav, bav;
    balance(SELLER, &sav0, &slk);
    balance(BUYER, &bav0, &blk);
    /* 10 hours of 1000 ms at 100: paused from 1.5 h to 3.5 h → 200 back, 8 hours paid. */
    const int64_t c = 20000000;
    add_trade("trd_pause", BUYER, 10, 100, c, 1000);
    release_at(c + 1000);
    expect_trade("trd_pause", 100, 0, 1, "ACTIVE");
    seller_step(mk_trades_pause, c + 1500, 1);
    seller_step(mk_trades_pause, c + 1600, 0); /* already paused */
    release_at(c + 3000);
    expect_trade("trd_pause", 100, 0, 1, "ACTIVE");
    seller_step(mk_trades_resume, c + 3500, 1);
    expect_trade("trd_pause", 100, 200, 1, "ACTIVE");
    release_at(c + 3500);
    expect_trade("trd_pause", 300, 200, 3, "ACTIVE");
    release_at(c + 10000);
    expect_trade("trd_pause", 800, 200, 10, "COMPLETED");

    /* 2 hours at 100, paused from 0.5 h to the end: 150 back, 50 paid. */
    const int64_t c2 = 30000000;
    add_trade("trd_pause2", BUYER, 2, 100, c2, 1000);
    seller_step(mk_trades_pause, c2 + 500, 1);
    release_at(c2 + 2000);
    expect_trade("trd_pause2", 50, 150, 2, "COMPLETED");

    /* 4 hours at 100, paused from 1 h, ended at 3 h: the seller keeps its 1 hour of work. */
    const int64_t c3 = 40000000;
    add_trade("trd_pause3", BUYER, 4, 100, c3, 1000);
    seller_step(mk_trades_pause, c3 + 1000, 1);
    assert_int_equal(terminate_at("trd_pause3", c3 + 3000), 1);
    expect_trade("trd_pause3", 100, 300, 0, "CANCELED");

    balance(SELLER, &sav, &slk);
    balance(BUYER, &bav, &blk);
    assert_int_equal(sav - sav0, 800 + 50 + 100);
    assert_int_equal(bav0 - bav, 800 + 50 + 100);
}

static void test_end_before_first_hour_and_by_seller(void **st) {
    (void)st;
    const int64_t c = 9000000;
    int64_t sav0, slk, bav0, blk, sav, bav, rel, ref, hrs;
    char status[16];
    balance(SELLER, &sav0, &slk);
    balance(BUYER, &bav0, &blk);
    add_trade("trd_s1", BUYER, 4, 1000001, c, 1000);
    add_trade("trd_s2", BUYER, 1, 3, c, 1000);
    /* All ACTIVE trades of the seller end together (the OFFLINE path). */
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(mk_trades_terminate(g_ms, t, NULL, NULL, SELLER, c + 333), 2);
    assert_int_equal(api->txn_commit(t), 0);
    trade_state("trd_s1", &rel, &ref, &hrs, status);
    assert_int_equal(rel, (4000004LL * 333) / 4000); /* floor, no hourly release yet */
    assert_int_equal(rel + ref, 4000004);
    trade_state("trd_s2", &rel, &ref, &hrs, status);
    assert_int_equal(rel, 0); /* floor(3 × 333 / 1000) = 0: the buyer keeps the crumbs */
    assert_int_equal(ref, 3);
    balance(SELLER, &sav, &slk);
    balance(BUYER, &bav, &blk);
    assert_int_equal(sav - sav0, (4000004LL * 333) / 4000);
    assert_int_equal(bav0 - bav, (4000004LL * 333) / 4000);
    assert_int_equal(blk, 0);
}

static void test_trade_active(void **st) {
    (void)st;
    int64_t now = api->now_ms();
    char seller[48] = "";
    add_trade("trd_live", BUYER, 2, 5, now - 1000, 60000);
    add_trade("trd_later", BUYER, 2, 5, now + 60000, 60000);
    assert_int_equal(mk_trade_active(g_ms, "trd_live", BUYER, seller), 1);
    assert_string_equal(seller, SELLER);
    assert_int_equal(mk_trade_active(g_ms, "trd_live", OTHER, seller), 0);
    assert_int_equal(mk_trade_active(g_ms, "trd_nope", BUYER, seller), 0);
    assert_int_equal(mk_trade_active(g_ms, "trd_later", BUYER, seller), 0);  /* not started */
    assert_int_equal(mk_trade_active(g_ms, "trd_early", BUYER, seller), 0);  /* CANCELED */
    assert_int_equal(mk_trade_active(g_ms, "trd_hourly", BUYER, seller), 0); /* COMPLETED */
    assert_int_equal(mk_trade_active(g_ms, NULL, BUYER, seller), 0);
    assert_int_equal(terminate_at("trd_live", now), 1);
    assert_int_equal(mk_trade_active(g_ms, "trd_live", BUYER, seller), 0);
    assert_int_equal(terminate_at("trd_later", now), 1); /* before its start: all refunded */
}

static void test_conservation(void **st) {
    (void)st;
    int64_t sum = 0, av, lk;
    const char *who[] = {BUYER, SELLER, OTHER};
    for (int i = 0; i < 3; i++) {
        balance(who[i], &av, &lk);
        sum += av + lk;
        assert_int_equal(lk, 0);
    }
    assert_int_equal(sum, FUNDS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hourly_release),
        cmocka_unit_test(test_early_end_prorata),
        cmocka_unit_test(test_end_before_first_hour_and_by_seller),
        cmocka_unit_test(test_trade_active),
        cmocka_unit_test(test_pause_refunds_paused_time),
        cmocka_unit_test(test_conservation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
