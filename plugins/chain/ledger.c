/* The ledger@1 service: accounts, balances, and every movement of funds as a transaction row.
 * Checks (idempotency, accounts, funds, overflow) all happen before the first write, so a refused
 * call leaves the caller's transaction untouched and usable (the idempotency check is the refused
 * insert of the transaction row itself: see move_in). Every call joins or owns its
 * transaction through aitbc_txn_join/leave (aitbc/txn.h). */
#include <stdio.h>
#include <string.h>
#include "chain.h"

static int account_exists_in(chain_state *cs, aitbc_txn *t, const char *address) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT 1 FROM chain_accounts WHERE address = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, address);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc == AITBC_ROW ? 1 : rc == AITBC_DONE ? 0 : rc;
}

/* One row of sql (?1 address, ?2 asset; columns available, locked, NULL when there is no
 * balance row): the step's AITBC_ROW/AITBC_DONE or an error, *out (zero without a row) and
 * *stored (whether a balance row exists). */
static int balance_row(chain_state *cs, aitbc_txn *t, const char *sql, const char *address,
                       const char *asset, chain_bal *out, int *stored) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, sql);
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, address);
    api->bind_text(s, 2, asset);
    int rc = api->step(s);
    *stored = rc == AITBC_ROW && !api->col_is_null(s, 0);
    out->available = *stored ? api->col_int64(s, 0) : 0;
    out->locked = *stored ? api->col_int64(s, 1) : 0;
    api->stmt_done(s);
    return rc;
}

static int read_balance(chain_state *cs, aitbc_txn *t, const char *address, const char *asset,
                        chain_bal *out) {
    int stored;
    int rc = balance_row(cs, t,
                         "SELECT available, locked FROM chain_balances "
                         "WHERE address = ?1 AND asset = ?2",
                         address, asset, out, &stored);
    return rc < 0 ? rc : 0;
}

/* A party of a movement: its account must exist, and its balance is read in the same lookup
 * (one statement instead of two on every movement). 0 with *out and *stored (whether the balance
 * row exists), AITBC_ENOTFOUND, or an error. */
static int read_party(chain_state *cs, aitbc_txn *t, const char *address, const char *asset,
                      chain_bal *out, int *stored) {
    int rc = balance_row(cs, t,
                         "SELECT b.available, b.locked FROM chain_accounts a "
                         "LEFT JOIN chain_balances b ON b.address = a.address "
                         "AND b.asset = ?2 WHERE a.address = ?1",
                         address, asset, out, stored);
    return rc == AITBC_ROW ? 0 : rc == AITBC_DONE ? AITBC_ENOTFOUND : rc < 0 ? rc : AITBC_EIO;
}

/* A balance is about to be written (it may yet roll back, alone or with its whole batch): note
 * when its transaction will have ended, then move the version. That order matters to version(): a
 * reader that sees the new version also sees the new settle point. Writers take turns, so only one
 * thread stores here at a time. Without the host's write_turns nothing ever settles (no cache). */
static void balance_write_begins(chain_state *cs) {
    const aitbc_host_api *api = cs->api;
    uint64_t at = AITBC_HOST_HAS(api, write_turns) ? api->write_turns() + 1 : UINT64_MAX;
    atomic_store(&cs->bal_settles_at, at);
    atomic_fetch_add(&cs->bal_version, 1);
}

/* stored says whether the row exists (read_party): an existing row is updated by its key, one
 * lookup where an upsert first tries the insert and then updates. */
static int write_balance(chain_state *cs, aitbc_txn *t, const char *address, const char *asset,
                         const chain_bal *b, int stored) {
    const aitbc_host_api *api = cs->api;
    balance_write_begins(cs);
    aitbc_stmt *s = api->stmt(t, stored ? "UPDATE chain_balances SET available = ?3, locked = ?4 "
                                          "WHERE address = ?1 AND asset = ?2"
                                        : "INSERT INTO chain_balances(address, asset, "
                                          "available, locked) VALUES(?1, ?2, ?3, ?4)");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, address);
    api->bind_text(s, 2, asset);
    api->bind_int64(s, 3, b->available);
    api->bind_int64(s, 4, b->locked);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

/* The existing transaction for (type, ref): 1 and its hash, 0 if none, or an error. */
static int find_ref(chain_state *cs, aitbc_txn *t, const char *type, const char *ref,
                    char hash_out[AITBC_TX_HASH_MAX]) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT hash FROM chain_txs WHERE type = ?1 AND ref = ?2");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, type);
    api->bind_text(s, 2, ref);
    int rc = api->step(s);
    if (rc == AITBC_ROW && hash_out) {
        const char *h = api->col_text(s, 0);
        snprintf(hash_out, AITBC_TX_HASH_MAX, "%s", h ? h : "");
    }
    api->stmt_done(s);
    return rc == AITBC_ROW ? 1 : rc == AITBC_DONE ? 0 : rc;
}

static int read_supply(chain_state *cs, aitbc_txn *t, const char *asset, int64_t *minted) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT minted FROM chain_supply WHERE asset = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, asset);
    int rc = api->step(s);
    *minted = rc == AITBC_ROW ? api->col_int64(s, 0) : 0;
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

static int write_supply(chain_state *cs, aitbc_txn *t, const char *asset, int64_t minted) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "INSERT INTO chain_supply(asset, minted) VALUES(?1, ?2) "
                                 "ON CONFLICT(asset) DO UPDATE SET minted = excluded.minted");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, asset);
    api->bind_int64(s, 2, minted);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

static int insert_tx(chain_state *cs, aitbc_txn *t, chain_tx *tx, char hash[CHAIN_HASH_HEX]) {
    const aitbc_host_api *api = cs->api;
    /* Writers are serialised by the write transaction, so MAX+1 is a gap-free global sequence
     * that also orders transactions by commit. */
    aitbc_stmt *s = api->stmt(t, "SELECT COALESCE(MAX(seq), 0) FROM chain_txs");
    if (!s) return AITBC_EIO;
    int rc = api->step(s);
    tx->seq = rc == AITBC_ROW ? api->col_int64(s, 0) + 1 : 0;
    api->stmt_done(s);
    if (rc != AITBC_ROW) return rc < 0 ? rc : AITBC_EIO;
    tx->ts_ms = api->now_ms();
    if ((rc = chain_tx_hash(tx, hash)) != 0) return rc;
    s = api->stmt(t, "INSERT INTO chain_txs(seq, hash, op, type, from_addr, to_addr, asset, "
                     "amount, fee, ref, ts_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
    if (!s) return AITBC_EIO;
    api->bind_int64(s, 1, tx->seq);
    api->bind_text(s, 2, hash);
    api->bind_text(s, 3, tx->op);
    api->bind_text(s, 4, tx->type);
    if (tx->from[0])
        api->bind_text(s, 5, tx->from);
    else
        api->bind_null(s, 5);
    if (tx->to[0])
        api->bind_text(s, 6, tx->to);
    else
        api->bind_null(s, 6);
    api->bind_text(s, 7, tx->asset);
    api->bind_int64(s, 8, tx->amount);
    api->bind_int64(s, 9, tx->fee);
    api->bind_text(s, 10, tx->ref);
    api->bind_int64(s, 11, tx->ts_ms);
    rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

/* Validate everything that needs no database. */
static int check_args(chain_state *cs, const char *op, const char *type, const char *from,
                      const char *to, const char *asset, int64_t amount, const char *ref) {
    if (!chain_type_allowed(op, type) || !asset || !chain_find_asset(cs, asset) || amount <= 0)
        return AITBC_EINVAL;
    if (!ref || !ref[0] || strlen(ref) >= CHAIN_TXREF_MAX) return AITBC_EINVAL;
    if (strcmp(op, CHAIN_OP_MINT) != 0 && (!from || !aitbc_address_valid(from)))
        return AITBC_EINVAL;
    if ((strcmp(op, CHAIN_OP_MINT) == 0 || strcmp(op, CHAIN_OP_TRANSFER) == 0 ||
         strcmp(op, CHAIN_OP_SETTLE) == 0) &&
        (!to || !aitbc_address_valid(to)))
        return AITBC_EINVAL;
    return 0;
}

/* The checks of a movement that read the database (accounts, funds, supply): 0 with the new
 * balances, or the refusal. */
static int move_check(chain_state *cs, aitbc_txn *t, chain_tx *tx, chain_bal *from,
                      int *from_stored, chain_bal *to, int *to_stored, int64_t *minted) {
    int is_mint = strcmp(tx->op, CHAIN_OP_MINT) == 0;
    int self = !tx->to[0] || strcmp(tx->from, tx->to) == 0;
    int rc;
    /* Every named account is a party whose balance moves: from (all but a mint) and to (unless
     * it is from, or absent as in a lock). */
    if (!is_mint && (rc = read_party(cs, t, tx->from, tx->asset, from, from_stored)) != 0)
        return rc;
    if (!self && (rc = read_party(cs, t, tx->to, tx->asset, to, to_stored)) != 0) return rc;
    if (is_mint) {
        /* Total supply bounds every balance, so checking it here rules out overflow anywhere. */
        if ((rc = read_supply(cs, t, tx->asset, minted)) != 0) return rc;
        if (aitbc_add_i64(*minted, tx->amount, minted) != 0) return AITBC_EOVERFLOW;
    }
    return chain_op_apply(tx->op, tx->amount, is_mint ? NULL : from, self ? from : to);
}

/* One movement inside t. *dirty is set once anything was written. The transaction row goes in
 * first and is itself the idempotency check (UNIQUE(type, ref)): a refused insert writes nothing,
 * so every check still comes before the first write. The existing row is looked up only when
 * something refused, so that a replay answers EEXIST (and its hash) whatever the balances say
 * now. */
static int move_in(chain_state *cs, aitbc_txn *t, chain_tx *tx, char hash[CHAIN_HASH_HEX],
                   int *dirty) {
    chain_bal from = {0, 0}, to = {0, 0};
    int from_stored = 0, to_stored = 0;
    int64_t minted = 0;
    int rc = move_check(cs, t, tx, &from, &from_stored, &to, &to_stored, &minted);
    if (rc == 0) rc = insert_tx(cs, t, tx, hash);
    if (rc != 0) {
        int found = find_ref(cs, t, tx->type, tx->ref, hash);
        return found > 0 ? AITBC_EEXIST : found < 0 ? found : rc;
    }
    *dirty = 1;
    int is_mint = strcmp(tx->op, CHAIN_OP_MINT) == 0;
    int self = !tx->to[0] || strcmp(tx->from, tx->to) == 0;
    if (!is_mint && (rc = write_balance(cs, t, tx->from, tx->asset, &from, from_stored)) != 0)
        return rc;
    if (!self && (rc = write_balance(cs, t, tx->to, tx->asset, &to, to_stored)) != 0) return rc;
    if (is_mint && (rc = write_supply(cs, t, tx->asset, minted)) != 0) return rc;
    return 0;
}

int chain_move(chain_state *cs, aitbc_txn *txn, const char *op, const char *type, const char *from,
               const char *to, const char *asset, int64_t amount, const char *ref,
               char hash_out[AITBC_TX_HASH_MAX], chain_tx *tx_out) {
    int rc = check_args(cs, op, type, from, to, asset, amount, ref);
    if (rc != 0) return rc;
    chain_tx tx;
    memset(&tx, 0, sizeof tx);
    snprintf(tx.op, sizeof tx.op, "%s", op);
    snprintf(tx.type, sizeof tx.type, "%s", type);
    snprintf(tx.from, sizeof tx.from, "%s", from ? from : "");
    snprintf(tx.to, sizeof tx.to, "%s", to ? to : "");
    snprintf(tx.asset, sizeof tx.asset, "%s", asset);
    snprintf(tx.ref, sizeof tx.ref, "%s", ref);
    tx.amount = amount;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(cs->api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EBUSY;
    char hash[CHAIN_HASH_HEX] = "";
    int dirty = 0;
    rc = move_in(cs, t, &tx, hash, &dirty);
    rc = aitbc_txn_leave(cs->api, &use, rc, dirty);
    if (hash_out && (rc == 0 || rc == AITBC_EEXIST))
        snprintf(hash_out, AITBC_TX_HASH_MAX, "%s", hash);
    if (tx_out && rc == 0) *tx_out = tx;
    return rc;
}

static int move(chain_state *cs, aitbc_txn *txn, const char *op, const char *type, const char *from,
                const char *to, const char *asset, int64_t amount, const char *ref,
                char hash_out[AITBC_TX_HASH_MAX]) {
    return chain_move(cs, txn, op, type, from, to, asset, amount, ref, hash_out, NULL);
}

static int l_mint(void *self, aitbc_txn *txn, const char *to, const char *asset, int64_t amount,
                  const char *ref, char hash_out[AITBC_TX_HASH_MAX]) {
    return move(self, txn, CHAIN_OP_MINT, AITBC_TX_MINT, NULL, to, asset, amount, ref, hash_out);
}

static int l_transfer(void *self, aitbc_txn *txn, const char *type, const char *from,
                      const char *to, const char *asset, int64_t amount, const char *ref,
                      char hash_out[AITBC_TX_HASH_MAX]) {
    return move(self, txn, CHAIN_OP_TRANSFER, type ? type : AITBC_TX_TRANSFER, from, to, asset,
                amount, ref, hash_out);
}

static int l_lock(void *self, aitbc_txn *txn, const char *owner, const char *asset, int64_t amount,
                  const char *ref, char hash_out[AITBC_TX_HASH_MAX]) {
    return move(self, txn, CHAIN_OP_LOCK, AITBC_TX_ESCROW_LOCK, owner, NULL, asset, amount, ref,
                hash_out);
}

static int l_unlock(void *self, aitbc_txn *txn, const char *owner, const char *asset,
                    int64_t amount, const char *ref, char hash_out[AITBC_TX_HASH_MAX]) {
    return move(self, txn, CHAIN_OP_UNLOCK, AITBC_TX_ESCROW_REFUND, owner, owner, asset, amount,
                ref, hash_out);
}

static int l_settle(void *self, aitbc_txn *txn, const char *type, const char *from, const char *to,
                    const char *asset, int64_t amount, const char *ref,
                    char hash_out[AITBC_TX_HASH_MAX]) {
    return move(self, txn, CHAIN_OP_SETTLE, type ? type : AITBC_TX_ESCROW_RELEASE, from, to, asset,
                amount, ref, hash_out);
}

static int insert_account(chain_state *cs, aitbc_txn *t, const char *address, const char *pk_hex,
                          const char *sealed, int ignore) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, ignore ? "INSERT INTO chain_accounts(address, pubkey, sealed_sk, "
                                          "created_ms) VALUES(?1, ?2, ?3, ?4) "
                                          "ON CONFLICT(address) DO NOTHING"
                                        : "INSERT INTO chain_accounts(address, pubkey, "
                                          "sealed_sk, created_ms) VALUES(?1, ?2, ?3, ?4)");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, address);
    if (pk_hex)
        api->bind_text(s, 2, pk_hex);
    else
        api->bind_null(s, 2);
    if (sealed)
        api->bind_text(s, 3, sealed);
    else
        api->bind_null(s, 3);
    api->bind_int64(s, 4, api->now_ms());
    int rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

static int l_create_account(void *self, aitbc_txn *txn, char address_out[AITBC_ADDRESS_MAX]) {
    chain_state *cs = self;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    char pk_hex[65], sealed[CHAIN_SEALED_SK_HEX], address[AITBC_ADDRESS_MAX];
    crypto_sign_keypair(pk, sk);
    aitbc_hex_encode(pk, sizeof pk, pk_hex);
    aitbc_address_from_pubkey(pk, address);
    chain_custody_seal(cs, sk, sealed);
    sodium_memzero(sk, sizeof sk);
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(cs->api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EBUSY;
    int rc = insert_account(cs, t, address, pk_hex, sealed, 0);
    rc = aitbc_txn_leave(cs->api, &use, rc, 1);
    if (rc == 0) snprintf(address_out, AITBC_ADDRESS_MAX, "%s", address);
    return rc;
}

static int l_ensure_account(void *self, aitbc_txn *txn, const char *address) {
    chain_state *cs = self;
    if (!address || !aitbc_address_valid(address)) return AITBC_EINVAL;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(cs->api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EBUSY;
    int rc = insert_account(cs, t, address, NULL, NULL, 1);
    return aitbc_txn_leave(cs->api, &use, rc, 1);
}

static int l_account_exists(void *self, aitbc_txn *txn, const char *address) {
    chain_state *cs = self;
    if (!address || !aitbc_address_valid(address)) return 0;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(cs->api, txn, AITBC_TXN_READ, &use);
    if (!t) return 0;
    int rc = account_exists_in(cs, t, address);
    aitbc_txn_leave(cs->api, &use, 0, 0);
    return rc > 0;
}

static int l_asset_decimals(void *self, const char *asset) {
    const chain_asset *a = asset ? chain_find_asset(self, asset) : NULL;
    return a ? a->decimals : AITBC_ENOTFOUND;
}

static int l_balance(void *self, aitbc_txn *txn, const char *address, const char *asset,
                     int64_t *available, int64_t *locked) {
    chain_state *cs = self;
    if (!asset || !chain_find_asset(cs, asset)) return AITBC_ENOTFOUND;
    if (!address || !aitbc_address_valid(address)) return AITBC_EINVAL;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(cs->api, txn, AITBC_TXN_READ, &use);
    if (!t) return AITBC_EBUSY;
    chain_bal b = {0, 0};
    int rc = read_balance(cs, t, address, asset, &b);
    rc = aitbc_txn_leave(cs->api, &use, rc, 0);
    if (rc == 0) {
        if (available) *available = b.available;
        if (locked) *locked = b.locked;
    }
    return rc;
}

/* Read the version first, then the settle point: see balance_write_begins. */
static uint64_t l_version(void *self, int *settled) {
    chain_state *cs = self;
    uint64_t v = atomic_load(&cs->bal_version);
    if (settled) {
        uint64_t at = atomic_load(&cs->bal_settles_at);
        const aitbc_host_api *api = cs->api;
        *settled = AITBC_HOST_HAS(api, write_turns) && api->write_turns() >= at;
    }
    return v;
}

static int l_chain_info(void *self, int64_t *height, int64_t *tx_count) {
    chain_state *cs = self;
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    int rc = AITBC_EIO;
    aitbc_stmt *s = api->stmt(t, "SELECT (SELECT COALESCE(MAX(height), -1) FROM chain_blocks), "
                                 "(SELECT COALESCE(MAX(seq), 0) FROM chain_txs)");
    if (s && api->step(s) == AITBC_ROW) {
        if (height) *height = api->col_int64(s, 0);
        if (tx_count) *tx_count = api->col_int64(s, 1);
        rc = 0;
    }
    if (s) api->stmt_done(s);
    int crc = api->txn_commit(t);
    return rc ? rc : crc;
}

void chain_ledger_init(chain_state *cs) {
    aitbc_ledger_v1 *l = &cs->ledger;
    memset(l, 0, sizeof *l);
    l->size = (uint32_t)sizeof *l;
    l->self = cs;
    l->create_account = l_create_account;
    l->ensure_account = l_ensure_account;
    l->account_exists = l_account_exists;
    l->asset_decimals = l_asset_decimals;
    l->balance = l_balance;
    l->mint = l_mint;
    l->transfer = l_transfer;
    l->lock = l_lock;
    l->unlock = l_unlock;
    l->settle = l_settle;
    l->chain_info = l_chain_info;
    l->for_module = chain_ledger_for_module;
    l->version = l_version;
}
