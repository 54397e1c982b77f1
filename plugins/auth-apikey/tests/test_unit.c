/* Unit tests of the pure parts of auth-apikey: key text parsing and formatting, hashing, the
 * constant-time design, token buckets, the failed-attempt table and the key cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "aitbc/errors.h"
#include "keycache.h"
#include "keyfmt.h"
#include "ratelimit.h"

static const char *k_id = "key_abcdefghijklmnopqrstuvwxyz";
static const char *k_hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void test_parse_good(void **state) {
    (void)state;
    char text[256];
    snprintf(text, sizeof text, "aitbc_client_%s_%s", k_id, k_hex);
    keyfmt_parsed p;
    assert_int_equal(keyfmt_parse(text, &p), 0);
    assert_int_equal(p.role, AITBC_ROLE_CLIENT);
    assert_string_equal(p.key_id, k_id);
    assert_string_equal(p.secret, k_hex);
    snprintf(text, sizeof text, "aitbc_admin_%s_%s", k_id, k_hex);
    assert_int_equal(keyfmt_parse(text, &p), 0);
    assert_int_equal(p.role, AITBC_ROLE_ADMIN);
    snprintf(text, sizeof text, "aitbc_miner_%s_%s", k_id, k_hex);
    assert_int_equal(keyfmt_parse(text, &p), 0);
    assert_int_equal(p.role, AITBC_ROLE_MINER);
}

static void test_parse_bad(void **state) {
    (void)state;
    char text[512];
    keyfmt_parsed p;
    const char *bad_fmt[] = {
        "aitbc_root_%s_%s",    /* unknown role */
        "aitbc_Client_%s_%s",  /* roles are lower case */
        "aitbd_client_%s_%s",  /* prefix */
        "aitbc_client_%s_%sa", /* secret one char too long */
        "aitbc_client_%s__%s", /* empty part */
        "aitbc__client_%s_%s", " aitbc_client_%s_%s", "aitbc_client_%s_%s ",
    };
    for (size_t i = 0; i < sizeof bad_fmt / sizeof bad_fmt[0]; i++) {
        snprintf(text, sizeof text, bad_fmt[i], k_id, k_hex);
        assert_int_equal(keyfmt_parse(text, &p), AITBC_EINVAL);
    }
    const char *bad[] = {
        "",
        "aitbc_",
        "aitbc_client",
        "aitbc_client_",
        "aitbc_client__",
        "aitbc_client_key_abc_0011", /* short secret */
        "aitbc_client_key_abc_00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff",
        "aitbc_client_key_ABC_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "aitbc_client_job_abc_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "aitbc_client_key__00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "aitbc_client_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "aitbc_client_key_a_b_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "aitbc_client_key_a%00_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(keyfmt_parse(bad[i], &p), AITBC_EINVAL);
    assert_int_equal(keyfmt_parse(NULL, &p), AITBC_EINVAL);
    /* Far too long: refused without reading past the limit. */
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    memcpy(text, "aitbc_client_", 13);
    assert_int_equal(keyfmt_parse(text, &p), AITBC_EINVAL);
}

static void test_format_roundtrip(void **state) {
    (void)state;
    unsigned char secret[KEYFMT_SECRET_BYTES];
    randombytes_buf(secret, sizeof secret);
    char text[AITBC_API_KEY_MAX];
    assert_int_equal(keyfmt_format(AITBC_ROLE_MINER, k_id, secret, text), 0);
    keyfmt_parsed p;
    assert_int_equal(keyfmt_parse(text, &p), 0);
    assert_int_equal(p.role, AITBC_ROLE_MINER);
    assert_string_equal(p.key_id, k_id);
    unsigned char back[KEYFMT_SECRET_BYTES];
    assert_int_equal(
        sodium_hex2bin(back, sizeof back, p.secret, strlen(p.secret), NULL, NULL, NULL), 0);
    assert_memory_equal(back, secret, sizeof secret);
    /* The secret part never holds the separator, whatever the bytes. */
    assert_null(strchr(strrchr(text, '_') + 1, '_'));
    assert_int_equal(keyfmt_format(AITBC_ROLE_ANY, k_id, secret, text), AITBC_EINVAL);
    assert_int_equal(keyfmt_format(AITBC_ROLE_CLIENT, "job_abc", secret, text), AITBC_EINVAL);
}

static void test_hash(void **state) {
    (void)state;
    unsigned char pk1[KEYFMT_PEPPER_BYTES], pk2[KEYFMT_PEPPER_BYTES];
    keyfmt_pepper_key("pepper-one-0123456789", 21, pk1);
    keyfmt_pepper_key("pepper-two-0123456789", 21, pk2);
    unsigned char a[KEYFMT_HASH_BYTES], b[KEYFMT_HASH_BYTES], c[KEYFMT_HASH_BYTES];
    keyfmt_hash(pk1, "aitbc_client_key_abc_00", a);
    keyfmt_hash(pk1, "aitbc_client_key_abc_00", b);
    keyfmt_hash(pk2, "aitbc_client_key_abc_00", c);
    assert_true(keyfmt_hash_equal(a, b));
    assert_false(keyfmt_hash_equal(a, c)); /* the pepper matters */
    keyfmt_hash(pk1, "aitbc_admin_key_abc_00", c);
    assert_false(keyfmt_hash_equal(a, c)); /* the role is bound into the hash */
}

/* The comparison is over fixed-size hashes of the whole key, so "how many characters of the
 * secret match" cannot reach it: hashes of keys differing in the first or the last character are
 * as different as unrelated ones. Structural check, then a generous timing sanity check. */
static void test_constant_time_design(void **state) {
    (void)state;
    unsigned char pk[KEYFMT_PEPPER_BYTES];
    keyfmt_pepper_key("pepper-0123456789abcdef", 23, pk);
    char good[256], first[256], last[256];
    snprintf(good, sizeof good, "aitbc_client_%s_%s", k_id, k_hex);
    strcpy(first, good);
    strcpy(last, good);
    char *sec_first = strrchr(first, '_') + 1;
    sec_first[0] = sec_first[0] == '0' ? '1' : '0';
    last[strlen(last) - 1] = last[strlen(last) - 1] == 'f' ? 'e' : 'f';
    unsigned char hg[32], hf[32], hl[32];
    keyfmt_hash(pk, good, hg);
    keyfmt_hash(pk, first, hf);
    keyfmt_hash(pk, last, hl);
    /* Nearly-right keys do not give nearly-right hashes (leading bytes differ with p ≈ 1). */
    int same_prefix_f = 0, same_prefix_l = 0;
    while (same_prefix_f < 32 && hg[same_prefix_f] == hf[same_prefix_f])
        same_prefix_f++;
    while (same_prefix_l < 32 && hg[same_prefix_l] == hl[same_prefix_l])
        same_prefix_l++;
    assert_true(same_prefix_f < 4 && same_prefix_l < 4);

    /* Generous timing check: comparing a hash that differs in byte 0 vs only in byte 31. Each
     * run is a median of many batches; a data-dependent compare would be > 3x apart for 32 bytes
     * only if it exits early — we accept anything within 3x so noise never fails the test. */
    unsigned char x[32], y0[32], y31[32];
    randombytes_buf(x, sizeof x);
    memcpy(y0, x, 32);
    memcpy(y31, x, 32);
    y0[0] ^= 1;
    y31[31] ^= 1;
    double t0 = 1e18, t31 = 1e18;
    for (int round = 0; round < 7; round++) {
        struct timespec a, b;
        volatile int sink = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < 200000; i++)
            sink += keyfmt_hash_equal(x, y0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double d0 = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < 200000; i++)
            sink += keyfmt_hash_equal(x, y31);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double d31 = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
        t0 = d0 < t0 ? d0 : t0;
        t31 = d31 < t31 ? d31 : t31;
        assert_int_equal(sink, 0);
    }
    assert_true(t0 * 3 > t31 && t31 * 3 > t0);
}

static void test_bucket(void **state) {
    (void)state;
    rl_limit lim = {.rate = 2, .burst = 3};
    rl_bucket b = {0};
    int retry = 0;
    int64_t t = 1000000;
    assert_true(rl_take(&b, &lim, t, &retry));
    assert_true(rl_take(&b, &lim, t, &retry));
    assert_true(rl_take(&b, &lim, t, &retry));
    assert_false(rl_take(&b, &lim, t, &retry));
    assert_int_equal(retry, 1); /* 1 token at 2/s = 0.5 s → rounds up to 1 */
    assert_false(rl_take(&b, &lim, t + 400, &retry));
    assert_true(rl_take(&b, &lim, t + 500, &retry)); /* recovered */
    assert_false(rl_take(&b, &lim, t + 500, &retry));
    /* Long idle refills only up to the burst. */
    assert_true(rl_full(&b, &lim, t + 100000));
    for (int i = 0; i < 3; i++)
        assert_true(rl_take(&b, &lim, t + 100000, &retry));
    assert_false(rl_take(&b, &lim, t + 100000, &retry));
    /* A clock stepping back gives nothing. */
    assert_false(rl_take(&b, &lim, t, &retry));
    /* Slow rates give long Retry-After values. */
    rl_limit slow = {.rate = 0.1, .burst = 1};
    rl_bucket s = {0};
    assert_true(rl_take(&s, &slow, t, &retry));
    assert_false(rl_take(&s, &slow, t, &retry));
    assert_int_equal(retry, 10);
    /* rate 0 = unlimited */
    rl_limit off = {0, 0};
    rl_bucket o = {0};
    for (int i = 0; i < 1000; i++)
        assert_true(rl_take(&o, &off, t, &retry));
}

static void test_addr_table(void **state) {
    (void)state;
    rl_addr_table *t = rl_addr_new(3, 2); /* 3 failures per minute, at most 2 addresses */
    int retry = 0;
    int64_t now = 5000000;
    assert_false(rl_addr_blocked(t, "10.0.0.1", now, &retry));
    for (int i = 0; i < 3; i++)
        rl_addr_fail(t, "10.0.0.1", now);
    assert_true(rl_addr_blocked(t, "10.0.0.1", now, &retry));
    assert_int_equal(retry, 20);                               /* one failure back every 20 s */
    assert_false(rl_addr_blocked(t, "10.0.0.2", now, &retry)); /* others unaffected */
    assert_false(rl_addr_blocked(t, "10.0.0.1", now + 20000, &retry));
    rl_addr_fail(t, "10.0.0.2", now);
    assert_int_equal(rl_addr_count(t), 2);
    rl_addr_fail(t, "10.0.0.3", now); /* table full, nothing to sweep: untracked */
    assert_int_equal(rl_addr_count(t), 2);
    rl_addr_sweep(t, now + 60000 * 2);
    assert_int_equal(rl_addr_count(t), 0);
    rl_addr_free(t);

    rl_addr_table *off = rl_addr_new(0, 10);
    for (int i = 0; i < 100; i++)
        rl_addr_fail(off, "10.0.0.1", now);
    assert_false(rl_addr_blocked(off, "10.0.0.1", now, &retry));
    rl_addr_free(off);
}

static void fill_row(kc_row *row, unsigned role, const unsigned char hash[32]) {
    memset(row, 0, sizeof *row);
    memcpy(row->hash, hash, 32);
    row->role = role;
    strcpy(row->owner, "ait1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}

static void test_cache(void **state) {
    (void)state;
    kc_limits lim = {.by_role = {{1, 2}, {0, 0}, {0, 0}}};
    keycache *c = kc_new(&lim);
    unsigned char h[32], wrong[32];
    randombytes_buf(h, sizeof h);
    memcpy(wrong, h, 32);
    wrong[31] ^= 0x80;
    aitbc_principal p;
    int retry = 0;
    int64_t now = 1000000;
    assert_int_equal(kc_check(c, "key_a", AITBC_ROLE_CLIENT, h, now, &p, &retry), KC_MISS);
    kc_row row;
    fill_row(&row, AITBC_ROLE_CLIENT, h);
    kc_insert(c, "key_a", &row);
    assert_int_equal(kc_check(c, "key_a", AITBC_ROLE_CLIENT, h, now, &p, &retry), KC_OK);
    assert_string_equal(p.key_id, "key_a");
    assert_int_equal(p.role, AITBC_ROLE_CLIENT);
    assert_string_equal(p.owner_address, row.owner);
    assert_int_equal(kc_check(c, "key_a", AITBC_ROLE_CLIENT, wrong, now, &p, &retry), KC_BAD);
    assert_int_equal(kc_check(c, "key_a", AITBC_ROLE_ADMIN, h, now, &p, &retry), KC_BAD);
    /* Rate: burst 2 at 1/s, the first OK above used one. */
    assert_int_equal(kc_check(c, "key_a", AITBC_ROLE_CLIENT, h, now, &p, &retry), KC_OK);
    assert_int_equal(kc_check(c, "key_a", AITBC_ROLE_CLIENT, h, now, &p, &retry), KC_RATE);
    assert_int_equal(retry, 1);
    assert_int_equal(kc_check(c, "key_a", AITBC_ROLE_CLIENT, h, now + 1000, &p, &retry), KC_OK);
    assert_int_equal(kc_last_used(c, "key_a"), now + 1000);

    size_t n = 0;
    kc_used *u = kc_collect_used(c, &n);
    assert_int_equal(n, 1);
    assert_string_equal(u[0].key_id, "key_a");
    free(u);
    u = kc_collect_used(c, &n);
    assert_int_equal(n, 0); /* nothing new since */
    free(u);

    /* Revocation: a tombstone denies, and a stale reload cannot undo it. */
    kc_revoke(c, "key_a", now + 2000);
    assert_int_equal(kc_check(c, "key_a", AITBC_ROLE_CLIENT, h, now + 3000, &p, &retry), KC_BAD);
    kc_revoke(c, "key_b", now + 2000); /* not cached yet */
    fill_row(&row, AITBC_ROLE_CLIENT, h);
    kc_insert(c, "key_b", &row); /* a reload that read the row before the revoke */
    assert_int_equal(kc_check(c, "key_b", AITBC_ROLE_CLIENT, h, now + 3000, &p, &retry), KC_BAD);
    /* Tombstones go after keep_ms; the database then speaks again. */
    kc_sweep(c, now + 2000 + 61000, 60000, 600000);
    assert_int_equal(kc_check(c, "key_b", AITBC_ROLE_CLIENT, h, now, &p, &retry), KC_MISS);
    assert_int_equal(kc_count(c), 0);
    kc_free(c);
}

/* Several hosts on one database: a key another host revoked arrives as a revoked row for a key
 * this cache holds as valid; the entry takes the revocation (keeping its bucket), and a later
 * reload of an older, unrevoked row never brings the key back. */
static void test_cache_row_revoked(void **state) {
    (void)state;
    kc_limits lim = {.by_role = {{0, 0}, {0, 0}, {0, 0}}};
    keycache *c = kc_new(&lim);
    unsigned char h[32];
    randombytes_buf(h, sizeof h);
    aitbc_principal p;
    int retry = 0;
    kc_row row;
    fill_row(&row, AITBC_ROLE_CLIENT, h);
    kc_insert(c, "key_r", &row);
    assert_int_equal(kc_check(c, "key_r", AITBC_ROLE_CLIENT, h, 1000, &p, &retry), KC_OK);
    row.revoked = 1;
    kc_insert(c, "key_r", &row);
    assert_int_equal(kc_check(c, "key_r", AITBC_ROLE_CLIENT, h, 2000, &p, &retry), KC_BAD);
    row.revoked = 0;
    kc_insert(c, "key_r", &row);
    assert_int_equal(kc_check(c, "key_r", AITBC_ROLE_CLIENT, h, 3000, &p, &retry), KC_BAD);
    assert_int_equal(kc_count(c), 1);
    kc_free(c);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),           cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_format_roundtrip),     cmocka_unit_test(test_hash),
        cmocka_unit_test(test_constant_time_design), cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_addr_table),           cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_row_revoked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
