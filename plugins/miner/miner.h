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
#define MN_WAKE_KEY_MAX 64 /* "miner:" + an address */

typedef struct mn_rate {
    char ip[64];
    int64_t window_start_ms;
    int64_t count;
} mn_rate;

typedef struct mn_live mn_live;
typedef struct mn_offer mn_offer;

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
    /* The online-miner registry (online.c) and the open wakes (wake.c), under live_mu. */
    pthread_mutex_t live_mu;
    mn_live *live;
    size_t n_live, cap_live;
    int64_t live_gen; /* shared database: the registry generation the rows were read at */
    mn_offer *offers;
    size_t n_offers, cap_offers;
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

/** An ONLINE or DRAINING miner in memory (online.c): its row without metrics, plus what the
 *  table does not hold. */
struct mn_live {
    mn_row row;
    int64_t running;         /**< RUNNING jobs as of its last heartbeat, poll or completion */
    int64_t promised;        /**< wakes sent to it for jobs still QUEUED */
    int parked;              /**< its long-polls parked now */
    int64_t parked_since_ms; /**< when the oldest of them parked */
};

/* The generation row (aitbc/shared.h) every change of the registry's membership or of a
 * registered miner's profile bumps when several hosts share the database: registration, a
 * status change by heartbeat, the OFFLINE sweep, deregistration. Plain heartbeats do not. */
#define MN_GEN_TABLE "miner_gen"
#define MN_GEN_REGISTRY "registry"

/* row.c */
void mn_row_free(mn_row *r);
/** Fill a dispatch profile borrowing from r. */
void mn_profile(const mn_row *r, aitbc_jobs_miner *m);
/** 1 when the registry entry e takes new jobs (ONLINE, not DRAINING). */
int mn_live_online(const mn_live *e);
/** Does e fit the job (type, constraints, max_price)? jc_match's verdict for an ONLINE entry,
 *  JC_MATCH_NO for a DRAINING one. Its load and parked polls are not looked at. */
int mn_live_match(const mn_live *e, const char *type, const cJSON *constraints, int64_t max_price);

/* registry.c */
/** Runs the miner registry's migrations (from init). 0 or the host's error. */
int mn_store_migrate(miner_state *ms);
void mn_row_read(miner_state *ms, aitbc_stmt *s, mn_row *r);
/** 1 found, 0 not, <0 error. t may be NULL (own read transaction). */
int mn_load(miner_state *ms, aitbc_txn *t, const char *address, mn_row *r);
int mn_upsert(miner_state *ms, aitbc_txn *t, const mn_row *r);
/** Delete the row, revoke the miner's keys and requeue its jobs. 1 deleted, 0 unknown. */
int mn_deregister(miner_state *ms, const char *address);
/** Admin/GET view of a miner (with counters from jobs@1). */
cJSON *mn_row_json(miner_state *ms, const mn_row *r, int with_earnings);
/** The statuses a miner row has, in the order mn_count_by_status counts them. */
#define MN_NSTATUS 3
extern const char *const mn_statuses[MN_NSTATUS];
/** Miners by status (one pass over the index miner_miners_status, no table rows read). 0 or the
 *  storage error. */
int mn_count_by_status(miner_state *ms, int64_t counts[MN_NSTATUS]);
/** Timer: silent miners go OFFLINE (jobs requeued), lapsed leases requeue, stale never-seen
 *  miners are pruned. */
void mn_tick(void *arg);

/* online.c: the online-miner registry (thread-safe) */
/** Rebuild from the table (start; on a shared database also whenever the generation moved). */
int mn_live_load(miner_state *ms);
/** Shared database: reload when another host changed the registry since the last load (one
 *  indexed read, in t or a read transaction of its own when t is NULL). 0 at once on SQLite. */
int mn_live_sync(miner_state *ms, aitbc_txn *t);
/** Timer: drop entries silent since before silent_before (their write may never have committed);
 *  on a shared database reload instead, since other hosts' heartbeats never reach this memory. */
void mn_live_tidy(miner_state *ms, int64_t silent_before);
void mn_live_free(miner_state *ms);
/** After writing row r: add or update it (an OFFLINE row leaves). */
int mn_live_put(miner_state *ms, const mn_row *r);
/** Remove address if its last heartbeat is before silent_before (INT64_MAX: always). */
void mn_live_drop(miner_state *ms, const char *address, int64_t silent_before);
/** A copy of address's row (no metrics): 1, 0 when not online, <0 error. mn_row_free it. */
int mn_live_row(miner_state *ms, const char *address, mn_row *out);
/** Its RUNNING count: set to running (>= 0), or moved by delta (running < 0). */
void mn_live_load_set(miner_state *ms, const char *address, int64_t running, int64_t delta);
/** A long-poll of address parks / comes back. */
void mn_live_park(miner_state *ms, const char *address, int64_t now_ms);
void mn_live_unpark(miner_state *ms, const char *address);
/** miners@1 pending_reason over the ONLINE miners. */
const char *mn_live_reason(miner_state *ms, const char *job_type, const cJSON *constraints,
                           int64_t max_price);

/* mirror.c: the registry rebuilt from the table's rows, keeping what only this host knows */
/** live_mu held. The registry becomes the ONLINE and DRAINING rows of rows[0..n), taken (each
 *  is freed or moved; the array itself stays the caller's). Miners it held already keep their
 *  load, promises and parked polls (this host's); the others start with none. 0 or
 *  AITBC_ENOMEM (then the registry is unchanged and the rows are freed). */
int mn_live_adopt(miner_state *ms, mn_row *rows, size_t n);

/* offers.c: the open wakes of queued jobs. Pure bookkeeping over the registry: every mn_offer_*
 * call needs live_mu held and makes no host call; the caller wakes the keys they return. */
/** The wake key the long-polls of address park on. */
void mn_wake_key(const char *address, char out[MN_WAKE_KEY_MAX]);
/** A job just became QUEUED: promise it to the best parked miner (an ONLINE one with a free slot
 *  that fits, least loaded first, ties to the one parked longest). 1 and the key to wake, or 0
 *  (nobody fits with a free slot, or the job already has an offer). In the same pass over the
 *  registry, when hint is not NULL: *hint = the miner to name on job_assigned (the least-loaded
 *  fitting ONLINE one, parked or not, counting that promise), or NULL. */
int mn_offer_open(miner_state *ms, const char *job_id, const char *type, const cJSON *constraints,
                  int64_t max_price, int64_t now_ms, char key[MN_WAKE_KEY_MAX], mn_live **hint);
mn_offer *mn_offer_find(miner_state *ms, const char *job_id);
/** The job left QUEUED: its promise ends and the offer goes. */
void mn_offer_close(miner_state *ms, mn_offer *o);
/** Open offers whose wake went to address: the most keys mn_offer_settle(address) returns. */
size_t mn_offer_aimed(const miner_state *ms, const char *address);
/** A woken poll of address dispatched (answer as dispatch gave it, NULL when it failed): offers
 *  it took close; the others move to the next fitting parked miner, whose keys go to keys (room
 *  for mn_offer_aimed(address)). Returns how many keys. */
size_t mn_offer_settle(miner_state *ms, const char *address, const cJSON *answer,
                       char (*keys)[MN_WAKE_KEY_MAX]);
/** Forget offers older than a minute (their poll vanished). */
void mn_offer_expire(miner_state *ms, int64_t now_ms);
void mn_offers_free(miner_state *ms);

/* wake.c: the job_updates subscriber and the locked calls around offers.c */
/** Bus subscriber on job_updates: a QUEUED job wakes one fitting parked poll (and names the
 *  least-loaded fitting miner on job_assigned); any other state settles the job's wake. */
void mn_on_job_update(const char *topic, uint64_t seq, const cJSON *data, void *user);
/** After a woken poll of address dispatched: mn_offer_settle, then wake who it names. */
void mn_wake_settle(miner_state *ms, const char *address, const cJSON *answer);
void mn_wake_expire(miner_state *ms, int64_t now_ms);

/* register.c */
void mn_h_register(aitbc_request *req, void *user);

/* routes.c */
int mn_routes_register(miner_state *ms);

/* service.c */
void mn_service_init(miner_state *ms);
/* metrics.c */
void mn_metrics_init(miner_state *ms);

#endif
