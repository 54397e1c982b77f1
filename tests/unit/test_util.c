/* base64url, hex, ids, RFC 3339 time, addresses and signature checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <sodium.h>

#include "aitbc/errors.h"
#include "aitbc/util.h"

static void base64url_round_trip_and_refusals(void **state) {
    (void)state;
    const unsigned char data[] = {0xff, 0xfe, 0xfd, 0x00, 'a', 'b'};
    char text[16];
    unsigned char back[16];
    assert_int_equal(aitbc_b64url_encode(data, sizeof data, text), 8);
    assert_string_equal(text, "__79AGFi"); /* independent: Python's urlsafe_b64encode */
    assert_int_equal(aitbc_b64url_decode(text, back, sizeof back), 6);
    assert_memory_equal(back, data, 6);
    for (size_t len = 0; len <= 5; len++) {
        aitbc_b64url_encode(data, len, text);
        assert_int_equal(aitbc_b64url_decode(text, back, sizeof back), (long)len);
        assert_memory_equal(back, data, len);
    }
    assert_int_equal(aitbc_b64url_decode("ab+c", back, sizeof back), -1); /* not url alphabet */
    assert_int_equal(aitbc_b64url_decode("a", back, sizeof back), -1);    /* impossible length */
    assert_int_equal(aitbc_b64url_decode("__79AGFi", back, 3), -1);       /* too long for out */
    assert_int_equal(aitbc_b64url_decode("AB", back, sizeof back), -1);   /* non-zero spare bits */
}

static void hex_round_trip(void **state) {
    (void)state;
    unsigned char in[3] = {0x00, 0xab, 0xff}, out[3];
    char text[7];
    aitbc_hex_encode(in, 3, text);
    assert_string_equal(text, "00abff");
    assert_int_equal(aitbc_hex_decode("00ABff", out, 3), 0);
    assert_memory_equal(in, out, 3);
    assert_int_equal(aitbc_hex_decode("00abf", out, 3), AITBC_EINVAL);
    assert_int_equal(aitbc_hex_decode("00abfg", out, 3), AITBC_EINVAL);
}

static void ids_are_prefixed_and_distinct(void **state) {
    (void)state;
    char a[AITBC_ID_MAX], b[AITBC_ID_MAX];
    aitbc_random_id("job", a);
    aitbc_random_id("job", b);
    assert_int_equal(strlen(a), 4 + 26);
    assert_memory_equal(a, "job_", 4);
    assert_string_not_equal(a, b);
    for (const char *p = a + 4; *p; p++)
        assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz234567", *p));
}

/* What aitbc_time_format must print: the C library's broken-down UTC time, at most 31 chars
 * (the test's values stay far from INT64_MIN, so the floor division below cannot overflow). */
static void reference_format(int64_t unix_ms, char out[AITBC_TIME_MAX]) {
    int64_t floor_s = unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000);
    time_t t = (time_t)floor_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    char full[128];
    int n = snprintf(full, sizeof full, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(unix_ms - floor_s * 1000));
    size_t keep = n < AITBC_TIME_MAX ? (size_t)n : AITBC_TIME_MAX - 1;
    memcpy(out, full, keep);
    out[keep] = '\0';
}

static void time_format_matches_gmtime(void **state) {
    (void)state;
    /* The edges of the four-digit years, the epoch, leap days, and a spread over every era. */
    static const int64_t fixed[] = {-62167219200001LL,
                                    -62167219200000LL,
                                    -62167219199999LL,
                                    -1,
                                    0,
                                    1,
                                    951782400000LL,
                                    951868799999LL,
                                    4107542399999LL,
                                    4107542400000LL,
                                    253402300799999LL,
                                    253402300800000LL,
                                    -2203891200000LL,
                                    68169600000LL,
                                    1795921200123LL};
    char got[AITBC_TIME_MAX], want[AITBC_TIME_MAX];
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        aitbc_time_format(fixed[i], got);
        reference_format(fixed[i], want);
        assert_string_equal(got, want);
    }
    uint64_t x = 0x9e3779b97f4a7c15ULL; /* a fixed xorshift sequence: the same cases every run */
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Over [-70 000, 70 000) years around the epoch: both the fast and the fallback path. */
        int64_t ms = (int64_t)(x % 4417920000000000ULL) - 2208960000000000LL;
        if (i % 2) ms = (int64_t)(x % 10000000000ULL) * 1000 / 997; /* 1970..2286, odd ms */
        aitbc_time_format(ms, got);
        reference_format(ms, want);
        if (strcmp(got, want) != 0) fail_msg("%lld: %s, expected %s", (long long)ms, got, want);
    }
}

static void time_formats_and_parses(void **state) {
    (void)state;
    char text[AITBC_TIME_MAX];
    aitbc_time_format(1795921200123, text);
    assert_string_equal(text, "2026-11-29T03:00:00.123Z");
    int64_t ms;
    assert_int_equal(aitbc_time_parse(text, &ms), 0);
    assert_int_equal(ms, 1795921200123);
    assert_int_equal(aitbc_time_parse("2026-11-29T04:00:00+01:00", &ms), 0);
    assert_int_equal(ms, 1795921200000);
    assert_int_equal(aitbc_time_parse("2026-11-29T03:00:00.5Z", &ms), 0);
    assert_int_equal(ms, 1795921200500);
    static const char *const bad[] = {"",
                                      "2026-11-29",
                                      "2026-11-29T03:00:00",
                                      "2026-13-01T00:00:00Z",
                                      "2026-02-31T00:00:00Z",
                                      "2026-11-29T03:00:00.Z",
                                      "2026-11-29T03:00:00Zjunk",
                                      "2026-11-29 03:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(aitbc_time_parse(bad[i], &ms), AITBC_EINVAL);
    int64_t now = aitbc_now_ms();
    assert_true(now > 1700000000000 && now < 4102444800000);
}

static void addresses_follow_api_md(void **state) {
    (void)state;
    unsigned char pk[32];
    for (int i = 0; i < 32; i++)
        pk[i] = (unsigned char)i;
    char addr[48];
    aitbc_address_from_pubkey(pk, addr);
    /* independent: Python hashlib.blake2b(bytes(range(32)), digest_size=32), first 20 bytes */
    assert_string_equal(addr, "ait1cb2f5160fc1f7e05a55ef49d340b48da2e5a7809");
    assert_true(aitbc_address_valid(addr));
    assert_false(aitbc_address_valid("ait1CB2F5160FC1F7E05A55EF49D340B48DA2E5A7809"));
    assert_false(aitbc_address_valid("ait1cb2f5160fc1f7e05a55ef49d340b48da2e5a780"));
    assert_false(aitbc_address_valid("btc1cb2f5160fc1f7e05a55ef49d340b48da2e5a7809"));
    assert_false(aitbc_address_valid(NULL));
}

static void verifies_ed25519_signatures(void **state) {
    (void)state;
    assert_true(sodium_init() >= 0);
    unsigned char pk[32], sk[64], sig[64];
    crypto_sign_keypair(pk, sk);
    const char msg[] = "aitbc-register\nkey\n1795921200";
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, sizeof msg - 1, sk);
    char pk_hex[65], sig_b64[90];
    aitbc_hex_encode(pk, 32, pk_hex);
    aitbc_b64url_encode(sig, 64, sig_b64);
    assert_int_equal(aitbc_ed25519_verify_b64(pk_hex, sig_b64, msg, sizeof msg - 1), 0);
    assert_int_equal(aitbc_ed25519_verify_b64(pk_hex, sig_b64, msg, sizeof msg - 2), AITBC_ESIG);
    sig_b64[5] = sig_b64[5] == 'A' ? 'B' : 'A';
    assert_int_equal(aitbc_ed25519_verify_b64(pk_hex, sig_b64, msg, sizeof msg - 1), AITBC_ESIG);
    assert_int_equal(aitbc_ed25519_verify_b64("zz", sig_b64, msg, 3), AITBC_ESIG);
    assert_int_equal(aitbc_ed25519_verify_b64(pk_hex, "short", msg, 3), AITBC_ESIG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64url_round_trip_and_refusals),
        cmocka_unit_test(hex_round_trip),
        cmocka_unit_test(ids_are_prefixed_and_distinct),
        cmocka_unit_test(time_formats_and_parses),
        cmocka_unit_test(time_format_matches_gmtime),
        cmocka_unit_test(addresses_follow_api_md),
        cmocka_unit_test(verifies_ed25519_signatures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
