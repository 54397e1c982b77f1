/* The exchange's tables (numbered migrations): orders with what is left of them and what they
 * hold locked, trades with both sides' fees, a key/value meta table (the treasury) and, for
 * several hosts on one database, each market's book sequence. The
 * queries live beside the code that needs them (place.c, orders.c, book.c, klines.c). */
#include "exchange.h"

/* The two tables' columns and indexes, shared by step 1 (seq with AUTOINCREMENT) and step 3
 * (the same tables rebuilt without it on SQLite). `pk` is what follows INTEGER PRIMARY KEY. */
#define EX_ORDERS_TABLE(name, pk)                                                                  \
    "CREATE TABLE " name "("                                                                       \
    " seq INTEGER PRIMARY KEY" pk ", order_id TEXT NOT NULL UNIQUE,"                               \
    " owner TEXT NOT NULL, market TEXT NOT NULL, side INTEGER NOT NULL, type INTEGER NOT NULL,"    \
    " tif INTEGER NOT NULL, post_only INTEGER NOT NULL, price INTEGER, quantity INTEGER,"          \
    " quote_quantity INTEGER, client_order_id TEXT, status INTEGER NOT NULL,"                      \
    " is_open INTEGER NOT NULL, filled INTEGER NOT NULL, filled_quote INTEGER NOT NULL,"           \
    " fees INTEGER NOT NULL, remaining INTEGER NOT NULL, locked INTEGER NOT NULL,"                 \
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
#define EX_ORDERS_COLS                                                                             \
    "seq, order_id, owner, market, side, type, tif, post_only, price, quantity, quote_quantity,"   \
    " client_order_id, status, is_open, filled, filled_quote, fees, remaining, locked,"            \
    " created_ms, updated_ms"
#define EX_ORDERS_INDEXES                                                                          \
    "CREATE UNIQUE INDEX exchange_orders_coid ON exchange_orders(owner, client_order_id)"          \
    " WHERE is_open = 1 AND client_order_id IS NOT NULL;"                                          \
    "CREATE INDEX exchange_orders_owner ON exchange_orders(owner, seq);"                           \
    "CREATE INDEX exchange_orders_open ON exchange_orders(market, seq) WHERE is_open = 1;"
#define EX_TRADES_TABLE(name, pk)                                                                  \
    "CREATE TABLE " name "("                                                                       \
    " seq INTEGER PRIMARY KEY" pk ", trade_id TEXT NOT NULL UNIQUE,"                               \
    " market TEXT NOT NULL, price INTEGER NOT NULL, quantity INTEGER NOT NULL,"                    \
    " notional INTEGER NOT NULL, taker_side INTEGER NOT NULL, taker_order TEXT NOT NULL,"          \
    " maker_order TEXT NOT NULL, taker_fee INTEGER NOT NULL, maker_fee INTEGER NOT NULL,"          \
    " ts_ms INTEGER NOT NULL);"
#define EX_TRADES_COLS                                                                             \
    "seq, trade_id, market, price, quantity, notional, taker_side, taker_order, maker_order,"      \
    " taker_fee, maker_fee, ts_ms"
#define EX_TRADES_INDEXES                                                                          \
    "CREATE INDEX exchange_trades_market ON exchange_trades(market, seq);"                         \
    "CREATE INDEX exchange_trades_time ON exchange_trades(market, ts_ms);"                         \
    "CREATE INDEX exchange_trades_taker ON exchange_trades(taker_order);"                          \
    "CREATE INDEX exchange_trades_maker ON exchange_trades(maker_order);"

static const aitbc_migration k_migrations[] = {
    {1, EX_ORDERS_TABLE("exchange_orders", " AUTOINCREMENT")
            EX_ORDERS_INDEXES EX_TRADES_TABLE("exchange_trades", " AUTOINCREMENT") EX_TRADES_INDEXES
     "CREATE TABLE exchange_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"},
    /* The sequence of each market's last book change, bumped in the transaction that makes it:
     * hosts sharing one database see when another changed the book (ex_book_sync). */
    {2, "CREATE TABLE exchange_books(market TEXT PRIMARY KEY, sequence INTEGER NOT NULL);"},
};

/* Step 3 on SQLite: both tables without AUTOINCREMENT, whose bookkeeping row in sqlite_sequence
 * cost a read and a write per order and per trade. Rows are never deleted, so the rowid SQLite
 * picks (the largest + 1) still only grows: `seq` keeps its arrival order (time priority, cursors,
 * the metrics' counts). PostgreSQL made both identity columns from the start: nothing to do. */
#define EX_REBUILD(table, create, cols, indexes)                                                   \
    create(table "_3", "") "INSERT INTO " table "_3 SELECT " cols " FROM " table ";"               \
                           "DROP TABLE " table ";"                                                 \
                           "ALTER TABLE " table "_3 RENAME TO " table ";" indexes
static const char k_no_autoincrement[] =
    EX_REBUILD("exchange_orders", EX_ORDERS_TABLE, EX_ORDERS_COLS, EX_ORDERS_INDEXES)
        EX_REBUILD("exchange_trades", EX_TRADES_TABLE, EX_TRADES_COLS, EX_TRADES_INDEXES);

int ex_store_migrate(ex_state *es) {
    aitbc_migration steps[] = {
        k_migrations[0],
        k_migrations[1],
        {3, es->pg ? "SELECT 1" : k_no_autoincrement},
    };
    return es->api->migrate(es->ctx, steps, sizeof steps / sizeof steps[0]);
}
