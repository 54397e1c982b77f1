/* The progress sender: backends report progress through compute@1's callback as often as they
 * like; this thread forwards a job's progress to POST /v1/jobs/{job_id}/progress at most once per
 * progress_interval_ms, and only when it rose. Progress is advisory: a coordinator without the
 * route (404) or any other failure costs nothing but a log line at debug level. 409 lease_lost
 * means the attempt is no longer ours: the job stops as if canceled. */
#include "miner_agent.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRESS_TIMEOUT_MS 5000

static void send_one(ma_agent *a, ma_http *h, const char *job_id, int64_t attempt, double p) {
    char path[AITBC_ID_MAX + 32], body[96], key[AITBC_API_KEY_MAX];
    snprintf(path, sizeof path, "/v1/jobs/%s/progress", job_id);
    snprintf(body, sizeof body, "{\"attempt\":%" PRId64 ",\"progress\":%.3f}", attempt,
             floor(p * 1000) / 1000);
    ma_api_key(a, key);
    ma_resp r;
    int64_t timeout = (int64_t)a->cfg.request_timeout_s * 1000;
    ma_http_post(h, path, key, body, timeout < PROGRESS_TIMEOUT_MS ? timeout : PROGRESS_TIMEOUT_MS,
                 &a->quit, &r);
    if (r.status == 409 && strcmp(ma_resp_code(&r), "lease_lost") == 0) {
        a->api->log(a->ctx, AITBC_LOG_WARN, "job %s attempt %" PRId64 ": lease lost; stopping it",
                    job_id, attempt);
        ma_jobs_cancel(a, job_id);
    } else if (r.status == 401) {
        ma_key_rejected(a, key);
    } else if (r.status != 200) {
        a->api->log(a->ctx, AITBC_LOG_DEBUG, "progress of %s not forwarded: %ld %s%s", job_id,
                    r.status, r.status ? ma_resp_code(&r) : "", r.status ? "" : r.error);
    }
    ma_resp_free(&r);
}

static void *progress_main(void *arg) {
    ma_agent *a = arg;
    ma_http *h = ma_http_new(a);
    while (h && !atomic_load(&a->quit)) {
        ma_nap(a, a->cfg.progress_interval_ms);
        for (int i = 0; i < a->cfg.concurrency && !atomic_load(&a->quit); i++) {
            char job_id[AITBC_ID_MAX];
            int64_t attempt;
            double p;
            if (ma_job_progress_due(a, (size_t)i, job_id, &attempt, &p))
                send_one(a, h, job_id, attempt, p);
        }
    }
    ma_http_free(h);
    return NULL;
}

int ma_progress_start(ma_agent *a) {
    if (pthread_create(&a->progress_thread, NULL, progress_main, a) != 0) return AITBC_ENOMEM;
    a->progress_live = 1;
    return 0;
}
