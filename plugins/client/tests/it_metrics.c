/* GET /metrics as an operator scrapes it, from the real host with the job, chain and exchange
 * plugins: every series the plugins and the host add moves with real work (a job queued, run and
 * completed, a lease lost, a trade, a WebSocket client), and the whole text passes `promtool check
 * metrics` when promtool is installed. */
#define IT_JOBS_MINER_CFG "heartbeat_interval_s: 1, lease_s: 1, max_attempts: 3, sweep_ms: 50"
#include "it_jobs_common.h"
#include "ws_client.h"
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

static void check_value(const char *text, const char *series, double want) {
    double got = jt_metric_in(text, series);
    if (got != want) fail_msg("%s: got %g, want %g", series, got, want);
}

typedef struct wait_value {
    const char *series;
    double want;
} wait_value;

static int reaches(void *p) {
    const wait_value *w = p;
    return jt_metric(H, w->series) >= w->want;
}

static int equals(void *p) {
    const wait_value *w = p;
    return jt_metric(H, w->series) == w->want;
}

/* A WebSocket client is counted while it is connected, and no longer once it has gone. */
static void test_websocket(void **st) {
    (void)st;
    jt_client c;
    jt_client_new(H, "0", &c);
    wsc_loop *l = wsc_loop_new();
    assert_non_null(l);
    wsc *w = wsc_connect(l, th_ws_port(H), c.key, 5000);
    assert_true(wsc_is_open(w));
    wait_value one = {"aitbc_ws_connections", 1}, none = {"aitbc_ws_connections", 0};
    assert_true(th_wait_until(equals, &one, 5000));
    assert_true(jt_metric(H, "aitbc_ws_queued_bytes") >= 0);
    wsc_free(w);
    assert_true(th_wait_until(equals, &none, 5000));
    wsc_loop_free(l);
}

static void test_idle_node(void **st) {
    (void)st;
    char *text = jt_scrape(H);
    /* Zeros are series too: "no miner online" must be something an alert can see. */
    check_value(text, "aitbc_miners{status=\"ONLINE\"}", 0);
    check_value(text, "aitbc_jobs{state=\"QUEUED\"}", 0);
    check_value(text, "aitbc_jobs_oldest_queued_age_seconds", 0);
    check_value(text, "aitbc_jobs_assigned_total", 0);
    check_value(text, "aitbc_jobs_leases_lost_total{reason=\"lease_expired\"}", 0);
    check_value(text, "aitbc_exchange_open_orders{market=\"AIT-BTC\",side=\"buy\"}", 0);
    check_value(text, "aitbc_exchange_trades_total", 0);
    check_value(text, "aitbc_ws_connections", 0);
    assert_true(jt_metric_in(text, "aitbc_chain_height") >= 0);
    assert_true(jt_metric_in(text, "aitbc_chain_last_block_age_seconds") >= 0);
    free(text);
}

static void test_job_lifecycle(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("metric-run"), 1, "1"), 201);
    char run_id[64], wait_id[64];
    assert_int_equal(
        jt_submit(H, &c, "{\"payload\":{\"type\":\"metric-wait\"},\"max_price\":\"1\"}", wait_id),
        201);
    assert_int_equal(
        jt_submit(H, &c, "{\"payload\":{\"type\":\"metric-run\"},\"max_price\":\"2\"}", run_id),
        201);
    char *text = jt_scrape(H);
    check_value(text, "aitbc_miners{status=\"ONLINE\"}", 1);
    check_value(text, "aitbc_jobs{state=\"QUEUED\"}", 2);
    check_value(text, "aitbc_jobs_active{state=\"QUEUED\",type=\"metric-wait\"}", 1);
    check_value(text, "aitbc_jobs_active{state=\"QUEUED\",type=\"metric-run\"}", 1);
    check_value(text, "aitbc_ledger_locked{module=\"client\",asset=\"AIT\"}", 3000000);
    free(text);

    th_resp r;
    jt_beat(H, &m, 5, "[]", &r);
    const cJSON *job = only_job(&r, run_id);
    int64_t attempt = jt_int(job, "attempt");
    th_resp_free(&r);
    text = jt_scrape(H);
    check_value(text, "aitbc_jobs_assigned_total", 1);
    check_value(text, "aitbc_jobs{state=\"RUNNING\"}", 1);
    check_value(text, "aitbc_jobs_active{state=\"RUNNING\",type=\"metric-run\"}", 1);
    assert_true(
        isnan(jt_metric_in(text, "aitbc_jobs_active{state=\"QUEUED\",type=\"metric-run\"}")));
    free(text);

    expect_status(jt_complete(H, &m, run_id, attempt, "{\"ok\":true}", 1, &r), 200, &r, "complete");
    th_resp_free(&r);
    text = jt_scrape(H);
    check_value(text, "aitbc_jobs_completed_total", 1);
    check_value(text, "aitbc_jobs{state=\"COMPLETED\"}", 1);
    check_value(text, "aitbc_jobs{state=\"QUEUED\"}", 1);
    /* The waiting job is the oldest queued one; it was submitted before this scrape. */
    assert_true(jt_metric_in(text, "aitbc_jobs_oldest_queued_age_seconds") > 0);
    check_value(text, "aitbc_ledger_locked{module=\"client\",asset=\"AIT\"}", 1000000);
    free(text);
}

static void test_lease_lost(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("metric-lost"), 1, "1"), 201);
    char id[64];
    assert_int_equal(
        jt_submit(H, &c, "{\"payload\":{\"type\":\"metric-lost\"},\"max_price\":\"1\"}", id), 201);
    th_resp r;
    jt_beat(H, &m, 5, "[]", &r);
    only_job(&r, id);
    th_resp_free(&r);
    /* The miner never reports: the 1 s lease lapses (or the miner goes OFFLINE first). */
    wait_value w = {"aitbc_jobs_leases_lost_total{reason=\"lease_expired\"}", 1};
    wait_value w2 = {"aitbc_jobs_leases_lost_total{reason=\"miner_offline\"}", 1};
    for (int i = 0; i < 400 && !reaches(&w) && !reaches(&w2); i++)
        usleep(50000);
    assert_true(reaches(&w) || reaches(&w2));
}

static void test_exchange(void **st) {
    (void)st;
    jt_client seller, buyer;
    jt_exchange_pair(H, &seller, &buyer);
    assert_int_equal(jt_exchange_order(H, &seller, "sell"), 201);
    assert_int_equal(jt_exchange_order(H, &seller, "sell"), 201);
    char *text = jt_scrape(H);
    check_value(text, "aitbc_exchange_open_orders{market=\"AIT-BTC\",side=\"sell\"}", 2);
    check_value(text, "aitbc_ledger_locked{module=\"exchange\",asset=\"AIT\"}", 2000000);
    free(text);
    assert_int_equal(jt_exchange_order(H, &buyer, "buy"), 201);
    text = jt_scrape(H);
    check_value(text, "aitbc_exchange_orders_total", 3);
    check_value(text, "aitbc_exchange_trades_total", 1);
    check_value(text, "aitbc_exchange_open_orders{market=\"AIT-BTC\",side=\"sell\"}", 1);
    check_value(text, "aitbc_exchange_open_orders{market=\"AIT-BTC\",side=\"buy\"}", 0);
    free(text);
}

/* The whole scrape, as Prometheus' own linter sees it. The text is kept next to the test's
 * output for a person to read. */
static void test_whole_scrape(void **st) {
    (void)st;
    char *text = jt_scrape(H);
    /* The work above went through the writer: every batch is in the size histogram, and every
     * batch that began has its COMMIT timed. */
    double batches = jt_metric_in(text, "aitbc_write_batches_total");
    assert_true(batches > 0);
    check_value(text, "aitbc_write_batch_size_count", batches);
    check_value(text, "aitbc_write_batch_size_bucket{le=\"+Inf\"}", batches);
    check_value(text, "aitbc_write_batch_size_sum",
                jt_metric_in(text, "aitbc_write_batch_items_total"));
    check_value(text, "aitbc_write_commit_seconds_count", batches);
    /* Every series the shipped dashboard and alert rules query is exported (a miner node's are
     * checked by it_agent). */
    assert_int_equal(jt_unexported(text, "aitbc_miner_agent_", 0), 0);
    int rc = jt_promtool_check(text, "it_metrics.prom");
    free(text);
    if (rc == 77) skip();
    assert_int_equal(rc, 0);
}

int main(void) {
    H = jt_start_full(IT_JOBS_MINER_CFG, NULL, "  exchange: {}\n",
                      "websocket: { listen: \"127.0.0.1:0\" }\n");
    if (!H) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_node),  cmocka_unit_test(test_job_lifecycle),
        cmocka_unit_test(test_lease_lost), cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_websocket),  cmocka_unit_test(test_whole_scrape),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    int stc = th_stop(H);
    th_free(H);
    return rc ? rc : stc;
}
