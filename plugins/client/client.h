/* The client plugin's shared state and the functions its files share: the jobs table (store.c),
 * state changes with their money (transitions.c), dispatch (dispatch.c), completion and progress
 * (complete.c, progress.c), the jobs@1 table (service.c) and HTTP routes (routes.c). */
#ifndef AITBC_CLIENT_CLIENT_H
#define AITBC_CLIENT_CLIENT_H

#include "jobs_core.h"
#include <aitbc/aitbc.h>
#include <aitbc/jobs.h>
#include <aitbc/ledger.h>
#include <aitbc/marketplace.h>
#include <stdatomic.h>

typedef struct client_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    const aitbc_ledger_v1 *ledger;
    const aitbc_miners_v1 *_Atomic miners;      /* looked up on first use (miner plugin optional) */
    const aitbc_marketplace_v1 *_Atomic market; /* same, marketplace plugin (trade_id jobs) */
    int64_t fee_bps;
    char treasury[48];
    int64_t sweep_ms;
    jc_key key;
    char key_path[4096];
    aitbc_jobs_v1 service;
    aitbc_metrics_v1 metrics;
    aitbc_timer *timer;
    atomic_int ttl_queued;        /* the TTL sweep waits for the writer: do not queue another */
    _Atomic uint64_t queued_gen;  /* one host's: moves into QUEUED it made (service.c) */
    int64_t progress_interval_ms; /* least time between two accepted progress reports of a job */
    int64_t max_queued_jobs;      /* per account: QUEUED jobs at most (submit answers 429 past) */
    int64_t max_queued_bytes;     /* per account: payload bytes of its QUEUED jobs at most */
    int pg; /* the host stores in PostgreSQL: no INDEXED BY hints (README, "Storage") */
} client_state;

/** SQL naming one of client_jobs' partial indexes for SQLite's planner (it has no statistics and
 *  would take client_jobs_state and sort); PostgreSQL plans these itself. */
#define CL_INDEXED(cs, head, index, tail) AITBC_SQL_INDEXED_BY((cs)->pg, head, index, tail)

/** The one instance (retry callbacks of long-polls get only an integer user value). */
extern client_state *g_client;

/** One row of client_jobs. Text members are malloc'd (NULL = SQL NULL); cl_job_free.
 *  The payload lives in client_payloads (up to 16 MiB: every scan of live jobs would read it
 *  otherwise): NULL after cl_job_read / cl_job_load until cl_job_payload fetches it. */
typedef struct cl_job {
    int64_t seq;
    char job_id[AITBC_ID_MAX], client[48], state[16], job_type[JC_TYPE_MAX], miner[48];
    char payment[16], unit_type[32];
    char *payload, *constraints, *result, *error, *receipt, *miner_sig;
    int64_t payload_bytes; /* strlen of the canonical payload, for the per-account limit */
    int64_t max_price, unit_price, price, units; /* -1 = null */
    int64_t attempt, lease_ms, created_ms, assigned_ms, started_ms, completed_ms, expires_ms;
    int64_t progress_ppm;        /* millionths of the work done (-1 = null: never reported) */
    int64_t progress_ms;         /* when the last progress report was taken (-1 = never) */
    char trade_id[AITBC_ID_MAX]; /* constraints.trade_id, "" for untraded work */
    char seller[48];             /* the trade's seller: the only miner that may run the job */
} cl_job;

/** Events gathered inside a transaction and sent only after it committed. */
typedef struct cl_events {
    cJSON *jobs; /* array of Job snapshots for job_updates (and wake keys), lazily made */
    int queued;  /* some job became QUEUED: wake long-polling miners */
} cl_events;

/* store.c */
/** Runs the client's migrations (from init). 0 or the host's error. */
int cl_store_migrate(client_state *cs);
/* Every column of client_jobs, without the payload (client_payloads); CL_JOB_NCOLS of them. */
#define CL_JOB_COLS                                                                                \
    "seq, job_id, client, state, job_type, miner, payment, unit_type, constraints, "               \
    "result, error, receipt, miner_sig, max_price, unit_price, price, units, attempt, lease_ms, "  \
    "created_ms, assigned_ms, started_ms, completed_ms, expires_ms, progress_ppm, progress_ms, "   \
    "trade_id, seller, payload_bytes"
#define CL_JOB_NCOLS 29
void cl_job_free(cl_job *j);
/** Fill j from a statement selecting CL_JOB_COLS (payload stays NULL). */
void cl_job_read(client_state *cs, aitbc_stmt *s, cl_job *j);
/** 1 found, 0 not found, <0 error. Without the payload. */
int cl_job_load(client_state *cs, aitbc_txn *t, const char *job_id, cl_job *j);
/** Fetch j's payload into j->payload (no-op when it is there already). 0 or <0. */
int cl_job_payload(client_state *cs, aitbc_txn *t, cl_job *j);
/** Insert the row and its payload (j->payload, required). */
int cl_job_insert(client_state *cs, aitbc_txn *t, const cl_job *j);
/** Write every mutable column of j back. */
int cl_job_save(client_state *cs, aitbc_txn *t, const cl_job *j);
/** Job as API.md shows it; pending_reason asked of miners@1 when with_reason. */
cJSON *cl_job_json(client_state *cs, const cl_job *j, int with_reason);
/** The same Job (with pending_reason) for an HTTP answer: its stored JSON texts are raw items,
 *  not trees, so only aitbc_json_print can write it (never canonicalise or inspect it). */
cJSON *cl_job_answer(client_state *cs, const cl_job *j);
/** AssignedJob for a miner (fetches the payload inside t first). NULL on error. */
cJSON *cl_assigned_json(client_state *cs, aitbc_txn *t, cl_job *j);
int cl_counter_add(client_state *cs, aitbc_txn *t, const char *name, int64_t delta);
/** The per-account QUEUED totals (jobs, payload bytes) behind the submit limit: add a move into
 *  (+) or out of (-) QUEUED, in the transaction that makes it. A move into QUEUED also bumps the
 *  queued generation when the database is shared. */
int cl_queued_add(client_state *cs, aitbc_txn *t, const char *client, int64_t jobs, int64_t bytes);
/** The generation row bumped by every move into QUEUED when the database is shared. */
#define CL_GEN_TABLE "client_gen"
#define CL_GEN_QUEUED "queued"
/** Read them (0, 0 for an account with none). */
int cl_queued_get(client_state *cs, aitbc_txn *t, const char *client, int64_t *jobs,
                  int64_t *bytes);
int cl_miner_stat_add(client_state *cs, aitbc_txn *t, const char *miner, int64_t completed,
                      int64_t failed, int64_t earned);
const aitbc_miners_v1 *cl_miners(client_state *cs);
/** marketplace@1 with trade_use, or NULL when the marketplace is not loaded. */
const aitbc_marketplace_v1 *cl_market(client_state *cs);

/* trade_jobs.c: jobs that run on a marketplace trade */
/** Submit side: resolve constraints.trade_id for client. 0 with j->trade_id/seller set, or -1
 *  with the error (404 unknown or someone else's, 409 ended) in err. */
int cl_trade_bind(client_state *cs, const char *trade_id, const char *client, cl_job *j,
                  aitbc_jobs_error *err);
/** RUNNING jobs of a trade (inside t, or a read transaction of its own when t is NULL). */
int64_t cl_trade_running(client_state *cs, aitbc_txn *t, const char *trade_id);
/** Why a QUEUED trade job waits: "trade_capacity", "trade_paused", "trade_ended" or "queued". */
const char *cl_trade_reason(client_state *cs, const cl_job *j);

/* transitions.c: each changes j in memory and in the row, moves money, records an event. */
void cl_events_note(client_state *cs, cl_events *ev, const cl_job *j);
/** The event of j from o, j's JSON as cl_job_json built it (with or without the payload, which
 *  events never carry): takes o. */
void cl_events_take(cl_events *ev, const cl_job *j, cJSON *o);
void cl_events_flush(client_state *cs, cl_events *ev);
void cl_events_drop(cl_events *ev);
int cl_set_state(client_state *cs, aitbc_txn *t, cl_job *j, const char *state, cl_events *ev);
/** FAILED / CANCELED / EXPIRED with a full refund; error_json may be NULL. */
int cl_end_refund(client_state *cs, aitbc_txn *t, cl_job *j, const char *state,
                  const cJSON *error_json, cl_events *ev);
/** RUNNING → QUEUED (lease lost, miner gone, retryable failure) or FAILED past max_attempts. */
int cl_requeue_or_fail(client_state *cs, aitbc_txn *t, cl_job *j, int max_attempts, const char *why,
                       cl_events *ev);
/** RUNNING → COMPLETED with payment; result/units/miner_sig already set on j. The receipt names
 *  miner_pk (hex), so anyone can check miner_sig offline. */
int cl_end_completed(client_state *cs, aitbc_txn *t, cl_job *j, const char *miner_pk,
                     cl_events *ev);
/** 1 for COMPLETED, FAILED, CANCELED, EXPIRED. */
int cl_terminal(const char *state);

/* dispatch.c */
int cl_dispatch(void *self, const aitbc_jobs_miner *m, const cJSON *running, int flags,
                int64_t lease_ms, cJSON **answer, int *assigned);
int cl_complete(void *self, const char *job_id, const char *miner, const char *miner_pubkey_hex,
                const cJSON *body, int max_attempts, cJSON **answer, aitbc_jobs_error *err);
int cl_release_miner(void *self, const char *miner, int max_attempts, int64_t before_ms);
int cl_sweep_leases(void *self, int max_attempts);
/** TTL timer: EXPIRED + refund for every QUEUED/RUNNING job past expires_at. */
void cl_sweep_ttl(void *arg);

/* service.c */
void cl_service_init(client_state *cs);
/** Every job state, NULL-terminated. */
extern const char *const cl_job_states[];

/* metrics.c: the "metrics:client@1" service (jobs by state and type, queue age, assignments,
 * completions, lost leases) */
void cl_metrics_init(client_state *cs);
int cl_list(void *self, const char *state, const char *client, const char *miner, int64_t limit,
            const char *cursor, cJSON **out, aitbc_jobs_error *err);

/* complete.c */
/** Did miner ever hold attempt (0 = any attempt) of the job? 1/0 or <0. */
int cl_attempt_held(client_state *cs, aitbc_txn *t, const char *job_id, const char *miner,
                    int64_t attempt);

/* progress.c */
int cl_progress(void *self, const char *job_id, const char *miner, const cJSON *body,
                cJSON **answer, int64_t *retry_after_s, aitbc_jobs_error *err);

/* routes.c */
int cl_routes_register(client_state *cs);

#endif
