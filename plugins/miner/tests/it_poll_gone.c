/* A miner's long-poll is a write route: its handler runs on the writer and parks there, and the
 * connection resumes only after the batch commits. A miner that hung up meanwhile must not leave
 * its freed request in the long-poll registry, where the next poll to park (or a wake) would
 * write through it (AddressSanitizer: heap-use-after-free in http_defer). The writer is held by
 * the batchprobe test plugin so the hang-ups surely land inside that window. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobs_th.h"

static th_host *H;
static jt_miner M; /* its key also drives batchprobe (any role) */

static void *hold_writer(void *id) {
    char body[128];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"mode\":\"hold\"}", (const char *)id);
    th_resp r;
    th_req(H, "POST", "/v1/batchprobe/items", M.key, body, &r);
    th_resp_free(&r);
    return NULL;
}

static int writer_held(void *arg) {
    th_resp r;
    int held = th_req(arg, "GET", "/v1/batchprobe/state", NULL, NULL, &r) == 0 && r.json &&
               jt_int(r.json, "held") == 1;
    th_resp_free(&r);
    return held;
}

/* Sends a whole poll request, then hangs up without reading. */
static void poll_and_hang_up(const jt_miner *m) {
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST /v1/miners/%s/poll?wait_s=5 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "X-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                     "\r\n{}",
                     m->address, m->key);
    int fd = th_tcp(th_http_port(H));
    assert_true(fd >= 0);
    assert_int_equal(th_send_all(fd, req, (size_t)n), 0);
    close(fd);
}

static void test_polls_that_hang_up_while_the_writer_runs(void **st) {
    (void)st;
    assert_int_equal(jt_miner_register(H, &M, "{\"job_types\":[\"test\"]}", 1, "0.1"), 201);
    for (int round = 0; round < 3; round++) {
        pthread_t t;
        char id[16];
        snprintf(id, sizeof id, "hold%d", round);
        assert_int_equal(pthread_create(&t, NULL, hold_writer, id), 0);
        assert_true(th_wait_until(writer_held, H, 10000));
        for (int i = 0; i < 8; i++)
            poll_and_hang_up(&M);
        usleep(100 * 1000); /* the host has read them and queued them behind the held batch */
        th_resp r;
        assert_int_equal(th_req(H, "POST", "/v1/batchprobe/release", NULL, "{}", &r), 0);
        th_resp_free(&r);
        pthread_join(t, NULL);
        /* Parks after the hung-up ones: a freed neighbour in the registry is touched here. */
        assert_int_equal(jt_beat(H, &M, 1, "[]", &r), 200);
        th_resp_free(&r);
    }
    char *err = th_stderr(H);
    assert_null(strstr(err, "Sanitizer"));
    free(err);
    assert_int_equal(th_stop(H), 0);
}

static int setup(void **st) {
    (void)st;
    H = jt_start_full("heartbeat_interval_s: 30, lease_s: 60", NULL, "  batchprobe: {}\n", NULL);
    return H ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    th_free(H);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_polls_that_hang_up_while_the_writer_runs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
