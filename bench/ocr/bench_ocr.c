/* bench_ocr: OCR jobs/s end to end — a client submits N jobs to a coordinator, a miner node
 * (miner-agent + compute-ocr, concurrency 1 and 2) runs them, the client waits for all — against
 * the tesseract command recognising the same image N times in one process (one model load, as
 * the node's Tesseract pool). usage: bench_ocr [N]  (default 40) */
#include "agent_th.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *job_body(void) {
    unsigned char buf[65536];
    FILE *f = fopen(OCR_IMAGE, "rb");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap), *body = malloc(cap + 128);
    sodium_bin2base64(b64, cap, buf, n, sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, cap + 128, "{\"payload\":{\"type\":\"ocr\",\"image_base64\":\"%s\"}}", b64);
    free(b64);
    return body;
}

/* Seconds for n jobs through a miner node with `slots` job slots. */
static double platform(th_host *coord, int slots, int n, const char *body) {
    char plugins[512], addr[48];
    snprintf(plugins, sizeof plugins,
             "  miner-agent: { coordinator_url: \"http://127.0.0.1:%d\", concurrency: %d }\n"
             "  compute-ocr: { pool_size: %d }\n",
             th_http_port(coord), slots, slots);
    th_host *m = th_start(plugins, "http:\n  listen: \"127.0.0.1:0\"\n  access_log: false\n");
    if (!m) return -1;
    at_address(m, addr);
    if (!at_wait_miner(coord, addr, "ONLINE", 20000)) return -1;
    jt_client c;
    jt_client_new(coord, "0", &c);
    char (*ids)[64] = calloc((size_t)n, 64);
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        if (jt_submit(coord, &c, body, ids[i]) != 201) return -1;
    for (int i = 0; i < n; i++)
        if (!at_wait_job(coord, ids[i], "COMPLETED", addr, 120000)) return -1;
    double took = now_s() - t0;
    free(ids);
    th_free(m);
    return took;
}

/* Seconds for the tesseract command to read the image n times in one run (a list file). */
static double direct(int n) {
    char list[] = "/tmp/bench-ocr-XXXXXX";
    int fd = mkstemp(list);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\n", OCR_IMAGE);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tesseract %s - >/dev/null 2>&1", list);
    double t0 = now_s();
    int rc = system(cmd);
    double took = now_s() - t0;
    remove(list);
    return rc == 0 ? took : -1;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 40;
    if (n < 1 || sodium_init() < 0) return 2;
    char *body = job_body();
    th_host *coord = jt_start_ex("heartbeat_interval_s: 5, lease_s: 60",
                                 "http:\n  listen: \"127.0.0.1:0\"\n  access_log: false\n");
    if (!body || !coord) return 1;
    double d = direct(n), p1 = platform(coord, 1, n, body), p2 = platform(coord, 2, n, body);
    printf("jobs: %d of %s\n", n, OCR_IMAGE);
    printf("tesseract command, one process: %.2f s = %.1f images/s, %.1f ms each\n", d, n / d,
           1000 * d / n);
    printf("platform, concurrency 1: %.2f s = %.1f jobs/s, %.1f ms each (%.2fx direct)\n", p1,
           n / p1, 1000 * p1 / n, p1 / d);
    printf("platform, concurrency 2: %.2f s = %.1f jobs/s, %.1f ms each (%.2fx direct)\n", p2,
           n / p2, 1000 * p2 / n, p2 / d);
    th_free(coord);
    free(body);
    return d > 0 && p1 > 0 && p2 > 0 ? 0 : 1;
}
