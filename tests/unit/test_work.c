/* Unit tests of the worker pool and timers (work.c): every task runs, stop drains the queue and
 * then refuses, a timer fires repeatedly without overlapping itself, cancel from another thread
 * waits for a running callback, cancel from inside the callback, and handles that outlive
 * work_stop. Waits poll a condition with a bound; the short sleeps inside callbacks only widen
 * race windows, nothing asserts on time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>
#include "internal.h"

static void nap_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls until *v >= want or 20 s pass; returns the last value. */
static int wait_atleast(atomic_int *v, int want) {
    for (int i = 0; i < 20000 && atomic_load(v) < want; i++)
        nap_ms(1);
    return atomic_load(v);
}

static int setup(void **state) {
    (void)state;
    hlog_set_level(AITBC_LOG_ERROR);
    return work_start(3);
}

static int teardown(void **state) {
    (void)state;
    work_stop();
    return 0;
}

static atomic_int g_tasks;

static void count_task(void *arg) {
    (void)arg;
    atomic_fetch_add(&g_tasks, 1);
}

static void test_pool_runs_all(void **state) {
    (void)state;
    atomic_store(&g_tasks, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(work_submit(count_task, NULL), 0);
    assert_int_equal(wait_atleast(&g_tasks, 1000), 1000);
    /* Stop finishes what is queued, then refuses. */
    for (int i = 0; i < 500; i++)
        assert_int_equal(work_submit(count_task, NULL), 0);
    work_stop();
    assert_int_equal(atomic_load(&g_tasks), 1500);
    assert_int_equal(work_submit(count_task, NULL), AITBC_EUNAVAIL);
    assert_int_equal(work_submit(NULL, NULL), AITBC_EINVAL);
    assert_null(work_timer_add(NULL, 10, count_task, NULL));
}

typedef struct tick_state {
    atomic_int fires;
    atomic_int running;
    atomic_int overlaps;
    atomic_int in_cb;
    long nap;                    /* ms spent inside each callback */
    int cancel_at;               /* cancel itself on this fire (0 = never) */
    _Atomic(aitbc_timer *) self; /* set by the test after timer_add returns */
} tick_state;

static void tick(void *arg) {
    tick_state *s = arg;
    if (atomic_fetch_add(&s->running, 1) != 0) atomic_fetch_add(&s->overlaps, 1);
    atomic_store(&s->in_cb, 1);
    if (s->nap) nap_ms(s->nap);
    int n = atomic_fetch_add(&s->fires, 1) + 1;
    atomic_store(&s->in_cb, 0);
    atomic_fetch_sub(&s->running, 1);
    if (s->cancel_at && n == s->cancel_at) {
        while (!atomic_load(&s->self)) /* the test thread may not have stored it yet */
            nap_ms(1);
        work_timer_cancel(atomic_load(&s->self));
    }
}

static void test_timer_repeats_without_overlap(void **state) {
    (void)state;
    static tick_state s;
    memset(&s, 0, sizeof s);
    s.nap = 4; /* longer than the interval: a second call must still wait for the first */
    aitbc_timer *t = work_timer_add(NULL, 2, tick, &s);
    assert_non_null(t);
    assert_true(wait_atleast(&s.fires, 10) >= 10);
    work_timer_cancel(t);
    assert_int_equal(atomic_load(&s.overlaps), 0);
    assert_int_equal(atomic_load(&s.running), 0);
}

static void test_cancel_waits_for_callback(void **state) {
    (void)state;
    static tick_state s;
    memset(&s, 0, sizeof s);
    s.nap = 50;
    aitbc_timer *t = work_timer_add(NULL, 1, tick, &s);
    assert_non_null(t);
    assert_int_equal(wait_atleast(&s.in_cb, 1), 1);
    work_timer_cancel(t); /* the callback is inside its 50 ms nap */
    assert_int_equal(atomic_load(&s.running), 0);
    assert_int_equal(atomic_load(&s.in_cb), 0);
    assert_true(atomic_load(&s.fires) >= 1);
}

static void test_cancel_from_inside(void **state) {
    (void)state;
    static tick_state s, clock_s;
    memset(&s, 0, sizeof s);
    memset(&clock_s, 0, sizeof clock_s);
    s.cancel_at = 3;
    aitbc_timer *t = work_timer_add(NULL, 2, tick, &s);
    atomic_store(&s.self, t);
    assert_non_null(t);
    assert_int_equal(wait_atleast(&s.fires, 3), 3);
    /* A second timer on the same interval is the clock: after it fired 20 more times the first
     * one would have fired again had the cancel not worked (and freed it: ASan would object). */
    aitbc_timer *clock_t = work_timer_add(NULL, 2, tick, &clock_s);
    assert_non_null(clock_t);
    assert_true(wait_atleast(&clock_s.fires, 20) >= 20);
    work_timer_cancel(clock_t);
    assert_int_equal(atomic_load(&s.fires), 3);
}

static void test_handle_outlives_stop(void **state) {
    (void)state;
    static tick_state s;
    memset(&s, 0, sizeof s);
    aitbc_timer *t = work_timer_add(NULL, 1, tick, &s);
    assert_non_null(t);
    assert_true(wait_atleast(&s.fires, 1) >= 1);
    work_stop();
    int fires = atomic_load(&s.fires);
    assert_int_equal(work_start(2), 0); /* a restarted pool does not revive old timers */
    work_timer_cancel(t);
    assert_int_equal(atomic_load(&s.fires), fires);
    assert_null(work_timer_add(NULL, 0, tick, &s));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_runs_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_repeats_without_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_waits_for_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handle_outlives_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
