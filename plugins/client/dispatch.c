/* Dispatch and the lease clock: assigning QUEUED jobs to a miner inside one write transaction
 * (so no job is handed out twice), lease renewal and reconciliation of what a miner runs, lease
 * and TTL sweeps, and requeueing the jobs of a miner that vanished. */
#include "client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL_SCAN_MAX 500 /* queued jobs of one type looked at per claim, oldest first */
#define CL_SWEEP_MAX 200

typedef struct cl_rows {
    cl_job *v;
    size_t n, cap;
} cl_rows;

static void rows_free(cl_rows *r) {
    for (size_t i = 0; i < r->n; i++)
        cl_job_free(&r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* Run sql (selecting CL_JOB_COLS) with an optional text ?1 and int ?2, keep rows accepted by
 * keep (NULL = all), at most max. Rows are read fully before anything is written. Every sql
 * names both parameters (one it does not need in an always-true term that gives it a type):
 * PostgreSQL must find a type for each $n up to the highest. */
static int load_rows(client_state *cs, aitbc_txn *t, const char *sql, const char *p1, int64_t p2,
                     size_t max, int (*keep)(const cl_job *, void *), void *arg, cl_rows *out) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, sql);
    if (!s) return AITBC_EIO;
    if (p1) api->bind_text(s, 1, p1);
    api->bind_int64(s, 2, p2);
    int rc = AITBC_DONE;
    while (out->n < max && (rc = api->step(s)) == AITBC_ROW) {
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 8;
            cl_job *v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                rc = AITBC_ENOMEM;
                break;
            }
            out->v = v;
            out->cap = cap;
        }
        cl_job_read(cs, s, &out->v[out->n]);
        if (!keep || keep(&out->v[out->n], arg))
            out->n++;
        else
            cl_job_free(&out->v[out->n]);
    }
    if (out->n >= max) rc = AITBC_DONE;
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

static int in_array(const cJSON *arr, const char *id) {
    const cJSON *it;
    cJSON_ArrayForEach(it,
                       arr) if (cJSON_IsString(it) && strcmp(it->valuestring, id) == 0) return 1;
    return 0;
}

/* Trade jobs are paid by their trade, so the price rules do not apply to them. */
static int fits(const cl_job *j, const aitbc_jobs_miner *m) {
    cJSON *c = j->constraints ? cJSON_Parse(j->constraints) : NULL;
    int ok = jc_match(j->job_type, c, j->trade_id[0] ? INT64_MAX : j->max_price, m) == JC_MATCH_OK;
    cJSON_Delete(c);
    return ok;
}

/* Untraded work: a trade's jobs wait for its seller (load_trade_jobs). */
static int matches(const cl_job *j, void *arg) {
    return !j->seller[0] && fits(j, arg);
}

/* Moves *j to the end of dst (j is left empty). */
static int rows_push(cl_rows *dst, cl_job *j) {
    if (dst->n == dst->cap) {
        size_t cap = dst->cap ? dst->cap * 2 : 8;
        cl_job *v = realloc(dst->v, cap * sizeof *v);
        if (!v) return AITBC_ENOMEM;
        dst->v = v;
        dst->cap = cap;
    }
    dst->v[dst->n++] = *j;
    memset(j, 0, sizeof *j);
    return 0;
}

/* Moves every row of src to the end of dst; src ends empty. */
static int rows_move(cl_rows *dst, cl_rows *src) {
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < src->n; i++)
        rc = rows_push(dst, &src->v[i]);
    rows_free(src);
    return rc;
}

static int by_seq(const void *a, const void *b) {
    const cl_job *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* On PostgreSQL a claim locks the rows it reads and skips rows another session holds (a host in
 * the middle of claiming them), so two hosts never wait on, or take, the same job; the
 * database-wide write lock serializes claims today, and this keeps them right without it. */
#define CL_SCAN(cs, claim, head, index, tail)                                                      \
    ((cs)->pg && (claim) ? head " " tail " FOR UPDATE SKIP LOCKED"                                 \
                         : CL_INDEXED(cs, head, index, tail))

/* The oldest QUEUED jobs m can take, at most max: one indexed scan per job type m offers (so
 * jobs of other types never hide them), merged by age. Within a type, the CL_SCAN_MAX oldest
 * are looked at per call. claim: the rows are about to be assigned (CL_SCAN). */
static int load_candidates(client_state *cs, aitbc_txn *t, const aitbc_jobs_miner *m, int64_t now,
                           size_t max, int claim, cl_rows *out) {
    const cJSON *type;
    int rc = 0;
    cJSON_ArrayForEach(type, cJSON_GetObjectItemCaseSensitive(m->capabilities, "job_types")) {
        if (!cJSON_IsString(type) || rc != 0) continue;
        cl_rows part = {0};
        rc = load_rows(cs, t,
                       CL_SCAN(cs, claim, "SELECT " CL_JOB_COLS " FROM client_jobs",
                               "client_jobs_queue",
                               "WHERE state = 'QUEUED' AND job_type = ?1 AND expires_ms > ?2 "
                               "ORDER BY seq LIMIT 500"),
                       type->valuestring, now, max, matches, (void *)m, &part);
        int moved = rows_move(out, &part);
        if (rc == 0) rc = moved;
    }
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, by_seq);
    while (out->n > max)
        cl_job_free(&out->v[--out->n]);
    return rc;
}

static int trade_ended(client_state *cs, aitbc_txn *t, cl_job *j, cl_events *ev) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "code", "trade_ended");
    cJSON_AddStringToObject(e, "message", "the trade this job was to run on has ended");
    int rc = e ? cl_end_refund(cs, t, j, "FAILED", e, ev) : AITBC_ENOMEM;
    cJSON_Delete(e);
    return rc;
}

/* The work m sold comes first: QUEUED jobs of trades m is the seller of, oldest first, each
 * trade within its capacity (the offer's gpu_count) counting what already runs. A job whose
 * trade ended fails; one whose trade is paused waits. At most max. */
static int load_trade_jobs(client_state *cs, aitbc_txn *t, const aitbc_jobs_miner *m, int64_t now,
                           size_t max, cl_rows *out, cl_events *ev) {
    const aitbc_marketplace_v1 *mk = cl_market(cs);
    if (!mk) return 0; /* without the marketplace they wait (and expire by their TTL) */
    cl_rows q = {0};
    int rc = load_rows(cs, t,
                       CL_SCAN(cs, 1, "SELECT " CL_JOB_COLS " FROM client_jobs",
                               "client_jobs_seller_queue",
                               "WHERE seller = ?1 AND state = 'QUEUED' AND expires_ms > ?2 "
                               "ORDER BY seq LIMIT 500"),
                       m->address, now, CL_SCAN_MAX, NULL, NULL, &q);
    cl_rows take = {0};
    for (size_t i = 0; rc == 0 && i < q.n && take.n < max; i++) {
        cl_job *j = &q.v[i];
        int64_t capacity = 0;
        int st = mk->trade_use(mk->self, j->trade_id, j->client, NULL, &capacity);
        if (st < 0) {
            rc = st;
        } else if (st == AITBC_TRADE_ENDED || st == AITBC_TRADE_UNKNOWN) {
            rc = trade_ended(cs, t, j, ev);
        } else if (st == AITBC_TRADE_ACTIVE && fits(j, m)) {
            int64_t running = cl_trade_running(cs, t, j->trade_id);
            for (size_t k = 0; k < take.n; k++)
                running += strcmp(take.v[k].trade_id, j->trade_id) == 0;
            if (running < 0) rc = (int)running;
            if (rc == 0 && running < capacity) rc = rows_push(&take, j);
        }
    }
    rows_free(&q);
    int mv = rows_move(out, &take);
    return rc ? rc : mv;
}

static int record_attempt(client_state *cs, aitbc_txn *t, const cl_job *j) {
    aitbc_stmt *s = cs->api->stmt(t, "INSERT INTO client_attempts(job_id, attempt, miner) "
                                     "VALUES(?1, ?2, ?3) ON CONFLICT(job_id, attempt) "
                                     "DO UPDATE SET miner = excluded.miner");
    if (!s) return AITBC_EIO;
    cs->api->bind_text(s, 1, j->job_id);
    cs->api->bind_int64(s, 2, j->attempt);
    cs->api->bind_text(s, 3, j->miner);
    int rc = cs->api->step(s);
    cs->api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

static int assign(client_state *cs, aitbc_txn *t, const aitbc_jobs_miner *m, cl_rows *q,
                  int64_t now, int64_t lease_ms, cJSON *jobs, cl_events *ev, int *assigned) {
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < q->n; i++) {
        cl_job *j = &q->v[i];
        snprintf(j->miner, sizeof j->miner, "%s", m->address);
        snprintf(j->unit_type, sizeof j->unit_type, "%s", m->unit_type ? m->unit_type : "job");
        j->attempt++;
        j->unit_price = j->trade_id[0] ? 0 : m->unit_price; /* the trade already paid */
        j->lease_ms = now + lease_ms;
        j->assigned_ms = now;
        if (j->started_ms < 0) j->started_ms = now;
        rc = cl_set_state(cs, t, j, "RUNNING", ev);
        if (rc == 0) rc = record_attempt(cs, t, j);
        if (rc == 0) rc = cl_counter_add(cs, t, "assigned", 1);
        cJSON *a = rc == 0 ? cl_assigned_json(cs, t, j) : NULL;
        if (rc == 0 && !a) rc = AITBC_EIO;
        if (a) {
            cJSON_AddItemToArray(jobs, a);
            ++*assigned;
        }
    }
    return rc;
}

static int dispatch_in(client_state *cs, aitbc_txn *t, const aitbc_jobs_miner *m,
                       const cJSON *running, int flags, int64_t lease_ms, cJSON *jobs,
                       cJSON *cancel, cl_events *ev, int *assigned) {
    const aitbc_host_api *api = cs->api;
    int64_t now = api->now_ms();
    int rc = 0;
    if (!(flags & AITBC_JOBS_NO_RENEW)) {
        aitbc_stmt *s =
            api->stmt(t, CL_INDEXED(cs, "UPDATE client_jobs", "client_jobs_running",
                                    "SET lease_ms = ?2 WHERE miner = ?1 AND state = 'RUNNING'"));
        if (!s) return AITBC_EIO;
        api->bind_text(s, 1, m->address);
        api->bind_int64(s, 2, now + lease_ms);
        rc = api->step(s);
        api->stmt_done(s);
        if (rc < 0) return rc;
    }
    cl_rows mine = {0};
    rc = load_rows(cs, t,
                   CL_INDEXED(cs, "SELECT " CL_JOB_COLS " FROM client_jobs", "client_jobs_running",
                              "WHERE miner = ?1 AND state = 'RUNNING' AND "
                              "CAST(?2 AS INTEGER) IS NOT NULL"),
                   m->address, 0, 100000, NULL, NULL, &mine);
    for (size_t i = 0; rc == 0 && running && i < mine.n; i++) {
        if (in_array(running, mine.v[i].job_id)) continue;
        cJSON *a = cl_assigned_json(cs, t, &mine.v[i]); /* it lost one: send it again */
        if (a)
            cJSON_AddItemToArray(jobs, a);
        else
            rc = AITBC_EIO;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, running) {
        int ok = 0;
        for (size_t i = 0; i < mine.n && !ok; i++)
            ok = strcmp(mine.v[i].job_id, it->valuestring) == 0;
        if (!ok) cJSON_AddItemToArray(cancel, cJSON_CreateString(it->valuestring));
    }
    int64_t free_slots = m->concurrency - (int64_t)mine.n;
    rows_free(&mine);
    if (rc != 0 || !(flags & AITBC_JOBS_CLAIM) || m->draining || free_slots <= 0) return rc;
    cl_rows q = {0}, rest = {0};
    rc = load_trade_jobs(cs, t, m, now, (size_t)free_slots, &q, ev);
    if (rc == 0 && (int64_t)q.n < free_slots)
        rc = load_candidates(cs, t, m, now, (size_t)free_slots - q.n, 1, &rest);
    if (rc == 0) rc = rows_move(&q, &rest);
    rows_free(&rest);
    if (rc == 0) rc = assign(cs, t, m, &q, now, lease_ms, jobs, ev, assigned);
    rows_free(&q);
    return rc;
}

/* Read-only probe: would m get a job now? 1 yes, 0 no, <0 error. Lets long-poll retries that
 * have nothing to take skip the write lock every other writer is queueing for. */
static int claim_possible(client_state *cs, const aitbc_jobs_miner *m) {
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    int64_t running = 0;
    aitbc_stmt *s =
        api->stmt(t, CL_INDEXED(cs, "SELECT COUNT(*) FROM client_jobs", "client_jobs_running",
                                "WHERE miner = ?1 AND state = 'RUNNING'"));
    int rc = AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, m->address);
        rc = api->step(s) == AITBC_ROW ? 0 : AITBC_EIO;
        running = rc == 0 ? api->col_int64(s, 0) : 0;
        api->stmt_done(s);
    }
    cl_rows q = {0};
    if (rc == 0 && running < m->concurrency)
        rc = load_candidates(cs, t, m, api->now_ms(), 1, 0, &q);
    int found = rc == 0 && q.n > 0;
    if (rc == 0 && !found && running < m->concurrency) {
        /* Work of m's trades (capacity and trade state are checked under the write lock). */
        s = api->stmt(t, CL_INDEXED(cs, "SELECT 1 FROM client_jobs", "client_jobs_seller_queue",
                                    "WHERE seller = ?1 AND state = 'QUEUED' LIMIT 1"));
        if (s) {
            api->bind_text(s, 1, m->address);
            found = api->step(s) == AITBC_ROW;
            api->stmt_done(s);
        }
    }
    rows_free(&q);
    api->txn_commit(t);
    return rc < 0 ? rc : found;
}

int cl_dispatch(void *self, const aitbc_jobs_miner *m, const cJSON *running, int flags,
                int64_t lease_ms, cJSON **answer, int *assigned) {
    client_state *cs = self;
    *answer = NULL;
    *assigned = 0;
    cJSON *ans = cJSON_CreateObject();
    cJSON *jobs = cJSON_AddArrayToObject(ans, "jobs");
    cJSON *cancel = cJSON_AddArrayToObject(ans, "cancel");
    if (!jobs || !cancel) {
        cJSON_Delete(ans);
        return AITBC_ENOMEM;
    }
    if ((flags & AITBC_JOBS_NO_RENEW) && !running) {
        int rc = (flags & AITBC_JOBS_CLAIM) && !m->draining ? claim_possible(cs, m) : 0;
        if (rc <= 0) {
            if (rc < 0) {
                cJSON_Delete(ans);
                return rc;
            }
            *answer = ans;
            return 0;
        }
    }
    aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_WRITE);
    if (!t) {
        cJSON_Delete(ans);
        return AITBC_EBUSY;
    }
    cl_events ev = {0};
    int rc = dispatch_in(cs, t, m, running, flags, lease_ms, jobs, cancel, &ev, assigned);
    if (rc == 0)
        rc = cs->api->txn_commit(t);
    else
        cs->api->txn_rollback(t);
    if (rc != 0) {
        cl_events_drop(&ev);
        cJSON_Delete(ans);
        *assigned = 0;
        return rc;
    }
    cl_events_flush(cs, &ev);
    *answer = ans;
    return 0;
}

typedef int (*sweep_fn)(client_state *, aitbc_txn *, cl_job *, int, cl_events *);

/* Does sql find a row? 1, 0 or an error. A read transaction: timers run often and usually find
 * nothing, so they look before they ask for the write lock. */
static int sweep_due(client_state *cs, const char *sql, const char *p1, int64_t p2) {
    aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    cl_rows rows = {0};
    int rc = load_rows(cs, t, sql, p1, p2, 1, NULL, NULL, &rows);
    int due = rows.n > 0;
    rows_free(&rows);
    cs->api->txn_commit(t);
    return rc != 0 ? rc : due;
}

/* Apply fn to each row of sql (at most CL_SWEEP_MAX) in one write transaction; returns rows
 * changed or an error. */
static int sweep_write(client_state *cs, const char *sql, const char *p1, int64_t p2, sweep_fn fn,
                       int arg) {
    aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    cl_rows rows = {0};
    cl_events ev = {0};
    int rc = load_rows(cs, t, sql, p1, p2, CL_SWEEP_MAX, NULL, NULL, &rows);
    for (size_t i = 0; rc == 0 && i < rows.n; i++)
        rc = fn(cs, t, &rows.v[i], arg, &ev);
    int n = (int)rows.n;
    rows_free(&rows);
    if (rc == 0 && n == 0) {
        cs->api->txn_commit(t);
        return 0;
    }
    if (rc == 0)
        rc = cs->api->txn_commit(t);
    else
        cs->api->txn_rollback(t);
    if (rc != 0) {
        cl_events_drop(&ev);
        return rc;
    }
    cl_events_flush(cs, &ev);
    return n;
}

static int sweep(client_state *cs, const char *sql, const char *p1, int64_t p2, sweep_fn fn,
                 int arg) {
    int due = sweep_due(cs, sql, p1, p2);
    return due <= 0 ? due : sweep_write(cs, sql, p1, p2, fn, arg);
}

/* Lost leases are counted by reason for /metrics (client_counters "lost:<reason>"). */
static int requeue_lease(client_state *cs, aitbc_txn *t, cl_job *j, int max, cl_events *ev) {
    int rc = cl_counter_add(cs, t, "lost:lease_expired", 1);
    return rc ? rc : cl_requeue_or_fail(cs, t, j, max, "lease_expired", ev);
}

static int requeue_gone(client_state *cs, aitbc_txn *t, cl_job *j, int max, cl_events *ev) {
    int rc = cl_counter_add(cs, t, "lost:miner_offline", 1);
    return rc ? rc : cl_requeue_or_fail(cs, t, j, max, "miner_offline", ev);
}

static int expire(client_state *cs, aitbc_txn *t, cl_job *j, int unused, cl_events *ev) {
    (void)unused;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "code", "expired");
    cJSON_AddStringToObject(e, "message", "the job's ttl_seconds passed before it completed");
    int rc = cl_end_refund(cs, t, j, "EXPIRED", e, ev);
    cJSON_Delete(e);
    return rc;
}

int cl_release_miner(void *self, const char *miner, int max_attempts, int64_t before_ms) {
    client_state *cs = self;
    int total = 0, n;
    do {
        n = sweep(cs,
                  CL_INDEXED(cs, "SELECT " CL_JOB_COLS " FROM client_jobs", "client_jobs_running",
                             "WHERE miner = ?1 AND state = 'RUNNING' AND assigned_ms < ?2"),
                  miner, before_ms, requeue_gone, max_attempts);
        total += n > 0 ? n : 0;
    } while (n == CL_SWEEP_MAX);
    return n < 0 ? n : total;
}

/* The sweeps name their partial index: without statistics the planner prefers
 * client_jobs_state and sorts, which reads every QUEUED (or RUNNING) job on each tick. */
int cl_sweep_leases(void *self, int max_attempts) {
    client_state *cs = self;
    return sweep(cs,
                 CL_INDEXED(cs, "SELECT " CL_JOB_COLS " FROM client_jobs", "client_jobs_lease",
                            "WHERE state = 'RUNNING' AND lease_ms < ?2 AND "
                            "(CAST(?1 AS TEXT) IS NULL OR 1 = 1) ORDER BY lease_ms"),
                 NULL, cs->api->now_ms(), requeue_lease, max_attempts);
}

#define TTL_DUE_SQL(cs)                                                                            \
    CL_INDEXED(cs, "SELECT " CL_JOB_COLS " FROM client_jobs", "client_jobs_ttl",                   \
               "WHERE state IN ('QUEUED', 'RUNNING') AND expires_ms <= ?2 AND "                    \
               "(CAST(?1 AS TEXT) IS NULL OR 1 = 1) ORDER BY expires_ms")

static void ttl_expire_all(client_state *cs) {
    int n;
    do {
        n = sweep_write(cs, TTL_DUE_SQL(cs), NULL, cs->api->now_ms(), expire, 0);
    } while (n == CL_SWEEP_MAX);
    if (n < 0) cs->api->log(cs->ctx, AITBC_LOG_WARN, "ttl sweep failed: %d (retried next tick)", n);
}

static void ttl_on_writer(void *arg) {
    ttl_expire_all(arg);
}

static void ttl_done(void *arg, int rc) {
    client_state *cs = arg;
    if (rc == AITBC_EIO)
        cs->api->log(cs->ctx, AITBC_LOG_WARN, "ttl sweep batch did not commit (retried next tick)");
    atomic_store(&cs->ttl_queued, 0);
}

/* The timer looks (read transaction); what is due expires on the host's writer, in a batch with
 * the requests' writes (without a writer — older host, unit tests — in its own transaction). A
 * sweep still queued when the plugin stops runs before the host destroys it: the host stops its
 * writer, which finishes its queue, after stopping the plugins and before unloading them. */
void cl_sweep_ttl(void *arg) {
    client_state *cs = arg;
    const aitbc_host_api *api = cs->api;
    if (atomic_load(&cs->ttl_queued)) return; /* the previous one has not run yet */
    int due = sweep_due(cs, TTL_DUE_SQL(cs), NULL, api->now_ms());
    if (due < 0) api->log(cs->ctx, AITBC_LOG_WARN, "ttl sweep failed: %d (retried next tick)", due);
    if (due <= 0) return;
    if (AITBC_HOST_HAS(api, txn_submit) && !atomic_exchange(&cs->ttl_queued, 1)) {
        if (api->txn_submit(ttl_on_writer, cs, ttl_done) == 0) return;
        atomic_store(&cs->ttl_queued, 0);
    }
    ttl_expire_all(cs);
}
