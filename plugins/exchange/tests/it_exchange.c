/* Integration tests of the exchange through the real host with the chain plugin: placing,
 * matching and canceling over HTTP with exact balances on both sides and at the treasury,
 * refusals (400 grid/notional/unknown field, 401/403, 402, 404 foreign order, 409 duplicate
 * client_order_id and re-cancel), Idempotency-Key replay, STP, post-only, FOK/IOC, market
 * orders, ticker and order book contents, and a restart that rebuilds the book from the database.
 * The tests run in order and build on each other's state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "ex_common.h"

#define LIMIT(side, price, qty)                                                                    \
    "{\"market\":\"AIT-BTC\",\"side\":\"" side "\",\"type\":\"limit\",\"price\":\"" price          \
    "\",\"quantity\":\"" qty "\""

static char g_dir[512];
static char g_treasury[64];
static char g_alice_order[64];

static void expect_error(const char *method, const char *path, const char *key, const char *body,
                         long status, const char *code, const char *field) {
    th_resp r;
    long got = req(method, path, key, body, &r);
    const char *c = th_error_code(&r);
    if (got != status || !c || strcmp(c, code) != 0)
        fail_msg("%s %s %s: got %ld %s, want %ld %s", method, path, body ? body : "", got, r.body,
                 status, code);
    if (field) {
        const char *f = jstr(cJSON_GetObjectItemCaseSensitive(r.json, "error"), "field");
        if (!f || strcmp(f, field) != 0)
            fail_msg("%s: field %s, want %s", body ? body : path, f ? f : "(none)", field);
    }
    th_resp_free(&r);
}

static void expect_treasury(const char *ait, const char *btc) {
    char av[48], lk[48];
    addr_bal(g_treasury, "AIT", av, lk);
    assert_string_equal(av, ait);
    addr_bal(g_treasury, "BTC", av, lk);
    assert_string_equal(av, btc);
}

static const cJSON *fill0(const th_resp *r) {
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r->json, "fills"), 0);
}

static int nfills(const th_resp *r) {
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r->json, "fills"));
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

static void test_markets_and_mint(void **st) {
    (void)st;
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/markets", "k-bob", NULL, &r), 200);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    assert_string_equal(jstr(m, "market"), "AIT-BTC");
    assert_string_equal(jstr(m, "tick_size"), "0.000001");
    assert_string_equal(jstr(m, "step_size"), "0.01");
    assert_string_equal(jstr(m, "min_notional"), "0.0001");
    th_resp_free(&r);
    mint(ALICE, "AIT", "1000");
    mint(BOB, "BTC", "10");
    mint(CAROL, "AIT", "100");
    mint(CAROL, "BTC", "1");
    expect_bal("k-alice", "AIT", "1000", "0");
    /* Empty market: null prices, "0" volumes. */
    assert_int_equal(req("GET", "/v1/exchange/ticker?market=AIT-BTC", "k-bob", NULL, &r), 200);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "last_price")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "bid_price")));
    assert_string_equal(jstr(r.json, "volume_24h"), "0");
    th_resp_free(&r);
}

static void test_refusals(void **st) {
    (void)st;
    const char *o = "/v1/exchange/orders";
    expect_error("POST", o, "k-alice", LIMIT("sell", "0.0010005", "1") "}", 400, "invalid_argument",
                 "price");
    expect_error("POST", o, "k-alice", LIMIT("sell", "0.001", "1.005") "}", 400, "invalid_argument",
                 "quantity");
    expect_error("POST", o, "k-alice", LIMIT("sell", "0.000001", "0.01") "}", 400,
                 "invalid_argument", "quantity"); /* below min_notional */
    expect_error("POST", o, "k-alice", LIMIT("sell", "0.001", "1") ",\"foo\":1}", 400,
                 "invalid_argument", "foo");
    expect_error("POST", o, "k-alice", LIMIT("SELL", "0.001", "1") "}", 400, "invalid_argument",
                 "side");
    expect_error("POST", o, "k-alice", LIMIT("sell", "-1", "1") "}", 400, "invalid_argument",
                 "price");
    expect_error("POST", o, "k-alice",
                 "{\"market\":\"AIT-BTC\",\"side\":\"sell\",\"type\":\"limit\",\"price\":0.001,"
                 "\"quantity\":\"1\"}",
                 400, "invalid_argument", "price");
    expect_error("POST", o, "k-alice", LIMIT("sell", "0.001", "1") ",\"post_only\":\"yes\"}", 400,
                 "invalid_argument", "post_only");
    expect_error("POST", o, "k-alice", LIMIT("sell", "0.001", "1") ",\"time_in_force\":\"GTD\"}",
                 400, "invalid_argument", "time_in_force");
    expect_error("POST", o, "k-alice",
                 "{\"market\":\"XYZ\",\"side\":\"sell\",\"type\":\"limit\",\"price\":\"1\","
                 "\"quantity\":\"1\"}",
                 400, "invalid_argument", "market");
    expect_error("POST", o, "k-alice",
                 "{\"market\":\"AIT-BTC\",\"side\":\"buy\",\"type\":\"market\",\"quantity\":\"1\"}",
                 400, "invalid_argument", "quantity");
    expect_error("POST", o, "k-alice",
                 "{\"market\":\"AIT-BTC\",\"side\":\"buy\",\"type\":\"market\"}", 400,
                 "invalid_argument", "quote_quantity");
    expect_error("POST", o, "k-alice", "[]", 400, "invalid_argument", NULL);
    expect_error("POST", o, "k-alice", "{\"market\":", 400, "invalid_json", NULL);
    expect_error("POST", o, "k-admin", LIMIT("sell", "0.001", "1") "}", 403, "forbidden", NULL);
    expect_error("POST", o, NULL, LIMIT("sell", "0.001", "1") "}", 401, "unauthenticated", NULL);
    expect_error("GET", "/v1/exchange/orders?limit=0", "k-alice", NULL, 400, "invalid_argument",
                 "limit");
    expect_error("GET", "/v1/exchange/orderbook?market=AIT-BTC&depth=501", "k-alice", NULL, 400,
                 "invalid_argument", "depth");
    expect_bal("k-alice", "AIT", "1000", "0"); /* nothing was locked or stored */
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/orders?status=all", "k-alice", NULL, &r), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 0);
    th_resp_free(&r);
}

static void test_place_match_cancel(void **st) {
    (void)st;
    th_resp r;
    order("k-alice", LIMIT("sell", "0.001", "10") "}", 201, &r);
    assert_string_equal(jstr(r.json, "status"), "NEW");
    assert_string_equal(jstr(r.json, "remaining_quantity"), "10");
    assert_string_equal(jstr(r.json, "filled_quantity"), "0");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "avg_price")));
    assert_int_equal(nfills(&r), 0);
    snprintf(g_alice_order, sizeof g_alice_order, "%s", jstr(r.json, "order_id"));
    assert_true(strncmp(g_alice_order, "ord_", 4) == 0);
    th_resp_free(&r);
    expect_bal("k-alice", "AIT", "990", "10");

    /* Bob's buy at 0.0011 fills at the resting 0.001; the 0.0004 BTC it did not need is freed. */
    order("k-bob", LIMIT("buy", "0.0011", "4") "}", 201, &r);
    assert_string_equal(jstr(r.json, "status"), "FILLED");
    assert_int_equal(nfills(&r), 1);
    const cJSON *f = fill0(&r);
    assert_string_equal(jstr(f, "price"), "0.001");
    assert_string_equal(jstr(f, "quantity"), "4");
    assert_string_equal(jstr(f, "fee"), "0.008"); /* 20 bps of 4 AIT */
    assert_string_equal(jstr(f, "fee_asset"), "AIT");
    assert_true(strncmp(jstr(f, "trade_id"), "trd_", 4) == 0);
    assert_string_equal(jstr(r.json, "avg_price"), "0.001");
    assert_string_equal(jstr(r.json, "fees"), "0.008");
    th_resp_free(&r);
    expect_bal("k-bob", "BTC", "9.996", "0");
    expect_bal("k-bob", "AIT", "3.992", "0");
    expect_bal("k-alice", "AIT", "990", "6");
    expect_bal("k-alice", "BTC", "0.003996", "0"); /* 0.004 less 10 bps maker fee */

    assert_int_equal(req("GET", "/v1/explorer/transactions?type=FEE&limit=1", "k-admin", NULL, &r),
                     200);
    const cJSON *tx = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    assert_non_null(tx);
    snprintf(g_treasury, sizeof g_treasury, "%s", jstr(tx, "to"));
    th_resp_free(&r);
    expect_treasury("0.008", "0.000004");

    char path[128];
    snprintf(path, sizeof path, "/v1/exchange/orders/%s", g_alice_order);
    assert_int_equal(req("GET", path, "k-alice", NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "PARTIALLY_FILLED");
    assert_string_equal(jstr(r.json, "remaining_quantity"), "6");
    assert_string_equal(jstr(r.json, "fees"), "0.000004");
    assert_string_equal(jstr(r.json, "fee_asset"), "BTC");
    assert_string_equal(jstr(fill0(&r), "liquidity"), "maker");
    th_resp_free(&r);
    expect_error("GET", path, "k-bob", NULL, 404, "not_found", NULL);
    expect_error("DELETE", path, "k-bob", NULL, 404, "not_found", NULL);
    expect_error("GET", "/v1/exchange/orders/ord_nope", "k-alice", NULL, 404, "not_found", NULL);
    assert_int_equal(req("DELETE", path, "k-alice", NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "CANCELED");
    th_resp_free(&r);
    expect_error("DELETE", path, "k-alice", NULL, 409, "conflict", NULL);
    expect_bal("k-alice", "AIT", "996", "0");

    assert_int_equal(req("GET", "/v1/exchange/orders?status=open", "k-alice", NULL, &r), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 0);
    th_resp_free(&r);
    assert_int_equal(req("GET", "/v1/exchange/orders?status=all", "k-alice", NULL, &r), 200);
    const cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    assert_string_equal(jstr(it, "order_id"), g_alice_order);
    th_resp_free(&r);
    assert_int_equal(req("GET", "/v1/exchange/trades?market=AIT-BTC", "k-carol", NULL, &r), 200);
    it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    assert_string_equal(jstr(it, "price"), "0.001");
    assert_string_equal(jstr(it, "quantity"), "4");
    assert_string_equal(jstr(it, "side"), "buy");
    th_resp_free(&r);
}

static void test_funds_and_client_order_id(void **st) {
    (void)st;
    const char *o = "/v1/exchange/orders";
    expect_error("POST", o, "k-carol", LIMIT("buy", "0.01", "1000") "}", 402, "insufficient_funds",
                 NULL);
    /* An address the ledger has never seen holds nothing either. */
    expect_error("POST", o, "k-dave", LIMIT("buy", "0.01", "1") "}", 402, "insufficient_funds",
                 NULL);
    expect_bal("k-carol", "BTC", "1", "0");
    th_resp r;
    order("k-carol", LIMIT("sell", "0.05", "1") ",\"client_order_id\":\"c-1\"}", 201, &r);
    assert_string_equal(jstr(r.json, "client_order_id"), "c-1");
    char path[128];
    snprintf(path, sizeof path, "/v1/exchange/orders/%s", jstr(r.json, "order_id"));
    th_resp_free(&r);
    expect_error("POST", o, "k-carol", LIMIT("sell", "0.06", "1") ",\"client_order_id\":\"c-1\"}",
                 409, "conflict", "client_order_id");
    expect_bal("k-carol", "AIT", "99", "1");
    /* Another account may use the same id; the owner may reuse it once the order is closed. */
    assert_int_equal(req("DELETE", path, "k-carol", NULL, &r), 200);
    th_resp_free(&r);
    order("k-carol", LIMIT("sell", "0.05", "1") ",\"client_order_id\":\"c-1\"}", 201, &r);
    th_resp_free(&r);
    expect_bal("k-carol", "AIT", "99", "1");
}

static void test_idempotency_key(void **st) {
    (void)st;
    const char *body = LIMIT("buy", "0.0001", "2") "}";
    const char *hdr[] = {"Idempotency-Key: bob-bid-1", NULL};
    th_resp a, b, c;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    assert_int_equal(th_req_ex(H, "POST", "/v1/exchange/orders", "k-bob", body, hdr, &a), 0);
    assert_int_equal(a.status, 201);
    assert_int_equal(th_req_ex(H, "POST", "/v1/exchange/orders", "k-bob", body, hdr, &b), 0);
    assert_int_equal(b.status, 201);
    assert_string_equal(jstr(a.json, "order_id"), jstr(b.json, "order_id"));
    assert_int_equal(th_req_ex(H, "POST", "/v1/exchange/orders", "k-bob",
                               LIMIT("buy", "0.0001", "3") "}", hdr, &c),
                     0);
    assert_int_equal(c.status, 409);
    assert_string_equal(th_error_code(&c), "idempotency_mismatch");
    th_resp_free(&a);
    th_resp_free(&b);
    th_resp_free(&c);
    expect_bal("k-bob", "BTC", "9.9958", "0.0002"); /* locked once */
}

static void test_stp_post_only_fok_ioc(void **st) {
    (void)st;
    th_resp r;
    /* Carol's buy would meet her own ask: the taker expires, the ask stays, nothing moves. */
    order("k-carol", LIMIT("buy", "0.05", "1") "}", 201, &r);
    assert_string_equal(jstr(r.json, "status"), "EXPIRED");
    assert_int_equal(nfills(&r), 0);
    th_resp_free(&r);
    expect_bal("k-carol", "BTC", "1", "0");
    order("k-bob", LIMIT("buy", "0.05", "1") ",\"post_only\":true}", 201, &r);
    assert_string_equal(jstr(r.json, "status"), "REJECTED");
    th_resp_free(&r);
    order("k-bob", LIMIT("buy", "0.05", "2") ",\"time_in_force\":\"FOK\"}", 201, &r);
    assert_string_equal(jstr(r.json, "status"), "EXPIRED");
    assert_int_equal(nfills(&r), 0);
    th_resp_free(&r);
    expect_bal("k-bob", "BTC", "9.9958", "0.0002");
    order("k-bob", LIMIT("buy", "0.05", "2") ",\"time_in_force\":\"IOC\"}", 201, &r);
    assert_string_equal(jstr(r.json, "status"), "EXPIRED");
    assert_string_equal(jstr(r.json, "filled_quantity"), "1");
    assert_string_equal(jstr(r.json, "remaining_quantity"), "1");
    assert_int_equal(nfills(&r), 1);
    th_resp_free(&r);
    expect_bal("k-bob", "AIT", "4.99", "0");        /* + 1 - 0.002 fee */
    expect_bal("k-bob", "BTC", "9.9458", "0.0002"); /* - 0.05; the unfilled 0.05 is freed */
    expect_bal("k-carol", "BTC", "1.04995", "0");   /* + 0.05 - 0.00005 maker fee */
    expect_bal("k-carol", "AIT", "99", "0");
    expect_treasury("0.01", "0.000054");
}

static void test_market_orders(void **st) {
    (void)st;
    th_resp r;
    order("k-alice", LIMIT("sell", "0.002", "10") "}", 201, &r);
    th_resp_free(&r);
    order("k-bob",
          "{\"market\":\"AIT-BTC\",\"side\":\"buy\",\"type\":\"market\","
          "\"quote_quantity\":\"0.005\"}",
          201, &r);
    assert_string_equal(jstr(r.json, "status"), "FILLED");
    assert_string_equal(jstr(r.json, "filled_quantity"), "2.5");
    assert_string_equal(jstr(r.json, "quote_quantity"), "0.005");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "price")));
    th_resp_free(&r);
    order("k-carol",
          "{\"market\":\"AIT-BTC\",\"side\":\"sell\",\"type\":\"market\","
          "\"quantity\":\"1\"}",
          201, &r);
    assert_string_equal(jstr(r.json, "status"), "FILLED");
    assert_string_equal(jstr(fill0(&r), "price"), "0.0001");
    th_resp_free(&r);
    expect_bal("k-bob", "AIT", "8.484", "0"); /* + 2.5 - 0.005 taker fee + 1 - 0.001 maker fee */
    expect_bal("k-bob", "BTC", "9.9408", "0.0001");
    expect_bal("k-alice", "AIT", "986", "7.5");
    expect_bal("k-alice", "BTC", "0.008991", "0");  /* + 0.005 - 0.000005 */
    expect_bal("k-carol", "BTC", "1.0500498", "0"); /* + 0.0001 - 0.0000002 */
}

static void test_ticker_and_book(void **st) {
    (void)st;
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/orderbook?market=AIT-BTC", "k-carol", NULL, &r), 200);
    char *book = aitbc_json_print(r.json);
    assert_non_null(strstr(book, "\"bids\":[[\"0.0001\",\"1\"]],\"asks\":[[\"0.002\",\"7.5\"]]"));
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "sequence")) > 0);
    free(book);
    th_resp_free(&r);
    assert_int_equal(req("GET", "/v1/exchange/ticker?market=AIT-BTC", "k-admin", NULL, &r), 200);
    assert_string_equal(jstr(r.json, "last_price"), "0.0001");
    assert_string_equal(jstr(r.json, "open_24h"), "0.001");
    assert_string_equal(jstr(r.json, "high_24h"), "0.05");
    assert_string_equal(jstr(r.json, "low_24h"), "0.0001");
    assert_string_equal(jstr(r.json, "volume_24h"), "8.5");
    assert_string_equal(jstr(r.json, "quote_volume_24h"), "0.0591");
    assert_string_equal(jstr(r.json, "change_24h"), "-0.0009");
    assert_string_equal(jstr(r.json, "change_percent_24h"), "-90.00");
    assert_string_equal(jstr(r.json, "bid_price"), "0.0001");
    assert_string_equal(jstr(r.json, "bid_qty"), "1");
    assert_string_equal(jstr(r.json, "ask_price"), "0.002");
    assert_string_equal(jstr(r.json, "ask_qty"), "7.5");
    assert_int_equal(
        (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "trade_count_24h")), 4);
    th_resp_free(&r);
    assert_int_equal(req("GET", "/v1/exchange/ticker", "k-bob", NULL, &r), 200);
    assert_true(cJSON_IsArray(r.json));
    assert_int_equal(cJSON_GetArraySize(r.json), 1);
    th_resp_free(&r);
    /* Only a shared database (PostgreSQL) keeps each market's book sequence row for other hosts;
     * a SQLite file has one host, which does not pay a read and a write per order for it. */
    assert_int_equal(th_db_count(H, "SELECT COUNT(*) FROM exchange_books", NULL),
                     th_on_postgres() ? 1 : 0);
    /* Trades page through a cursor bound to its filter. */
    assert_int_equal(req("GET", "/v1/exchange/trades?limit=3", "k-bob", NULL, &r), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 3);
    char path[256];
    snprintf(path, sizeof path, "/v1/exchange/trades?limit=3&cursor=%s",
             jstr(r.json, "next_cursor"));
    char other[256];
    snprintf(other, sizeof other, "/v1/exchange/trades?market=AIT-BTC&cursor=%s",
             jstr(r.json, "next_cursor"));
    th_resp_free(&r);
    assert_int_equal(req("GET", path, "k-bob", NULL, &r), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "next_cursor")));
    th_resp_free(&r);
    expect_error("GET", other, "k-bob", NULL, 400, "invalid_argument", "cursor");
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

static char *book_text(void) {
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/orderbook?market=AIT-BTC", "k-bob", NULL, &r), 200);
    char *b = aitbc_json_print(cJSON_GetObjectItemCaseSensitive(r.json, "bids"));
    char *a = aitbc_json_print(cJSON_GetObjectItemCaseSensitive(r.json, "asks"));
    char *out = malloc(strlen(a) + strlen(b) + 2);
    sprintf(out, "%s|%s", b, a);
    free(a);
    free(b);
    th_resp_free(&r);
    return out;
}

/* The book is rebuilt from the open orders at start, and old orders keep matching. */
static int64_t book_sequence(void) {
    th_resp r;
    if (req("GET", "/v1/exchange/orderbook?market=AIT-BTC", "k-alice", NULL, &r) != 200)
        fail_msg("orderbook: %ld %s", r.status, r.body);
    int64_t seq =
        (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "sequence"));
    th_resp_free(&r);
    return seq;
}

/* The book is rebuilt from the open orders at start, old orders keep matching, and the book's
 * sequence never goes back (a client's snapshot + diffs stay consistent across the restart). */
static void test_restart_rebuilds_book(void **st) {
    (void)st;
    int64_t seq_before = book_sequence();
    assert_true(seq_before > 0);
    char *before = book_text();
    assert_int_equal(th_stop(H), 0);
    th_host *old = H;
    H = th_start_in(g_dir, k_plugins, NULL);
    assert_non_null(H);
    th_forget(old);
    assert_true(book_sequence() >= seq_before);
    char *after = book_text();
    assert_string_equal(before, after);
    free(before);
    free(after);
    th_resp r;
    order("k-carol", LIMIT("sell", "0.0001", "1") "}", 201, &r);
    assert_string_equal(jstr(r.json, "status"), "FILLED");
    th_resp_free(&r);
    expect_bal("k-bob", "BTC", "9.9408", "0"); /* Bob's bid filled and its lock is spent */
    order("k-bob", LIMIT("buy", "0.002", "7.5") "}", 201, &r);
    assert_string_equal(jstr(r.json, "status"), "FILLED");
    th_resp_free(&r);
    expect_bal("k-alice", "AIT", "986", "0");
    char *empty = book_text();
    assert_string_equal(empty, "[]|[]");
    free(empty);
}

static void test_verify_chain(void **st) {
    (void)st;
    assert_true(th_wait_until(all_sealed, NULL, 10000));
    assert_int_equal(th_stop(H), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s/config.yaml' --verify-chain >/dev/null 2>&1",
             AITBC_HOST_BIN, g_dir);
    int stc = system(cmd);
    assert_true(WIFEXITED(stc) && WEXITSTATUS(stc) == 0);
}

/* A market whose tick × step is not a whole number of quote units is refused at start (the
 * default config above, with a good grid, is the control). */
static void test_off_grid_config_refused(void **st) {
    (void)st;
    const char *bad =
        "  auth-static: { keys: [ {key: \"k-admin\", role: admin, address: \"" ADMIN "\"} ] }\n"
        "  chain: { block_interval_ms: 50 }\n"
        "  exchange: { markets: [ { tick_size: \"0.00000001\", step_size: \"0.000001\" } ] }\n";
    th_host *h = th_start(bad, NULL);
    assert_null(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markets_and_mint),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_place_match_cancel),
        cmocka_unit_test(test_funds_and_client_order_id),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_stp_post_only_fok_ioc),
        cmocka_unit_test(test_market_orders),
        cmocka_unit_test(test_ticker_and_book),
        cmocka_unit_test(test_restart_rebuilds_book),
        cmocka_unit_test(test_verify_chain),
        cmocka_unit_test(test_off_grid_config_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
