/* Which parked long-polls a queued job wakes, through the real host: one poll that fits, the
 * least loaded first (ties: parked longest); the others stay parked until their wait_s ends; a
 * miner that does not fit is never handed the job. The online-miner registry behind it is
 * rebuilt at start and follows DRAINING. */
/* Three silent heartbeats (30 s) outlast every poll here: no miner goes OFFLINE mid-test. */
#define IT_JOBS_MINER_CFG "heartbeat_interval_s: 10, lease_s: 60, max_attempts: 2, sweep_ms: 50"
#include "it_jobs_common.h"

#define WAIT_S 3

typedef struct poll_arg {
    const jt_miner *m;
    const char *running; /* JSON array text of what it runs */
    th_resp r;
    int64_t start_ms, done_ms;
    pthread_t t;
} poll_arg;

static void *poll_thread(void *p) {
    poll_arg *a = p;
    a->start_ms = mono_ms();
    jt_beat(H, a->m, WAIT_S, a->running, &a->r);
    a->done_ms = mono_ms();
    return NULL;
}

typedef struct parked_probe {
    double want;
} parked_probe;

static double parked_now(void) {
    th_resp r;
    double v = -1;
    if (th_req(H, "GET", "/metrics", jt_admin(H), NULL, &r) == 0 && r.status == 200 && r.body) {
        const char *series = "\naitbc_http_parked_requests ";
        const char *p = strstr(r.body, series);
        if (p) v = strtod(p + strlen(series), NULL);
    }
    th_resp_free(&r);
    return v;
}

static int parked_at_least(void *arg) {
    return parked_now() >= ((parked_probe *)arg)->want;
}

/* Start a's poll and wait until the host holds it parked (the registry marks it first). */
static void park(poll_arg *a, const jt_miner *m, const char *running) {
    parked_probe p = {parked_now() + 1};
    a->m = m;
    a->running = running;
    pthread_create(&a->t, NULL, poll_thread, a);
    assert_true(th_wait_until(parked_at_least, &p, 10000));
}

static int jobs_in(const poll_arg *a) {
    expect_status(a->r.status, 200, &a->r, "poll");
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a->r.json, "jobs"));
}

/* It held its poll until wait_s ended, and came back empty. */
static void stayed_parked(const poll_arg *a, const char *who) {
    if (jobs_in(a) != 0) fail_msg("%s was handed %s", who, a->r.body);
    if (a->done_ms - a->start_ms < WAIT_S * 1000)
        fail_msg("%s answered after %lld ms, before its wait_s of %d s", who,
                 (long long)(a->done_ms - a->start_ms), WAIT_S);
}

/* It was handed job_id when the job came, before its wait_s ran out. */
static void woken_with(const poll_arg *a, const char *job_id, const char *who) {
    only_job(&a->r, job_id);
    if (a->done_ms - a->start_ms >= WAIT_S * 1000)
        fail_msg("%s got the job only at its deadline (%lld ms)", who,
                 (long long)(a->done_ms - a->start_ms));
}

/* m completes job_id (attempt 1). */
static void complete_ok(const jt_miner *m, const char *job_id) {
    th_resp r;
    expect_status(jt_complete(H, m, job_id, 1, "{\"ok\":1}", 1, &r), 200, &r, "complete");
    th_resp_free(&r);
}

static void submit(jt_client *c, const char *body, char id[64]) {
    assert_int_equal(jt_submit(H, c, body, id), 201);
}

static void test_one_job_wakes_one_fitting_poll(void **st) {
    (void)st;
    jt_client c;
    jt_miner a, b, other;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &a, caps("wake-one"), 1, "1"), 201);
    assert_int_equal(jt_miner_register(H, &b, caps("wake-one"), 1, "1"), 201);
    assert_int_equal(jt_miner_register(H, &other, caps("wake-other"), 1, "1"), 201);
    poll_arg pa = {0}, pb = {0}, po = {0};
    park(&pa, &a, "[]"); /* equal loads: a has waited longest */
    park(&pb, &b, "[]");
    park(&po, &other, "[]");
    char id[64];
    submit(&c, "{\"payload\":{\"type\":\"wake-one\"},\"max_price\":\"1\"}", id);
    pthread_join(pa.t, NULL);
    woken_with(&pa, id, "the miner parked longest");
    pthread_join(pb.t, NULL);
    pthread_join(po.t, NULL);
    stayed_parked(&pb, "the second fitting miner");
    stayed_parked(&po, "the miner of another job type");
    th_resp_free(&pa.r);
    th_resp_free(&pb.r);
    th_resp_free(&po.r);
    complete_ok(&a, id);
    assert_true(jt_conserved(H));
}

static void test_least_loaded_fitting_miner_first(void **st) {
    (void)st;
    jt_client c;
    jt_miner busy, idle;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &busy, caps("wake-load"), 2, "1"), 201);
    assert_int_equal(jt_miner_register(H, &idle, caps("wake-load"), 2, "1"), 201);
    /* busy runs one job of its two slots */
    char first[64], body[256], running[96];
    snprintf(body, sizeof body,
             "{\"payload\":{\"type\":\"wake-load\"},\"max_price\":\"1\","
             "\"constraints\":{\"miner\":\"%s\"}}",
             busy.address);
    submit(&c, body, first);
    th_resp r;
    expect_status(jt_beat(H, &busy, -1, "[]", &r), 200, &r, "busy heartbeat");
    only_job(&r, first);
    th_resp_free(&r);
    snprintf(running, sizeof running, "[\"%s\"]", first);
    /* busy parks first: load beats waiting time */
    poll_arg pbusy = {0}, pidle = {0};
    park(&pbusy, &busy, running);
    park(&pidle, &idle, "[]");
    char id[64];
    submit(&c, "{\"payload\":{\"type\":\"wake-load\"},\"max_price\":\"1\"}", id);
    pthread_join(pidle.t, NULL);
    woken_with(&pidle, id, "the idle miner");
    pthread_join(pbusy.t, NULL);
    stayed_parked(&pbusy, "the busier miner");
    th_resp_free(&pidle.r);
    th_resp_free(&pbusy.r);
    complete_ok(&busy, first);
    complete_ok(&idle, id);
    assert_true(jt_conserved(H));
}

/* Several jobs at once wake as many polls as take them: two jobs, two parked miners of one
 * slot each, both handed one; a third parked miner stays parked. */
static void test_jobs_wake_as_many_polls_as_take_them(void **st) {
    (void)st;
    jt_client c;
    jt_miner m[3];
    poll_arg p[3] = {{0}};
    jt_client_new(H, "10", &c);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(jt_miner_register(H, &m[i], caps("wake-many"), 1, "1"), 201);
        park(&p[i], &m[i], "[]");
    }
    char id[2][64];
    for (int i = 0; i < 2; i++)
        submit(&c, "{\"payload\":{\"type\":\"wake-many\"},\"max_price\":\"1\"}", id[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(p[i].t, NULL);
    /* the two that parked longest took one each */
    assert_int_equal(jobs_in(&p[0]), 1);
    assert_int_equal(jobs_in(&p[1]), 1);
    stayed_parked(&p[2], "the third miner");
    for (int i = 0; i < 2; i++) {
        const char *got = jt_str(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p[i].r.json, "jobs"), 0), "job_id");
        complete_ok(&m[i], got);
    }
    for (int i = 0; i < 3; i++)
        th_resp_free(&p[i].r);
    assert_true(jt_conserved(H));
}

static const char *reason_of(const char *id) {
    static char buf[64];
    cJSON *j = jt_job(H, id, 0);
    const char *r = jt_str(j, "pending_reason");
    snprintf(buf, sizeof buf, "%s", r ? r : "(none)");
    cJSON_Delete(j);
    return buf;
}

/* The registry is rebuilt from the table at start (a miner registered before a restart is online
 * before it speaks again) and follows a miner that turns DRAINING. */
static void test_registry_survives_restart_and_follows_draining(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("wake-restart"), 1, "1"), 201);
    assert_int_equal(th_restart(H, 1), 0);
    char id[64];
    submit(&c, "{\"payload\":{\"type\":\"wake-restart\"},\"max_price\":\"1\"}", id);
    assert_string_equal(reason_of(id), "queued");
    th_resp r;
    char path[160];
    snprintf(path, sizeof path, "/v1/miners/%s/heartbeat", m.address);
    th_req(H, "POST", path, m.key, "{\"status\":\"DRAINING\"}", &r);
    expect_status(r.status, 200, &r, "draining heartbeat");
    th_resp_free(&r);
    assert_string_not_equal(reason_of(id), "queued");
    /* back ONLINE, its poll takes the job */
    expect_status(jt_beat(H, &m, 1, "[]", &r), 200, &r, "online poll");
    only_job(&r, id);
    th_resp_free(&r);
    complete_ok(&m, id);
    assert_true(jt_conserved(H));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_job_wakes_one_fitting_poll),
        cmocka_unit_test(test_least_loaded_fitting_miner_first),
        cmocka_unit_test(test_jobs_wake_as_many_polls_as_take_them),
        cmocka_unit_test(test_registry_survives_restart_and_follows_draining),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
