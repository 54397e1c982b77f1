/* WebSocket protocol edges over raw sockets: a client that sends many requests at once (and
 * reads) gets every answer and is not closed as a slow consumer; one connection's protocol error
 * (a message over 16 KiB, a binary frame) closes or answers that connection only, while another
 * connection is served throughout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ws_test_plugin/ws_test_util.h"

#define PIPELINED 3000

static th_host *H;
static wst_key g_client;

static int setup(void **state) {
    (void)state;
    H = th_start(WST_PLUGINS, "websocket: { listen: \"127.0.0.1:0\" }\n");
    if (!H) return -1;
    wst_key admin;
    if (wst_admin_key(H, &admin) != 0) return -1;
    return wst_new_key(H, &admin, "client", &g_client);
}

static int teardown(void **state) {
    (void)state;
    return th_end(&H);
}

/* A raw connection past its 101. */
static int raw_client(void) {
    int fd = wst_tcp(th_ws_port(H));
    assert_true(fd >= 0);
    char hdr[256], buf[2048];
    snprintf(hdr, sizeof(hdr), "X-Api-Key: %s\r\n", g_client.api_key);
    assert_int_equal(wst_raw_upgrade(fd, "/ws", hdr), 0);
    assert_true(wst_read(fd, buf, sizeof(buf), 5000, WST_HTTP_RESPONSE) > 0);
    assert_non_null(strstr(buf, " 101 "));
    return fd;
}

/* Server frames (never masked) read from fd until `texts` text frames or a close arrived, or
 * nothing came for timeout_ms. Returns the text frames seen; *close_code gets a close's status
 * (0 without one). */
static long read_frames(int fd, long texts, int timeout_ms, int *close_code) {
    static unsigned char buf[1 << 20];
    size_t have = 0;
    long seen = 0;
    *close_code = 0;
    while (seen < texts && !*close_code) {
        size_t off = 0;
        while (have - off >= 2) {
            size_t n = buf[off + 1] & 0x7f, h = 2;
            if (n == 126) {
                if (have - off < 4) break;
                n = (size_t)buf[off + 2] << 8 | buf[off + 3];
                h = 4;
            }
            if (have - off < h + n) break;
            unsigned op = buf[off] & 0x0f;
            if (op == 0x1) seen++;
            if (op == 0x8) *close_code = n >= 2 ? buf[off + h] << 8 | buf[off + h + 1] : 1005;
            off += h + n;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        if (seen >= texts || *close_code) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) break;
        ssize_t got = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (got <= 0) break;
        have += (size_t)got;
    }
    return seen;
}

static void many_requests_at_once_are_all_answered(void **state) {
    (void)state;
    int fd = raw_client();
    /* Far more requests than the reply queue holds (256), in one write. */
    unsigned char *all = malloc((size_t)PIPELINED * 64);
    assert_non_null(all);
    size_t len = 0;
    for (int i = 0; i < PIPELINED; i++) {
        char text[48];
        int n = snprintf(text, sizeof(text), "{\"id\":%d,\"method\":\"ping\"}", i);
        len += wst_frame(all + len, 0x1, text, (size_t)n, 1);
    }
    assert_int_equal(th_send_all(fd, all, len), 0);
    free(all);
    int close_code;
    long answers = read_frames(fd, PIPELINED, 10000, &close_code);
    if (close_code) fail_msg("closed with %d after %ld answers", close_code, answers);
    assert_int_equal(answers, PIPELINED);
    close(fd);
}

static void one_connections_error_stays_its_own(void **state) {
    (void)state;
    wsc_loop *l = wsc_loop_new();
    wsc *good = wsc_connect(l, th_ws_port(H), g_client.api_key, 5000);
    assert_true(wsc_is_open(good));

    /* A message over 16 KiB closes its connection with 1009. */
    int big = raw_client();
    size_t n = 20 * 1024;
    char *text = malloc(n);
    assert_non_null(text);
    memset(text, ' ', n);
    assert_int_equal(wst_send_frame(big, 0x1, text, n), 0);
    free(text);
    int close_code;
    read_frames(big, 1, 5000, &close_code);
    assert_int_equal(close_code, 1009);

    /* A binary frame is answered with an error; the connection stays. */
    int bin = raw_client();
    assert_int_equal(wst_send_frame(bin, 0x2, "{}", 2), 0);
    assert_int_equal(read_frames(bin, 1, 5000, &close_code), 1);
    assert_int_equal(close_code, 0);
    static const char ping[] = "{\"id\":1,\"method\":\"ping\"}";
    assert_int_equal(wst_send_frame(bin, 0x1, ping, sizeof(ping) - 1), 0);
    assert_int_equal(read_frames(bin, 1, 5000, &close_code), 1);

    /* The other connection never noticed. */
    cJSON *pong = wst_call(good, "{\"id\":9,\"method\":\"ping\"}");
    assert_non_null(pong);
    assert_int_equal(cJSON_GetObjectItem(pong, "id")->valueint, 9);
    cJSON_Delete(pong);
    close(big);
    close(bin);
    wsc_loop_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_requests_at_once_are_all_answered),
        cmocka_unit_test(one_connections_error_stays_its_own),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
