/* Unit tests of the WebSocket client protocol (ws_protocol.c) and the upgrade tickets
 * (ws_tickets.c): hostile messages, the exact reply shapes of API.md, topic permissions,
 * single-use / expiry / per-key bounds of tickets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aitbc/errors.h"
#include "ws_internal.h"

static int parse(const char *text, ws_request *rq) {
    return ws_request_parse(text, strlen(text), rq);
}

static void seed_subscribe_message(void **state) {
    ws_request rq;
    assert_int_equal(
        parse("{\"method\":\"subscribe\",\"params\":[\"job_updates\",\"miner_heartbeats\"]}", &rq),
        0);
    assert_int_equal(rq.method, WS_M_SUBSCRIBE);
    assert_null(rq.id);
    assert_int_equal(cJSON_GetArraySize(rq.topics), 2);
    assert_string_equal(cJSON_GetArrayItem(rq.topics, 1)->valuestring, "miner_heartbeats");
    ws_request_free(&rq);
}

static void id_is_echoed(void **state) {
    ws_request rq;
    assert_int_equal(parse(" {\"id\":7,\"method\":\"unsubscribe\",\"params\":[]}\n", &rq), 0);
    assert_int_equal(rq.method, WS_M_UNSUBSCRIBE);
    char *r = ws_reply_result(rq.id, cJSON_CreateObject());
    assert_string_equal(r, "{\"id\":7,\"result\":{}}");
    free(r);
    ws_request_free(&rq);

    assert_int_equal(parse("{\"id\":\"a\\\"b\",\"method\":\"ping\"}", &rq), 0);
    assert_int_equal(rq.method, WS_M_PING);
    r = ws_reply_error(rq.id, "x_y", "msg");
    assert_string_equal(r, "{\"id\":\"a\\\"b\",\"error\":{\"code\":\"x_y\",\"message\":\"msg\"}}");
    free(r);
    ws_request_free(&rq);
}

static void expect_error(const char *text, const char *code, int has_id) {
    ws_request rq;
    assert_int_equal(ws_request_parse(text, strlen(text), &rq), AITBC_EINVAL);
    assert_int_equal(rq.method, WS_M_INVALID);
    assert_string_equal(rq.err_code, code);
    assert_non_null(rq.err_msg);
    assert_int_equal(rq.id != NULL, has_id);
    ws_request_free(&rq);
}

static void bad_messages(void **state) {
    expect_error("", "invalid_json", 0);
    expect_error("{", "invalid_json", 0);
    expect_error("{}x", "invalid_json", 0);
    expect_error("{\"method\":\"ping\"} {}", "invalid_json", 0);
    expect_error("[1,2]", "invalid_argument", 0);
    expect_error("\"subscribe\"", "invalid_argument", 0);
    expect_error("{}", "invalid_argument", 0);
    expect_error("{\"method\":5}", "invalid_argument", 0);
    expect_error("{\"id\":{},\"method\":\"ping\"}", "invalid_argument", 0);
    expect_error("{\"id\":1,\"method\":\"nope\"}", "unknown_method", 1);
    expect_error("{\"id\":1,\"method\":\"Subscribe\",\"params\":[]}", "unknown_method", 1);
    expect_error("{\"id\":1,\"method\":\"subscribe\"}", "invalid_argument", 1);
    expect_error("{\"id\":1,\"method\":\"subscribe\",\"params\":\"blocks\"}", "invalid_argument",
                 1);
    expect_error("{\"id\":1,\"method\":\"subscribe\",\"params\":[\"a\",3]}", "invalid_argument", 1);
    expect_error("{\"id\":1,\"method\":\"unsubscribe\",\"params\":[null]}", "invalid_argument", 1);
    /* More topics than a connection may hold in one request. */
    char big[4096] = "{\"method\":\"subscribe\",\"params\":[";
    for (int i = 0; i < WS_MAX_SUBS + 1; i++)
        strcat(big, i ? ",\"t\"" : "\"t\"");
    strcat(big, "]}");
    expect_error(big, "invalid_argument", 0);
    /* Bytes after a NUL are not part of the parsed text but the length says they are. */
    ws_request rq;
    assert_int_equal(ws_request_parse("{\"method\":\"ping\"}\0zz", 20, &rq), AITBC_EINVAL);
    ws_request_free(&rq);
    /* Oversized messages are refused without parsing. */
    char *huge = malloc(WS_MSG_MAX + 2);
    memset(huge, ' ', WS_MSG_MAX + 1);
    huge[WS_MSG_MAX + 1] = '\0';
    assert_int_equal(ws_request_parse(huge, WS_MSG_MAX + 1, &rq), AITBC_EINVAL);
    free(huge);
}

static void topic_permissions(void **state) {
    aitbc_principal client = {.key_id = "key_c", .role = AITBC_ROLE_CLIENT};
    aitbc_principal admin = {.key_id = "key_a", .role = AITBC_ROLE_ADMIN};
    aitbc_topic admins = {.name = "miner_heartbeats", .roles = AITBC_ROLE_ADMIN | AITBC_ROLE_MINER};
    aitbc_topic pub = {.name = "blocks", .roles = AITBC_ROLE_ANY};
    aitbc_topic zero = {.name = "x", .roles = AITBC_ROLE_PUBLIC};
    assert_int_equal(ws_topic_check(&admins, &client), WS_TOPIC_FORBIDDEN);
    assert_int_equal(ws_topic_check(&admins, &admin), WS_TOPIC_OK);
    assert_int_equal(ws_topic_check(&pub, &client), WS_TOPIC_OK);
    assert_int_equal(ws_topic_check(&zero, &client), WS_TOPIC_OK);
    assert_int_equal(ws_topic_check(NULL, &admin), WS_TOPIC_UNKNOWN);
    assert_string_equal(ws_topic_reason(WS_TOPIC_FORBIDDEN), "forbidden");
    assert_string_equal(ws_topic_reason(WS_TOPIC_UNKNOWN), "unknown_topic");
    assert_null(ws_topic_reason(WS_TOPIC_OK));
    assert_true(ws_topic_name_ok("orderbook:AIT-BTC"));
    assert_false(ws_topic_name_ok(""));
    assert_false(ws_topic_name_ok("a b"));
    assert_false(ws_topic_name_ok("caf\xc3\xa9"));
    assert_false(ws_topic_name_ok(NULL));
    char longname[WS_TOPIC_MAX + 1];
    memset(longname, 'a', WS_TOPIC_MAX);
    longname[WS_TOPIC_MAX] = '\0';
    assert_false(ws_topic_name_ok(longname));
    longname[WS_TOPIC_MAX - 1] = '\0';
    assert_true(ws_topic_name_ok(longname));
}

static void tickets_single_use_and_bound(void **state) {
    ws_tickets *t = ws_tickets_new();
    aitbc_principal a = {.key_id = "key_a", .role = AITBC_ROLE_CLIENT, .owner_address = "ait1aa"};
    aitbc_principal got;
    char tk[WS_TICKET_MAX], tk2[WS_TICKET_MAX];
    int64_t exp;
    assert_int_equal(ws_tickets_issue(t, &a, 1000, tk, &exp), 0);
    assert_int_equal(exp, 1000 + WS_TICKET_TTL_MS);
    assert_int_equal(strncmp(tk, "wst_", 4), 0);
    assert_int_equal(strlen(tk), 36);
    assert_int_equal(ws_tickets_issue(t, &a, 1000, tk2, &exp), 0);
    assert_string_not_equal(tk, tk2);
    /* A wrong ticket, one of other length, and NULL are refused. */
    char wrong[WS_TICKET_MAX];
    strcpy(wrong, tk);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    assert_int_equal(ws_tickets_take(t, wrong, 1001, &got), AITBC_EAUTH);
    assert_int_equal(ws_tickets_take(t, "wst_", 1001, &got), AITBC_EAUTH);
    assert_int_equal(ws_tickets_take(t, NULL, 1001, &got), AITBC_EAUTH);
    /* Redeemed once, bound to its principal; never again. */
    assert_int_equal(ws_tickets_take(t, tk, 1001, &got), 0);
    assert_string_equal(got.key_id, "key_a");
    assert_string_equal(got.owner_address, "ait1aa");
    assert_int_equal(got.role, AITBC_ROLE_CLIENT);
    assert_int_equal(ws_tickets_take(t, tk, 1002, &got), AITBC_EAUTH);
    /* Expired at exactly 30 s. */
    assert_int_equal(ws_tickets_take(t, tk2, 1000 + WS_TICKET_TTL_MS, &got), AITBC_EAUTH);
    ws_tickets_free(t);
}

static void tickets_bounds_and_revocation(void **state) {
    ws_tickets *t = ws_tickets_new();
    aitbc_principal a = {.key_id = "key_a", .role = AITBC_ROLE_CLIENT};
    aitbc_principal b = {.key_id = "key_b", .role = AITBC_ROLE_CLIENT};
    aitbc_principal got;
    char tk[WS_TICKET_MAX], tb[WS_TICKET_MAX];
    int64_t exp;
    for (int i = 0; i < WS_TICKETS_PER_KEY; i++)
        assert_int_equal(ws_tickets_issue(t, &a, 0, tk, &exp), 0);
    assert_int_equal(ws_tickets_issue(t, &a, 0, tk, &exp), AITBC_ERATE);
    assert_int_equal(ws_tickets_issue(t, &b, 0, tb, &exp), 0);
    /* Once they expire the key may ask again. */
    assert_int_equal(ws_tickets_issue(t, &a, WS_TICKET_TTL_MS, tk, &exp), 0);
    /* A revoked key's tickets are gone; other keys' stay. */
    ws_tickets_revoke(t, "key_a");
    assert_int_equal(ws_tickets_take(t, tk, WS_TICKET_TTL_MS + 1, &got), AITBC_EAUTH);
    ws_tickets_revoke(t, "key_a");
    assert_int_equal(ws_tickets_issue(t, &b, 1, tk, &exp), 0);
    assert_int_equal(ws_tickets_take(t, tk, 2, &got), 0);
    assert_string_equal(got.key_id, "key_b");
    ws_tickets_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_subscribe_message),
        cmocka_unit_test(id_is_echoed),
        cmocka_unit_test(bad_messages),
        cmocka_unit_test(topic_permissions),
        cmocka_unit_test(tickets_single_use_and_bound),
        cmocka_unit_test(tickets_bounds_and_revocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
