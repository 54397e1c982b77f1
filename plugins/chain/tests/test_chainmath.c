/* Unit tests of the pure chain arithmetic: movement rules, replay conservation, Merkle roots,
 * state roots, transaction hashes and block signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <aitbc/aitbc.h>
#include "../chainmath.h"

static void test_op_rules(void **st) {
    (void)st;
    chain_bal a = {100, 0}, b = {0, 0};
    assert_int_equal(chain_op_apply(CHAIN_OP_TRANSFER, 30, &a, &b), 0);
    assert_true(a.available == 70 && b.available == 30);
    assert_int_equal(chain_op_apply(CHAIN_OP_TRANSFER, 71, &a, &b), AITBC_EFUNDS);
    assert_true(a.available == 70 && b.available == 30); /* untouched on refusal */
    assert_int_equal(chain_op_apply(CHAIN_OP_LOCK, 50, &a, &a), 0);
    assert_true(a.available == 20 && a.locked == 50);
    assert_int_equal(chain_op_apply(CHAIN_OP_SETTLE, 51, &a, &b), AITBC_EFUNDS);
    assert_int_equal(chain_op_apply(CHAIN_OP_SETTLE, 20, &a, &b), 0);
    assert_true(a.locked == 30 && b.available == 50);
    assert_int_equal(chain_op_apply(CHAIN_OP_UNLOCK, 30, &a, &a), 0);
    assert_true(a.available == 50 && a.locked == 0);
    assert_int_equal(chain_op_apply(CHAIN_OP_UNLOCK, 1, &a, &a), AITBC_EFUNDS);
    assert_int_equal(chain_op_apply(CHAIN_OP_TRANSFER, 0, &a, &b), AITBC_EINVAL);
    assert_int_equal(chain_op_apply(CHAIN_OP_TRANSFER, -5, &a, &b), AITBC_EINVAL);
    assert_int_equal(chain_op_apply("steal", 5, &a, &b), AITBC_EINVAL);
    /* Overflow: the credit is refused and the debit undone. */
    chain_bal big = {INT64_MAX, 0}, c = {10, 0};
    assert_int_equal(chain_op_apply(CHAIN_OP_TRANSFER, 10, &c, &big), AITBC_EOVERFLOW);
    assert_true(c.available == 10 && big.available == INT64_MAX);
    assert_int_equal(chain_op_apply(CHAIN_OP_MINT, 1, NULL, &big), AITBC_EOVERFLOW);
    /* Transfer to self is a no-op movement. */
    assert_int_equal(chain_op_apply(CHAIN_OP_TRANSFER, 10, &c, &c), 0);
    assert_int_equal(c.available, 10);
}

static void test_types(void **st) {
    (void)st;
    assert_true(chain_type_allowed(CHAIN_OP_MINT, "MINT"));
    assert_false(chain_type_allowed(CHAIN_OP_MINT, "TRANSFER"));
    assert_true(chain_type_allowed(CHAIN_OP_SETTLE, "FEE"));
    assert_true(chain_type_allowed(CHAIN_OP_TRANSFER, "FEE"));
    assert_false(chain_type_allowed(CHAIN_OP_TRANSFER, "MINT"));
    assert_false(chain_type_allowed(CHAIN_OP_LOCK, "ESCROW_REFUND"));
    assert_true(chain_type_allowed(CHAIN_OP_UNLOCK, "ESCROW_REFUND"));
    assert_false(chain_type_allowed(CHAIN_OP_TRANSFER, "transfer"));
    assert_false(chain_type_known(NULL));
}

/* Independent Merkle computation for 3 leaves: root = H(1 || H(1||L0||L1) || L2). */
static void test_merkle(void **st) {
    (void)st;
    unsigned char leaves[3][32], copy[3][32], lh[3][32], buf[65], n01[32], root[32];
    char hex[65], want[65];
    for (int i = 0; i < 3; i++)
        memset(leaves[i], i + 1, 32);
    chain_merkle_root(NULL, 0, hex);
    crypto_hash_sha256(root, (const unsigned char *)"", 0);
    aitbc_hex_encode(root, 32, want);
    assert_string_equal(hex, want);
    for (int i = 0; i < 3; i++) {
        buf[0] = 0;
        memcpy(buf + 1, leaves[i], 32);
        crypto_hash_sha256(lh[i], buf, 33);
    }
    memcpy(copy, leaves, sizeof copy);
    chain_merkle_root(copy, 1, hex);
    aitbc_hex_encode(lh[0], 32, want);
    assert_string_equal(hex, want);
    buf[0] = 1;
    memcpy(buf + 1, lh[0], 32);
    memcpy(buf + 33, lh[1], 32);
    crypto_hash_sha256(n01, buf, 65);
    memcpy(buf + 1, n01, 32);
    memcpy(buf + 33, lh[2], 32);
    crypto_hash_sha256(root, buf, 65);
    aitbc_hex_encode(root, 32, want);
    memcpy(copy, leaves, sizeof copy);
    chain_merkle_root(copy, 3, hex);
    assert_string_equal(hex, want);
    /* Order matters. */
    memcpy(copy[0], leaves[1], 32);
    memcpy(copy[1], leaves[0], 32);
    memcpy(copy[2], leaves[2], 32);
    chain_merkle_root(copy, 3, hex);
    assert_string_not_equal(hex, want);
}

static void addr(int i, char out[48]) {
    snprintf(out, 48, "ait1%040x", i);
}

static void fill_tx(chain_tx *tx, const char *op, const char *type, const char *from,
                    const char *to, int64_t amount, int64_t seq) {
    memset(tx, 0, sizeof *tx);
    snprintf(tx->op, sizeof tx->op, "%s", op);
    snprintf(tx->type, sizeof tx->type, "%s", type);
    snprintf(tx->from, sizeof tx->from, "%s", from ? from : "");
    snprintf(tx->to, sizeof tx->to, "%s", to ? to : "");
    snprintf(tx->asset, sizeof tx->asset, "AIT");
    snprintf(tx->ref, sizeof tx->ref, "ref-%lld", (long long)seq);
    tx->amount = amount;
    tx->seq = seq;
    tx->ts_ms = 1700000000000 + seq;
}

/* Random movements on the replay book: refused ones change nothing; sums stay = mints. */
static void test_book_conservation(void **st) {
    (void)st;
    chain_book b = {0};
    char a[8][48];
    for (int i = 0; i < 8; i++)
        addr(i + 1, a[i]);
    srand(12345);
    int64_t minted = 0;
    int refused = 0;
    for (int i = 0; i < 5000; i++) {
        chain_tx tx;
        int k = rand() % 5, x = rand() % 8, y = rand() % 8;
        int64_t amt = 1 + rand() % 1000;
        const char *ops[] = {CHAIN_OP_MINT, CHAIN_OP_TRANSFER, CHAIN_OP_LOCK, CHAIN_OP_UNLOCK,
                             CHAIN_OP_SETTLE};
        const char *types[] = {"MINT", "TRANSFER", "ESCROW_LOCK", "ESCROW_REFUND",
                               "ESCROW_RELEASE"};
        fill_tx(&tx, ops[k], types[k], k == 0 ? NULL : a[x],
                k == 2   ? NULL
                : k == 3 ? a[x]
                         : a[y],
                amt, i + 1);
        int rc = chain_book_apply(&b, &tx);
        if (rc == 0 && k == 0) minted += amt;
        if (rc != 0) {
            assert_int_equal(rc, AITBC_EFUNDS);
            refused++;
        }
        int64_t sum = 0;
        for (size_t j = 0; j < b.cap; j++)
            if (b.slots[j].used) {
                assert_true(b.slots[j].bal.available >= 0 && b.slots[j].bal.locked >= 0);
                sum += b.slots[j].bal.available + b.slots[j].bal.locked;
            }
        assert_int_equal(sum, minted);
    }
    assert_true(refused > 0);
    chain_book_free(&b);
}

/* The state root depends on the balances, not on insertion order; zero rows do not count. */
static void test_state_root(void **st) {
    (void)st;
    chain_book x = {0}, y = {0};
    char a1[48], a2[48], r1[65], r2[65], r3[65];
    addr(1, a1);
    addr(2, a2);
    chain_book_get(&x, a1, "AIT", 1)->bal.available = 5;
    chain_book_get(&x, a2, "BTC", 1)->bal.locked = 7;
    chain_book_get(&y, a2, "BTC", 1)->bal.locked = 7;
    chain_book_get(&y, a2, "AIT", 1); /* zero entry */
    chain_book_get(&y, a1, "AIT", 1)->bal.available = 5;
    chain_book_state_root(&x, r1);
    chain_book_state_root(&y, r2);
    assert_string_equal(r1, r2);
    chain_sr sr;
    chain_sr_init(&sr);
    chain_sr_add(&sr, a1, "AIT", 5, 0);
    chain_sr_add(&sr, a2, "BTC", 0, 7);
    chain_sr_final(&sr, r3);
    assert_string_equal(r1, r3);
    chain_book_get(&y, a1, "AIT", 0)->bal.available = 6;
    chain_book_state_root(&y, r2);
    assert_string_not_equal(r1, r2);
    /* Growth keeps every entry. */
    for (int i = 0; i < 1000; i++) {
        char ai[48];
        addr(100 + i, ai);
        chain_book_get(&x, ai, "AIT", 1)->bal.available = i + 1;
    }
    for (int i = 0; i < 1000; i++) {
        char ai[48];
        addr(100 + i, ai);
        assert_int_equal(chain_book_get(&x, ai, "AIT", 0)->bal.available, i + 1);
    }
    chain_book_free(&x);
    chain_book_free(&y);
}

/* Every field of a transaction is covered by its hash. */
/* The direct path of chain_tx_hash (every real transaction) hashes exactly the text the general
 * canonical writer makes; strings with escapes take the general path. */
static void tx_hash_direct_equals_general(void **state) {
    (void)state;
    char a1[48], a2[48], h[CHAIN_HASH_HEX], g[CHAIN_HASH_HEX];
    addr(1, a1);
    addr(2, a2);
    static const char *const refs[] = {"job_abc:lock",
                                       "",
                                       "quote\"d",
                                       "back\\slash",
                                       "tab\there",
                                       "\x01ctl",
                                       "caf\xc3\xa9 \xf0\x9f\x98\x80",
                                       "a/b<c>&'"};
    static const int64_t nums[] = {0,
                                   1,
                                   -1,
                                   7,
                                   9007199254740991LL,
                                   -9007199254740991LL,
                                   9007199254740992LL,
                                   INT64_MAX,
                                   INT64_MIN,
                                   1795921200123LL};
    chain_tx t;
    for (size_t r = 0; r < sizeof refs / sizeof *refs; r++)
        for (size_t n = 0; n < sizeof nums / sizeof *nums; n++) {
            fill_tx(&t, n % 2 ? CHAIN_OP_MINT : CHAIN_OP_TRANSFER, "TRANSFER", n % 2 ? "" : a1,
                    n % 3 ? a2 : "", nums[n], (int64_t)n);
            t.seq = nums[(n + 3) % 10];
            snprintf(t.ref, sizeof t.ref, "%s", refs[r]);
            t.fee = nums[(n + 5) % 10];
            t.ts_ms = nums[(n + 7) % 10];
            assert_int_equal(chain_tx_hash(&t, h), 0);
            assert_int_equal(chain_tx_hash_general(&t, g), 0);
            assert_string_equal(h, g);
        }
    memset(t.ref, 'r', sizeof t.ref - 1); /* every field at its longest */
    t.ref[sizeof t.ref - 1] = '\0';
    memset(t.type, 't', sizeof t.type - 1);
    t.type[sizeof t.type - 1] = '\0';
    t.amount = t.fee = INT64_MIN;
    t.seq = t.ts_ms = -9007199254740991LL;
    assert_int_equal(chain_tx_hash(&t, h), 0);
    assert_int_equal(chain_tx_hash_general(&t, g), 0);
    assert_string_equal(h, g);
}

static void test_tx_hash(void **st) {
    (void)st;
    char a1[48], a2[48], h0[65], h[65];
    addr(1, a1);
    addr(2, a2);
    chain_tx base, t;
    fill_tx(&base, CHAIN_OP_TRANSFER, "TRANSFER", a1, a2, 10, 7);
    assert_int_equal(chain_tx_hash(&base, h0), 0);
    assert_int_equal(strlen(h0), 64);
    t = base;
    assert_int_equal(chain_tx_hash(&t, h), 0);
    assert_string_equal(h, h0);
#define CHANGED(stmt)                                                                              \
    do {                                                                                           \
        t = base;                                                                                  \
        stmt;                                                                                      \
        assert_int_equal(chain_tx_hash(&t, h), 0);                                                 \
        assert_string_not_equal(h, h0);                                                            \
    } while (0)
    CHANGED(t.seq++);
    CHANGED(t.amount++);
    CHANGED(t.fee = 1);
    CHANGED(t.ts_ms++);
    CHANGED(t.ref[0] = 'X');
    CHANGED(t.asset[0] = 'B');
    CHANGED(t.from[5] = 'f');
    CHANGED(t.to[5] = 'f');
    CHANGED(snprintf(t.type, sizeof t.type, "FEE"));
    CHANGED(snprintf(t.op, sizeof t.op, "settle"));
#undef CHANGED
}

static void test_block_sign(void **st) {
    (void)st;
    unsigned char pk[32], sk[64], pk2[32], sk2[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    chain_block b;
    memset(&b, 0, sizeof b);
    b.height = 3;
    memset(b.parent_hash, 'a', 64);
    memset(b.merkle_root, 'b', 64);
    memset(b.state_root, 'c', 64);
    aitbc_address_from_pubkey(pk, b.proposer);
    b.ts_ms = 1700000000123;
    b.tx_count = 2;
    assert_int_equal(chain_block_hash(&b, b.hash), 0);
    chain_block_sign(&b, sk);
    assert_int_equal(strlen(b.signature), 86);
    assert_int_equal(chain_block_verify_sig(&b, pk), 0);
    assert_int_equal(chain_block_verify_sig(&b, pk2), AITBC_ESIG);
    chain_block c = b;
    c.signature[10] = c.signature[10] == 'A' ? 'B' : 'A';
    assert_int_equal(chain_block_verify_sig(&c, pk), AITBC_ESIG);
    char h[65];
    c = b;
    c.ts_ms++;
    assert_int_equal(chain_block_hash(&c, h), 0);
    assert_string_not_equal(h, b.hash);
    c = b;
    c.tx_count++;
    assert_int_equal(chain_block_hash(&c, h), 0);
    assert_string_not_equal(h, b.hash);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_rules),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_merkle),
        cmocka_unit_test(test_book_conservation),
        cmocka_unit_test(test_state_root),
        cmocka_unit_test(test_tx_hash),
        cmocka_unit_test(tx_hash_direct_equals_general),
        cmocka_unit_test(test_block_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
