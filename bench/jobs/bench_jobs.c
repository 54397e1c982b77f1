/* Job benchmarks over real HTTP against a real aitbc-host (auth-apikey, chain, client, miner,
 * admin): (1) submits per second with escrow, (2) submit→assign latency with one long-polling
 * miner (p50/p99), (3) full lifecycle jobs per second with N simulated miners. Every request
 * opens a new TCP connection (libcurl easy handle per call), as the test harness does.
 * usage: bench_jobs [submits] [latency_samples] [lifecycle_jobs] [miners] */
#include "jobs_th.h"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUBMITTERS 4
#define CAPS "{\"gpus\":[{\"name\":\"L4\",\"memory_mb\":24000}],\"job_types\":[\"%s\"]}"

static th_host *H;
static jt_client C;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *caps(const char *type) {
    static char b[256];
    snprintf(b, sizeof b, CAPS, type);
    return b;
}

/* ---- 1: submits per second ---- */
typedef struct sub_arg {
    int n;
    const char *type;
    int ok;
} sub_arg;

static void *submitter(void *p) {
    sub_arg *a = p;
    char body[128], id[64];
    snprintf(body, sizeof body, "{\"payload\":{\"type\":\"%s\"},\"max_price\":\"0.01\"}", a->type);
    for (int i = 0; i < a->n; i++)
        a->ok += jt_submit(H, &C, body, id) == 201;
    return NULL;
}

static double submit_rate(int total, const char *type, int *ok) {
    pthread_t t[SUBMITTERS];
    sub_arg a[SUBMITTERS];
    int64_t t0 = now_us();
    for (int i = 0; i < SUBMITTERS; i++) {
        /* the first thread takes the remainder: exactly total jobs, or the lifecycle waits on
         * jobs that were never submitted */
        a[i] = (sub_arg){total / SUBMITTERS + (i == 0 ? total % SUBMITTERS : 0), type, 0};
        pthread_create(&t[i], NULL, submitter, &a[i]);
    }
    *ok = 0;
    for (int i = 0; i < SUBMITTERS; i++) {
        pthread_join(t[i], NULL);
        *ok += a[i].ok;
    }
    return *ok / ((now_us() - t0) / 1e6);
}

/* ---- 2: submit → assign latency ---- */
typedef struct lat_arg {
    jt_miner m;
    int samples;
    int64_t *assigned_us; /* when the poll answer with sample i arrived */
    volatile int got;
} lat_arg;

static void *lat_miner(void *p) {
    lat_arg *a = p;
    while (a->got < a->samples) {
        th_resp r;
        jt_beat(H, &a->m, 20, "[]", &r);
        const cJSON *j;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(r.json, "jobs")) {
            a->assigned_us[a->got] = now_us();
            th_resp c;
            jt_complete(H, &a->m, jt_str(j, "job_id"), jt_int(j, "attempt"), "{\"t\":1}", 1, &c);
            th_resp_free(&c);
            __atomic_add_fetch(&a->got, 1, __ATOMIC_SEQ_CST);
        }
        th_resp_free(&r);
    }
    return NULL;
}

static int cmp64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static void latency(int samples, double *p50, double *p99) {
    lat_arg a = {.samples = samples};
    a.assigned_us = calloc((size_t)samples, sizeof(int64_t));
    int64_t *sent = calloc((size_t)samples, sizeof(int64_t)), *lat = calloc((size_t)samples, 8);
    jt_miner_register(H, &a.m, caps("lat"), 1, "0.001");
    pthread_t t;
    pthread_create(&t, NULL, lat_miner, &a);
    char id[64];
    for (int i = 0; i < samples; i++) {
        /* next job only once the previous one is done, so the miner is parked again */
        while (__atomic_load_n(&a.got, __ATOMIC_SEQ_CST) < i)
            ;
        struct timespec pause = {0, 2000000}; /* let the poll park (not part of the measure) */
        nanosleep(&pause, NULL);
        sent[i] = now_us();
        jt_submit(H, &C, "{\"payload\":{\"type\":\"lat\"},\"max_price\":\"0.01\"}", id);
    }
    pthread_join(t, NULL);
    for (int i = 0; i < samples; i++)
        lat[i] = a.assigned_us[i] - sent[i];
    qsort(lat, (size_t)samples, sizeof *lat, cmp64);
    *p50 = lat[samples / 2] / 1000.0;
    *p99 = lat[(samples * 99) / 100 < samples ? (samples * 99) / 100 : samples - 1] / 1000.0;
    free(a.assigned_us);
    free(sent);
    free(lat);
}

/* ---- 3: full lifecycle ---- */
static volatile int g_done, g_target;

static void *life_miner(void *p) {
    jt_miner *m = p;
    while (__atomic_load_n(&g_done, __ATOMIC_SEQ_CST) < g_target) {
        th_resp r;
        jt_beat(H, m, 1, "[]", &r);
        const cJSON *j;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(r.json, "jobs")) {
            th_resp c;
            if (jt_complete(H, m, jt_str(j, "job_id"), jt_int(j, "attempt"), "{\"t\":1}", 1, &c) ==
                200)
                __atomic_add_fetch(&g_done, 1, __ATOMIC_SEQ_CST);
            th_resp_free(&c);
        }
        th_resp_free(&r);
    }
    return NULL;
}

static double lifecycle(int jobs, int miners) {
    jt_miner *m = calloc((size_t)miners, sizeof *m);
    pthread_t *t = calloc((size_t)miners, sizeof *t);
    char type[32];
    snprintf(type, sizeof type, "life%d", miners);
    for (int i = 0; i < miners; i++)
        jt_miner_register(H, &m[i], caps(type), 2, "0.001");
    g_done = 0;
    g_target = jobs;
    int64_t t0 = now_us();
    for (int i = 0; i < miners; i++)
        pthread_create(&t[i], NULL, life_miner, &m[i]);
    int ok;
    submit_rate(jobs, type, &ok);
    for (int i = 0; i < miners; i++)
        pthread_join(t[i], NULL);
    double rate = g_done / ((now_us() - t0) / 1e6);
    free(m);
    free(t);
    return rate;
}

int main(int argc, char **argv) {
    int submits = argc > 1 ? atoi(argv[1]) : 4000;
    int samples = argc > 2 ? atoi(argv[2]) : 300;
    int life_jobs = argc > 3 ? atoi(argv[3]) : 2000;
    int miners = argc > 4 ? atoi(argv[4]) : 8;
    /* Every simulated miner registers from 127.0.0.1: lift the per-address limit (30/min), or
     * the miners past it get 429 and the lifecycle waits on them forever. */
    H = jt_start_ex("heartbeat_interval_s: 30, lease_s: 120, max_attempts: 3, "
                    "register_rate_per_min: 100000",
                    "http: { listen: \"127.0.0.1:0\", access_log: false, threads: 4 }\n");
    if (!H) {
        fprintf(stderr, "host did not start\n");
        return 1;
    }
    jt_client_new(H, "1000000", &C);
    int ok;
    double sr = submit_rate(submits, "nobody", &ok);
    printf("submit with escrow: %d jobs, %d threads: %.0f jobs/s (%d ok)\n", submits, SUBMITTERS,
           sr, ok);
    double p50, p99;
    latency(samples, &p50, &p99);
    printf("submit->assign (long-polling miner): %d samples: p50 %.2f ms, p99 %.2f ms\n", samples,
           p50, p99);
    double lr = lifecycle(life_jobs, miners);
    printf("full lifecycle (submit+poll+complete+settle): %d jobs, %d miners: %.0f jobs/s\n",
           life_jobs, miners, lr);
    double lr1 = lifecycle(life_jobs / 2, 1);
    printf("full lifecycle: %d jobs, 1 miner: %.0f jobs/s\n", life_jobs / 2, lr1);
    printf("ledger conserved: %s\n", jt_conserved(H) ? "yes" : "NO");
    int st = th_stop(H);
    th_free(H);
    return st;
}
