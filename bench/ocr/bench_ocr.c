/* OCR benchmark: the same images through (1) the tesseract command line, one process per image,
 * (2) the compute-ocr engine in this process (pooled Tesseract, no platform), and (3) the whole
 * platform end to end: a coordinator host (auth-apikey, chain, explorer, client, miner, admin) and
 * a miner-node host (miner-agent + compute-ocr) on loopback, a client submitting OCR jobs and
 * waiting for each to complete. (3) runs with miner-agent concurrency 1 and 2.
 * Wall time and CPU time (user + sys of every process involved) are reported per image/job, so
 * the ratio stays readable on a machine shared with other work.
 * usage: bench_ocr [jobs per run (default 12)] [image: page | line (default page)] */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jobs_th.h"
#include "ocr.h"

static unsigned char *g_image;
static size_t g_image_len;
static char *g_b64;
static const char *g_path;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv) {
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* user + sys seconds of a running process, from /proc/<pid>/stat. */
static double proc_cpu_s(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut = 0, st = 0;
    if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long host_pid(th_host *h) {
    char path[1100], buf[256] = "";
    snprintf(path, sizeof path, "%s/ready.json", th_data_dir(h));
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    long pid = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "pid"));
    cJSON_Delete(j);
    return pid;
}

typedef struct row {
    const char *what;
    int n;
    double wall, cpu; /* seconds for all n */
} row;

static void print_row(const row *r, double cli_wall, double cli_cpu) {
    printf("| %s | %d | %.2f | %.3f | %.3f | %.2f× | %.2f× |\n", r->what, r->n, r->n / r->wall,
           r->wall / r->n, r->cpu / r->n, (r->wall / r->n) / cli_wall, (r->cpu / r->n) / cli_cpu);
}

/* ---- (1) the tesseract command line ---- */

static pid_t spawn_cli(void) {
    fflush(NULL); /* or the child's freopen writes our buffered output again */
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execlp("tesseract", "tesseract", g_path, "-", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static row cli(int n, int parallel) {
    struct rusage before, after;
    getrusage(RUSAGE_CHILDREN, &before);
    double t0 = now_s();
    int running = 0, started = 0;
    while (started < n || running > 0) {
        while (running < parallel && started < n) {
            if (spawn_cli() > 0) running++;
            started++;
        }
        int st;
        if (wait(&st) > 0) {
            running--;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fprintf(stderr, "tesseract failed\n");
        }
    }
    double wall = now_s() - t0;
    getrusage(RUSAGE_CHILDREN, &after);
    double cpu =
        tv_s(after.ru_utime) - tv_s(before.ru_utime) + tv_s(after.ru_stime) - tv_s(before.ru_stime);
    return (row){parallel == 1 ? "`tesseract IMG -`, one at a time"
                               : "`tesseract IMG -`, 2 at a time",
                 n, wall, cpu};
}

/* ---- (2) the engine in process ---- */

typedef struct eng_arg {
    ocr_engine *e;
    int n;
    int ok;
} eng_arg;

static void *engine_worker(void *p) {
    eng_arg *a = p;
    cJSON *payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "type", "ocr");
    cJSON_AddStringToObject(payload, "image_base64", g_b64);
    for (int i = 0; i < a->n; i++) {
        aitbc_compute_out out = {0};
        a->ok += ocr_engine_run(a->e, payload, NULL, &out) == 0;
        cJSON_Delete(out.result);
        cJSON_Delete(out.error);
    }
    cJSON_Delete(payload);
    return NULL;
}

static row engine(int n, int threads) {
    ocr_config cfg = {NULL, "eng", 64 << 20, 100000000, 600000, 2};
    ocr_engine *e = NULL;
    char err[256];
    if (ocr_engine_new(&cfg, &e, err, sizeof err) != 0) {
        fprintf(stderr, "engine: %s\n", err);
        exit(1);
    }
    eng_arg warm = {e, 1, 0};
    engine_worker(&warm); /* the pool's first instance is loaded; a second loads on demand */
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    double t0 = now_s();
    pthread_t t[2];
    eng_arg a[2];
    for (int i = 0; i < threads; i++) {
        a[i] = (eng_arg){e, n / threads, 0};
        pthread_create(&t[i], NULL, engine_worker, &a[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double wall = now_s() - t0;
    getrusage(RUSAGE_SELF, &after);
    ocr_engine_free(e);
    double cpu =
        tv_s(after.ru_utime) - tv_s(before.ru_utime) + tv_s(after.ru_stime) - tv_s(before.ru_stime);
    return (row){threads == 1 ? "compute-ocr engine in process, 1 thread"
                              : "compute-ocr engine in process, 2 threads",
                 n, wall, cpu};
}

/* ---- (3) end to end ---- */

static int wait_completed(th_host *c, const char *id) {
    for (int tries = 0; tries < 20; tries++) {
        cJSON *job = jt_job(c, id, 30);
        const char *state = jt_str(job, "state");
        int done = state && (strcmp(state, "COMPLETED") == 0);
        int failed = state && (strcmp(state, "FAILED") == 0 || strcmp(state, "EXPIRED") == 0 ||
                               strcmp(state, "CANCELED") == 0);
        if (failed) {
            char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(job, "error"));
            fprintf(stderr, "job %s %s: %s\n", id, state, text);
            free(text);
        }
        cJSON_Delete(job);
        if (done || failed) return done;
    }
    return 0;
}

static row end_to_end(th_host *coord, const jt_client *client, const char *body, int n,
                      int concurrency) {
    char plugins[512];
    snprintf(plugins, sizeof plugins,
             "  miner-agent: { coordinator_url: \"http://127.0.0.1:%d\", concurrency: %d, "
             "unit_price: \"0.01\", unit_type: megapixel }\n"
             "  compute-ocr: { pool_size: %d, max_input_bytes: 67108864, max_pixels: 100000000 }\n",
             th_http_port(coord), concurrency, concurrency);
    th_host *miner = th_start(plugins, "http: { listen: \"127.0.0.1:0\", access_log: false }\n");
    if (!miner) exit(1);
    char id[64];
    /* Warm-up: the agent registers, the pool holds `concurrency` loaded instances. */
    char ids[2][64];
    for (int i = 0; i < concurrency; i++)
        if (jt_submit(coord, client, body, ids[i]) != 201) exit(1);
    for (int i = 0; i < concurrency; i++)
        if (!wait_completed(coord, ids[i])) exit(1);

    long cpid = host_pid(coord), mpid = host_pid(miner);
    double cpu0 = proc_cpu_s(cpid) + proc_cpu_s(mpid);
    double t0 = now_s();
    char(*all)[64] = calloc((size_t)n, 64);
    for (int i = 0; i < n; i++)
        if (jt_submit(coord, client, body, all[i]) != 201) exit(1);
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += wait_completed(coord, all[i]);
    double wall = now_s() - t0;
    double cpu = proc_cpu_s(cpid) + proc_cpu_s(mpid) - cpu0;
    if (ok != n) fprintf(stderr, "%d of %d jobs completed\n", ok, n);
    (void)id;
    free(all);
    th_stop(miner);
    th_free(miner);
    return (row){concurrency == 1 ? "end to end (client → coordinator → miner node), concurrency 1"
                                  : "end to end (client → coordinator → miner node), concurrency 2",
                 n, wall, cpu};
}

static int load_image(const char *which) {
    g_path = strcmp(which, "line") == 0 ? AITBC_SOURCE_DIR
                 "/plugins/compute-ocr/tests/data/hello.png"
                                        : AITBC_SOURCE_DIR "/bench/ocr/data/page.png";
    FILE *f = fopen(g_path, "rb");
    if (!f) return -1;
    g_image = malloc(16 << 20);
    g_image_len = fread(g_image, 1, 16 << 20, f);
    fclose(f);
    size_t cap = sodium_base64_ENCODED_LEN(g_image_len, sodium_base64_VARIANT_ORIGINAL);
    g_b64 = malloc(cap);
    sodium_bin2base64(g_b64, cap, g_image, g_image_len, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 12;
    const char *which = argc > 2 ? argv[2] : "page";
    if (n < 2 || sodium_init() < 0 || load_image(which) != 0) {
        fprintf(stderr, "usage: bench_ocr [jobs >= 2] [page|line]\n");
        return 2;
    }
    n -= n % 2;
    char load[128] = "?";
    FILE *la = fopen("/proc/loadavg", "r");
    if (la && fgets(load, sizeof load, la)) load[strcspn(load, " ")] = '\0';
    if (la) fclose(la);
    printf("image %s (%zu bytes), %d per run, load average %s at start, OMP_THREAD_LIMIT=%s\n\n",
           g_path, g_image_len, n, load,
           getenv("OMP_THREAD_LIMIT") ? getenv("OMP_THREAD_LIMIT") : "unset");

    row r_cli1 = cli(n, 1), r_cli2 = cli(n, 2);
    row r_eng1 = engine(n, 1), r_eng2 = engine(n, 2);

    th_host *coord = jt_start_ex("heartbeat_interval_s: 5, lease_s: 120, sweep_ms: 100",
                                 "http: { listen: \"127.0.0.1:0\", access_log: false }\n");
    if (!coord) return 1;
    jt_client client;
    jt_client_new(coord, "100000", &client);
    size_t cap = strlen(g_b64) + 128;
    char *body = malloc(cap);
    snprintf(body, cap,
             "{\"payload\":{\"type\":\"ocr\",\"image_base64\":\"%s\"},\"max_price\":\"10\"}",
             g_b64);
    row r_e2e1 = end_to_end(coord, &client, body, n, 1);
    row r_e2e2 = end_to_end(coord, &client, body, n, 2);
    free(body);
    th_stop(coord);
    th_free(coord);

    double cw = r_cli1.wall / r_cli1.n, cc = r_cli1.cpu / r_cli1.n;
    printf("| run | images | per s | wall s/image | CPU s/image | wall vs CLI | CPU vs CLI |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    const row *rows[] = {&r_cli1, &r_cli2, &r_eng1, &r_eng2, &r_e2e1, &r_e2e2};
    for (size_t i = 0; i < 6; i++)
        print_row(rows[i], cw, cc);
    printf("\nplatform overhead per job at concurrency 1 (end to end minus engine): wall %.3f s, "
           "CPU %.3f s\n",
           r_e2e1.wall / r_e2e1.n - r_eng1.wall / r_eng1.n,
           r_e2e1.cpu / r_e2e1.n - r_eng1.cpu / r_eng1.n);
    free(g_image);
    free(g_b64);
    return 0;
}
