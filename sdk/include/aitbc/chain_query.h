/* The chain-query@1 service (chain plugin): read-only views of blocks, transactions and
 * addresses as the JSON objects docs/api.md defines. The explorer's only way into the chain: it
 * never reads the chain plugin's tables. Each call runs in one read transaction of its own, so a
 * page is a consistent snapshot. */
#ifndef AITBC_CHAIN_QUERY_H
#define AITBC_CHAIN_QUERY_H

#include <stdint.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AITBC_CHAIN_QUERY_SERVICE "chain-query@1"

/**
 * Every function: called on the caller's thread (an HTTP handler), may block on the database for
 * a read. Inputs are borrowed. On 0, *out is a new object the CALLER FREES (cJSON_Delete);
 * otherwise *out is untouched and the result is AITBC_ENOTFOUND (no such block, transaction or
 * address), AITBC_EINVAL (malformed cursor), AITBC_ECONFLICT (cursor made for another listing or
 * filters) or another negative AITBC_E* code.
 * Pages are {"items": […], "next_cursor": "…" | null}, newest first; limit is 1..500 (the
 * caller parses ?limit= with aitbc_page_limit); cursor NULL or "" starts at the newest.
 */
typedef struct aitbc_chain_query_v1 {
    uint32_t size;
    void *self;
    /** One block with its "transactions" array; by hash when hash is non-NULL, else by height. */
    int (*block)(void *self, int64_t height, const char *hash, cJSON **out);
    /** Page of blocks. */
    int (*blocks)(void *self, int limit, const char *cursor, cJSON **out);
    /** One transaction by its 64-hex hash. */
    int (*transaction)(void *self, const char *hash, cJSON **out);
    /** Page of transactions, only of `type` (an AITBC_TX_* name) when type is non-NULL. */
    int (*transactions)(void *self, const char *type, int limit, const char *cursor, cJSON **out);
    /** {address, balances, locked, tx_count, first_seen, last_active, recent_transactions[recent]}.
     */
    int (*address)(void *self, const char *address, int recent, cJSON **out);
    /** Page of the transactions that touch address. */
    int (*address_transactions)(void *self, const char *address, int limit, const char *cursor,
                                cJSON **out);
} aitbc_chain_query_v1;

#ifdef __cplusplus
}
#endif

#endif
