/* Job benchmarks over real HTTP against a real aitbc-host (auth-apikey, chain, client, miner,
 * admin): (1) submits per second with escrow, (2) submit→assign latency with one long-polling
 * miner (p50/p99), (3) full lifecycle jobs per second with N simulated miners. Every request
 * opens a new TCP connection (libcurl easy handle per call), as the test harness does.
 * (4, with parked > 0) host CPU per job when one job at a time meets that many parked polls.
 * (hosts > 1) phases 1 and 3 spread over that many hosts of one node (th_start_beside: the same
 * database and secrets): submits go round-robin through them, miner i polls and completes
 * through host i % hosts, and every lifecycle job must be completed exactly once.
 * A count of 0 skips its phase (bench/cluster/run runs only the lifecycle).
 * usage: bench_jobs [submits] [latency_samples] [lifecycle_jobs] [miners] [parked] [hosts] */
#include "jobs_th.h"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SUBMITTERS 4
#define MAX_HOSTS 8
#define CAPS "{\"gpus\":[{\"name\":\"L4\",\"memory_mb\":24000}],\"job_types\":[\"%s\"]}"

static th_host *H; /* the first host: phases 2 and 4, the ledger check */
static th_host *HS[MAX_HOSTS];
static int NH = 1;
static jt_client C;

/* Lifecycle bookkeeping for the exactly-once check: ids as submitted and as completed (200). */
typedef struct id_list {
    pthread_mutex_t mu;
    char (*ids)[64];
    int n, cap;
} id_list;
static id_list g_submitted = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};
static id_list g_completed = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static void id_add(id_list *l, const char *id) {
    pthread_mutex_lock(&l->mu);
    if (l->n < l->cap) snprintf(l->ids[l->n++], 64, "%s", id ? id : "");
    pthread_mutex_unlock(&l->mu);
}

static void id_reset(id_list *l, int cap) {
    free(l->ids);
    l->ids = cap > 0 ? calloc((size_t)cap, sizeof *l->ids) : NULL;
    l->cap = l->ids ? cap : 0;
    l->n = 0;
}

static int cmp_id(const void *x, const void *y) {
    return strcmp(x, y);
}

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
    int n, first_host;
    const char *type;
    int ok;
} sub_arg;

static void *submitter(void *p) {
    sub_arg *a = p;
    char body[128], id[64];
    snprintf(body, sizeof body, "{\"payload\":{\"type\":\"%s\"},\"max_price\":\"0.01\"}", a->type);
    for (int i = 0; i < a->n; i++) {
        if (jt_submit(HS[(a->first_host + i) % NH], &C, body, id) != 201) continue;
        a->ok++;
        id_add(&g_submitted, id);
    }
    return NULL;
}

static double submit_rate(int total, const char *type, int *ok) {
    pthread_t t[SUBMITTERS];
    sub_arg a[SUBMITTERS];
    int64_t t0 = now_us();
    for (int i = 0; i < SUBMITTERS; i++) {
        /* the first thread takes the remainder: exactly total jobs, or the lifecycle waits on
         * jobs that were never submitted */
        a[i] = (sub_arg){total / SUBMITTERS + (i == 0 ? total % SUBMITTERS : 0), i, type, 0};
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

/* Until the host holds a parked long-poll (its gauge, from a scrape), at most ~1 s. The miner's
 * next poll first records its heartbeat on the writer: a submit sent before it parked would
 * measure that write's batch and the poll's own dispatch, not a wake of a parked poll. */
static void wait_parked(void) {
    struct timespec nap = {0, 200000};
    for (int i = 0; i < 5000 && !(jt_metric(H, "aitbc_http_parked_requests") >= 1); i++)
        nanosleep(&nap, NULL);
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
        /* next job only once the previous one is done, so the miner is parked again; napping,
         * not spinning: a spinning loop takes one of the two cores the host measures on */
        struct timespec nap = {0, 50000};
        while (__atomic_load_n(&a.got, __ATOMIC_SEQ_CST) < i)
            nanosleep(&nap, NULL);
        wait_parked(); /* not part of the measure, nor is a quiet millisecond after the scrape */
        struct timespec quiet = {0, 1000000};
        nanosleep(&quiet, NULL);
        sent[i] = now_us();
        if (jt_submit(H, &C, "{\"payload\":{\"type\":\"lat\"},\"max_price\":\"0.01\"}", id) !=
            201) {
            fprintf(stderr, "submit->assign: a submit was refused; stopping\n");
            exit(1); /* the miner thread would wait for it forever */
        }
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

typedef struct life_arg {
    jt_miner m;
    th_host *h; /* the host this miner polls and completes through */
} life_arg;

static void *life_miner(void *p) {
    life_arg *a = p;
    while (__atomic_load_n(&g_done, __ATOMIC_SEQ_CST) < g_target) {
        th_resp r;
        jt_beat(a->h, &a->m, 1, "[]", &r);
        const cJSON *j;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(r.json, "jobs")) {
            th_resp c;
            const char *id = jt_str(j, "job_id");
            if (jt_complete(a->h, &a->m, id, jt_int(j, "attempt"), "{\"t\":1}", 1, &c) == 200) {
                id_add(&g_completed, id);
                __atomic_add_fetch(&g_done, 1, __ATOMIC_SEQ_CST);
            }
            th_resp_free(&c);
        }
        th_resp_free(&r);
    }
    return NULL;
}

/* 1 when the completed ids are exactly the submitted ones, each once; else says what differs. */
static int exactly_once(void) {
    qsort(g_submitted.ids, (size_t)g_submitted.n, sizeof *g_submitted.ids, cmp_id);
    qsort(g_completed.ids, (size_t)g_completed.n, sizeof *g_completed.ids, cmp_id);
    int dup = 0, same = g_submitted.n == g_completed.n;
    for (int i = 1; i < g_completed.n; i++)
        dup += strcmp(g_completed.ids[i - 1], g_completed.ids[i]) == 0;
    for (int i = 0; same && i < g_completed.n; i++)
        same = strcmp(g_submitted.ids[i], g_completed.ids[i]) == 0;
    if (!same || dup)
        fprintf(stderr, "lifecycle: %d submitted, %d completions, %d duplicate completions\n",
                g_submitted.n, g_completed.n, dup);
    return same && !dup;
}

static double lifecycle(int jobs, int miners, int *once) {
    life_arg *m = calloc((size_t)miners, sizeof *m);
    pthread_t *t = calloc((size_t)miners, sizeof *t);
    char type[32];
    snprintf(type, sizeof type, "life%d", miners);
    for (int i = 0; i < miners; i++) {
        m[i].h = HS[i % NH];
        jt_miner_register(m[i].h, &m[i].m, caps(type), 2, "0.001");
    }
    /* room for a job completed twice, so the check can see it */
    id_reset(&g_submitted, jobs);
    id_reset(&g_completed, 2 * jobs);
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
    *once = exactly_once();
    id_reset(&g_submitted, 0);
    id_reset(&g_completed, 0);
    free(m);
    free(t);
    return rate;
}

/* ---- 4: one job among many parked polls ---- */
static volatile int g_fan_done, g_fan_stop;

static void *fan_miner(void *p) {
    jt_miner *m = p;
    while (!__atomic_load_n(&g_fan_stop, __ATOMIC_SEQ_CST)) {
        th_resp r;
        jt_beat(H, m, 5, "[]", &r);
        const cJSON *j;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(r.json, "jobs")) {
            th_resp c;
            jt_complete(H, m, jt_str(j, "job_id"), jt_int(j, "attempt"), "{\"t\":1}", 1, &c);
            th_resp_free(&c);
            __atomic_add_fetch(&g_fan_done, 1, __ATOMIC_SEQ_CST);
        }
        th_resp_free(&r);
    }
    return NULL;
}

/* The host's CPU time so far (user + system) in ms, from /proc (pid from its ready file). */
static double host_cpu_ms(void) {
    char path[512], buf[1024];
    snprintf(path, sizeof path, "%s/ready.json", th_data_dir(H));
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    cJSON *ready = cJSON_Parse(buf);
    int pid = (int)jt_int(ready, "pid");
    cJSON_Delete(ready);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* fields after the command name; utime, stime: 14, 15 */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* jobs submitted one at a time while `parked` miners wait in long-polls: host CPU per job. */
static double parked_fan_out(int jobs, int parked, double *p50) {
    jt_miner *m = calloc((size_t)parked, sizeof *m);
    pthread_t *t = calloc((size_t)parked, sizeof *t);
    int64_t *lat = calloc((size_t)jobs, sizeof *lat);
    for (int i = 0; i < parked; i++) {
        jt_miner_register(H, &m[i], caps("fan"), 1, "0.001");
        pthread_create(&t[i], NULL, fan_miner, &m[i]);
    }
    struct timespec settle = {0, 500000000}, pause = {0, 20000000};
    nanosleep(&settle, NULL);
    double cpu0 = host_cpu_ms();
    char id[64];
    for (int i = 0; i < jobs; i++) {
        nanosleep(&pause, NULL); /* the poll that took the last job parks again */
        int64_t t0 = now_us();
        jt_submit(H, &C, "{\"payload\":{\"type\":\"fan\"},\"max_price\":\"0.01\"}", id);
        while (__atomic_load_n(&g_fan_done, __ATOMIC_SEQ_CST) <= i)
            ;
        lat[i] = now_us() - t0;
    }
    /* the pauses are idle time: the CPU spent in them is the parked polls' own */
    double cpu = (host_cpu_ms() - cpu0) / jobs;
    __atomic_store_n(&g_fan_stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < parked; i++)
        pthread_join(t[i], NULL);
    qsort(lat, (size_t)jobs, sizeof *lat, cmp64);
    *p50 = lat[jobs / 2] / 1000.0;
    free(m);
    free(t);
    free(lat);
    return cpu;
}

int main(int argc, char **argv) {
    int submits = argc > 1 ? atoi(argv[1]) : 4000;
    int samples = argc > 2 ? atoi(argv[2]) : 300;
    int life_jobs = argc > 3 ? atoi(argv[3]) : 2000;
    int miners = argc > 4 ? atoi(argv[4]) : 8;
    int parked = argc > 5 ? atoi(argv[5]) : 0;
    NH = argc > 6 ? atoi(argv[6]) : 1;
    if (NH < 1 || NH > MAX_HOSTS || miners < 1) {
        fprintf(stderr, "bench_jobs: hosts must be 1..%d and miners at least 1\n", MAX_HOSTS);
        return 2;
    }
    /* Every simulated miner registers from 127.0.0.1: lift the per-address limit (30/min), or
     * the miners past it get 429 and the lifecycle waits on them forever. */
    /* One client submits them all, and phase 1's jobs stay QUEUED (no miner takes their type):
     * lift the per-account queue limit too, or later submits get 429 forever. */
    const char *http = "http: { listen: \"127.0.0.1:0\", access_log: false, threads: 4 }\n";
    H = HS[0] = jt_start_client("heartbeat_interval_s: 30, lease_s: 120, max_attempts: 3, "
                                "register_rate_per_min: 100000",
                                ", max_queued_jobs: 10000000", http);
    int started = H ? 1 : 0;
    while (started > 0 && started < NH &&
           (HS[started] = th_start_beside(H, jt_plugins_yaml(), http)))
        started++;
    if (started < NH) {
        fprintf(stderr, "host %d of %d did not start\n", started + 1, NH);
        while (started-- > 0)
            th_free(HS[started]); /* stops it; the first (owning the shared data) last */
        return 1;
    }
    jt_client_new(H, "1000000", &C);
    int ok, once = 1;
    if (submits > 0) {
        double sr = submit_rate(submits, "nobody", &ok);
        printf("submit with escrow: %d jobs, %d threads, %d host(s): %.0f jobs/s (%d ok)\n",
               submits, SUBMITTERS, NH, sr, ok);
    }
    if (samples > 0) {
        double p50, p99;
        latency(samples, &p50, &p99);
        printf("submit->assign (long-polling miner): %d samples: p50 %.2f ms, p99 %.2f ms\n",
               samples, p50, p99);
    }
    if (life_jobs > 0) {
        double lr = lifecycle(life_jobs, miners, &once);
        printf("full lifecycle (submit+poll+complete+settle): %d jobs, %d miners, %d host(s): "
               "%.0f jobs/s\n",
               life_jobs, miners, NH, lr);
        printf("every job completed exactly once: %s\n", once ? "yes" : "NO");
        if (NH == 1) {
            int once1;
            double lr1 = lifecycle(life_jobs / 2, 1, &once1);
            printf("full lifecycle: %d jobs, 1 miner: %.0f jobs/s (exactly once: %s)\n",
                   life_jobs / 2, lr1, once1 ? "yes" : "NO");
            once = once && once1;
        }
    }
    if (parked > 0) {
        double fan_p50, cpu = parked_fan_out(200, parked, &fan_p50);
        printf("one job at a time, %d miners parked in long-polls: host CPU %.2f ms per job, "
               "submit->done p50 %.2f ms\n",
               parked, cpu, fan_p50);
    }
    int conserved = jt_conserved(H);
    printf("ledger conserved: %s\n", conserved ? "yes" : "NO");
    int st = 0;
    for (int i = NH - 1; i >= 0; i--) { /* the first host owns the data dir the others share */
        st |= th_stop(HS[i]);
        th_free(HS[i]);
    }
    return st ? st : (once && conserved) ? 0 : 1;
}
