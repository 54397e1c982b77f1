/* Canonical JSON (RFC 8785) and typed field access. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "aitbc/errors.h"
#include "aitbc/json.h"

static void check_canonical(const char *input, const char *expected) {
    cJSON *j = cJSON_Parse(input);
    assert_non_null(j);
    char *out = aitbc_json_canonical(j);
    assert_non_null(out);
    assert_string_equal(out, expected);
    free(out);
    cJSON_Delete(j);
}

static void sorts_keys_and_strips_whitespace(void **state) {
    (void)state;
    check_canonical("{ \"b\" : 1, \"a\" : [ 3, 2, {\"z\":true,\"y\":false} ] }",
                    "{\"a\":[3,2,{\"y\":false,\"z\":true}],\"b\":1}");
    check_canonical("{\"aa\":1,\"a\":2,\"B\":3}", "{\"B\":3,\"a\":2,\"aa\":1}");
}

static void drops_null_members_recursively(void **state) {
    (void)state;
    check_canonical("{\"a\":null,\"b\":{\"c\":null,\"d\":1},\"e\":[null,1]}",
                    "{\"b\":{\"d\":1},\"e\":[null,1]}");
}

static void escapes_like_jcs(void **state) {
    (void)state;
    check_canonical("{\"s\":\"q\\\"b\\\\n\\n\\t\\u0001\\u001f/é€\"}",
                    "{\"s\":\"q\\\"b\\\\n\\n\\t\\u0001\\u001f/é€\"}");
}

static void orders_by_utf16_code_units(void **state) {
    (void)state;
    /* U+1F600 (surrogates D83D..) sorts before U+FFFD in UTF-16, after it in UTF-8 bytes. */
    check_canonical("{\"\xef\xbf\xbd\":1,\"\xf0\x9f\x98\x80\":2}",
                    "{\"\xf0\x9f\x98\x80\":2,\"\xef\xbf\xbd\":1}");
}

static void prints_numbers_exactly(void **state) {
    (void)state;
    check_canonical("[0,-0,1,-5,9007199254740991,1.5,0.1,1e2]",
                    "[0,0,1,-5,9007199254740991,1.5,0.1,100]");
}

static void hashes_canonical_form(void **state) {
    (void)state;
    cJSON *a = cJSON_Parse("{\"b\":1,\"a\":2}");
    cJSON *b = cJSON_Parse("{ \"a\": 2, \"b\": 1, \"c\": null }");
    char ha[65], hb[65];
    assert_int_equal(aitbc_json_sha256_hex(a, ha), 0);
    assert_int_equal(aitbc_json_sha256_hex(b, hb), 0);
    assert_string_equal(ha, hb);
    /* sha256("{}") */
    cJSON *empty = cJSON_CreateObject();
    assert_int_equal(aitbc_json_sha256_hex(empty, ha), 0);
    assert_string_equal(ha, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(empty);
}

static void reads_exact_integers_only(void **state) {
    (void)state;
    cJSON *j = cJSON_Parse("[3,-7,1.5,9007199254740993e3,\"4\",true]");
    int64_t v;
    assert_int_equal(aitbc_json_int(cJSON_GetArrayItem(j, 0), &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(aitbc_json_int(cJSON_GetArrayItem(j, 1), &v), 0);
    assert_int_equal(v, -7);
    for (int i = 2; i < 6; i++)
        assert_int_equal(aitbc_json_int(cJSON_GetArrayItem(j, i), &v), AITBC_EINVAL);
    cJSON_Delete(j);
}

static void finds_unknown_keys(void **state) {
    (void)state;
    static const char *const allowed[] = {"a", "b", NULL};
    cJSON *ok = cJSON_Parse("{\"a\":1,\"b\":2}");
    cJSON *bad = cJSON_Parse("{\"a\":1,\"zz\":2}");
    assert_null(aitbc_json_unknown_key(ok, allowed));
    assert_string_equal(aitbc_json_unknown_key(bad, allowed), "zz");
    cJSON_Delete(ok);
    cJSON_Delete(bad);
}

static void builds_money_fields(void **state) {
    (void)state;
    cJSON *o = cJSON_CreateObject();
    aitbc_json_add_money(o, "price", 12500000, 6);
    aitbc_json_add_str(o, "none", NULL);
    aitbc_json_add_i64(o, "n", 42);
    char *text = aitbc_json_canonical(o);
    assert_string_equal(text, "{\"n\":42,\"price\":\"12.5\"}");
    free(text);
    cJSON_Delete(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sorts_keys_and_strips_whitespace),
        cmocka_unit_test(drops_null_members_recursively),
        cmocka_unit_test(escapes_like_jcs),
        cmocka_unit_test(orders_by_utf16_code_units),
        cmocka_unit_test(prints_numbers_exactly),
        cmocka_unit_test(hashes_canonical_form),
        cmocka_unit_test(reads_exact_integers_only),
        cmocka_unit_test(finds_unknown_keys),
        cmocka_unit_test(builds_money_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
