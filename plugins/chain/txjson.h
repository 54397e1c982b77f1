/* Rows of chain_txs / chain_blocks → the JSON objects API.md defines: for events, route answers
 * and the chain-query@1 service (query.c). Other plugins get these objects through that service. */
#ifndef AITBC_CHAIN_TXJSON_H
#define AITBC_CHAIN_TXJSON_H

#include <aitbc/aitbc.h>
#include "chainmath.h"

/** What CHAIN_TX_COLS selects from: chain_txs, each row with the block holding it as blk (NULL
 *  columns while pending). That block is the last one starting at or before the row's seq, if
 *  the row lies inside it; one correlated lookup per row (a covering scan of
 *  chain_blocks_first_seq), then the block by its key. blk's columns are renamed so that
 *  chain_txs' own stay unambiguous in the caller's WHERE (hash, ts_ms). */
#define CHAIN_TX_FROM                                                                              \
    "chain_txs LEFT JOIN (SELECT height AS blk_height, first_seq AS blk_first, tx_count AS "       \
    "blk_txs FROM chain_blocks) blk ON blk.blk_height = (SELECT b.height FROM chain_blocks b "     \
    "WHERE b.first_seq <= chain_txs.seq ORDER BY b.first_seq DESC, b.height DESC LIMIT 1) AND "    \
    "chain_txs.seq < blk.blk_first + blk.blk_txs "
/** Columns chain_tx_json expects, in order, starting at column 0 ("FROM " CHAIN_TX_FROM). */
#define CHAIN_TX_COLS                                                                              \
    "hash, blk.blk_height, chain_txs.seq - blk.blk_first, type, from_addr, to_addr, asset, "       \
    "amount, fee, ref, ts_ms"
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
