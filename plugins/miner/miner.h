/* The miner plugin's state and shared functions: the miner registry (registry.c), registration
 * (register.c), heartbeat/poll/complete routes (routes.c) and the miners@1 service (service.c). */
#ifndef AITBC_MINER_MINER_H
#define AITBC_MINER_MINER_H

#include "jobs_core.h"
#include <aitbc/aitbc.h>
#include <aitbc/auth.h>
#include <aitbc/jobs.h>
#include <aitbc/ledger.h>
#include <pthread.h>

#define MN_RATE_SLOTS 256

typedef struct mn_rate {
    char ip[64];
    int64_t window_start_ms;
    int64_t count;
} mn_rate;

typedef struct miner_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    const aitbc_jobs_v1 *jobs;
    const aitbc_auth_v1 *auth;
    const aitbc_ledger_v1 *ledger;
    int64_t heartbeat_s, lease_s, max_attempts, sweep_ms, rate_per_min;
    int open_registration;
    char enrolment_token[256];
    aitbc_miners_v1 service;
    aitbc_metrics_v1 metrics; /* metrics:miner@1 (metrics.c) */
    aitbc_timer *timer;
    pthread_mutex_t rate_mu;
    mn_rate rates[MN_RATE_SLOTS];
} miner_state;

/** The one instance (long-poll retries get only an integer user value). */
extern miner_state *g_miner;

/** One miner row. capabilities is parsed (cJSON, owned); mn_row_free. */
typedef struct mn_row {
    int64_t seq;
    char address[48], public_key[65], status[16], unit_type[33];
    cJSON *capabilities;
    char *metrics;
    int64_t concurrency, unit_price, last_heartbeat_ms, registered_ms, last_register_ts;
    int64_t heartbeats;
} mn_row;

#define MN_ROW_COLS                                                                                \
    "seq, address, public_key, status, unit_type, capabilities, metrics, concurrency, "            \
    "unit_price, last_heartbeat_ms, registered_ms, last_register_ts, heartbeats"

/* registry.c */
void mn_row_free(mn_row *r);
void mn_row_read(miner_state *ms, aitbc_stmt *s, mn_row *r);
/** 1 found, 0 not, <0 error. t may be NULL (own read transaction). */
int mn_load(miner_state *ms, aitbc_txn *t, const char *address, mn_row *r);
int mn_upsert(miner_state *ms, aitbc_txn *t, const mn_row *r);
/** Delete the row, revoke the miner's keys and requeue its jobs. 1 deleted, 0 unknown. */
int mn_deregister(miner_state *ms, const char *address);
/** Admin/GET view of a miner (with counters from jobs@1). */
cJSON *mn_row_json(miner_state *ms, const mn_row *r, int with_earnings);
/** Fill a dispatch profile borrowing from r. */
void mn_profile(const mn_row *r, aitbc_jobs_miner *m);
/** Timer: silent miners go OFFLINE (jobs requeued), lapsed leases requeue, stale never-seen
 *  miners are pruned. */
void mn_tick(void *arg);
/** Bus subscriber on job_updates: tell the least-loaded fitting miner to poll (job_assigned). */
void mn_on_job_update(const char *topic, uint64_t seq, const cJSON *data, void *user);

/* register.c */
void mn_h_register(aitbc_request *req, void *user);

/* routes.c */
int mn_routes_register(miner_state *ms);

/* service.c */
void mn_service_init(miner_state *ms);
/* metrics.c */
void mn_metrics_init(miner_state *ms);

#endif
