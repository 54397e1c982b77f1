/* The jobs@1 table the miner and admin plugins call, plus the lists and stats behind it. Lists
 * use one index per filter (state, client or miner, each with seq) and keyset cursors; stats read
 * counters kept in the same transactions as the state changes, never the whole table. */
#include "client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cl_job_states[] = {"QUEUED",   "RUNNING", "COMPLETED", "FAILED",
                                     "CANCELED", "EXPIRED", NULL};

static int state_known(const char *s) {
    for (size_t i = 0; cl_job_states[i]; i++)
        if (strcmp(cl_job_states[i], s) == 0) return 1;
    return 0;
}

/* The rows of one page, read inside the list's transaction and turned into JSON after it. */
typedef struct list_rows {
    client_state *cs;
    cl_job *rows; /* limit of them */
    int n;
} list_rows;

/* For aitbc_page_collect (seq is column 0 of CL_JOB_COLS, the payload follows them): keeps the
 * row, adds no item yet. */
static cJSON *keep_row(aitbc_stmt *s, void *user) {
    list_rows *l = user;
    cl_job *j = &l->rows[l->n++];
    cl_job_read(l->cs, s, j);
    const char *payload = l->cs->api->col_text(s, CL_JOB_NCOLS);
    j->payload = strdup(payload ? payload : "{}");
    return NULL;
}

int cl_list(void *self, const char *state, const char *client, const char *miner, int64_t limit,
            const char *cursor, cJSON **out, aitbc_jobs_error *err) {
    client_state *cs = self;
    const aitbc_host_api *api = cs->api;
    *out = NULL;
    if (state && !state_known(state))
        return jc_fail(err, 400, "invalid_argument", "state", "unknown state");
    if (client && !aitbc_address_valid(client))
        return jc_fail(err, 400, "invalid_argument", "client", "must be an address");
    if (miner && !aitbc_address_valid(miner))
        return jc_fail(err, 400, "invalid_argument", "miner", "must be an address");
    char filters[256];
    snprintf(filters, sizeof filters, "state=%s&client=%s&miner=%s", state ? state : "",
             client ? client : "", miner ? miner : "");
    char tag[AITBC_CURSOR_TAG_LEN + 1];
    const char *tag_filters[] = {filters};
    aitbc_cursor_tag("jobs", tag_filters, 1, tag);
    int64_t before = INT64_MAX;
    if (cursor && aitbc_cursor_decode(cursor, tag, &before, NULL) != 0)
        return jc_fail(err, 400, "invalid_argument", "cursor",
                       "not a cursor of this list with these filters");
    /* The payload (Job has it) only for the rows of the page: filters never read payloads. Only
     * the filters given are in the text (each keeps its index usable), numbered in order: on
     * PostgreSQL every $n up to the highest must appear. */
    char sql[768];
    snprintf(sql, sizeof sql,
             "SELECT " CL_JOB_COLS ", (SELECT payload FROM client_payloads p WHERE "
             "p.seq = client_jobs.seq) FROM client_jobs WHERE seq < ?%s%s%s "
             "ORDER BY seq DESC LIMIT ?",
             state ? " AND state = ?" : "", client ? " AND client = ?" : "",
             miner ? " AND miner = ?" : "");
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return jc_fail(err, 503, "unavailable", NULL, "database busy");
    aitbc_stmt *s = api->stmt(t, sql);
    list_rows l = {cs, calloc((size_t)limit, sizeof(cl_job)), 0};
    if (!s || !l.rows) {
        if (s) api->stmt_done(s);
        api->txn_commit(t);
        free(l.rows);
        return jc_fail(err, 500, "internal", NULL, "internal error");
    }
    int param = 1;
    api->bind_int64(s, param++, before);
    if (state) api->bind_text(s, param++, state);
    if (client) api->bind_text(s, param++, client);
    if (miner) api->bind_text(s, param++, miner);
    api->bind_int64(s, param, limit + 1);
    /* A failed step is an error answer, never a short page with 200. */
    cJSON *res = aitbc_page_collect(api, s, (int)limit, 0, tag, keep_row, &l);
    api->txn_commit(t);
    /* Job JSON may ask miners@1 (its own transaction) for pending reasons: after ours closed. */
    cJSON *items = cJSON_GetObjectItemCaseSensitive(res, "items");
    for (int i = 0; i < l.n; i++) {
        if (items) cJSON_AddItemToArray(items, cl_job_json(cs, &l.rows[i], 1));
        cl_job_free(&l.rows[i]);
    }
    free(l.rows);
    if (!res) return jc_fail(err, 503, "unavailable", NULL, "database busy");
    *out = res;
    return 0;
}

static int l_stats(void *self, cJSON **out) {
    client_state *cs = self;
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    int64_t counts[6] = {0}, total = 0, dur_sum = 0, dur_n = 0, per_min = 0;
    aitbc_stmt *s = api->stmt(t, "SELECT name, n FROM client_counters");
    int rc = s ? 0 : AITBC_EIO;
    while (s && api->step(s) == AITBC_ROW) {
        const char *name = api->col_text(s, 0);
        int64_t v = api->col_int64(s, 1);
        for (size_t i = 0; name && cl_job_states[i]; i++)
            if (strcmp(name, cl_job_states[i]) == 0) {
                counts[i] = v;
                total += v;
            }
        if (name && strcmp(name, "dur_sum_ms") == 0) dur_sum = v;
        if (name && strcmp(name, "dur_n") == 0) dur_n = v;
    }
    if (s) api->stmt_done(s);
    s = api->stmt(t, CL_INDEXED(cs, "SELECT COUNT(*) FROM client_jobs", "client_jobs_completed",
                                "WHERE completed_ms >= ?1 AND state = 'COMPLETED'"));
    if (s) {
        api->bind_int64(s, 1, api->now_ms() - 60000);
        if (api->step(s) == AITBC_ROW) per_min = api->col_int64(s, 0);
        api->stmt_done(s);
    }
    api->txn_commit(t);
    if (rc != 0) return rc;
    cJSON *o = cJSON_CreateObject(), *jobs = cJSON_AddObjectToObject(o, "jobs");
    aitbc_json_add_i64(jobs, "total", total);
    for (size_t i = 0; cl_job_states[i]; i++)
        aitbc_json_add_i64(jobs, cl_job_states[i], counts[i]);
    aitbc_json_add_i64(o, "avg_job_duration_ms", dur_n ? dur_sum / dur_n : 0);
    aitbc_json_add_i64(o, "jobs_per_minute", per_min);
    *out = o;
    return 0;
}

static int l_miner_stats(void *self, const char *miner, int64_t *running, int64_t *completed,
                         int64_t *failed, int64_t *earned) {
    client_state *cs = self;
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    int64_t v[4] = {0, 0, 0, 0};
    int rc = AITBC_EIO;
    aitbc_stmt *s =
        api->stmt(t, CL_INDEXED(cs, "SELECT COUNT(*) FROM client_jobs", "client_jobs_running",
                                "WHERE miner = ?1 AND state = 'RUNNING'"));
    if (s) {
        api->bind_text(s, 1, miner);
        if (api->step(s) == AITBC_ROW) {
            v[0] = api->col_int64(s, 0);
            rc = 0;
        }
        api->stmt_done(s);
    }
    s = rc == 0 ? api->stmt(t, "SELECT completed, failed, earned FROM client_miner_stats "
                               "WHERE miner = ?1")
                : NULL;
    if (s) {
        api->bind_text(s, 1, miner);
        if (api->step(s) == AITBC_ROW)
            for (int i = 0; i < 3; i++)
                v[i + 1] = api->col_int64(s, i);
        api->stmt_done(s);
    }
    api->txn_commit(t);
    if (running) *running = v[0];
    if (completed) *completed = v[1];
    if (failed) *failed = v[2];
    if (earned) *earned = v[3];
    return rc;
}

/* One host: the count of its own moves into QUEUED. Several hosts on one database: the
 * generation row every host's move bumps in its transaction, so a poll that sampled it before
 * its dispatch sees work another host queued since (an unreadable row answers a value never
 * given before, so the poll re-checks rather than sleeps). */
static uint64_t l_queued_gen(void *self) {
    client_state *cs = self;
    if (!aitbc_store_shared(cs->api)) return atomic_load(&cs->queued_gen);
    int64_t n = 0;
    if (aitbc_gen_read(cs->api, NULL, CL_GEN_TABLE, CL_GEN_QUEUED, &n) == 0) return (uint64_t)n;
    return (UINT64_C(1) << 63) | atomic_fetch_add(&cs->queued_gen, 1);
}

void cl_service_init(client_state *cs) {
    aitbc_jobs_v1 *j = &cs->service;
    memset(j, 0, sizeof *j);
    j->size = (uint32_t)sizeof *j;
    j->self = cs;
    j->dispatch = cl_dispatch;
    j->complete = cl_complete;
    j->release_miner = cl_release_miner;
    j->sweep_leases = cl_sweep_leases;
    j->miner_stats = l_miner_stats;
    j->queued_gen = l_queued_gen;
    j->list = cl_list;
    j->stats = l_stats;
    j->progress = cl_progress;
}
