/* Job slots and job threads. Each assigned job runs on its own thread (never the host's worker
 * pool: a job may take minutes) on the backend that serves its type. When run() returns, the
 * completion — the signed result, or the error — is spooled to disk and then sent. A job the
 * coordinator canceled is dropped; one stopped by the drain is reported as a retryable failure. */
#include "miner_agent.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERROR_CODE_MAX 64

int ma_jobs_init(ma_agent *a) {
    a->jobs = calloc((size_t)a->cfg.concurrency, sizeof *a->jobs);
    if (!a->jobs) return AITBC_ENOMEM;
    for (int i = 0; i < a->cfg.concurrency; i++) {
        a->jobs[i].a = a;
        if (!(a->jobs[i].http = ma_http_new(a))) return AITBC_ENOMEM;
    }
    return 0;
}

void ma_jobs_free(ma_agent *a) {
    for (int i = 0; a->jobs && i < a->cfg.concurrency; i++) {
        ma_http_free(a->jobs[i].http);
        cJSON_Delete(a->jobs[i].payload);
    }
    free(a->jobs);
    a->jobs = NULL;
}

static int ctl_should_stop(void *user) {
    ma_job *j = user;
    return atomic_load(&j->stop) != MA_STOP_NONE ||
           (j->deadline_ms > 0 && j->a->api->now_ms() >= j->deadline_ms);
}

static int ctl_progress(void *user, double fraction) {
    ma_job *j = user;
    if (isfinite(fraction)) {
        fraction = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
        pthread_mutex_lock(&j->a->mu);
        if (fraction > j->progress) j->progress = fraction;
        pthread_mutex_unlock(&j->a->mu);
    }
    return ctl_should_stop(user);
}

static int code_ok(const char *c) {
    return c && c[0] && strlen(c) <= ERROR_CODE_MAX;
}

/* The completion body for what run() produced (caller frees). */
static char *completion_body(ma_agent *a, const ma_job *j, int rc, const aitbc_compute_out *o) {
    if (rc == 0 && cJSON_IsObject(o->result) && o->units >= 0) {
        if (o->unit_type && strcmp(o->unit_type, a->cfg.unit_type) != 0)
            a->api->log(a->ctx, AITBC_LOG_DEBUG,
                        "job %s: backend counts %s, the miner is registered with unit_type %s",
                        j->job_id, o->unit_type, a->cfg.unit_type);
        char *body = ma_wire_result_body(a, j->job_id, j->attempt, o->result, o->units);
        if (body) return body;
        return ma_wire_error_body(j->attempt, "invalid_result",
                                  "the backend's result cannot be put in canonical JSON", 0);
    }
    if (rc == 0)
        return ma_wire_error_body(j->attempt, "invalid_result",
                                  "the backend returned no result object or negative units", 0);
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o->error, "code"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o->error, "message"));
    return ma_wire_error_body(j->attempt, code_ok(code) ? code : "compute_failed",
                              msg ? msg : "the compute backend failed", o->retryable);
}

/* The first of job thread and drain to call this reports the job. */
static int claim(ma_job *j) {
    pthread_mutex_lock(&j->a->mu);
    int mine = !j->reported;
    j->reported = 1;
    pthread_mutex_unlock(&j->a->mu);
    return mine;
}

/* Spool, then send; the spool keeps it if the coordinator cannot take it now. */
static void deliver(ma_agent *a, ma_http *h, const char *job_id, int64_t attempt,
                    const char *body) {
    ma_spool_write(a, job_id, attempt, body); /* on failure (logged) still try to send it */
    ma_spool_send(a, h, job_id, attempt, body, &a->quit);
}

static void *job_main(void *arg) {
    ma_job *j = arg;
    ma_agent *a = j->a;
    aitbc_compute_ctl ctl = {sizeof ctl, j, ctl_progress, ctl_should_stop, j->deadline_ms};
    aitbc_compute_out out = {0};
    int rc = j->backend->t->run(j->backend->t->self, j->payload, &ctl, &out);
    int stop = atomic_load(&j->stop);
    char *body = NULL;
    if (stop == MA_STOP_CANCEL)
        a->api->log(a->ctx, AITBC_LOG_INFO, "job %s canceled by the coordinator", j->job_id);
    else if (stop == MA_STOP_DRAIN && !(rc == 0 && out.result))
        body = ma_wire_error_body(j->attempt, "miner_draining",
                                  "the miner shut down before the job finished", 1);
    else
        body = completion_body(a, j, rc, &out);
    cJSON_Delete(out.result);
    cJSON_Delete(out.error);
    if (body && claim(j)) {
        a->api->log(a->ctx, AITBC_LOG_INFO, "job %s attempt %" PRId64 " finished (%s) in %lld ms",
                    j->job_id, j->attempt, rc == 0 ? "ok" : "failed",
                    (long long)(a->api->now_ms() - j->started_ms));
        deliver(a, j->http, j->job_id, j->attempt, body);
        atomic_fetch_add(rc == 0 ? &a->jobs_ok : &a->jobs_failed, 1);
    }
    free(body);
    pthread_mutex_lock(&a->mu);
    j->finished = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    ma_poller_wake(a);
    return NULL;
}

int ma_jobs_running_locked(const ma_agent *a) {
    int n = 0;
    for (int i = 0; a->jobs && i < a->cfg.concurrency; i++)
        n += a->jobs[i].used && !a->jobs[i].finished;
    return n;
}

int ma_jobs_start(ma_agent *a, ma_assigned *as) {
    const ma_backend *b = ma_backend_for(a, as->type);
    pthread_mutex_lock(&a->mu);
    ma_job *j = NULL;
    for (int i = 0; i < a->cfg.concurrency && !j; i++)
        if (!a->jobs[i].used) j = &a->jobs[i];
    if (!j) {
        pthread_mutex_unlock(&a->mu);
        return AITBC_EBUSY;
    }
    j->used = 1;
    j->finished = j->reported = 0;
    snprintf(j->job_id, sizeof j->job_id, "%s", as->job_id);
    j->attempt = as->attempt;
    cJSON_Delete(j->payload);
    j->payload = as->payload;
    as->payload = NULL;
    j->backend = b;
    j->started_ms = a->api->now_ms();
    j->deadline_ms = a->cfg.job_timeout_s ? j->started_ms + a->cfg.job_timeout_s * 1000LL : 0;
    j->progress = 0;
    j->progress_sent = 0;
    j->progress_sent_ms = 0;
    atomic_store(&j->stop, MA_STOP_NONE);
    int rc = pthread_create(&j->thread, NULL, job_main, j);
    if (rc != 0) j->used = 0;
    pthread_mutex_unlock(&a->mu);
    if (rc == 0)
        a->api->log(a->ctx, AITBC_LOG_INFO, "job %s attempt %" PRId64 " (%s) started on %s",
                    j->job_id, j->attempt, as->type, b->service);
    return rc == 0 ? 0 : AITBC_EBUSY;
}

int ma_jobs_holds(ma_agent *a, const char *job_id, int64_t attempt) {
    int found = 0;
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->cfg.concurrency && !found; i++)
        found = a->jobs[i].used && strcmp(a->jobs[i].job_id, job_id) == 0 &&
                (attempt == 0 || a->jobs[i].attempt == attempt);
    pthread_mutex_unlock(&a->mu);
    return found;
}

void ma_jobs_cancel(ma_agent *a, const char *job_id) {
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->cfg.concurrency; i++)
        if (a->jobs[i].used && !a->jobs[i].finished && strcmp(a->jobs[i].job_id, job_id) == 0)
            atomic_store(&a->jobs[i].stop, MA_STOP_CANCEL);
    pthread_mutex_unlock(&a->mu);
}

void ma_jobs_end_older(ma_agent *a, const char *job_id, int64_t wait_ms) {
    ma_jobs_cancel(a, job_id);
    /* a->cv waits on CLOCK_MONOTONIC (miner_agent.c) */
    struct timespec until = aitbc_timespec_in(CLOCK_MONOTONIC, wait_ms);
    pthread_mutex_lock(&a->mu);
    for (;;) {
        int running = 0;
        for (int i = 0; i < a->cfg.concurrency; i++)
            running |=
                a->jobs[i].used && !a->jobs[i].finished && strcmp(a->jobs[i].job_id, job_id) == 0;
        if (!running || pthread_cond_timedwait(&a->cv, &a->mu, &until) != 0) break;
    }
    pthread_mutex_unlock(&a->mu);
    ma_jobs_reap(a);
}

int ma_jobs_reap(ma_agent *a) {
    int used = 0;
    for (int i = 0; i < a->cfg.concurrency; i++) {
        ma_job *j = &a->jobs[i];
        pthread_mutex_lock(&a->mu);
        int done = j->used && j->finished;
        pthread_mutex_unlock(&a->mu);
        if (done) {
            pthread_join(j->thread, NULL); /* it has returned or is returning */
            pthread_mutex_lock(&a->mu);
            j->used = 0;
            cJSON_Delete(j->payload);
            j->payload = NULL;
            pthread_mutex_unlock(&a->mu);
        }
        pthread_mutex_lock(&a->mu);
        used += j->used;
        pthread_mutex_unlock(&a->mu);
    }
    return used;
}

void ma_jobs_ids(ma_agent *a, cJSON *arr) {
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->cfg.concurrency; i++)
        if (a->jobs[i].used) cJSON_AddItemToArray(arr, cJSON_CreateString(a->jobs[i].job_id));
    pthread_mutex_unlock(&a->mu);
}

void ma_jobs_reject(ma_agent *a, ma_http *h, const ma_assigned *j, const char *code,
                    const char *message, int retryable) {
    a->api->log(a->ctx, AITBC_LOG_WARN, "job %s attempt %" PRId64 " refused: %s (%s)", j->job_id,
                j->attempt, code, message);
    char *body = ma_wire_error_body(j->attempt, code, message, retryable);
    if (body) deliver(a, h, j->job_id, j->attempt, body);
    free(body);
}

void ma_jobs_fail_all(ma_agent *a, ma_http *h) {
    /* Spool every failure first; then send them while the coordinator answers. A coordinator
     * that does not (it may be this very node, already shut) gets them at the next start. */
    int n = 0, reachable = 1;
    struct {
        char job_id[AITBC_ID_MAX];
        int64_t attempt;
    } *failed = calloc((size_t)a->cfg.concurrency, sizeof *failed);
    if (!failed) return;
    for (int i = 0; i < a->cfg.concurrency; i++) {
        ma_job *j = &a->jobs[i];
        pthread_mutex_lock(&a->mu);
        if (j->used && !j->finished) atomic_store(&j->stop, MA_STOP_DRAIN);
        if (j->used && !j->finished && !j->reported) {
            j->reported = 1;
            snprintf(failed[n].job_id, AITBC_ID_MAX, "%s", j->job_id);
            failed[n++].attempt = j->attempt;
        }
        pthread_mutex_unlock(&a->mu);
    }
    for (int i = 0; i < n; i++) {
        a->api->log(a->ctx, AITBC_LOG_WARN,
                    "job %s attempt %" PRId64 " still running after the drain grace: reported "
                    "as a retryable failure",
                    failed[i].job_id, failed[i].attempt);
        char *body = ma_wire_error_body(failed[i].attempt, "miner_draining",
                                        "the miner shut down before the job finished", 1);
        int spooled = body && ma_spool_write(a, failed[i].job_id, failed[i].attempt, body) == 0;
        if (body && (reachable || !spooled)) /* not on disk: sending is its only chance */
            reachable =
                ma_spool_send(a, h, failed[i].job_id, failed[i].attempt, body, &a->quit) == MA_SENT;
        free(body);
    }
    free(failed);
}

void ma_jobs_join_all(ma_agent *a) {
    for (int i = 0; a->jobs && i < a->cfg.concurrency; i++) {
        pthread_mutex_lock(&a->mu);
        int used = a->jobs[i].used;
        pthread_mutex_unlock(&a->mu);
        if (used) {
            pthread_join(a->jobs[i].thread, NULL);
            a->jobs[i].used = 0;
        }
    }
}

int ma_job_progress_due(ma_agent *a, size_t i, char job_id[AITBC_ID_MAX], int64_t *attempt,
                        double *progress) {
    int64_t now = a->api->now_ms();
    pthread_mutex_lock(&a->mu);
    ma_job *j = &a->jobs[i];
    int due = j->used && !j->finished && atomic_load(&j->stop) == MA_STOP_NONE &&
              j->progress > j->progress_sent &&
              now - j->progress_sent_ms >= a->cfg.progress_interval_ms;
    if (due) {
        snprintf(job_id, AITBC_ID_MAX, "%s", j->job_id);
        *attempt = j->attempt;
        *progress = j->progress;
        j->progress_sent = j->progress;
        j->progress_sent_ms = now;
    }
    pthread_mutex_unlock(&a->mu);
    return due;
}
