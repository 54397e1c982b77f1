/* In-process benchmark of the host runtime: the SQLite store (write transactions, batched writes,
 * cached point reads, several writer threads), the event bus (publish → delivery) and the worker
 * pool. No HTTP, no plugins. Numbers go into bench/README.md, section "Storage/bus".
 * Usage: bench_runtime [N] (default 20000 operations per measurement). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void report(const char *what, long ops, int64_t us) {
    printf("%-52s %9.0f /s  (%ld in %.2f s)\n", what, ops * 1e6 / (double)(us ? us : 1), ops,
           us / 1e6);
}

static int insert_rows(long first, long count, int per_txn) {
    for (long i = 0; i < count; i += per_txn) {
        aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
        if (!t) return -1;
        for (long j = i; j < i + per_txn && j < count; j++) {
            aitbc_stmt *s = store_stmt(t, "INSERT INTO bench_rows (id, v) VALUES (?, ?)");
            store_bind_int64(s, 1, first + j);
            store_bind_text(s, 2, "some payload text of a typical row");
            int rc = store_step(s);
            store_stmt_done(s);
            if (rc != AITBC_DONE) {
                store_txn_rollback(t);
                return -1;
            }
        }
        if (store_txn_commit(t) != 0) return -1;
    }
    return 0;
}

typedef struct writer_arg {
    long first, count;
    int rc;
} writer_arg;

static void *writer(void *arg) {
    writer_arg *w = arg;
    w->rc = insert_rows(w->first, w->count, 1);
    store_thread_done();
    return NULL;
}

static int bench_store(long n, const char *dir) {
    host_settings set;
    memset(&set, 0, sizeof set);
    snprintf(set.db_path, sizeof set.db_path, "%s/bench.db", dir);
    snprintf(set.db_synchronous, sizeof set.db_synchronous, "normal");
    set.db_busy_timeout_ms = 10000;
    static const aitbc_migration steps[] = {
        {1, "CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"},
    };
    if (store_open(&set) != 0 || store_migrate("bench", steps, 1) != 0) return -1;

    int64_t t0 = mono_us();
    if (insert_rows(0, n, 1) != 0) return -1;
    report("store: insert, 1 write transaction each", n, mono_us() - t0);

    t0 = mono_us();
    if (insert_rows(n, n * 10, 1000) != 0) return -1;
    report("store: insert, 1000 per write transaction", n * 10, mono_us() - t0);

    enum { WRITERS = 4 };
    pthread_t th[WRITERS];
    writer_arg wa[WRITERS];
    t0 = mono_us();
    for (int i = 0; i < WRITERS; i++) {
        wa[i] = (writer_arg){.first = n * 11 + i * (n / WRITERS), .count = n / WRITERS};
        pthread_create(&th[i], NULL, writer, &wa[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        if (wa[i].rc != 0) return -1;
    }
    report("store: insert, 1 txn each, 4 writer threads", n / WRITERS * WRITERS, mono_us() - t0);

    t0 = mono_us();
    long found = 0;
    for (long i = 0; i < n * 5; i++) {
        aitbc_stmt *s = store_stmt(NULL, "SELECT v FROM bench_rows WHERE id = ?");
        store_bind_int64(s, 1, (i * 7919) % (n * 11));
        found += store_step(s) == AITBC_ROW;
        store_stmt_done(s);
    }
    report("store: point read by key (cached statement)", n * 5, mono_us() - t0);
    store_close();
    return found == n * 5 ? 0 : -1;
}

static atomic_long g_delivered;

static void on_event(const char *topic, uint64_t seq, const cJSON *data, void *user) {
    atomic_fetch_add(&g_delivered, 1);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int bench_bus(long n) {
    if (bus_start() != 0 || bus_subscribe("bench", on_event, NULL) != 0) return -1;
    int64_t t0 = mono_us();
    for (long i = 0; i < n * 5; i++) {
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "n", (double)i);
        cJSON_AddStringToObject(ev, "job_id", "job_abcdefghijklmnopqrstuvwxyz");
        cJSON_AddStringToObject(ev, "state", "RUNNING");
        while (bus_publish("bench", ev) == AITBC_EBUSY)
            sched_yield(); /* queue full: let the dispatcher catch up, drop nothing */
        cJSON_Delete(ev);
    }
    int64_t published = mono_us() - t0;
    while (atomic_load(&g_delivered) < n * 5)
        sched_yield();
    int64_t delivered = mono_us() - t0;
    report("bus: publish (deep copy + enqueue), 1 publisher", n * 5, published);
    report("bus: published and delivered to 1 subscriber", n * 5, delivered);

    /* One event in flight at a time: the dispatcher's wake-up cost, not queueing delay. */
    long rounds = n / 4;
    int64_t *lat = malloc((size_t)rounds * sizeof *lat);
    if (!lat) return -1;
    for (long i = 0; i < rounds; i++) {
        long before = atomic_load(&g_delivered);
        int64_t start = mono_us();
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "n", (double)i);
        bus_publish("bench", ev);
        cJSON_Delete(ev);
        while (atomic_load(&g_delivered) == before)
            sched_yield();
        lat[i] = mono_us() - start;
    }
    bus_stop();
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_i64);
    printf("%-52s p50 %lld us, p99 %lld us\n", "bus: publish→delivery, one event in flight",
           (long long)lat[rounds / 2], (long long)lat[rounds * 99 / 100]);
    free(lat);
    return 0;
}

static atomic_long g_tasks;

static void task(void *arg) {
    atomic_fetch_add(&g_tasks, 1);
}

static int bench_work(long n) {
    if (work_start(2) != 0) return -1;
    int64_t t0 = mono_us();
    for (long i = 0; i < n * 5; i++)
        if (work_submit(task, NULL) != 0) return -1;
    work_stop(); /* finishes the queue */
    report("work: submit + run empty tasks, 2 workers", n * 5, mono_us() - t0);
    return atomic_load(&g_tasks) == n * 5 ? 0 : -1;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 20000;
    if (n < 4) n = 4;
    hlog_set_level(AITBC_LOG_WARN);
    char dir[] = "/tmp/aitbc-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    int rc = bench_store(n, dir);
    if (rc == 0) rc = bench_bus(n);
    if (rc == 0) rc = bench_work(n);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    if (rc != 0) fprintf(stderr, "benchmark failed\n");
    return rc == 0 ? 0 : 1;
}
