/* "metrics:miner@1": miners by status for GET /metrics. Cost per scrape: mn_count_by_status, one
 * pass over the index miner_miners_status (status, seq), no table rows read. */
#include "miner.h"

static void collect(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    miner_state *ms = self;
    /* Every status is reported, 0 included, so "no miner ONLINE" is a series an alert can see. */
    int64_t counts[MN_NSTATUS];
    if (mn_count_by_status(ms, counts) != 0 ||
        w->family(out, "aitbc_miners", AITBC_METRIC_GAUGE, "Registered miners by status.") != 0)
        return;
    for (size_t i = 0; i < MN_NSTATUS; i++) {
        aitbc_metric_label l = {"status", mn_statuses[i]};
        w->sample(out, &l, 1, (double)counts[i]);
    }
}

void mn_metrics_init(miner_state *ms) {
    ms->metrics = (aitbc_metrics_v1){.size = sizeof ms->metrics, .self = ms, .collect = collect};
}
