/* Miner routes: heartbeat and long-poll (assignment rides on the answer), completion, and the
 * miner's own record (GET/DELETE). A poll with nothing to hand out parks on the host (no thread
 * held) under its miner's wake key until a queued job picks it (wake.c) or wait_s passes; the
 * queued generation closes the gap between "found nothing" and "parked". */
#include "miner.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MN_RUNNING_MAX 1024
#define MN_METRICS_MAX 16384

/* The caller is the miner at {address} (or, when allowed, an admin). Answers 403 otherwise. */
static int is_self(miner_state *ms, aitbc_request *req, const char *address, int admin_ok) {
    const aitbc_principal *p = ms->api->req_principal(req);
    if (p && ((admin_ok && p->role == AITBC_ROLE_ADMIN) ||
              (p->role == AITBC_ROLE_MINER && address && strcmp(p->owner_address, address) == 0)))
        return 1;
    ms->api->respond_error(req, 403, "forbidden", NULL, "Only that miner (or an admin) may.");
    return 0;
}

typedef struct mn_beat {
    const char *status;
    const cJSON *running;
    char *metrics; /* the body's metrics as stored (printed once), or NULL; owned */
} mn_beat;

static int parse_beat(miner_state *ms, aitbc_request *req, mn_beat *b) {
    static const char *const allowed[] = {"status", "running", "metrics", NULL};
    memset(b, 0, sizeof *b);
    b->status = "ONLINE";
    if (!ms->api->req_json(req)) return 0;
    const cJSON *body = aitbc_req_object(ms->api, req, allowed);
    if (!body) return -1;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "status");
    if (st && (!cJSON_IsString(st) || (strcmp(st->valuestring, "ONLINE") != 0 &&
                                       strcmp(st->valuestring, "DRAINING") != 0))) {
        ms->api->respond_error(req, 400, "invalid_argument", "status",
                               "status is ONLINE or DRAINING");
        return -1;
    }
    if (st) b->status = st->valuestring;
    b->running = cJSON_GetObjectItemCaseSensitive(body, "running");
    if (b->running) {
        const cJSON *it;
        int ok = cJSON_IsArray(b->running) && cJSON_GetArraySize(b->running) <= MN_RUNNING_MAX;
        cJSON_ArrayForEach(it, b->running) ok =
            ok && cJSON_IsString(it) && strlen(it->valuestring) < AITBC_ID_MAX;
        if (!ok) {
            ms->api->respond_error(req, 400, "invalid_argument", "running",
                                   "running is an array of at most 1024 job ids");
            return -1;
        }
    }
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(body, "metrics");
    b->metrics = cJSON_IsObject(metrics) ? aitbc_json_print(metrics) : NULL;
    if (metrics && (!b->metrics || strlen(b->metrics) > MN_METRICS_MAX)) {
        free(b->metrics);
        b->metrics = NULL;
        ms->api->respond_error(req, 400, "invalid_argument", "metrics",
                               "metrics is an object of at most 16 KiB");
        return -1;
    }
    return 0;
}

/* Record a heartbeat on the row we hold (from the registry, or read in t; an OFFLINE miner
 * coming back is read from the table): one UPDATE. A status change is a registry change other
 * hosts must see. 1, 0 when the row is gone, <0 error. */
static int beat_row(miner_state *ms, aitbc_txn *t, const mn_beat *b, int64_t now, mn_row *row) {
    const aitbc_host_api *api = ms->api;
    aitbc_stmt *s = api->stmt(t, "UPDATE miner_miners SET status = ?2, last_heartbeat_ms = ?3, "
                                 "heartbeats = heartbeats + 1, metrics = COALESCE(?4, metrics) "
                                 "WHERE address = ?1");
    int rc = AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, row->address);
        api->bind_text(s, 2, b->status);
        api->bind_int64(s, 3, now);
        if (b->metrics)
            api->bind_text(s, 4, b->metrics);
        else
            api->bind_null(s, 4);
        rc = api->step(s);
        rc = rc < 0 ? rc : api->changes(s) == 1;
        api->stmt_done(s);
    }
    if (rc == 1 && strcmp(row->status, b->status) != 0) {
        int w = aitbc_gen_bump(api, t, MN_GEN_TABLE, MN_GEN_REGISTRY);
        rc = w < 0 ? w : rc;
    }
    if (rc == 1) {
        snprintf(row->status, sizeof row->status, "%s", b->status);
        row->last_heartbeat_ms = now;
        rc = mn_live_put(ms, row);
        rc = rc == 0 ? 1 : rc;
    }
    return rc;
}

/* Record the heartbeat. 1 and *row (caller frees), 0 when there is no such miner, <0 error.
 * The row the answer's dispatch works with (profile, price) comes from the registry on one
 * host; on a shared database from the table, read under the write lock, because another host
 * may have re-registered the miner since. */
static int record_beat(miner_state *ms, const char *address, const mn_beat *b, mn_row *row) {
    const aitbc_host_api *api = ms->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    int64_t now = api->now_ms();
    int shared = aitbc_store_shared(api);
    int rc = shared ? mn_load(ms, t, address, row) : mn_live_row(ms, address, row);
    /* Not in the registry: OFFLINE and coming back, or gone; the table decides. */
    if (rc == 0 && !shared) rc = mn_load(ms, t, address, row);
    if (rc == 1) rc = beat_row(ms, t, b, now, row);
    /* Gone: deregistered (on another host, or under us). */
    if (rc == 0) mn_live_drop(ms, address, INT64_MAX);
    if (rc >= 0)
        rc = api->txn_commit(t) == 0 ? rc : AITBC_EIO;
    else
        api->txn_rollback(t);
    if (rc != 1) mn_row_free(row);
    return rc;
}

/* The heartbeat event; the count of running jobs it carries is also the registry's load. */
static void publish_beat(miner_state *ms, const mn_row *row) {
    int64_t running = 0;
    char ts[AITBC_TIME_MAX];
    if (ms->jobs->miner_stats(ms->jobs->self, row->address, &running, NULL, NULL, NULL) == 0)
        mn_live_load_set(ms, row->address, running, 0);
    aitbc_time_format(row->last_heartbeat_ms, ts);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "address", row->address);
    cJSON_AddStringToObject(ev, "status", row->status);
    aitbc_json_add_i64(ev, "running", running);
    cJSON_AddStringToObject(ev, "time", ts);
    ms->api->bus_publish(ms->ctx, AITBC_TOPIC_MINER_HEARTBEATS, ev);
    cJSON_Delete(ev);
}

/* dispatch for row; 0 and *answer with next_heartbeat_s. */
static int answer_for(miner_state *ms, const mn_row *row, const cJSON *running, int flags,
                      cJSON **answer, int *assigned) {
    aitbc_jobs_miner m;
    mn_profile(row, &m);
    int rc = ms->jobs->dispatch(ms->jobs->self, &m, running, AITBC_JOBS_CLAIM | flags,
                                ms->lease_s * 1000, answer, assigned);
    if (rc == 0) aitbc_json_add_i64(*answer, "next_heartbeat_s", ms->heartbeat_s);
    return rc;
}

static int empty_answer(const cJSON *a) {
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "jobs")) == 0 &&
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "cancel")) == 0;
}

static void park(miner_state *ms, aitbc_request *req, int64_t deadline, uint64_t gen);

static void poll_retry(aitbc_request *req, void *user, int timed_out) {
    miner_state *ms = g_miner;
    int64_t deadline = (int64_t)(intptr_t)user;
    const char *address = ms->api->req_param(req, "address");
    uint64_t gen = ms->jobs->queued_gen(ms->jobs->self);
    mn_live_unpark(ms, address);
    mn_row row;
    /* An OFFLINE miner is not in the registry: the table decides (it may be gone). So does a
     * shared database: another host may have re-registered the miner since it parked. */
    int found = aitbc_store_shared(ms->api) ? 0 : mn_live_row(ms, address, &row);
    if (found == 0) found = mn_load(ms, NULL, address, &row);
    cJSON *ans = NULL;
    int assigned = 0, rc = found;
    if (found > 0) {
        rc = answer_for(ms, &row, NULL, AITBC_JOBS_NO_RENEW, &ans, &assigned);
        mn_row_free(&row);
    }
    if (assigned > 0) mn_live_load_set(ms, address, -1, assigned);
    /* A wake this poll did not turn into its job goes to the next miner that fits. */
    mn_wake_settle(ms, address, ans);
    if (found == 0) {
        ms->api->respond_error(req, 404, "not_found", NULL, "No such miner.");
        return;
    }
    if (rc != 0) {
        aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return;
    }
    if (assigned > 0 || timed_out || ms->api->now_ms() >= deadline || !empty_answer(ans)) {
        ms->api->respond_json(req, 200, ans);
        return;
    }
    cJSON_Delete(ans);
    park(ms, req, deadline, gen);
}

static void park(miner_state *ms, aitbc_request *req, int64_t deadline, uint64_t gen) {
    const char *address = ms->api->req_param(req, "address");
    char key[MN_WAKE_KEY_MAX];
    mn_wake_key(address, key);
    /* Parked in the registry before the generation is read: a job queued after our dispatch
     * looked either sees us parked (and wakes us) or raised the generation already. */
    mn_live_park(ms, address, ms->api->now_ms());
    ms->api->defer(req, key, deadline, poll_retry, (void *)(intptr_t)deadline);
    if (ms->jobs->queued_gen(ms->jobs->self) != gen) ms->api->wake(key);
}

static void beat(miner_state *ms, aitbc_request *req, int64_t wait_s) {
    const aitbc_host_api *api = ms->api;
    const char *address = api->req_param(req, "address");
    if (!is_self(ms, req, address, 0)) return;
    mn_beat b;
    if (parse_beat(ms, req, &b) != 0) return;
    uint64_t gen = ms->jobs->queued_gen(ms->jobs->self);
    mn_row row;
    int rc = record_beat(ms, address, &b, &row);
    free(b.metrics);
    if (rc <= 0) {
        if (rc == 0)
            api->respond_error(req, 404, "not_found", NULL, "No such miner.");
        else
            aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return;
    }
    cJSON *ans = NULL;
    int assigned = 0;
    rc = answer_for(ms, &row, b.running, 0, &ans, &assigned);
    publish_beat(ms, &row);
    mn_row_free(&row);
    if (rc != 0) {
        aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return;
    }
    if (wait_s > 0 && assigned == 0 && empty_answer(ans)) {
        cJSON_Delete(ans);
        park(ms, req, api->now_ms() + wait_s * 1000, gen);
        return;
    }
    api->respond_json(req, 200, ans);
}

static void h_heartbeat(aitbc_request *req, void *user) {
    beat(user, req, 0);
}

static void h_poll(aitbc_request *req, void *user) {
    miner_state *ms = user;
    const char *w = ms->api->req_query(req, "wait_s");
    int64_t wait_s = 0;
    if (w) {
        size_t n = strlen(w);
        int ok = n >= 1 && n <= 2;
        for (size_t i = 0; ok && i < n; i++)
            ok = w[i] >= '0' && w[i] <= '9';
        wait_s = ok ? atoi(w) : -1;
        if (wait_s < 0 || wait_s > 30) {
            ms->api->respond_error(req, 400, "invalid_argument", "wait_s", "wait_s must be 0..30");
            return;
        }
    }
    beat(ms, req, wait_s);
}

/* The miner row of the calling key: 1, or 0 after answering 403/5xx. */
static int caller_miner(miner_state *ms, aitbc_request *req, mn_row *row) {
    int rc = mn_load(ms, NULL, ms->api->req_principal(req)->owner_address, row);
    if (rc == 0)
        ms->api->respond_error(req, 403, "forbidden", NULL, "This key belongs to no miner.");
    else if (rc < 0)
        aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
    return rc > 0;
}

static int job_id_ok(miner_state *ms, aitbc_request *req, const char *job_id) {
    if (job_id && strlen(job_id) < AITBC_ID_MAX) return 1;
    ms->api->respond_error(req, 404, "not_found", NULL, "No such job.");
    return 0;
}

static void h_complete(aitbc_request *req, void *user) {
    miner_state *ms = user;
    const char *job_id = ms->api->req_param(req, "job_id");
    mn_row row;
    if (!caller_miner(ms, req, &row)) return;
    cJSON *ans = NULL;
    aitbc_jobs_error err = {0};
    if (job_id_ok(ms, req, job_id)) {
        if (ms->jobs->complete(ms->jobs->self, job_id, row.address, row.public_key,
                               ms->api->req_json(req), (int)ms->max_attempts, &ans, &err) == 0) {
            /* A slot is free again; counted, not decremented: a repeated completion answers
             * 200 again without freeing anything. */
            int64_t running = 0;
            if (ms->jobs->miner_stats(ms->jobs->self, row.address, &running, NULL, NULL, NULL) == 0)
                mn_live_load_set(ms, row.address, running, 0);
            ms->api->respond_json(req, 200, ans);
        } else
            aitbc_respond_jobs_error(ms->api, req, &err);
    }
    mn_row_free(&row);
}

static void h_progress(aitbc_request *req, void *user) {
    miner_state *ms = user;
    const char *job_id = ms->api->req_param(req, "job_id");
    if (ms->jobs->size < offsetof(aitbc_jobs_v1, progress) + sizeof ms->jobs->progress ||
        !ms->jobs->progress) {
        ms->api->respond_error(req, 503, "unavailable", NULL,
                               "The jobs service takes no progress reports.");
        return;
    }
    mn_row row;
    if (!caller_miner(ms, req, &row)) return;
    cJSON *ans = NULL;
    int64_t retry_s = 0;
    aitbc_jobs_error err = {0};
    if (job_id_ok(ms, req, job_id)) {
        if (ms->jobs->progress(ms->jobs->self, job_id, row.address, ms->api->req_json(req), &ans,
                               &retry_s, &err) == 0) {
            ms->api->respond_json(req, 200, ans);
        } else {
            if (err.status == 429) {
                char ra[24];
                snprintf(ra, sizeof ra, "%lld", (long long)(retry_s > 0 ? retry_s : 1));
                ms->api->resp_header(req, "Retry-After", ra);
            }
            aitbc_respond_jobs_error(ms->api, req, &err);
        }
    }
    mn_row_free(&row);
}

static void h_get(aitbc_request *req, void *user) {
    miner_state *ms = user;
    const char *address = ms->api->req_param(req, "address");
    if (!is_self(ms, req, address, 1)) return;
    mn_row row;
    int rc = mn_load(ms, NULL, address, &row);
    if (rc <= 0) {
        if (rc == 0)
            ms->api->respond_error(req, 404, "not_found", NULL, "No such miner.");
        else
            aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return;
    }
    ms->api->respond_json(req, 200, mn_row_json(ms, &row, 1));
    mn_row_free(&row);
}

static void h_delete(aitbc_request *req, void *user) {
    miner_state *ms = user;
    const char *address = ms->api->req_param(req, "address");
    if (!is_self(ms, req, address, 1)) return;
    int rc = mn_deregister(ms, address);
    if (rc < 0) {
        aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return;
    }
    if (rc == 0) {
        ms->api->respond_error(req, 404, "not_found", NULL, "No such miner.");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "address", address);
    cJSON_AddStringToObject(o, "status", "DEREGISTERED");
    ms->api->respond_json(req, 200, o);
}

int mn_routes_register(miner_state *ms) {
    const unsigned self_admin = AITBC_ROLE_MINER | AITBC_ROLE_ADMIN;
    const aitbc_route routes[] = {
        {"POST", "/v1/miners/register", AITBC_ROLE_PUBLIC, AITBC_BODY_JSON, 0, mn_h_register, ms, 0,
         1},
        {"POST", "/v1/miners/{address}/heartbeat", AITBC_ROLE_MINER, AITBC_BODY_JSON, 0,
         h_heartbeat, ms, 0, 1},
        {"POST", "/v1/miners/{address}/poll", AITBC_ROLE_MINER, AITBC_BODY_JSON, 0, h_poll, ms, 0,
         1},
        {"POST", "/v1/jobs/{job_id}/complete", AITBC_ROLE_MINER, AITBC_BODY_JSON, 16u << 20,
         h_complete, ms, 1, 1},
        {"POST", "/v1/jobs/{job_id}/progress", AITBC_ROLE_MINER, AITBC_BODY_JSON, 0, h_progress, ms,
         0, 1},
        {"GET", "/v1/miners/{address}", self_admin, AITBC_BODY_NONE, 0, h_get, ms, 0, 0},
        {"DELETE", "/v1/miners/{address}", self_admin, AITBC_BODY_NONE, 0, h_delete, ms, 0, 1},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = ms->api->route(ms->ctx, &routes[i]);
        if (rc != 0) {
            ms->api->log(ms->ctx, AITBC_LOG_ERROR, "route %s %s: %d", routes[i].method,
                         routes[i].path, rc);
            return rc;
        }
    }
    return 0;
}
