/* The block producer: seals committed pending transactions into signed proof-of-authority blocks
 * (Merkle root of their hashes, state root of all balances), makes the genesis block, and
 * publishes `blocks` / `transactions` events after each commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chain.h"
#include "txjson.h"

static const char k_zero_hash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

int chain_state_root_db(chain_state *cs, aitbc_txn *t, char out[65]) {
    const aitbc_host_api *api = cs->api;
    /* A full ordered pass over the balance table: O(accounts × assets) per block. The root hashes
     * rows in bytewise order (--verify-chain sorts with strcmp): SQLite compares text bytewise,
     * PostgreSQL by the database's collation unless told "C" (a clause SQLite lacks). */
    aitbc_stmt *s =
        api->stmt(t, cs->pg ? "SELECT address, asset, available, locked FROM chain_balances WHERE "
                              "available != 0 OR locked != 0 ORDER BY address COLLATE \"C\", "
                              "asset COLLATE \"C\""
                            : "SELECT address, asset, available, locked FROM chain_balances "
                              "WHERE available != 0 OR locked != 0 ORDER BY address, asset");
    if (!s) return AITBC_EIO;
    chain_sr sr;
    chain_sr_init(&sr);
    int rc;
    while ((rc = api->step(s)) == AITBC_ROW) {
        const char *addr = api->col_text(s, 0), *asset = api->col_text(s, 1);
        chain_sr_add(&sr, addr ? addr : "", asset ? asset : "", api->col_int64(s, 2),
                     api->col_int64(s, 3));
    }
    api->stmt_done(s);
    chain_sr_final(&sr, out);
    return rc < 0 ? rc : 0;
}

/* Latest block header fields needed to chain the next one. 1 if there is one, 0 if none. */
static int last_block(chain_state *cs, aitbc_txn *t, chain_block *last) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT height, hash, ts_ms, first_seq, tx_count "
                                 "FROM chain_blocks ORDER BY height DESC LIMIT 1");
    if (!s) return AITBC_EIO;
    int rc = api->step(s);
    if (rc == AITBC_ROW) {
        const char *h = api->col_text(s, 1);
        last->height = api->col_int64(s, 0);
        snprintf(last->hash, sizeof last->hash, "%s", h ? h : "");
        last->ts_ms = api->col_int64(s, 2);
        last->first_seq = api->col_int64(s, 3);
        last->tx_count = api->col_int64(s, 4);
    }
    api->stmt_done(s);
    return rc == AITBC_ROW ? 1 : rc == AITBC_DONE ? 0 : rc;
}

typedef struct pending {
    int64_t *seq;
    unsigned char (*leaf)[32];
    size_t n, cap;
} pending;

/* Pending = every transaction after the last block's range (from_seq on). */
static int pending_load(chain_state *cs, aitbc_txn *t, int64_t from_seq, pending *p) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT seq, hash FROM chain_txs WHERE seq >= ?1 ORDER BY seq");
    if (!s) return AITBC_EIO;
    api->bind_int64(s, 1, from_seq);
    int rc;
    while ((rc = api->step(s)) == AITBC_ROW) {
        if (p->n == p->cap) {
            size_t ncap = p->cap ? p->cap * 2 : 256;
            int64_t *ns = realloc(p->seq, ncap * sizeof *ns);
            if (ns) p->seq = ns;
            unsigned char(*nl)[32] = realloc(p->leaf, ncap * sizeof *nl);
            if (nl) p->leaf = nl;
            if (!ns || !nl) {
                rc = AITBC_ENOMEM;
                break;
            }
            p->cap = ncap;
        }
        p->seq[p->n] = api->col_int64(s, 0);
        if (chain_hex32(api->col_text(s, 1), p->leaf[p->n]) != 0) {
            rc = AITBC_EIO; /* a stored hash that is not 64 hex: refuse to seal over it */
            break;
        }
        p->n++;
    }
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

static int insert_block(chain_state *cs, aitbc_txn *t, const chain_block *b) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "INSERT INTO chain_blocks(height, hash, parent_hash, ts_ms, "
                                 "merkle_root, state_root, proposer, proposer_key, signature, "
                                 "tx_count, first_seq) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
    if (!s) return AITBC_EIO;
    api->bind_int64(s, 1, b->height);
    api->bind_text(s, 2, b->hash);
    api->bind_text(s, 3, b->parent_hash);
    api->bind_int64(s, 4, b->ts_ms);
    api->bind_text(s, 5, b->merkle_root);
    api->bind_text(s, 6, b->state_root);
    api->bind_text(s, 7, b->proposer);
    api->bind_text(s, 8, cs->pk_hex);
    api->bind_text(s, 9, b->signature);
    api->bind_int64(s, 10, b->tx_count);
    api->bind_int64(s, 11, b->first_seq);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

int chain_seal_in(chain_state *cs, aitbc_txn *t, int64_t ts_ms, int force, chain_block *blk,
                  int *sealed) {
    chain_block last;
    *sealed = 0;
    int have = last_block(cs, t, &last);
    if (have < 0) return have;
    pending p = {0};
    int64_t from_seq = have ? last.first_seq + last.tx_count : 1; /* seq counts from 1 */
    int rc = pending_load(cs, t, from_seq, &p);
    if (rc != 0) goto out;
    if (p.n == 0 && have && !force) {
        /* No empty blocks, except a heartbeat once max_empty_interval_s has passed. */
        if (cs->max_empty_interval_s <= 0 || ts_ms - last.ts_ms < cs->max_empty_interval_s * 1000)
            goto out;
    }
    memset(blk, 0, sizeof *blk);
    blk->height = have ? last.height + 1 : 0;
    snprintf(blk->parent_hash, sizeof blk->parent_hash, "%s", have ? last.hash : k_zero_hash);
    blk->ts_ms = have && ts_ms < last.ts_ms ? last.ts_ms : ts_ms; /* never before the parent */
    blk->tx_count = (int64_t)p.n;
    blk->first_seq = from_seq;
    if (p.n > 0 && p.seq[0] != from_seq) {
        rc = AITBC_EIO; /* a gap after the last block: refuse to seal over it */
        goto out;
    }
    snprintf(blk->proposer, sizeof blk->proposer, "%s", cs->address);
    chain_merkle_root(p.leaf, p.n, blk->merkle_root);
    if ((rc = chain_state_root_db(cs, t, blk->state_root)) != 0) goto out;
    if ((rc = chain_block_hash(blk, blk->hash)) != 0) goto out;
    chain_block_sign(blk, cs->sk);
    if ((rc = insert_block(cs, t, blk)) != 0) goto out;
    *sealed = 1;
out:
    free(p.seq);
    free(p.leaf);
    return rc;
}

static int decimals_cb(void *user, const char *asset) {
    const chain_asset *a = chain_find_asset(user, asset);
    return a ? a->decimals : -1;
}

/* After commit: the block, then each of its transactions, in order. */
static void publish(chain_state *cs, const chain_block *blk) {
    const aitbc_host_api *api = cs->api;
    /* Built only to be published: handed over, not copied (one per transaction adds up). */
    cJSON *bj = chain_block_to_json(blk);
    if (bj) aitbc_publish_take(api, cs->ctx, AITBC_TOPIC_BLOCKS, bj);
    if (blk->tx_count == 0) return;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return;
    aitbc_stmt *s = api->stmt(t, "SELECT " CHAIN_TX_COLS " FROM " CHAIN_TX_FROM
                                 "WHERE seq >= ?1 AND seq < ?2 ORDER BY seq");
    if (s) {
        api->bind_int64(s, 1, blk->first_seq);
        api->bind_int64(s, 2, blk->first_seq + blk->tx_count);
        while (api->step(s) == AITBC_ROW) {
            cJSON *tj = chain_tx_json(api, s, decimals_cb, cs);
            if (tj) aitbc_publish_take(api, cs->ctx, AITBC_TOPIC_TRANSACTIONS, tj);
        }
        api->stmt_done(s);
    }
    api->txn_commit(t);
}

int chain_seal(chain_state *cs, int force, int64_t *height_out) {
    const aitbc_host_api *api = cs->api;
    chain_block blk;
    int sealed = 0;
    if (height_out) *height_out = -1;
    pthread_mutex_lock(&cs->seal_mu);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) {
        pthread_mutex_unlock(&cs->seal_mu);
        return AITBC_EBUSY;
    }
    /* Several hosts on one database: only the producer seals, and the check is made inside the
     * transaction that writes the block (fenced: see aitbc_leader). The tip is read in this same
     * transaction under the database-wide write lock and heights are the blocks' primary key, so
     * even two sealers could not fork the chain: they would take turns, each on the other's tip. */
    if (!aitbc_leader(api, cs->ctx, CHAIN_PRODUCER_ROLE)) {
        api->txn_commit(t);
        pthread_mutex_unlock(&cs->seal_mu);
        return 0;
    }
    int rc = chain_seal_in(cs, t, api->now_ms(), force, &blk, &sealed);
    if (rc == 0)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    pthread_mutex_unlock(&cs->seal_mu);
    if (rc != 0 || !sealed) return rc;
    if (height_out) *height_out = blk.height;
    publish(cs, &blk);
    return 0;
}

static void seal_logged(chain_state *cs) {
    int rc = chain_seal(cs, 0, NULL);
    if (rc != 0)
        cs->api->log(cs->ctx, rc == AITBC_EBUSY ? AITBC_LOG_DEBUG : AITBC_LOG_ERROR,
                     "sealing a block failed (%d); retrying next interval", rc);
}

static void seal_on_writer(void *arg) {
    seal_logged(arg);
}

static void seal_done(void *arg, int rc) {
    chain_state *cs = arg;
    if (rc == AITBC_EIO)
        cs->api->log(cs->ctx, AITBC_LOG_ERROR,
                     "the write batch holding a block did not commit; sealing again next interval");
    atomic_store(&cs->seal_queued, 0);
}

/* The seal runs on the host's writer, in a batch with the requests' writes: it never waits for
 * the write turn behind a batch (nor holds one up), and its events leave after that commit.
 * Without a writer (an older host, unit tests) it takes a write transaction of its own. A seal
 * still queued when the plugin stops runs before the host destroys it: the host stops its writer
 * (which finishes what is queued) after stopping the plugins and before unloading them. */
void chain_seal_tick(void *arg) {
    chain_state *cs = arg;
    const aitbc_host_api *api = cs->api;
    if (!aitbc_leader(api, cs->ctx, CHAIN_PRODUCER_ROLE)) return; /* another host produces */
    if (AITBC_HOST_HAS(api, txn_submit)) {
        if (atomic_exchange(&cs->seal_queued, 1)) return; /* the previous one has not run yet */
        if (api->txn_submit(seal_on_writer, cs, seal_done) == 0) return;
        atomic_store(&cs->seal_queued, 0);
    }
    seal_logged(cs);
}

/* Genesis allocations: MINTs recorded in block 0, refs "genesis:<i>". */
static int genesis_allocations(chain_state *cs, aitbc_txn *t, const cJSON *g) {
    const cJSON *accts = g ? cJSON_GetObjectItemCaseSensitive(g, "accounts") : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, accts) {
        int rc = cs->ledger.ensure_account(cs, t, cJSON_GetStringValue(it));
        if (rc != 0) return rc;
    }
    const cJSON *allocs = g ? cJSON_GetObjectItemCaseSensitive(g, "allocations") : NULL;
    int i = 0;
    cJSON_ArrayForEach(it, allocs) {
        const char *addr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "address"));
        const char *asset = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "asset"));
        const char *amt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "amount"));
        const chain_asset *a = asset ? chain_find_asset(cs, asset) : NULL;
        int64_t units;
        char ref[32];
        if (!addr || !a || !amt || aitbc_money_parse(amt, a->decimals, &units) != 0)
            return AITBC_EINVAL;
        snprintf(ref, sizeof ref, "genesis:%d", i++);
        int rc = cs->ledger.ensure_account(cs, t, addr);
        if (rc == 0) rc = cs->ledger.mint(cs, t, addr, asset, units, ref, NULL);
        if (rc != 0) return rc;
    }
    return 0;
}

int chain_genesis(chain_state *cs, const cJSON *genesis_cfg) {
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    chain_block last, blk;
    int sealed = 0;
    int rc = last_block(cs, t, &last);
    if (rc == 0) {
        rc = genesis_allocations(cs, t, genesis_cfg);
        if (rc == 0)
            rc = chain_seal_in(cs, t, cs->genesis_ms ? cs->genesis_ms : api->now_ms(), 1, &blk,
                               &sealed);
        if (rc == 0)
            api->log(cs->ctx, AITBC_LOG_INFO, "genesis block %s (%lld allocations)", blk.hash,
                     (long long)blk.tx_count);
    } else if (rc == 1) {
        rc = 0;
    }
    if (rc == 0) return api->txn_commit(t);
    api->txn_rollback(t);
    return rc;
}
