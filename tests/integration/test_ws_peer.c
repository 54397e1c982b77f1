/* One WebSocket peer must not stop the WebSocket service: a subscriber with a small receive
 * window that reads part of a stream of large events and then closes (a browser tab closed
 * mid-stream) — afterwards another client connects and is served, and the host stops cleanly.
 * And one key or account cannot take every slot (websocket.max_clients_per_key/_account). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ws_test_plugin/ws_test_util.h"

#define LARGE_EVENT_BYTES (512 * 1024)
#define LARGE_EVENTS 24

static int send_masked(int fd, const char *text) {
    return wst_send_frame(fd, 0x1, text, strlen(text));
}

/* A raw subscriber whose socket takes little at a time. */
static int small_window_subscriber(int port, const char *api_key) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "X-Api-Key: %s\r\n", api_key);
    assert_int_equal(wst_raw_upgrade(fd, "/ws", hdr), 0);
    char buf[2048];
    assert_true(wst_read(fd, buf, sizeof(buf), 5000, WST_HTTP_RESPONSE) > 0);
    assert_non_null(strstr(buf, " 101 "));
    assert_int_equal(
        send_masked(fd, "{\"id\":1,\"method\":\"subscribe\",\"params\":[\"probe_public\"]}"), 0);
    /* The reply: subscribed before anything is published. */
    assert_true(wst_read(fd, buf, sizeof(buf), 5000, WST_FIRST_DATA) > 0);
    assert_non_null(strstr(buf, "\"subscribed\":[\"probe_public\"]"));
    return fd;
}

enum peer_exit { PEER_CLOSE_FRAME_THEN_FIN, PEER_RESET };

static void peer_leaves_mid_stream(enum peer_exit how) {
    th_host *h = th_start(WST_PLUGINS, "websocket: { listen: \"127.0.0.1:0\" }\n");
    assert_non_null(h);
    wst_key admin, client;
    assert_int_equal(wst_admin_key(h, &admin), 0);
    assert_int_equal(wst_new_key(h, &admin, "client", &client), 0);
    int fd = small_window_subscriber(th_ws_port(h), client.api_key);

    char *data = malloc(LARGE_EVENT_BYTES + 32);
    int n = snprintf(data, 32, "{\"pad\":\"");
    memset(data + n, 'x', LARGE_EVENT_BYTES);
    snprintf(data + n + LARGE_EVENT_BYTES, 8, "\"}");
    assert_int_equal(wst_publish(h, &admin, "probe_public", data, LARGE_EVENTS), 0);
    free(data);
    /* Part of the stream, then the peer leaves: a close frame and FIN while it reads no more
     * (the server's answer cannot get through), or a reset with bytes unread. */
    static char part[16 * 1024];
    assert_true(wst_read(fd, part, sizeof(part), 5000, WST_FIRST_DATA) > 0);
    if (how == PEER_RESET) {
        close(fd);
        fd = -1;
    } else {
        assert_int_equal(wst_send_frame(fd, 0x8, "\x03\xe9", 2), 0);
        shutdown(fd, SHUT_WR);
    }

    /* Another client is served. */
    wsc_loop *l = wsc_loop_new();
    wsc *c = wsc_connect(l, th_ws_port(h), client.api_key, 5000);
    assert_true(wsc_is_open(c));
    cJSON *pong = wst_call(c, "{\"id\":7,\"method\":\"ping\"}");
    assert_non_null(pong);
    assert_int_equal(cJSON_GetObjectItem(pong, "id")->valueint, 7);
    cJSON_Delete(pong);
    wsc_loop_free(l);
    /* And the host stops on SIGTERM. */
    assert_int_equal(th_stop(h), 0);
    if (fd >= 0) close(fd);
    th_free(h);
}

static void close_frame_then_silence(void **state) {
    (void)state;
    peer_leaves_mid_stream(PEER_CLOSE_FRAME_THEN_FIN);
}

static void reset_with_unread_bytes(void **state) {
    (void)state;
    peer_leaves_mid_stream(PEER_RESET);
}

/* ---- fair share of WebSocket slots ---- */

#define ACCT_A                                                                                     \
    "ait1"                                                                                         \
    "00000000000000000000000000000000000000a1"
#define ACCT_B                                                                                     \
    "ait1"                                                                                         \
    "00000000000000000000000000000000000000b1"

static int opens(wsc_loop *l, int port, const char *key, wsc **out) {
    wsc *c = wsc_connect(l, port, key, 5000);
    if (out) *out = c;
    return wsc_is_open(c) ? 0 : wsc_http_status(c);
}

typedef struct reconnect {
    wsc_loop *l;
    int port;
} reconnect;

static int a2_gets_in(void *arg) {
    reconnect *r = arg;
    return opens(r->l, r->port, "k-a2", NULL) == 0;
}

static void caps_per_key_and_account(void **state) {
    (void)state;
    th_host *h =
        th_start("  auth-static: { keys: [ {key: \"k-a1\", role: client, address: \"" ACCT_A
                 "\"},\n    {key: \"k-a2\", role: client, address: \"" ACCT_A "\"},\n"
                 "    {key: \"k-b\", role: client, address: \"" ACCT_B "\"} ] }\n",
                 "websocket: { listen: \"127.0.0.1:0\", max_clients_per_key: 2,"
                 " max_clients_per_account: 3 }\n");
    assert_non_null(h);
    int port = th_ws_port(h);
    wsc_loop *l = wsc_loop_new();
    wsc *first;
    assert_int_equal(opens(l, port, "k-a1", &first), 0);
    assert_int_equal(opens(l, port, "k-a1", NULL), 0);
    assert_int_equal(opens(l, port, "k-a1", NULL), 429); /* the key's share */
    assert_int_equal(opens(l, port, "k-a2", NULL), 0);
    assert_int_equal(opens(l, port, "k-a2", NULL), 429); /* the account's share */
    assert_int_equal(opens(l, port, "k-b", NULL), 0);    /* others are not affected */
    wsc_free(first);
    reconnect r = {l, port};
    assert_true(th_wait_until(a2_gets_in, &r, 5000)); /* a freed slot is usable again */
    wsc_loop_free(l);
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_frame_then_silence),
        cmocka_unit_test(reset_with_unread_bytes),
        cmocka_unit_test(caps_per_key_and_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
