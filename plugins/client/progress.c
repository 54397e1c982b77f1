/* POST /v1/jobs/{job_id}/progress, the core: how far the assigned miner is with the running
 * attempt. Checks in the order of /complete (body 400, unknown job 404, never this miner's job
 * 403, stale attempt or job no longer running 409 lease_lost), then a per-job rate limit kept in
 * the job row itself, so it holds across requests, threads and restarts. */
#include "client.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct cl_report {
    int64_t attempt, ppm;
} cl_report;

static int parse_report(const cJSON *b, cl_report *r, aitbc_jobs_error *err) {
    static const char *const allowed[] = {"attempt", "progress", NULL};
    if (!cJSON_IsObject(b))
        return jc_fail(err, 400, "invalid_argument", NULL, "body must be a JSON object");
    const char *unknown = aitbc_json_unknown_key(b, allowed);
    if (unknown) return jc_fail(err, 400, "invalid_argument", unknown, "unknown field");
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(b, "attempt"), &r->attempt) != 0 ||
        r->attempt < 1)
        return jc_fail(err, 400, "invalid_argument", "attempt", "must be an integer >= 1");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, "progress");
    if (!cJSON_IsNumber(p) || !isfinite(p->valuedouble) || p->valuedouble < 0 || p->valuedouble > 1)
        return jc_fail(err, 400, "invalid_argument", "progress", "must be a number 0..1");
    r->ppm = llround(p->valuedouble * 1e6);
    return 0;
}

static int report_in(client_state *cs, aitbc_txn *t, cl_job *j, const char *job_id,
                     const char *miner, const cl_report *r, int64_t *retry_after_s, cl_events *ev,
                     aitbc_jobs_error *err) {
    int rc = cl_job_load(cs, t, job_id, j);
    if (rc < 0) return rc;
    if (rc == 0) return jc_fail(err, 404, "not_found", NULL, "no such job");
    int assigned = strcmp(j->miner, miner) == 0;
    if (!assigned && (rc = cl_attempt_held(cs, t, job_id, miner, 0)) <= 0)
        return rc < 0 ? rc : jc_fail(err, 403, "forbidden", NULL, "not the job's miner");
    if (strcmp(j->state, "RUNNING") != 0 || !assigned || j->attempt != r->attempt)
        return jc_fail(err, 409, "lease_lost", "attempt",
                       "the lease of this attempt is gone (job %s, attempt %lld)", j->state,
                       (long long)j->attempt);
    int64_t now = cs->api->now_ms(), since = now - j->progress_ms;
    if (j->progress_ms >= 0 && since >= 0 && since < cs->progress_interval_ms) {
        *retry_after_s = (cs->progress_interval_ms - since + 999) / 1000;
        return jc_fail(err, 429, "rate_limited", NULL,
                       "at most one progress report per %lld ms for a job",
                       (long long)cs->progress_interval_ms);
    }
    j->progress_ppm = r->ppm;
    j->progress_ms = now;
    rc = cl_job_save(cs, t, j);
    if (rc == 0) cl_events_note(cs, ev, j);
    return rc;
}

int cl_progress(void *self, const char *job_id, const char *miner, const cJSON *body,
                cJSON **answer, int64_t *retry_after_s, aitbc_jobs_error *err) {
    client_state *cs = self;
    cl_report r = {0};
    *answer = NULL;
    *retry_after_s = 0;
    memset(err, 0, sizeof *err);
    if (parse_report(body, &r, err) != 0) return AITBC_EINVAL;
    aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return jc_fail(err, 503, "unavailable", NULL, "database busy");
    cl_events ev = {0};
    cl_job j = {0};
    int rc = report_in(cs, t, &j, job_id, miner, &r, retry_after_s, &ev, err);
    if (rc == 0 && !err->status)
        rc = cs->api->txn_commit(t);
    else
        cs->api->txn_rollback(t);
    if (rc != 0 || err->status) {
        cl_job_free(&j);
        cl_events_drop(&ev);
        if (!err->status)
            jc_fail(err, rc == AITBC_EBUSY ? 503 : 500,
                    rc == AITBC_EBUSY ? "unavailable" : "internal", NULL,
                    "could not record the progress");
        return rc ? rc : AITBC_EINVAL;
    }
    cl_events_flush(cs, &ev);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "job_id", j.job_id);
    aitbc_json_add_i64(a, "attempt", j.attempt);
    cJSON_AddNumberToObject(a, "progress", (double)j.progress_ppm / 1e6);
    cl_job_free(&j);
    *answer = a;
    return 0;
}
