/* Several hosts on one database each keep the order book in memory (book.c, ex_book_sync). Here
 * a second writer — standing in for another host — changes the stored book behind the running
 * host's back, through the database file, and bumps the market's stored sequence as every book
 * change does: the host's snapshot then shows the database's book, and an order that would have
 * crossed the vanished maker in the stale book rests instead of matching it twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "ex_common.h"

#define LIMIT(side, price, qty)                                                                    \
    "{\"market\":\"AIT-BTC\",\"side\":\"" side "\",\"type\":\"limit\",\"price\":\"" price          \
    "\",\"quantity\":\"" qty "\"}"

/* Another host's transaction on the same database. */
static void other_host(const char *sql) {
    char path[1024];
    snprintf(path, sizeof path, "%s/aitbc.db", th_data_dir(H));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

static int asks(int64_t *sequence) {
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/orderbook?market=AIT-BTC", "k-bob", NULL, &r), 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "asks"));
    *sequence = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "sequence"));
    th_resp_free(&r);
    return n;
}

static void test_book_changed_elsewhere(void **st) {
    (void)st;
    const char *pg = getenv("AITBC_TEST_PG_DSN");
    if (pg && *pg) skip(); /* it writes the SQLite file; it_cluster covers postgres */
    mint(ALICE, "AIT", "100");
    mint(BOB, "BTC", "10");
    th_resp r;
    order("k-alice", LIMIT("sell", "0.001", "5"), 201, &r);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(r.json, "order_id"));
    th_resp_free(&r);
    int64_t seq0;
    assert_int_equal(asks(&seq0), 1);

    /* The other host fills Alice's order (its half of the settlement is not the point here). */
    char sql[512];
    snprintf(sql, sizeof sql,
             "BEGIN IMMEDIATE; UPDATE exchange_orders SET is_open = 0, remaining = 0, status = 2 "
             "WHERE order_id = '%s'; UPDATE exchange_books SET sequence = sequence + 1 "
             "WHERE market = 'AIT-BTC'; COMMIT;",
             id);
    other_host(sql);
    int64_t seq1;
    assert_int_equal(asks(&seq1), 0); /* the snapshot is the database's */
    assert_int_equal(seq1, seq0 + 1);

    /* Bob's buy would cross the vanished ask in a stale book: it must rest, untouched. */
    order("k-bob", LIMIT("buy", "0.001", "5"), 201, &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "fills")), 0);
    assert_string_equal(jstr(r.json, "status"), "NEW");
    th_resp_free(&r);
    expect_bal("k-alice", "AIT", "95", "5"); /* nothing settled out of her lock again */
}

static int setup(void **st) {
    (void)st;
    H = th_start(k_plugins, NULL);
    return H ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    th_free(H);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_book_changed_elsewhere)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
