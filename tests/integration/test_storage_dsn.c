/* storage.driver postgres with a server that cannot be reached: the host refuses to start with a
 * message naming the host and port and what to check, and never prints the dsn's password; a dsn
 * that is not a libpq connection string is refused as such. No server is needed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* A loopback port nothing listens on (bound, read, closed). */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void unreachable_server_is_named(void **state) {
    (void)state;
    int port = closed_port();
    char extra[256];
    snprintf(extra, sizeof extra,
             "storage:\n  driver: postgres\n  dsn: \"host=127.0.0.1 port=%d dbname=aitbc "
             "user=aitbc password=hunter22\"\n",
             port);
    const char *const args[] = {NULL};
    char *out = NULL;
    assert_int_equal(th_run_once("  hello: {}\n", extra, args, &out), 1);
    assert_non_null(out);
    char want[96];
    snprintf(want, sizeof want, "cannot connect to PostgreSQL at 127.0.0.1 port %d", port);
    if (!strstr(out, want) || !strstr(out, "storage.dsn")) fail_msg("no clear message: %s", out);
    assert_null(strstr(out, "hunter22"));
    free(out);
}

static void malformed_dsn_is_refused(void **state) {
    (void)state;
    const char *const args[] = {NULL};
    char *out = NULL;
    assert_int_equal(th_run_once("  hello: {}\n",
                                 "storage:\n  driver: postgres\n  dsn: \"just words\"\n", args,
                                 &out),
                     1);
    assert_non_null(strstr(out, "storage.dsn is not a libpq connection string"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unreachable_server_is_named),
        cmocka_unit_test(malformed_dsn_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
