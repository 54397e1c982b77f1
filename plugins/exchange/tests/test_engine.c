/* Unit tests of the pure matching engine: price-time priority, partial fills, fills at the
 * resting price, self-trade prevention, post-only, FOK/IOC, market buys by quote amount, fees
 * rounded up, the settlement grid, and applying a plan to the book. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <aitbc/errors.h>
#include "../engine.h"

/* AIT-BTC defaults: base 6 decimals, quote 8; tick 100 sat, step 10^4 AIT units. */
static const ex_params P = {.base_dec = 6,
                            .quote_dec = 8,
                            .base_scale = 1000000,
                            .tick = 100,
                            .step = 10000,
                            .min_notional = 1,
                            .maker_bps = 10,
                            .taker_bps = 20};

static void rest(ex_book *b, int side, const char *id, const char *owner, int64_t price,
                 int64_t qty, int64_t seq) {
    ex_rest r;
    memset(&r, 0, sizeof r);
    snprintf(r.order_id, sizeof r.order_id, "%s", id);
    snprintf(r.owner, sizeof r.owner, "%s", owner);
    r.price = price;
    r.remaining = qty;
    r.seq = seq;
    assert_int_equal(ex_book_insert(b, side, &r), 0);
}

/* The i-th order of a side in priority order. */
static const ex_rest *order_at(const ex_book *b, int side, int i) {
    const ex_side *s = &b->side[side];
    for (size_t j = 0; j < s->n; j++) {
        const ex_level *l = ex_best_level(s, j);
        if ((size_t)i < l->n - l->head) return &l->q[l->head + (size_t)i];
        i -= (int)(l->n - l->head);
    }
    fail_msg("no order %d", i);
    return NULL;
}

static ex_taker limit(int side, int64_t price, int64_t qty, int tif, const char *owner) {
    ex_taker t = {.side = side,
                  .type = EX_LIMIT,
                  .tif = tif,
                  .price = price,
                  .quantity = qty,
                  .owner = owner};
    return t;
}

static void test_grid_and_math(void **st) {
    (void)st;
    assert_true(ex_grid_ok(100, 10000, 1000000)); /* 100 × 10^4 / 10^6 = 1 sat */
    assert_false(ex_grid_ok(1, 1, 1000000));      /* 10^-6 sat: could not settle */
    assert_false(ex_grid_ok(150, 1000, 1000000));
    assert_false(ex_grid_ok(0, 10000, 1000000));
    int64_t n;
    assert_int_equal(ex_notional(5000000, 2000000, 1000000, &n), 0); /* 0.05 × 2 = 0.1 BTC */
    assert_int_equal(n, 10000000);
    assert_int_equal(ex_notional(1, 1, 1000000, &n), AITBC_EINVAL);
    assert_int_equal(ex_notional(INT64_MAX, 1000000000, 1, &n), AITBC_EOVERFLOW);
    assert_int_equal(ex_fee_up(10000, 20), 20);
    assert_int_equal(ex_fee_up(10001, 20), 21); /* 20.002 → 21 */
    assert_int_equal(ex_fee_up(1, 1), 1);       /* any fee on a positive amount is at least 1 */
    assert_int_equal(ex_fee_up(12345, 0), 0);
    assert_int_equal(ex_fee_up(INT64_MAX, 10000), INT64_MAX);
}

static void test_book_order(void **st) {
    (void)st;
    ex_book b;
    memset(&b, 0, sizeof b);
    rest(&b, EX_BUY, "b1", "x", 100, 10000, 1);
    rest(&b, EX_BUY, "b2", "x", 300, 10000, 2);
    rest(&b, EX_BUY, "b3", "x", 300, 20000, 3);
    rest(&b, EX_BUY, "b4", "x", 200, 10000, 4);
    const char *want[] = {"b2", "b3", "b4", "b1"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(order_at(&b, EX_BUY, i)->order_id, want[i]);
    rest(&b, EX_SELL, "a1", "x", 500, 10000, 5);
    rest(&b, EX_SELL, "a2", "x", 400, 10000, 6);
    assert_string_equal(order_at(&b, EX_SELL, 0)->order_id, "a2");
    assert_int_equal(ex_level_qty(&b, EX_BUY, 300), 30000);
    assert_int_equal(ex_level_qty(&b, EX_BUY, 250), 0);
    ex_rest out;
    assert_int_equal(ex_book_remove(&b, EX_BUY, 300, "b3", &out), 0);
    assert_int_equal(out.remaining, 20000);
    assert_int_equal(ex_book_remove(&b, EX_BUY, 300, "b3", NULL), AITBC_ENOTFOUND);
    assert_int_equal(ex_level_qty(&b, EX_BUY, 300), 10000);
    ex_book_free(&b);
}

/* Price-time priority, fills at the resting price, partial fill of the last maker, rest. */
static void test_priority_and_partial(void **st) {
    (void)st;
    ex_book b;
    memset(&b, 0, sizeof b);
    rest(&b, EX_SELL, "a1", "m1", 500, 10000, 1);
    rest(&b, EX_SELL, "a2", "m2", 400, 20000, 2);
    rest(&b, EX_SELL, "a3", "m3", 400, 30000, 3);
    ex_taker t = limit(EX_BUY, 500, 70000, EX_GTC, "tk");
    ex_plan p;
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.nfills, 3);
    assert_int_equal(p.fills[0].level, 0);
    assert_int_equal(p.fills[0].pos, 0);
    assert_int_equal(p.fills[0].price, 400); /* the older order at the better price first */
    assert_int_equal(p.fills[0].qty, 20000);
    assert_int_equal(p.fills[1].qty, 30000);
    assert_int_equal(p.fills[2].price, 500);
    assert_int_equal(p.fills[2].qty, 10000);
    assert_int_equal(p.status, EX_ST_PARTIALLY_FILLED);
    assert_int_equal(p.rest_qty, 10000);
    assert_int_equal(p.filled, 60000);
    /* notional: 400×2 + 400×3 + 500×1 (× 10^4 / 10^6) = 8 + 12 + 5 sat */
    assert_int_equal(p.filled_quote, 25);
    ex_book_apply(&b, EX_BUY, &p);
    assert_int_equal(ex_side_orders(&b.side[EX_SELL]), 0);
    ex_plan_free(&p);

    /* A smaller taker leaves the first maker partly filled. */
    rest(&b, EX_SELL, "a4", "m1", 600, 50000, 4);
    t = limit(EX_BUY, 600, 20000, EX_GTC, "tk");
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.status, EX_ST_FILLED);
    assert_int_equal(p.rest_qty, 0);
    ex_book_apply(&b, EX_BUY, &p);
    assert_int_equal(ex_side_orders(&b.side[EX_SELL]), 1);
    assert_int_equal(order_at(&b, EX_SELL, 0)->remaining, 30000);
    ex_plan_free(&p);

    /* A limit that does not cross rests as NEW. */
    t = limit(EX_BUY, 500, 10000, EX_GTC, "tk");
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.status, EX_ST_NEW);
    assert_int_equal(p.nfills, 0);
    assert_int_equal(p.rest_qty, 10000);
    ex_plan_free(&p);
    ex_book_free(&b);
}

static void test_fees_rounded_up(void **st) {
    (void)st;
    ex_book b;
    memset(&b, 0, sizeof b);
    rest(&b, EX_BUY, "b1", "m", 12300, 30000, 1);
    ex_taker t = limit(EX_SELL, 12300, 30000, EX_GTC, "tk");
    ex_plan p;
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.nfills, 1);
    /* notional = 12300 × 30000 / 10^6 = 369 sat; taker (seller) gets quote: ceil(369 × 20 / 10^4)
     * = ceil(0.738) = 1; maker (buyer) gets 30000 base: ceil(30000 × 10 / 10^4) = 30. */
    assert_int_equal(p.fills[0].notional, 369);
    assert_int_equal(p.fills[0].taker_fee, 1);
    assert_int_equal(p.fills[0].maker_fee, 30);
    assert_int_equal(p.taker_fees, 1);
    ex_plan_free(&p);
    ex_book_free(&b);
}

static void test_self_trade_prevention(void **st) {
    (void)st;
    ex_book b;
    memset(&b, 0, sizeof b);
    rest(&b, EX_SELL, "a1", "other", 400, 10000, 1);
    rest(&b, EX_SELL, "a2", "me", 500, 10000, 2);
    rest(&b, EX_SELL, "a3", "other", 500, 10000, 3);
    ex_taker t = limit(EX_BUY, 500, 30000, EX_GTC, "me");
    ex_plan p;
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    /* Fills up to its own order, then the taker expires; its own order stays. */
    assert_int_equal(p.nfills, 1);
    assert_int_equal(p.status, EX_ST_EXPIRED);
    assert_int_equal(p.rest_qty, 0);
    ex_book_apply(&b, EX_BUY, &p);
    assert_string_equal(order_at(&b, EX_SELL, 0)->order_id, "a2");
    ex_plan_free(&p);
    ex_book_free(&b);
}

static void test_post_only(void **st) {
    (void)st;
    ex_book b;
    memset(&b, 0, sizeof b);
    rest(&b, EX_SELL, "a1", "m", 400, 10000, 1);
    ex_taker t = limit(EX_BUY, 400, 10000, EX_GTC, "tk");
    t.post_only = 1;
    ex_plan p;
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.status, EX_ST_REJECTED);
    assert_int_equal(p.nfills, 0);
    ex_plan_free(&p);
    t.price = 300; /* would not take: rests */
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.status, EX_ST_NEW);
    assert_int_equal(p.rest_qty, 10000);
    ex_plan_free(&p);
    ex_book_free(&b);
}

static void test_fok_ioc(void **st) {
    (void)st;
    ex_book b;
    memset(&b, 0, sizeof b);
    rest(&b, EX_BUY, "b1", "m", 400, 10000, 1);
    rest(&b, EX_BUY, "b2", "m", 300, 10000, 2);
    ex_plan p;
    ex_taker t = limit(EX_SELL, 300, 30000, EX_FOK, "tk"); /* only 20000 available */
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.status, EX_ST_EXPIRED);
    assert_int_equal(p.nfills, 0);
    ex_plan_free(&p);
    t.quantity = 20000; /* exactly fillable */
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.status, EX_ST_FILLED);
    assert_int_equal(p.nfills, 2);
    ex_plan_free(&p);
    t = limit(EX_SELL, 400, 30000, EX_IOC, "tk"); /* IOC: fill what crosses, expire the rest */
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.status, EX_ST_EXPIRED);
    assert_int_equal(p.nfills, 1);
    assert_int_equal(p.filled, 10000);
    assert_int_equal(p.rest_qty, 0);
    ex_plan_free(&p);
    ex_book_free(&b);
}

static void test_market_orders(void **st) {
    (void)st;
    ex_book b;
    memset(&b, 0, sizeof b);
    rest(&b, EX_SELL, "a1", "m", 1000, 20000, 1); /* 2 steps at 1000: 20 sat */
    rest(&b, EX_SELL, "a2", "m", 2000, 50000, 2); /* 5 steps at 2000: 100 sat */
    ex_taker t = {
        .side = EX_BUY, .type = EX_MARKET, .tif = EX_GTC, .quote_budget = 75, .owner = "tk"};
    ex_plan p;
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    /* 20 sat buys all of a1; 55 left buys 2 steps (40 sat) of a2; 15 < 20 left: done. */
    assert_int_equal(p.nfills, 2);
    assert_int_equal(p.fills[0].qty, 20000);
    assert_int_equal(p.fills[1].qty, 20000);
    assert_int_equal(p.filled_quote, 60);
    assert_int_equal(p.status, EX_ST_FILLED);
    assert_int_equal(p.rest_qty, 0);
    ex_plan_free(&p);
    t.quote_budget = 1000; /* more than the book: takes everything, then expires */
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.filled, 70000);
    assert_int_equal(p.status, EX_ST_EXPIRED);
    ex_plan_free(&p);
    t.quote_budget = 5; /* cannot buy one step */
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.nfills, 0);
    assert_int_equal(p.status, EX_ST_EXPIRED);
    ex_plan_free(&p);
    ex_taker s = {
        .side = EX_SELL, .type = EX_MARKET, .tif = EX_GTC, .quantity = 10000, .owner = "tk"};
    assert_int_equal(ex_match(&b, &P, &s, &p), 0); /* no bids */
    assert_int_equal(p.status, EX_ST_EXPIRED);
    ex_plan_free(&p);
    rest(&b, EX_BUY, "b1", "m", 100, 10000, 3);
    assert_int_equal(ex_match(&b, &P, &s, &p), 0);
    assert_int_equal(p.status, EX_ST_FILLED);
    assert_int_equal(p.fills[0].price, 100);
    ex_plan_free(&p);
    ex_book_free(&b);
}

/* Many orders at one level: FIFO after partial consumption, room reuse, removal, level drops. */
static void test_levels(void **st) {
    (void)st;
    ex_book b;
    memset(&b, 0, sizeof b);
    char id[16];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "a%d", i);
        rest(&b, EX_SELL, id, "m", 400, 10000, i);
    }
    rest(&b, EX_SELL, "hi", "m", 500, 10000, 100);
    ex_taker t = limit(EX_BUY, 400, 30000, EX_GTC, "tk");
    ex_plan p;
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.nfills, 3);
    ex_book_apply(&b, EX_BUY, &p);
    ex_plan_free(&p);
    assert_int_equal(ex_level_qty(&b, EX_SELL, 400), 10000);
    assert_string_equal(order_at(&b, EX_SELL, 0)->order_id, "a3");
    for (int i = 4; i < 12; i++) { /* reuses the three filled slots, then grows */
        snprintf(id, sizeof id, "a%d", i);
        rest(&b, EX_SELL, id, "m", 400, 10000, i);
    }
    assert_int_equal(ex_level_qty(&b, EX_SELL, 400), 90000);
    assert_string_equal(order_at(&b, EX_SELL, 0)->order_id, "a3");
    assert_string_equal(order_at(&b, EX_SELL, 8)->order_id, "a11");
    assert_string_equal(order_at(&b, EX_SELL, 9)->order_id, "hi");
    assert_int_equal(ex_book_remove(&b, EX_SELL, 400, "a7", NULL), 0);
    assert_int_equal(ex_book_remove(&b, EX_SELL, 500, "a8", NULL), AITBC_ENOTFOUND);
    assert_int_equal(ex_level_qty(&b, EX_SELL, 400), 80000);
    assert_string_equal(order_at(&b, EX_SELL, 4)->order_id, "a8");
    assert_int_equal(ex_book_remove(&b, EX_SELL, 500, "hi", NULL), 0);
    assert_int_equal(b.side[EX_SELL].n, 1);      /* the emptied level is gone */
    t = limit(EX_BUY, 600, 80000, EX_GTC, "tk"); /* takes the whole level */
    assert_int_equal(ex_match(&b, &P, &t, &p), 0);
    assert_int_equal(p.status, EX_ST_FILLED);
    ex_book_apply(&b, EX_BUY, &p);
    ex_plan_free(&p);
    assert_int_equal(b.side[EX_SELL].n, 0);
    assert_int_equal(ex_level_qty(&b, EX_SELL, 400), 0);
    ex_book_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_and_math),
        cmocka_unit_test(test_book_order),
        cmocka_unit_test(test_priority_and_partial),
        cmocka_unit_test(test_fees_rounded_up),
        cmocka_unit_test(test_self_trade_prevention),
        cmocka_unit_test(test_post_only),
        cmocka_unit_test(test_fok_ioc),
        cmocka_unit_test(test_market_orders),
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
