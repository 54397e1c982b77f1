/* Two hosts on one PostgreSQL database (AITBC_TEST_PG_DSN; skipped on SQLite), as operators run
 * them behind a load balancer (docs/operations.md, "Several hosts on one database"):
 *  - a WebSocket client on host B sees the job_updates of a job submitted on host A;
 *  - a miner's long-poll parked on B is woken by a submit on A (long before its wait_s);
 *  - an event made outside a write batch on A (a parked poll's retry assigning the job) reaches
 *    a WebSocket client on B;
 *  - exchange orders crossing one resting order through both hosts at once fill it once;
 *  - kill -9 of the block producer (A, started first): B takes the chain.producer role and seals
 *    the next block, on top of A's last one.
 * B shares A's auth pepper and chain key (th_start_beside: what docs/operations.md asks of every
 * host). */
#include "jobs_th.h"
#include "ws_client.h"
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

#define MINER_CFG "heartbeat_interval_s: 30, lease_s: 60, max_attempts: 3"

static th_host *A, *B;
/* Exchange traders, funded on A before B starts; one ask rests in both hosts' books from then. */
static jt_client g_seller, g_buyer_a, g_buyer_b;
static wsc_loop *L;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when host_leaders names holder for role (the shared database, through A's view of it). */
static int leads(const char *role, const char *holder) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT 1 FROM host_leaders WHERE role = '%s' AND holder = ?", role);
    return th_db_count(A, sql, holder) == 1;
}

/* The newest block's height, through h's explorer. */
static int64_t head(th_host *h) {
    th_resp r;
    if (th_req(h, "GET", "/v1/explorer/blocks?limit=1", jt_admin(h), NULL, &r) != 0 ||
        r.status != 200)
        fail_msg("blocks: %ld %s", r.status, r.body ? r.body : "");
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    int64_t height = b ? jt_int(b, "height") : -1;
    th_resp_free(&r);
    return height;
}

static int group_setup(void **st) {
    (void)st;
    if (!th_on_postgres()) return 0;
    A = jt_start_full(MINER_CFG, NULL, "  exchange: {}\n",
                      "websocket: { listen: \"127.0.0.1:0\" }\ncluster: { node_id: host-a, "
                      "poll_ms: 200 }\n");
    if (!A) return -1;
    jt_client unused;
    jt_exchange_pair(A, &g_seller, &g_buyer_a);
    jt_exchange_pair(A, &unused, &g_buyer_b);
    if (jt_exchange_order(A, &g_seller, "sell") != 201) return -1; /* B loads it at start */
    /* B: its own data dir, A's database and node secrets (auth pepper, node key). */
    B = th_start_beside(A, jt_plugins_yaml(),
                        "websocket: { listen: \"127.0.0.1:0\" }\n"
                        "cluster: { node_id: host-b, poll_ms: 200 }\n");
    L = B ? wsc_loop_new() : NULL;
    return L ? 0 : -1;
}

static int group_teardown(void **st) {
    (void)st;
    if (L) wsc_loop_free(L);
    /* B stops cleanly (sanitizers report at exit); A was killed. */
    int rc = B ? th_stop(B) : 0;
    if (rc != 0) {
        char *err = th_stderr(B);
        fprintf(stderr, "host B exited %d:\n%s\n", rc, err ? err : "");
        free(err);
    }
    if (A) th_free(A);
    if (B) th_free(B);
    return rc == 0 ? 0 : -1;
}

static void need_pg(void) {
    if (!th_on_postgres()) skip();
}

static void test_ws_on_b_sees_submit_on_a(void **st) {
    (void)st;
    need_pg();
    jt_client c;
    jt_client_new(A, "10", &c);
    wsc *w = wsc_connect(L, th_ws_port(B), c.key, 5000);
    assert_true(wsc_is_open(w));
    assert_int_equal(wsc_subscribe(w, "job_updates", 5000), 0);
    char id[64];
    assert_int_equal(
        jt_submit(A, &c, "{\"payload\":{\"type\":\"cluster-ws\"},\"max_price\":\"1\"}", id), 201);
    for (;;) {
        cJSON *m = wsc_recv_json(w, 10000);
        if (!m) fail_msg("no job_updates on host B for %s", id);
        const cJSON *d =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "params"), "data");
        int mine = d && jt_str(d, "job_id") && strcmp(jt_str(d, "job_id"), id) == 0;
        if (mine) assert_string_equal(jt_str(d, "state"), "QUEUED");
        cJSON_Delete(m);
        if (mine) break;
    }
}

typedef struct parked {
    jt_miner *m;
    th_host *h;
    long status;
    int64_t took_ms;
    char body[2048];
} parked;

static void *poll_parked(void *arg) {
    parked *p = arg;
    th_resp r;
    int64_t t0 = mono_ms();
    p->status = jt_beat(p->h, p->m, 20, "[]", &r);
    p->took_ms = mono_ms() - t0;
    snprintf(p->body, sizeof p->body, "%s", r.body ? r.body : "");
    th_resp_free(&r);
    return NULL;
}

static void test_long_poll_on_b_woken_by_submit_on_a(void **st) {
    (void)st;
    need_pg();
    jt_miner m;
    assert_int_equal(jt_miner_register(B, &m, "{\"job_types\":[\"cluster-wake\"]}", 1, "1"), 201);
    th_resp r;
    assert_int_equal(jt_beat(B, &m, -1, "[]", &r), 200); /* online on B */
    th_resp_free(&r);
    parked p = {.m = &m, .h = B};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poll_parked, &p), 0);
    usleep(500 * 1000); /* let it park */
    jt_client c;
    jt_client_new(A, "10", &c);
    char id[64];
    assert_int_equal(
        jt_submit(A, &c, "{\"payload\":{\"type\":\"cluster-wake\"},\"max_price\":\"1\"}", id), 201);
    pthread_join(t, NULL);
    assert_int_equal(p.status, 200);
    if (!strstr(p.body, id)) fail_msg("the poll on B did not get %s: %s", id, p.body);
    /* Woken, not timed out: the answer came well before wait_s (20 s). */
    if (p.took_ms >= 15000) fail_msg("the poll on B waited %lld ms", (long long)p.took_ms);
}

/* A job assigned by a long-poll that parked on A is assigned in the poll's retry, outside any write
 * batch: its RUNNING event still reaches B (relayed through the next batch). */
static void test_event_outside_a_batch_reaches_b(void **st) {
    (void)st;
    need_pg();
    jt_miner m;
    assert_int_equal(jt_miner_register(A, &m, "{\"job_types\":[\"cluster-relay\"]}", 1, "1"), 201);
    th_resp r;
    assert_int_equal(jt_beat(A, &m, -1, "[]", &r), 200);
    th_resp_free(&r);
    jt_client c;
    jt_client_new(A, "10", &c);
    wsc *w = wsc_connect(L, th_ws_port(B), c.key, 5000);
    assert_true(wsc_is_open(w));
    assert_int_equal(wsc_subscribe(w, "job_updates", 5000), 0);
    parked p = {.m = &m, .h = A};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poll_parked, &p), 0);
    usleep(500 * 1000); /* let it park on A */
    char id[64];
    assert_int_equal(
        jt_submit(A, &c, "{\"payload\":{\"type\":\"cluster-relay\"},\"max_price\":\"1\"}", id),
        201);
    pthread_join(t, NULL);
    assert_int_equal(p.status, 200);
    if (!strstr(p.body, id)) fail_msg("the poll on A did not get %s: %s", id, p.body);
    for (;;) {
        cJSON *msg = wsc_recv_json(w, 10000);
        if (!msg) fail_msg("no RUNNING on host B for %s", id);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(msg, "params"), "data");
        int running = d && jt_str(d, "job_id") && strcmp(jt_str(d, "job_id"), id) == 0 &&
                      strcmp(jt_str(d, "state"), "RUNNING") == 0;
        cJSON_Delete(msg);
        if (running) break;
    }
}

typedef struct buy {
    th_host *h;
    jt_client *c;
    long status;
} buy;

static void *buy_main(void *arg) {
    buy *b = arg;
    b->status = jt_exchange_order(b->h, b->c, "buy");
    return NULL;
}

static void test_orders_on_two_hosts_fill_once(void **st) {
    (void)st;
    need_pg();
    jt_client *seller = &g_seller, *buyer_a = &g_buyer_a, *buyer_b = &g_buyer_b;
    enum { ROUNDS = 4 }; /* the seller holds 10 AIT and sells 2 per round */
    for (int i = 0; i < ROUNDS; i++) {
        /* Round 0's ask was placed on A before B started: both books hold it, and once one
         * host fills it the other's copy is stale. Later asks come through either host. */
        if (i > 0) assert_int_equal(jt_exchange_order(i % 2 ? A : B, seller, "sell"), 201);
        buy ba = {A, buyer_a, 0}, bb = {B, buyer_b, 0};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, buy_main, &ba), 0);
        assert_int_equal(pthread_create(&tb, NULL, buy_main, &bb), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_int_equal(ba.status, 201);
        assert_int_equal(bb.status, 201);
        /* one buy filled the ask, the other rests: the next sell fills it (on either host) */
        assert_int_equal(jt_exchange_order(i % 2 ? B : A, seller, "sell"), 201);
    }
    /* 2 × ROUNDS sells of 1 AIT, each filled exactly once against one of 2 × ROUNDS buys: the
     * seller gave exactly 2 × ROUNDS AIT and the buyers got them (less fees), nothing double. */
    int64_t av, lk;
    jt_balance(A, seller->address, &av, &lk);
    assert_int_equal(av + lk, jt_units("10") - 2 * ROUNDS * jt_units("1"));
    assert_int_equal(lk, 0);
    int64_t a1, l1, a2, l2;
    jt_balance_of(A, buyer_a->address, "BTC", 8, &a1, &l1);
    jt_balance_of(B, buyer_b->address, "BTC", 8, &a2, &l2);
    assert_int_equal(l1 + l2, 0); /* every buy filled: nothing left locked */
    th_resp r;
    assert_int_equal(
        th_req(B, "GET", "/v1/exchange/orderbook?market=AIT-BTC", buyer_b->key, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "bids")), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "asks")), 0);
    th_resp_free(&r);
}

static void test_producer_killed_b_takes_over(void **st) {
    (void)st;
    need_pg();
    assert_true(leads("chain.producer", "host-a")); /* started first */
    int64_t before = head(B);
    th_kill(A); /* SIGKILL: no shutdown, its connections just drop */
    jt_client c;
    jt_client_new(B, "5", &c); /* a mint on B: something for the next block to seal */
    int64_t t0 = mono_ms(), now = before;
    while (now <= before && mono_ms() - t0 < 20000) {
        usleep(100 * 1000);
        now = head(B);
    }
    if (now <= before) fail_msg("no block after the producer died (head %lld)", (long long)now);
    print_message("B sealed height %lld %lld ms after kill -9 of A\n", (long long)now,
                  (long long)(mono_ms() - t0));
    assert_true(leads("chain.producer", "host-b"));
    /* one chain: every height once, each block on its parent (A's dir: the shared database) */
    const char *args[] = {"--verify-chain", NULL};
    assert_int_equal(th_run_once_in(th_data_dir(A), jt_plugins_yaml(), NULL, args, NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_on_b_sees_submit_on_a),
        cmocka_unit_test(test_long_poll_on_b_woken_by_submit_on_a),
        cmocka_unit_test(test_event_outside_a_batch_reaches_b),
        cmocka_unit_test(test_orders_on_two_hosts_fill_once),
        cmocka_unit_test(test_producer_killed_b_takes_over),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
