/* GET /metrics in Prometheus text format: requests by route/method/status, a latency
 * histogram per route and method, plugin info, uptime; then the writer and WebSocket series
 * (metrics_host.c) and what plugins report (metrics_plugins.c). Observing is lock-free once a
 * series exists (a fixed open-addressing table of atomic pointers; a mutex only to create a
 * series). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"
#include "metrics_priv.h"

#define TABLE_SIZE 4096 /* power of two; routes × methods stays far below */
#define STATUS_SLOTS 24

/* The latency buckets, listed once, in µs (observing) and in seconds (the le labels). */
#define BOUNDS(X)                                                                                  \
    X(500), X(1000), X(2500), X(5000), X(10000), X(25000), X(50000), X(100000), X(250000),         \
        X(500000), X(1000000), X(2500000), X(5000000), X(10000000), X(30000000)
#define BOUND_US(us) us
#define BOUND_S(us) (us) / 1e6
static const int64_t g_bounds_us[] = {BOUNDS(BOUND_US)};
static const double g_bounds_s[] = {BOUNDS(BOUND_S)};
#define NBUCKETS (sizeof g_bounds_us / sizeof *g_bounds_us)

typedef struct series {
    char route[128];
    char method[16];
    atomic_uint_fast64_t buckets[NBUCKETS + 1]; /* last = +Inf; not cumulative */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
    atomic_uint status_key[STATUS_SLOTS]; /* 0 = free slot */
    atomic_uint_fast64_t status_count[STATUS_SLOTS];
    atomic_uint_fast64_t status_other;
} series;

static _Atomic(series *) g_table[TABLE_SIZE];
static pthread_mutex_t g_create = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash2(const char *a, const char *b) {
    uint64_t h = 1469598103934665603ull;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ull;
    return h;
}

/* Methods outside the usual set share one label, so junk methods cannot grow the table. */
static const char *norm_method(const char *m) {
    static const char *known[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(m, known[i]) == 0) return known[i];
    return "OTHER";
}

static series *lookup(const char *route, const char *method) {
    uint64_t h = hash2(route, method);
    for (size_t probe = 0; probe < TABLE_SIZE; probe++) {
        size_t idx = (size_t)(h + probe) & (TABLE_SIZE - 1);
        series *s = atomic_load_explicit(&g_table[idx], memory_order_acquire);
        if (!s) {
            pthread_mutex_lock(&g_create);
            s = atomic_load_explicit(&g_table[idx], memory_order_acquire);
            if (!s) {
                s = calloc(1, sizeof *s);
                if (s) {
                    snprintf(s->route, sizeof s->route, "%s", route);
                    snprintf(s->method, sizeof s->method, "%s", method);
                    atomic_store_explicit(&g_table[idx], s, memory_order_release);
                }
            }
            pthread_mutex_unlock(&g_create);
            if (!s) return NULL;
        }
        if (strcmp(s->method, method) == 0 && strncmp(s->route, route, sizeof s->route - 1) == 0)
            return s;
    }
    return NULL;
}

void metrics_observe(const char *method, const char *pattern, unsigned status, int64_t micros) {
    series *s = lookup(pattern ? pattern : "unmatched", norm_method(method ? method : ""));
    if (!s) return;
    if (micros < 0) micros = 0;
    size_t b = 0;
    while (b < NBUCKETS && micros > g_bounds_us[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (uint_fast64_t)micros, memory_order_relaxed);
    for (size_t i = 0; i < STATUS_SLOTS; i++) {
        unsigned k = atomic_load_explicit(&s->status_key[i], memory_order_acquire);
        if (k == 0) {
            unsigned expected = 0;
            if (atomic_compare_exchange_strong(&s->status_key[i], &expected, status) ||
                expected == status) {
                atomic_fetch_add_explicit(&s->status_count[i], 1, memory_order_relaxed);
                return;
            }
            continue;
        }
        if (k == status) {
            atomic_fetch_add_explicit(&s->status_count[i], 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&s->status_other, 1, memory_order_relaxed);
}

void metrics_reset(void) {
    pthread_mutex_lock(&g_create);
    for (size_t i = 0; i < TABLE_SIZE; i++)
        free(atomic_exchange(&g_table[i], NULL));
    pthread_mutex_unlock(&g_create);
}

static int cmp_series(const void *a, const void *b) {
    const series *x = *(const series *const *)a, *y = *(const series *const *)b;
    int c = strcmp(x->route, y->route);
    return c ? c : strcmp(x->method, y->method);
}

static void render_requests(mbuf *b, series **all, size_t n) {
    mb_printf(b, "# HELP aitbc_http_requests_total HTTP requests by route pattern, method and "
                 "status.\n# TYPE aitbc_http_requests_total counter\n");
    char route[300];
    for (size_t i = 0; i < n; i++) {
        series *s = all[i];
        mb_escape(s->route, route, sizeof route);
        for (size_t k = 0; k < STATUS_SLOTS; k++) {
            unsigned st = atomic_load(&s->status_key[k]);
            if (st)
                mb_printf(b,
                          "aitbc_http_requests_total{route=\"%s\",method=\"%s\",status=\"%u\"} "
                          "%llu\n",
                          route, s->method, st,
                          (unsigned long long)atomic_load(&s->status_count[k]));
        }
        uint64_t other = atomic_load(&s->status_other);
        if (other)
            mb_printf(b,
                      "aitbc_http_requests_total{route=\"%s\",method=\"%s\",status=\"other\"} "
                      "%llu\n",
                      route, s->method, (unsigned long long)other);
    }
}

static void render_durations(mbuf *b, series **all, size_t n) {
    mb_printf(b, "# HELP aitbc_http_request_duration_seconds Time from request line to the end "
                 "of the response.\n# TYPE aitbc_http_request_duration_seconds histogram\n");
    char route[300], labels[400];
    for (size_t i = 0; i < n; i++) {
        series *s = all[i];
        mb_escape(s->route, route, sizeof route);
        snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\"", route, s->method);
        uint64_t counts[NBUCKETS + 1];
        for (size_t k = 0; k <= NBUCKETS; k++)
            counts[k] = atomic_load(&s->buckets[k]);
        mb_histogram(b, "aitbc_http_request_duration_seconds", labels, g_bounds_s, NBUCKETS, counts,
                     (double)atomic_load(&s->sum_us) / 1e6);
    }
}

static void render_process(mbuf *b) {
    mb_printf(b, "# HELP aitbc_plugins_info Loaded plugins.\n# TYPE aitbc_plugins_info gauge\n");
    size_t n = loader_count();
    for (size_t i = 0; i < n; i++) {
        aitbc_plugin_ctx *ctx = loader_at(i);
        if (!ctx || !ctx->desc) continue;
        char name[160], version[96];
        mb_escape(ctx->desc->name ? ctx->desc->name : "", name, sizeof name);
        mb_escape(ctx->desc->version ? ctx->desc->version : "", version, sizeof version);
        mb_printf(b, "aitbc_plugins_info{name=\"%s\",version=\"%s\"} 1\n", name, version);
    }
    int64_t started = host_started_ms();
    int64_t now = aitbc_now_ms();
    mb_printf(b,
              "# HELP aitbc_process_start_time_seconds Unix time the host started.\n"
              "# TYPE aitbc_process_start_time_seconds gauge\n"
              "aitbc_process_start_time_seconds %.3f\n",
              (double)started / 1e3);
    mb_printf(b,
              "# HELP aitbc_process_uptime_seconds Seconds since the host started.\n"
              "# TYPE aitbc_process_uptime_seconds gauge\n"
              "aitbc_process_uptime_seconds %.3f\n",
              started > 0 && now > started ? (double)(now - started) / 1e3 : 0.0);
    mb_printf(b,
              "# HELP aitbc_http_parked_requests Long-poll requests waiting right now.\n"
              "# TYPE aitbc_http_parked_requests gauge\n"
              "aitbc_http_parked_requests %zu\n",
              defer_parked());
    mb_printf(b,
              "# HELP aitbc_http_requests_in_flight Requests received and not yet completed "
              "(this one included).\n"
              "# TYPE aitbc_http_requests_in_flight gauge\n"
              "aitbc_http_requests_in_flight %d\n",
              http_inflight());
}

char *metrics_render(void) {
    mbuf b = {.cap = 8192};
    b.p = malloc(b.cap);
    series **all = calloc(TABLE_SIZE, sizeof *all);
    if (!b.p || !all) {
        free(b.p);
        free(all);
        return NULL;
    }
    b.p[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        series *s = atomic_load_explicit(&g_table[i], memory_order_acquire);
        if (s) all[n++] = s;
    }
    qsort(all, n, sizeof *all, cmp_series);
    render_requests(&b, all, n);
    render_durations(&b, all, n);
    render_process(&b);
    free(all);
    metrics_render_host(&b);
    metrics_render_plugins(&b);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
