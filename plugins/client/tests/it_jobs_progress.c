/* Job progress over real HTTP and WebSocket: the assigned miner reports how far its attempt is,
 * the job shows it in every answer (GET, own list, admin list) and in job_updates events, a
 * second report inside progress_interval_ms is 429 with Retry-After, and everyone else (other
 * miners, stale attempts, finished jobs, hostile bodies) gets the documented error. */
#include "jobs_th.h"
#include "ws_client.h"
#include <aitbc/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static th_host *H;
static wsc_loop *L;

#define CAPS "{\"job_types\":[\"prog\"]}"
#define JOB "{\"payload\":{\"type\":\"prog\"},\"max_price\":\"2\"}"

static long report(const jt_miner *m, const char *id, const char *body, th_resp *r) {
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/progress", id);
    assert_int_equal(th_req(H, "POST", path, m->key, body, r), 0);
    return r->status;
}

static void expect_error(th_resp *r, long status, const char *code, const char *field) {
    const char *c = th_error_code(r);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    const char *f = jt_str(e, "field");
    if (r->status != status || !c || strcmp(c, code) != 0 ||
        (field && (!f || strcmp(f, field) != 0)) || (!field && f))
        fail_msg("got %ld %s, want %ld %s field %s", r->status, r->body, status, code,
                 field ? field : "(none)");
}

/* progress of a job object: -1 for null, -2 when the member is missing. */
static double progress_of(const cJSON *job) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(job, "progress");
    if (!p) return -2;
    return cJSON_IsNull(p) ? -1 : p->valuedouble;
}

/* The job's progress in the owner's list and in the admin list. */
static void expect_listed(const jt_client *c, const char *id, double want) {
    const char *paths[2] = {"/v1/jobs?limit=500", "/v1/admin/jobs?limit=500"};
    const char *keys[2] = {c->key, jt_admin(H)};
    for (int i = 0; i < 2; i++) {
        th_resp r;
        assert_int_equal(th_req(H, "GET", paths[i], keys[i], NULL, &r), 0);
        assert_int_equal(r.status, 200);
        const cJSON *it;
        int seen = 0;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items")) {
            assert_true(progress_of(it) != -2); /* every listed job carries the member */
            if (strcmp(jt_str(it, "job_id"), id) == 0) {
                seen = 1;
                assert_true(progress_of(it) == want);
            }
        }
        assert_true(seen);
        th_resp_free(&r);
    }
}

/* The next job_updates event for id; its data (caller frees). */
static cJSON *next_update(wsc *w, const char *id) {
    for (;;) {
        cJSON *m = wsc_recv_json(w, 5000);
        if (!m) fail_msg("no job_updates event for %s", id);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "params");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "data");
        if (jt_str(p, "topic") && strcmp(jt_str(p, "topic"), "job_updates") == 0 &&
            strcmp(jt_str(d, "job_id"), id) == 0) {
            cJSON *out = cJSON_DetachItemFromObjectCaseSensitive((cJSON *)p, "data");
            cJSON_Delete(m);
            return out;
        }
        cJSON_Delete(m);
    }
}

static void expect_update(wsc *w, const char *id, const char *state, double progress) {
    cJSON *d = next_update(w, id);
    if (strcmp(jt_str(d, "state"), state) != 0 || progress_of(d) != progress) {
        char *t = aitbc_json_print(d);
        fail_msg("event %s: want %s progress %g", t, state, progress);
    }
    cJSON_Delete(d);
}

/* Running job id on a fresh miner m, for a fresh client c (subscribed on *w when w). */
static void running_job(jt_client *c, jt_miner *m, char id[64], wsc **w) {
    th_resp r;
    jt_client_new(H, "10", c);
    assert_int_equal(jt_miner_register(H, m, CAPS, 1, "1"), 201);
    if (w) {
        *w = wsc_connect(L, th_ws_port(H), c->key, 5000);
        assert_true(wsc_is_open(*w));
        assert_int_equal(wsc_send(*w, "{\"method\":\"subscribe\",\"params\":[\"job_updates\"]}"),
                         0);
        cJSON *ok = wsc_recv_json(*w, 5000);
        assert_non_null(ok);
        cJSON_Delete(ok);
    }
    assert_int_equal(jt_submit(H, c, JOB, id), 201);
    assert_int_equal(jt_beat(H, m, 5, "[]", &r), 200);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(r.json, "jobs");
    assert_int_equal(cJSON_GetArraySize(jobs), 1);
    assert_string_equal(jt_str(cJSON_GetArrayItem(jobs, 0), "job_id"), id);
    th_resp_free(&r);
}

typedef struct retry_arg {
    const jt_miner *m;
    const char *id, *body;
} retry_arg;

static int accepted(void *p) {
    retry_arg *a = p;
    th_resp r;
    long st = report(a->m, a->id, a->body, &r);
    th_resp_free(&r);
    return st == 200;
}

static void test_progress_shows_everywhere(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    char id[64];
    wsc *w;
    running_job(&c, &m, id, &w);
    expect_update(w, id, "QUEUED", -1);
    expect_update(w, id, "RUNNING", -1);
    cJSON *j = jt_job(H, id, 0);
    assert_true(progress_of(j) == -1); /* null until reported */
    cJSON_Delete(j);

    th_resp r;
    assert_int_equal(report(&m, id, "{\"attempt\":1,\"progress\":0.25}", &r), 200);
    assert_string_equal(jt_str(r.json, "job_id"), id);
    assert_int_equal(jt_int(r.json, "attempt"), 1);
    assert_true(progress_of(r.json) == 0.25);
    th_resp_free(&r);
    expect_update(w, id, "RUNNING", 0.25);
    j = jt_job(H, id, 0);
    assert_true(progress_of(j) == 0.25);
    cJSON_Delete(j);
    expect_listed(&c, id, 0.25);

    /* a second report inside the interval is refused and changes nothing */
    assert_int_equal(report(&m, id, "{\"attempt\":1,\"progress\":0.3}", &r), 429);
    expect_error(&r, 429, "rate_limited", NULL);
    char ra[16];
    assert_non_null(th_resp_header(&r, "Retry-After", ra, sizeof ra));
    assert_true(atoi(ra) >= 1);
    th_resp_free(&r);
    j = jt_job(H, id, 0);
    assert_true(progress_of(j) == 0.25);
    cJSON_Delete(j);

    /* once the interval passed it is taken again; 6 decimals are kept */
    retry_arg a = {&m, id, "{\"attempt\":1,\"progress\":0.3333333}"};
    assert_true(th_wait_until(accepted, &a, 10000));
    expect_update(w, id, "RUNNING", 0.333333);

    assert_int_equal(jt_complete(H, &m, id, 1, "{\"text\":\"done\"}", 1, &r), 200);
    th_resp_free(&r);
    expect_update(w, id, "COMPLETED", 1);
    j = jt_job(H, id, 0);
    assert_true(progress_of(j) == 1);
    cJSON_Delete(j);
    expect_listed(&c, id, 1);
    /* a finished job takes no more reports */
    assert_int_equal(report(&m, id, "{\"attempt\":1,\"progress\":0.9}", &r), 409);
    expect_error(&r, 409, "lease_lost", "attempt");
    th_resp_free(&r);
    wsc_free(w);
}

static void test_hostile_bodies(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    char id[64];
    running_job(&c, &m, id, NULL);
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"[]", NULL},
        {"\"x\"", NULL},
        {"{}", "attempt"},
        {"{\"progress\":0.5}", "attempt"},
        {"{\"attempt\":0,\"progress\":0.5}", "attempt"},
        {"{\"attempt\":1.5,\"progress\":0.5}", "attempt"},
        {"{\"attempt\":\"1\",\"progress\":0.5}", "attempt"},
        {"{\"attempt\":1}", "progress"},
        {"{\"attempt\":1,\"progress\":null}", "progress"},
        {"{\"attempt\":1,\"progress\":\"0.5\"}", "progress"},
        {"{\"attempt\":1,\"progress\":true}", "progress"},
        {"{\"attempt\":1,\"progress\":-0.01}", "progress"},
        {"{\"attempt\":1,\"progress\":1.0000001}", "progress"},
        {"{\"attempt\":1,\"progress\":1e308}", "progress"},
        {"{\"attempt\":1,\"progress\":0.5,\"eta_s\":3}", "eta_s"},
    };
    th_resp r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        report(&m, id, bad[i].body, &r);
        expect_error(&r, 400, "invalid_argument", bad[i].field);
        th_resp_free(&r);
    }
    report(&m, id, "{\"attempt\":1,", &r);
    expect_error(&r, 400, "invalid_json", NULL);
    th_resp_free(&r);
    /* no body at all: nothing to report */
    report(&m, id, NULL, &r);
    expect_error(&r, 400, "invalid_argument", NULL);
    th_resp_free(&r);
    /* none of that counted against the rate limit or changed the job */
    cJSON *j = jt_job(H, id, 0);
    assert_true(progress_of(j) == -1);
    cJSON_Delete(j);
    assert_int_equal(report(&m, id, "{\"attempt\":1,\"progress\":0}", &r), 200);
    th_resp_free(&r);
    assert_int_equal(report(&m, id, "{\"attempt\":1,\"progress\":1}", &r), 429);
    th_resp_free(&r);
}

static void test_only_the_assigned_attempt(void **st) {
    (void)st;
    jt_client c;
    jt_miner m, other;
    char id[64], path[160];
    running_job(&c, &m, id, NULL);
    assert_int_equal(jt_miner_register(H, &other, CAPS, 1, "1"), 201);
    th_resp r;
    /* unknown job, a job this miner never held, keys of other roles */
    report(&m, "job_aaaaaaaaaaaaaaaaaaaaaaaaaa", "{\"attempt\":1,\"progress\":0.5}", &r);
    expect_error(&r, 404, "not_found", NULL);
    th_resp_free(&r);
    report(&other, id, "{\"attempt\":1,\"progress\":0.5}", &r);
    expect_error(&r, 403, "forbidden", NULL);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/progress", id);
    const char *keys[] = {c.key, jt_admin(H)};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(th_req(H, "POST", path, keys[i], "{\"attempt\":1,\"progress\":0.5}", &r),
                         0);
        expect_error(&r, 403, "forbidden", NULL);
        th_resp_free(&r);
    }
    assert_int_equal(th_req(H, "POST", path, NULL, "{\"attempt\":1,\"progress\":0.5}", &r), 0);
    expect_error(&r, 401, "unauthenticated", NULL);
    th_resp_free(&r);
    /* a wrong attempt number is a lost lease */
    report(&m, id, "{\"attempt\":2,\"progress\":0.5}", &r);
    expect_error(&r, 409, "lease_lost", "attempt");
    th_resp_free(&r);
    assert_int_equal(report(&m, id, "{\"attempt\":1,\"progress\":0.5}", &r), 200);
    th_resp_free(&r);

    /* a retryable failure requeues: progress starts over, the old attempt's reports are stale */
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
    assert_int_equal(th_req(H, "POST", path, m.key,
                            "{\"attempt\":1,\"error\":{\"code\":\"oom\"},\"retryable\":true}", &r),
                     0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    cJSON *j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "state"), "QUEUED");
    assert_true(progress_of(j) == -1);
    cJSON_Delete(j);
    report(&m, id, "{\"attempt\":1,\"progress\":0.6}", &r);
    expect_error(&r, 409, "lease_lost", "attempt");
    th_resp_free(&r);
    /* the second attempt goes to the other miner; the first miner is now stale, not a stranger */
    assert_int_equal(jt_beat(H, &other, 5, "[]", &r), 200);
    th_resp_free(&r);
    report(&m, id, "{\"attempt\":2,\"progress\":0.6}", &r);
    expect_error(&r, 409, "lease_lost", "attempt");
    th_resp_free(&r);
    assert_int_equal(report(&other, id, "{\"attempt\":2,\"progress\":0.6}", &r), 200);
    th_resp_free(&r);
    j = jt_job(H, id, 0);
    assert_true(progress_of(j) == 0.6);
    assert_int_equal(jt_int(j, "attempt"), 2);
    cJSON_Delete(j);
    /* a canceled job keeps the last progress it reached */
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    assert_int_equal(th_req(H, "POST", path, c.key, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(progress_of(r.json) == 0.6);
    th_resp_free(&r);
    report(&other, id, "{\"attempt\":2,\"progress\":0.7}", &r);
    expect_error(&r, 409, "lease_lost", "attempt");
    th_resp_free(&r);
    assert_true(jt_conserved(H));
}

int main(void) {
    H = jt_start_client("heartbeat_interval_s: 30, lease_s: 60, max_attempts: 3",
                        ", progress_interval_ms: 300", "websocket: { listen: \"127.0.0.1:0\" }\n");
    L = H ? wsc_loop_new() : NULL;
    if (!L) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_shows_everywhere),
        cmocka_unit_test(test_hostile_bodies),
        cmocka_unit_test(test_only_the_assigned_attempt),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wsc_loop_free(L);
    int st = th_stop(H);
    th_free(H);
    return rc ? rc : st;
}
