/* The marketplace's tables (numbered migrations): offers with their remaining hours, and trades
 * with the escrow bookkeeping (released, refunded, hours released, next release time). */
#include "marketplace.h"

const aitbc_migration mk_migrations[] = {
    {1, "CREATE TABLE marketplace_offers(seq INTEGER PRIMARY KEY, offer_id TEXT NOT NULL UNIQUE,"
        " provider TEXT NOT NULL, gpu_model TEXT NOT NULL, gpu_memory_gb INTEGER NOT NULL,"
        " gpu_count INTEGER NOT NULL, models TEXT NOT NULL, region TEXT NOT NULL,"
        " price INTEGER NOT NULL CHECK(price > 0), hours_available INTEGER NOT NULL,"
        " hours_remaining INTEGER NOT NULL CHECK(hours_remaining >= 0), status TEXT NOT NULL,"
        " created_ms INTEGER NOT NULL, expires_ms INTEGER);"
        "CREATE INDEX marketplace_offers_status ON marketplace_offers(status, seq);"
        "CREATE INDEX marketplace_offers_price ON marketplace_offers(status, price, seq);"
        "CREATE INDEX marketplace_offers_expiry ON marketplace_offers(expires_ms)"
        " WHERE status = 'OPEN' AND expires_ms IS NOT NULL;"
        "CREATE TABLE marketplace_trades(seq INTEGER PRIMARY KEY, trade_id TEXT NOT NULL UNIQUE,"
        " offer_id TEXT NOT NULL, buyer TEXT NOT NULL, seller TEXT NOT NULL,"
        " hours INTEGER NOT NULL CHECK(hours > 0), price INTEGER NOT NULL,"
        " total INTEGER NOT NULL, status TEXT NOT NULL, created_ms INTEGER NOT NULL,"
        " ends_ms INTEGER NOT NULL, released INTEGER NOT NULL DEFAULT 0,"
        " refunded INTEGER NOT NULL DEFAULT 0, hours_released INTEGER NOT NULL DEFAULT 0,"
        " next_ms INTEGER NOT NULL, CHECK(released + refunded <= total));"
        "CREATE INDEX marketplace_trades_buyer ON marketplace_trades(buyer, seq);"
        "CREATE INDEX marketplace_trades_seller ON marketplace_trades(seller, seq);"
        "CREATE INDEX marketplace_trades_due ON marketplace_trades(next_ms)"
        " WHERE status = 'ACTIVE';"
        "CREATE INDEX marketplace_trades_offer ON marketplace_trades(offer_id)"
        " WHERE status = 'ACTIVE';"},
    /* a trade is paused (from paused_ms) while its seller cannot take work */
    {2, "ALTER TABLE marketplace_trades ADD COLUMN paused_ms INTEGER;"},
};

const size_t mk_migrations_n = sizeof mk_migrations / sizeof mk_migrations[0];
