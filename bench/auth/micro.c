/* In-process micro-benchmark of the auth-apikey hot path on a cache hit: parse the key text,
 * peppered BLAKE2b of it, the failed-attempt table lookup, the cache lookup with its
 * constant-time compare and token bucket. No host, no HTTP: what authenticate() itself costs. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "keycache.h"
#include "keyfmt.h"
#include "ratelimit.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void) {
    if (sodium_init() < 0) return 1;
    unsigned char pk[KEYFMT_PEPPER_BYTES], secret[KEYFMT_SECRET_BYTES], hash[KEYFMT_HASH_BYTES];
    keyfmt_pepper_key("bench-pepper-0123456789", 23, pk);
    randombytes_buf(secret, sizeof secret);
    char key[AITBC_API_KEY_MAX];
    const char *id = "key_benchbenchbenchbenchbenc";
    keyfmt_format(AITBC_ROLE_CLIENT, id, secret, key);
    keyfmt_hash(pk, key, hash);
    kc_limits lim = {.by_role = {{0, 0}, {0, 0}, {0, 0}}};
    keycache *c = kc_new(&lim);
    kc_row row = {.role = AITBC_ROLE_CLIENT};
    memcpy(row.hash, hash, sizeof hash);
    strcpy(row.owner, "ait1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    kc_insert(c, id, &row);
    for (int i = 0; i < 1000; i++) /* other keys in the cache, as on a real node */
    {
        char other[48];
        snprintf(other, sizeof other, "key_other%05d", i);
        kc_insert(c, other, &row);
    }
    rl_addr_table *fails = rl_addr_new(30, 100000);
    rl_addr_fail(fails, "10.1.1.1", 1);

    const int n = 2000000;
    int ok = 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        int retry;
        aitbc_principal p;
        keyfmt_parsed k;
        unsigned char h[KEYFMT_HASH_BYTES];
        if (rl_addr_blocked(fails, "127.0.0.1", 1000 + i, &retry) || keyfmt_parse(key, &k) != 0)
            continue;
        keyfmt_hash(pk, key, h);
        ok += kc_check(c, k.key_id, k.role, h, 1000 + i, &p, &retry) == KC_OK;
    }
    double dt = now_s() - t0;
    printf("authenticate hot path (cache hit): %.0f ns per call, %.2f M calls/s on one thread (%d "
           "ok)\n",
           dt / n * 1e9, n / dt / 1e6, ok);
    kc_free(c);
    rl_addr_free(fails);
    return ok == n ? 0 : 1;
}
