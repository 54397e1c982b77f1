/* The pure matching engine of the exchange: an in-memory price-time order book per market and
 * the planning of one incoming order against it. No I/O, no locks: the caller holds the market's
 * lock, plans, settles the plan in the database, and applies it to the book only after commit. */
#ifndef AITBC_EXCHANGE_ENGINE_H
#define AITBC_EXCHANGE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define EX_ID_MAX 48

enum { EX_BUY = 0, EX_SELL = 1 };
enum { EX_LIMIT = 0, EX_MARKET = 1 };
enum { EX_GTC = 0, EX_IOC = 1, EX_FOK = 2 };
enum {
    EX_ST_NEW = 0,
    EX_ST_PARTIALLY_FILLED,
    EX_ST_FILLED,
    EX_ST_CANCELED,
    EX_ST_REJECTED,
    EX_ST_EXPIRED,
};

/** @brief Grid and fees of one market, all in base units of the assets. */
typedef struct ex_params {
    int base_dec, quote_dec;
    int64_t base_scale; /**< 10^base_dec */
    int64_t tick, step; /**< price step (quote units per whole base), quantity step (base units) */
    int64_t min_notional; /**< quote units */
    int maker_bps, taker_bps;
} ex_params;

/** @brief One resting order. */
typedef struct ex_rest {
    char order_id[EX_ID_MAX];
    char owner[EX_ID_MAX];
    int64_t price, remaining, seq;
} ex_rest;

/** @brief One price level: its orders oldest first in q[head..n), and their total remaining. */
typedef struct ex_level {
    int64_t price, total;
    ex_rest *q;
    size_t head, n, cap;
} ex_level;

/** @brief One side: its levels stored worst first, so that the best levels, where matching removes
 * and most new orders arrive, sit at the end of the array; read them with ex_best_level(). */
typedef struct ex_side {
    ex_level *lv;
    size_t n, cap;
} ex_side;

/** @brief The i-th best level of a side (0 = best: bids highest price, asks lowest). */
static inline ex_level *ex_best_level(const ex_side *s, size_t i) {
    return &s->lv[s->n - 1 - i];
}

typedef struct ex_book {
    ex_side side[2]; /**< [EX_BUY] bids, [EX_SELL] asks */
} ex_book;

/** @brief An incoming order. */
typedef struct ex_taker {
    int side, type, tif, post_only;
    int64_t price;        /**< limit price; 0 for market */
    int64_t quantity;     /**< base units; 0 for a market buy */
    int64_t quote_budget; /**< market buy: most quote to spend */
    const char *owner;
} ex_taker;

/** @brief One planned fill against the maker at q[pos] of the level-th best level of the other
 * side. */
typedef struct ex_fill {
    size_t level, pos;
    int64_t price, qty, notional;
    int64_t taker_fee, maker_fee; /**< in the asset each side receives, rounded up */
} ex_fill;

typedef struct ex_plan {
    ex_fill *fills;
    size_t nfills, cap;
    int status;           /**< final (or resting) status of the taker */
    int64_t filled;       /**< base units */
    int64_t filled_quote; /**< quote units */
    int64_t taker_fees;   /**< in the asset the taker receives */
    int64_t rest_qty;     /**< > 0: the remainder rests on the book (GTC limit) */
} ex_plan;

/** @brief notional = price × qty / base_scale, exact. 0, AITBC_EINVAL (not whole) or
 * AITBC_EOVERFLOW. */
int ex_notional(int64_t price, int64_t qty, int64_t base_scale, int64_t *out);
/** @brief ceil(amount × bps / 10000). */
int64_t ex_fee_up(int64_t amount, int bps);
/** @brief 1 if tick × step is a whole number of quote units (every fill settles exactly). */
int ex_grid_ok(int64_t tick, int64_t step, int64_t base_scale);

void ex_book_free(ex_book *b);
/** @brief Insert by price-time priority. 0 or AITBC_ENOMEM. */
int ex_book_insert(ex_book *b, int side, const ex_rest *r);
/** @brief Remove an order by price and id; 0 or AITBC_ENOTFOUND. *out gets a copy when non-NULL. */
int ex_book_remove(ex_book *b, int side, int64_t price, const char *order_id, ex_rest *out);
/** @brief The maker a planned fill refers to (valid until the book changes). */
const ex_rest *ex_fill_maker(const ex_book *b, int taker_side, const ex_fill *f);
/** @brief Number of resting orders on a side. */
size_t ex_side_orders(const ex_side *s);
/** @brief Aggregated quantity at one price level of a side. */
int64_t ex_level_qty(const ex_book *b, int side, int64_t price);

/** @brief Plan taker against the book (the book is not touched). 0 or AITBC_ENOMEM/AITBC_EOVERFLOW.
 */
int ex_match(const ex_book *b, const ex_params *p, const ex_taker *t, ex_plan *out);
/** @brief Apply a committed plan: reduce/remove the makers it filled (from the best end of the
 * other side). Does not insert the taker's remainder (use ex_book_insert). */
void ex_book_apply(ex_book *b, int taker_side, const ex_plan *plan);
void ex_plan_free(ex_plan *plan);

/** @brief "NEW", "FILLED", … */
const char *ex_status_name(int status);

#endif
