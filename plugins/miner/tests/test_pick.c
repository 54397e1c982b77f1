/* Unit tests of the wake choice (pick.c): free slots only, least loaded relative to its slots,
 * then parked longest, then first. */
#include "pick.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static void test_none(void **st) {
    (void)st;
    assert_int_equal(mn_pick(NULL, 0), -1);
    mn_cand full[] = {{1, 1, 10}, {4, 4, 5}, {0, 0, 1}};
    assert_int_equal(mn_pick(full, 3), -1);
}

static void test_least_loaded_relative_to_slots(void **st) {
    (void)st;
    /* 1 of 2 (0.5) against 1 of 4 (0.25): the bigger miner is less loaded */
    mn_cand c[] = {{1, 2, 1}, {1, 4, 9}};
    assert_int_equal(mn_pick(c, 2), 1);
    /* an idle miner beats any busy one, whatever its size or wait */
    mn_cand d[] = {{1, 256, 1}, {0, 1, 99}};
    assert_int_equal(mn_pick(d, 2), 1);
}

static void test_ties_go_to_the_longest_parked(void **st) {
    (void)st;
    mn_cand c[] = {{0, 1, 30}, {0, 2, 10}, {0, 1, 20}};
    assert_int_equal(mn_pick(c, 3), 1);
    /* equal fractions (1/2 and 2/4) are a tie too */
    mn_cand d[] = {{1, 2, 30}, {2, 4, 20}};
    assert_int_equal(mn_pick(d, 2), 1);
    /* full tie: the first */
    mn_cand e[] = {{0, 1, 5}, {0, 1, 5}};
    assert_int_equal(mn_pick(e, 2), 0);
}

static void test_full_miners_are_skipped(void **st) {
    (void)st;
    /* the longest parked and least loaded by count is full; promised wakes count as load */
    mn_cand c[] = {{1, 1, 1}, {3, 4, 50}, {2, 2, 2}};
    assert_int_equal(mn_pick(c, 3), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_least_loaded_relative_to_slots),
        cmocka_unit_test(test_ties_go_to_the_longest_parked),
        cmocka_unit_test(test_full_miners_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
