/* The miner agent: the miner side of AITBC inside aitbc-host. It keeps the miner's identity,
 * registers with a coordinator over HTTP (libcurl), heartbeats and long-polls for work, runs each
 * job on the compute backend that serves its payload.type in its own threads, signs the result,
 * spools it to disk until the coordinator acknowledges it, and drains on SIGTERM.
 *
 * Threads: the poller (register, spool delivery, heartbeat/poll, assignment, cancel), the
 * progress sender, one thread per running job, and the host's thread in start/stop. Shared state
 * below is guarded by `mu` unless the field says atomic. */
#ifndef AITBC_MINER_AGENT_H
#define AITBC_MINER_AGENT_H

#include "jobs_core.h"
#include <aitbc/aitbc.h>
#include <aitbc/auth.h>
#include <aitbc/compute.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#define MA_URL_MAX 512
#define MA_BACKENDS_MAX 32
#define MA_TYPE_MAX 65 /* job type text + NUL, as the coordinator's limit */

/** The plugin's validated config section. */
typedef struct ma_config {
    char coordinator_url[MA_URL_MAX]; /* without a trailing slash */
    int concurrency;
    char unit_price[AITBC_MONEY_MAX]; /* as configured, validated money text */
    char unit_type[33];
    char region[65]; /* "" = none */
    char enrolment_token[256];
    int drain_grace_s, poll_wait_s, job_timeout_s, request_timeout_s;
    int progress_interval_ms, backoff_max_ms;
    cJSON *hardware; /* owned copy of the override object, or NULL */
} ma_config;

/** What the node has, detected once at start and overridden by config.hardware. */
typedef struct ma_hw {
    cJSON *gpus; /* owned array of {name, memory_mb} */
    char cpu_model[128];
    int64_t cpu_cores, memory_mb;
} ma_hw;

typedef struct ma_backend {
    const char *service; /* "compute:<plugin>@1", borrowed for the host's life */
    const aitbc_compute_v1 *t;
} ma_backend;

/** Why a running job must stop (ma_job.stop). */
enum { MA_STOP_NONE = 0, MA_STOP_CANCEL, MA_STOP_DRAIN };

typedef struct ma_agent ma_agent;
typedef struct ma_http ma_http;

/** One job slot; `concurrency` of them. */
typedef struct ma_job {
    ma_agent *a;
    int used;     /* holds a job: thread running, or finished and not yet joined */
    int finished; /* the thread is done (joinable) */
    int reported; /* its completion was claimed by the job thread or the drain */
    char job_id[AITBC_ID_MAX];
    int64_t attempt;
    cJSON *payload; /* owned */
    const ma_backend *backend;
    int64_t started_ms, deadline_ms;
    double progress, progress_sent; /* reported by the backend / last forwarded */
    int64_t progress_sent_ms;
    atomic_int stop; /* MA_STOP_* */
    pthread_t thread;
    ma_http *http; /* the slot's own client, used only by its job thread */
} ma_job;

struct ma_agent {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    ma_config cfg;
    char key_path[PATH_MAX], apikey_path[PATH_MAX], spool_dir[PATH_MAX];
    jc_key key;
    char address[48];
    ma_backend backends[MA_BACKENDS_MAX];
    size_t nbackends;
    ma_hw hw;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a job finishes, on wake-ups and on stop */
    char api_key[AITBC_API_KEY_MAX];
    int registered;           /* the key in api_key is believed valid */
    int64_t last_register_ts; /* registration timestamps must rise */
    int64_t heartbeat_s;      /* the coordinator's next_heartbeat_s, clamped */
    ma_job *jobs;             /* cfg.concurrency slots */

    uint64_t wake_seq;   /* bumped by ma_poller_wake: naps end early */
    int drain_announced; /* the poller has sent (or tried) a DRAINING heartbeat */

    atomic_int draining;  /* SIGTERM: no new work, heartbeats say DRAINING */
    atomic_int quit;      /* threads end */
    atomic_int interrupt; /* abort the poller's request in flight (drain, quit) */
    atomic_int failing;   /* the last exchange with the coordinator failed (health) */
    ma_http *poll_http;   /* the poller's client, so stop can interrupt a long-poll */
    pthread_t poller, progress_thread;
    int poller_live, progress_live;
    atomic_uint_fast64_t jobs_ok, jobs_failed; /* finished attempts reported (metrics) */
    aitbc_metrics_v1 metrics;                  /* metrics:miner-agent@1 (metrics.c) */
};

/* metrics.c */
/** Fill a->metrics. */
void ma_metrics_init(ma_agent *a);

/* config.c */
/** Validate and copy the config section. 0 or AITBC_EINVAL (logged). */
int ma_config_load(ma_agent *a, const cJSON *section);
void ma_config_free(ma_config *c);

/* identity.c */
/** Load or create <data_dir>/miner.key; read miner.apikey if present. 0 or an error (logged). */
int ma_identity_load(ma_agent *a);
/** Write the API key to miner.apikey (0600, atomically). 0 or AITBC_EIO. */
int ma_identity_save_apikey(ma_agent *a, const char *api_key);
/** Base64url Ed25519 signature of text with the miner key. out needs 88 bytes. */
void ma_sign(const ma_agent *a, const char *text, char out[88]);

/* hardware.c */
void ma_hw_detect(ma_agent *a);
void ma_hw_free(ma_hw *hw);
/** Parse `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` output into
 *  an array of {name, memory_mb}. Caller frees. Malformed lines are skipped. */
cJSON *ma_hw_parse_nvidia(const char *text);
/** The first "model name" of /proc/cpuinfo text into out ("" if none). */
void ma_hw_parse_cpu_model(const char *cpuinfo, char *out, size_t cap);
/** MemTotal of /proc/meminfo text in MiB, or -1. */
int64_t ma_hw_parse_mem_mb(const char *meminfo);
/** Apply a validated config.hardware override onto hw. */
void ma_hw_override(ma_hw *hw, const cJSON *override);
/** 0 if override is a valid hardware object, else AITBC_EINVAL and a message in why. */
int ma_hw_check_override(const cJSON *override, char *why, size_t cap);

/* backends.c */
/** Find every "compute:" backend. 0, or AITBC_ENOTFOUND when there is none (logged). */
int ma_backends_find(ma_agent *a);
const ma_backend *ma_backend_for(const ma_agent *a, const char *job_type);
/** Union of job types / models of all backends as JSON arrays (caller frees). */
cJSON *ma_backends_job_types(const ma_agent *a);
cJSON *ma_backends_models(const ma_agent *a);

/* wire.c: the texts exchanged with the coordinator (pure; unit-tested) */
typedef struct ma_assigned {
    char job_id[AITBC_ID_MAX];
    int64_t attempt;
    char type[MA_TYPE_MAX];
    cJSON *payload; /* owned; NULL when the entry was unusable (then error says why) */
    const char *error;
} ma_assigned;
typedef struct ma_answer {
    ma_assigned *jobs;
    size_t njobs;
    char (*cancel)[AITBC_ID_MAX];
    size_t ncancel;
    int64_t next_heartbeat_s; /* 0 when absent or unusable */
} ma_answer;
/** 1 if id is usable as a job id and file name part: 1..47 of [A-Za-z0-9_-]. */
int ma_job_id_ok(const char *id);
/** Parse a heartbeat/poll answer; entries without a usable job_id are skipped. 0, or
 *  AITBC_EINVAL when the answer is not an object. */
int ma_wire_parse_answer(const cJSON *json, ma_answer *out);
void ma_answer_free(ma_answer *ans);
/** The signed registration body (caller frees). caps is borrowed. */
char *ma_wire_register_body(const ma_agent *a, int64_t ts, const cJSON *caps);
/** Completion bodies (caller frees). result is canonicalised, hashed and signed here; NULL when
 *  the result cannot be canonicalised. */
char *ma_wire_result_body(const ma_agent *a, const char *job_id, int64_t attempt,
                          const cJSON *result, int64_t units);
char *ma_wire_error_body(int64_t attempt, const char *code, const char *message, int retryable);
/** Backoff before retry n (0-based): full jitter in [d/2, d], d = min(cap, 250 ms × 2^n). */
int64_t ma_backoff_ms(int n, int64_t cap_ms);

/* http.c: libcurl client, one per thread */
typedef struct ma_resp {
    long status; /* 0: no answer (refused, timeout, aborted, too large) */
    cJSON *json; /* strictly parsed body, or NULL */
    int64_t retry_after_s;
    char error[256];
} ma_resp;
ma_http *ma_http_new(const ma_agent *a);
void ma_http_free(ma_http *h);
/** Limit every call on h to at most ms (the drain must not wait out request_timeout_s). */
void ma_http_cap(ma_http *h, int64_t ms);
/** Interrupt the call in progress on h (any thread); it ends when its abort flag is set. */
void ma_http_wake(ma_http *h);
/** POST base+path. api_key may be NULL. The call ends early, status 0, once *abort is nonzero. */
int ma_http_post(ma_http *h, const char *path, const char *api_key, const char *body,
                 int64_t timeout_ms, atomic_int *abort, ma_resp *out);
void ma_resp_free(ma_resp *r);
/** "error.code" of an error answer, or "". */
const char *ma_resp_code(const ma_resp *r);

/* spool.c: finished results on disk until acknowledged */
int ma_spool_init(ma_agent *a);
/** Write body durably (temp file, fsync, rename, fsync dir). 0 or AITBC_EIO. */
int ma_spool_write(ma_agent *a, const char *job_id, int64_t attempt, const char *body);
void ma_spool_remove(ma_agent *a, const char *job_id, int64_t attempt);
/** 1 if a result of this job and attempt waits in the spool. */
int ma_spool_has(ma_agent *a, const char *job_id, int64_t attempt);
/** Append the job ids of spooled results to arr. */
void ma_spool_ids(ma_agent *a, cJSON *arr);
/** Results in the spool now (one directory read). */
int ma_spool_count(ma_agent *a);
/** What a delivery attempt came to. */
enum { MA_SENT = 0, MA_RETRY = 1 };
/** POST one completion; on 200 or 409 lease_lost the spool file goes. MA_SENT or MA_RETRY. */
int ma_spool_send(ma_agent *a, ma_http *h, const char *job_id, int64_t attempt, const char *body,
                  atomic_int *abort);
/** Deliver every spooled result not owned by a live job thread. MA_SENT if all went. */
int ma_spool_flush(ma_agent *a, ma_http *h, atomic_int *abort);

/* register.c */
/** Register (or re-register) with a signed body: 0 on success; else how long to wait first in
 *  ms (the coordinator's Retry-After), or -1 for the ordinary backoff. */
int64_t ma_register(ma_agent *a, ma_http *h);
/** A copy of the current API key (under mu). */
void ma_api_key(ma_agent *a, char out[AITBC_API_KEY_MAX]);
/** A 401 for key_used: unless the agent has re-registered since, register again. */
void ma_key_rejected(ma_agent *a, const char *key_used);

/* runner.c */
/** Allocate the job slots (start). 0 or AITBC_ENOMEM. */
int ma_jobs_init(ma_agent *a);
/** Free the slots (destroy; every thread joined). */
void ma_jobs_free(ma_agent *a);
/** Start job j on a free slot (takes j->payload). 0, or AITBC_EBUSY when no slot is free. */
int ma_jobs_start(ma_agent *a, ma_assigned *j);
/** Jobs running (not finished); call with mu held. */
int ma_jobs_running_locked(const ma_agent *a);
/** 1 if a slot holds this job (attempt 0 = any attempt) and its thread is not joined yet. */
int ma_jobs_holds(ma_agent *a, const char *job_id, int64_t attempt);
void ma_jobs_cancel(ma_agent *a, const char *job_id);
/** A new attempt of job_id was assigned: the coordinator has ended the older one this miner may
 *  still hold. Cancel it, wait up to wait_ms for its thread to finish (it may be sending its
 *  end), then free finished slots, so the new attempt finds the slot the old one had. */
void ma_jobs_end_older(ma_agent *a, const char *job_id, int64_t wait_ms);
/** Join finished job threads; returns how many slots are in use afterwards. */
int ma_jobs_reap(ma_agent *a);
/** Append running job ids to arr. */
void ma_jobs_ids(ma_agent *a, cJSON *arr);
/** Report a job as failed without running it (bad payload, unknown type, no free slot). */
void ma_jobs_reject(ma_agent *a, ma_http *h, const ma_assigned *j, const char *code,
                    const char *message, int retryable);
/** Drain: stop every job still running, report each as a retryable failure (h: a client with a
 *  short time limit, ma_http_cap). */
void ma_jobs_fail_all(ma_agent *a, ma_http *h);
/** Join every job thread (stop). */
void ma_jobs_join_all(ma_agent *a);
/** 1 if slot i is running and not yet stopped: fills a copy of what the progress sender needs. */
int ma_job_progress_due(ma_agent *a, size_t i, char job_id[AITBC_ID_MAX], int64_t *attempt,
                        double *progress);

/* poller.c */
int ma_poller_start(ma_agent *a);
/** Wake the poller (a slot freed, stop). */
void ma_poller_wake(ma_agent *a);
/** Wake the poller and abort its request in flight (a long-poll must not delay the drain). */
void ma_poller_interrupt(ma_agent *a);
/** Log level for trouble reaching the coordinator: INFO in the first seconds after start (a local
 *  coordinator is not listening yet), WARN after. */
int ma_trouble_level(const ma_agent *a);
/** Interruptible sleep of the calling agent thread. Returns early on wake or quit. */
void ma_nap(ma_agent *a, int64_t ms);

/* progress.c */
int ma_progress_start(ma_agent *a);

#endif
