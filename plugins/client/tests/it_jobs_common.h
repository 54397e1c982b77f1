/* Shared by the job lifecycle integration tests (it_jobs.c, it_jobs_more.c): one host per
 * file in H, and assertions that print the response on failure. Included, not linked: the
 * helpers use cmocka's fail_msg. */
#ifndef AITBC_IT_JOBS_COMMON_H
#define AITBC_IT_JOBS_COMMON_H

#include "jobs_th.h"
#include <aitbc/json.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

#ifndef IT_JOBS_MINER_CFG
#define IT_JOBS_MINER_CFG "heartbeat_interval_s: 1, lease_s: 2, max_attempts: 2, sweep_ms: 50"
#endif

static th_host *H;

static inline char *caps(const char *type) {
    static char buf[4][512];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 512,
             "{\"gpus\":[{\"name\":\"NVIDIA RTX 4090\",\"memory_mb\":24000}],"
             "\"models\":[\"llama3\"],\"job_types\":[\"%s\"],\"region\":\"eu\"}",
             type);
    return b;
}

static inline int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void expect_status(long got, long want, const th_resp *r, const char *what) {
    if (got != want)
        fail_msg("%s: got %ld (%s), want %ld", what, got, r && r->body ? r->body : "", want);
}

static inline void check_error(th_resp *r, long status, const char *code, const char *what) {
    const char *c = th_error_code(r);
    if (r->status != status || !c || strcmp(c, code) != 0)
        fail_msg("%s: got %ld %s, want %ld %s", what, r->status, r->body, status, code);
}

/* The one job a poll handed out; fails otherwise. */
static inline const cJSON *only_job(const th_resp *r, const char *job_id) {
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(r->json, "jobs");
    if (cJSON_GetArraySize(jobs) != 1) fail_msg("expected one job, got %s", r->body);
    const cJSON *j = cJSON_GetArrayItem(jobs, 0);
    if (job_id && strcmp(jt_str(j, "job_id"), job_id) != 0)
        fail_msg("expected job %s, got %s", job_id, r->body);
    return j;
}

/* The scenario several tests start from: a client with 10 AIT, two idle miners of job type
 * `type`, one job (max_price) submitted, and the first miner's poll holding it RUNNING. */
static inline void running_on_first(jt_client *c, jt_miner *first, jt_miner *second,
                                    const char *type, const char *max_price, char id[64]) {
    char body[160];
    th_resp r;
    jt_client_new(H, "10", c);
    assert_int_equal(jt_miner_register(H, first, caps(type), 1, "1"), 201);
    assert_int_equal(jt_miner_register(H, second, caps(type), 1, "1"), 201);
    snprintf(body, sizeof body, "{\"payload\":{\"type\":\"%s\"},\"max_price\":\"%s\"}", type,
             max_price);
    assert_int_equal(jt_submit(H, c, body, id), 201);
    jt_beat(H, first, 5, "[]", &r);
    only_job(&r, id);
    th_resp_free(&r);
}

/* A submit body {"payload":{<members>,"blob":"<n letters>"}<rest>} into *body (caller frees),
 * and its payload parsed: what every answer that carries the payload must give back. */
static inline cJSON *blob_job(const char *members, size_t n, const char *rest, char **body) {
    size_t cap = strlen(members) + strlen(rest) + n + 64;
    char *b = malloc(cap);
    if (!b) fail_msg("out of memory");
    int off = snprintf(b, cap, "{\"payload\":{%s,\"blob\":\"", members);
    for (size_t i = 0; i < n; i++)
        b[(size_t)off + i] = (char)('a' + (int)(i % 26));
    snprintf(b + (size_t)off + n, cap - (size_t)off - n, "\"}%s}", rest);
    cJSON *whole = cJSON_Parse(b);
    cJSON *p = cJSON_DetachItemFromObjectCaseSensitive(whole, "payload");
    cJSON_Delete(whole);
    if (!p) fail_msg("blob_job built a body that does not parse");
    *body = b;
    return p;
}

/* obj (a Job or an AssignedJob) carries exactly the payload want. */
static inline void same_payload(const cJSON *want, const cJSON *obj, const char *what) {
    const cJSON *got = cJSON_GetObjectItemCaseSensitive(obj, "payload");
    if (!got || !cJSON_Compare(want, got, 1)) fail_msg("%s: payload differs", what);
}

static inline int in_list(const th_resp *r, const char *list, const char *id) {
    const cJSON *it;
    cJSON_ArrayForEach(
        it, cJSON_GetObjectItemCaseSensitive(r->json, list)) if (strcmp(cJSON_GetStringValue(it),
                                                                        id) == 0) return 1;
    return 0;
}

typedef struct job_state_arg {
    const char *id, *state;
    int64_t attempt;
} job_state_arg;

static inline int job_is(void *p) {
    job_state_arg *a = p;
    cJSON *j = jt_job(H, a->id, 0);
    int ok = strcmp(jt_str(j, "state"), a->state) == 0 &&
             (a->attempt < 0 || jt_int(j, "attempt") == a->attempt);
    cJSON_Delete(j);
    return ok;
}

/* Wait for a job state; on timeout fail with the job as it is. */
static inline void wait_job(const char *id, const char *state, int64_t attempt) {
    job_state_arg q = {id, state, attempt};
    if (th_wait_until(job_is, &q, 15000)) return;
    cJSON *j = jt_job(H, id, 0);
    char *text = aitbc_json_print(j);
    fprintf(stderr, "job %s never became %s/%lld: %s\n", id, state, (long long)attempt, text);
    free(text);
    cJSON_Delete(j);
    fail();
}

static inline int setup(void **st) {
    (void)st;
    H = jt_start(IT_JOBS_MINER_CFG);
    return H ? 0 : -1;
}

static inline int teardown(void **st) {
    (void)st;
    int rc = th_stop(H);
    th_free(H);
    return rc == 0 ? 0 : -1;
}

#endif
