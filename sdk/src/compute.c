/* Small helpers every compute@1 backend needs: one way to report a failure, one stop check. */
#include "aitbc/compute.h"
#include "aitbc/errors.h"
#include "aitbc/util.h"

#include <stdarg.h>
#include <stdio.h>

int aitbc_compute_fail(aitbc_compute_out *out, int rc, int retryable, const char *code,
                       const char *fmt, ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    cJSON_Delete(out->result);
    out->result = NULL;
    cJSON_Delete(out->error);
    out->error = cJSON_CreateObject();
    if (out->error) {
        cJSON_AddStringToObject(out->error, "code", code);
        cJSON_AddStringToObject(out->error, "message", message);
    }
    out->retryable = retryable;
    return rc < 0 ? rc : AITBC_EINVAL;
}

int aitbc_compute_stopping(const aitbc_compute_ctl *ctl) {
    if (!ctl) return 0;
    if (ctl->should_stop && ctl->should_stop(ctl->user)) return 1;
    return ctl->deadline_ms > 0 && aitbc_now_ms() >= ctl->deadline_ms;
}

int64_t aitbc_compute_deadline(const aitbc_compute_ctl *ctl, int64_t started_ms, int64_t limit_ms) {
    int64_t deadline = started_ms + limit_ms;
    if (ctl && ctl->deadline_ms > 0 && ctl->deadline_ms < deadline) deadline = ctl->deadline_ms;
    return deadline;
}
