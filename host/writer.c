/* Group commit: one writer thread runs the write work of many requests inside one transaction.
 *
 * Work arrives as writer_items (a write route's handler, a plugin's txn_submit). The thread takes
 * the first, opens the batch (BEGIN IMMEDIATE), runs items one after another while more are
 * queued — each caller's outermost txn_begin becomes a SAVEPOINT, so a failing item rolls back
 * alone — and commits when the queue is empty or the batch is full. No timer ever holds a batch
 * open: idle, a lone request commits at once; under load the next batch fills while this one
 * commits. With synchronous=full that is one fsync per batch instead of one per request.
 *
 * Whatever an item makes visible outside the database is held until its batch has committed:
 * bus events and wake-ups made on this thread during the batch are captured here and released
 * after COMMIT (dropped on failure); each item's settle callback (answer the request, resume its
 * connection) runs after that, told whether the batch committed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define BATCH_MAX 256

typedef struct effect {
    char *topic; /* NULL for a wake-up or a callback */
    char *key;   /* wake key, or NULL for an event or a callback */
    cJSON *data;
    aitbc_write_done_fn done; /* txn_after's callback, or NULL */
    void *done_arg;
    struct effect *next;
} effect;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static writer_item *g_head, *g_tail;
static int g_run;     /* accepting work */
static int g_started; /* the thread exists */
static pthread_t g_thread;
static size_t g_queued;
static uint64_t g_batches, g_items, g_failed; /* guarded by g_lock */
/* Batch size and commit time histograms for /metrics, guarded by g_lock. */
static uint64_t g_size_hist[WRITER_SIZE_NB + 1], g_commit_hist[WRITER_COMMIT_NB + 1];
static uint64_t g_commit_us_sum;

/* The writer thread's open batch: its captured effects, in order. */
static _Thread_local int tl_in_batch;
static _Thread_local effect *tl_fx_head, *tl_fx_tail;

static void fx_append(effect *e) {
    if (tl_fx_tail)
        tl_fx_tail->next = e;
    else
        tl_fx_head = e;
    tl_fx_tail = e;
}

int writer_capture_take(const char *topic, cJSON **data) {
    if (!tl_in_batch || !topic || !topic[0] || !strcmp(topic, "*") || !data || !*data)
        return 0; /* bus_publish refuses these itself */
    effect *e = calloc(1, sizeof *e);
    if (!e || !(e->topic = strdup(topic))) {
        free(e);
        return 0; /* out of memory: publish at once rather than lose it */
    }
    e->data = *data;
    *data = NULL;
    fx_append(e);
    return 1;
}

int writer_in_batch(void) {
    return tl_in_batch;
}

int writer_capture_wake(const char *key) {
    if (!tl_in_batch || !key) return 0;
    effect *e = calloc(1, sizeof *e);
    if (!e || !(e->key = strdup(key))) {
        free(e);
        return 0;
    }
    fx_append(e);
    return 1;
}

int writer_txn_after(aitbc_write_done_fn done, void *arg) {
    if (!tl_in_batch || !done) return AITBC_EINVAL;
    effect *e = calloc(1, sizeof *e);
    if (!e) return AITBC_ENOMEM;
    e->done = done;
    e->done_arg = arg;
    fx_append(e);
    return 0;
}

/* Several hosts (cluster_events.c): before the batch commits, every captured event and wake-up
 * goes into the outbox in this same transaction, so the other hosts learn of exactly what
 * committed. 0, or an error: then the batch must not commit. */
static int fx_to_outbox(void) {
    if (!cluster_active()) return 0;
    int rc = 0;
    for (effect *e = tl_fx_head; e && rc == 0; e = e->next) {
        if (e->topic)
            rc = cluster_outbox_event(e->topic, e->data);
        else if (e->key)
            rc = cluster_outbox_wake(e->key);
    }
    rc = rc == 0 ? cluster_outbox_flush() : (cluster_outbox_discard(), rc);
    if (rc != 0)
        hlog("store", AITBC_LOG_ERROR, "cannot record a batch's events for the other hosts (%d)",
             rc);
    return rc;
}

/* Publish (committed) or drop every captured effect, in capture order; txn_after callbacks run
 * either way, told which. */
static void fx_release(int committed) {
    effect *e = tl_fx_head;
    tl_fx_head = tl_fx_tail = NULL;
    while (e) {
        effect *next = e->next;
        if (committed && e->topic) {
            /* Its owner was checked when it was captured; the captured copy is queued as is. */
            bus_publish_owned(e->topic, e->data);
            e->data = NULL;
        } else if (committed && e->key)
            http_wake(e->key);
        else if (e->done)
            e->done(e->done_arg, committed ? 0 : AITBC_EIO);
        free(e->topic);
        free(e->key);
        cJSON_Delete(e->data);
        free(e);
        e = next;
    }
}

int writer_submit(writer_item *it) {
    it->next = NULL;
    pthread_mutex_lock(&g_lock);
    if (!g_run) {
        pthread_mutex_unlock(&g_lock);
        return AITBC_EUNAVAIL;
    }
    if (g_tail)
        g_tail->next = it;
    else
        g_head = it;
    g_tail = it;
    g_queued++;
    pthread_cond_signal(&g_cond);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

/* The next queued item, or NULL. wait: block until there is one (NULL once stopped and empty). */
static writer_item *take(int wait) {
    pthread_mutex_lock(&g_lock);
    while (wait && !g_head && g_run)
        pthread_cond_wait(&g_cond, &g_lock);
    writer_item *it = g_head;
    if (it) {
        g_head = it->next;
        if (!g_head) g_tail = NULL;
        it->next = NULL;
        g_queued--;
    }
    pthread_mutex_unlock(&g_lock);
    return it;
}

/* g_lock held: count a batch of n writes whose COMMIT took commit_us (-1: none was tried). */
static void note_batch(size_t n, int64_t commit_us) {
    static const size_t size_bounds[] = WRITER_SIZE_BOUNDS;
    static const int64_t commit_bounds[] = WRITER_COMMIT_BOUNDS_US;
    size_t b = 0;
    while (b < WRITER_SIZE_NB && n > size_bounds[b])
        b++;
    g_size_hist[b]++;
    if (commit_us < 0) return;
    b = 0;
    while (b < WRITER_COMMIT_NB && commit_us > commit_bounds[b])
        b++;
    g_commit_hist[b]++;
    g_commit_us_sum += (uint64_t)commit_us;
}

/* Runs one batch starting with first. */
static void run_batch(writer_item *first) {
    writer_item *done_head = NULL, **done_tail = &done_head;
    int begun = store_batch_begin() == 0, alive = begun;
    size_t n = 0;
    writer_item *it = first;
    tl_in_batch = 1;
    while (it) {
        if (alive) {
            it->run(it->arg);
            alive = store_batch_check() == 0;
        }
        *done_tail = it;
        done_tail = &it->next;
        if (!alive || ++n >= BATCH_MAX) {
            n += !alive;
            break;
        }
        it = take(0);
    }
    if (alive && fx_to_outbox() != 0) alive = 0;
    tl_in_batch = 0;
    int64_t t0 = aitbc_mono_us();
    int committed = begun && store_batch_end(alive) == 0;
    int64_t commit_us = aitbc_mono_us() - t0;
    if (begun && !committed)
        hlog("store", AITBC_LOG_ERROR, "a write batch of %zu failed to commit: answered 503", n);
    pthread_mutex_lock(&g_lock);
    g_batches++;
    g_items += n;
    g_failed += !committed;
    note_batch(n, begun ? commit_us : -1);
    pthread_mutex_unlock(&g_lock);
    fx_release(committed);
    for (it = done_head; it;) {
        writer_item *next = it->next; /* settle may free the item */
        it->settle(it->arg, committed ? WRITER_COMMITTED : begun ? WRITER_FAILED : WRITER_NOT_RUN);
        it = next;
    }
}

static void *writer_main(void *arg) {
    (void)arg;
    writer_item *it;
    while ((it = take(1)))
        run_batch(it);
    store_thread_done();
    return NULL;
}

int writer_start(void) {
    pthread_mutex_lock(&g_lock);
    int rc = 0;
    if (!g_started) {
        g_run = 1;
        if (pthread_create(&g_thread, NULL, writer_main, NULL) != 0) {
            g_run = 0;
            rc = AITBC_EIO;
        } else {
            g_started = 1;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (rc != 0) hlog("store", AITBC_LOG_ERROR, "cannot start the writer thread");
    return rc;
}

int writer_running(void) {
    pthread_mutex_lock(&g_lock);
    int run = g_run;
    pthread_mutex_unlock(&g_lock);
    return run;
}

void writer_stop(void) {
    pthread_mutex_lock(&g_lock);
    int started = g_started;
    g_run = 0;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    if (!started) return;
    pthread_join(g_thread, NULL); /* it finishes what was queued before it leaves */
    pthread_mutex_lock(&g_lock);
    g_started = 0;
    pthread_mutex_unlock(&g_lock);
}

void writer_get_stats(writer_stats *out) {
    pthread_mutex_lock(&g_lock);
    out->queued = g_queued;
    out->batches = g_batches;
    out->items = g_items;
    out->failed = g_failed;
    memcpy(out->size_hist, g_size_hist, sizeof g_size_hist);
    memcpy(out->commit_hist, g_commit_hist, sizeof g_commit_hist);
    out->commit_us_sum = g_commit_us_sum;
    pthread_mutex_unlock(&g_lock);
}

/* ---- txn_submit for plugins ---- */
typedef struct submitted {
    writer_item item;
    aitbc_task_fn fn;
    aitbc_write_done_fn done;
    void *arg;
} submitted;

static void submitted_run(void *arg) {
    submitted *s = arg;
    s->fn(s->arg);
}

static void submitted_settle(void *arg, int outcome) {
    submitted *s = arg;
    if (s->done)
        s->done(s->arg, outcome == WRITER_COMMITTED ? 0
                        : outcome == WRITER_FAILED  ? AITBC_EIO
                                                    : AITBC_EUNAVAIL);
    free(s);
}

int writer_txn_submit(aitbc_task_fn fn, void *arg, aitbc_write_done_fn done) {
    if (!fn) return AITBC_EINVAL;
    submitted *s = calloc(1, sizeof *s);
    if (!s) return AITBC_ENOMEM;
    s->fn = fn;
    s->arg = arg;
    s->done = done;
    s->item.run = submitted_run;
    s->item.settle = submitted_settle;
    s->item.arg = s;
    int rc = writer_submit(&s->item);
    if (rc != 0) free(s);
    return rc;
}
