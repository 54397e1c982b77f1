/* Unit tests of the explorer's keyset cursors and ?limit= parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "../explorer.h"

static void test_roundtrip(void **st)
{
    (void)st;
    char tag[EX_TAG_LEN + 1], other[EX_TAG_LEN + 1], cur[EX_CURSOR_MAX];
    int64_t k = -1;
    ex_filter_tag("transactions", "MINT", NULL, tag);
    ex_filter_tag("transactions", "TRANSFER", NULL, other);
    assert_string_not_equal(tag, other);
    assert_int_equal(ex_cursor_encode(tag, 12345, cur), 0);
    assert_int_equal(ex_cursor_decode(cur, tag, &k), 0);
    assert_int_equal(k, 12345);
    assert_int_equal(ex_cursor_decode(cur, other, &k), AITBC_ECONFLICT);
    /* "a","" and "","a" are different filters. */
    ex_filter_tag("x", "a", "", tag);
    ex_filter_tag("x", "", "a", other);
    assert_string_not_equal(tag, other);
}

static void test_malformed(void **st)
{
    (void)st;
    char tag[EX_TAG_LEN + 1], cur[EX_CURSOR_MAX];
    int64_t k;
    ex_filter_tag("blocks", NULL, NULL, tag);
    const char *bad[] = {"", "!!!!", "eyJmIjoxfQ" /* {"f":1} */, "bnVsbA" /* null */,
                         "W10" /* [] */, "e30" /* {} */};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ex_cursor_decode(bad[i], tag, &k), AITBC_EINVAL);
    char json[128];
    /* Negative and non-integer keys, extra members. */
    const char *forms[] = {"{\"f\":\"%s\",\"k\":-1}", "{\"f\":\"%s\",\"k\":1.5}",
                           "{\"f\":\"%s\",\"k\":\"1\"}", "{\"f\":\"%s\",\"k\":1,\"x\":2}"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        snprintf(json, sizeof json, forms[i], tag);
        size_t n = aitbc_b64url_encode(json, strlen(json), cur);
        cur[n] = '\0';
        assert_int_equal(ex_cursor_decode(cur, tag, &k), AITBC_EINVAL);
    }
    char longtext[400];
    memset(longtext, 'A', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    assert_int_equal(ex_cursor_decode(longtext, tag, &k), AITBC_EINVAL);
}

static void test_limit(void **st)
{
    (void)st;
    int v = 0;
    assert_int_equal(ex_parse_limit(NULL, &v), 0);
    assert_int_equal(v, 50);
    assert_int_equal(ex_parse_limit("1", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(ex_parse_limit("500", &v), 0);
    assert_int_equal(v, 500);
    const char *bad[] = {"0", "501", "", "-1", "+5", "1e2", " 5", "5 ", "abc", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ex_parse_limit(bad[i], &v), AITBC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
