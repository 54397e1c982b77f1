/* Pure chain arithmetic shared by the ledger, the block producer, the verifier and the unit tests:
 * transaction and block hashes, Merkle roots, block signatures, state roots, and an in-memory
 * balance book that replays transactions with exactly the ledger's movement rules. */
#ifndef AITBC_CHAIN_MATH_H
#define AITBC_CHAIN_MATH_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#define CHAIN_HASH_HEX 65
#define CHAIN_SIG_MAX 96
#define CHAIN_SYMBOL_MAX 17
#define CHAIN_TXREF_MAX 256
/** Movement kinds ("op" column): how a transaction moved balances, whatever its type. */
#define CHAIN_OP_MINT "mint"
#define CHAIN_OP_TRANSFER "transfer"
#define CHAIN_OP_LOCK "lock"
#define CHAIN_OP_UNLOCK "unlock"
#define CHAIN_OP_SETTLE "settle"

typedef struct chain_asset {
    char symbol[CHAIN_SYMBOL_MAX];
    int decimals;
} chain_asset;

/** One ledger transaction as stored (addresses "" when absent). */
typedef struct chain_tx {
    int64_t seq;
    char op[12];
    char type[24];
    char from[48];
    char to[48];
    char asset[CHAIN_SYMBOL_MAX];
    int64_t amount;
    int64_t fee;
    char ref[CHAIN_TXREF_MAX];
    int64_t ts_ms;
} chain_tx;

/** One block header as stored. */
typedef struct chain_block {
    int64_t height;
    char hash[CHAIN_HASH_HEX];
    char parent_hash[CHAIN_HASH_HEX];
    int64_t ts_ms;
    char merkle_root[CHAIN_HASH_HEX];
    char state_root[CHAIN_HASH_HEX];
    char proposer[48];
    char signature[CHAIN_SIG_MAX];
    int64_t tx_count;
    /* seq of its first transaction; its transactions are first_seq .. first_seq + tx_count - 1.
     * Not hashed: the merkle root already commits to exactly those transactions. */
    int64_t first_seq;
} chain_block;

/** One account's balance of one asset. */
typedef struct chain_bal {
    int64_t available;
    int64_t locked;
} chain_bal;

/** @brief 1 if type is one of API.md's transaction types and may be recorded with op. */
int chain_type_allowed(const char *op, const char *type);
/** @brief 1 if text is a known transaction type (MINT, TRANSFER, ...). */
int chain_type_known(const char *type);

/** @brief Apply one movement to balances. from is NULL for mint; for lock/unlock from == to may
 *  alias. Nothing changes on failure. @return 0, AITBC_EFUNDS, AITBC_EOVERFLOW or AITBC_EINVAL. */
int chain_op_apply(const char *op, int64_t amount, chain_bal *from, chain_bal *to);

/** @brief SHA-256 hex of the canonical JSON of the transaction's fields. 0 or an error. */
int chain_tx_hash(const chain_tx *tx, char out[CHAIN_HASH_HEX]);
/** @brief chain_tx_hash through the general canonical JSON writer (what the direct path of
 *  chain_tx_hash must equal; it falls back to this for strings that need escapes). */
int chain_tx_hash_general(const chain_tx *tx, char out[CHAIN_HASH_HEX]);

/** @brief Merkle root over 32-byte leaves (RFC 6962 shape: leaf = H(0x00||x), node =
 *  H(0x01||l||r), an unpaired node is promoted). Empty → H(""). leaves is used as scratch. */
void chain_merkle_root(unsigned char (*leaves)[32], size_t n, char out[CHAIN_HASH_HEX]);

/** @brief SHA-256 hex of the canonical JSON of the header {height, parent_hash, timestamp
 *  (RFC 3339), merkle_root, state_root, proposer, tx_count}. */
int chain_block_hash(const chain_block *b, char out[CHAIN_HASH_HEX]);
/** @brief Sign "aitbc-block-v1\n<hash>" with the node key; base64url into b->signature. */
void chain_block_sign(chain_block *b, const unsigned char sk[64]);
/** @brief 0 if b->signature is pk's signature over b->hash, else AITBC_ESIG. */
int chain_block_verify_sig(const chain_block *b, const unsigned char pk[32]);

/** State root: SHA-256 over "address asset available locked\n" lines of every non-zero
 *  balance, in (address, asset) byte order. Fed incrementally. */
typedef struct chain_sr {
    crypto_hash_sha256_state st;
} chain_sr;
void chain_sr_init(chain_sr *sr);
void chain_sr_add(chain_sr *sr, const char *address, const char *asset, int64_t available,
                  int64_t locked);
void chain_sr_final(chain_sr *sr, char out[CHAIN_HASH_HEX]);

/** In-memory balances keyed by (address, asset): the verifier's replay. */
typedef struct chain_book_entry {
    char address[48];
    char asset[CHAIN_SYMBOL_MAX];
    chain_bal bal;
    int used;
} chain_book_entry;
typedef struct chain_book {
    chain_book_entry *slots;
    size_t cap;
    size_t count;
} chain_book;

/** @brief Entry for (address, asset); create makes a zero one. NULL if absent (or no memory). */
chain_book_entry *chain_book_get(chain_book *b, const char *address, const char *asset, int create);
/** @brief Replay one transaction. @return 0 or what chain_op_apply returns (ENOMEM too). */
int chain_book_apply(chain_book *b, const chain_tx *tx);
/** @brief State root of the book (same definition as over the balance table). */
int chain_book_state_root(const chain_book *b, char out[CHAIN_HASH_HEX]);
void chain_book_free(chain_book *b);

/** @brief Hex → 32 bytes. 0 or AITBC_EINVAL. */
int chain_hex32(const char *hex, unsigned char out[32]);

#endif
