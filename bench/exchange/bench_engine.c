/* In-process matching throughput of the pure engine (no database, no HTTP): a book of resting
 * orders around a mid price, then a stream of orders, a given share of which cross the spread.
 * Each order is planned (ex_match), applied (ex_book_apply) and, if it rests, inserted — what the
 * plugin does under the market lock after its database commit.
 * usage: bench_exchange_engine [orders] [cross_percent] [initial_depth] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"

static uint64_t g_rng = 0x2545f4914f6cdd1dULL;

static unsigned rnd(unsigned n) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (unsigned)(g_rng % n);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long orders = argc > 1 ? atol(argv[1]) : 1000000;
    unsigned cross = argc > 2 ? (unsigned)atoi(argv[2]) : 30;
    long depth = argc > 3 ? atol(argv[3]) : 10000;
    const ex_params p = {.base_dec = 6,
                         .quote_dec = 8,
                         .base_scale = 1000000,
                         .tick = 100,
                         .step = 10000,
                         .min_notional = 1,
                         .maker_bps = 10,
                         .taker_bps = 20};
    const int64_t mid = 100000; /* 0.001 BTC in satoshi */
    static const char *const owners[] = {"o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7"};
    ex_book b;
    memset(&b, 0, sizeof b);
    int64_t seq = 0;
    long fills = 0;
    double t0 = 0;
    for (long i = 0; i < depth + orders; i++) {
        if (i == depth) t0 = now_s();
        int side = (int)rnd(2);
        int crossing = i >= depth && rnd(100) < cross;
        /* Resting orders sit 1..100 ticks off the mid on their side; crossing ones reach 50
         * ticks into the other side. */
        int64_t off = (int64_t)(crossing ? -50 : 1 + (int)rnd(100)) * p.tick;
        ex_taker t = {.side = side,
                      .type = EX_LIMIT,
                      .tif = crossing ? EX_IOC : EX_GTC,
                      .price = side == EX_BUY ? mid - off : mid + off,
                      .quantity = (int64_t)(1 + rnd(100)) * p.step,
                      .owner = owners[rnd(8)]};
        ex_plan plan;
        if (ex_match(&b, &p, &t, &plan) != 0) return 1;
        ex_book_apply(&b, side, &plan);
        fills += (long)plan.nfills;
        if (plan.rest_qty > 0) {
            ex_rest r = {.price = t.price, .remaining = plan.rest_qty, .seq = ++seq};
            snprintf(r.order_id, sizeof r.order_id, "ord_%ld", i);
            snprintf(r.owner, sizeof r.owner, "%s", t.owner);
            if (ex_book_insert(&b, side, &r) != 0) return 1;
        }
        ex_plan_free(&plan);
    }
    double dt = now_s() - t0;
    printf("orders %ld (%u%% crossing), initial depth %ld: %.0f orders/s, %.0f fills/s, "
           "book now %zu bids / %zu asks in %zu / %zu levels\n",
           orders, cross, depth, orders / dt, fills / dt, ex_side_orders(&b.side[EX_BUY]),
           ex_side_orders(&b.side[EX_SELL]), b.side[EX_BUY].n, b.side[EX_SELL].n);
    ex_book_free(&b);
    return 0;
}
