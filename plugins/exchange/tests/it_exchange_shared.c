/* Two hosts of one node on one PostgreSQL schema (AITBC_TEST_PG_DSN; skipped without it), each
 * with the order book in memory (book.c, ex_book_sync): an order placed on one host is on the
 * other's book and is matched there; a maker filled on one host is gone from the other's book,
 * so an order that would cross it in a stale copy rests instead of filling it twice; and the
 * ticker of each host (answered from memory, market_routes.c) shows the other host's trades.
 * Only a shared database keeps the per-market `exchange_books` row (a SQLite file has one host:
 * it_exchange checks the row is not written there), so this test is what proves the row is kept
 * and read where it must be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "ex_common.h"

#define LIMIT(side, price, qty)                                                                    \
    "{\"market\":\"AIT-BTC\",\"side\":\"" side "\",\"type\":\"limit\",\"price\":\"" price          \
    "\",\"quantity\":\"" qty "\"}"

static th_host *A, *B;

/* The order book as host h sees it: number of ask levels, the sequence. */
static int asks_on(th_host *h, int64_t *sequence) {
    H = h;
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/orderbook?market=AIT-BTC", "k-bob", NULL, &r), 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "asks"));
    *sequence = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "sequence"));
    th_resp_free(&r);
    return n;
}

/* A ticker field of host h as text ("null" for null). */
static void ticker_on(th_host *h, const char *field, char *out, size_t cap) {
    H = h;
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/ticker?market=AIT-BTC", "k-bob", NULL, &r), 200);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r.json, field);
    if (cJSON_IsString(v))
        snprintf(out, cap, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(out, cap, "%lld", (long long)v->valuedouble);
    else
        snprintf(out, cap, "null");
    th_resp_free(&r);
}

static void expect_ticker(th_host *h, const char *field, const char *want) {
    char got[64];
    ticker_on(h, field, got, sizeof got);
    if (strcmp(got, want) != 0) fail_msg("ticker %s: %s, want %s", field, got, want);
}

static void test_books_follow_the_other_host(void **st) {
    (void)st;
    H = A;
    mint(ALICE, "AIT", "100");
    mint(BOB, "BTC", "10");
    mint(CAROL, "BTC", "10");
    /* Both hosts answer the ticker before any trade (and keep it: it must not go stale). */
    expect_ticker(A, "last_price", "null");
    expect_ticker(B, "trade_count_24h", "0");

    th_resp r;
    H = A;
    order("k-alice", LIMIT("sell", "0.001", "5"), 201, &r);
    th_resp_free(&r);
    int64_t seq_a, seq_b;
    assert_int_equal(asks_on(A, &seq_a), 1);
    assert_int_equal(asks_on(B, &seq_b), 1); /* B's book took A's order */
    assert_int_equal(seq_b, seq_a);
    expect_ticker(B, "ask_price", "0.001");

    /* Bob's buy on B matches Alice's order, which B never saw placed. */
    H = B;
    order("k-bob", LIMIT("buy", "0.001", "5"), 201, &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "fills")), 1);
    assert_string_equal(jstr(r.json, "status"), "FILLED");
    th_resp_free(&r);
    H = A;
    expect_bal("k-alice", "AIT", "95", "0");

    /* A's book drops the maker B filled, and both count the same sequence. */
    assert_int_equal(asks_on(A, &seq_a), 0);
    assert_int_equal(asks_on(B, &seq_b), 0);
    assert_int_equal(seq_a, seq_b);
    /* A's ticker (kept from before) shows B's trade. */
    expect_ticker(A, "last_price", "0.001");
    expect_ticker(A, "trade_count_24h", "1");
    expect_ticker(A, "volume_24h", "5");
    expect_ticker(A, "ask_price", "null");

    /* Carol's buy on A would cross the filled ask in a stale book: it must rest, untouched. */
    H = A;
    order("k-carol", LIMIT("buy", "0.001", "5"), 201, &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "fills")), 0);
    assert_string_equal(jstr(r.json, "status"), "NEW");
    th_resp_free(&r);
    expect_bal("k-alice", "AIT", "95", "0"); /* nothing settled out of her lock again */
    expect_bal("k-carol", "BTC", "9.995", "0.005");
    expect_ticker(B, "bid_price", "0.001"); /* and B sees Carol's bid */
    expect_ticker(B, "trade_count_24h", "1");
}

static int setup(void **st) {
    (void)st;
    A = th_start(k_plugins, NULL);
    if (!A) return -1;
    B = th_start_beside(A, k_plugins, NULL);
    return B ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    int rc = th_end(&B);
    return th_end(&A) | rc;
}

int main(void) {
    if (!th_on_postgres()) {
        fprintf(stderr, "it_exchange_shared: needs AITBC_TEST_PG_DSN (several hosts share "
                        "PostgreSQL only); skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_books_follow_the_other_host)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
