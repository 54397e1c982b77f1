/* Rows of chain_txs / chain_blocks → the JSON objects API.md defines: for events, route answers
 * and the chain-query@1 service (query.c). Other plugins get these objects through that service. */
#ifndef AITBC_CHAIN_TXJSON_H
#define AITBC_CHAIN_TXJSON_H

#include <aitbc/aitbc.h>
#include "chainmath.h"

/** The block holding the chain_txs row in the query (the last block starting at or before its
 *  seq, if the row lies inside it) as `what` (b = that block), NULL while pending. */
#define CHAIN_TX_IN_BLOCK(what)                                                                    \
    "(SELECT CASE WHEN chain_txs.seq < b.first_seq + b.tx_count THEN " what " END FROM "           \
    "chain_blocks b WHERE b.first_seq <= chain_txs.seq ORDER BY b.first_seq DESC, b.height DESC "  \
    "LIMIT 1)"
/** Columns chain_tx_json expects, in order, starting at column 0 (FROM chain_txs, unaliased). */
#define CHAIN_TX_COLS                                                                              \
    "hash, " CHAIN_TX_IN_BLOCK("b.height") ", " CHAIN_TX_IN_BLOCK(                                 \
        "chain_txs.seq - b.first_seq") ", type, from_addr, to_addr, asset, amount, fee, ref, "     \
                                       "ts_ms"
#define CHAIN_TX_NCOLS 11
/** Columns chain_block_json expects, in order, starting at column 0. */
#define CHAIN_BLOCK_COLS                                                                           \
    "height, hash, parent_hash, ts_ms, merkle_root, state_root, proposer, signature, tx_count"

/** Decimals of an asset (or a negative code: amounts are then printed in base units). */
typedef int (*chain_decimals_fn)(void *user, const char *asset);

/** @brief Transaction JSON {hash, block_height, index, type, from, to, asset, amount, fee, ref,
 *  timestamp} from the current row. Caller owns the result. */
cJSON *chain_tx_json(const aitbc_host_api *api, aitbc_stmt *s, chain_decimals_fn dec, void *user);
/** @brief The same for a transaction just recorded (pending: block_height and index null). */
cJSON *chain_tx_to_json(const chain_tx *tx, const char *hash, int decimals);
/** @brief Block JSON {height, hash, parent_hash, timestamp, tx_count, merkle_root, state_root,
 *  proposer, signature} from the current row. */
cJSON *chain_block_json(const aitbc_host_api *api, aitbc_stmt *s);
/** @brief The same from a header struct. */
cJSON *chain_block_to_json(const chain_block *b);

#endif
