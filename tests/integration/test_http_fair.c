/* Fair share of HTTP connections: one address cannot hold more than
 * http.max_connections_per_address sockets (another address is still served), and a request head
 * that is not complete within http.header_timeout_s is cut off even while bytes keep trickling. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define PLUGINS "  hello: {}\n"

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP connection to the host from the given loopback address (all of 127/8 is local). */
static int connect_from(const char *from, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &src.sin_addr);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof dst), 0);
    return fd;
}

static int send_text(int fd, const char *text) {
    size_t n = strlen(text);
    return send(fd, text, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* Bytes of the answer (NUL-terminated in buf), 0 when the server closed without one, -1 when
 * nothing happened within timeout_ms. */
static long answer(int fd, char *buf, size_t cap, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0) return -1;
    ssize_t n = recv(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return n < 0 ? 0 : (long)n;
}

static void one_address_cannot_take_every_slot(void **state) {
    (void)state;
    th_host *h = th_start(PLUGINS, "http:\n  listen: \"127.0.0.1:0\"\n"
                                   "  max_connections_per_address: 4\n");
    assert_non_null(h);
    int port = th_http_port(h);
    int held[4];
    char buf[4096];
    for (int i = 0; i < 4; i++) {
        /* One whole request answered first: the host has surely accepted (and counted) this
         * connection, not just the kernel, before the fifth connects. Then half a request. */
        held[i] = connect_from("127.0.0.3", port);
        assert_int_equal(send_text(held[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        assert_true(answer(held[i], buf, sizeof buf, 5000) > 0);
        assert_int_equal(send_text(held[i], "GET /v1/hello HTTP/1.1\r\nHost: x\r\n"), 0);
    }
    /* The fifth from that address is closed at once, without an answer. */
    int fifth = connect_from("127.0.0.3", port);
    send_text(fifth, "GET /v1/hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(answer(fifth, buf, sizeof buf, 5000), 0);
    close(fifth);
    /* Another address is served. */
    int other = connect_from("127.0.0.4", port);
    assert_int_equal(
        send_text(other, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 0);
    assert_true(answer(other, buf, sizeof buf, 5000) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    close(other);
    for (int i = 0; i < 4; i++)
        close(held[i]);
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

static void a_trickled_head_is_cut_at_the_deadline(void **state) {
    (void)state;
    th_host *h = th_start(PLUGINS, "http:\n  listen: \"127.0.0.1:0\"\n  header_timeout_s: 1\n");
    assert_non_null(h);
    int fd = connect_from("127.0.0.5", th_http_port(h));
    assert_int_equal(send_text(fd, "GET /v1/hello HTTP/1.1\r\nHost: x\r\n"), 0);
    int64_t start = mono_ms();
    char buf[256];
    long got = -1;
    /* One header byte every 100 ms keeps MHD's idle timer happy; the deadline still applies. */
    while (got < 0 && mono_ms() - start < 6000) {
        if (send_text(fd, "X") != 0) break;
        got = answer(fd, buf, sizeof buf, 100);
    }
    int64_t took = mono_ms() - start;
    close(fd);
    assert_true(took < 3000);
    /* A prompt request still works, and a kept-alive one too. */
    th_resp r;
    assert_int_equal(th_req(h, "GET", "/healthz", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_address_cannot_take_every_slot),
        cmocka_unit_test(a_trickled_head_is_cut_at_the_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
