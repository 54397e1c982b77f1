/* Unit tests of the account cache (acctcache.c): hits only at the version an entry was stored at,
 * replacement, forgetting, the rendered text's bounds, the capacity bound with second-chance
 * eviction, and concurrent use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "acctcache.h"

static ac_view view_of(const char *label, int64_t available) {
    ac_view v;
    memset(&v, 0, sizeof v);
    v.has_row = 1;
    snprintf(v.label, sizeof v.label, "%s", label);
    v.created_ms = 1000;
    v.balances = 1;
    v.nbal = 1;
    snprintf(v.bal[0].asset, sizeof v.bal[0].asset, "AIT");
    v.bal[0].decimals = 6;
    v.bal[0].available = available;
    return v;
}

static void test_version_must_match(void **state) {
    (void)state;
    acctcache *c = ac_new(64);
    assert_non_null(c);
    ac_view v = view_of("a", 5), out;
    assert_int_equal(ac_get(c, "key_a", 7, &out), 0);
    ac_put(c, "key_a", 7, &v);
    assert_int_equal(ac_count(c), 1);
    assert_int_equal(ac_get(c, "key_a", 7, &out), 1);
    assert_string_equal(out.label, "a");
    assert_int_equal(out.bal[0].available, 5);
    /* The ledger moved: the entry is stale, and it is dropped rather than kept. */
    assert_int_equal(ac_get(c, "key_a", 8, &out), 0);
    assert_int_equal(ac_count(c), 0);
    assert_int_equal(ac_get(c, "key_a", 7, &out), 0);
    ac_free(c);
}

static void test_replace_and_forget(void **state) {
    (void)state;
    acctcache *c = ac_new(64);
    ac_view v1 = view_of("one", 1), v2 = view_of("two", 2), out;
    ac_put(c, "key_a", 1, &v1);
    ac_put(c, "key_b", 1, &v1);
    ac_put(c, "key_a", 2, &v2);
    assert_int_equal(ac_count(c), 2);
    assert_int_equal(ac_get(c, "key_a", 2, &out), 1);
    assert_string_equal(out.label, "two");
    assert_int_equal(out.bal[0].available, 2);
    ac_forget(c, "key_a");
    ac_forget(c, "key_unknown");
    assert_int_equal(ac_get(c, "key_a", 2, &out), 0);
    assert_int_equal(ac_get(c, "key_b", 1, &out), 1);
    assert_int_equal(ac_count(c), 1);
    ac_free(c);
}

static void test_refuses_odd_input(void **state) {
    (void)state;
    acctcache *c = ac_new(0); /* still one entry per stripe */
    ac_view v = view_of("x", 1), out;
    char long_id[AC_KEY_ID_MAX + 8];
    memset(long_id, 'k', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    ac_put(c, long_id, 1, &v);
    ac_put(c, "", 1, &v);
    ac_put(c, NULL, 1, &v);
    assert_int_equal(ac_count(c), 0);
    assert_int_equal(ac_get(c, long_id, 1, &out), 0);
    /* A view whose label lacks its NUL, or claims too many balances, is stored bounded. */
    memset(v.label, 'l', sizeof v.label);
    v.nbal = 99;
    ac_put(c, "key_a", 1, &v);
    assert_int_equal(ac_get(c, "key_a", 1, &out), 1);
    assert_int_equal(strlen(out.label), AC_LABEL_BYTES - 1);
    assert_int_equal(out.nbal, AC_ASSETS_MAX);
    ac_free(c);
}

/* The rendered text comes back as stored; a length or cut point it cannot hold is refused (the
 * answer is then built from the fields). */
static void test_text_kept_or_refused(void **state) {
    (void)state;
    acctcache *c = ac_new(64);
    assert_non_null(c);
    ac_view v = view_of("t", 1), out;
    static const char text[] = "{\"label\":\"t\",\"last_used_at\":}";
    memcpy(v.text, text, sizeof text - 1);
    v.text_len = sizeof text - 1;
    v.used_at = (size_t)(strstr(text, ":}") - text) + 1;
    ac_put(c, "key_t", 1, &v);
    assert_int_equal(ac_get(c, "key_t", 1, &out), 1);
    assert_int_equal(out.text_len, v.text_len);
    assert_int_equal(out.used_at, v.used_at);
    assert_memory_equal(out.text, text, sizeof text - 1);
    v.text_len = AC_TEXT_BYTES;
    ac_put(c, "key_t", 2, &v);
    assert_int_equal(ac_get(c, "key_t", 2, &out), 1);
    assert_int_equal(out.text_len, 0);
    assert_int_equal(out.used_at, 0);
    v.text_len = 4;
    v.used_at = 5;
    ac_put(c, "key_t", 3, &v);
    assert_int_equal(ac_get(c, "key_t", 3, &out), 1);
    assert_int_equal(out.text_len, 0);
    ac_free(c);
}

static void test_bounded_second_chance(void **state) {
    (void)state;
    const size_t cap = 2 * AC_STRIPES;
    acctcache *c = ac_new(cap);
    ac_view v = view_of("hot", 1), out;
    ac_put(c, "key_hot", 1, &v);
    char id[32];
    for (int i = 0; i < 2000; i++) {
        /* Used before every insert: the clock always finds it referenced and passes it by. */
        assert_int_equal(ac_get(c, "key_hot", 1, &out), 1);
        snprintf(id, sizeof id, "key_%d", i);
        ac_put(c, id, 1, &v);
        assert_true(ac_count(c) <= cap);
    }
    assert_int_equal(ac_get(c, "key_hot", 1, &out), 1);
    assert_string_equal(out.label, "hot");
    /* Every other survivor is a recent one, each findable at its version. */
    size_t found = 0;
    for (int i = 1500; i < 2000; i++) {
        snprintf(id, sizeof id, "key_%d", i);
        found += (size_t)ac_get(c, id, 1, &out);
    }
    assert_true(found >= 1 && found < cap);
    ac_free(c);
}

typedef struct worker {
    acctcache *c;
    int id;
    int bad;
} worker;

/* Each thread owns its keys and checks that whatever it reads back is what it stored last. */
static void *work(void *arg) {
    worker *w = arg;
    char key[32];
    ac_view out;
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "key_%d_%d", w->id, i % 50);
        uint64_t ver = (uint64_t)(i / 50);
        ac_view v = view_of(key, (int64_t)ver);
        ac_put(w->c, key, ver, &v);
        if (ac_get(w->c, key, ver, &out) &&
            (strcmp(out.label, key) != 0 || out.bal[0].available != (int64_t)ver))
            w->bad++;
        if (i % 7 == 0) ac_forget(w->c, key);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    acctcache *c = ac_new(128); /* smaller than the keys in play: eviction races too */
    worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.c = c, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    assert_true(ac_count(c) <= 128);
    ac_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_must_match),    cmocka_unit_test(test_replace_and_forget),
        cmocka_unit_test(test_refuses_odd_input),     cmocka_unit_test(test_text_kept_or_refused),
        cmocka_unit_test(test_bounded_second_chance), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
