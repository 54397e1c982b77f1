/* Unit tests of the marketplace's pure logic: hourly release schedule, pro-rata split on early
 * termination (exact to the base unit, no overflow), text checks, and the offers query with its
 * filter-bound keyset cursors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <aitbc/errors.h>
#include "mkmath.h"

static void test_hours_done(void **st) {
    (void)st;
    assert_int_equal(mk_hours_done(5, 1000, -3), 0);
    assert_int_equal(mk_hours_done(5, 1000, 0), 0);
    assert_int_equal(mk_hours_done(5, 1000, 999), 0);
    assert_int_equal(mk_hours_done(5, 1000, 1000), 1);
    assert_int_equal(mk_hours_done(5, 1000, 4999), 4);
    assert_int_equal(mk_hours_done(5, 1000, 5000), 5);
    assert_int_equal(mk_hours_done(5, 1000, 999999), 5);
}

static void test_prorata(void **st) {
    (void)st;
    assert_int_equal(mk_prorata(100, 1000, 0), 0);
    assert_int_equal(mk_prorata(100, 1000, 1), 0); /* rounds down: the buyer keeps the crumb */
    assert_int_equal(mk_prorata(100, 1000, 10), 1);
    assert_int_equal(mk_prorata(100, 1000, 500), 50);
    assert_int_equal(mk_prorata(100, 1000, 1000), 100);
    assert_int_equal(mk_prorata(100, 1000, 5000), 100);
    assert_int_equal(mk_prorata(7, 3, 1), 2);
    /* total × elapsed overflows 64 bits here; the 128-bit product keeps it exact. */
    int64_t big = INT64_MAX / 2;
    assert_int_equal(mk_prorata(big, 31536000000LL, 15768000000LL), big / 2);
    assert_int_equal(mk_prorata(INT64_MAX, 3, 2),
                     (int64_t)(((unsigned __int128)INT64_MAX * 2) / 3));
}

/* Hourly releases then an early end: every base unit goes to exactly one side. */
static void test_schedule_sums_exactly(void **st) {
    (void)st;
    const int64_t prices[] = {1, 7, 333333, 1000000, 9007199254740991LL};
    const int64_t hours_list[] = {1, 2, 3, 7, 24};
    for (size_t p = 0; p < sizeof prices / sizeof *prices; p++) {
        for (size_t h = 0; h < sizeof hours_list / sizeof *hours_list; h++) {
            int64_t hours = hours_list[h], hour_ms = 200, total = prices[p] * hours;
            int64_t duration = hours * hour_ms;
            for (int64_t elapsed = -50; elapsed <= duration + 50; elapsed += 37) {
                int64_t done = mk_hours_done(hours, hour_ms, elapsed);
                int64_t released = 0;
                for (int64_t k = 1; k <= done; k++)
                    released += k == hours ? total - released : total / hours;
                int64_t pay = -1, refund = -1;
                mk_terminate_split(total, released, duration, elapsed, &pay, &refund);
                assert_true(pay >= 0 && refund >= 0);
                assert_int_equal(released + pay + refund, total);
                assert_int_equal(released + pay, mk_prorata(total, duration, elapsed));
                if (done == hours) assert_int_equal(released, total);
            }
        }
    }
}

static void test_text_ok(void **st) {
    (void)st;
    assert_true(mk_text_ok("RTX 4090", 64));
    assert_false(mk_text_ok("", 64));
    assert_false(mk_text_ok(NULL, 64));
    assert_false(mk_text_ok(" a", 64));
    assert_false(mk_text_ok("a ", 64));
    assert_false(mk_text_ok("a\nb", 64));
    assert_false(mk_text_ok("\xc3\xa9", 64));
    assert_false(mk_text_ok("abcde", 4));
}

/* A query from name=value pairs. */
typedef struct kv {
    const char *const *pairs;
} kv;

static const char *get(void *user, const char *name) {
    for (const char *const *p = ((kv *)user)->pairs; p[0]; p += 2)
        if (strcmp(p[0], name) == 0) return p[1];
    return NULL;
}

static int parse(const char *const *pairs, mk_offer_query *q, const char **bad) {
    kv k = {pairs};
    *bad = NULL;
    return mk_offer_query_parse(get, &k, q, bad);
}

static void test_query_defaults_and_errors(void **st) {
    (void)st;
    mk_offer_query q;
    const char *bad;
    const char *none[] = {NULL};
    assert_int_equal(parse(none, &q, &bad), 0);
    assert_string_equal(q.status, "OPEN");
    assert_int_equal(q.limit, 50);
    assert_int_equal(q.sort_price, 0);
    assert_int_equal(q.min_memory_gb, -1);
    assert_int_equal(q.max_price, -1);
    const char *ok[] = {"status", "SOLD_OUT", "max_price", "1.5", "min_memory_gb", "24", "sort",
                        "price",  "limit",    "500",       NULL};
    assert_int_equal(parse(ok, &q, &bad), 0);
    assert_int_equal(q.max_price, 1500000);
    assert_int_equal(q.min_memory_gb, 24);
    assert_int_equal(q.sort_price, 1);
    struct {
        const char *name, *value;
    } bads[] = {{"status", "open"},
                {"status", ""},
                {"sort", "cheap"},
                {"limit", "0"},
                {"limit", "501"},
                {"limit", "x"},
                {"max_price", "-1"},
                {"max_price", "1e3"},
                {"max_price", "0.0000001"},
                {"min_memory_gb", "-1"},
                {"min_memory_gb", "01"},
                {"min_memory_gb", "4097"},
                {"gpu", ""},
                {"region", " eu"},
                {"model", "a\tb"},
                {"cursor", "garbage"}};
    for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
        const char *pairs[] = {bads[i].name, bads[i].value, NULL};
        assert_int_equal(parse(pairs, &q, &bad), AITBC_EINVAL);
        assert_string_equal(bad, bads[i].name);
    }
}

static void test_cursor_bound_to_filters(void **st) {
    (void)st;
    mk_offer_query q, q2;
    const char *bad;
    char cur[AITBC_CURSOR_MAX];
    const char *a[] = {"sort", "price", "gpu", "4090", NULL};
    assert_int_equal(parse(a, &q, &bad), 0);
    assert_int_equal(mk_offer_cursor(&q, 1500000, 42, cur), 0);
    const char *a2[] = {"sort", "price", "gpu", "4090", "cursor", cur, NULL};
    assert_int_equal(parse(a2, &q2, &bad), 0);
    assert_int_equal(q2.has_cursor, 1);
    assert_int_equal(q2.after_key, 1500000);
    assert_int_equal(q2.after_seq, 42);
    /* Same cursor with another filter, another sort, or a filter left out: refused. */
    const char *b1[] = {"sort", "price", "gpu", "4080", "cursor", cur, NULL};
    const char *b2[] = {"gpu", "4090", "cursor", cur, NULL};
    const char *b3[] = {"sort", "price", "cursor", cur, NULL};
    const char *b4[] = {"sort", "price", "gpu", "4090", "region", "eu", "cursor", cur, NULL};
    assert_int_equal(parse(b1, &q2, &bad), AITBC_EINVAL);
    assert_string_equal(bad, "cursor");
    assert_int_equal(parse(b2, &q2, &bad), AITBC_EINVAL);
    assert_int_equal(parse(b3, &q2, &bad), AITBC_EINVAL);
    assert_int_equal(parse(b4, &q2, &bad), AITBC_EINVAL);
    /* Equal filter values in another spelling are the same filter. */
    const char *c1[] = {"max_price", "2", NULL};
    const char *c2[] = {"max_price", "2.000", NULL};
    assert_int_equal(parse(c1, &q, &bad), 0);
    assert_int_equal(parse(c2, &q2, &bad), 0);
    assert_string_equal(q.tag, q2.tag);
    /* created order: key is the seq, no tie */
    assert_int_equal(mk_offer_cursor(&q, 999, 7, cur), 0);
    const char *c3[] = {"max_price", "2", "cursor", cur, NULL};
    assert_int_equal(parse(c3, &q2, &bad), 0);
    assert_int_equal(q2.after_key, 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hours_done),
        cmocka_unit_test(test_prorata),
        cmocka_unit_test(test_schedule_sums_exactly),
        cmocka_unit_test(test_text_ok),
        cmocka_unit_test(test_query_defaults_and_errors),
        cmocka_unit_test(test_cursor_bound_to_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
