/* Unit tests of the WebSocket hub (ws_hub.c): subscribe answers, per-topic per-connection seq,
 * per-event visibility, the bounded queue and the slow-consumer close, unsubscribe dropping
 * queued events, revocation, shutdown drain, and a concurrent publisher vs. a consumer. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aitbc/errors.h"
#include "aitbc/json.h"
#include "ws_internal.h"

#define HEADROOM 16

static int wakes;
static void count_wake(void *arg) {
    (void)arg;
    __atomic_add_fetch(&wakes, 1, __ATOMIC_RELAXED);
}

/* Visible when data.owner is the principal's address, or to admins. */
static int owner_only(const aitbc_principal *who, const cJSON *data, void *user) {
    (void)user;
    const char *owner = cJSON_GetStringValue(cJSON_GetObjectItem(data, "owner"));
    return who->role == AITBC_ROLE_ADMIN || (owner && !strcmp(owner, who->owner_address));
}

static aitbc_topic t_public = {.name = "blocks", .roles = AITBC_ROLE_ANY};
static aitbc_topic t_owned = {
    .name = "job_updates", .roles = AITBC_ROLE_ANY, .visible = owner_only};
static aitbc_topic t_admin = {.name = "miner_heartbeats", .roles = AITBC_ROLE_ADMIN};

static const aitbc_topic *lookup(const char *name) {
    const aitbc_topic *all[] = {&t_public, &t_owned, &t_admin};
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    return NULL;
}

static aitbc_principal alice = {
    .key_id = "key_alice", .role = AITBC_ROLE_CLIENT, .owner_address = "ait1alice"};
static aitbc_principal bob = {
    .key_id = "key_bob", .role = AITBC_ROLE_CLIENT, .owner_address = "ait1bob"};

static cJSON *topics(const char *json) {
    cJSON *t = cJSON_Parse(json);
    assert_non_null(t);
    return t;
}

static void subscribe(ws_hub *h, ws_conn *c, const char *list, const char *expect) {
    cJSON *t = topics(list);
    cJSON *r = ws_hub_subscribe(h, c, t, lookup);
    char *s = aitbc_json_print(r);
    assert_string_equal(s, expect);
    free(s);
    cJSON_Delete(r);
    cJSON_Delete(t);
}

/* Split a ws_hub_next_frames batch into its frames' payloads (parsed; caller frees each),
 * checking every header is FIN + text, unmasked, with the length RFC 6455 5.2 prescribes. */
static size_t split_frames(const ws_out *o, cJSON **msgs, size_t max) {
    const unsigned char *p = (const unsigned char *)o->data, *end = p + o->len;
    size_t n = 0;
    while (p < end) {
        assert_true(end - p >= 2);
        assert_int_equal(p[0], 0x81);
        uint64_t len = p[1];
        size_t hl = 2;
        assert_int_equal(len & 0x80, 0);
        if (len == 126) {
            len = (uint64_t)p[2] << 8 | p[3];
            assert_true(len >= 126); /* the shortest form is required */
            hl = 4;
        } else if (len == 127) {
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | p[2 + i];
            assert_true(len > 0xffff);
            hl = 10;
        }
        assert_true((uint64_t)(end - p) >= hl + len);
        assert_true(n < max);
        msgs[n] = cJSON_ParseWithLength((const char *)p + hl, (size_t)len);
        assert_non_null(msgs[n]);
        n++;
        p += hl + len;
    }
    return n;
}

/* Next message (a budget of 1 takes exactly one) as parsed JSON (caller frees), NULL if none;
 * closes are reported in *close. */
static cJSON *next(ws_hub *h, ws_conn *c, int *close) {
    ws_out o;
    cJSON *m = NULL;
    *close = 0;
    switch (ws_hub_next_frames(h, c, 1, &o)) {
    case WS_OUT_FRAMES:
        assert_int_equal(split_frames(&o, &m, 1), 1);
        return m;
    case WS_OUT_CLOSE:
        *close = o.close_code;
        return NULL;
    default:
        return NULL;
    }
}

static void publish(ws_hub *h, const aitbc_topic *t, const char *data) {
    cJSON *d = cJSON_Parse(data);
    ws_hub_publish(h, t->name, d, t);
    cJSON_Delete(d);
}

static void expect_event(ws_hub *h, ws_conn *c, const char *topic, int seq, int n) {
    int close;
    cJSON *m = next(h, c, &close);
    assert_non_null(m);
    assert_string_equal(cJSON_GetObjectItem(m, "method")->valuestring, "event");
    cJSON *p = cJSON_GetObjectItem(m, "params");
    assert_string_equal(cJSON_GetObjectItem(p, "topic")->valuestring, topic);
    assert_int_equal(cJSON_GetObjectItem(p, "seq")->valuedouble, seq);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "data"), "n")->valueint, n);
    cJSON_Delete(m);
}

static void subscribe_answers_and_seq(void **state) {
    ws_hub *h = ws_hub_new(16, HEADROOM, count_wake, NULL);
    ws_conn *a = ws_conn_new(&alice, NULL);
    ws_hub_add(h, a);
    subscribe(h, a, "[\"blocks\",\"miner_heartbeats\",\"nope\",\"a b\"]",
              "{\"subscribed\":[\"blocks\"],\"denied\":[{\"topic\":\"miner_heartbeats\",\"reason\":"
              "\"forbidden\"},{\"topic\":\"nope\",\"reason\":\"unknown_topic\"},{\"topic\":\"a b\","
              "\"reason\":\"unknown_topic\"}]}");
    subscribe(h, a, "[\"blocks\",\"job_updates\"]",
              "{\"subscribed\":[\"blocks\",\"job_updates\"],\"denied\":[]}");
    publish(h, &t_public, "{\"n\":1}");
    publish(h, &t_owned, "{\"n\":2,\"owner\":\"ait1alice\"}");
    publish(h, &t_public, "{\"n\":3}");
    publish(h, &t_admin, "{\"n\":4}"); /* not subscribed */
    expect_event(h, a, "blocks", 1, 1);
    expect_event(h, a, "job_updates", 1, 2);
    expect_event(h, a, "blocks", 2, 3);
    int close;
    assert_null(next(h, a, &close));
    assert_int_equal(close, 0);
    /* The exact wire form of an event. */
    publish(h, &t_public, "{\"n\":5}");
    ws_out o;
    assert_int_equal(ws_hub_next_frames(h, a, 1, &o), WS_OUT_FRAMES);
    static const char wire[] = "\x81\x45{\"method\":\"event\",\"params\":{\"topic\":\"blocks\","
                               "\"seq\":3,\"data\":{\"n\":5}}}";
    assert_int_equal(o.len, sizeof(wire) - 1);
    assert_memory_equal(o.data, wire, sizeof(wire) - 1);
    ws_hub_free(h);
}

static void visibility_per_connection(void **state) {
    ws_hub *h = ws_hub_new(16, HEADROOM, count_wake, NULL);
    ws_conn *a = ws_conn_new(&alice, NULL), *b = ws_conn_new(&bob, NULL);
    ws_hub_add(h, a);
    ws_hub_add(h, b);
    subscribe(h, a, "[\"job_updates\"]", "{\"subscribed\":[\"job_updates\"],\"denied\":[]}");
    subscribe(h, b, "[\"job_updates\"]", "{\"subscribed\":[\"job_updates\"],\"denied\":[]}");
    publish(h, &t_owned, "{\"n\":1,\"owner\":\"ait1bob\"}");
    publish(h, &t_owned, "{\"n\":2,\"owner\":\"ait1alice\"}");
    publish(h, &t_owned, "{\"n\":3}");
    expect_event(h, a, "job_updates", 1, 2); /* alice's seq counts only what alice sees */
    expect_event(h, b, "job_updates", 1, 1);
    int close;
    assert_null(next(h, a, &close));
    assert_null(next(h, b, &close));
    ws_hub_remove(h, b);
    assert_int_equal(ws_hub_count(h), 1);
    ws_hub_free(h);
}

static void slow_consumer_closed_others_unaffected(void **state) {
    ws_hub *h = ws_hub_new(4, HEADROOM, count_wake, NULL);
    ws_conn *slow = ws_conn_new(&alice, NULL), *fast = ws_conn_new(&bob, NULL);
    ws_hub_add(h, slow);
    ws_hub_add(h, fast);
    subscribe(h, slow, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    subscribe(h, fast, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    for (int i = 1; i <= 20; i++) {
        char d[32];
        snprintf(d, sizeof(d), "{\"n\":%d}", i);
        publish(h, &t_public, d);
        expect_event(h, fast, "blocks", i, i);
    }
    /* The slow one never read: its queue was dropped and a 1008 close decided. */
    int close;
    assert_null(next(h, slow, &close));
    assert_int_equal(close, WS_CLOSE_POLICY);
    /* Replies to a closing connection are dropped too. */
    ws_hub_reply(h, slow, strdup("{}"));
    assert_null(next(h, slow, &close));
    assert_int_equal(close, WS_CLOSE_POLICY);
    ws_hub_free(h);
}

/* Queues are bounded in bytes too: a few large events close a reader that does not keep up,
 * long before the message count would; one event always fits an empty queue. */
static void queue_bounded_in_bytes(void **state) {
    (void)state;
    ws_hub *h = ws_hub_new(1000, HEADROOM, count_wake, NULL);
    ws_hub_set_max_bytes(h, 10000);
    ws_conn *slow = ws_conn_new(&alice, NULL), *fast = ws_conn_new(&bob, NULL);
    ws_hub_add(h, slow);
    ws_hub_add(h, fast);
    subscribe(h, slow, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    subscribe(h, fast, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    char *big = malloc(20000);
    memset(big, 'x', 20000);
    memcpy(big, "{\"n\":1,\"p\":\"", 12);
    memcpy(big + 20000 - 3, "\"}", 3);
    publish(h, &t_public, big); /* larger than the budget, but the queues were empty */
    expect_event(h, fast, "blocks", 1, 1);
    for (int i = 2; i <= 4; i++) {
        char d[4000];
        memset(d, 'y', sizeof(d));
        memcpy(d, "{\"n\":0,\"p\":\"", 12);
        d[5] = (char)('0' + i);
        memcpy(d + sizeof(d) - 3, "\"}", 3);
        publish(h, &t_public, d);
        expect_event(h, fast, "blocks", i, i);
    }
    free(big);
    /* slow holds the big event: the next one went over its byte budget. */
    int close = 0;
    cJSON *first = next(h, slow, &close);
    assert_null(first);
    assert_int_equal(close, WS_CLOSE_POLICY);
    ws_hub_free(h);
}

static void unsubscribe_drops_queued(void **state) {
    ws_hub *h = ws_hub_new(16, HEADROOM, count_wake, NULL);
    ws_conn *a = ws_conn_new(&alice, NULL);
    ws_hub_add(h, a);
    subscribe(h, a, "[\"blocks\",\"job_updates\"]",
              "{\"subscribed\":[\"blocks\",\"job_updates\"],\"denied\":[]}");
    publish(h, &t_public, "{\"n\":1}");
    publish(h, &t_owned, "{\"n\":2,\"owner\":\"ait1alice\"}");
    publish(h, &t_public, "{\"n\":3}");
    cJSON *t = topics("[\"blocks\"]");
    cJSON *r = ws_hub_unsubscribe(h, a, t);
    char *s = aitbc_json_print(r);
    assert_string_equal(s, "{\"unsubscribed\":[\"blocks\"]}");
    free(s);
    cJSON_Delete(r);
    publish(h, &t_public, "{\"n\":4}");
    expect_event(h, a, "job_updates", 1, 2);
    int close;
    assert_null(next(h, a, &close));
    /* Re-subscribing continues the connection's seq: a number is never reused. */
    r = ws_hub_subscribe(h, a, t, lookup);
    cJSON_Delete(r);
    publish(h, &t_public, "{\"n\":5}");
    expect_event(h, a, "blocks", 3, 5);
    cJSON_Delete(t);
    ws_hub_free(h);
}

static void seen_closes(ws_conn *c, int new_close, void *arg) {
    int *n = arg;
    if (new_close) (*n)++;
}

static void revocation_and_shutdown(void **state) {
    ws_hub *h = ws_hub_new(16, HEADROOM, count_wake, NULL);
    ws_conn *a = ws_conn_new(&alice, NULL), *b = ws_conn_new(&bob, NULL);
    ws_hub_add(h, a);
    ws_hub_add(h, b);
    subscribe(h, a, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    subscribe(h, b, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    publish(h, &t_public, "{\"n\":1}");
    int seen = 0;
    ws_hub_service(h, seen_closes, &seen); /* serviced: the next decision must wake again */
    int before = wakes;
    assert_int_equal(ws_hub_revoke(h, "key_alice"), 1);
    assert_true(wakes > before);
    int close;
    assert_null(next(h, a, &close));
    assert_int_equal(close, WS_CLOSE_REVOKED);
    /* Shutdown sends what is queued first, then 1001. */
    ws_hub_close_all(h, WS_CLOSE_GOING_AWAY, "bye");
    expect_event(h, b, "blocks", 1, 1);
    assert_null(next(h, b, &close));
    assert_int_equal(close, WS_CLOSE_GOING_AWAY);
    /* Revocation still wins over a shutdown close. */
    assert_int_equal(ws_hub_revoke(h, "key_bob"), 1);
    assert_null(next(h, b, &close));
    assert_int_equal(close, WS_CLOSE_REVOKED);
    ws_hub_free(h);
}

static void service_reports_close_once(void **state) {
    ws_hub *h = ws_hub_new(1, HEADROOM, count_wake, NULL);
    ws_conn *a = ws_conn_new(&alice, NULL);
    ws_hub_add(h, a);
    subscribe(h, a, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    publish(h, &t_public, "{\"n\":1}");
    publish(h, &t_public, "{\"n\":2}");
    publish(h, &t_public, "{\"n\":3}");
    int n = 0;
    ws_hub_service(h, seen_closes, &n);
    ws_hub_service(h, seen_closes, &n);
    ws_hub_revoke(h, "key_alice");
    ws_hub_service(h, seen_closes, &n);
    assert_int_equal(n, 1);
    ws_hub_free(h);
}

static void rx_assembly_bounded(void **state) {
    ws_conn *c = ws_conn_new(&alice, NULL);
    char chunk[1000];
    memset(chunk, 'x', sizeof(chunk));
    size_t total = 0;
    while (total + sizeof(chunk) <= WS_MSG_MAX) {
        assert_int_equal(ws_conn_rx_append(c, chunk, sizeof(chunk)), 0);
        total += sizeof(chunk);
    }
    assert_int_equal(ws_conn_rx_append(c, chunk, sizeof(chunk)), AITBC_EOVERFLOW);
    /* The rest of an oversized message is refused too, and the message has no text. */
    assert_int_equal(ws_conn_rx_append(c, "x", 1), AITBC_EOVERFLOW);
    size_t n;
    assert_null(ws_conn_rx_data(c, &n));
    assert_int_equal(n, 0);
    ws_conn_rx_reset(c);
    assert_int_equal(ws_conn_rx_append(c, "ab", 2), 0);
    assert_string_equal(ws_conn_rx_data(c, &n), "ab");
    ws_hub *h = ws_hub_new(1, 0, NULL, NULL);
    ws_hub_remove(h, c); /* never added: just freed */
    ws_hub_free(h);
}

static void frames_batched_whole(void **state) {
    ws_hub *h = ws_hub_new(64, HEADROOM, count_wake, NULL);
    ws_conn *a = ws_conn_new(&alice, NULL);
    ws_hub_add(h, a);
    subscribe(h, a, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    char big[400];
    snprintf(big, sizeof(big), "{\"n\":2,\"pad\":\"%0300d\"}", 0); /* a 4-byte header */
    publish(h, &t_public, "{\"n\":1}");
    publish(h, &t_public, big);
    ws_hub_reply(h, a, strdup("{\"id\":7,\"result\":{\"pong\":true}}"));
    publish(h, &t_public, "{\"n\":3}");
    ws_out o;
    cJSON *m[8];
    assert_int_equal(ws_hub_next_frames(h, a, 1 << 20, &o), WS_OUT_FRAMES);
    assert_int_equal(o.more, 0);
    assert_int_equal(split_frames(&o, m, 8), 4);
    for (int i = 0, n = 1; i < 4; i++) {
        cJSON *p = cJSON_GetObjectItem(m[i], "params");
        if (i == 2) {
            assert_int_equal(cJSON_GetObjectItem(m[i], "id")->valueint, 7);
        } else {
            assert_int_equal(cJSON_GetObjectItem(p, "seq")->valueint, n);
            assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "data"), "n")->valueint, n);
            n++;
        }
        cJSON_Delete(m[i]);
    }
    /* A small budget still takes one message per batch; then the decided close follows. */
    publish(h, &t_public, "{\"n\":4}");
    publish(h, &t_public, "{\"n\":5}");
    ws_hub_close(h, a, WS_CLOSE_GOING_AWAY, "bye");
    assert_int_equal(ws_hub_next_frames(h, a, 1, &o), WS_OUT_FRAMES);
    assert_int_equal(o.more, 1);
    assert_int_equal(split_frames(&o, m, 8), 1);
    cJSON_Delete(m[0]);
    assert_int_equal(ws_hub_next_frames(h, a, 1, &o), WS_OUT_FRAMES);
    assert_int_equal(o.more, 1); /* the close */
    assert_int_equal(split_frames(&o, m, 8), 1);
    cJSON_Delete(m[0]);
    assert_int_equal(ws_hub_next_frames(h, a, 1, &o), WS_OUT_CLOSE);
    assert_int_equal(o.close_code, WS_CLOSE_GOING_AWAY);
    assert_string_equal(o.reason, "bye");
    ws_hub_free(h);
}

/* A publisher thread races a consumer on another: every event arrives once, in order. */
typedef struct race {
    ws_hub *h;
    int count;
} race;

static void *publisher(void *arg) {
    race *r = arg;
    for (int i = 1; i <= r->count; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "n", i);
        ws_hub_publish(r->h, "blocks", d, &t_public);
        cJSON_Delete(d);
    }
    return NULL;
}

/* Takes frames from b in batches until `count` arrived in order; returns how many. */
static int take_batches(ws_hub *h, ws_conn *b, int got, int count) {
    ws_out o;
    cJSON *m[WS_FRAMES_MAX];
    if (got >= count || ws_hub_next_frames(h, b, 4096, &o) != WS_OUT_FRAMES) return got;
    size_t n = split_frames(&o, m, WS_FRAMES_MAX);
    for (size_t i = 0; i < n; i++) {
        cJSON *p = cJSON_GetObjectItem(m[i], "params");
        got++;
        assert_int_equal(cJSON_GetObjectItem(p, "seq")->valuedouble, got);
        cJSON_Delete(m[i]);
    }
    return got;
}

/* Both consumers hold references to the same events: one frees its share one by one, the
 * other in batches, while the publisher adds more (ASan/TSan runs see any refcount race). */
static void concurrent_publish_and_consume(void **state) {
    race r = {.h = ws_hub_new(100000, HEADROOM, count_wake, NULL), .count = 20000};
    ws_conn *a = ws_conn_new(&alice, NULL), *b = ws_conn_new(&bob, NULL);
    ws_hub_add(r.h, a);
    ws_hub_add(r.h, b);
    subscribe(r.h, a, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    subscribe(r.h, b, "[\"blocks\"]", "{\"subscribed\":[\"blocks\"],\"denied\":[]}");
    pthread_t t;
    pthread_create(&t, NULL, publisher, &r);
    int got = 0, got_b = 0, close;
    while (got < r.count || got_b < r.count) {
        got_b = take_batches(r.h, b, got_b, r.count);
        if (got >= r.count) continue;
        cJSON *m = next(r.h, a, &close);
        assert_int_equal(close, 0);
        if (!m) continue;
        got++;
        cJSON *p = cJSON_GetObjectItem(m, "params");
        assert_int_equal(cJSON_GetObjectItem(p, "seq")->valuedouble, got);
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "data"), "n")->valueint, got);
        cJSON_Delete(m);
    }
    pthread_join(t, NULL);
    ws_hub_free(r.h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribe_answers_and_seq),
        cmocka_unit_test(visibility_per_connection),
        cmocka_unit_test(slow_consumer_closed_others_unaffected),
        cmocka_unit_test(queue_bounded_in_bytes),
        cmocka_unit_test(unsubscribe_drops_queued),
        cmocka_unit_test(revocation_and_shutdown),
        cmocka_unit_test(service_reports_close_once),
        cmocka_unit_test(rx_assembly_bounded),
        cmocka_unit_test(frames_batched_whole),
        cmocka_unit_test(concurrent_publish_and_consume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
