/* The poller: the agent's conversation with the coordinator. Each round it registers if it has no
 * valid key, sends spooled results, then heartbeats — as a long-poll when a slot is free, so a new
 * job arrives at once; as a plain heartbeat on next_heartbeat_s when every slot is busy or the
 * node drains — and acts on the answer: start assigned jobs, stop canceled ones. While the
 * coordinator is unreachable it retries with capped, jittered backoff. */
#include "miner_agent.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEARTBEAT_MAX_S 300
/* A coordinator answers an empty long-poll only after wait_s; one that answers at once (or keeps
 * sending jobs this miner refuses) is not polled faster than this. */
#define MIN_ROUND_MS 1000
#define EARLY_MS 5000

int ma_trouble_level(const ma_agent *a) {
    /* At start a local coordinator (full.yaml) is not listening yet: no reason to alarm. */
    return a->api->now_ms() - a->api->started_ms() < EARLY_MS ? AITBC_LOG_INFO : AITBC_LOG_WARN;
}

void ma_poller_wake(ma_agent *a) {
    pthread_mutex_lock(&a->mu);
    a->wake_seq++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void ma_poller_interrupt(ma_agent *a) {
    atomic_store(&a->interrupt, 1);
    ma_http_wake(a->poll_http);
    ma_poller_wake(a);
}

void ma_nap(ma_agent *a, int64_t ms) {
    struct timespec until = aitbc_timespec_in(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(&a->mu);
    uint64_t seq = a->wake_seq;
    while (!atomic_load(&a->quit) && a->wake_seq == seq &&
           pthread_cond_timedwait(&a->cv, &a->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&a->mu);
}

static cJSON *metrics(ma_agent *a, int busy) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "agent", "aitbc-miner-agent/1");
    cJSON_AddStringToObject(m, "cpu_model", a->hw.cpu_model);
    aitbc_json_add_i64(m, "cpu_cores", a->hw.cpu_cores);
    aitbc_json_add_i64(m, "memory_mb", a->hw.memory_mb);
    aitbc_json_add_i64(m, "busy_slots", busy);
    return m;
}

static char *beat_body(ma_agent *a, int busy) {
    cJSON *b = cJSON_CreateObject(), *running = cJSON_CreateArray();
    cJSON_AddStringToObject(b, "status", atomic_load(&a->draining) ? "DRAINING" : "ONLINE");
    ma_jobs_ids(a, running);
    ma_spool_ids(a, running); /* finished but undelivered: still ours, never to be re-sent */
    cJSON_AddItemToObject(b, "running", running);
    cJSON_AddItemToObject(b, "metrics", metrics(a, busy));
    char *text = aitbc_json_print(b);
    cJSON_Delete(b);
    return text;
}

/* How long a new attempt waits for this miner's older attempt of the same job to end. */
#define OLDER_ATTEMPT_WAIT_MS 5000

/* 1 if the job started. */
static int take_job(ma_agent *a, ma_assigned *j) {
    if (ma_jobs_holds(a, j->job_id, j->attempt) || ma_spool_has(a, j->job_id, j->attempt))
        return 0;                       /* re-sent while we still have it */
    if (ma_jobs_holds(a, j->job_id, 0)) /* briefly: heartbeats wait behind it */
        ma_jobs_end_older(a, j->job_id, OLDER_ATTEMPT_WAIT_MS);
    /* A job that finished since the last round still holds its slot until reaped: a poll
     * answered at once (woken by that very job's end) must not find the miner "busy". */
    ma_jobs_reap(a);
    char msg[160];
    if (!j->payload) {
        ma_jobs_reject(a, a->poll_http, j, "invalid_payload", j->error, 0);
    } else if (atomic_load(&a->draining)) {
        ma_jobs_reject(a, a->poll_http, j, "miner_draining", "the miner is shutting down", 1);
    } else if (!ma_backend_for(a, j->type)) {
        snprintf(msg, sizeof msg, "this miner has no compute backend for job type \"%s\"", j->type);
        ma_jobs_reject(a, a->poll_http, j, "unsupported_type", msg, 0);
    } else if (ma_jobs_start(a, j) != 0) {
        ma_jobs_reject(a, a->poll_http, j, "miner_busy", "every job slot of the miner is busy", 1);
    } else {
        return 1;
    }
    return 0;
}

/* Act on a 200 answer; the number of jobs started. */
static int handle_answer(ma_agent *a, const cJSON *json) {
    ma_answer ans;
    int started = 0;
    if (ma_wire_parse_answer(json, &ans) != 0) {
        a->api->log(a->ctx, AITBC_LOG_WARN, "heartbeat answer is not a JSON object; ignored");
        return 0;
    }
    if (ans.next_heartbeat_s > 0) {
        pthread_mutex_lock(&a->mu);
        a->heartbeat_s =
            ans.next_heartbeat_s > HEARTBEAT_MAX_S ? HEARTBEAT_MAX_S : ans.next_heartbeat_s;
        pthread_mutex_unlock(&a->mu);
    }
    for (size_t i = 0; i < ans.ncancel; i++)
        ma_jobs_cancel(a, ans.cancel[i]);
    for (size_t i = 0; i < ans.njobs; i++)
        started += take_job(a, &ans.jobs[i]);
    ma_answer_free(&ans);
    return started;
}

/* One heartbeat or long-poll. 0 = answered; else how long to wait (ms, -1 = backoff).
 * *idle: 2 after a plain heartbeat (next one on next_heartbeat_s), 1 when the answer started
 * nothing (the next round should not follow at once), else 0. */
static int64_t beat(ma_agent *a, int busy, int *idle) {
    char path[160], key[AITBC_API_KEY_MAX];
    pthread_mutex_lock(&a->mu);
    int64_t hb = a->heartbeat_s;
    pthread_mutex_unlock(&a->mu);
    int draining = atomic_load(&a->draining);
    int64_t wait_s = !draining && busy < a->cfg.concurrency ? a->cfg.poll_wait_s : 0;
    if (wait_s > hb) wait_s = hb; /* the poll is the heartbeat: never later than asked */
    int started = 0;
    if (wait_s > 0)
        snprintf(path, sizeof path, "/v1/miners/%s/poll?wait_s=%" PRId64, a->address, wait_s);
    else
        snprintf(path, sizeof path, "/v1/miners/%s/heartbeat", a->address);
    char *body = beat_body(a, busy);
    ma_api_key(a, key);
    ma_resp r;
    atomic_store(&a->interrupt, 0);
    if (draining != atomic_load(&a->draining) || atomic_load(&a->quit))
        atomic_store(&a->interrupt, 1); /* the stop came while we were getting ready */
    ma_http_post(a->poll_http, path, key, body, (wait_s + a->cfg.request_timeout_s) * 1000,
                 &a->interrupt, &r);
    free(body);
    if (draining) {
        pthread_mutex_lock(&a->mu);
        a->drain_announced = 1;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
    }
    int64_t wait = 0;
    if (r.status == 200) {
        started = handle_answer(a, r.json);
    } else if (r.status == 401 || r.status == 403 || r.status == 404) {
        /* key revoked or rotated, or the coordinator forgot this miner: register again */
        a->api->log(a->ctx, AITBC_LOG_WARN, "heartbeat refused (%ld %s): registering again",
                    r.status, ma_resp_code(&r));
        pthread_mutex_lock(&a->mu);
        if (strcmp(key, a->api_key) == 0) a->registered = 0;
        pthread_mutex_unlock(&a->mu);
    } else if (r.status == 0 && atomic_load(&a->interrupt)) {
        wait = 0; /* interrupted on purpose: go round again */
    } else {
        a->api->log(a->ctx, AITBC_LOG_DEBUG, "heartbeat failed: %ld %s%s", r.status,
                    r.status ? ma_resp_code(&r) : "", r.status ? "" : r.error);
        wait = r.retry_after_s > 0 ? r.retry_after_s * 1000 : -1;
    }
    ma_resp_free(&r);
    *idle = wait_s == 0 ? 2 : started == 0 && r.status == 200 ? 1 : 0;
    return wait;
}

static int is_registered(ma_agent *a) {
    pthread_mutex_lock(&a->mu);
    int r = a->registered;
    pthread_mutex_unlock(&a->mu);
    return r;
}

/* Coordinator trouble: log the first failure, then wait with backoff. */
static void back_off(ma_agent *a, int *failures, int64_t hint_ms) {
    if (*failures == 0)
        a->api->log(a->ctx, ma_trouble_level(a),
                    "coordinator %s not reachable; retrying with backoff", a->cfg.coordinator_url);
    atomic_store(&a->failing, 1);
    int64_t d = ma_backoff_ms(*failures, a->cfg.backoff_max_ms);
    if (hint_ms > d) d = hint_ms;
    (*failures)++;
    ma_nap(a, d);
}

static void recovered(ma_agent *a, int *failures) {
    if (*failures > 0)
        a->api->log(a->ctx, AITBC_LOG_INFO, "coordinator reachable again after %d failed tries",
                    *failures);
    *failures = 0;
    atomic_store(&a->failing, 0);
}

static void *poller_main(void *arg) {
    ma_agent *a = arg;
    int failures = 0;
    ma_hw_detect(a);
    while (!atomic_load(&a->quit)) {
        int busy = ma_jobs_reap(a);
        if (!is_registered(a)) {
            if (atomic_load(&a->draining)) {
                /* no key, so no DRAINING to send: the drain only waits on jobs */
                pthread_mutex_lock(&a->mu);
                a->drain_announced = 1;
                pthread_cond_broadcast(&a->cv);
                pthread_mutex_unlock(&a->mu);
                ma_nap(a, 1000);
                continue;
            }
            int64_t hint = ma_register(a, a->poll_http);
            if (hint != 0) {
                back_off(a, &failures, hint);
                continue;
            }
            recovered(a, &failures);
        }
        ma_spool_flush(a, a->poll_http, &a->quit);
        int idle = 0;
        int64_t began = a->api->now_ms();
        int64_t wait = beat(a, busy, &idle);
        if (wait != 0) {
            back_off(a, &failures, wait);
            continue;
        }
        recovered(a, &failures);
        pthread_mutex_lock(&a->mu);
        int64_t hb = a->heartbeat_s;
        pthread_mutex_unlock(&a->mu);
        int64_t took = a->api->now_ms() - began;
        if (idle == 2) /* a plain heartbeat: a finished job or the drain wakes us */
            ma_nap(a, hb * 1000);
        else if (idle && took < MIN_ROUND_MS) /* an empty answer that came back at once */
            ma_nap(a, MIN_ROUND_MS - took);
    }
    return NULL;
}

int ma_poller_start(ma_agent *a) {
    if (pthread_create(&a->poller, NULL, poller_main, a) != 0) return AITBC_ENOMEM;
    a->poller_live = 1;
    return 0;
}
