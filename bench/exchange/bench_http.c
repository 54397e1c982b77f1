/* Orders per second over real HTTP against a real aitbc-host (auth-static, chain, explorer,
 * exchange): T client threads, one account each, placing a mix of resting limit orders (1..50
 * ticks off 0.001 BTC) and crossing IOC orders; every placement locks, settles its fills and
 * stores everything in one write transaction. Every request opens a new TCP connection (libcurl
 * easy handle per call, as the test harness does). Prints orders/s and latency p50/p99.
 * usage: bench_exchange_http [orders] [threads] [cross_percent] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "harness.h"

#define MAXT 8

static th_host *H;
static unsigned g_cross = 30;

typedef struct worker {
    int id, n, ok, fills;
    int64_t *lat_us;
} worker;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *run(void *arg) {
    worker *w = arg;
    uint64_t rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(w->id + 1);
    char key[16];
    snprintf(key, sizeof key, "k-c%d", w->id);
    for (int i = 0; i < w->n; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int buy = rng & 1, crossing = (unsigned)(rng >> 8) % 100 < g_cross;
        int off = crossing ? -20 : 1 + (int)((rng >> 20) % 50);
        int ticks = 1000 + (buy ? -off : off);
        char body[256];
        snprintf(body, sizeof body,
                 "{\"market\":\"AIT-BTC\",\"side\":\"%s\",\"type\":\"limit\",\"price\":\"0.%06d\","
                 "\"quantity\":\"%d\",\"time_in_force\":\"%s\"}",
                 buy ? "buy" : "sell", ticks, 1 + (int)((rng >> 32) % 5), crossing ? "IOC" : "GTC");
        th_resp r;
        memset(&r, 0, sizeof r);
        int64_t t0 = now_us();
        if (th_req(H, "POST", "/v1/exchange/orders", key, body, &r) == 0 && r.status == 201) {
            w->ok++;
            w->fills += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "fills"));
        }
        w->lat_us[i] = now_us() - t0;
        th_resp_free(&r);
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int orders = argc > 1 ? atoi(argv[1]) : 4000;
    int threads = argc > 2 ? atoi(argv[2]) : 4;
    g_cross = argc > 3 ? (unsigned)atoi(argv[3]) : 30;
    if (threads < 1 || threads > MAXT || orders < threads) return 2;
    char plugins[4096], keys[2048] = "";
    for (int i = 0; i < threads; i++) {
        char k[160];
        snprintf(k, sizeof k, "%s{key: \"k-c%d\", role: client, address: \"ait1%040x\"}",
                 i ? ", " : "", i, 0xc0 + i);
        strcat(keys, k);
    }
    char accts[1024] = "";
    for (int i = 0; i < threads; i++) {
        char a[64];
        snprintf(a, sizeof a, "%s\"ait1%040x\"", i ? ", " : "", 0xc0 + i);
        strcat(accts, a);
    }
    snprintf(
        plugins, sizeof plugins,
        "  auth-static: { keys: [ {key: \"k-admin\", role: admin, address: \"ait1%040x\"}, %s ] }\n"
        "  chain: { block_interval_ms: 1000, genesis: { accounts: [%s] } }\n"
        "  explorer: {}\n  exchange: {}\n",
        0xa, keys, accts);
    H = th_start(plugins, NULL);
    if (!H) return 1;
    for (int i = 0; i < threads; i++) {
        for (int a = 0; a < 2; a++) {
            char body[160];
            snprintf(body, sizeof body,
                     "{\"address\":\"ait1%040x\",\"asset\":\"%s\",\"amount\":\"1000000\"}",
                     0xc0 + i, a ? "BTC" : "AIT");
            th_resp r;
            memset(&r, 0, sizeof r);
            th_req(H, "POST", "/v1/admin/mint", "k-admin", body, &r);
            th_resp_free(&r);
        }
    }
    pthread_t t[MAXT];
    worker w[MAXT];
    int64_t *lat = calloc((size_t)orders, sizeof *lat);
    int per = orders / threads;
    int64_t t0 = now_us();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){.id = i, .n = per, .lat_us = lat + (size_t)i * per};
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    int ok = 0, fills = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
        fills += w[i].fills;
    }
    double dt = (now_us() - t0) / 1e6;
    int n = per * threads;
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("%d orders (%u%% crossing IOC), %d threads: %d ok, %d fills, %.0f orders/s, "
           "p50 %.2f ms, p99 %.2f ms\n",
           n, g_cross, threads, ok, fills, n / dt, lat[n / 2] / 1000.0, lat[n * 99 / 100] / 1000.0);
    free(lat);
    th_free(H);
    return ok == n ? 0 : 1;
}
