/* Worker pool and timers for plugins. The pool is N threads over one FIFO of tasks. Timers run on
 * one timer thread that sleeps (CLOCK_MONOTONIC, immune to wall-clock jumps) until the earliest
 * due timer; callbacks run on that thread itself, which is what guarantees one timer's callbacks
 * never overlap. A callback that has real work to do should hand it to the pool (submit), because
 * a slow callback delays every other timer. A tick that is missed because a callback overran is
 * skipped, not made up in a burst.
 *
 * Handles stay valid until work_timer_cancel, even across work_stop (which only stops them
 * firing), so a plugin that cancels late in its shutdown never touches freed memory. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define WORK_MAX_THREADS 256

typedef struct task {
    aitbc_task_fn fn;
    void *arg;
    struct task *next;
} task;

struct aitbc_timer {
    aitbc_plugin_ctx *ctx;
    aitbc_task_fn fn;
    void *arg;
    int64_t interval_ms;
    int64_t due;   /* CLOCK_MONOTONIC ms */
    int held;      /* added before its plugin started: not due until work_release_plugin */
    int dead;      /* stopped by work_stop: never fires again, waits for its cancel */
    int cancelled; /* cancelled from inside its own callback: freed when the callback returns */
    aitbc_timer *next;
};

/* Pool. */
static pthread_mutex_t g_plock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_pcond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_pidle = PTHREAD_COND_INITIALIZER; /* a task finished */
static int g_active;                                      /* tasks running now */
static task *g_head, *g_tail;
static int g_accepting;
static pthread_t *g_workers;
static int g_nworkers;

/* Timers. */
static pthread_mutex_t g_tlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_tcond; /* schedule changed (monotonic clock, set up once) */
static pthread_cond_t g_tdone = PTHREAD_COND_INITIALIZER; /* a callback returned */
static pthread_once_t g_tonce = PTHREAD_ONCE_INIT;
static aitbc_timer *g_timers;  /* every handle not yet cancelled */
static aitbc_timer *g_current; /* whose callback is running */
static int g_timers_on;
static pthread_t g_timer_thread;

static void tcond_init(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g_tcond, &attr);
    pthread_condattr_destroy(&attr);
}

static void *worker_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_plock);
    for (;;) {
        while (!g_head && g_accepting)
            pthread_cond_wait(&g_pcond, &g_plock);
        task *t = g_head;
        if (!t) break; /* stopping and drained */
        g_head = t->next;
        if (!g_head) g_tail = NULL;
        g_active++;
        pthread_mutex_unlock(&g_plock);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&g_plock);
        g_active--;
        pthread_cond_broadcast(&g_pidle);
    }
    pthread_mutex_unlock(&g_plock);
    store_thread_done();
    return NULL;
}

/* The earliest live timer, or NULL. Called with g_tlock held. */
static aitbc_timer *next_due(void) {
    aitbc_timer *best = NULL;
    for (aitbc_timer *t = g_timers; t; t = t->next)
        if (!t->dead && !t->held && (!best || t->due < best->due)) best = t;
    return best;
}

static void wait_until(int64_t due_ms) {
    struct timespec ts = {.tv_sec = due_ms / 1000, .tv_nsec = (due_ms % 1000) * 1000000};
    pthread_cond_timedwait(&g_tcond, &g_tlock, &ts);
}

static void *timer_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_tlock);
    while (g_timers_on) {
        aitbc_timer *t = next_due();
        int64_t now = aitbc_mono_ms();
        if (!t) {
            pthread_cond_wait(&g_tcond, &g_tlock);
            continue;
        }
        if (t->due > now) {
            wait_until(t->due);
            continue;
        }
        g_current = t;
        pthread_mutex_unlock(&g_tlock);
        t->fn(t->arg);
        pthread_mutex_lock(&g_tlock);
        g_current = NULL;
        if (t->cancelled) {
            free(t); /* already unlinked by its own cancel */
        } else {
            now = aitbc_mono_ms();
            t->due += t->interval_ms;
            if (t->due <= now) t->due = now + t->interval_ms;
        }
        pthread_cond_broadcast(&g_tdone);
    }
    pthread_mutex_unlock(&g_tlock);
    store_thread_done();
    return NULL;
}

static void pool_stop(void) {
    pthread_mutex_lock(&g_plock);
    g_accepting = 0;
    pthread_cond_broadcast(&g_pcond);
    int n = g_nworkers;
    pthread_t *workers = g_workers;
    g_nworkers = 0;
    g_workers = NULL;
    pthread_mutex_unlock(&g_plock);
    for (int i = 0; i < n; i++)
        pthread_join(workers[i], NULL);
    free(workers);
}

static void timers_stop(void) {
    pthread_mutex_lock(&g_tlock);
    int on = g_timers_on;
    g_timers_on = 0;
    for (aitbc_timer *t = g_timers; t; t = t->next)
        t->dead = 1;
    pthread_cond_broadcast(&g_tcond);
    pthread_mutex_unlock(&g_tlock);
    if (on) pthread_join(g_timer_thread, NULL);
}

/** @brief Start `workers` pool threads (at least 1) and the timer thread. 0, AITBC_EINVAL or
 *  AITBC_EIO. */
int work_start(int workers) {
    if (workers > WORK_MAX_THREADS) return AITBC_EINVAL;
    if (workers < 1) workers = 1;
    pthread_once(&g_tonce, tcond_init);
    pthread_mutex_lock(&g_plock);
    if (g_accepting || g_workers) {
        pthread_mutex_unlock(&g_plock);
        return AITBC_EINVAL;
    }
    g_workers = calloc((size_t)workers, sizeof *g_workers);
    g_accepting = g_workers != NULL;
    for (int i = 0; g_workers && i < workers; i++) {
        if (pthread_create(&g_workers[i], NULL, worker_main, NULL) != 0) break;
        g_nworkers++;
    }
    int ok = g_nworkers == workers;
    pthread_mutex_unlock(&g_plock);
    if (ok) {
        pthread_mutex_lock(&g_tlock);
        g_timers_on = 1;
        ok = pthread_create(&g_timer_thread, NULL, timer_main, NULL) == 0;
        g_timers_on = ok;
        pthread_mutex_unlock(&g_tlock);
    }
    if (!ok) {
        hlog("work", AITBC_LOG_ERROR, "cannot create the worker/timer threads");
        pool_stop();
        return AITBC_EIO;
    }
    return 0;
}

/** @brief Queue fn(arg) for the pool. 0, AITBC_EINVAL, AITBC_ENOMEM or AITBC_EUNAVAIL (stopped). */
int work_submit(aitbc_task_fn fn, void *arg) {
    if (!fn) return AITBC_EINVAL;
    task *t = malloc(sizeof *t);
    if (!t) return AITBC_ENOMEM;
    *t = (task){.fn = fn, .arg = arg};
    pthread_mutex_lock(&g_plock);
    int ok = g_accepting;
    if (ok) {
        if (g_tail)
            g_tail->next = t;
        else
            g_head = t;
        g_tail = t;
        pthread_cond_signal(&g_pcond);
    }
    pthread_mutex_unlock(&g_plock);
    if (!ok) {
        free(t);
        return AITBC_EUNAVAIL;
    }
    return 0;
}

/** @brief Call fn(arg) every interval_ms (first after interval_ms) on the timer thread. NULL when
 *  the interval is < 1 ms or timers are not running. */
aitbc_timer *work_timer_add(aitbc_plugin_ctx *ctx, int64_t interval_ms, aitbc_task_fn fn,
                            void *arg) {
    if (!fn || interval_ms < 1) return NULL;
    aitbc_timer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    *t = (aitbc_timer){.ctx = ctx,
                       .fn = fn,
                       .arg = arg,
                       .interval_ms = interval_ms,
                       .due = aitbc_mono_ms() + interval_ms};
    pthread_mutex_lock(&g_tlock);
    int on = g_timers_on;
    if (on) {
        t->held = ctx && !ctx->timers_live;
        t->next = g_timers;
        g_timers = t;
        pthread_cond_signal(&g_tcond);
    }
    pthread_mutex_unlock(&g_tlock);
    if (!on) {
        hlog("work", AITBC_LOG_ERROR, "timer_add while timers are not running");
        free(t);
        return NULL;
    }
    return t;
}

/** @brief Stop a timer and free it; waits until its callback is not running. From inside its own
 *  callback it returns at once (the handle is freed when the callback returns). NULL is a no-op. */
void work_timer_cancel(aitbc_timer *t) {
    if (!t) return;
    pthread_mutex_lock(&g_tlock);
    for (aitbc_timer **p = &g_timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    if (g_current == t) {
        if (pthread_equal(pthread_self(), g_timer_thread)) {
            t->cancelled = 1;
            pthread_mutex_unlock(&g_tlock);
            return;
        }
        while (g_current == t)
            pthread_cond_wait(&g_tdone, &g_tlock);
    }
    pthread_cond_broadcast(&g_tcond);
    pthread_mutex_unlock(&g_tlock);
    free(t);
}

/** @brief Before a plugin stops: its timers never fire again (their handles stay valid until
 *  timer_cancel or work_forget_plugin) and no callback of them is running; then every task queued
 *  so far has run. Tasks carry no owner, so the whole queue is drained: after this returns, no
 *  task the plugin submitted before runs. Not from a task or timer. */
void work_quiesce_plugin(aitbc_plugin_ctx *ctx) {
    pthread_mutex_lock(&g_tlock);
    for (aitbc_timer *t = g_timers; t; t = t->next)
        if (t->ctx == ctx) t->dead = 1;
    while (g_current && g_current->ctx == ctx)
        pthread_cond_wait(&g_tdone, &g_tlock);
    pthread_mutex_unlock(&g_tlock);
    pthread_mutex_lock(&g_plock);
    while (g_head || g_active)
        pthread_cond_wait(&g_pidle, &g_plock);
    pthread_mutex_unlock(&g_plock);
}

void work_release_plugin(aitbc_plugin_ctx *ctx) {
    pthread_mutex_lock(&g_tlock);
    ctx->timers_live = 1;
    int64_t now = aitbc_mono_ms();
    for (aitbc_timer *t = g_timers; t; t = t->next) {
        if (t->ctx == ctx && t->held) {
            t->held = 0;
            t->due = now + t->interval_ms;
        }
    }
    pthread_cond_signal(&g_tcond);
    pthread_mutex_unlock(&g_tlock);
}

/** @brief After a plugin is destroyed: free the timers it never cancelled. */
void work_forget_plugin(aitbc_plugin_ctx *ctx) {
    pthread_mutex_lock(&g_tlock);
    for (aitbc_timer **p = &g_timers; *p;) {
        aitbc_timer *t = *p;
        if (t->ctx == ctx && t != g_current) {
            *p = t->next;
            free(t);
        } else {
            p = &t->next;
        }
    }
    pthread_mutex_unlock(&g_tlock);
}

/** @brief Stop every timer, finish the queued tasks, join all threads. Not from a task or timer. */
void work_stop(void) {
    timers_stop();
    pool_stop();
}
