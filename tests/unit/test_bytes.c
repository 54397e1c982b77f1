/* aitbc_bytes: grows across many appends, stays NUL-terminated, refuses past max without
 * changing what it holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "aitbc/errors.h"
#include "aitbc/util.h"

static void grows_and_terminates(void **st) {
    (void)st;
    aitbc_bytes b = {0};
    for (int i = 0; i < 5000; i++)
        assert_int_equal(aitbc_bytes_append(&b, "abc", 3, 1 << 20), 0);
    assert_int_equal(b.len, 15000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data + 14997, "abc", 3);
    assert_int_equal(aitbc_bytes_append(&b, NULL, 0, 1 << 20), 0); /* nothing to add is fine */
    aitbc_bytes_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void refuses_past_max(void **st) {
    (void)st;
    aitbc_bytes b = {0};
    assert_int_equal(aitbc_bytes_append(&b, "hello", 5, 8), 0);
    assert_int_equal(aitbc_bytes_append(&b, "world", 5, 8), AITBC_EOVERFLOW);
    assert_string_equal(b.data, "hello");                     /* unchanged */
    assert_int_equal(aitbc_bytes_append(&b, "abc", 3, 8), 0); /* exactly max */
    assert_string_equal(b.data, "helloabc");
    assert_int_equal(aitbc_bytes_append(&b, "x", SIZE_MAX, SIZE_MAX), AITBC_EOVERFLOW);
    aitbc_bytes_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grows_and_terminates),
        cmocka_unit_test(refuses_past_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
