/* Group commit (host/writer.c) through the real host and the batchprobe test plugin: requests on
 * a write route share one transaction, each rolls back alone, nobody hears of a write (answer,
 * event, Idempotency-Key record) before its batch committed, a failed COMMIT answers every
 * request of the batch 503 and drops its events, and a crash (SIGKILL) under batched load loses
 * no acknowledged write.
 *
 * To put several requests in one batch deterministically, a "hold" request blocks the writer
 * inside its batch until the test releases it; the others queue meanwhile (the host's
 * aitbc_write_queue gauge says when) and join that batch, which only closes once the queue is
 * empty. The database file is read directly (sqlite3, read-only) to see what is committed. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define KEY "k-client"
#define PLUGINS                                                                                    \
    "  auth-static: { keys: [ {key: \"" KEY "\", role: client, address: "                          \
    "\"ait1"                                                                                       \
    "00000000000000000000000000000000000000c1\"} ] }\n"                                            \
    "  batchprobe: {}\n"

static th_host *H;

typedef struct call {
    char id[64], mode[16], idem[64];
    th_host *host;
    long status;
    char *body;
    pthread_t thread;
} call;

static long post_item(th_host *h, const char *id, const char *mode, const char *idem, char **body) {
    char json[160], header[96];
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"mode\":\"%s\"}", id, mode);
    snprintf(header, sizeof header, "Idempotency-Key: %s", idem ? idem : "");
    const char *headers[] = {header, NULL};
    th_resp r = {0};
    if (th_req_ex(h, "POST", "/v1/batchprobe/items", KEY, json, idem ? headers : NULL, &r) != 0) {
        th_resp_free(&r); /* a failed request still hands back empty buffers */
        return -1;
    }
    long status = r.status;
    if (body) *body = strdup(r.body ? r.body : "");
    th_resp_free(&r);
    return status;
}

static void *call_main(void *arg) {
    call *c = arg;
    c->status = post_item(c->host, c->id, c->mode, c->idem[0] ? c->idem : NULL, &c->body);
    return NULL;
}

static void start_call(call *c, const char *id, const char *mode, const char *idem) {
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->mode, sizeof c->mode, "%s", mode);
    snprintf(c->idem, sizeof c->idem, "%s", idem ? idem : "");
    c->host = H;
    assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
}

static long join_call(call *c) {
    pthread_join(c->thread, NULL);
    free(c->body);
    c->body = NULL;
    return c->status;
}

static double state_of(const char *field) {
    th_resp r;
    assert_int_equal(th_req(H, "GET", "/v1/batchprobe/state", NULL, NULL, &r), 0);
    double v = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, field));
    th_resp_free(&r);
    return v;
}

static double metric(const char *name) {
    return th_metric(H, name);
}

static int held(void *arg) {
    (void)arg;
    return state_of("held") == 1;
}

static int queue_is(void *arg) {
    return metric("aitbc_write_queue") == (double)*(int *)arg;
}

static int events_are(void *arg) {
    return state_of("events") == (double)*(long *)arg;
}

/* Committed rows, as another process would see them. */
static int row_count(const char *sql, const char *arg) {
    int n = th_db_count(H, sql, arg);
    assert_true(n >= 0);
    return n;
}

static int item_committed(const char *id) {
    return row_count("SELECT count(*) FROM batchprobe_items WHERE id = ?", id);
}

static int idem_rows(const char *key) {
    return row_count("SELECT count(*) FROM host_idempotency WHERE idem_key = ?", key);
}

/* Holds the writer with `hold_id`, queues the calls behind it, checks nothing of the batch is
 * visible yet, then releases it. Returns the hold request's status. */
static long run_held_batch(const char *hold_id, call *calls, size_t n,
                           const char *const (*spec)[3]) {
    call hold;
    start_call(&hold, hold_id, "hold", NULL);
    assert_true(th_wait_until(held, NULL, 10000));
    int queued = (int)n;
    for (size_t i = 0; i < n; i++)
        start_call(&calls[i], spec[i][0], spec[i][1], spec[i][2]);
    assert_true(th_wait_until(queue_is, &queued, 10000));
    /* The hold request already wrote, published and woke: none of it may be out yet. */
    assert_int_equal(item_committed(hold_id), 0);
    th_resp r;
    assert_int_equal(th_req(H, "POST", "/v1/batchprobe/release", NULL, NULL, &r), 0);
    th_resp_free(&r);
    return join_call(&hold);
}

static void one_failing_request_rolls_back_alone(void **state) {
    (void)state;
    long events0 = (long)state_of("events");
    double batches0 = metric("aitbc_write_batches_total");
    double items0 = metric("aitbc_write_batch_items_total");
    static const char *const spec[][3] = {
        {"a1", "ok", NULL}, {"a2", "rollback", NULL}, {"a3", "ok", "key-a3"}, {"a4", "ok", NULL}};
    call calls[4];
    assert_int_equal(state_of("events"), events0);
    assert_int_equal(run_held_batch("h1", calls, 4, spec), 201);
    assert_int_equal(join_call(&calls[0]), 201);
    assert_int_equal(join_call(&calls[1]), 409);
    assert_int_equal(join_call(&calls[2]), 201);
    assert_int_equal(join_call(&calls[3]), 201);
    /* All five ran in the one batch the hold kept open. */
    assert_true(metric("aitbc_write_batches_total") == batches0 + 1);
    assert_true(metric("aitbc_write_batch_items_total") == items0 + 5);
    assert_int_equal(item_committed("h1"), 1);
    assert_int_equal(item_committed("a1"), 1);
    assert_int_equal(item_committed("a2"), 0);
    assert_int_equal(item_committed("a3"), 1);
    assert_int_equal(item_committed("a4"), 1);
    assert_int_equal(idem_rows("key-a3"), 1);
    long want = events0 + 4; /* h1, a1, a3, a4: the rolled-back one published nothing */
    assert_true(th_wait_until(events_are, &want, 10000));
    /* The Idempotency-Key answer committed with the work: the replay is the first answer. */
    char *body = NULL;
    assert_int_equal(post_item(H, "a3", "ok", "key-a3", &body), 201);
    assert_non_null(strstr(body, "\"a3\""));
    free(body);
}

static void events_wait_for_the_commit(void **state) {
    (void)state;
    long events0 = (long)state_of("events");
    call hold;
    start_call(&hold, "h-ev", "hold", "key-hold");
    assert_true(th_wait_until(held, NULL, 10000));
    /* Published and woken inside the batch, answer staged: the batch is open, so nothing. */
    assert_int_equal(state_of("events"), events0);
    assert_int_equal(item_committed("h-ev"), 0);
    assert_int_equal(idem_rows("key-hold"), 0);
    th_resp r;
    assert_int_equal(th_req(H, "POST", "/v1/batchprobe/release", NULL, NULL, &r), 0);
    th_resp_free(&r);
    assert_int_equal(join_call(&hold), 201);
    assert_int_equal(item_committed("h-ev"), 1);
    assert_int_equal(idem_rows("key-hold"), 1);
    long want = events0 + 1;
    assert_true(th_wait_until(events_are, &want, 10000));
}

static void failed_commit_answers_503_and_drops_events(void **state) {
    (void)state;
    long events0 = (long)state_of("events");
    double failed0 = metric("aitbc_write_batches_failed_total");
    static const char *const spec[][3] = {
        {"b1", "ok", NULL}, {"b2", "poison", "key-b2"}, {"b3", "ok", NULL}};
    call calls[3];
    assert_int_equal(run_held_batch("h2", calls, 3, spec), 503);
    for (int i = 0; i < 3; i++)
        assert_int_equal(join_call(&calls[i]), 503);
    assert_true(metric("aitbc_write_batches_failed_total") == failed0 + 1);
    const char *ids[] = {"h2", "b1", "b2", "b3"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(item_committed(ids[i]), 0);
    assert_int_equal(idem_rows("key-b2"), 0);
    /* The next write's event arrives alone: the failed batch's four were dropped, not late. */
    assert_int_equal(post_item(H, "c1", "ok", NULL, NULL), 201);
    long want = events0 + 1;
    assert_true(th_wait_until(events_are, &want, 10000));
    assert_int_equal(state_of("events"), events0 + 1);
    /* Nothing was recorded for the key: a corrected retry runs. */
    assert_int_equal(post_item(H, "b2", "ok", "key-b2", NULL), 201);
    assert_int_equal(item_committed("b2"), 1);
}

/* ---- crash under load ---- */
#define LOADERS 4
#define ACKS_BEFORE_KILL 300
#define MAX_ACKS 100000

static pthread_mutex_t g_acks_mu = PTHREAD_MUTEX_INITIALIZER;
static char (*g_acked)[32];
static int g_nacked;

static void *load_main(void *arg) {
    long me = (long)arg;
    for (int i = 0;; i++) {
        char id[32];
        snprintf(id, sizeof id, "L%ld-%d", me, i);
        long st = post_item(H, id, "ok", NULL, NULL);
        if (st != 201) break; /* the host is gone */
        pthread_mutex_lock(&g_acks_mu);
        if (g_nacked < MAX_ACKS) snprintf(g_acked[g_nacked++], sizeof g_acked[0], "%s", id);
        pthread_mutex_unlock(&g_acks_mu);
    }
    return NULL;
}

static int enough_acks(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_acks_mu);
    int n = g_nacked;
    pthread_mutex_unlock(&g_acks_mu);
    return n >= ACKS_BEFORE_KILL;
}

static void kill9_loses_no_acknowledged_write(void **state) {
    (void)state;
    g_acked = calloc(MAX_ACKS, sizeof *g_acked);
    assert_non_null(g_acked);
    pthread_t t[LOADERS];
    for (long i = 0; i < LOADERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, load_main, (void *)i), 0);
    assert_true(th_wait_until(enough_acks, NULL, 60000));
    th_kill(H);
    for (int i = 0; i < LOADERS; i++)
        pthread_join(t[i], NULL);
    /* Every answered 201 is in the database the crashed process left behind. */
    int missing = 0;
    for (int i = 0; i < g_nacked; i++)
        missing += !item_committed(g_acked[i]);
    assert_int_equal(missing, 0);
    free(g_acked);
    /* And the host starts again on it. */
    th_host *again = th_start_in(th_data_dir(H), PLUGINS, NULL);
    assert_non_null(again);
    th_host *crashed = H;
    H = again;
    assert_int_equal(post_item(H, "after-crash", "ok", NULL, NULL), 201);
    assert_int_equal(th_stop(H), 0);
    H = crashed;
    th_free(again); /* removes the shared data dir; teardown's th_free finds nothing left */
}

static int setup(void **state) {
    (void)state;
    H = th_start(PLUGINS, NULL);
    return H ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    th_free(H);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_failing_request_rolls_back_alone),
        cmocka_unit_test(events_wait_for_the_commit),
        cmocka_unit_test(failed_commit_answers_503_and_drops_events),
        cmocka_unit_test(kill9_loses_no_acknowledged_write),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
