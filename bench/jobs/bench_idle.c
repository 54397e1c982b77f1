/* What a queue of big jobs costs a host that has nothing to do (issue 13, "idle cost"): a real
 * aitbc-host (job plugins, default 250 ms TTL sweep) with one registered miner that offers the
 * queued jobs' type but is too expensive for them, so they stay QUEUED and every heartbeat's
 * dispatch looks at them. Measured twice, with an empty queue and with N queued jobs of a
 * payload of K KiB each:
 *  - idle CPU: utime+stime of the host process over S seconds (/proc/<pid>/stat), in % of a core;
 *  - heartbeat latency: POST /v1/miners/{address}/heartbeat, M sequential calls, p50 and max.
 * usage: bench_idle [jobs=600] [payload_kib=1024] [seconds=10] [beats=20] [client settings]
 * (client settings: extra YAML of the client plugin, e.g. ", max_queued_jobs: 1000") */
#include "jobs_th.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAPS "{\"gpus\":[{\"name\":\"L4\",\"memory_mb\":24000}],\"job_types\":[\"idle\"]}"

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* utime + stime of pid in seconds, -1 when unreadable. The command name (field 2) may hold
 * spaces, so fields are counted from its closing parenthesis. */
static double cpu_s(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double idle_cpu_pct(th_host *h, int seconds) {
    double c0 = cpu_s(th_pid(h));
    int64_t t0 = now_us();
    sleep((unsigned)seconds);
    double c1 = cpu_s(th_pid(h));
    return c0 < 0 || c1 < 0 ? -1 : 100.0 * (c1 - c0) / ((double)(now_us() - t0) / 1e6);
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static void heartbeats(th_host *h, const jt_miner *m, int n, double *p50_ms, double *max_ms) {
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    for (int i = 0; i < n; i++) {
        th_resp r;
        int64_t t0 = now_us();
        long st = jt_beat(h, m, -1, "[]", &r);
        lat[i] = now_us() - t0;
        if (st != 200) fprintf(stderr, "heartbeat: %ld %s\n", st, r.body ? r.body : "");
        th_resp_free(&r);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    *p50_ms = (double)lat[n / 2] / 1000.0;
    *max_ms = (double)lat[n - 1] / 1000.0;
    free(lat);
}

static void measure(th_host *h, const jt_miner *m, const char *what, int seconds, int beats) {
    double cpu = idle_cpu_pct(h, seconds);
    double p50, max;
    heartbeats(h, m, beats, &p50, &max);
    printf("%-28s idle CPU %5.1f %% of a core over %d s; heartbeat p50 %8.2f ms, max %8.2f ms "
           "(%d calls)\n",
           what, cpu, seconds, p50, max, beats);
    fflush(stdout);
}

int main(int argc, char **argv) {
    int jobs = argc > 1 ? atoi(argv[1]) : 600;
    int kib = argc > 2 ? atoi(argv[2]) : 1024;
    int seconds = argc > 3 ? atoi(argv[3]) : 10;
    int beats = argc > 4 ? atoi(argv[4]) : 20;
    char client_cfg[512];
    snprintf(client_cfg, sizeof client_cfg, ", ttl_sweep_ms: 250%s", argc > 5 ? argv[5] : "");
    if (jobs < 0 || kib < 1 || seconds < 1 || beats < 1) {
        fprintf(stderr, "usage: bench_idle [jobs] [payload_kib] [seconds] [beats] [client yaml]\n");
        return 2;
    }
    th_host *h = jt_start_client("heartbeat_interval_s: 30, lease_s: 120", client_cfg,
                                 "http: { listen: \"127.0.0.1:0\", access_log: false }\n");
    if (!h) {
        fprintf(stderr, "host did not start\n");
        return 1;
    }
    jt_client c;
    jt_client_new(h, "0", &c);
    jt_miner m;
    if (jt_miner_register(h, &m, CAPS, 1, "0.001") != 201) {
        fprintf(stderr, "miner registration failed\n");
        return 1;
    }
    measure(h, &m, "empty queue:", seconds, beats);

    /* Free jobs (max_price 0) that the 0.001-a-unit miner never takes: they stay QUEUED. */
    size_t blob = (size_t)kib * 1024;
    char *body = malloc(blob + 128);
    int off = snprintf(body, blob + 128, "{\"payload\":{\"type\":\"idle\",\"blob\":\"");
    memset(body + off, 'a', blob);
    snprintf(body + off + blob, 128, "\"},\"ttl_seconds\":86400}");
    int64_t t0 = now_us();
    int ok = 0;
    for (int i = 0; i < jobs; i++) {
        long st = jt_submit(h, &c, body, NULL);
        ok += st == 201;
        if (st != 201 && ok == i) fprintf(stderr, "submit %d: %ld\n", i, st);
    }
    free(body);
    printf("submitted %d of %d jobs of %d KiB in %.1f s\n", ok, jobs, kib,
           (double)(now_us() - t0) / 1e6);
    char what[64];
    snprintf(what, sizeof what, "%d queued x %d KiB:", ok, kib);
    sleep(2); /* let the WAL checkpoint after the submits settle */
    measure(h, &m, what, seconds, beats);
    int st = th_stop(h);
    th_free(h);
    return st;
}
