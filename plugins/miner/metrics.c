/* "metrics:miner@1": miners by status for GET /metrics. Cost per scrape: one pass over the
 * index miner_miners_status (status, seq), no table rows read. */
#include <string.h>
#include "miner.h"

static void collect(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    miner_state *ms = self;
    const aitbc_host_api *api = ms->api;
    /* Every status is reported, 0 included, so "no miner ONLINE" is a series an alert can see. */
    static const char *const statuses[] = {"ONLINE", "DRAINING", "OFFLINE"};
    int64_t counts[3] = {0, 0, 0};
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return;
    aitbc_stmt *s = api->stmt(t, "SELECT status, COUNT(*) FROM miner_miners GROUP BY status");
    while (s && api->step(s) == AITBC_ROW) {
        const char *status = api->col_text(s, 0);
        for (size_t i = 0; status && i < 3; i++)
            if (strcmp(status, statuses[i]) == 0) counts[i] = api->col_int64(s, 1);
    }
    if (s) api->stmt_done(s);
    api->txn_commit(t);
    if (!s ||
        w->family(out, "aitbc_miners", AITBC_METRIC_GAUGE, "Registered miners by status.") != 0)
        return;
    for (size_t i = 0; i < 3; i++) {
        aitbc_metric_label l = {"status", statuses[i]};
        w->sample(out, &l, 1, (double)counts[i]);
    }
}

void mn_metrics_init(miner_state *ms) {
    ms->metrics = (aitbc_metrics_v1){.size = sizeof ms->metrics, .self = ms, .collect = collect};
}
