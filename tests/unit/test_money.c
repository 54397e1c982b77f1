/* Money parsing and formatting: the exact decimal rules of API.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aitbc/errors.h"
#include "aitbc/money.h"

static void parses_valid_amounts(void **state) {
    (void)state;
    int64_t v;
    assert_int_equal(aitbc_money_parse("0", 6, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(aitbc_money_parse("12.5", 6, &v), 0);
    assert_int_equal(v, 12500000);
    assert_int_equal(aitbc_money_parse("0.000001", 6, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(aitbc_money_parse("0.0", 6, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(aitbc_money_parse("1.00000000", 8, &v), 0);
    assert_int_equal(v, 100000000);
    assert_int_equal(aitbc_money_parse("42", 0, &v), 0);
    assert_int_equal(v, 42);
}

static void refuses_bad_syntax(void **state) {
    (void)state;
    static const char *const bad[] = {"",    "-1",  "+1", "1e3",  "1E3",  " 1",    "1 ",
                                      "01",  "00",  ".5", "1.",   "1..2", "1.2.3", "0x10",
                                      "1,5", "NaN", "١",  "1.-1", "--1",  "1e-3"};
    int64_t v = 777;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(aitbc_money_parse(bad[i], 6, &v), AITBC_EINVAL);
        assert_int_equal(v, 777); /* untouched on failure */
    }
    assert_int_equal(aitbc_money_parse(NULL, 6, &v), AITBC_EINVAL);
}

static void refuses_too_many_decimals(void **state) {
    (void)state;
    int64_t v;
    assert_int_equal(aitbc_money_parse("0.0000001", 6, &v), AITBC_EINVAL);
    assert_int_equal(aitbc_money_parse("1.5", 0, &v), AITBC_EINVAL);
    assert_int_equal(aitbc_money_parse("1.000000000", 8, &v), AITBC_EINVAL);
}

static void refuses_overflow(void **state) {
    (void)state;
    int64_t v;
    /* INT64_MAX = 9223372036854775807 base units */
    assert_int_equal(aitbc_money_parse("9223372036854.775807", 6, &v), 0);
    assert_int_equal(v, INT64_MAX);
    assert_int_equal(aitbc_money_parse("9223372036854.775808", 6, &v), AITBC_EOVERFLOW);
    assert_int_equal(aitbc_money_parse("9223372036855", 6, &v), AITBC_EOVERFLOW);
    assert_int_equal(aitbc_money_parse("9223372036854775807", 0, &v), 0);
    assert_int_equal(aitbc_money_parse("9223372036854775808", 0, &v), AITBC_EOVERFLOW);
    assert_int_equal(aitbc_money_parse("99999999999999999999999999999", 0, &v), AITBC_EOVERFLOW);
}

static void formats_shortest_exact(void **state) {
    (void)state;
    char out[AITBC_MONEY_MAX];
    assert_int_equal(aitbc_money_format(0, 6, out), 1);
    assert_string_equal(out, "0");
    aitbc_money_format(12500000, 6, out);
    assert_string_equal(out, "12.5");
    aitbc_money_format(1, 8, out);
    assert_string_equal(out, "0.00000001");
    aitbc_money_format(100000000, 8, out);
    assert_string_equal(out, "1");
    aitbc_money_format(INT64_MAX, 6, out);
    assert_string_equal(out, "9223372036854.775807");
    aitbc_money_format(7, 0, out);
    assert_string_equal(out, "7");
    assert_int_equal(aitbc_money_format(-1, 6, out), AITBC_EINVAL);
}

static void round_trips(void **state) {
    (void)state;
    static const int64_t values[] = {0, 1, 9, 10, 999999, 1000000, 1234567890123, INT64_MAX};
    for (int decimals = 0; decimals <= 8; decimals++) {
        for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
            char out[AITBC_MONEY_MAX];
            int64_t back;
            assert_true(aitbc_money_format(values[i], decimals, out) > 0);
            assert_int_equal(aitbc_money_parse(out, decimals, &back), 0);
            assert_int_equal(back, values[i]);
        }
    }
}

static void checked_arithmetic(void **state) {
    (void)state;
    int64_t v;
    assert_int_equal(aitbc_add_i64(INT64_MAX - 1, 1, &v), 0);
    assert_int_equal(aitbc_add_i64(INT64_MAX, 1, &v), AITBC_EOVERFLOW);
    assert_int_equal(aitbc_mul_i64(INT64_MAX / 2, 2, &v), 0);
    assert_int_equal(aitbc_mul_i64(INT64_MAX / 2 + 1, 2, &v), AITBC_EOVERFLOW);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_valid_amounts),      cmocka_unit_test(refuses_bad_syntax),
        cmocka_unit_test(refuses_too_many_decimals), cmocka_unit_test(refuses_overflow),
        cmocka_unit_test(formats_shortest_exact),    cmocka_unit_test(round_trips),
        cmocka_unit_test(checked_arithmetic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
