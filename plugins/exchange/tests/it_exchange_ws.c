/* The exchange's WebSocket feed through the real host: `trades`, `orderbook` and
 * `orderbook:AIT-BTC` events after placements, with the changed levels only ("0" = gone) and a
 * sequence that continues the order book snapshot's `sequence` without gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "ex_common.h"
#include "ws_client.h"

#define N_MSGS 8 /* 3 book changes on 2 topics + 2 trades */

static int64_t num(const cJSON *o, const char *k) {
    return (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int64_t book_sequence(void) {
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/orderbook?market=AIT-BTC", "k-bob", NULL, &r), 200);
    int64_t s = num(r.json, "sequence");
    th_resp_free(&r);
    return s;
}

static void place(const char *key, const char *side, const char *qty) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"market\":\"AIT-BTC\",\"side\":\"%s\",\"type\":\"limit\",\"price\":\"0.001\","
             "\"quantity\":\"%s\"}",
             side, qty);
    th_resp r;
    order(key, body, 201, &r);
    th_resp_free(&r);
}

/* The one level of an event side as "price/qty", or "" if none. */
static void one_level(const cJSON *data, const char *side, char *out, size_t cap) {
    const cJSON *lv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(data, side), 0);
    snprintf(out, cap, "%s/%s", lv ? cJSON_GetStringValue(cJSON_GetArrayItem(lv, 0)) : "",
             lv ? cJSON_GetStringValue(cJSON_GetArrayItem(lv, 1)) : "");
}

static void test_feed(void **st) {
    (void)st;
    mint(ALICE, "AIT", "10");
    mint(BOB, "BTC", "1");
    wsc_loop *l = wsc_loop_new();
    assert_non_null(l);
    wsc *c = wsc_connect(l, th_ws_port(H), "k-carol", 5000);
    assert_true(wsc_is_open(c));
    wsc_send(c, "{\"id\":1,\"method\":\"subscribe\",\"params\":[\"trades\",\"orderbook\","
                "\"orderbook:AIT-BTC\"]}");
    cJSON *reply = wsc_recv_json(c, 5000);
    assert_non_null(reply);
    const cJSON *subs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(reply, "result"), "subscribed");
    assert_int_equal(cJSON_GetArraySize(subs), 3);
    cJSON_Delete(reply);

    int64_t s0 = book_sequence();
    place("k-alice", "sell", "2");
    place("k-bob", "buy", "1");
    place("k-bob", "buy", "1");

    const char *want_asks[] = {"0.001/2", "0.001/1", "0.001/0"};
    int book_all = 0, book_mkt = 0, trades = 0;
    int64_t last = s0;
    for (int i = 0; i < N_MSGS; i++) {
        cJSON *m = wsc_recv_json(c, 5000);
        if (!m) fail_msg("message %d of %d did not arrive", i + 1, N_MSGS);
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
        const char *topic = jstr(params, "topic");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(params, "data");
        assert_non_null(topic);
        assert_string_equal(jstr(data, "market"), "AIT-BTC");
        if (strcmp(topic, "trades") == 0) {
            assert_string_equal(jstr(data, "price"), "0.001");
            assert_string_equal(jstr(data, "quantity"), "1");
            assert_string_equal(jstr(data, "side"), "buy");
            assert_true(strncmp(jstr(data, "trade_id"), "trd_", 4) == 0);
            trades++;
        } else {
            int *k = strcmp(topic, "orderbook") == 0 ? &book_all : &book_mkt;
            if (k == &book_mkt) assert_string_equal(topic, "orderbook:AIT-BTC");
            assert_true(*k < 3);
            char asks[64], bids[64];
            one_level(data, "asks", asks, sizeof asks);
            one_level(data, "bids", bids, sizeof bids);
            assert_string_equal(asks, want_asks[*k]);
            assert_string_equal(bids, "/");
            /* Each event covers one level and continues the snapshot's sequence. */
            assert_int_equal(num(data, "first_sequence"), s0 + *k + 1);
            assert_int_equal(num(data, "last_sequence"), s0 + *k + 1);
            last = num(data, "last_sequence");
            (*k)++;
        }
        cJSON_Delete(m);
    }
    assert_int_equal(book_all, 3);
    assert_int_equal(book_mkt, 3);
    assert_int_equal(trades, 2);
    assert_int_equal(book_sequence(), last);
    wsc_loop_free(l);
}

static int group_setup(void **st) {
    (void)st;
    H = th_start(k_plugins, "websocket: { listen: \"127.0.0.1:0\" }\n");
    return H ? 0 : -1;
}

static int group_teardown(void **st) {
    (void)st;
    th_free(H);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_feed)};
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
