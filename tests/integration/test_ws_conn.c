/* WebSocket connection management end to end: 1,000 concurrent authenticated connections each
 * getting exactly its own events in order; allowed_origins; max_clients; server pings and the
 * drop of a peer that never answers them; and the 1001 goodbye on shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "ws_test_plugin/ws_test_util.h"

#define WANTED_CONNECTIONS 1000

/* 1,000 unless the machine's hard descriptor limit cannot hold that many in the test process and
 * in the host (each needs one per connection, plus its own files); then as many as fit. */
static int connection_count(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= WANTED_CONNECTIONS + 128)
        return WANTED_CONNECTIONS;
    int fit = (int)rl.rlim_cur - 128;
    print_message("open-file limit %llu: testing %d connections instead of %d\n",
                  (unsigned long long)rl.rlim_cur, fit, WANTED_CONNECTIONS);
    return fit;
}

static void thousand_connections(void **state) {
    th_host *h = th_start(WST_PLUGINS, "websocket: { listen: \"127.0.0.1:0\", max_clients: 1100,"
                                       " max_clients_per_key: 0, max_clients_per_account: 0 }\n");
    assert_non_null(h);
    const int MANY = connection_count(); /* after th_start, which raised the soft limit */
    int port = th_ws_port(h);
    wst_key admin, a, b;
    assert_int_equal(wst_admin_key(h, &admin), 0);
    assert_int_equal(wst_new_key(h, &admin, "client", &a), 0);
    assert_int_equal(wst_new_key(h, &admin, "client", &b), 0);

    wsc_loop *l = wsc_loop_new();
    wsc **cs = calloc(MANY, sizeof(*cs));
    for (int i = 0; i < MANY; i++)
        cs[i] = wsc_open(l, port, &(wsc_opts){.api_key = i % 2 ? b.api_key : a.api_key});
    for (int i = 0; i < MANY; i++)
        assert_true(wsc_wait_open(cs[i], 30000));
    for (int i = 0; i < MANY; i++)
        assert_int_equal(wsc_send(cs[i], "{\"id\":1,\"method\":\"subscribe\",\"params\":[\"probe_"
                                         "owned\",\"probe_public\"]}"),
                         0);
    for (int i = 0; i < MANY; i++) {
        cJSON *m = wsc_recv_json(cs[i], 30000);
        assert_string_equal(wst_text(m), "{\"id\":1,\"result\":{\"subscribed\":[\"probe_owned\","
                                         "\"probe_public\"],\"denied\":[]}}");
        cJSON_Delete(m);
    }
    /* Ten owned events each for A and B, interleaved, then ten public ones. */
    char da[128], db[128];
    snprintf(da, sizeof(da), "{\"owner\":\"%s\"}", a.address);
    snprintf(db, sizeof(db), "{\"owner\":\"%s\"}", b.address);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(wst_publish(h, &admin, "probe_owned", db, 1), 0);
        assert_int_equal(wst_publish(h, &admin, "probe_owned", da, 1), 0);
    }
    assert_int_equal(wst_publish(h, &admin, "probe_public", NULL, 10), 0);
    for (int i = 0; i < MANY; i++) {
        const char *mine = i % 2 ? b.address : a.address;
        long owned = 0, pub = 0;
        while (owned + pub < 20) {
            cJSON *m = wsc_recv_json(cs[i], 30000);
            assert_non_null(m);
            if (!strcmp(wst_ev_topic(m), "probe_owned")) {
                assert_int_equal(wst_ev_seq(m), ++owned);
                assert_string_equal(cJSON_GetStringValue(wst_ev_data(m, "owner")), mine);
            } else {
                assert_int_equal(wst_ev_seq(m), ++pub);
                assert_int_equal(wst_ev_data(m, "n")->valueint, pub);
            }
            cJSON_Delete(m);
        }
        assert_int_equal(wsc_pending(cs[i]), 0);
    }
    wsc_loop_free(l);
    free(cs);
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

static int raw_status(int port, const char *headers, char *buf, size_t cap) {
    int fd = wst_tcp(port);
    if (fd < 0 || wst_raw_upgrade(fd, "/ws", headers) != 0 ||
        wst_read(fd, buf, cap, 5000, WST_HTTP_RESPONSE) <= 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return atoi(buf + 9);
}

/* Condition for th_wait_until: a raw upgrade that got its 101 (socket kept in g_fd). */
static int g_port, g_fd = -1;
static const char *g_hdr;
static int upgraded(void *arg) {
    char buf[2048];
    int fd = wst_tcp(g_port);
    if (fd < 0) return 0;
    if (wst_raw_upgrade(fd, "/ws", g_hdr) == 0 &&
        wst_read(fd, buf, sizeof(buf), 5000, WST_HTTP_RESPONSE) > 0 && atoi(buf + 9) == 101) {
        g_fd = fd;
        return 1;
    }
    close(fd);
    return 0;
}

static void origins_limits_pings_shutdown(void **state) {
    th_host *h =
        th_start(WST_PLUGINS, "websocket: { listen: \"127.0.0.1:0\", ping_interval_s: 1,"
                              " max_clients: 2, allowed_origins: [\"http://good.example\"] }\n");
    assert_non_null(h);
    int port = th_ws_port(h);
    wst_key admin;
    assert_int_equal(wst_admin_key(h, &admin), 0);
    char hdr[512], buf[4096];

    /* Origin: a listed one or none (not a browser) passes; any other is 403. */
    snprintf(hdr, sizeof(hdr), "X-Api-Key: %s\r\nOrigin: http://evil.example\r\n", admin.api_key);
    assert_int_equal(raw_status(port, hdr, buf, sizeof(buf)), 403);
    wsc_loop *l = wsc_loop_new();
    wsc *good =
        wsc_open(l, port, &(wsc_opts){.api_key = admin.api_key, .origin = "http://good.example"});
    assert_true(wsc_wait_open(good, 5000));
    wsc *plain = wsc_connect(l, port, admin.api_key, 5000);
    assert_true(wsc_is_open(plain));
    /* max_clients: 2 are connected, a third is turned away. */
    snprintf(hdr, sizeof(hdr), "X-Api-Key: %s\r\n", admin.api_key);
    assert_int_equal(raw_status(port, hdr, buf, sizeof(buf)), 503);
    wsc_free(good);

    /* A peer that completes the handshake but never answers: pinged after 1 s idle, then dropped.
     * (good's slot is free once the server has seen it close.) */
    g_port = port;
    g_hdr = hdr;
    assert_true(th_wait_until(upgraded, NULL, 5000));
    int fd = g_fd;
    unsigned char frame[64];
    long n = wst_read(fd, (char *)frame, sizeof(frame), 15000, WST_FIRST_DATA);
    assert_true(n >= 2);
    assert_int_equal(frame[0], 0x89); /* FIN + PING */
    /* No pong: the server hangs up (2 x ping + 5 s); EOF shows as a 0-byte read. */
    int64_t until = wsc_now_us() + 20 * 1000000LL;
    int eof = 0;
    while (!eof && wsc_now_us() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1000) > 0 && recv(fd, frame, sizeof(frame), 0) <= 0) eof = 1;
    }
    assert_true(eof);
    close(fd);

    /* The lws client answers pings, so it is still there; shutdown says 1001 to it. */
    assert_true(wsc_is_open(plain));
    assert_int_equal(th_stop(h), 0);
    assert_true(wsc_wait_closed(plain, 5000));
    assert_int_equal(wsc_close_code(plain), 1001);
    wsc_loop_free(l);
    th_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thousand_connections),
        cmocka_unit_test(origins_limits_pings_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
