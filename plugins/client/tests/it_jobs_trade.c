/* Jobs that run on a marketplace trade (constraints.trade_id), with the real client, miner and
 * marketplace plugins: only the buyer may use the trade while it runs (404 for unknown or
 * someone else's, 409 once ended); its jobs run only on the seller, ahead of older untraded
 * work, at most the offer's capacity at once (the rest wait with pending_reason
 * "trade_capacity"); they escrow nothing more and their receipts name the trade. */
#include "it_jobs_common.h"

#define CAPS                                                                                       \
    "{\"gpus\":[{\"name\":\"NVIDIA RTX 4090\",\"memory_mb\":24000}],\"models\":[\"llama3\"],"      \
    "\"job_types\":[\"infer\"],\"region\":\"eu\"}"

static void expect_field(th_resp *r, long status, const char *code, const char *field,
                         const char *what) {
    check_error(r, status, code, what);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    if (!jt_str(e, "field") || strcmp(jt_str(e, "field"), field) != 0)
        fail_msg("%s: want field %s, got %s", what, field, r->body);
}

static void submit_trade_job(const jt_client *c, const char *trade_id, long want, char id[64]) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"payload\":{\"type\":\"infer\"},\"constraints\":{\"trade_id\":\"%s\"}}", trade_id);
    expect_status(jt_submit(H, c, body, id), want, NULL, "trade job submit");
}

static void test_trade_jobs_run_on_the_seller(void **st) {
    (void)st;
    jt_client buyer, other;
    jt_miner seller, rival;
    th_resp r;
    char body[512], trade_id[64], u1[64], u2[64], t1[64], t2[64], path[160];
    jt_client_new(H, "100", &buyer);
    jt_client_new(H, "10", &other);
    assert_int_equal(jt_miner_register(H, &seller, CAPS, 1, "1"), 201);
    assert_int_equal(jt_miner_register(H, &rival, CAPS, 1, "0.1"), 201);

    /* The seller offers 1 GPU for 10 hours at 2 AIT; the buyer buys 2 hours (4 AIT locked). */
    assert_int_equal(th_req(H, "POST", "/v1/marketplace/offers", seller.key,
                            "{\"gpu_model\":\"RTX 4090\",\"gpu_memory_gb\":24,\"gpu_count\":1,"
                            "\"models\":[\"llama3\"],\"region\":\"eu\",\"price_per_hour\":\"2\","
                            "\"hours_available\":10}",
                            &r),
                     0);
    expect_status(r.status, 201, &r, "offer");
    char offer_id[64];
    snprintf(offer_id, sizeof offer_id, "%s", jt_str(r.json, "offer_id"));
    th_resp_free(&r);
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":2}", offer_id);
    assert_int_equal(th_req(H, "POST", "/v1/marketplace/trades", buyer.key, body, &r), 0);
    expect_status(r.status, 201, &r, "trade");
    snprintf(trade_id, sizeof trade_id, "%s", jt_str(r.json, "trade_id"));
    th_resp_free(&r);

    /* Only the buyer's own, existing trade. */
    const char *bodies[][2] = {{"trd_nosuchtrade", "unknown trade"}, {trade_id, "others' trade"}};
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body,
                 "{\"payload\":{\"type\":\"infer\"},\"constraints\":{\"trade_id\":\"%s\"}}",
                 bodies[i][0]);
        assert_int_equal(th_req(H, "POST", "/v1/jobs", i ? other.key : buyer.key, body, &r), 0);
        expect_field(&r, 404, "not_found", "constraints.trade_id", bodies[i][1]);
        th_resp_free(&r);
    }

    /* Untraded work first (older), then the trade's two jobs. */
    const char *untraded = "{\"payload\":{\"type\":\"infer\"},\"max_price\":\"5\"}";
    assert_int_equal(jt_submit(H, &other, untraded, u1), 201);
    assert_int_equal(jt_submit(H, &other, untraded, u2), 201);
    int64_t av0, lk0, av, lk;
    jt_balance(H, buyer.address, &av0, &lk0);
    submit_trade_job(&buyer, trade_id, 201, t1);
    submit_trade_job(&buyer, trade_id, 201, t2);
    jt_balance(H, buyer.address, &av, &lk);
    assert_int_equal(av, av0); /* no second escrow */
    assert_int_equal(lk, lk0);
    cJSON *j = jt_job(H, t1, 0);
    assert_string_equal(jt_str(j, "payment_status"), "trade");
    cJSON_Delete(j);

    /* The rival never gets the trade's jobs: it takes the oldest untraded one. */
    assert_int_equal(jt_beat(H, &rival, 5, "[]", &r), 200);
    only_job(&r, u1);
    th_resp_free(&r);
    /* The seller's one slot goes to the trade, ahead of the older untraded job. */
    assert_int_equal(jt_beat(H, &seller, 5, "[]", &r), 200);
    only_job(&r, t1);
    const cJSON *assigned = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "jobs"), 0);
    assert_int_equal(jt_units(jt_str(assigned, "unit_price")), 0);
    th_resp_free(&r);
    /* Capacity 1: the second waits, saying why. */
    j = jt_job(H, t2, 0);
    assert_string_equal(jt_str(j, "state"), "QUEUED");
    assert_string_equal(jt_str(j, "pending_reason"), "trade_capacity");
    cJSON_Delete(j);

    assert_int_equal(jt_complete(H, &seller, t1, 1, "{\"ok\":true}", 7, &r), 200);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", t1);
    assert_int_equal(th_req(H, "GET", path, buyer.key, NULL, &r), 0);
    expect_status(r.status, 200, &r, "receipt");
    const cJSON *receipt = cJSON_GetObjectItemCaseSensitive(r.json, "receipt");
    if (!receipt) receipt = r.json;
    assert_string_equal(jt_str(receipt, "trade_id"), trade_id);
    assert_int_equal(jt_units(jt_str(receipt, "price")), 0);
    th_resp_free(&r);

    /* The freed slot takes the trade's next job, still ahead of u2. */
    assert_int_equal(jt_beat(H, &seller, 5, "[]", &r), 200);
    only_job(&r, t2);
    th_resp_free(&r);
    assert_int_equal(jt_complete(H, &seller, t2, 1, "{\"ok\":true}", 1, &r), 200);
    th_resp_free(&r);
    jt_balance(H, buyer.address, &av, &lk);
    assert_int_equal(av, av0);

    /* Ended trade: the seller withdraws the offer, the trade ends, new jobs are refused. */
    snprintf(path, sizeof path, "/v1/marketplace/offers/%s", offer_id);
    assert_int_equal(th_req(H, "DELETE", path, seller.key, NULL, &r), 0);
    expect_status(r.status, 200, &r, "cancel offer");
    th_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"payload\":{\"type\":\"infer\"},\"constraints\":{\"trade_id\":\"%s\"}}", trade_id);
    assert_int_equal(th_req(H, "POST", "/v1/jobs", buyer.key, body, &r), 0);
    expect_field(&r, 409, "conflict", "constraints.trade_id", "ended trade");
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

int main(void) {
    H = jt_start_full("heartbeat_interval_s: 30, lease_s: 60, max_attempts: 3", NULL,
                      "  marketplace: { hour_ms: 60000, tick_ms: 20 }\n", NULL);
    if (!H) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trade_jobs_run_on_the_seller),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    int st = th_stop(H);
    th_free(H);
    return rc ? rc : st;
}
