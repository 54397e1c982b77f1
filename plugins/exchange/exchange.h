/* The exchange plugin's shared state: markets (config + in-memory book behind one lock each),
 * the ledger service it settles through, and the functions its files share. */
#ifndef AITBC_EXCHANGE_H
#define AITBC_EXCHANGE_H

#include <pthread.h>
#include <stdint.h>
#include <aitbc/aitbc.h>
#include <aitbc/exchange.h>
#include <aitbc/ledger.h>
#include "engine.h"

#define EX_SYMBOL_MAX 32
#define EX_ASSET_MAX 16

/* A market's 24 h trade statistics and last trade price, read from one snapshot of the trades
 * and kept to answer the ticker without SQL while no trade happened and the window still holds
 * the same trades (ticker.c). */
typedef struct ex_day_stats {
    int valid;
    uint64_t key;     /* trade_gen (one host) or the stored book sequence (shared) when read */
    int64_t from_ms;  /* the `now` it was read for: a clock that went back reads again */
    int64_t until_ms; /* the window holds the same trades up to here (oldest one + 24 h) */
    int64_t count, low, high, vol, qvol, open, last; /* prices -1 = none */
} ex_day_stats;

/* Best bid and ask of a book (prices -1 = empty side). */
typedef struct ex_book_top {
    int64_t bid, bid_qty, ask, ask_qty;
} ex_book_top;

typedef struct ex_market {
    char symbol[EX_SYMBOL_MAX]; /* "AIT-BTC" */
    char base[EX_ASSET_MAX], quote[EX_ASSET_MAX];
    char topic[EX_SYMBOL_MAX + 16]; /* "orderbook:AIT-BTC" */
    ex_params p;
    /* The book and its sequence are only touched with `lock` held; the database is the truth. */
    pthread_mutex_t lock;
    ex_book book;
    uint64_t sequence;
    uint64_t reserved; /* sequence ceiling stored in exchange_meta: never reused after a restart */
    /* Place and cancel run on the host's writer, so the book changes before the shared COMMIT.
     * While a batch has changed it, in_batch is set and the sequence from before that batch kept:
     * a batch that fails gets both back (ex_market_batch_join). Under `lock`, like the book. */
    int in_batch;
    uint64_t batch_sequence, batch_reserved;
    /* The ticker from memory (ticker.c), under `lock`: trade_gen moves on with every local trade
     * (and again when a batch with trades ends: then they are committed, or gone). */
    uint64_t trade_gen;
    int batch_traded;
    ex_day_stats stats;
    /* The ticker JSON of `stats` and `top` up to its `time` field (malloc'd), or NULL. */
    ex_book_top top;
    char *ticker_text;
    struct ex_state *es;
} ex_market;

typedef struct ex_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    int pg;     /* PostgreSQL storage: no INDEXED BY hint (README, "Storage") */
    int shared; /* other hosts may change the books (aitbc_store_shared): keep exchange_books */
    const aitbc_ledger_v1 *ledger; /* looked up in start */
    ex_market *markets;
    size_t nmarkets;
    char treasury[AITBC_ADDRESS_MAX];
    aitbc_exchange_v1 service; /* exchange@1 */
    aitbc_metrics_v1 metrics;  /* metrics:exchange@1 (metrics.c) */
} ex_state;

/* metrics.c */
/** @brief Fill es->metrics. Markets are read at each scrape, so after start. */
void ex_metrics_init(ex_state *es);

/* store.c */
/** Runs the exchange's migrations (from init). 0 or the host's error. */
int ex_store_migrate(ex_state *es);

/* routes.c */
/** Registers every exchange route (from start). 0 or the host's error. */
int ex_routes_register(ex_state *es);

/* service.c */
/** @brief Fill es->service (exchange@1). */
void ex_service_init(ex_state *es);

/* config.c */
/** @brief Parse `markets` (or the default AIT-BTC) with decimals from the ledger; logs and fails on
 * a bad market (off-grid tick × step, unknown asset, bad amount). */
int ex_config_markets(ex_state *es);
ex_market *ex_find_market(ex_state *es, const char *symbol);

/* book.c */
/** @brief Rebuild every market's book from the open orders in the database. */
int ex_books_rebuild(ex_state *es);
/** @brief With m->lock held, before a write changes m's book: when on the host's writer, arrange
 *  that a failed batch reloads the book from the database and puts the sequence back. 0, or an
 *  error (then the book must not change). */
int ex_market_batch_join(ex_market *m);
/** @brief With m->lock held, in t, on a shared database (es->shared; nothing to do on one host):
 *  when the market's stored sequence differs from this host's (another host changed the book),
 *  reload the book from the open orders and take the stored sequence. t is the write
 *  transaction that will match (on the writer it holds the database-wide write lock: no other
 *  host changes the book until it commits) or a read transaction for a snapshot. *stored (may be
 *  NULL) gets the stored sequence, -1 when not read. 0 or an error (then do not match). */
int ex_book_sync(ex_market *m, aitbc_txn *t, int64_t *stored);
/** @brief The market's sequence in exchange_books as t sees it (-1: no row). 0 or an error. */
int ex_book_stored(const ex_market *m, aitbc_txn *t, int64_t *out);
/** @brief In t, with m->lock held: the book changes `changed` price levels, so the stored
 *  sequence moves on by as much (what ex_publish_levels will add to m->sequence after commit). */
int ex_book_bump(ex_market *m, aitbc_txn *t, size_t changed);
/** @brief Distinct (side, price) pairs among n: the levels an `orderbook` event reports. */
size_t ex_levels_distinct(const int *sides, const int64_t *prices, size_t n);
/** @brief Publish the current aggregate of the given price levels as one `orderbook` event (both
 * topics). Caller holds m->lock. sides/prices are parallel arrays of n changed levels. */
void ex_publish_levels(ex_state *es, ex_market *m, const int *sides, const int64_t *prices,
                       size_t n);
/** @brief Start every market's sequence at the ceiling stored by the previous run, and store a
 *  new one, so the sequence never goes back across a restart. */
int ex_sequences_load(ex_state *es);
/** @brief GET /v1/exchange/orderbook. */
void ex_h_orderbook(aitbc_request *req, void *user);

/* place.c */
void ex_h_place(aitbc_request *req, void *user);

/* orders.c */
/** @brief What the Order JSON shows of one order; amounts 0 where the stored column is NULL
 *  (price of a market order, quantity of a market buy, quote_quantity of all but a market buy). */
typedef struct ex_order_view {
    const char *order_id, *client_order_id; /* client_order_id may be NULL */
    const ex_market *m;
    int side, type, tif, post_only, status;
    int64_t price, quantity, quote_quantity;
    int64_t filled, filled_quote, fees, remaining;
    int64_t created_ms, updated_ms;
} ex_order_view;
/** @brief The Order JSON of v with its `fills` array (taken over). */
cJSON *ex_order_view_json(const ex_order_view *v, cJSON *fills);
/** @brief One element of an Order's `fills`; side is the order's (its fee is in what it gets). */
cJSON *ex_fill_json(const ex_market *m, int side, const char *trade_id, int64_t price, int64_t qty,
                    int64_t fee, int taker);
/** @brief The Order JSON of one stored order (owner NULL = any); NULL if not found. */
cJSON *ex_order_json(ex_state *es, aitbc_txn *t, const char *order_id, const char *owner);
void ex_h_order_get(aitbc_request *req, void *user);
void ex_h_order_cancel(aitbc_request *req, void *user);
void ex_h_orders_list(aitbc_request *req, void *user);
/** @brief Answer an error code from the ledger/storage as the API's status. */
void ex_respond_rc(ex_state *es, aitbc_request *req, int rc);

/* ticker.c */
/** @brief With m->lock held, after trades of m were applied to its book: the kept ticker is
 *  stale (and again when the writer's batch ends, see batch_end). */
void ex_ticker_traded(ex_market *m);
void ex_h_ticker(aitbc_request *req, void *user);

/* market_routes.c */
void ex_h_markets(aitbc_request *req, void *user);
void ex_h_trades(aitbc_request *req, void *user);
void ex_h_balances(aitbc_request *req, void *user);
/* klines.c */
/** @brief GET /v1/exchange/klines: OHLCV candles from the stored trades. */
void ex_h_klines(aitbc_request *req, void *user);

/** @brief Parse ?limit= (1..500, default 50) and ?cursor= (made for `tag`); answers 400 itself. */
int ex_page(ex_state *es, aitbc_request *req, const char *tag, int *limit, int64_t *before);

#endif
