/* Per-account queue limits and payloads kept beside the job rows (issue 13, "idle cost"),
 * through the real host: a submit past max_queued_jobs or max_queued_bytes answers 429
 * queue_limit with a JSON error and changes nothing, 402 stays for missing funds, the limits are
 * per account and free up as jobs start or are canceled; a payload reads back byte for byte from
 * every answer that carries it (submit, GET, list, cancel, assignment and its re-send) and its
 * hash is the receipt's payload_sha256. */
#define IT_JOBS_MINER_CFG "heartbeat_interval_s: 30, lease_s: 60, max_attempts: 2, sweep_ms: 50"
#include "it_jobs_common.h"

#define LIMIT_JOBS 3
#define LIMIT_BYTES 300000

/* A free job of type qbytes whose payload carries n bytes of blob (caller frees). */
static char *bytes_job(size_t n) {
    char *body;
    cJSON_Delete(blob_job("\"type\":\"qbytes\"", n, ",\"max_price\":\"0\"", &body));
    return body;
}

static void expect_queue_limit(long status, const th_resp *r, const char *field,
                               const char *phrase) {
    expect_status(status, 429, r, "over the limit");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    assert_non_null(e);
    assert_string_equal(jt_str(e, "code"), "queue_limit");
    const char *msg = jt_str(e, "message");
    if (!msg || !strstr(msg, phrase)) fail_msg("message lacks \"%s\": %s", phrase, r->body);
    if (field)
        assert_string_equal(jt_str(e, "field"), field);
    else
        assert_null(cJSON_GetObjectItemCaseSensitive(e, "field"));
}

static long submit(const jt_client *c, const char *body, th_resp *r) {
    if (th_req(H, "POST", "/v1/jobs", c->key, body, r) != 0) fail_msg("no answer to submit");
    return r->status;
}

static int64_t queued_count(const jt_client *c) {
    th_resp r;
    th_req(H, "GET", "/v1/jobs?state=QUEUED&limit=500", c->key, NULL, &r);
    expect_status(r.status, 200, &r, "list queued");
    int64_t n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items"));
    th_resp_free(&r);
    return n;
}

static void test_count_limit(void **st) {
    (void)st;
    jt_client a, b;
    jt_client_new(H, "0", &a); /* no funds: free jobs only, the case the limit is for */
    jt_client_new(H, "0", &b);
    const char *free_job = "{\"payload\":{\"type\":\"qcount\"}}";
    char ids[LIMIT_JOBS][64];
    for (int i = 0; i < LIMIT_JOBS; i++)
        assert_int_equal(jt_submit(H, &a, free_job, ids[i]), 201);
    th_resp r;
    expect_queue_limit(submit(&a, free_job, &r), &r, NULL, "3 QUEUED jobs");
    th_resp_free(&r);
    assert_int_equal(queued_count(&a), LIMIT_JOBS); /* the refused submit left nothing */
    /* per account: another client is not held back by a's queue */
    char id[64];
    assert_int_equal(jt_submit(H, &b, free_job, id), 201);
    /* a paid job over the limit: the limit answers first (nothing is escrowed) */
    expect_queue_limit(submit(&a, "{\"payload\":{\"type\":\"qcount\"},\"max_price\":\"5\"}", &r),
                       &r, NULL, "QUEUED jobs");
    th_resp_free(&r);
    /* a canceled job frees its place */
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", ids[0]);
    th_req(H, "POST", path, a.key, NULL, &r);
    expect_status(r.status, 200, &r, "cancel");
    th_resp_free(&r);
    assert_int_equal(jt_submit(H, &a, free_job, ids[0]), 201);
    expect_queue_limit(submit(&a, free_job, &r), &r, NULL, "QUEUED jobs");
    th_resp_free(&r);
    /* so does a job a miner takes (RUNNING is no longer queued): the oldest QUEUED is a's */
    jt_miner m;
    assert_int_equal(jt_miner_register(H, &m, caps("qcount"), 1, "0"), 201);
    jt_beat(H, &m, 5, "[]", &r);
    only_job(&r, ids[1]);
    th_resp_free(&r);
    assert_int_equal(jt_submit(H, &a, free_job, id), 201);
    expect_queue_limit(submit(&a, free_job, &r), &r, NULL, "QUEUED jobs");
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

static void test_402_kept(void **st) {
    (void)st;
    jt_client c;
    jt_client_new(H, "1", &c);
    th_resp r;
    submit(&c, "{\"payload\":{\"type\":\"qfunds\"},\"max_price\":\"2\"}", &r);
    check_error(&r, 402, "insufficient_funds", "escrow above the balance");
    th_resp_free(&r);
    assert_int_equal(queued_count(&c), 0);
}

static void test_bytes_limit(void **st) {
    (void)st;
    jt_client c;
    jt_client_new(H, "0", &c);
    char *big = bytes_job(200000), *small = bytes_job(1000);
    char id[64];
    assert_int_equal(jt_submit(H, &c, big, id), 201);
    th_resp r;
    expect_queue_limit(submit(&c, big, &r), &r, "payload", "300000 bytes");
    th_resp_free(&r);
    assert_int_equal(queued_count(&c), 1);
    assert_int_equal(jt_submit(H, &c, small, id), 201); /* what still fits is taken */
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    th_req(H, "POST", path, c.key, NULL, &r);
    expect_status(r.status, 200, &r, "cancel small");
    th_resp_free(&r);
    free(big);
    free(small);
    /* one payload larger than the whole allowance never fits */
    char *huge = bytes_job(LIMIT_BYTES + 10);
    jt_client d;
    jt_client_new(H, "0", &d);
    expect_queue_limit(submit(&d, huge, &r), &r, "payload", "bytes");
    th_resp_free(&r);
    free(huge);
}

/* A payload with escapes, unicode and numbers, ~100 KB, as a submit body and parsed. */
static cJSON *rich_payload(char **body) {
    return blob_job("\"type\":\"qpay\",\"n\":[1,2.5,-3e2,true,null],"
                    "\"s\":\"tab\\there \\u00e9\\u4e2d \\\"q\\\" \\\\\",\"z\":{\"b\":1,\"a\":2}",
                    100000, ",\"max_price\":\"3\",\"ttl_seconds\":600", body);
}

static void test_payload_round_trip(void **st) {
    (void)st;
    jt_client c;
    jt_client_new(H, "10", &c);
    char *body;
    cJSON *want = rich_payload(&body);
    th_resp r;
    expect_status(submit(&c, body, &r), 201, &r, "submit");
    same_payload(want, r.json, "submit answer");
    char id[64], path[160];
    snprintf(id, sizeof id, "%s", jt_str(r.json, "job_id"));
    th_resp_free(&r);
    free(body);
    cJSON *j = jt_job(H, id, 0);
    same_payload(want, j, "GET");
    cJSON_Delete(j);
    th_req(H, "GET", "/v1/jobs?limit=5", c.key, NULL, &r);
    expect_status(r.status, 200, &r, "list");
    same_payload(want, cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0),
                 "list");
    th_resp_free(&r);
    /* the miner gets it, and again when it says it runs nothing (a lost assignment) */
    jt_miner m;
    assert_int_equal(jt_miner_register(H, &m, caps("qpay"), 1, "1"), 201);
    jt_beat(H, &m, 5, "[]", &r);
    same_payload(want, only_job(&r, id), "assignment");
    th_resp_free(&r);
    jt_beat(H, &m, -1, "[]", &r);
    same_payload(want, only_job(&r, id), "assignment sent again");
    th_resp_free(&r);
    expect_status(jt_complete(H, &m, id, 1, "{\"ok\":true}", 2, &r), 200, &r, "complete");
    th_resp_free(&r);
    j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "state"), "COMPLETED");
    same_payload(want, j, "GET completed");
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    th_req(H, "GET", path, c.key, NULL, &r);
    expect_status(r.status, 200, &r, "receipt");
    char sha[65];
    assert_int_equal(aitbc_json_sha256_hex(want, sha), 0);
    assert_string_equal(jt_str(r.json, "payload_sha256"), sha);
    assert_int_equal(jt_cli_verify(H, r.json), 0);
    th_resp_free(&r);
    /* cancel answers the whole Job too */
    char *again;
    cJSON *want2 = rich_payload(&again);
    expect_status(submit(&c, again, &r), 201, &r, "submit 2");
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", jt_str(r.json, "job_id"));
    th_resp_free(&r);
    free(again);
    th_req(H, "POST", path, c.key, NULL, &r);
    expect_status(r.status, 200, &r, "cancel");
    same_payload(want2, r.json, "cancel answer");
    th_resp_free(&r);
    cJSON_Delete(want);
    cJSON_Delete(want2);
    assert_true(jt_conserved(H));
    assert_int_equal(jt_locked_total(H), 0);
}

/* The host checks the limits against the plugin's schema (type and range) before init. */
static void test_config_refused(void **st) {
    (void)st;
    const char *args[] = {"--check-config", NULL};
    const struct {
        const char *yaml, *key;
    } bad[] = {{"max_queued_jobs: \"x\"", "'max_queued_jobs'"},
               {"max_queued_jobs: 0", "'max_queued_jobs' = 0 is out of range"},
               {"max_queued_bytes: -1", "'max_queued_bytes' = -1 is out of range"},
               {"max_queued_bytes: 2199023255552", "'max_queued_bytes' = 2199023255552 is out"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char plugins[512];
        snprintf(plugins, sizeof plugins,
                 "  auth-apikey: {}\n  chain: {}\n  client: { %s }\n  miner: {}\n", bad[i].yaml);
        char *out = NULL;
        int rc = th_run_once(plugins, NULL, args, &out);
        if (rc == 0 || !out || !strstr(out, bad[i].key))
            fail_msg("%s: exit %d, output %s", bad[i].yaml, rc, out ? out : "");
        free(out);
    }
}

static int setup_limits(void **st) {
    (void)st;
    char extra[128];
    snprintf(extra, sizeof extra, ", max_queued_jobs: %d, max_queued_bytes: %d", LIMIT_JOBS,
             LIMIT_BYTES);
    H = jt_start_client(IT_JOBS_MINER_CFG, extra, NULL);
    return H ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_limit),    cmocka_unit_test(test_402_kept),
        cmocka_unit_test(test_bytes_limit),    cmocka_unit_test(test_payload_round_trip),
        cmocka_unit_test(test_config_refused),
    };
    return cmocka_run_group_tests(tests, setup_limits, teardown);
}
