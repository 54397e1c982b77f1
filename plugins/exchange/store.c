/* The exchange's tables (numbered migrations): orders with what is left of them and what they
 * hold locked, trades with both sides' fees, and a key/value meta table (the treasury). The
 * queries live beside the code that needs them (place.c, orders.c, book.c, klines.c). */
#include "exchange.h"

static const aitbc_migration k_migrations[] = {
    {1, "CREATE TABLE exchange_orders("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL UNIQUE,"
        " owner TEXT NOT NULL, market TEXT NOT NULL, side INTEGER NOT NULL, type INTEGER NOT NULL,"
        " tif INTEGER NOT NULL, post_only INTEGER NOT NULL, price INTEGER, quantity INTEGER,"
        " quote_quantity INTEGER, client_order_id TEXT, status INTEGER NOT NULL,"
        " is_open INTEGER NOT NULL, filled INTEGER NOT NULL, filled_quote INTEGER NOT NULL,"
        " fees INTEGER NOT NULL, remaining INTEGER NOT NULL, locked INTEGER NOT NULL,"
        " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
        "CREATE UNIQUE INDEX exchange_orders_coid ON exchange_orders(owner, client_order_id)"
        " WHERE is_open = 1 AND client_order_id IS NOT NULL;"
        "CREATE INDEX exchange_orders_owner ON exchange_orders(owner, seq);"
        "CREATE INDEX exchange_orders_open ON exchange_orders(market, seq) WHERE is_open = 1;"
        "CREATE TABLE exchange_trades("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, trade_id TEXT NOT NULL UNIQUE,"
        " market TEXT NOT NULL, price INTEGER NOT NULL, quantity INTEGER NOT NULL,"
        " notional INTEGER NOT NULL, taker_side INTEGER NOT NULL, taker_order TEXT NOT NULL,"
        " maker_order TEXT NOT NULL, taker_fee INTEGER NOT NULL, maker_fee INTEGER NOT NULL,"
        " ts_ms INTEGER NOT NULL);"
        "CREATE INDEX exchange_trades_market ON exchange_trades(market, seq);"
        "CREATE INDEX exchange_trades_time ON exchange_trades(market, ts_ms);"
        "CREATE INDEX exchange_trades_taker ON exchange_trades(taker_order);"
        "CREATE INDEX exchange_trades_maker ON exchange_trades(maker_order);"
        "CREATE TABLE exchange_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"},
    /* The sequence of each market's last book change, bumped in the transaction that makes it:
     * hosts sharing one database see when another changed the book (ex_book_sync). */
    {2, "CREATE TABLE exchange_books(market TEXT PRIMARY KEY, sequence INTEGER NOT NULL);"},
};

int ex_store_migrate(ex_state *es) {
    return es->api->migrate(es->ctx, k_migrations, sizeof k_migrations / sizeof k_migrations[0]);
}
