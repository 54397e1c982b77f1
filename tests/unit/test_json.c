/* Canonical JSON (RFC 8785) and typed field access. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
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

/* RFC 8785 Appendix B: IEEE-754 bit patterns and the text ECMAScript (hence JCS) prints. */
static void prints_numbers_like_ecmascript(void **state) {
    (void)state;
    static const struct {
        uint64_t bits;
        const char *text;
    } vectors[] = {
        {0x0000000000000000u, "0"},
        {0x8000000000000000u, "0"},
        {0x0000000000000001u, "5e-324"},
        {0x8000000000000001u, "-5e-324"},
        {0x7fefffffffffffffu, "1.7976931348623157e+308"},
        {0xffefffffffffffffu, "-1.7976931348623157e+308"},
        {0x4340000000000000u, "9007199254740992"},
        {0xc340000000000000u, "-9007199254740992"},
        {0x4430000000000000u, "295147905179352830000"},
        {0x44b52d02c7e14af5u, "9.999999999999997e+22"},
        {0x44b52d02c7e14af6u, "1e+23"},
        {0x44b52d02c7e14af7u, "1.0000000000000001e+23"},
        {0x444b1ae4d6e2ef4eu, "999999999999999700000"},
        {0x444b1ae4d6e2ef4fu, "999999999999999900000"},
        {0x444b1ae4d6e2ef50u, "1e+21"},
        {0x3eb0c6f7a0b5ed8cu, "9.999999999999997e-7"},
        {0x3eb0c6f7a0b5ed8du, "0.000001"},
        {0x41b3de4355555553u, "333333333.3333332"},
        {0x41b3de4355555554u, "333333333.33333325"},
        {0x41b3de4355555555u, "333333333.3333333"},
        {0x41b3de4355555556u, "333333333.3333334"},
        {0x41b3de4355555557u, "333333333.33333343"},
        {0xbecbf647612f3696u, "-0.0000033333333333333333"},
        {0x43143ff3c1cb0959u, "1424953923781206.2"},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        double v;
        memcpy(&v, &vectors[i].bits, sizeof v);
        cJSON *n = cJSON_CreateNumber(v);
        char *out = aitbc_json_canonical(n);
        assert_non_null(out);
        assert_string_equal(out, vectors[i].text);
        free(out);
        cJSON_Delete(n);
    }
    /* Plain digits from 1e-6 up to 1e21, exponent form outside; parsed input, not just bits. */
    check_canonical("[1e16,1e20,1e-7,0.00001,-1e-7,1.5e-7,123.456,2.5e21]",
                    "[10000000000000000,100000000000000000000,1e-7,0.00001,-1e-7,1.5e-7,123.456,"
                    "2.5e+21]");
    /* No canonical form for what JSON cannot say. */
    cJSON *nan = cJSON_CreateNumber(0.0 / 0.0);
    assert_null(aitbc_json_canonical(nan));
    cJSON_Delete(nan);
}

/* The everyday writer keeps member order and nulls but prints numbers like the canonical one. */
static void prints_in_order_with_canonical_numbers(void **state) {
    (void)state;
    const char in[] = "{\"z\":0.30000000000000004,\"a\":null,\"m\":[1e21,5e-324,-0,"
                      "1.7976931348623157e308,1.0000000000000002],\"s\":\"\\u0001\"}";
    cJSON *j = cJSON_Parse(in);
    assert_non_null(j);
    cJSON_AddItemToObject(j, "inf", cJSON_CreateNumber(INFINITY));
    cJSON_AddItemToObject(j, "raw", cJSON_CreateRaw("[1,2]"));
    char *out = aitbc_json_print(j);
    assert_string_equal(out, "{\"z\":0.30000000000000004,\"a\":null,\"m\":[1e+21,5e-324,0,"
                             "1.7976931348623157e+308,1.0000000000000002],\"s\":\"\\u0001\","
                             "\"inf\":null,\"raw\":[1,2]}");
    free(out);
    assert_null(aitbc_json_print(NULL));
    cJSON_Delete(j);
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

static void strict_parse_refuses_garbage_and_bad_utf8(void **state) {
    (void)state;
    static const char *const good[] = {"{}", " {\"a\":[1,2]}\n",
                                       "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "3", "null"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        cJSON *j = aitbc_json_parse_strict(good[i], strlen(good[i]));
        assert_non_null(j);
        cJSON_Delete(j);
    }
    static const char *const bad[] = {"",
                                      "{}x",
                                      "{} {}",
                                      "{",
                                      "\"\xc0\xaf\"" /* overlong '/' */,
                                      "\"\xed\xa0\x80\"" /* surrogate */,
                                      "\"\xf4\x90\x80\x80\"" /* > U+10FFFF */,
                                      "\"\xff\"",
                                      "\"\xe2\x82\"" /* truncated */,
                                      "\"\x80\"" /* stray continuation */};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_null(aitbc_json_parse_strict(bad[i], strlen(bad[i])));
    /* length bounds the parse: a NUL-free prefix of a longer buffer */
    assert_null(aitbc_json_parse_strict("{\"a\":1}", 5));
    assert_true(aitbc_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(aitbc_utf8_valid("\xf0\x9f\x98", 3));
}

/* Values that would silently change (a cut string, a lost duplicate, infinity) are refused. */
static void strict_parse_refuses_nul_duplicates_and_infinity(void **state) {
    (void)state;
    static const char *const bad[] = {"{\"amount\":\"1\\u00000\"}",
                                      "[\"\\u0000\"]",
                                      "{\"a\\u0000b\":1}",
                                      "{\"a\":1,\"a\":2}",
                                      "{\"x\":{\"k\":1,\"j\":2,\"k\":3}}",
                                      "1e999",
                                      "[-1e400]",
                                      "{\"n\":{\"v\":1E+999}}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (aitbc_json_parse_strict(bad[i], strlen(bad[i]))) fail_msg("accepted %s", bad[i]);
    /* An escaped backslash before "u0000" is text, and equal names in different objects are fine.
     */
    static const char *const good[] = {"[\"\\\\u0000\"]", "{\"a\":{\"a\":1},\"b\":{\"a\":2}}",
                                       "1.7976931348623157e308", "\"\\u0001\""};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        cJSON *j = aitbc_json_parse_strict(good[i], strlen(good[i]));
        if (!j) fail_msg("refused %s", good[i]);
        cJSON_Delete(j);
    }
    /* Raw control characters: none inside a string (a raw NUL would cut it), only whitespace
     * outside. */
    static const char raw_nul[] = "{\"name\":\"a\0b\"}";
    assert_null(aitbc_json_parse_strict(raw_nul, sizeof raw_nul - 1));
    static const char *const raw_bad[] = {"[\"a\x01\"]", "[\"a\tb\"]", "[\"a\nb\"]", "[1,\x0b2]"};
    for (size_t i = 0; i < sizeof raw_bad / sizeof *raw_bad; i++)
        if (aitbc_json_parse_strict(raw_bad[i], strlen(raw_bad[i])))
            fail_msg("accepted raw control in %s", raw_bad[i]);
    cJSON *spaced = aitbc_json_parse_strict("{\n\t\"a\" :\r\n[\"\\\"\\t\"]}", 19);
    assert_non_null(spaced);
    cJSON_Delete(spaced);
    /* A large object: duplicates found by sorting, distinct names accepted. */
    char big[40000];
    size_t n = 0;
    big[n++] = '{';
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    big[n++] = '}';
    cJSON *j = aitbc_json_parse_strict(big, n);
    assert_non_null(j);
    cJSON_Delete(j);
    n += (size_t)snprintf(big + n - 1, sizeof big - n, ",\"k1234\":0}") - 1;
    assert_null(aitbc_json_parse_strict(big, n));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strict_parse_refuses_nul_duplicates_and_infinity),
        cmocka_unit_test(sorts_keys_and_strips_whitespace),
        cmocka_unit_test(drops_null_members_recursively),
        cmocka_unit_test(escapes_like_jcs),
        cmocka_unit_test(orders_by_utf16_code_units),
        cmocka_unit_test(prints_numbers_exactly),
        cmocka_unit_test(prints_numbers_like_ecmascript),
        cmocka_unit_test(prints_in_order_with_canonical_numbers),
        cmocka_unit_test(hashes_canonical_form),
        cmocka_unit_test(reads_exact_integers_only),
        cmocka_unit_test(finds_unknown_keys),
        cmocka_unit_test(builds_money_fields),
        cmocka_unit_test(strict_parse_refuses_garbage_and_bad_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
