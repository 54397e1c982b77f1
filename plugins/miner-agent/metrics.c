/* "metrics:miner-agent@1": a miner node's own series for GET /metrics. Cost per scrape: the slots
 * counted under the agent's lock and one read of the spool directory (results the coordinator
 * has not acknowledged: few, unless it is unreachable). */
#include "miner_agent.h"

static void collect(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    ma_agent *a = self;
    pthread_mutex_lock(&a->mu);
    int running = ma_jobs_running_locked(a), registered = a->registered;
    pthread_mutex_unlock(&a->mu);
    aitbc_metric_one(w, out, "aitbc_miner_agent_slots", AITBC_METRIC_GAUGE,
                     "Jobs this miner runs at once (miner-agent.concurrency).",
                     (double)a->cfg.concurrency);
    aitbc_metric_one(w, out, "aitbc_miner_agent_jobs_running", AITBC_METRIC_GAUGE,
                     "Jobs running on this miner now.", (double)running);
    if (w->family(out, "aitbc_miner_agent_jobs_finished_total", AITBC_METRIC_COUNTER,
                  "Job attempts this miner finished and reported, by outcome.") == 0) {
        aitbc_metric_label l = {"outcome", "ok"};
        w->sample(out, &l, 1, (double)atomic_load(&a->jobs_ok));
        l.value = "failed";
        w->sample(out, &l, 1, (double)atomic_load(&a->jobs_failed));
    }
    aitbc_metric_one(w, out, "aitbc_miner_agent_spooled_results", AITBC_METRIC_GAUGE,
                     "Finished results kept until the coordinator acknowledges them.",
                     (double)ma_spool_count(a));
    aitbc_metric_one(w, out, "aitbc_miner_agent_registered", AITBC_METRIC_GAUGE,
                     "1 while the miner holds a coordinator API key it believes valid.",
                     (double)registered);
    aitbc_metric_one(w, out, "aitbc_miner_agent_coordinator_up", AITBC_METRIC_GAUGE,
                     "0 when the last exchange with the coordinator failed.",
                     atomic_load(&a->failing) ? 0.0 : 1.0);
    aitbc_metric_one(w, out, "aitbc_miner_agent_draining", AITBC_METRIC_GAUGE,
                     "1 once SIGTERM started the drain.", atomic_load(&a->draining) ? 1.0 : 0.0);
}

void ma_metrics_init(ma_agent *a) {
    a->metrics = (aitbc_metrics_v1){.size = sizeof a->metrics, .self = a, .collect = collect};
}
