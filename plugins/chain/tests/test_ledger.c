/* Ledger and block tests against the real storage layer: the chain plugin's code is linked in and
 * initialised by the in-process test host (testhost.h) on a temp SQLite file (no HTTP). Covers
 * conservation under randomized movements, idempotent refs, refusals, sealing, verification,
 * tamper detection of every stored field, custody keys and restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "testhost.h"
#include "../chain.h"

static char g_dir[AITBC_TESTHOST_PATH_MAX], g_path[AITBC_TESTHOST_PATH_MAX];
static aitbc_testhost *g_host;
static chain_state *g_cs;
static const aitbc_ledger_v1 *L;
static const aitbc_host_api *api;
static char A[6][AITBC_ADDRESS_MAX];

/* Blocks are sealed by the tests (chain_seal), so the plugin is initialised, not started. */
static int start_chain(void) {
    const aitbc_plugin_desc *const linked[] = {aitbc_plugin_describe(), NULL};
    if (!(g_host = aitbc_testhost_start(g_path, linked, AITBC_TESTHOST_INIT_ONLY))) return -1;
    g_cs = aitbc_testhost_state(g_host, "chain");
    api = aitbc_testhost_api(g_host);
    L = aitbc_testhost_service(g_host, AITBC_LEDGER_SERVICE);
    return g_cs && L ? 0 : -1;
}

static void stop_chain(void) {
    aitbc_testhost_stop(g_host);
    g_host = NULL;
    g_cs = NULL;
}

static int group_setup(void **st) {
    (void)st;
    if (aitbc_testhost_temp_config(
            g_dir, g_path, "log_level: warn",
            "plugins:\n  chain: { block_interval_ms: 1000, max_empty_interval_s: 0,\n"
            "    genesis: { timestamp: \"2026-01-01T00:00:00.000Z\",\n"
            "      allocations: [ { address: \"ait10000000000000000000000000000000000000007\", "
            "asset: AIT, amount: \"5.5\" } ] } }\n") != 0)
        return -1;
    if (start_chain() != 0) return -1;
    for (int i = 0; i < 3; i++)
        if (L->create_account(L->self, NULL, A[i]) != 0) return -1;
    for (int i = 3; i < 6; i++) {
        snprintf(A[i], sizeof A[i], "ait1%040x", 0xabc0 + i);
        if (L->ensure_account(L->self, NULL, A[i]) != 0) return -1;
    }
    return 0;
}

static int group_teardown(void **st) {
    (void)st;
    stop_chain();
    return aitbc_testhost_temp_remove(g_dir);
}

/* Sum of balances and of MINT amounts for an asset, from the tables. */
static void sums(const char *asset, int64_t *balances, int64_t *mints) {
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s =
        api->stmt(t, "SELECT (SELECT COALESCE(SUM(available + locked), 0) FROM "
                     "chain_balances WHERE asset = ?1), (SELECT COALESCE(SUM(amount), 0) "
                     "FROM chain_txs WHERE asset = ?1 AND type = 'MINT')");
    api->bind_text(s, 1, asset);
    assert_int_equal(api->step(s), AITBC_ROW);
    *balances = api->col_int64(s, 0);
    *mints = api->col_int64(s, 1);
    api->stmt_done(s);
    api->txn_commit(t);
}

static void assert_conserved(void) {
    const char *assets[] = {"AIT", "BTC"};
    for (int i = 0; i < 2; i++) {
        int64_t b, m;
        sums(assets[i], &b, &m);
        assert_int_equal(b, m);
    }
}

static int verify_ok(void) {
    char msg[512];
    int bad = chain_verify(g_cs, msg, sizeof msg);
    if (bad) fprintf(stderr, "verify: %s\n", msg);
    return !bad;
}

static void test_genesis(void **st) {
    (void)st;
    int64_t h, n, av, lk;
    assert_int_equal(L->chain_info(L->self, &h, &n), 0);
    assert_true(h >= 0);
    char gaddr[48];
    snprintf(gaddr, sizeof gaddr, "ait1%040d", 7);
    assert_int_equal(L->balance(L->self, NULL, gaddr, "AIT", &av, &lk), 0);
    assert_int_equal(av, 5500000);
    assert_int_equal(L->asset_decimals(L->self, "BTC"), 8);
    assert_int_equal(L->asset_decimals(L->self, "DOGE"), AITBC_ENOTFOUND);
    assert_true(verify_ok());
}

/* Randomized movements mirrored in a model book: every result and balance must agree, refused
 * overdrafts move nothing, and balances always sum to the mints. */
static void test_conservation_random(void **st) {
    (void)st;
    chain_book model = {0};
    char ref[64];
    srand(4242);
    for (int i = 0; i < 6; i++) {
        snprintf(ref, sizeof ref, "seed-%d", i);
        assert_int_equal(L->mint(L->self, NULL, A[i], "AIT", 1000000, ref, NULL), 0);
        snprintf(ref, sizeof ref, "seed-btc-%d", i);
        assert_int_equal(L->mint(L->self, NULL, A[i], "BTC", 50000, ref, NULL), 0);
        chain_book_get(&model, A[i], "AIT", 1)->bal.available = 1000000;
        chain_book_get(&model, A[i], "BTC", 1)->bal.available = 50000;
    }
    int refused = 0, done = 0;
    for (int i = 0; i < 1500; i++) {
        int k = rand() % 6, x = rand() % 6, y = rand() % 6;
        const char *asset = rand() % 3 ? "AIT" : "BTC";
        int64_t amt = 1 + rand() % 400000;
        snprintf(ref, sizeof ref, "r%d", i);
        chain_tx tx;
        memset(&tx, 0, sizeof tx);
        snprintf(tx.asset, sizeof tx.asset, "%s", asset);
        tx.amount = amt;
        int rc;
        switch (k) {
        case 0:
        case 1:
            rc = L->transfer(L->self, NULL, k ? "FEE" : "TRANSFER", A[x], A[y], asset, amt, ref,
                             NULL);
            snprintf(tx.op, sizeof tx.op, CHAIN_OP_TRANSFER);
            snprintf(tx.from, sizeof tx.from, "%s", A[x]);
            snprintf(tx.to, sizeof tx.to, "%s", A[y]);
            break;
        case 2:
            rc = L->lock(L->self, NULL, A[x], asset, amt, ref, NULL);
            snprintf(tx.op, sizeof tx.op, CHAIN_OP_LOCK);
            snprintf(tx.from, sizeof tx.from, "%s", A[x]);
            break;
        case 3:
            rc = L->unlock(L->self, NULL, A[x], asset, amt, ref, NULL);
            snprintf(tx.op, sizeof tx.op, CHAIN_OP_UNLOCK);
            snprintf(tx.from, sizeof tx.from, "%s", A[x]);
            snprintf(tx.to, sizeof tx.to, "%s", A[x]);
            break;
        default:
            rc = L->settle(L->self, NULL, k == 4 ? "ESCROW_RELEASE" : "EXCHANGE_SETTLE", A[x], A[y],
                           asset, amt, ref, NULL);
            snprintf(tx.op, sizeof tx.op, CHAIN_OP_SETTLE);
            snprintf(tx.from, sizeof tx.from, "%s", A[x]);
            snprintf(tx.to, sizeof tx.to, "%s", A[y]);
            break;
        }
        int want = chain_book_apply(&model, &tx);
        assert_int_equal(rc, want);
        if (rc == AITBC_EFUNDS)
            refused++;
        else
            done++;
        if (i % 100 == 0) {
            assert_conserved();
            assert_int_equal(chain_seal(g_cs, 0, NULL), 0);
        }
    }
    assert_true(refused > 50 && done > 50);
    for (int i = 0; i < 6; i++) {
        const char *assets[] = {"AIT", "BTC"};
        for (int j = 0; j < 2; j++) {
            int64_t av, lk;
            assert_int_equal(L->balance(L->self, NULL, A[i], assets[j], &av, &lk), 0);
            chain_book_entry *e = chain_book_get(&model, A[i], assets[j], 0);
            assert_int_equal(av, e->bal.available);
            assert_int_equal(lk, e->bal.locked);
        }
    }
    chain_book_free(&model);
    assert_conserved();
    assert_true(verify_ok());
    assert_int_equal(chain_seal(g_cs, 0, NULL), 0);
    assert_true(verify_ok());
}

/* A refusal inside a caller's transaction leaves it usable; a rollback undoes joined calls. */
static void test_caller_txn(void **st) {
    (void)st;
    int64_t before, after, lk;
    L->balance(L->self, NULL, A[0], "AIT", &before, &lk);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(L->transfer(L->self, t, NULL, A[0], A[1], "AIT", INT64_MAX / 2, "txn-1", NULL),
                     AITBC_EFUNDS);
    assert_int_equal(L->mint(L->self, t, A[0], "AIT", 777, "txn-2", NULL), 0);
    assert_int_equal(api->txn_commit(t), 0);
    L->balance(L->self, NULL, A[0], "AIT", &after, &lk);
    assert_int_equal(after, before + 777);
    t = api->txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(L->mint(L->self, t, A[0], "AIT", 5, "txn-3", NULL), 0);
    api->txn_rollback(t);
    L->balance(L->self, NULL, A[0], "AIT", &after, &lk);
    assert_int_equal(after, before + 777);
    /* The rolled-back ref was never recorded: it can be used now. */
    assert_int_equal(L->mint(L->self, NULL, A[0], "AIT", 5, "txn-3", NULL), 0);
    assert_conserved();
}

static void test_idempotent_refs(void **st) {
    (void)st;
    char h1[AITBC_TX_HASH_MAX], h2[AITBC_TX_HASH_MAX];
    int64_t a0, a1, lk;
    assert_int_equal(L->mint(L->self, NULL, A[1], "BTC", 100, "idem-1", h1), 0);
    L->balance(L->self, NULL, A[1], "BTC", &a0, &lk);
    assert_int_equal(L->mint(L->self, NULL, A[1], "BTC", 100, "idem-1", h2), AITBC_EEXIST);
    assert_string_equal(h1, h2);
    assert_int_equal(L->mint(L->self, NULL, A[1], "BTC", 999, "idem-1", NULL), AITBC_EEXIST);
    L->balance(L->self, NULL, A[1], "BTC", &a1, &lk);
    assert_int_equal(a0, a1);
    /* Same ref, other type: a different movement. */
    assert_int_equal(L->lock(L->self, NULL, A[1], "BTC", 10, "idem-1", NULL), 0);
    assert_int_equal(L->lock(L->self, NULL, A[1], "BTC", 10, "idem-1", NULL), AITBC_EEXIST);
    assert_int_equal(L->unlock(L->self, NULL, A[1], "BTC", 10, "idem-1", NULL), 0);
    assert_int_equal(L->unlock(L->self, NULL, A[1], "BTC", 10, "idem-1", NULL), AITBC_EEXIST);
    /* A repeat is reported even when the original could not be done again. */
    assert_int_equal(
        L->transfer(L->self, NULL, "TRANSFER", A[1], A[2], "BTC", a1 - 10, "idem-2", NULL), 0);
    assert_int_equal(
        L->transfer(L->self, NULL, "TRANSFER", A[1], A[2], "BTC", a1 - 10, "idem-2", NULL),
        AITBC_EEXIST);
    assert_conserved();
}

static void test_refusals(void **st) {
    (void)st;
    char nobody[48];
    snprintf(nobody, sizeof nobody, "ait1%040x", 0xdead);
    assert_int_equal(L->mint(L->self, NULL, nobody, "AIT", 1, "x1", NULL), AITBC_ENOTFOUND);
    assert_int_equal(L->transfer(L->self, NULL, NULL, A[0], nobody, "AIT", 1, "x2", NULL),
                     AITBC_ENOTFOUND);
    assert_int_equal(L->mint(L->self, NULL, A[0], "DOGE", 1, "x3", NULL), AITBC_EINVAL);
    assert_int_equal(L->mint(L->self, NULL, A[0], "AIT", 0, "x4", NULL), AITBC_EINVAL);
    assert_int_equal(L->mint(L->self, NULL, A[0], "AIT", -1, "x5", NULL), AITBC_EINVAL);
    assert_int_equal(L->mint(L->self, NULL, "ait1XYZ", "AIT", 1, "x6", NULL), AITBC_EINVAL);
    assert_int_equal(L->mint(L->self, NULL, A[0], "AIT", 1, NULL, NULL), AITBC_EINVAL);
    assert_int_equal(L->mint(L->self, NULL, A[0], "AIT", 1, "", NULL), AITBC_EINVAL);
    assert_int_equal(L->transfer(L->self, NULL, "MINT", A[0], A[1], "AIT", 1, "x7", NULL),
                     AITBC_EINVAL);
    assert_int_equal(L->settle(L->self, NULL, "ESCROW_LOCK", A[0], A[1], "AIT", 1, "x8", NULL),
                     AITBC_EINVAL);
    assert_int_equal(L->ensure_account(L->self, NULL, "ait1short"), AITBC_EINVAL);
    assert_false(L->account_exists(L->self, NULL, nobody));
    assert_true(L->account_exists(L->self, NULL, A[4]));
    int64_t av = -1, lk = -1;
    assert_int_equal(L->balance(L->self, NULL, nobody, "AIT", &av, &lk), 0);
    assert_true(av == 0 && lk == 0);
    /* Supply overflow: refused before anything moves. */
    int64_t b0, m0, b1, m1;
    sums("BTC", &b0, &m0);
    assert_int_equal(L->mint(L->self, NULL, A[5], "BTC", INT64_MAX, "x9", NULL), AITBC_EOVERFLOW);
    sums("BTC", &b1, &m1);
    assert_true(b0 == b1 && m0 == m1);
    assert_conserved();
    assert_true(verify_ok());
}

static void test_custody_key(void **st) {
    (void)st;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = api->stmt(t, "SELECT pubkey, sealed_sk FROM chain_accounts WHERE address = ?1");
    api->bind_text(s, 1, A[0]);
    assert_int_equal(api->step(s), AITBC_ROW);
    unsigned char pk[32], sk[64];
    char address[48];
    assert_int_equal(chain_hex32(api->col_text(s, 0), pk), 0);
    assert_int_equal(chain_custody_open(g_cs, api->col_text(s, 1), sk), 0);
    api->stmt_done(s);
    api->txn_commit(t);
    aitbc_address_from_pubkey(pk, address);
    assert_string_equal(address, A[0]);
    assert_memory_equal(sk + 32, pk, 32); /* libsodium's sk embeds the public key */
}

static void test_blocks(void **st) {
    (void)st;
    int64_t h0, h1, h2, n;
    assert_int_equal(chain_seal(g_cs, 0, NULL), 0);
    L->chain_info(L->self, &h0, &n);
    /* Nothing pending and heartbeats off: no block. */
    assert_int_equal(chain_seal(g_cs, 0, &h1), 0);
    assert_int_equal(h1, -1);
    assert_int_equal(L->mint(L->self, NULL, A[2], "AIT", 3, "blk-1", NULL), 0);
    assert_int_equal(L->mint(L->self, NULL, A[2], "AIT", 4, "blk-2", NULL), 0);
    assert_int_equal(chain_seal(g_cs, 0, &h1), 0);
    assert_int_equal(h1, h0 + 1);
    assert_int_equal(chain_seal(g_cs, 1, &h2), 0); /* forced heartbeat */
    assert_int_equal(h2, h0 + 2);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = api->stmt(t, "SELECT b.tx_count, (SELECT COUNT(*) FROM chain_txs x WHERE "
                                 "x.seq >= b.first_seq AND x.seq < b.first_seq + b.tx_count), "
                                 "b.parent_hash = p.hash, b.state_root "
                                 "= p.state_root FROM chain_blocks b JOIN chain_blocks p ON "
                                 "p.height = b.height - 1 WHERE b.height = ?1");
    api->bind_int64(s, 1, h1);
    assert_int_equal(api->step(s), AITBC_ROW);
    assert_int_equal(api->col_int64(s, 0), 2);
    assert_int_equal(api->col_int64(s, 1), 2);
    assert_int_equal(api->col_int64(s, 2), 1);
    assert_int_equal(api->col_int64(s, 3), 0);
    api->stmt_done(s);
    api->bind_int64(s = api->stmt(t, "SELECT b.tx_count, 0, b.parent_hash = p.hash, b.state_root "
                                     "= p.state_root FROM chain_blocks b JOIN chain_blocks p ON "
                                     "p.height = b.height - 1 WHERE b.height = ?1"),
                    1, h2);
    assert_int_equal(api->step(s), AITBC_ROW);
    assert_int_equal(api->col_int64(s, 0), 0);
    assert_int_equal(api->col_int64(s, 2), 1);
    assert_int_equal(api->col_int64(s, 3), 1); /* empty block: same state */
    api->stmt_done(s);
    api->txn_commit(t);
    assert_true(verify_ok());
}

/* SQL expression: the text with its first character replaced by a different one. */
#define FLIP(col)                                                                                  \
    "(CASE WHEN substr(" col ", 1, 1) = '0' THEN '1' ELSE '0' END || substr(" col ", 2))"

/* Each change to one stored value must make verification fail and name what was changed. */
static void test_tamper(void **st) {
    (void)st;
    /* A block with transactions, and a pending transaction after it. */
    assert_int_equal(L->transfer(L->self, NULL, NULL, A[2], A[3], "AIT", 2, "tamper-1", NULL), 0);
    int64_t h;
    assert_int_equal(chain_seal(g_cs, 0, &h), 0);
    assert_int_equal(L->transfer(L->self, NULL, NULL, A[2], A[3], "AIT", 1, "tamper-2", NULL), 0);
    assert_true(verify_ok());
    char bh[32];
    snprintf(bh, sizeof bh, "block %lld", (long long)h);
    static const struct {
        const char *sql;
        const char *expect; /* NULL = the block's name */
    } cases[] = {
        {"UPDATE chain_blocks SET hash = " FLIP("hash") " WHERE height = ?1", "block"},
        {"UPDATE chain_blocks SET parent_hash = " FLIP("parent_hash") " WHERE height = ?1", NULL},
        {"UPDATE chain_blocks SET ts_ms = ts_ms + 1 WHERE height = ?1", NULL},
        {"UPDATE chain_blocks SET merkle_root = " FLIP("merkle_root") " WHERE height = ?1", NULL},
        {"UPDATE chain_blocks SET state_root = " FLIP("state_root") " WHERE height = ?1", NULL},
        {"UPDATE chain_blocks SET signature = " FLIP("signature") " WHERE height = ?1", NULL},
        {"UPDATE chain_blocks SET tx_count = tx_count + 1 WHERE height = ?1", NULL},
        {"UPDATE chain_blocks SET proposer = 'ait1' || " FLIP(
             "substr(proposer, 5)") " WHERE height = ?1",
         NULL},
        {"UPDATE chain_blocks SET proposer_key = " FLIP("proposer_key") " WHERE height = ?1", NULL},
        {"DELETE FROM chain_blocks WHERE height = ?1 - 1", "block"},
        {"UPDATE chain_txs SET amount = amount + 1 WHERE ref = 'tamper-1' AND ?1 > 0",
         "transaction"},
        {"UPDATE chain_txs SET fee = 1 WHERE ref = 'tamper-1' AND ?1 > 0", "transaction"},
        {"UPDATE chain_txs SET ref = 'tamper-x' WHERE ref = 'tamper-1' AND ?1 > 0", "transaction"},
        {"UPDATE chain_txs SET to_addr = from_addr WHERE ref = 'tamper-1' AND ?1 > 0",
         "transaction"},
        {"UPDATE chain_txs SET ts_ms = ts_ms - 1 WHERE ref = 'tamper-1' AND ?1 > 0", "transaction"},
        {"UPDATE chain_txs SET type = 'FEE' WHERE ref = 'tamper-1' AND ?1 > 0", "transaction"},
        {"UPDATE chain_txs SET hash = " FLIP("hash") " WHERE ref = 'tamper-1' AND ?1 > 0",
         "transaction"},
        {"UPDATE chain_blocks SET first_seq = first_seq + 1 WHERE height = ?1", NULL},
        {"UPDATE chain_blocks SET first_seq = first_seq - 1 WHERE height = ?1", NULL},
        {"UPDATE chain_txs SET seq = seq + 1000000 WHERE ref = 'tamper-1' AND ?1 > 0", NULL},
        {"UPDATE chain_txs SET seq = -seq WHERE ref = 'tamper-2' AND ?1 > 0", "chain_txs"},
        {"UPDATE chain_txs SET amount = amount + 1 WHERE ref = 'tamper-2' AND ?1 > 0",
         "transaction"},
        {"DELETE FROM chain_txs WHERE ref = 'tamper-2' AND ?1 > 0", "balance"},
        {"UPDATE chain_balances SET available = available + 1 WHERE address = (SELECT to_addr "
         "FROM chain_txs WHERE ref = 'tamper-1') AND asset = 'AIT' AND ?1 > 0",
         "balance"},
        {"UPDATE chain_balances SET locked = locked + 1 WHERE address = (SELECT to_addr "
         "FROM chain_txs WHERE ref = 'tamper-1') AND asset = 'AIT' AND ?1 > 0",
         "balance"},
        {"DELETE FROM chain_balances WHERE address = (SELECT to_addr FROM chain_txs WHERE ref = "
         "'tamper-1') AND asset = 'AIT' AND ?1 > 0",
         "chain_balances"},
        {"INSERT INTO chain_balances VALUES('ait1' || printf('%040d', ?1 + 100000), 'AIT', 1, 0)",
         "balance"},
        {"UPDATE chain_supply SET minted = minted + 1 WHERE asset = 'AIT' AND ?1 > 0", "supply"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
        aitbc_stmt *s = api->stmt(t, cases[i].sql);
        assert_non_null(s);
        api->bind_int64(s, 1, h);
        assert_true(api->step(s) >= 0);
        assert_int_equal(api->changes(s), 1);
        api->stmt_done(s);
        char msg[512];
        int bad = chain_verify(g_cs, msg, sizeof msg);
        api->txn_rollback(t);
        if (!bad || !strstr(msg, cases[i].expect ? cases[i].expect : bh))
            fail_msg("case %zu (%s): verify said \"%s\"", i, cases[i].sql, msg);
    }
    assert_true(verify_ok());
}

/* Stop and start again on the same files: same height, the chain continues and verifies. */
static void test_restart(void **st) {
    (void)st;
    int64_t h0, n0, h1, n1, hn;
    assert_int_equal(chain_seal(g_cs, 0, NULL), 0);
    L->chain_info(L->self, &h0, &n0);
    char proposer[48];
    snprintf(proposer, sizeof proposer, "%s", g_cs->address);
    stop_chain();
    assert_int_equal(start_chain(), 0);
    L->chain_info(L->self, &h1, &n1);
    assert_int_equal(h1, h0);
    assert_int_equal(n1, n0);
    assert_string_equal(g_cs->address, proposer); /* same node key */
    assert_int_equal(L->mint(L->self, NULL, A[0], "AIT", 1, "after-restart", NULL), 0);
    assert_int_equal(chain_seal(g_cs, 0, &hn), 0);
    assert_int_equal(hn, h0 + 1);
    assert_true(verify_ok());
    assert_conserved();
}

/* The block-range migration (chain step 3) upgrades a database written by the step-2 schema.
 * The current chain is turned back into that schema (transactions carry block_height and idx,
 * blocks have no first_seq, step 3 not recorded); restarting runs step 3 on it. */
static void test_upgrade_from_v2(void **st) {
    (void)st;
    assert_int_equal(L->mint(L->self, NULL, A[1], "AIT", 5, "upgrade-sealed", NULL), 0);
    int64_t h, h0, n0;
    assert_int_equal(chain_seal(g_cs, 0, &h), 0);
    assert_true(h > 0);
    assert_int_equal(chain_seal(g_cs, 1, NULL), 0); /* an empty block after it */
    assert_int_equal(L->mint(L->self, NULL, A[1], "AIT", 6, "upgrade-pending", NULL), 0);
    L->chain_info(L->self, &h0, &n0);
    static const char *const k_back_to_v2[] = {
        "ALTER TABLE chain_txs ADD COLUMN block_height INTEGER",
        "ALTER TABLE chain_txs ADD COLUMN idx INTEGER",
        "UPDATE chain_txs SET block_height = (SELECT b.height FROM chain_blocks b WHERE "
        "chain_txs.seq >= b.first_seq AND chain_txs.seq < b.first_seq + b.tx_count), idx = seq - "
        "(SELECT b.first_seq FROM chain_blocks b WHERE chain_txs.seq >= b.first_seq AND "
        "chain_txs.seq < b.first_seq + b.tx_count)",
        "CREATE INDEX chain_txs_pending ON chain_txs(seq) WHERE block_height IS NULL",
        "CREATE INDEX chain_txs_block ON chain_txs(block_height, idx)",
        "DROP INDEX chain_blocks_first_seq",
        "ALTER TABLE chain_blocks DROP COLUMN first_seq",
        "DELETE FROM host_schema WHERE plugin = 'chain' AND version = 3",
    };
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    for (size_t i = 0; i < sizeof k_back_to_v2 / sizeof k_back_to_v2[0]; i++) {
        aitbc_stmt *s = api->stmt(t, k_back_to_v2[i]);
        if (!s) fail_msg("cannot prepare %s", k_back_to_v2[i]);
        assert_true(api->step(s) >= 0);
        api->stmt_done(s);
    }
    assert_int_equal(api->txn_commit(t), 0);
    stop_chain();
    assert_int_equal(start_chain(), 0);
    assert_true(verify_ok());
    int64_t h1, n1;
    L->chain_info(L->self, &h1, &n1);
    assert_int_equal(h1, h0);
    assert_int_equal(n1, n0);
    /* Membership survived: the sealed mint is in block h, the other one still pending. */
    const aitbc_chain_query_v1 *q = api->service_lookup(AITBC_CHAIN_QUERY_SERVICE);
    assert_non_null(q);
    cJSON *blk = NULL;
    assert_int_equal(q->block(q->self, h, NULL, &blk), 0);
    const cJSON *txs = cJSON_GetObjectItemCaseSensitive(blk, "transactions");
    const cJSON *last = cJSON_GetArrayItem(txs, cJSON_GetArraySize(txs) - 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "ref")),
                        "upgrade-sealed");
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "block_height")),
                     h);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "index")),
                     cJSON_GetArraySize(txs) - 1);
    cJSON_Delete(blk);
    /* The chain goes on from there: the pending mint goes into the next block. */
    int64_t hn;
    assert_int_equal(chain_seal(g_cs, 0, &hn), 0);
    assert_int_equal(hn, h0 + 1);
    assert_true(verify_ok());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_genesis),    cmocka_unit_test(test_conservation_random),
        cmocka_unit_test(test_caller_txn), cmocka_unit_test(test_idempotent_refs),
        cmocka_unit_test(test_refusals),   cmocka_unit_test(test_custody_key),
        cmocka_unit_test(test_blocks),     cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_restart),    cmocka_unit_test(test_upgrade_from_v2),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
