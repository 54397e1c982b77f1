/* "metrics:client@1": the jobs series of GET /metrics. Cost per scrape: one read of the few
 * client_counters rows (kept by every state change), the QUEUED and RUNNING jobs counted per type
 * (their partial indexes: the queue, and the running jobs bounded by miner slots) and the oldest
 * queued job (first entry of the state index). No scan of finished jobs. */
#include "client.h"
#include <stdio.h>
#include <string.h>

#define TYPES_MAX 32 /* job types are client-chosen: more than this go under type="other" */

typedef struct counters {
    int64_t by_state[8];
    int64_t assigned, completed, lost_expired, lost_offline;
} counters;

static int read_counters(client_state *cs, aitbc_txn *t, counters *c) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT name, n FROM client_counters");
    if (!s) return AITBC_EIO;
    while (api->step(s) == AITBC_ROW) {
        const char *name = api->col_text(s, 0);
        int64_t v = api->col_int64(s, 1);
        if (!name) continue;
        for (size_t i = 0; cl_job_states[i] && i < 8; i++)
            if (strcmp(name, cl_job_states[i]) == 0) c->by_state[i] = v;
        if (strcmp(name, "assigned") == 0) c->assigned = v;
        if (strcmp(name, "dur_n") == 0) c->completed = v; /* one per completion */
        if (strcmp(name, "lost:lease_expired") == 0) c->lost_expired = v;
        if (strcmp(name, "lost:miner_offline") == 0) c->lost_offline = v;
    }
    api->stmt_done(s);
    return 0;
}

static void active_by_type(client_state *cs, aitbc_txn *t, const char *state,
                           const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    const aitbc_host_api *api = cs->api;
    /* Named partial indexes (the planner would take client_jobs_state): the queue walks
     * client_jobs_queue, the running jobs client_jobs_running; both hold only live jobs. */
    aitbc_stmt *s = api->stmt(
        t, strcmp(state, "QUEUED") == 0
               ? CL_INDEXED(cs, "SELECT job_type, COUNT(*) FROM client_jobs", "client_jobs_queue",
                            "WHERE state = 'QUEUED' GROUP BY job_type ORDER BY 2 DESC, 1")
               : CL_INDEXED(cs, "SELECT job_type, COUNT(*) FROM client_jobs", "client_jobs_running",
                            "WHERE state = 'RUNNING' GROUP BY job_type ORDER BY 2 DESC, 1"));
    if (!s) return;
    int64_t other = 0;
    int n = 0;
    while (api->step(s) == AITBC_ROW) {
        const char *type = api->col_text(s, 0);
        int64_t count = api->col_int64(s, 1);
        if (n++ >= TYPES_MAX || !type) {
            other += count;
            continue;
        }
        aitbc_metric_label l[2] = {{"state", state}, {"type", type}};
        w->sample(out, l, 2, (double)count);
    }
    api->stmt_done(s);
    if (other) {
        aitbc_metric_label l[2] = {{"state", state}, {"type", "other"}};
        w->sample(out, l, 2, (double)other);
    }
}

static double oldest_queued_age_s(client_state *cs, aitbc_txn *t) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT created_ms FROM client_jobs WHERE state = 'QUEUED' "
                                 "ORDER BY seq LIMIT 1");
    int64_t created = -1;
    if (s && api->step(s) == AITBC_ROW) created = api->col_int64(s, 0);
    if (s) api->stmt_done(s);
    int64_t now = api->now_ms();
    return created >= 0 && now > created ? (double)(now - created) / 1e3 : 0.0;
}

static void collect(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    client_state *cs = self;
    aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_READ);
    if (!t) return;
    counters c = {0};
    if (read_counters(cs, t, &c) != 0) {
        cs->api->txn_commit(t);
        return;
    }
    if (w->family(out, "aitbc_jobs", AITBC_METRIC_GAUGE,
                  "Jobs by state (QUEUED is the queue depth; finished states only grow).") == 0)
        for (size_t i = 0; cl_job_states[i] && i < 8; i++) {
            aitbc_metric_label l = {"state", cl_job_states[i]};
            w->sample(out, &l, 1, (double)c.by_state[i]);
        }
    if (w->family(out, "aitbc_jobs_active", AITBC_METRIC_GAUGE,
                  "Queued and running jobs by job type.") == 0) {
        active_by_type(cs, t, "QUEUED", w, out);
        active_by_type(cs, t, "RUNNING", w, out);
    }
    aitbc_metric_one(w, out, "aitbc_jobs_oldest_queued_age_seconds", AITBC_METRIC_GAUGE,
                     "Age of the oldest queued job (0 when the queue is empty).",
                     oldest_queued_age_s(cs, t));
    cs->api->txn_commit(t);
    aitbc_metric_one(w, out, "aitbc_jobs_assigned_total", AITBC_METRIC_COUNTER,
                     "Job assignments to miners (a requeued job counts again).",
                     (double)c.assigned);
    aitbc_metric_one(w, out, "aitbc_jobs_completed_total", AITBC_METRIC_COUNTER,
                     "Jobs a miner completed.", (double)c.completed);
    if (w->family(out, "aitbc_jobs_leases_lost_total", AITBC_METRIC_COUNTER,
                  "Running jobs taken back from their miner, by reason.") == 0) {
        aitbc_metric_label l = {"reason", "lease_expired"};
        w->sample(out, &l, 1, (double)c.lost_expired);
        l.value = "miner_offline";
        w->sample(out, &l, 1, (double)c.lost_offline);
    }
}

void cl_metrics_init(client_state *cs) {
    cs->metrics = (aitbc_metrics_v1){.size = sizeof cs->metrics, .self = cs, .collect = collect};
}
