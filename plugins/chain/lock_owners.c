/* Who owns each lock: ledger@1 views per module (for_module) record, in the same transaction as
 * the move, how much each module holds locked per account and asset. At start the chain refuses
 * to run while a module that is not loaded still holds funds (they would stay frozen with nobody
 * to release them), and `aitbc-host --release-locks <module>` refunds them offline, as
 * ESCROW_REFUND transactions anyone can audit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chain.h"

typedef struct chain_ledger_view {
    aitbc_ledger_v1 table; /* first: the table's self is the view */
    chain_state *cs;
    char module[AITBC_MODULE_MAX];
} chain_ledger_view;

static chain_state *cs_of(void *self) {
    return ((chain_ledger_view *)self)->cs;
}

/* amount > 0 adds to module's lock on (address, asset); < 0 takes away (never below 0). */
static int owned_add(chain_state *cs, aitbc_txn *t, const char *module, const char *address,
                     const char *asset, int64_t amount) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(
        t, amount > 0 ? "INSERT INTO chain_lock_owners(module, address, asset, amount) "
                        "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(module, address, asset) DO UPDATE "
                        "SET amount = chain_lock_owners.amount + excluded.amount"
                      : "UPDATE chain_lock_owners SET amount = CASE WHEN amount + ?4 > 0 "
                        "THEN amount + ?4 ELSE 0 END "
                        "WHERE module = ?1 AND address = ?2 AND asset = ?3");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, module);
    api->bind_text(s, 2, address);
    api->bind_text(s, 3, asset);
    api->bind_int64(s, 4, amount);
    int rc = api->step(s);
    api->stmt_done(s);
    if (rc < 0 || amount > 0) return rc < 0 ? rc : 0;
    s = api->stmt(t, "DELETE FROM chain_lock_owners WHERE amount = 0 AND module = ?1 AND "
                     "address = ?2 AND asset = ?3");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, module);
    api->bind_text(s, 2, address);
    api->bind_text(s, 3, asset);
    rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

/* Refusals leave nothing written (ledger.c checks before writing): only an I/O failure may have
 * written half, and only then does an own transaction roll back. */
static int refused_cleanly(int rc) {
    return rc == AITBC_EFUNDS || rc == AITBC_EEXIST || rc == AITBC_EINVAL ||
           rc == AITBC_ENOTFOUND || rc == AITBC_EOVERFLOW;
}

/* After the base move ran in use's transaction: the ownership change in the same one, then
 * leave it (the caller's stays open; ours commits, or rolls back a half-written failure). */
static int owned_move(chain_ledger_view *v, aitbc_txn_use *use, int rc_move, const char *address,
                      const char *asset, int64_t delta) {
    int rc = rc_move;
    if (rc == 0) rc = owned_add(v->cs, use->txn, v->module, address, asset, delta);
    return aitbc_txn_leave(v->cs->api, use, rc, rc_move == 0 || !refused_cleanly(rc_move));
}

static int v_lock(void *self, aitbc_txn *txn, const char *owner, const char *asset, int64_t amount,
                  const char *ref, char hash_out[AITBC_TX_HASH_MAX]) {
    chain_ledger_view *v = self;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(v->cs->api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EBUSY;
    int rc = v->cs->ledger.lock(v->cs, t, owner, asset, amount, ref, hash_out);
    return owned_move(v, &use, rc, owner, asset, amount);
}

static int v_unlock(void *self, aitbc_txn *txn, const char *owner, const char *asset,
                    int64_t amount, const char *ref, char hash_out[AITBC_TX_HASH_MAX]) {
    chain_ledger_view *v = self;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(v->cs->api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EBUSY;
    int rc = v->cs->ledger.unlock(v->cs, t, owner, asset, amount, ref, hash_out);
    return owned_move(v, &use, rc, owner, asset, -amount);
}

static int v_settle(void *self, aitbc_txn *txn, const char *type, const char *from, const char *to,
                    const char *asset, int64_t amount, const char *ref,
                    char hash_out[AITBC_TX_HASH_MAX]) {
    chain_ledger_view *v = self;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(v->cs->api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EBUSY;
    int rc = v->cs->ledger.settle(v->cs, t, type, from, to, asset, amount, ref, hash_out);
    return owned_move(v, &use, rc, from, asset, -amount);
}

/* The calls that touch no lock pass straight through. */
static int v_create_account(void *self, aitbc_txn *txn, char address_out[AITBC_ADDRESS_MAX]) {
    return cs_of(self)->ledger.create_account(cs_of(self), txn, address_out);
}
static int v_ensure_account(void *self, aitbc_txn *txn, const char *address) {
    return cs_of(self)->ledger.ensure_account(cs_of(self), txn, address);
}
static int v_account_exists(void *self, aitbc_txn *txn, const char *address) {
    return cs_of(self)->ledger.account_exists(cs_of(self), txn, address);
}
static int v_asset_decimals(void *self, const char *asset) {
    return cs_of(self)->ledger.asset_decimals(cs_of(self), asset);
}
static int v_balance(void *self, aitbc_txn *txn, const char *address, const char *asset,
                     int64_t *available, int64_t *locked) {
    return cs_of(self)->ledger.balance(cs_of(self), txn, address, asset, available, locked);
}
static int v_mint(void *self, aitbc_txn *txn, const char *to, const char *asset, int64_t amount,
                  const char *ref, char hash_out[AITBC_TX_HASH_MAX]) {
    return cs_of(self)->ledger.mint(cs_of(self), txn, to, asset, amount, ref, hash_out);
}
static int v_transfer(void *self, aitbc_txn *txn, const char *type, const char *from,
                      const char *to, const char *asset, int64_t amount, const char *ref,
                      char hash_out[AITBC_TX_HASH_MAX]) {
    return cs_of(self)->ledger.transfer(cs_of(self), txn, type, from, to, asset, amount, ref,
                                        hash_out);
}
static int v_chain_info(void *self, int64_t *height, int64_t *tx_count) {
    return cs_of(self)->ledger.chain_info(cs_of(self), height, tx_count);
}
static uint64_t v_version(void *self, int *settled) {
    return cs_of(self)->ledger.version(cs_of(self), settled);
}

const aitbc_ledger_v1 *chain_ledger_for_module(void *self, const char *module) {
    chain_state *cs = self;
    if (!module || !module[0] || strlen(module) >= AITBC_MODULE_MAX) return NULL;
    pthread_mutex_lock(&cs->views_mu);
    chain_ledger_view *found = NULL;
    for (size_t i = 0; i < cs->nviews && !found; i++)
        if (strcmp(((chain_ledger_view *)cs->views[i])->module, module) == 0) found = cs->views[i];
    if (!found && cs->nviews < CHAIN_VIEWS_MAX && (found = calloc(1, sizeof *found))) {
        found->cs = cs;
        snprintf(found->module, sizeof found->module, "%s", module);
        aitbc_ledger_v1 *l = &found->table;
        *l = cs->ledger;
        l->self = found;
        l->create_account = v_create_account;
        l->ensure_account = v_ensure_account;
        l->account_exists = v_account_exists;
        l->asset_decimals = v_asset_decimals;
        l->balance = v_balance;
        l->mint = v_mint;
        l->transfer = v_transfer;
        l->lock = v_lock;
        l->unlock = v_unlock;
        l->settle = v_settle;
        l->chain_info = v_chain_info;
        l->version = v_version;
        l->for_module = NULL; /* a view is already someone's */
        cs->views[cs->nviews++] = found;
    }
    pthread_mutex_unlock(&cs->views_mu);
    return found ? &found->table : NULL;
}

void chain_ledger_views_free(chain_state *cs) {
    for (size_t i = 0; i < cs->nviews; i++)
        free(cs->views[i]);
    cs->nviews = 0;
}

static int module_loaded(const chain_state *cs, const char *module) {
    for (size_t i = 0; i < cs->api->plugin_count(); i++) {
        const char *name = NULL, *version = NULL;
        if (cs->api->plugin_info(i, &name, &version) == 0 && name && strcmp(name, module) == 0)
            return 1;
    }
    return 0;
}

/* "12.5 AIT" into out. */
static void format_amount(chain_state *cs, const char *asset, int64_t units, char *out,
                          size_t cap) {
    const chain_asset *a = chain_find_asset(cs, asset);
    char money[AITBC_MONEY_MAX];
    if (!a || aitbc_money_format(units, a->decimals, money) < 0)
        snprintf(money, sizeof money, "%lld base units of", (long long)units);
    snprintf(out, cap, "%s %s", money, asset);
}

int chain_lock_owners_check(chain_state *cs) {
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s =
        api->stmt(t, "SELECT module, asset, COUNT(*), CAST(SUM(amount) AS INTEGER) FROM "
                     "chain_lock_owners WHERE amount > 0 GROUP BY module, asset "
                     "ORDER BY module, asset");
    int orphaned = 0;
    while (s && api->step(s) == AITBC_ROW) {
        const char *module = api->col_text(s, 0);
        if (module_loaded(cs, module)) continue;
        char amount[96];
        format_amount(cs, api->col_text(s, 1), api->col_int64(s, 3), amount, sizeof amount);
        int64_t n = api->col_int64(s, 2);
        api->log(cs->ctx, AITBC_LOG_ERROR,
                 "module '%s' is not loaded but holds %s locked for %lld account%s: those funds "
                 "would stay frozen. Fix: re-enable '%s' under plugins: in the config, or refund "
                 "the locks to their owners with: aitbc-host -c <config> --release-locks %s",
                 module, amount, (long long)n, n == 1 ? "" : "s", module, module);
        orphaned++;
    }
    if (s) api->stmt_done(s);
    api->txn_commit(t);
    return s ? (orphaned ? AITBC_EINVAL : 0) : AITBC_EIO;
}

typedef struct owned_row {
    char address[AITBC_ADDRESS_MAX], asset[16];
    int64_t amount;
} owned_row;

/* Every (address, asset, amount) module holds, read before anything is moved. */
static int load_owned(chain_state *cs, aitbc_txn *t, const char *module, owned_row **out,
                      size_t *n) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT address, asset, amount FROM chain_lock_owners WHERE "
                                 "module = ?1 AND amount > 0 ORDER BY address, asset");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, module);
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && api->step(s) == AITBC_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            owned_row *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                rc = AITBC_ENOMEM;
                break;
            }
            *out = v;
        }
        owned_row *r = &(*out)[(*n)++];
        snprintf(r->address, sizeof r->address, "%s", api->col_text(s, 0));
        snprintf(r->asset, sizeof r->asset, "%s", api->col_text(s, 1));
        r->amount = api->col_int64(s, 2);
    }
    api->stmt_done(s);
    return rc;
}

int chain_release_locks_run(void *self, int argc, char **argv) {
    chain_state *cs = self;
    const aitbc_host_api *api = cs->api;
    if (argc != 1 || !argv[0] || !argv[0][0] || strlen(argv[0]) >= AITBC_MODULE_MAX) {
        fprintf(stderr, "usage: aitbc-host -c FILE --release-locks MODULE\n");
        return 2;
    }
    const char *module = argv[0];
    if (module_loaded(cs, module)) {
        fprintf(stderr,
                "release-locks: '%s' is loaded; end its orders, trades or jobs through "
                "it. This command only refunds modules that are switched off.\n",
                module);
        return 1;
    }
    const aitbc_ledger_v1 *view = chain_ledger_for_module(cs, module);
    aitbc_txn *t = view ? api->txn_begin(AITBC_TXN_WRITE) : NULL;
    if (!t) {
        fprintf(stderr, "release-locks: the database is busy\n");
        return 1;
    }
    owned_row *rows = NULL;
    size_t n = 0;
    int rc = load_owned(cs, t, module, &rows, &n);
    int64_t now = api->now_ms();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char ref[CHAIN_TXREF_MAX], hash[AITBC_TX_HASH_MAX];
        snprintf(ref, sizeof ref, "release-locks:%s:%s:%s:%lld", module, rows[i].address,
                 rows[i].asset, (long long)now);
        rc = view->unlock(view->self, t, rows[i].address, rows[i].asset, rows[i].amount, ref, hash);
        if (rc == 0) {
            char amount[96];
            format_amount(cs, rows[i].asset, rows[i].amount, amount, sizeof amount);
            printf("refunded %s to %s (ESCROW_REFUND %s, ref %s)\n", amount, rows[i].address, hash,
                   ref);
        }
    }
    free(rows);
    if (rc == 0)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    if (rc != 0) {
        fprintf(stderr, "release-locks: failed (%d); nothing was refunded\n", rc);
        return 1;
    }
    printf("release-locks %s: %zu lock%s refunded\n", module, n, n == 1 ? "" : "s");
    return 0;
}
