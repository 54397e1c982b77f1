/* Chain micro-benchmarks, in process on the real storage layer (no HTTP):
 *   - ledger transfers per second, one write transaction per transfer (what a request does)
 *     and 1000 transfers per transaction (what a batch job does);
 *   - sealing one block of 10 000 pending transactions (Merkle root, state root, signature);
 *   - --verify-chain over the result.
 * Usage: bench_chain_ledger [transfers] (default 20000). Prints one line per measurement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "testhost.h"
#include "../../plugins/chain/chain.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    if (n < 1000) n = 1000;
    char dir[] = "/tmp/aitbc-bench-chain-XXXXXX", path[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fprintf(f,
            "node: { data_dir: \"%s\", log_level: warn }\nstorage: { path: \"%s/aitbc.db\" }\n"
            "plugins:\n  chain: { max_empty_interval_s: 0 }\n",
            dir, dir);
    fclose(f);
    /* Blocks are sealed here (chain_seal), so chain is initialised, not started. */
    const aitbc_plugin_desc *const linked[] = {aitbc_plugin_describe(), NULL};
    aitbc_testhost *host = aitbc_testhost_start(path, linked, AITBC_TESTHOST_INIT_ONLY);
    chain_state *cs = aitbc_testhost_state(host, "chain");
    if (!cs) return 1;
    const aitbc_ledger_v1 *L = &cs->ledger;
    const aitbc_host_api *api = aitbc_testhost_api(host);
    char a[2][AITBC_ADDRESS_MAX], ref[64];
    L->create_account(cs, NULL, a[0]);
    L->create_account(cs, NULL, a[1]);
    L->mint(cs, NULL, a[0], "AIT", 1000000000000, "bench-seed", NULL);
    chain_seal(cs, 0, NULL);

    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(ref, sizeof ref, "single-%d", i);
        if (L->transfer(cs, NULL, NULL, a[i & 1], a[!(i & 1)], "AIT", 1, ref, NULL) != 0)
            return fprintf(stderr, "transfer %d failed\n", i), 1;
    }
    double t1 = now_s();
    printf("ledger transfers, 1 per transaction: %d in %.3f s = %.0f/s\n", n, t1 - t0,
           n / (t1 - t0));
    chain_seal(cs, 0, NULL);

    t0 = now_s();
    for (int i = 0; i < n; i += 1000) {
        aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
        for (int j = i; j < i + 1000 && j < n; j++) {
            snprintf(ref, sizeof ref, "batch-%d", j);
            L->transfer(cs, t, NULL, a[j & 1], a[!(j & 1)], "AIT", 1, ref, NULL);
        }
        api->txn_commit(t);
    }
    t1 = now_s();
    printf("ledger transfers, 1000 per transaction: %d in %.3f s = %.0f/s\n", n, t1 - t0,
           n / (t1 - t0));
    chain_seal(cs, 0, NULL);

    /* 10k pending transactions among 1000 accounts, then one seal. */
    char(*acc)[AITBC_ADDRESS_MAX] = calloc(1000, AITBC_ADDRESS_MAX);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    for (int i = 0; i < 1000; i++) {
        snprintf(acc[i], AITBC_ADDRESS_MAX, "ait1%040x", i + 1);
        L->ensure_account(cs, t, acc[i]);
    }
    for (int i = 0; i < 10000; i++) {
        snprintf(ref, sizeof ref, "seal-%d", i);
        L->transfer(cs, t, NULL, a[0], acc[i % 1000], "AIT", 1 + i, ref, NULL);
    }
    api->txn_commit(t);
    int64_t h;
    t0 = now_s();
    chain_seal(cs, 0, &h);
    t1 = now_s();
    printf("seal block %lld with 10000 transactions (1002 balances): %.1f ms\n", (long long)h,
           (t1 - t0) * 1000);

    char msg[512];
    t0 = now_s();
    int bad = chain_verify(cs, msg, sizeof msg);
    t1 = now_s();
    printf("verify-chain: %s in %.1f ms\n", msg, (t1 - t0) * 1000);

    free(acc);
    aitbc_testhost_stop(host);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    if (system(path) != 0) return 1;
    return bad;
}
