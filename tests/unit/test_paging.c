/* ?limit= parsing and keyset cursors (sdk/src/paging.c), shared by every list route. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "aitbc/errors.h"
#include "aitbc/paging.h"
#include "aitbc/util.h"

static void tag(const char *listing, const char *a, const char *b,
                char out[AITBC_CURSOR_TAG_LEN + 1]) {
    const char *filters[] = {a, b};
    aitbc_cursor_tag(listing, filters, 2, out);
}

static void round_trips_and_binds_to_filters(void **st) {
    (void)st;
    char t1[AITBC_CURSOR_TAG_LEN + 1], t2[AITBC_CURSOR_TAG_LEN + 1], cur[AITBC_CURSOR_MAX];
    char tie[AITBC_CURSOR_TIE_MAX];
    int64_t k = -1;
    tag("transactions", "MINT", NULL, t1);
    tag("transactions", "TRANSFER", NULL, t2);
    assert_string_not_equal(t1, t2);
    assert_int_equal(aitbc_cursor_encode(t1, 12345, NULL, cur), 0);
    assert_int_equal(aitbc_cursor_decode(cur, t1, &k, tie), 0);
    assert_int_equal(k, 12345);
    assert_string_equal(tie, "");
    assert_int_equal(aitbc_cursor_decode(cur, t2, &k, tie), AITBC_ECONFLICT);
    assert_int_equal(aitbc_cursor_encode(t1, 7, "key_abc", cur), 0);
    assert_int_equal(aitbc_cursor_decode(cur, t1, &k, tie), 0);
    assert_int_equal(k, 7);
    assert_string_equal(tie, "key_abc");
    /* ("a","") and ("","a"), and NULL vs "", are different filters; so are listings. */
    tag("x", "a", "", t1);
    tag("x", "", "a", t2);
    assert_string_not_equal(t1, t2);
    tag("x", NULL, NULL, t1);
    tag("x", "", "", t2);
    assert_string_not_equal(t1, t2);
    tag("y", NULL, NULL, t2);
    assert_string_not_equal(t1, t2);
}

static void refuses_malformed_cursors(void **st) {
    (void)st;
    char t[AITBC_CURSOR_TAG_LEN + 1], cur[AITBC_CURSOR_MAX];
    int64_t k;
    tag("blocks", NULL, NULL, t);
    const char *bad[] = {
        "",   "!!!!", "eyJmIjoxfQ" /* {"f":1} */, "bnVsbA" /* null */, "W10" /* [] */,
        "e30" /* {} */};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(aitbc_cursor_decode(bad[i], t, &k, NULL), AITBC_EINVAL);
    char json[160];
    const char *forms[] = {"{\"f\":\"%s\",\"k\":-1}",        "{\"f\":\"%s\",\"k\":1.5}",
                           "{\"f\":\"%s\",\"k\":\"1\"}",     "{\"f\":\"%s\",\"k\":1,\"x\":2}",
                           "{\"f\":\"%s\",\"k\":1,\"t\":5}", "{\"f\":\"%s\",\"k\":1} x"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        snprintf(json, sizeof json, forms[i], t);
        aitbc_b64url_encode(json, strlen(json), cur);
        assert_int_equal(aitbc_cursor_decode(cur, t, &k, NULL), AITBC_EINVAL);
    }
    char longtext[400];
    memset(longtext, 'A', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    assert_int_equal(aitbc_cursor_decode(longtext, t, &k, NULL), AITBC_EINVAL);
    char long_tie[AITBC_CURSOR_TIE_MAX + 1];
    memset(long_tie, 'x', sizeof long_tie - 1);
    long_tie[sizeof long_tie - 1] = '\0';
    assert_int_equal(aitbc_cursor_encode(t, 1, long_tie, cur), AITBC_EINVAL);
}

static void parses_limits(void **st) {
    (void)st;
    int v = 0;
    assert_int_equal(aitbc_page_limit(NULL, &v), 0);
    assert_int_equal(v, 50);
    assert_int_equal(aitbc_page_limit("1", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(aitbc_page_limit("500", &v), 0);
    assert_int_equal(v, 500);
    const char *bad[] = {"0", "501", "", "-1", "+5", "1e2", " 5", "5 ", "abc", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(aitbc_page_limit(bad[i], &v), AITBC_EINVAL);
}

static void sets_next_cursor_only_when_more(void **st) {
    (void)st;
    char t[AITBC_CURSOR_TAG_LEN + 1], tie[AITBC_CURSOR_TIE_MAX];
    tag("jobs", "QUEUED", NULL, t);
    cJSON *done = cJSON_CreateObject(), *more = cJSON_CreateObject();
    aitbc_page_set_next(done, 0, t, 5, NULL);
    aitbc_page_set_next(more, 1, t, 5, "key_x");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(done, "next_cursor")));
    int64_t k;
    assert_int_equal(
        aitbc_cursor_decode(cJSON_GetObjectItem(more, "next_cursor")->valuestring, t, &k, tie), 0);
    assert_int_equal(k, 5);
    assert_string_equal(tie, "key_x");
    cJSON_Delete(done);
    cJSON_Delete(more);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trips_and_binds_to_filters),
        cmocka_unit_test(refuses_malformed_cursors),
        cmocka_unit_test(parses_limits),
        cmocka_unit_test(sets_next_cursor_only_when_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
