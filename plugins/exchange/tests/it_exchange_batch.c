/* Orders and cancels run on the host's writer, inside a transaction shared with other requests,
 * and change the in-memory book before that transaction commits. When the shared COMMIT fails,
 * every request in it is answered 503 and the book must be exactly what it was before: same
 * levels, same sequence. The batchprobe test plugin holds the writer while the requests queue
 * behind it, and poisons the batch's COMMIT. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "ex_common.h"

typedef struct call {
    const char *method, *key;
    char path[128], body[256];
    long status;
    pthread_t thread;
} call;

static void *call_main(void *arg) {
    call *c = arg;
    th_resp r = {0};
    c->status =
        th_req(H, c->method, c->path, c->key, c->body[0] ? c->body : NULL, &r) == 0 ? r.status : -1;
    th_resp_free(&r);
    return NULL;
}

static double metric(const char *name) {
    return th_metric(H, name);
}

static int queue_is(void *arg) {
    return metric("aitbc_write_queue") == (double)*(int *)arg;
}

static int held(void *arg) {
    (void)arg;
    th_resp r;
    assert_int_equal(req("GET", "/v1/batchprobe/state", NULL, NULL, &r), 200);
    int h = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "held")) == 1;
    th_resp_free(&r);
    return h;
}

/* Starts the request in a thread and waits until it is queued behind the ones before it. */
static void start_queued(call *c, int queued_before, const char *method, const char *path,
                         const char *key, const char *body) {
    memset(c, 0, sizeof *c);
    c->method = method;
    c->key = key;
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->body, sizeof c->body, "%s", body ? body : "");
    assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
    int want = queued_before + 1;
    assert_true(th_wait_until(queue_is, &want, 10000));
}

static long join_call(call *c) {
    pthread_join(c->thread, NULL);
    return c->status;
}

static cJSON *book(void) {
    th_resp r;
    assert_int_equal(req("GET", "/v1/exchange/orderbook?market=AIT-BTC", "k-alice", NULL, &r), 200);
    cJSON *b = cJSON_Duplicate(r.json, 1);
    th_resp_free(&r);
    return b;
}

static void assert_same_book(const cJSON *want, const cJSON *got) {
    if (!cJSON_Compare(want, got, 1)) {
        char *w = cJSON_PrintUnformatted(want), *g = cJSON_PrintUnformatted(got);
        fail_msg("book %s, want %s", g, w);
    }
}

static void test_failed_batch_restores_the_book(void **st) {
    (void)st;
    th_resp r;
    mint(ALICE, "AIT", "100");
    mint(BOB, "BTC", "1");
    order("k-alice",
          "{\"market\":\"AIT-BTC\",\"side\":\"sell\",\"type\":\"limit\",\"price\":\"0.002\","
          "\"quantity\":\"5\"}",
          201, &r);
    th_resp_free(&r);
    order("k-bob",
          "{\"market\":\"AIT-BTC\",\"side\":\"buy\",\"type\":\"limit\",\"price\":\"0.001\","
          "\"quantity\":\"3\"}",
          201, &r);
    char cancel_path[128];
    snprintf(cancel_path, sizeof cancel_path, "/v1/exchange/orders/%s", jstr(r.json, "order_id"));
    th_resp_free(&r);
    cJSON *before = book();

    call hold, calls[4];
    memset(&hold, 0, sizeof hold);
    hold.method = "POST";
    snprintf(hold.path, sizeof hold.path, "/v1/batchprobe/items");
    snprintf(hold.body, sizeof hold.body, "{\"id\":\"hold-1\",\"mode\":\"hold\"}");
    hold.key = "k-alice";
    assert_int_equal(pthread_create(&hold.thread, NULL, call_main, &hold), 0);
    assert_true(th_wait_until(held, NULL, 10000));
    /* Behind it, in this order: a crossing buy (fills 2 of the ask), a new ask level, the
     * cancel of the bid, and a request that makes the COMMIT fail. */
    start_queued(&calls[0], 0, "POST", "/v1/exchange/orders", "k-bob",
                 "{\"market\":\"AIT-BTC\",\"side\":\"buy\",\"type\":\"limit\",\"price\":\"0.002\","
                 "\"quantity\":\"2\"}");
    start_queued(&calls[1], 1, "POST", "/v1/exchange/orders", "k-alice",
                 "{\"market\":\"AIT-BTC\",\"side\":\"sell\",\"type\":\"limit\",\"price\":\"0.003\","
                 "\"quantity\":\"1\"}");
    start_queued(&calls[2], 2, "DELETE", cancel_path, "k-bob", NULL);
    start_queued(&calls[3], 3, "POST", "/v1/batchprobe/items", "k-alice",
                 "{\"id\":\"poison-1\",\"mode\":\"poison\"}");
    assert_int_equal(req("POST", "/v1/batchprobe/release", NULL, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(join_call(&hold), 503);
    for (int i = 0; i < 4; i++)
        assert_int_equal(join_call(&calls[i]), 503);

    cJSON *after = book();
    assert_same_book(before, after);
    cJSON_Delete(after);
    expect_bal("k-alice", "AIT", "95", "5");
    expect_bal("k-bob", "BTC", "0.997", "0.003");

    /* The restored book trades on: the same crossing buy now commits and fills 2 of 5. */
    order("k-bob",
          "{\"market\":\"AIT-BTC\",\"side\":\"buy\",\"type\":\"limit\",\"price\":\"0.002\","
          "\"quantity\":\"2\"}",
          201, &r);
    assert_string_equal(jstr(r.json, "status"), "FILLED");
    th_resp_free(&r);
    after = book();
    const cJSON *ask = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(after, "asks"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(ask, 1)), "3");
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(after, "sequence")) >
                cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(before, "sequence")));
    cJSON_Delete(after);
    cJSON_Delete(before);
}

/* The common plugins plus batchprobe, with the block timer slowed down: its seal is queued on
 * the writer too, and the test counts the writer's queue. */
static int group_setup(void **st) {
    (void)st;
    static const char fast[] = "block_interval_ms: 50,";
    const char *at = strstr(k_plugins, fast);
    if (!at) return -1;
    char plugins[2048];
    snprintf(plugins, sizeof plugins, "%.*sblock_interval_ms: 600000,%s  batchprobe: {}\n",
             (int)(at - k_plugins), k_plugins, at + strlen(fast));
    H = th_start(plugins, NULL);
    return H ? 0 : -1;
}

static int group_teardown(void **st) {
    (void)st;
    th_free(H);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_batch_restores_the_book),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
