/* The chain's tables (numbered migrations): assets, accounts (with the sealed custodial key),
 * balances, transactions with their sealing sequence, blocks, supply and the lock owners. The
 * queries live with the code that needs them (ledger.c, blocks.c, query.c, lock_owners.c). */
#include "chain.h"

const aitbc_migration chain_migrations[] = {
    {1, "CREATE TABLE chain_assets(symbol TEXT PRIMARY KEY, decimals INTEGER NOT NULL);"
        "CREATE TABLE chain_accounts(address TEXT PRIMARY KEY, pubkey TEXT, sealed_sk TEXT,"
        " created_ms INTEGER NOT NULL);"
        "CREATE TABLE chain_balances(address TEXT NOT NULL, asset TEXT NOT NULL,"
        " available INTEGER NOT NULL CHECK(available >= 0),"
        " locked INTEGER NOT NULL CHECK(locked >= 0), PRIMARY KEY(address, asset)) WITHOUT ROWID;"
        "CREATE TABLE chain_supply(asset TEXT PRIMARY KEY, minted INTEGER NOT NULL);"
        "CREATE TABLE chain_txs(seq INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
        " op TEXT NOT NULL, type TEXT NOT NULL, from_addr TEXT, to_addr TEXT,"
        " asset TEXT NOT NULL, amount INTEGER NOT NULL, fee INTEGER NOT NULL DEFAULT 0,"
        " ref TEXT NOT NULL, ts_ms INTEGER NOT NULL, block_height INTEGER, idx INTEGER,"
        " UNIQUE(type, ref));"
        "CREATE INDEX chain_txs_pending ON chain_txs(seq) WHERE block_height IS NULL;"
        "CREATE INDEX chain_txs_block ON chain_txs(block_height, idx);"
        "CREATE INDEX chain_txs_from ON chain_txs(from_addr, seq);"
        "CREATE INDEX chain_txs_to ON chain_txs(to_addr, seq);"
        "CREATE INDEX chain_txs_type ON chain_txs(type, seq);"
        "CREATE TABLE chain_blocks(height INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
        " parent_hash TEXT NOT NULL, ts_ms INTEGER NOT NULL, merkle_root TEXT NOT NULL,"
        " state_root TEXT NOT NULL, proposer TEXT NOT NULL, proposer_key TEXT NOT NULL,"
        " signature TEXT NOT NULL, tx_count INTEGER NOT NULL);"},
    /* how much each module holds locked per account (lock_owners.c) */
    {2, "CREATE TABLE chain_lock_owners(module TEXT NOT NULL, address TEXT NOT NULL,"
        " asset TEXT NOT NULL, amount INTEGER NOT NULL CHECK(amount >= 0),"
        " PRIMARY KEY(module, address, asset)) WITHOUT ROWID;"},
    /* A block holds the transactions first_seq .. first_seq + tx_count - 1 (sequence numbers are
     * gap-free and sealed in order), so sealing no longer rewrites every transaction row and two
     * of its indexes; chain_txs_pending was never used by the planner either. Empty blocks start
     * where the previous non-empty one ended. */
    {3, "ALTER TABLE chain_blocks ADD COLUMN first_seq INTEGER;"
        "UPDATE chain_blocks SET first_seq = (SELECT MIN(seq) FROM chain_txs"
        " WHERE block_height = chain_blocks.height) WHERE tx_count > 0;"
        "UPDATE chain_blocks SET first_seq = COALESCE((SELECT b.first_seq + b.tx_count"
        " FROM chain_blocks b WHERE b.height < chain_blocks.height AND b.tx_count > 0"
        " ORDER BY b.height DESC LIMIT 1), 1) WHERE tx_count = 0;"
        "DROP INDEX chain_txs_pending;"
        "DROP INDEX chain_txs_block;"
        "ALTER TABLE chain_txs DROP COLUMN block_height;"
        "ALTER TABLE chain_txs DROP COLUMN idx;"
        "CREATE INDEX chain_blocks_first_seq ON chain_blocks(first_seq, height);"},
};
const size_t chain_migrations_n = sizeof chain_migrations / sizeof chain_migrations[0];
