/* See compute_probe.h. */
#include <string.h>

#include <aitbc/util.h>
#include "compute_probe.h"

/* Like the miner agent: a job past ctl.deadline_ms must stop too. */
static int probe_should_stop(void *user) {
    compute_probe *p = user;
    return atomic_load(&p->stop) ||
           (p->ctl.deadline_ms > 0 && aitbc_now_ms() >= p->ctl.deadline_ms);
}

static int probe_progress(void *user, double fraction) {
    compute_probe *p = user;
    if (fraction < 0 || fraction > 1) p->out_of_range = 1;
    if (p->progress_calls > 0 && fraction < p->last_progress) p->went_backwards = 1;
    p->last_progress = fraction;
    p->progress_calls++;
    if (p->stop_at_progress > 0 && fraction >= p->stop_at_progress) atomic_store(&p->stop, 1);
    return probe_should_stop(p);
}

void compute_probe_init(compute_probe *p) {
    memset(p, 0, sizeof *p);
    p->ctl.size = sizeof p->ctl;
    p->ctl.user = p;
    p->ctl.progress = probe_progress;
    p->ctl.should_stop = probe_should_stop;
}

const char *compute_probe_code(const aitbc_compute_out *out) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out->error, "code"));
}

const char *compute_probe_message(const aitbc_compute_out *out) {
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out->error, "message"));
    return m ? m : "";
}

void compute_probe_out_reset(aitbc_compute_out *out) {
    cJSON_Delete(out->result);
    cJSON_Delete(out->error);
    memset(out, 0, sizeof *out);
}

const char *compute_probe_violation(int rc, const aitbc_compute_out *out) {
    if (rc == 0) {
        if (!cJSON_IsObject(out->result)) return "returned 0 without a result object";
        if (out->error) return "returned 0 with an error";
        if (out->units < 0 || !out->unit_type) return "returned 0 without units and unit_type";
        return NULL;
    }
    if (rc > 0) return "returned a positive code";
    if (out->result) return "failed but left a result";
    const char *code = compute_probe_code(out);
    if (!code || !code[0]) return "failed without error.code";
    if (strlen(compute_probe_message(out)) < 10) return "failed without a readable error.message";
    return NULL;
}
