/* Job events over the real WebSocket: job_updates reach the job's client and admins only (every
 * state change, in order), job_assigned tells the fitting miner to poll, miner_heartbeats reach
 * admins and the miner itself; topics a role may not see are denied on subscribe. */
#include "jobs_th.h"
#include "ws_client.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static th_host *H;
static wsc_loop *L;

#define CAPS "{\"job_types\":[\"%s\"]}"

static wsc *connect_as(const char *key) {
    wsc *c = wsc_connect(L, th_ws_port(H), key, 5000);
    assert_true(wsc_is_open(c));
    return c;
}

/* Subscribe and return how many of the asked topics were denied as forbidden. */
static int subscribe(wsc *c, const char *topics) {
    char msg[256];
    snprintf(msg, sizeof msg, "{\"method\":\"subscribe\",\"id\":1,\"params\":%s}", topics);
    assert_int_equal(wsc_send(c, msg), 0);
    cJSON *r = wsc_recv_json(c, 5000);
    assert_non_null(r);
    const cJSON *denied =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "result"), "denied");
    int n = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, denied) n += strcmp(jt_str(d, "reason"), "forbidden") == 0;
    cJSON_Delete(r);
    return n;
}

/* Next event on c of topic; its data (caller frees) or NULL after timeout. Other topics are
 * skipped. */
static cJSON *next_event(wsc *c, const char *topic, int timeout_ms) {
    for (;;) {
        cJSON *m = wsc_recv_json(c, timeout_ms);
        if (!m) return NULL;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "params");
        if (strcmp(jt_str(p, "topic") ? jt_str(p, "topic") : "", topic) == 0) {
            cJSON *d = cJSON_DetachItemFromObjectCaseSensitive((cJSON *)p, "data");
            cJSON_Delete(m);
            return d;
        }
        cJSON_Delete(m);
    }
}

/* The next job_updates event for job id must be in state. */
static void expect_update(wsc *c, const char *id, const char *state) {
    for (;;) {
        cJSON *d = next_event(c, "job_updates", 5000);
        if (!d) fail_msg("no job_updates %s for %s", state, id);
        int mine = strcmp(jt_str(d, "job_id"), id) == 0;
        if (mine && strcmp(jt_str(d, "state"), state) != 0)
            fail_msg("job %s: got %s, want %s", id, jt_str(d, "state"), state);
        /* Events carry what changes; the payload is one GET away. */
        if (mine && (cJSON_GetObjectItemCaseSensitive(d, "payload") || !jt_str(d, "job_type")))
            fail_msg("job %s: job_updates must carry job_type and no payload", id);
        cJSON_Delete(d);
        if (mine) return;
    }
}

static void test_events_reach_only_who_may_see_them(void **st) {
    (void)st;
    jt_client c1, c2;
    jt_miner m, other;
    jt_client_new(H, "10", &c1);
    jt_client_new(H, "10", &c2);
    char caps[64];
    snprintf(caps, sizeof caps, CAPS, "ws");
    assert_int_equal(jt_miner_register(H, &m, caps, 1, "1"), 201);
    snprintf(caps, sizeof caps, CAPS, "ws-other");
    assert_int_equal(jt_miner_register(H, &other, caps, 1, "1"), 201);

    wsc *w1 = connect_as(c1.key), *w2 = connect_as(c2.key), *wa = connect_as(jt_admin(H));
    wsc *wm = connect_as(m.key), *wo = connect_as(other.key);
    assert_int_equal(subscribe(w1, "[\"job_updates\",\"miner_heartbeats\",\"job_assigned\"]"), 2);
    assert_int_equal(subscribe(w2, "[\"job_updates\"]"), 0);
    assert_int_equal(subscribe(wa, "[\"job_updates\",\"miner_heartbeats\"]"), 0);
    assert_int_equal(subscribe(wm, "[\"job_updates\",\"miner_heartbeats\",\"job_assigned\"]"), 1);
    assert_int_equal(subscribe(wo, "[\"miner_heartbeats\",\"job_assigned\"]"), 0);

    char id[64];
    assert_int_equal(jt_submit(H, &c1, "{\"payload\":{\"type\":\"ws\"},\"max_price\":\"2\"}", id),
                     201);
    expect_update(w1, id, "QUEUED");
    expect_update(wa, id, "QUEUED");
    /* the idle miner that fits is told to poll */
    cJSON *a = next_event(wm, "job_assigned", 5000);
    assert_non_null(a);
    assert_string_equal(jt_str(a, "job_id"), id);
    assert_string_equal(jt_str(a, "miner"), m.address);
    cJSON_Delete(a);

    th_resp r;
    assert_int_equal(jt_beat(H, &m, 5, "[]", &r), 200);
    th_resp_free(&r);
    expect_update(w1, id, "RUNNING");
    cJSON *hb = next_event(wm, "miner_heartbeats", 5000);
    assert_non_null(hb);
    assert_string_equal(jt_str(hb, "address"), m.address);
    assert_non_null(jt_str(hb, "time"));
    cJSON_Delete(hb);
    assert_int_equal(jt_complete(H, &m, id, 1, "{\"t\":1}", 1, &r), 200);
    th_resp_free(&r);
    expect_update(w1, id, "COMPLETED");
    /* the admin sees both topics: RUNNING before COMPLETED, and m's heartbeat */
    int running = 0, beat = 0, done = 0;
    while (!done) {
        cJSON *msg = wsc_recv_json(wa, 5000);
        assert_non_null(msg);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(msg, "params");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "data");
        const char *topic = jt_str(p, "topic");
        if (topic && strcmp(topic, "miner_heartbeats") == 0)
            beat |= strcmp(jt_str(d, "address"), m.address) == 0;
        if (topic && strcmp(topic, "job_updates") == 0 && strcmp(jt_str(d, "job_id"), id) == 0) {
            running |= strcmp(jt_str(d, "state"), "RUNNING") == 0;
            done = strcmp(jt_str(d, "state"), "COMPLETED") == 0;
            assert_true(!done || running);
        }
        cJSON_Delete(msg);
    }
    if (!beat) {
        hb = next_event(wa, "miner_heartbeats", 5000);
        assert_non_null(hb);
        assert_string_equal(jt_str(hb, "address"), m.address);
        cJSON_Delete(hb);
    }
    /* nothing for the other client, nothing of m for the other miner */
    cJSON *none = next_event(w2, "job_updates", 300);
    assert_null(none);
    none = next_event(wo, "miner_heartbeats", 300);
    assert_null(none);
    none = next_event(wo, "job_assigned", 300);
    assert_null(none);
    assert_true(jt_conserved(H));
}

/* job_updates carry the real pending_reason, not a placeholder. */
static void test_queued_event_says_why(void **st) {
    (void)st;
    jt_client c;
    jt_client_new(H, "10", &c);
    wsc *w = connect_as(c.key);
    assert_int_equal(subscribe(w, "[\"job_updates\"]"), 0);
    char id[64];
    assert_int_equal(
        jt_submit(H, &c, "{\"payload\":{\"type\":\"nobody-runs-this\"},\"max_price\":\"1\"}", id),
        201);
    cJSON *d = next_event(w, "job_updates", 5000);
    assert_non_null(d);
    assert_string_equal(jt_str(d, "job_id"), id);
    assert_string_equal(jt_str(d, "state"), "QUEUED");
    assert_string_equal(jt_str(d, "pending_reason"), "no_matching_miner");
    cJSON_Delete(d);
}

int main(void) {
    H = jt_start_ex("heartbeat_interval_s: 30, lease_s: 60, max_attempts: 3",
                    "websocket: { listen: \"127.0.0.1:0\" }\n");
    L = H ? wsc_loop_new() : NULL;
    if (!L) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_reach_only_who_may_see_them),
        cmocka_unit_test(test_queued_event_says_why),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wsc_loop_free(L);
    int st = th_stop(H);
    th_free(H);
    return rc ? rc : st;
}
