/* Unit tests of the event bus (bus.c): per-topic order and sequence numbers, wildcard
 * subscribers, delivery off the publisher's thread, per-publisher order under concurrent
 * publishers, drain on stop, refusal after stop, and the bounded queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>
#include "internal.h"

#define MAX_SEEN 4096

typedef struct seen {
    char topic[32];
    uint64_t seq;
    int pub;
    int n;
    int on_publisher_thread;
} seen;

/* What one subscriber received, in order. */
typedef struct collector {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t count;
    seen items[MAX_SEEN];
} collector;

static collector g_a, g_all;
static pthread_t g_publisher;
/* A gate the subscriber can be held at, to keep events queued. */
static pthread_mutex_t g_gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_gate_cond = PTHREAD_COND_INITIALIZER;
static int g_gate_closed;

static void collect(const char *topic, uint64_t seq, const cJSON *data, void *user) {
    collector *c = user;
    pthread_mutex_lock(&g_gate_lock);
    while (g_gate_closed)
        pthread_cond_wait(&g_gate_cond, &g_gate_lock);
    pthread_mutex_unlock(&g_gate_lock);
    pthread_mutex_lock(&c->lock);
    if (c->count < MAX_SEEN) {
        seen *s = &c->items[c->count];
        snprintf(s->topic, sizeof s->topic, "%s", topic);
        s->seq = seq;
        s->pub = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(data, "pub"));
        s->n = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(data, "n"));
        s->on_publisher_thread = pthread_equal(pthread_self(), g_publisher);
    }
    c->count++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void gate(int closed) {
    pthread_mutex_lock(&g_gate_lock);
    g_gate_closed = closed;
    pthread_cond_broadcast(&g_gate_cond);
    pthread_mutex_unlock(&g_gate_lock);
}

/* Waits (bounded, 20 s) until c has received n events; returns the count seen. */
static size_t wait_count(collector *c, size_t n) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    pthread_mutex_lock(&c->lock);
    while (c->count < n && pthread_cond_timedwait(&c->cond, &c->lock, &dl) == 0)
        ;
    size_t got = c->count;
    pthread_mutex_unlock(&c->lock);
    return got;
}

static size_t count_of(collector *c) {
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static int publish(const char *topic, int pub, int n) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "pub", pub);
    cJSON_AddNumberToObject(d, "n", n);
    int rc = bus_publish(topic, d);
    cJSON_Delete(d); /* the bus keeps its own copy */
    return rc;
}

static int setup(void **state) {
    (void)state;
    hlog_set_level(AITBC_LOG_ERROR);
    collector *cs[] = {&g_a, &g_all};
    for (size_t i = 0; i < 2; i++) {
        memset(cs[i], 0, sizeof *cs[i]);
        pthread_mutex_init(&cs[i]->lock, NULL);
        pthread_cond_init(&cs[i]->cond, NULL);
    }
    gate(0);
    g_publisher = pthread_self();
    return bus_start();
}

static int teardown(void **state) {
    (void)state;
    gate(0);
    bus_stop();
    return 0;
}

static void test_order_seq_wildcard(void **state) {
    (void)state;
    aitbc_topic a = {.name = "a", .roles = 3};
    assert_int_equal(bus_declare(NULL, &a), 0);
    assert_int_equal(bus_declare(NULL, &a), AITBC_EEXIST);
    assert_int_equal(bus_subscribe("a", collect, &g_a), 0);
    assert_int_equal(bus_subscribe("*", collect, &g_all), 0);
    for (int i = 1; i <= 100; i++) {
        assert_int_equal(publish("a", 0, i), 0);
        if (i <= 50) assert_int_equal(publish("b", 0, i), 0); /* undeclared: allowed */
    }
    assert_int_equal(wait_count(&g_a, 100), 100);
    assert_int_equal(wait_count(&g_all, 150), 150);
    for (size_t i = 0; i < 100; i++) {
        assert_string_equal(g_a.items[i].topic, "a");
        assert_int_equal(g_a.items[i].seq, i + 1);
        assert_int_equal(g_a.items[i].n, (int)i + 1);
        assert_false(g_a.items[i].on_publisher_thread);
    }
    uint64_t last_a = 0, last_b = 0;
    for (size_t i = 0; i < 150; i++) {
        seen *s = &g_all.items[i];
        uint64_t *last = !strcmp(s->topic, "a") ? &last_a : &last_b;
        assert_int_equal(s->seq, *last + 1);
        assert_int_equal(s->n, (int)s->seq);
        *last = s->seq;
    }
    assert_int_equal(last_b, 50);
    const aitbc_topic *found = bus_find_topic("a");
    assert_non_null(found);
    assert_string_equal(found->name, "a");
    assert_int_equal(found->roles, 3);
    assert_null(bus_find_topic("b"));
    assert_int_equal(count_of(&g_a), 100); /* "b" never reached the "a" subscriber */
}

#define PUBLISHERS 4
#define PER_PUBLISHER 500

static void *publisher(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int i = 1; i <= PER_PUBLISHER; i++)
        if (publish("p", id, i) != 0) return (void *)1;
    return NULL;
}

static void test_many_publishers(void **state) {
    (void)state;
    assert_int_equal(bus_subscribe("p", collect, &g_a), 0);
    pthread_t th[PUBLISHERS];
    for (intptr_t i = 0; i < PUBLISHERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, publisher, (void *)i), 0);
    for (int i = 0; i < PUBLISHERS; i++) {
        void *failed = NULL;
        pthread_join(th[i], &failed);
        assert_null(failed);
    }
    const size_t total = PUBLISHERS * PER_PUBLISHER;
    assert_int_equal(wait_count(&g_a, total), total);
    int last[PUBLISHERS] = {0};
    for (size_t i = 0; i < total; i++) {
        seen *s = &g_a.items[i];
        assert_int_equal(s->seq, i + 1);
        assert_int_equal(s->n, last[s->pub] + 1);
        last[s->pub] = s->n;
    }
}

static void test_drain_on_stop(void **state) {
    (void)state;
    assert_int_equal(bus_subscribe("d", collect, &g_a), 0);
    gate(1); /* the subscriber is held: everything below stays queued */
    for (int i = 1; i <= 1000; i++)
        assert_int_equal(publish("d", 0, i), 0);
    assert_true(count_of(&g_a) < 1000);
    gate(0);
    bus_stop();
    assert_int_equal(count_of(&g_a), 1000);
    assert_int_equal(g_a.items[999].seq, 1000);
    assert_int_equal(publish("d", 0, 1001), AITBC_EUNAVAIL);
    assert_int_equal(count_of(&g_a), 1000);
}

static void test_queue_bound(void **state) {
    (void)state;
    assert_int_equal(bus_subscribe("q", collect, &g_a), 0);
    gate(1);
    int accepted = 0, rc = 0;
    while (accepted < 200000 && (rc = publish("q", 0, accepted + 1)) == 0)
        accepted++;
    assert_int_equal(rc, AITBC_EBUSY);
    assert_in_range(accepted, 100000, 100001); /* one may already sit in the stuck subscriber */
    gate(0);
    bus_stop();
    assert_int_equal(count_of(&g_a), (size_t)accepted);
}

static void test_bad_args(void **state) {
    (void)state;
    cJSON *d = cJSON_CreateObject();
    assert_int_equal(bus_publish(NULL, d), AITBC_EINVAL);
    assert_int_equal(bus_publish("x", NULL), AITBC_EINVAL);
    assert_int_equal(bus_subscribe("x", NULL, NULL), AITBC_EINVAL);
    aitbc_topic nameless = {0};
    assert_int_equal(bus_declare(NULL, &nameless), AITBC_EINVAL);
    assert_int_equal(bus_start(), AITBC_EINVAL); /* already running */
    cJSON_Delete(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_seq_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_publishers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_on_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
