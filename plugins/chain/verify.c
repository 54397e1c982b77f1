/* `aitbc-host --verify-chain`: replays the chain from genesis and checks every link — parent
 * hashes, header hashes, proposer signatures, transaction hashes, Merkle roots, state roots —
 * then compares the replayed balances and supply with the stored tables. Reports the first
 * inconsistency, naming the block, transaction or balance row. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "chain.h"

typedef struct vctx {
    chain_state *cs;
    const aitbc_host_api *api;
    aitbc_txn *t;
    chain_book book;
    int64_t minted[CHAIN_MAX_ASSETS];
    int64_t last_seq;
    int64_t next_seq; /* where the next block's range must start */
    int64_t ntx;
    int64_t nblocks;
    char *msg;
    size_t msglen;
} vctx;

__attribute__((format(printf, 2, 3))) static int fail(vctx *v, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, v->msglen, fmt, ap);
    va_end(ap);
    return 1;
}

static void copy_col(vctx *v, aitbc_stmt *s, int col, char *dst, size_t cap) {
    const char *text = v->api->col_text(s, col);
    snprintf(dst, cap, "%s", text ? text : "");
}

static int authority_ok(vctx *v, const unsigned char pk[32]) {
    if (sodium_memcmp(pk, v->cs->pk, 32) == 0) return 1;
    for (size_t i = 0; i < v->cs->nauthorities; i++)
        if (sodium_memcmp(pk, v->cs->authorities[i], 32) == 0) return 1;
    return 0;
}

/* Read the tx row (columns as in TX_SQL), check its hash and sequence, and replay it. */
#define TX_COLS "seq, hash, op, type, from_addr, to_addr, asset, amount, fee, ref, ts_ms"
static int check_tx(vctx *v, aitbc_stmt *s, const char *where, unsigned char leaf[32]) {
    chain_tx tx;
    char stored[CHAIN_HASH_HEX + 8], again[CHAIN_HASH_HEX];
    memset(&tx, 0, sizeof tx);
    tx.seq = v->api->col_int64(s, 0);
    copy_col(v, s, 1, stored, sizeof stored);
    copy_col(v, s, 2, tx.op, sizeof tx.op);
    copy_col(v, s, 3, tx.type, sizeof tx.type);
    copy_col(v, s, 4, tx.from, sizeof tx.from);
    copy_col(v, s, 5, tx.to, sizeof tx.to);
    copy_col(v, s, 6, tx.asset, sizeof tx.asset);
    tx.amount = v->api->col_int64(s, 7);
    tx.fee = v->api->col_int64(s, 8);
    copy_col(v, s, 9, tx.ref, sizeof tx.ref);
    tx.ts_ms = v->api->col_int64(s, 10);
    if (tx.seq <= v->last_seq)
        return fail(v, "transaction %s (%s): sequence %lld out of order", stored, where,
                    (long long)tx.seq);
    v->last_seq = tx.seq;
    if (chain_tx_hash(&tx, again) != 0 || strcmp(again, stored) != 0 ||
        chain_hex32(stored, leaf) != 0)
        return fail(v, "transaction %s (%s, seq %lld): hash does not match its contents", stored,
                    where, (long long)tx.seq);
    const chain_asset *a = chain_find_asset(v->cs, tx.asset);
    if (!a || !chain_type_allowed(tx.op, tx.type) || tx.fee < 0)
        return fail(v, "transaction %s (%s): invalid type/op/asset", stored, where);
    int rc = chain_book_apply(&v->book, &tx);
    if (rc != 0)
        return fail(v, "transaction %s (%s): replay refused (%s)", stored, where,
                    rc == AITBC_EFUNDS      ? "overdraft"
                    : rc == AITBC_EOVERFLOW ? "overflow"
                                            : "invalid");
    if (strcmp(tx.op, CHAIN_OP_MINT) == 0) {
        int64_t *m = &v->minted[a - v->cs->assets];
        if (aitbc_add_i64(*m, tx.amount, m) != 0)
            return fail(v, "transaction %s: total supply overflows", stored);
    }
    v->ntx++;
    return 0;
}

static int check_block_txs(vctx *v, const chain_block *b) {
    if (b->first_seq != v->next_seq || b->tx_count < 0)
        return fail(v, "block %lld: its transactions start at seq %lld, expected %lld",
                    (long long)b->height, (long long)b->first_seq, (long long)v->next_seq);
    aitbc_stmt *s = v->api->stmt(v->t, "SELECT " TX_COLS " FROM chain_txs WHERE seq >= ?1 AND "
                                       "seq < ?2 ORDER BY seq");
    if (!s) return fail(v, "cannot read transactions of block %lld", (long long)b->height);
    v->api->bind_int64(s, 1, b->first_seq);
    v->api->bind_int64(s, 2, b->first_seq + b->tx_count);
    size_t cap = b->tx_count > 0 && b->tx_count < (1 << 24) ? (size_t)b->tx_count : 1;
    unsigned char(*leaves)[32] = malloc(cap * sizeof *leaves);
    int64_t n = 0;
    int bad = leaves ? 0 : fail(v, "out of memory");
    char where[48];
    snprintf(where, sizeof where, "block %lld", (long long)b->height);
    while (!bad && v->api->step(s) == AITBC_ROW) {
        if (v->api->col_int64(s, 0) != b->first_seq + n)
            bad = fail(v, "block %lld: transaction index %lld missing", (long long)b->height,
                       (long long)n);
        else if ((size_t)n >= cap)
            bad = fail(v, "block %lld: more transactions than its tx_count %lld",
                       (long long)b->height, (long long)b->tx_count);
        else
            bad = check_tx(v, s, where, leaves[n]);
        n++;
    }
    v->api->stmt_done(s);
    if (!bad && n != b->tx_count)
        bad = fail(v, "block %lld: has %lld transactions, header says %lld", (long long)b->height,
                   (long long)n, (long long)b->tx_count);
    v->next_seq = b->first_seq + b->tx_count;
    char root[CHAIN_HASH_HEX];
    if (!bad) {
        chain_merkle_root(leaves, (size_t)n, root);
        if (strcmp(root, b->merkle_root) != 0)
            bad = fail(v, "block %lld: merkle_root mismatch", (long long)b->height);
    }
    free(leaves);
    return bad;
}

static int check_block(vctx *v, aitbc_stmt *s, chain_block *prev) {
    chain_block b;
    char pk_hex[80], again[CHAIN_HASH_HEX];
    unsigned char pk[32];
    b.height = v->api->col_int64(s, 0);
    copy_col(v, s, 1, b.hash, sizeof b.hash);
    copy_col(v, s, 2, b.parent_hash, sizeof b.parent_hash);
    b.ts_ms = v->api->col_int64(s, 3);
    copy_col(v, s, 4, b.merkle_root, sizeof b.merkle_root);
    copy_col(v, s, 5, b.state_root, sizeof b.state_root);
    copy_col(v, s, 6, b.proposer, sizeof b.proposer);
    copy_col(v, s, 7, b.signature, sizeof b.signature);
    b.tx_count = v->api->col_int64(s, 8);
    copy_col(v, s, 9, pk_hex, sizeof pk_hex);
    b.first_seq = v->api->col_int64(s, 10);
    long long h = (long long)b.height;
    if (b.height != v->nblocks)
        return fail(v, "block %lld: expected height %lld (gap or reorder)", h,
                    (long long)v->nblocks);
    if (strcmp(b.parent_hash, prev->hash) != 0)
        return fail(v, "block %lld: parent_hash does not link to block %lld", h, h - 1);
    if (b.height > 0 && b.ts_ms < prev->ts_ms)
        return fail(v, "block %lld: timestamp before its parent's", h);
    if (chain_block_hash(&b, again) != 0 || strcmp(again, b.hash) != 0)
        return fail(v, "block %lld: hash does not match its header", h);
    char addr[AITBC_ADDRESS_MAX];
    if (chain_hex32(pk_hex, pk) != 0 || !authority_ok(v, pk))
        return fail(v, "block %lld: proposer key is not an authority", h);
    aitbc_address_from_pubkey(pk, addr);
    if (strcmp(addr, b.proposer) != 0)
        return fail(v, "block %lld: proposer address does not match its key", h);
    if (chain_block_verify_sig(&b, pk) != 0) return fail(v, "block %lld: signature invalid", h);
    if (check_block_txs(v, &b)) return 1;
    /* A block without transactions cannot change the state: compare with the parent's root
     * (already verified) instead of a full recompute. */
    char root[CHAIN_HASH_HEX];
    if (b.tx_count == 0 && b.height > 0)
        snprintf(root, sizeof root, "%s", prev->state_root);
    else if (chain_book_state_root(&v->book, root) != 0)
        return fail(v, "out of memory");
    if (strcmp(root, b.state_root) != 0)
        return fail(v, "block %lld: state_root does not match the replayed balances", h);
    *prev = b;
    v->nblocks++;
    return 0;
}

static int check_blocks(vctx *v) {
    chain_block prev;
    memset(&prev, 0, sizeof prev);
    memset(prev.hash, '0', 64);
    aitbc_stmt *s = v->api->stmt(v->t, "SELECT height, hash, parent_hash, ts_ms, merkle_root, "
                                       "state_root, proposer, signature, tx_count, proposer_key, "
                                       "first_seq FROM chain_blocks ORDER BY height");
    if (!s) return fail(v, "cannot read chain_blocks");
    int bad = 0;
    while (!bad && v->api->step(s) == AITBC_ROW)
        bad = check_block(v, s, &prev);
    v->api->stmt_done(s);
    if (!bad && v->nblocks == 0) bad = fail(v, "no genesis block");
    return bad;
}

static int check_pending(vctx *v) {
    aitbc_stmt *s = v->api->stmt(v->t, "SELECT " TX_COLS " FROM chain_txs "
                                       "WHERE seq >= ?1 ORDER BY seq");
    if (!s) return fail(v, "cannot read pending transactions");
    v->api->bind_int64(s, 1, v->next_seq);
    unsigned char leaf[32];
    int bad = 0;
    while (!bad && v->api->step(s) == AITBC_ROW)
        bad = check_tx(v, s, "pending", leaf);
    v->api->stmt_done(s);
    if (bad) return 1;
    s = v->api->stmt(v->t, "SELECT COUNT(*) FROM chain_txs");
    int64_t total = s && v->api->step(s) == AITBC_ROW ? v->api->col_int64(s, 0) : -1;
    if (s) v->api->stmt_done(s);
    if (total != v->ntx)
        return fail(v, "chain_txs: %lld rows, but blocks and pending account for %lld",
                    (long long)total, (long long)v->ntx);
    return 0;
}

static int check_balances(vctx *v) {
    aitbc_stmt *s = v->api->stmt(v->t, "SELECT address, asset, available, locked "
                                       "FROM chain_balances ORDER BY address, asset");
    if (!s) return fail(v, "cannot read chain_balances");
    size_t stored_nonzero = 0;
    int bad = 0;
    while (!bad && v->api->step(s) == AITBC_ROW) {
        char addr[64], asset[32];
        copy_col(v, s, 0, addr, sizeof addr);
        copy_col(v, s, 1, asset, sizeof asset);
        chain_bal got = {v->api->col_int64(s, 2), v->api->col_int64(s, 3)};
        chain_book_entry *e = chain_book_get(&v->book, addr, asset, 0);
        chain_bal want = e ? e->bal : (chain_bal){0, 0};
        if (got.available || got.locked) stored_nonzero++;
        if (got.available != want.available || got.locked != want.locked)
            bad = fail(v,
                       "balance %s %s: stored %lld/%lld (available/locked), replay gives "
                       "%lld/%lld",
                       addr, asset, (long long)got.available, (long long)got.locked,
                       (long long)want.available, (long long)want.locked);
    }
    v->api->stmt_done(s);
    if (bad) return 1;
    size_t replay_nonzero = 0;
    for (size_t i = 0; i < v->book.cap; i++)
        if (v->book.slots[i].used &&
            (v->book.slots[i].bal.available || v->book.slots[i].bal.locked))
            replay_nonzero++;
    if (replay_nonzero != stored_nonzero)
        return fail(v, "chain_balances: %zu non-zero rows, replay gives %zu (a row is missing)",
                    stored_nonzero, replay_nonzero);
    return 0;
}

static int check_supply(vctx *v) {
    for (size_t i = 0; i < v->cs->nassets; i++) {
        const char *asset = v->cs->assets[i].symbol;
        aitbc_stmt *s = v->api->stmt(v->t, "SELECT minted FROM chain_supply WHERE asset = ?1");
        if (!s) return fail(v, "cannot read chain_supply");
        v->api->bind_text(s, 1, asset);
        int64_t stored = v->api->step(s) == AITBC_ROW ? v->api->col_int64(s, 0) : 0;
        v->api->stmt_done(s);
        if (stored != v->minted[i])
            return fail(v, "supply %s: stored %lld, sum of MINTs %lld", asset, (long long)stored,
                        (long long)v->minted[i]);
        int64_t sum = 0;
        for (size_t j = 0; j < v->book.cap; j++) {
            const chain_book_entry *e = &v->book.slots[j];
            if (e->used && strcmp(e->asset, asset) == 0 &&
                (aitbc_add_i64(sum, e->bal.available, &sum) != 0 ||
                 aitbc_add_i64(sum, e->bal.locked, &sum) != 0))
                return fail(v, "supply %s: balances overflow", asset);
        }
        if (sum != v->minted[i])
            return fail(v, "supply %s: balances sum to %lld, MINTs to %lld", asset, (long long)sum,
                        (long long)v->minted[i]);
    }
    return 0;
}

int chain_verify(chain_state *cs, char *msg, size_t msglen) {
    vctx v;
    memset(&v, 0, sizeof v);
    v.cs = cs;
    v.api = cs->api;
    v.msg = msg;
    v.msglen = msglen;
    v.next_seq = 1; /* sequence numbers start at 1 */
    /* One read transaction: a consistent snapshot even if the node is running. */
    v.t = cs->api->txn_begin(AITBC_TXN_READ);
    if (!v.t) {
        snprintf(msg, msglen, "cannot open the database");
        return 1;
    }
    int bad = check_blocks(&v) || check_pending(&v) || check_balances(&v) || check_supply(&v);
    cs->api->txn_commit(v.t);
    chain_book_free(&v.book);
    if (!bad)
        snprintf(msg, msglen, "ok, %lld blocks, %lld transactions", (long long)v.nblocks,
                 (long long)v.ntx);
    return bad;
}

int chain_verify_run(void *self, int argc, char **argv) {
    char msg[512];
    int bad = chain_verify(self, msg, sizeof msg);
    printf("%s%s\n", bad ? "FAIL: " : "", msg);
    fflush(stdout);
    return bad ? 1 : 0;
}
