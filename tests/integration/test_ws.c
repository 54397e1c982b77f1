/* WebSocket API end to end: the real host with auth-apikey and the wsprobe plugin, spoken to by
 * a real WebSocket client (ws_client.c). Covers the protocol exactly as API.md states it
 * (subscribe/unsubscribe/ping, error objects), auth on the upgrade (key, ticket, refusals with
 * their HTTP status), per-event visibility, revocation (4001) and the slow-consumer close (1008)
 * while a fast consumer on the same topic keeps every event in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ws_test_plugin/ws_test_util.h"

static th_host *g_host;
static int g_port;
static wst_key g_admin, g_a, g_b;

static int setup(void **state) {
    g_host = th_start(WST_PLUGINS, "websocket: { listen: \"127.0.0.1:0\", queue_max: 256 }\n");
    if (!g_host) return -1;
    g_port = th_ws_port(g_host);
    if (g_port <= 0 || wst_admin_key(g_host, &g_admin) ||
        wst_new_key(g_host, &g_admin, "client", &g_a) ||
        wst_new_key(g_host, &g_admin, "client", &g_b))
        return -1;
    return 0;
}

static int teardown(void **state) {
    int status = th_stop(g_host);
    th_free(g_host);
    return status;
}

static void assert_reply(wsc *c, const char *send, const char *expect) {
    cJSON *m = wst_call(c, send);
    assert_non_null(m);
    assert_string_equal(wst_text(m), expect);
    cJSON_Delete(m);
}

static cJSON *next_event(wsc *c) {
    cJSON *m = wsc_recv_json(c, 5000);
    assert_non_null(m);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "method")), "event");
    return m;
}

static void subscribe_unsubscribe_ping(void **state) {
    wsc_loop *l = wsc_loop_new();
    wsc *c = wsc_connect(l, g_port, g_a.api_key, 5000);
    assert_true(wsc_is_open(c));
    /* The seed's own message: neither topic is declared by the plugins loaded here. */
    assert_reply(
        c, "{\"method\":\"subscribe\",\"params\":[\"job_updates\",\"miner_heartbeats\"]}",
        "{\"result\":{\"subscribed\":[],\"denied\":[{\"topic\":\"job_updates\",\"reason\":"
        "\"unknown_topic\"},{\"topic\":\"miner_heartbeats\",\"reason\":\"unknown_topic\"}]}}");
    assert_reply(c,
                 "{\"id\":1,\"method\":\"subscribe\",\"params\":[\"probe_public\",\"probe_admin\","
                 "\"nope\"]}",
                 "{\"id\":1,\"result\":{\"subscribed\":[\"probe_public\"],\"denied\":[{\"topic\":"
                 "\"probe_admin\",\"reason\":\"forbidden\"},{\"topic\":\"nope\",\"reason\":"
                 "\"unknown_topic\"}]}}");
    assert_int_equal(wst_publish(g_host, &g_admin, "probe_public", "{\"x\":\"y\"}", 3), 0);
    for (int i = 1; i <= 3; i++) {
        cJSON *m = next_event(c);
        assert_string_equal(wst_ev_topic(m), "probe_public");
        assert_int_equal(wst_ev_seq(m), i);
        assert_int_equal(wst_ev_data(m, "n")->valueint, i);
        assert_string_equal(cJSON_GetStringValue(wst_ev_data(m, "x")), "y");
        cJSON_Delete(m);
    }
    assert_reply(c, "{\"id\":\"u\",\"method\":\"unsubscribe\",\"params\":[\"probe_public\"]}",
                 "{\"id\":\"u\",\"result\":{\"unsubscribed\":[\"probe_public\"]}}");
    /* After the answer nothing of the topic arrives: the next message is the owned event. */
    assert_int_equal(wst_publish(g_host, &g_admin, "probe_public", NULL, 2), 0);
    assert_reply(c, "{\"method\":\"subscribe\",\"params\":[\"probe_owned\"]}",
                 "{\"result\":{\"subscribed\":[\"probe_owned\"],\"denied\":[]}}");
    char data[128];
    snprintf(data, sizeof(data), "{\"owner\":\"%s\"}", g_a.address);
    assert_int_equal(wst_publish(g_host, &g_admin, "probe_owned", data, 1), 0);
    cJSON *m = next_event(c);
    assert_string_equal(wst_ev_topic(m), "probe_owned");
    assert_int_equal(wst_ev_seq(m), 1);
    cJSON_Delete(m);
    cJSON *p = wst_call(c, "{\"id\":9,\"method\":\"ping\"}");
    assert_int_equal(cJSON_GetObjectItem(p, "id")->valueint, 9);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "result"), "pong")));
    cJSON_Delete(p);
    assert_int_equal(wsc_pending(c), 0);
    wsc_loop_free(l);
}

static void error_objects(void **state) {
    wsc_loop *l = wsc_loop_new();
    wsc *c = wsc_connect(l, g_port, g_a.api_key, 5000);
    assert_true(wsc_is_open(c));
    assert_reply(
        c, "{\"method\":",
        "{\"error\":{\"code\":\"invalid_json\",\"message\":\"message is not valid JSON\"}}");
    assert_reply(c, "{\"id\":5,\"method\":\"publish\",\"params\":[]}",
                 "{\"id\":5,\"error\":{\"code\":\"unknown_method\",\"message\":\"unknown method "
                 "(subscribe, unsubscribe, ping)\"}}");
    assert_reply(
        c, "{\"id\":6,\"method\":\"subscribe\",\"params\":\"probe_public\"}",
        "{\"id\":6,\"error\":{\"code\":\"invalid_argument\",\"message\":\"params must be an "
        "array of at most 64 topic names\"}}");
    assert_reply(c, "[\"subscribe\"]",
                 "{\"error\":{\"code\":\"invalid_argument\",\"message\":\"message must be a JSON "
                 "object\"}}");
    assert_reply(c, "{\"id\":[1],\"method\":\"ping\"}",
                 "{\"error\":{\"code\":\"invalid_argument\",\"message\":\"id must be a string or a "
                 "number\"}}");
    /* Still usable after errors. */
    cJSON *p = wst_call(c, "{\"method\":\"ping\"}");
    assert_non_null(cJSON_GetObjectItem(p, "result"));
    cJSON_Delete(p);
    /* A message over 16 KiB closes the connection with 1009. */
    char *big = malloc(20001);
    memset(big, ' ', 20000);
    big[20000] = '\0';
    big[0] = '{';
    big[19999] = '}';
    assert_int_equal(wsc_send(c, big), 0);
    free(big);
    assert_true(wsc_wait_closed(c, 5000));
    assert_int_equal(wsc_close_code(c), 1009);
    wsc_loop_free(l);
}

static void expect_refused(wsc_loop *l, const wsc_opts *o, int status) {
    wsc *c = wsc_open(l, g_port, o);
    assert_false(wsc_wait_open(c, 5000));
    assert_int_equal(wsc_get_state(c), WSC_FAILED);
    assert_int_equal(wsc_http_status(c), status);
    if (status == 401) assert_string_equal(wsc_error(c), "HS: ws upgrade unauthorized");
    wsc_free(c);
}

static void auth_refusals(void **state) {
    wsc_loop *l = wsc_loop_new();
    char path[256];
    expect_refused(l, &(wsc_opts){0}, 401);
    expect_refused(l, &(wsc_opts){.api_key = "aitbc_client_key_nope_nope"}, 401);
    /* Keys never go in URLs: one in the query is ignored. */
    snprintf(path, sizeof(path), "/ws?api_key=%s", g_a.api_key);
    expect_refused(l, &(wsc_opts){.path = path}, 401);
    expect_refused(l, &(wsc_opts){.path = "/ws?ticket=wst_00000000000000000000000000000000"}, 401);
    expect_refused(l, &(wsc_opts){.path = "/other", .api_key = g_a.api_key}, 404);
    wsc_loop_free(l);

    /* What goes over the wire: a real 401 with the API's JSON error body. */
    int fd = wst_tcp(g_port);
    assert_true(fd >= 0);
    assert_int_equal(wst_raw_upgrade(fd, "/ws", ""), 0);
    char buf[2048];
    assert_true(wst_read(fd, buf, sizeof(buf), 5000, WST_HTTP_RESPONSE) > 0);
    assert_int_equal(strncmp(buf, "HTTP/1.", 7), 0);
    assert_int_equal(atoi(buf + 9), 401);
    assert_non_null(strstr(buf, "{\"error\":{\"code\":\"unauthenticated\""));
    close(fd);
    /* A plain GET is told to upgrade. */
    th_resp r;
    fd = wst_tcp(g_port);
    const char get[] = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(send(fd, get, sizeof(get) - 1, 0), (ssize_t)sizeof(get) - 1);
    assert_true(wst_read(fd, buf, sizeof(buf), 5000, WST_HTTP_RESPONSE) > 0);
    assert_int_equal(strncmp(buf, "HTTP/1.", 7), 0);
    assert_int_equal(atoi(buf + 9), 426);
    close(fd);
    /* Tickets need a key themselves. */
    assert_int_equal(th_req(g_host, "POST", "/v1/ws/tickets", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    th_resp_free(&r);
}

static void tickets(void **state) {
    th_resp r;
    assert_int_equal(th_req(g_host, "POST", "/v1/ws/tickets", g_a.api_key, NULL, &r), 0);
    assert_int_equal(r.status, 201);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "ticket"));
    assert_non_null(t);
    assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "expires_at")));
    char path[128];
    snprintf(path, sizeof(path), "/ws?ticket=%s", t);
    th_resp_free(&r);

    wsc_loop *l = wsc_loop_new();
    wsc *c = wsc_open(l, g_port, &(wsc_opts){.path = path});
    assert_true(wsc_wait_open(c, 5000));
    /* The connection is A's: A's own events reach it. */
    assert_reply(c, "{\"method\":\"subscribe\",\"params\":[\"probe_owned\"]}",
                 "{\"result\":{\"subscribed\":[\"probe_owned\"],\"denied\":[]}}");
    char data[128];
    snprintf(data, sizeof(data), "{\"owner\":\"%s\"}", g_a.address);
    assert_int_equal(wst_publish(g_host, &g_admin, "probe_owned", data, 1), 0);
    cJSON *m = next_event(c);
    assert_string_equal(cJSON_GetStringValue(wst_ev_data(m, "owner")), g_a.address);
    cJSON_Delete(m);
    /* Single use. */
    expect_refused(l, &(wsc_opts){.path = path}, 401);
    wsc_loop_free(l);
}

static void visibility_per_client(void **state) {
    wsc_loop *l = wsc_loop_new();
    wsc *a = wsc_connect(l, g_port, g_a.api_key, 5000);
    wsc *b = wsc_connect(l, g_port, g_b.api_key, 5000);
    wsc *adm = wsc_connect(l, g_port, g_admin.api_key, 5000);
    const char *sub = "{\"method\":\"subscribe\",\"params\":[\"probe_owned\",\"probe_admin\"]}";
    assert_reply(a, sub,
                 "{\"result\":{\"subscribed\":[\"probe_owned\"],\"denied\":[{\"topic\":"
                 "\"probe_admin\",\"reason\":\"forbidden\"}]}}");
    assert_reply(b, sub,
                 "{\"result\":{\"subscribed\":[\"probe_owned\"],\"denied\":[{\"topic\":"
                 "\"probe_admin\",\"reason\":\"forbidden\"}]}}");
    assert_reply(adm, sub,
                 "{\"result\":{\"subscribed\":[\"probe_owned\",\"probe_admin\"],\"denied\":[]}}");
    char da[128], db[128];
    snprintf(da, sizeof(da), "{\"owner\":\"%s\"}", g_a.address);
    snprintf(db, sizeof(db), "{\"owner\":\"%s\"}", g_b.address);
    /* B's event first: were it leaked to A, it would be A's seq 1. */
    assert_int_equal(wst_publish(g_host, &g_admin, "probe_owned", db, 1), 0);
    assert_int_equal(wst_publish(g_host, &g_admin, "probe_owned", da, 1), 0);
    assert_int_equal(wst_publish(g_host, &g_admin, "probe_admin", NULL, 1), 0);
    cJSON *m = next_event(a);
    assert_int_equal(wst_ev_seq(m), 1);
    assert_string_equal(cJSON_GetStringValue(wst_ev_data(m, "owner")), g_a.address);
    cJSON_Delete(m);
    m = next_event(b);
    assert_int_equal(wst_ev_seq(m), 1);
    assert_string_equal(cJSON_GetStringValue(wst_ev_data(m, "owner")), g_b.address);
    cJSON_Delete(m);
    /* The admin sees everything, each topic with its own seq. */
    const char *want[] = {g_b.address, g_a.address};
    for (int i = 0; i < 2; i++) {
        m = next_event(adm);
        assert_string_equal(wst_ev_topic(m), "probe_owned");
        assert_int_equal(wst_ev_seq(m), i + 1);
        assert_string_equal(cJSON_GetStringValue(wst_ev_data(m, "owner")), want[i]);
        cJSON_Delete(m);
    }
    m = next_event(adm);
    assert_string_equal(wst_ev_topic(m), "probe_admin");
    assert_int_equal(wst_ev_seq(m), 1);
    cJSON_Delete(m);
    /* Nothing else is on its way to A or B: a ping answer comes next. */
    for (int i = 0; i < 2; i++) {
        cJSON *p = wst_call(i ? b : a, "{\"method\":\"ping\"}");
        assert_non_null(cJSON_GetObjectItem(p, "result"));
        cJSON_Delete(p);
    }
    wsc_loop_free(l);
}

static void revoked_key_closes_4001(void **state) {
    wst_key k;
    assert_int_equal(wst_new_key(g_host, &g_admin, "client", &k), 0);
    wsc_loop *l = wsc_loop_new();
    wsc *c = wsc_connect(l, g_port, k.api_key, 5000);
    wsc *other = wsc_connect(l, g_port, g_a.api_key, 5000);
    assert_true(wsc_is_open(c));
    assert_true(wsc_is_open(other));
    char path[128];
    snprintf(path, sizeof(path), "/v1/admin/keys/%s", k.key_id);
    th_resp r;
    assert_int_equal(th_req(g_host, "DELETE", path, g_admin.api_key, NULL, &r), 0);
    assert_true(r.status == 200 || r.status == 204);
    th_resp_free(&r);
    assert_true(wsc_wait_closed(c, 5000));
    assert_int_equal(wsc_close_code(c), 4001);
    /* Other keys' connections stay; the revoked key cannot come back. */
    assert_true(wsc_is_open(other));
    expect_refused(l, &(wsc_opts){.api_key = k.api_key}, 401);
    wsc_loop_free(l);
}

/* Reads messages until `until`, checking seq runs on from *seen without a gap and n follows the
 * publish order (wsprobe numbers each batch of `batch` events 1..batch). */
static void drain_in_order(wsc *c, long *seen, long until, int batch, int timeout_ms) {
    while (*seen < until) {
        cJSON *m = wsc_recv_json(c, timeout_ms);
        assert_non_null(m);
        assert_int_equal(wst_ev_seq(m), *seen + 1);
        assert_int_equal(wst_ev_data(m, "n")->valueint, *seen % batch + 1);
        cJSON_Delete(m);
        (*seen)++;
    }
}

static int log_says_slow(void *arg) {
    char *err = th_stderr(g_host);
    int yes = err && strstr(err, "(slow consumer)") != NULL;
    free(err);
    return yes;
}

static void slow_consumer_closed_fast_keeps_all(void **state) {
    wsc_loop *l = wsc_loop_new();
    wsc *slow = wsc_connect(l, g_port, g_a.api_key, 5000);
    wsc *fast = wsc_connect(l, g_port, g_b.api_key, 5000);
    const char *sub = "{\"method\":\"subscribe\",\"params\":[\"probe_public\"]}";
    assert_reply(slow, sub, "{\"result\":{\"subscribed\":[\"probe_public\"],\"denied\":[]}}");
    assert_reply(fast, sub, "{\"result\":{\"subscribed\":[\"probe_public\"],\"denied\":[]}}");
    wsc_pause(slow, 1);
    /* 2 KiB events until the server gives up on the slow one (socket buffers hold a few MB).
     * A batch (200) fits the queue bound (256) and the next batch waits until the fast one has
     * everything, so only a consumer that does not read can ever hit the bound. */
    char fill[2049], pad[2100];
    memset(fill, 'p', 2048);
    fill[2048] = '\0';
    snprintf(pad, sizeof(pad), "{\"pad\":\"%s\"}", fill);
    const int batch = 200;
    long published = 0, fast_seen = 0;
    for (int i = 0; i < 200 && !log_says_slow(NULL); i++) {
        assert_int_equal(wst_publish(g_host, &g_admin, "probe_public", pad, batch), 0);
        published += batch;
        drain_in_order(fast, &fast_seen, published, batch, 10000);
    }
    assert_true(th_wait_until(log_says_slow, NULL, 5000));
    /* The slow one gets everything it was sent, without a gap, then 1008 with a reason. */
    wsc_pause(slow, 0);
    assert_true(wsc_wait_closed(slow, 15000));
    assert_int_equal(wsc_close_code(slow), 1008);
    char why[128];
    assert_string_equal(wsc_close_reason(slow, why, sizeof(why)), "slow consumer: queue full");
    long slow_seen = 0;
    size_t left = wsc_pending(slow);
    assert_true(left > 0 && (long)left < published);
    drain_in_order(slow, &slow_seen, (long)left, batch, 1000);
    fprintf(stderr, "slow consumer: closed after %ld events published, %ld delivered to it\n",
            published, slow_seen);
    /* The fast one was never held back and is still open. */
    assert_int_equal(fast_seen, published);
    assert_true(wsc_is_open(fast));
    wsc_loop_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribe_unsubscribe_ping),
        cmocka_unit_test(error_objects),
        cmocka_unit_test(auth_refusals),
        cmocka_unit_test(tickets),
        cmocka_unit_test(visibility_per_client),
        cmocka_unit_test(revoked_key_closes_4001),
        cmocka_unit_test(slow_consumer_closed_fast_keeps_all),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
