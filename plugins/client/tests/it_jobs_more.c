/* Job lifecycle through the real host and real HTTP, part 2: cancel in every state, long-poll
 * promptness (poll and GET ?wait_s), OFFLINE miners and deregistration requeueing, pending
 * reasons, Idempotency-Key on submit, and the admin views. Conservation after every scenario. */
/* Leases outlive 3 heartbeat intervals here, so a silent miner's jobs requeue through OFFLINE. */
#define IT_JOBS_MINER_CFG "heartbeat_interval_s: 1, lease_s: 30, max_attempts: 2, sweep_ms: 50"
#include "it_jobs_common.h"

static void test_cancel_each_state(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("cancel"), 1, "1"), 201);
    char id[64], path[160];
    th_resp r;
    /* QUEUED */
    assert_int_equal(jt_submit(H, &c,
                               "{\"payload\":{\"type\":\"cancel-none\"},"
                               "\"max_price\":\"2\"}",
                               id),
                     201);
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    th_req(H, "POST", path, c.key, NULL, &r);
    expect_status(r.status, 200, &r, "cancel queued");
    assert_string_equal(jt_str(r.json, "state"), "CANCELED");
    assert_string_equal(jt_str(r.json, "payment_status"), "refunded");
    th_resp_free(&r);
    th_req(H, "POST", path, c.key, NULL, &r);
    check_error(&r, 409, "conflict", "cancel canceled");
    th_resp_free(&r);
    /* RUNNING */
    assert_int_equal(
        jt_submit(H, &c, "{\"payload\":{\"type\":\"cancel\"},\"max_price\":\"2\"}", id), 201);
    jt_beat(H, &m, 5, "[]", &r);
    only_job(&r, id);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    th_req(H, "POST", path, c.key, NULL, &r);
    expect_status(r.status, 200, &r, "cancel running");
    assert_string_equal(jt_str(r.json, "state"), "CANCELED");
    th_resp_free(&r);
    char running[96];
    snprintf(running, sizeof running, "[\"%s\"]", id);
    jt_beat(H, &m, -1, running, &r);
    assert_true(in_list(&r, "cancel", id));
    th_resp_free(&r);
    expect_status(jt_complete(H, &m, id, 1, "{\"x\":1}", 1, &r), 409, &r, "complete canceled");
    check_error(&r, 409, "lease_lost", "complete canceled");
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    th_req(H, "GET", path, c.key, NULL, &r);
    check_error(&r, 404, "not_found", "canceled receipt");
    th_resp_free(&r);
    int64_t a, l;
    jt_balance(H, c.address, &a, &l);
    assert_int_equal(a, 10000000);
    assert_int_equal(l, 0);
    assert_true(jt_conserved(H));
}

typedef struct poll_arg {
    const jt_miner *m;
    th_resp r;
    int64_t done_ms;
} poll_arg;

static void *poll_thread(void *p) {
    poll_arg *a = p;
    jt_beat(H, a->m, 25, "[]", &a->r);
    a->done_ms = mono_ms();
    return NULL;
}

typedef struct beat_seen {
    const jt_miner *m;
    int64_t since_heartbeats;
} beat_seen;

/* The poll recorded its heartbeat (the host is about to park it). */
static int heartbeat_recorded(void *p) {
    beat_seen *b = p;
    char path[160];
    th_resp r;
    snprintf(path, sizeof path, "/v1/miners/%s", b->m->address);
    th_req(H, "GET", path, jt_admin(H), NULL, &r);
    const char *hb = jt_str(r.json, "last_heartbeat");
    int ok = hb != NULL;
    th_resp_free(&r);
    return ok;
}

static void test_long_poll_wakes_on_submit(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "5", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("longpoll"), 1, "1"), 201);
    poll_arg a = {.m = &m};
    pthread_t t;
    pthread_create(&t, NULL, poll_thread, &a);
    beat_seen b = {&m, 0};
    assert_true(th_wait_until(heartbeat_recorded, &b, 10000));
    char id[64];
    int64_t t0 = mono_ms();
    assert_int_equal(
        jt_submit(H, &c, "{\"payload\":{\"type\":\"longpoll\"},\"max_price\":\"1\"}", id), 201);
    pthread_join(t, NULL);
    expect_status(a.r.status, 200, &a.r, "long-poll");
    only_job(&a.r, id);
    th_resp_free(&a.r);
    /* woken by the submit, not by its 25 s deadline */
    assert_true(a.done_ms - t0 < 10000);
    /* GET ?wait_s is woken by completion the same way */
    th_resp r;
    expect_status(jt_complete(H, &m, id, 1, "{\"t\":1}", 1, &r), 200, &r, "complete");
    th_resp_free(&r);
    cJSON *j = jt_job(H, id, 25);
    assert_string_equal(jt_str(j, "state"), "COMPLETED");
    cJSON_Delete(j);
    assert_true(jt_conserved(H));
}

typedef struct miner_status_arg {
    const jt_miner *m;
    const char *status;
} miner_status_arg;

static int miner_status_is(void *p) {
    miner_status_arg *a = p;
    char path[160];
    th_resp r;
    snprintf(path, sizeof path, "/v1/miners/%s", a->m->address);
    th_req(H, "GET", path, jt_admin(H), NULL, &r);
    const char *st = jt_str(r.json, "status");
    int ok = st && strcmp(st, a->status) == 0;
    th_resp_free(&r);
    return ok;
}

static void test_offline_requeues_running_jobs(void **st) {
    (void)st;
    jt_client c;
    jt_miner x, y;
    char id[64];
    th_resp r;
    running_on_first(&c, &x, &y, "offline", "2", id);
    int64_t t0 = mono_ms();
    /* x goes silent: OFFLINE after 3 s, long before its 30 s lease, and the job requeues */
    wait_job(id, "QUEUED", 1);
    assert_true(mono_ms() - t0 < 25000);
    miner_status_arg q = {&x, "OFFLINE"};
    assert_true(miner_status_is(&q));
    jt_beat(H, &y, 5, "[]", &r);
    assert_int_equal(jt_int(only_job(&r, id), "attempt"), 2);
    th_resp_free(&r);
    expect_status(jt_complete(H, &x, id, 1, "{\"x\":1}", 1, &r), 409, &r, "offline miner");
    check_error(&r, 409, "lease_lost", "offline miner");
    th_resp_free(&r);
    expect_status(jt_complete(H, &y, id, 2, "{\"y\":1}", 1, &r), 200, &r, "y completes");
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

static void test_offline_and_deregister_requeue(void **st) {
    (void)st;
    jt_client c;
    jt_miner x, y;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &x, caps("dereg"), 1, "1"), 201);
    /* silent for 3 heartbeat intervals → OFFLINE, in the admin view too */
    miner_status_arg q = {&x, "OFFLINE"};
    assert_true(th_wait_until(miner_status_is, &q, 15000));
    th_resp r;
    th_req(H, "GET", "/v1/admin/miners?status=OFFLINE&limit=500", jt_admin(H), NULL, &r);
    int found = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items")) found |=
        strcmp(jt_str(it, "address"), x.address) == 0;
    th_resp_free(&r);
    assert_true(found);
    /* a beat brings it back; it takes a job; deregistering requeues that job for another */
    char id[64], path[160];
    assert_int_equal(jt_submit(H, &c, "{\"payload\":{\"type\":\"dereg\"},\"max_price\":\"2\"}", id),
                     201);
    jt_beat(H, &x, 5, "[]", &r);
    only_job(&r, id);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/miners/%s", x.address);
    th_req(H, "DELETE", path, x.key, NULL, &r);
    expect_status(r.status, 200, &r, "deregister");
    th_resp_free(&r);
    cJSON *j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "state"), "QUEUED");
    assert_int_equal(jt_int(j, "attempt"), 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "assigned_miner")));
    cJSON_Delete(j);
    assert_int_equal(jt_miner_register(H, &y, caps("dereg"), 1, "1"), 201);
    jt_beat(H, &y, 5, "[]", &r);
    assert_int_equal(jt_int(only_job(&r, id), "attempt"), 2);
    th_resp_free(&r);
    expect_status(jt_complete(H, &y, id, 2, "{\"y\":1}", 1, &r), 200, &r, "y completes");
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

static void test_pending_reasons_and_idempotency(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("pricey"), 1, "2"), 201);
    th_resp r;
    jt_beat(H, &m, -1, NULL, &r); /* fresh heartbeat: ONLINE */
    th_resp_free(&r);
    char id[64];
    static const struct {
        const char *body, *reason;
    } cases[] = {
        {"{\"payload\":{\"type\":\"pricey\"},\"max_price\":\"1\"}", "price_too_low"},
        {"{\"payload\":{\"type\":\"pricey\"},\"max_price\":\"5\",\"constraints\":"
         "{\"max_unit_price\":\"1.5\"}}",
         "price_too_low"},
        {"{\"payload\":{\"type\":\"pricey\"},\"max_price\":\"5\",\"constraints\":"
         "{\"models\":[\"gpt-9\"]}}",
         "no_matching_miner"},
        {"{\"payload\":{\"type\":\"pricey\"},\"max_price\":\"5\",\"constraints\":"
         "{\"min_vram_gb\":25}}",
         "no_matching_miner"},
        {"{\"payload\":{\"type\":\"pricey\"},\"max_price\":\"5\",\"constraints\":"
         "{\"region\":\"us\"}}",
         "no_matching_miner"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(jt_submit(H, &c, cases[i].body, id), 201);
        cJSON *j = jt_job(H, id, 0);
        if (strcmp(jt_str(j, "pending_reason"), cases[i].reason) != 0)
            fail_msg("%s: reason %s, want %s", cases[i].body, jt_str(j, "pending_reason"),
                     cases[i].reason);
        cJSON_Delete(j);
        char path[160];
        snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
        th_req(H, "POST", path, c.key, NULL, &r);
        th_resp_free(&r);
    }
    /* none of those was handed out, even to a polling miner that does the type */
    jt_beat(H, &m, 0, "[]", &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "jobs")), 0);
    th_resp_free(&r);

    /* Idempotency-Key: the same request twice is one job and one escrow */
    const char *const k1[] = {"Idempotency-Key: submit-1", NULL};
    const char *body = "{\"payload\":{\"type\":\"pricey\"},\"max_price\":\"3\"}";
    th_req_ex(H, "POST", "/v1/jobs", c.key, body, k1, &r);
    expect_status(r.status, 201, &r, "idempotent submit");
    char first[64];
    snprintf(first, sizeof first, "%s", jt_str(r.json, "job_id"));
    th_resp_free(&r);
    th_req_ex(H, "POST", "/v1/jobs", c.key, body, k1, &r);
    expect_status(r.status, 201, &r, "idempotent repeat");
    assert_string_equal(jt_str(r.json, "job_id"), first);
    th_resp_free(&r);
    th_req_ex(H, "POST", "/v1/jobs", c.key,
              "{\"payload\":{\"type\":\"pricey\"},\"max_price\":\"4\"}", k1, &r);
    check_error(&r, 409, "idempotency_mismatch", "other body, same key");
    th_resp_free(&r);
    int64_t a, l;
    jt_balance(H, c.address, &a, &l);
    assert_int_equal(l, 3000000);
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", first);
    th_req(H, "POST", path, c.key, NULL, &r);
    expect_status(r.status, 200, &r, "cancel");
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

static void test_admin_views(void **st) {
    (void)st;
    th_resp r;
    th_req(H, "GET", "/v1/admin/stats", jt_admin(H), NULL, &r);
    expect_status(r.status, 200, &r, "stats");
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(r.json, "jobs");
    int64_t total = jt_int(jobs, "total"), sum = 0;
    static const char *states[] = {"QUEUED", "RUNNING",  "COMPLETED",
                                   "FAILED", "CANCELED", "EXPIRED"};
    for (int i = 0; i < 6; i++)
        sum += jt_int(jobs, states[i]);
    assert_int_equal(total, sum);
    assert_true(jt_int(jobs, "COMPLETED") >= 2);
    assert_true(jt_int(jobs, "CANCELED") >= 2);
    assert_true(jt_int(cJSON_GetObjectItemCaseSensitive(r.json, "miners"), "total") >= 2);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(r.json, "chain"));
    /* every loaded plugin, with its version */
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(r.json, "plugins"), *p;
    int admin_listed = 0, chain_listed = 0;
    cJSON_ArrayForEach(p, plugins) {
        const char *name = jt_str(p, "name");
        assert_non_null(name);
        assert_non_null(jt_str(p, "version"));
        admin_listed |= strcmp(name, "admin") == 0;
        chain_listed |= strcmp(name, "chain") == 0;
    }
    assert_true(admin_listed && chain_listed);
    assert_true(jt_int(r.json, "uptime_s") >= 0);
    th_resp_free(&r);
    /* paging the admin job list: every job once, newest first */
    char path[256], cursor[64] = "";
    int64_t seen = 0;
    for (;;) {
        snprintf(path, sizeof path, "/v1/admin/jobs?limit=2%s%s", cursor[0] ? "&cursor=" : "",
                 cursor);
        th_req(H, "GET", path, jt_admin(H), NULL, &r);
        expect_status(r.status, 200, &r, "admin jobs page");
        seen += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items"));
        const char *next = jt_str(r.json, "next_cursor");
        if (!next) {
            th_resp_free(&r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", next);
        th_resp_free(&r);
    }
    assert_int_equal(seen, total);
    /* a cursor is bound to its filters */
    th_req(H, "GET", "/v1/admin/jobs?limit=1", jt_admin(H), NULL, &r);
    snprintf(cursor, sizeof cursor, "%s", jt_str(r.json, "next_cursor"));
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/admin/jobs?state=QUEUED&cursor=%s", cursor);
    th_req(H, "GET", path, jt_admin(H), NULL, &r);
    check_error(&r, 400, "invalid_argument", "cursor of other filters");
    th_resp_free(&r);
    th_req(H, "GET", "/v1/admin/jobs?state=CANCELED", jt_admin(H), NULL, &r);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items"))
        assert_string_equal(jt_str(it, "state"), "CANCELED");
    th_resp_free(&r);
    th_req(H, "GET", "/v1/admin/miners?status=ONLINE&limit=500", jt_admin(H), NULL, &r);
    expect_status(r.status, 200, &r, "admin miners");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items"))
        assert_string_equal(jt_str(it, "status"), "ONLINE");
    th_resp_free(&r);
    assert_int_equal(jt_locked_total(H), 0);
    assert_true(jt_conserved(H));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_each_state),
        cmocka_unit_test(test_long_poll_wakes_on_submit),
        cmocka_unit_test(test_offline_requeues_running_jobs),
        cmocka_unit_test(test_offline_and_deregister_requeue),
        cmocka_unit_test(test_pending_reasons_and_idempotency),
        cmocka_unit_test(test_admin_views),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
