/* Concurrency: 20 miners long-polling while 1,000 jobs are submitted from 4 threads over real
 * HTTP. Every job must be handed out exactly once (attempt 1, one miner) and complete exactly
 * once, and the money must add up to the last base unit. Then: a backlog of another type longer
 * than one queue scan must not hide a miner's work. */
#include "jobs_th.h"
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

#define N_MINERS 20
#define N_JOBS 1000
#define N_SUBMITTERS 4
#define CAPS "{\"gpus\":[{\"name\":\"L4\",\"memory_mb\":24000}],\"job_types\":[\"bulk\"]}"

static th_host *H;
static jt_client C;
static jt_miner M[N_MINERS];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_assigned[N_JOBS * 2][64]; /* every (job) handed out, in order; room for doubles */
static int g_nassigned, g_bad_attempt, g_completed, g_complete_errors, g_submitted;
static char g_ids[N_JOBS][64];

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int finished(void) {
    pthread_mutex_lock(&g_mu);
    int done = g_completed + g_complete_errors >= N_JOBS;
    pthread_mutex_unlock(&g_mu);
    return done;
}

static void *miner_thread(void *arg) {
    const jt_miner *m = arg;
    int64_t deadline = mono_ms() + 240000;
    while (!finished() && mono_ms() < deadline) {
        th_resp r;
        if (jt_beat(H, m, 2, "[]", &r) != 200) {
            th_resp_free(&r);
            continue;
        }
        const cJSON *j;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(r.json, "jobs")) {
            const char *id = jt_str(j, "job_id");
            int64_t attempt = jt_int(j, "attempt");
            pthread_mutex_lock(&g_mu);
            if (g_nassigned < N_JOBS * 2) snprintf(g_assigned[g_nassigned++], 64, "%s", id);
            if (attempt != 1) g_bad_attempt++;
            pthread_mutex_unlock(&g_mu);
            th_resp c;
            long st = jt_complete(H, m, id, attempt, "{\"text\":\"ok\"}", 3, &c);
            th_resp_free(&c);
            pthread_mutex_lock(&g_mu);
            if (st == 200)
                g_completed++;
            else
                g_complete_errors++;
            pthread_mutex_unlock(&g_mu);
        }
        th_resp_free(&r);
    }
    return NULL;
}

static void *submit_thread(void *arg) {
    int part = (int)(intptr_t)arg;
    for (int i = part; i < N_JOBS; i += N_SUBMITTERS) {
        char id[64];
        if (jt_submit(H, &C, "{\"payload\":{\"type\":\"bulk\"},\"max_price\":\"1\"}", id) == 201) {
            pthread_mutex_lock(&g_mu);
            snprintf(g_ids[i], 64, "%s", id);
            g_submitted++;
            pthread_mutex_unlock(&g_mu);
        }
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    return strcmp(a, b);
}

static void test_every_job_runs_once(void **st) {
    (void)st;
    jt_client_new(H, "2000", &C);
    for (int i = 0; i < N_MINERS; i++)
        assert_int_equal(jt_miner_register(H, &M[i], CAPS, 2, "0.01"), 201);
    pthread_t miners[N_MINERS], subs[N_SUBMITTERS];
    for (int i = 0; i < N_MINERS; i++)
        pthread_create(&miners[i], NULL, miner_thread, &M[i]);
    for (int i = 0; i < N_SUBMITTERS; i++)
        pthread_create(&subs[i], NULL, submit_thread, (void *)(intptr_t)i);
    for (int i = 0; i < N_SUBMITTERS; i++)
        pthread_join(subs[i], NULL);
    for (int i = 0; i < N_MINERS; i++)
        pthread_join(miners[i], NULL);

    assert_int_equal(g_submitted, N_JOBS);
    assert_int_equal(g_bad_attempt, 0);
    assert_int_equal(g_complete_errors, 0);
    assert_int_equal(g_completed, N_JOBS);
    assert_int_equal(g_nassigned, N_JOBS);
    /* the handed-out ids are exactly the submitted ids, each once */
    qsort(g_assigned, (size_t)g_nassigned, 64, cmp);
    qsort(g_ids, N_JOBS, 64, cmp);
    for (int i = 0; i < N_JOBS; i++)
        assert_string_equal(g_assigned[i], g_ids[i]);

    /* money: each job 3 units × 0.01 = 0.03; 2.5 % of it to the treasury */
    int64_t a, l, miners_sum = 0;
    jt_balance(H, C.address, &a, &l);
    assert_int_equal(a, 2000000000 - N_JOBS * 30000);
    assert_int_equal(l, 0);
    for (int i = 0; i < N_MINERS; i++) {
        jt_balance(H, M[i].address, &a, &l);
        miners_sum += a;
    }
    assert_int_equal(miners_sum, N_JOBS * (30000 - 750));
    jt_balance(H, JT_TREASURY, &a, &l);
    assert_int_equal(a, N_JOBS * 750);
    assert_true(jt_conserved(H));

    th_resp r;
    th_req(H, "GET", "/v1/admin/stats", jt_admin(H), NULL, &r);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(r.json, "jobs");
    assert_int_equal(jt_int(jobs, "COMPLETED"), N_JOBS);
    assert_int_equal(jt_int(jobs, "total"), N_JOBS);
    assert_int_equal(jt_locked_total(H), 0);
    th_resp_free(&r);
}

/* A backlog of another type, longer than one scan, must not hide a miner's work. */
static void test_backlog_of_other_types(void **st) {
    (void)st;
    jt_client c;
    jt_miner m;
    jt_client_new(H, "0", &c);
    char id[64];
    for (int i = 0; i < 700; i++)
        assert_int_equal(jt_submit(H, &c, "{\"payload\":{\"type\":\"backlog\"}}", id), 201);
    assert_int_equal(jt_submit(H, &c, "{\"payload\":{\"type\":\"hidden\"}}", id), 201);
    assert_int_equal(jt_miner_register(H, &m, "{\"job_types\":[\"hidden\",\"other\"]}", 1, "0"),
                     201);
    th_resp r;
    assert_int_equal(jt_beat(H, &m, 5, "[]", &r), 200);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(r.json, "jobs");
    assert_int_equal(cJSON_GetArraySize(jobs), 1);
    assert_string_equal(jt_str(cJSON_GetArrayItem(jobs, 0), "job_id"), id);
    th_resp_free(&r);
    /* free work (max_price 0, unit_price 0): COMPLETED, nothing moves */
    assert_int_equal(jt_complete(H, &m, id, 1, "{\"ok\":1}", 5, &r), 200);
    assert_string_equal(jt_str(cJSON_GetObjectItemCaseSensitive(r.json, "receipt"), "price"), "0");
    th_resp_free(&r);
    cJSON *j = jt_job(H, id, 0);
    assert_string_equal(jt_str(j, "payment_status"), "none");
    cJSON_Delete(j);
    assert_true(jt_conserved(H));
}

int main(void) {
    H = jt_start("heartbeat_interval_s: 20, lease_s: 120, max_attempts: 3");
    if (!H) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_job_runs_once),
        cmocka_unit_test(test_backlog_of_other_types),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    int st = th_stop(H);
    th_free(H);
    return rc ? rc : st;
}
