/* The jobs@1 service (client plugin: jobs tables, state machine, payment, receipts) and the
 * miners@1 service (miner plugin: miner registry). Internal to the job plugins (client, miner,
 * admin) but public so other plugins (e.g. a marketplace) can build on them. Every call runs its
 * own write transaction: do not call them with a transaction of your own open on the thread. */
#ifndef AITBC_JOBS_H
#define AITBC_JOBS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AITBC_JOBS_SERVICE "jobs@1"
#define AITBC_MINERS_SERVICE "miners@1"
/* Bus topics: the client plugin (jobs@1) owns job_updates, the miner plugin (miners@1) the other
 * two; only the owner publishes on them. */
#define AITBC_TOPIC_JOB_UPDATES "job_updates"
#define AITBC_TOPIC_JOB_ASSIGNED "job_assigned"
#define AITBC_TOPIC_MINER_HEARTBEATS "miner_heartbeats"
/** Wake key the jobs service wakes after a job becomes QUEUED. The miner plugin's long-polls park
 *  on per-miner keys instead and are woken one per queued job (plugins/miner/wake.c). */
#define AITBC_JOBS_WAKE_QUEUED "jobs:queued"
/** dispatch flags */
#define AITBC_JOBS_CLAIM 1u /**< assign queued jobs to free slots */
#define AITBC_JOBS_NO_RENEW                                                                        \
    2u /**< leave leases alone (a long-poll retry: the poll renewed them)                          \
        */

/** A miner as dispatch sees it. Strings borrowed for the call. */
typedef struct aitbc_jobs_miner {
    const char *address;
    int draining;              /**< nonzero: gets no new jobs */
    const cJSON *capabilities; /**< {gpus:[{name,memory_mb}], models:[], job_types:[], region} */
    int64_t unit_price;        /**< AIT base units per unit */
    const char *unit_type;     /**< "token", "job", ... */
    int64_t concurrency;       /**< slots */
} aitbc_jobs_miner;

/** An HTTP-shaped failure a service call reports (status 0 = none). */
typedef struct aitbc_jobs_error {
    unsigned status;
    char code[32];
    char field[64];
    char message[160];
} aitbc_jobs_error;

/**
 * jobs@1 and miners@1 calls run on the caller's thread (an HTTP handler, a timer, a worker) and
 * may block on the database; they are thread-safe. Pointer arguments are borrowed for the call.
 * Every cJSON ** out-parameter is set only on success, to a new object the CALLER FREES
 * (cJSON_Delete); strings returned as const char * are static.
 */
typedef struct aitbc_jobs_v1 {
    uint32_t size; /**< sizeof(aitbc_jobs_v1) of the provider */
    void *self;
    /** Heartbeat/poll core, in one transaction: renew the leases of m's RUNNING jobs (unless
     *  flags has AITBC_JOBS_NO_RENEW); when running (array of job ids) is non-NULL, re-send
     *  RUNNING jobs missing from it and list in "cancel" the ones m must drop; with
     *  AITBC_JOBS_CLAIM, assign QUEUED jobs (oldest first) to the free slots with a lease of
     *  lease_ms. *answer (caller frees) = {"jobs":[AssignedJob…],"cancel":[id…]}; *assigned =
     *  new assignments. A NO_RENEW call with nothing to assign takes no write lock. */
    int (*dispatch)(void *self, const aitbc_jobs_miner *m, const cJSON *running, int flags,
                    int64_t lease_ms, cJSON **answer, int *assigned);
    /** Completion by miner (body as API.md). 0 and *answer (200 body, caller frees) or an error
     *  in *err. */
    int (*complete)(void *self, const char *job_id, const char *miner, const char *miner_pubkey_hex,
                    const cJSON *body, int max_attempts, cJSON **answer, aitbc_jobs_error *err);
    /** Requeue (FAILED past max_attempts) every RUNNING job of miner assigned before
     *  assigned_before_ms (a miner back from silence keeps what it was just given; INT64_MAX for
     *  all). Returns how many. */
    int (*release_miner)(void *self, const char *miner, int max_attempts,
                         int64_t assigned_before_ms);
    /** Same for RUNNING jobs whose lease lapsed. Returns how many. */
    int (*sweep_leases)(void *self, int max_attempts);
    /** A miner's counters (any pointer may be NULL). */
    int (*miner_stats)(void *self, const char *miner, int64_t *running, int64_t *completed,
                       int64_t *failed, int64_t *earned);
    /** Rises every time a job becomes QUEUED (closes the check-then-park race of long-polls).
     *  On a database several hosts share it is read from the database, so it also rises for
     *  jobs another host queued. */
    uint64_t (*queued_gen)(void *self);
    /** Jobs newest first; NULL filters are absent. *out (caller frees) =
     *  {"items":[Job…],"next_cursor"}. */
    int (*list)(void *self, const char *state, const char *client, const char *miner, int64_t limit,
                const char *cursor, cJSON **out, aitbc_jobs_error *err);
    /** *out (caller frees) = {"jobs":{total,QUEUED,…},"avg_job_duration_ms","jobs_per_minute"}
     *  from counters. */
    int (*stats)(void *self, cJSON **out);
    /** Progress report by miner for its running attempt (body {"attempt","progress":0..1}).
     *  0 and *answer ({"job_id","attempt","progress"}, caller frees), or an error in *err; a 429
     * sets *retry_after_s. Check size before calling: providers older than this member lack it. */
    int (*progress)(void *self, const char *job_id, const char *miner, const cJSON *body,
                    cJSON **answer, int64_t *retry_after_s, aitbc_jobs_error *err);
} aitbc_jobs_v1;

typedef struct aitbc_miners_v1 {
    uint32_t size;
    void *self;
    /** Why a QUEUED job waits: "no_miner_online", "no_matching_miner", "price_too_low" or
     *  "queued". Static string. */
    const char *(*pending_reason)(void *self, const char *job_type, const cJSON *constraints,
                                  int64_t max_price);
    /** Miners newest first. *out (caller frees) = {"items":[…],"next_cursor"}. */
    int (*list)(void *self, const char *status, int64_t limit, const char *cursor, cJSON **out,
                aitbc_jobs_error *err);
    /** Registry counts (out-parameters are the caller's). */
    int (*counts)(void *self, int64_t *total, int64_t *online, int64_t *offline);
    /** One miner's registry status: "ONLINE", "DRAINING" or "OFFLINE" (static strings), NULL
     *  when it is not registered. capabilities (may be NULL) receives a copy of what it
     *  registered (caller frees; NULL when unregistered). *err (may be NULL) gets 0 or a
     *  negative AITBC_E* when the registry could not be read. One indexed read: no paging.
     *  Check size before calling: providers older than this member lack it. */
    const char *(*status)(void *self, const char *address, cJSON **capabilities, int *err);
} aitbc_miners_v1;

#ifdef __cplusplus
}
#endif

#endif
