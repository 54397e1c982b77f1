/* The compute@1 service: a backend that runs one or more job types on a miner node.
 *
 * Each backend registers its table from init as "compute:<plugin name>@1" and lists that name in
 * its descriptor's provides[]. The miner agent finds every backend with
 * api->service_names(AITBC_COMPUTE_PREFIX, ...), advertises the union of their job types and
 * models, and runs each job on the backend whose job_types() lists payload.type. */
#ifndef AITBC_COMPUTE_H
#define AITBC_COMPUTE_H

#include <stdint.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Prefix of every compute backend's service name: "compute:<plugin>@1". */
#define AITBC_COMPUTE_PREFIX "compute:"
/** The uses[] entry of a plugin that looks up every compute backend. */
#define AITBC_COMPUTE_ANY "compute:*@1"

/** How a running job talks back to the agent. Borrowed for the duration of run(). Its callbacks
 *  are thread-safe and never block: call them from run()'s thread or any thread run() starts
 *  (and joins before returning), never after run() returned. */
typedef struct aitbc_compute_ctl {
    uint32_t size; /**< sizeof(aitbc_compute_ctl) as the agent was built */
    void *user;    /**< pass back to the callbacks */
    /** Report progress in [0, 1]. Cheap; call as often as convenient (the agent rate-limits what it
     *  forwards). Returns nonzero when the job must stop (canceled, lease lost, drain grace over).
     */
    int (*progress)(void *user, double fraction);
    /** Nonzero when the job must stop. Cheap; poll it in long loops. */
    int (*should_stop)(void *user);
    /** Wall-clock ms (api->now_ms clock) at which the job must have stopped, 0 = none. */
    int64_t deadline_ms;
} aitbc_compute_ctl;

/** What run() produces. Zeroed by the agent before the call. */
typedef struct aitbc_compute_out {
    /** On success: the result object. Caller (the agent) frees with cJSON_Delete. */
    cJSON *result;
    /** On success: billable units (>= 0) and their type, a static string ("token", "job"). */
    int64_t units;
    const char *unit_type;
    /** On failure: {"code":"snake_case","message":"human sentence"}. Caller frees. */
    cJSON *error;
    /** On failure: nonzero if another attempt (maybe on another miner) could succeed. */
    int retryable;
} aitbc_compute_out;

typedef struct aitbc_compute_v1 {
    uint32_t size; /**< sizeof(aitbc_compute_v1) as the backend was built */
    void *self;
    /** NULL-terminated job types this backend runs ("ocr"). Borrowed for the plugin's life.
     *  Thread: any. Must not block. */
    const char *const *(*job_types)(void *self);
    /** Models this backend serves now, as a JSON array of strings (maybe empty), or NULL.
     *  Caller frees. Thread: the agent's own thread; may block briefly (e.g. ask a local server).
     */
    cJSON *(*models)(void *self);
    /** Run one job. payload is borrowed (payload.type is one of job_types()). Thread: one of the
     *  agent's job threads, never an HTTP, bus or worker-pool thread; may block for the whole job,
     *  and several jobs may run at once (keep shared state locked). Payload is hostile input: a bad
     *  one is a failure with error {"code":"invalid_payload",...}, never a crash.
     *  @return 0 with out->result set, or a negative AITBC_E* code with out->error set. */
    int (*run)(void *self, const cJSON *payload, const aitbc_compute_ctl *ctl,
               aitbc_compute_out *out);
} aitbc_compute_v1;

/** Helper for backends: fill out->error with {"code","message"} (message printf-style) and
 *  out->retryable, drop any half-built out->result, and return rc (a negative AITBC_E* code), so
 *  a failure path is one line: `return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
 *  "lang must be a string");`. In libaitbc_sdk. */
int aitbc_compute_fail(aitbc_compute_out *out, int rc, int retryable, const char *code,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** Helper for backends: the wall-clock ms (aitbc_now_ms clock) by which a job started at
 *  started_ms must end: started_ms + limit_ms, or ctl->deadline_ms when that is earlier. */
int64_t aitbc_compute_deadline(const aitbc_compute_ctl *ctl, int64_t started_ms, int64_t limit_ms);

/** Helper for backends: nonzero when the job must stop now, because ctl->should_stop says so or
 *  ctl->deadline_ms (if set) has passed on the aitbc_now_ms() clock. ctl may be NULL. */
int aitbc_compute_stopping(const aitbc_compute_ctl *ctl);

#ifdef __cplusplus
}
#endif

#endif
