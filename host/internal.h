/* The host's own modules and how they reach each other. Plugins never include this file. */
#ifndef AITBC_HOST_INTERNAL_H
#define AITBC_HOST_INTERNAL_H

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "aitbc/aitbc.h"
#include "aitbc/auth.h"

#define AITBC_HOST_VERSION "0.1.0"

/* ---------------- settings (config.c) ---------------- */
typedef struct host_config host_config; /* parsed YAML as cJSON + line numbers of every node */

/** The host's own sections of the config, with defaults applied. */
typedef struct host_settings {
    char data_dir[PATH_MAX];        /* node.data_dir (default ./data), created at start */
    char log_level[16];             /* node.log_level: error|warn|info|debug (default info) */
    char log_format[8];             /* node.log_format: text|json (default text) */
    char http_host[64];             /* http.listen host part (default 127.0.0.1) */
    int http_port;                  /* http.listen port (default 18000; 0 = ephemeral) */
    int http_threads;               /* http.threads (default 4) */
    size_t max_body_bytes;          /* http.max_body_bytes (default 1 MiB) */
    char path_prefix[64];           /* http.path_prefix (default "") */
    int http_access_log;            /* http.access_log (default true) */
    int http_max_conns_per_address; /* http.max_connections_per_address (default 256, 0 = no cap) */
    int http_header_timeout_s;      /* http.header_timeout_s (default 10, 0 = none) */
    int ws_enabled;                 /* a websocket: section is present */
    char ws_host[64];               /* websocket.listen (default 127.0.0.1:18001) */
    int ws_port;
    char ws_path[64];             /* websocket.path (default /ws) */
    int ws_max_clients;           /* websocket.max_clients (default 1024) */
    int ws_queue_max;             /* websocket.queue_max messages per client (default 256) */
    long long ws_queue_max_bytes; /* websocket.queue_max_bytes per client (default 8 MiB) */
    int ws_max_per_key;           /* websocket.max_clients_per_key (default 64, 0 = no cap) */
    int ws_max_per_account;       /* websocket.max_clients_per_account (default 128, 0 = none) */
    int ws_ping_s;                /* websocket.ping_interval_s (default 30) */
    cJSON *ws_allowed_origins;    /* websocket.allowed_origins (array of strings) or NULL */
    char db_driver[16];           /* storage.driver: sqlite|postgres (default sqlite) */
    char db_dsn[1024];            /* storage.dsn: libpq connection string (postgres) */
    int db_pool;                  /* storage.pool: postgres connections at most (default 32) */
    char db_path[PATH_MAX];       /* storage.path (default <data_dir>/aitbc.db) */
    char db_synchronous[16];      /* storage.synchronous: off|normal|full (default normal) */
    int db_busy_timeout_ms;       /* storage.busy_timeout_ms (default 5000) */
    int workers;                  /* node.workers (default 2) */
    char cluster_node_id[64];     /* cluster.node_id: unique per host (default hostname-random) */
    int cluster_poll_ms;          /* cluster.poll_ms: catch-up and leader retry (default 1000) */
    int cluster_retention_s;      /* cluster.retention_s: host_events kept (default 3600) */
    char
        plugin_path[4 * PATH_MAX]; /* node.plugin_path: ':'-separated dirs searched for <name>.so */
} host_settings;

/** Load YAML (libyaml document API) into cJSON with ${ENV} substitution.
 *  NULL on error with "file:line: reason" in err. */
host_config *config_load(const char *path, char *err, size_t errlen);
void config_free(host_config *cfg);
const cJSON *config_root(const host_config *cfg);
const char *config_path(const host_config *cfg);
/** Line (1-based) where node came from, or 0. */
int config_line(const host_config *cfg, const cJSON *node);
/** Validate and fill the host's sections (node, http, websocket, storage); unknown keys → error. */
int config_settings(const host_config *cfg, host_settings *out, char *err, size_t errlen);
/** Check one plugin section against its schema: unknown key, wrong type, missing required,
 *  value outside min..max; and the schema's own defaults (type and bounds). */
int config_check_schema(const host_config *cfg, const cJSON *section, const aitbc_cfg_key *schema,
                        const char *plugin, char *err, size_t errlen);
/** A key's default as a value (caller frees), or NULL (none, or unreadable as its type). */
cJSON *config_default_value(const aitbc_cfg_key *k);
/** What k's type takes ("an integer", "a list") and its bounds ("allowed 1..60", "any"). */
const char *config_type_text(const aitbc_cfg_key *k);
const char *config_range_text(const aitbc_cfg_key *k, char *out, size_t cap);
/** --print-config-example: the host's sections, then the `plugins:` section of cfg with every
 *  loaded plugin's keys, each under a comment from its schema (doc, type, default, range). */
void config_print_example(FILE *out, const host_config *cfg);
/** --check-config: the host's sections as they take effect (defaults and bounds marked). */
void config_print_host(FILE *out, const host_config *cfg);
/** "    key: value  (default)  min ..  max ..": one key as it takes effect (v NULL: unset). */
void config_print_value(FILE *out, const aitbc_cfg_key *k, const cJSON *v);
/** The host's i-th own section (node, http, websocket, storage, cluster): name, one line about
 *  it and its schema; NULL past the last. */
const aitbc_cfg_key *config_host_section(size_t i, const char **name, const char **about);
/** Copy of a checked section with the schema's defaults filled in (caller frees; NULL = ENOMEM). */
cJSON *config_effective(const cJSON *section, const aitbc_cfg_key *schema);

/* ---------------- logging (log.c) ---------------- */
void hlog_set_level(aitbc_log_level level);
int hlog_parse_level(const char *text, aitbc_log_level *out);
/** One line to stderr: time, level, [prefix], message. prefix may be NULL ("host"). */
void hlog(const char *prefix, aitbc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hlogv(const char *prefix, aitbc_log_level level, const char *fmt, va_list ap);
/** Like hlog, but the line may wait in a buffer (up to 32 KiB or 200 ms) so busy request
 *  logging costs one write() per batch of lines, not per line. Lines keep their order with
 *  unbuffered ones (an unbuffered line flushes the buffer first). */
void hlog_buffered(const char *prefix, aitbc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Write out buffered lines now (a timer calls it; also before exit). */
void hlog_flush(void);
/** Lines as JSON objects (node.log_format: json) instead of text. */
void hlog_set_json(int on);
/** Level and line format from node.log_level / node.log_format. */
void hlog_apply_settings(const host_settings *set);
/** mkdir -p, mode 0700 for every directory it creates; 0 if path is a directory after. */
int host_make_dirs(const char *path);
/** The request this thread serves right now (copied; NULL when done): JSON lines carry it. */
void hlog_set_request_id(const char *id);

/* ---------------- plugins (loader.c) ---------------- */
struct aitbc_plugin_ctx {
    const aitbc_plugin_desc *desc;
    void *dl; /* dlopen handle */
    char path[PATH_MAX];
    const cJSON *config; /* its validated section with defaults filled (owned by the loader) */
    void *state;
    int started;
    int timers_live; /* work.c, under its timer lock: its timers may fire (set just before start) */
};
/** Load, check and order every plugin listed under `plugins:`. On any refusal logs
 *  "plugin <file>: refused: <reason>" and returns an error. */
int loader_load_all(const host_config *cfg, const host_settings *set);
/** Plugins in dependency order (providers before consumers). */
size_t loader_count(void);
aitbc_plugin_ctx *loader_at(size_t i);
/** Take these descriptors (NULL-terminated, or NULL) instead of <name>.so for the plugins they
 *  name: the in-process test host (testhost.c). */
void loader_set_linked(const aitbc_plugin_desc *const *descs);
/** The plugin's config schema in the host's layout (owned by the loader), or NULL = no keys. */
const aitbc_cfg_key *loader_schema(const aitbc_plugin_ctx *ctx);
/** --check-config: each plugin's effective config (values, defaults, ranges). */
void loader_print_config(FILE *out);
int loader_init_all(void);    /* init in order */
int loader_start_all(void);   /* start in order */
void loader_stop_all(void);   /* stop in reverse */
void loader_unload_all(void); /* destroy in reverse, dlclose */
/** Tests only: behave as a host of an older ABI minor. */
void loader_pretend_abi_minor(unsigned minor);
/** The service graph in start order (--check-config). */
void loader_print_graph(FILE *out);
/** 0 (and logged) when a plugin's init/start on this thread looks up an undeclared service. */
int loader_lookup_allowed(const char *name);

/* ---------------- struct sizes a plugin was built with (abi_sizes.c) ---------------- */
/** Bytes of type up to and including member: a table whose `size` is at least this has it. */
#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
/** The structs a plugin hands the host by pointer or array. */
typedef enum {
    ABI_CFG_KEY,
    ABI_ROUTE,
    ABI_TOPIC,
    ABI_MIGRATION,
    ABI_METRIC_LABEL,
    ABI_STRUCT_COUNT
} abi_struct;
/** Bytes of one struct s (an array's stride) as plugin d was built; the host's own if d is NULL. */
size_t abi_size(const aitbc_plugin_desc *d, abi_struct s);
/** 0, or AITBC_EINVAL with the reason in why: d declares a size smaller than the 1.0 struct. */
int abi_check_sizes(const aitbc_plugin_desc *d, char *why, size_t cap);
/** dst (the host's layout, zeroed first) = element i of src as plugin d laid it out, read no
 *  further than that element. */
void abi_read(const aitbc_plugin_desc *d, abi_struct s, void *dst, const void *src, size_t i);

/* ---------------- services (services.c) ---------------- */
int services_register(aitbc_plugin_ctx *owner, const char *name_at_version, const void *table);
const void *services_lookup(const char *name_at_version);
/** The plugin that registered the service, or NULL (none, or the host). */
aitbc_plugin_ctx *services_owner(const char *name_at_version);
/** The auth@1 table if one is registered and its size covers authenticate, else NULL. */
const aitbc_auth_v1 *services_auth(void);
size_t services_names(const char *prefix, const char **out, size_t max);
/** A requires[]/uses[] entry: a service name where '*' may stand for any run of characters. */
int services_pattern_valid(const char *pattern);
/** 1 if name matches pattern ('*' = any run of characters, else exact). */
int services_match(const char *pattern, const char *name);
/** After every init: the registry is fixed (registrations refused), lookups take no lock. */
void services_freeze(void);
void services_clear(void);

/* ---------------- HTTP (router.c, http.c, metrics.c) ---------------- */
typedef struct router router;
typedef enum { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_METHOD_NOT_ALLOWED } route_result;
#define ROUTER_MAX_PARAMS 8
typedef struct route_match {
    const aitbc_route *route; /* borrowed from the router */
    aitbc_plugin_ctx *owner;
    const char *pattern; /* the route's path pattern, for metrics */
    size_t nparams;
    char *names[ROUTER_MAX_PARAMS];  /* borrowed from the router */
    char *values[ROUTER_MAX_PARAMS]; /* malloc'd, URL-decoded; route_match_free */
    char allow[64];                  /* for 405: "GET, POST" */
} route_match;
router *router_new(void);
void router_free(router *r);
/** Add a route (copied). AITBC_EEXIST for a duplicate method+pattern, AITBC_EINVAL for a bad
 * pattern. */
int router_add(router *r, const aitbc_route *route, aitbc_plugin_ctx *owner);
route_result router_match(const router *r, const char *method, const char *path, route_match *m);
void route_match_free(route_match *m);

int http_start(const host_settings *set); /* listen; port 0 = ephemeral */
int http_port(void);                      /* the bound port */
void http_quiesce(void);                  /* stop accepting, finish in-flight requests */
void http_stop(void);
int http_add_route(aitbc_plugin_ctx *ctx, const aitbc_route *route);
/* Request accessors and responses used by the API table (http.c). */
const char *http_req_method(aitbc_request *req);
const char *http_req_param(aitbc_request *req, const char *name);
const char *http_req_query(aitbc_request *req, const char *name);
const char *http_req_header(aitbc_request *req, const char *name);
const cJSON *http_req_json(aitbc_request *req);
const char *http_req_body(aitbc_request *req, size_t *len);
const aitbc_principal *http_req_principal(aitbc_request *req);
const char *http_req_remote(aitbc_request *req);
const char *http_req_id(aitbc_request *req);
void http_resp_header(aitbc_request *req, const char *name, const char *value);
void http_respond_json(aitbc_request *req, unsigned status, cJSON *body);
void http_respond_raw(aitbc_request *req, unsigned status, const char *ctype, const char *data,
                      size_t len);
void http_respond_errorv(aitbc_request *req, unsigned status, const char *code, const char *field,
                         const char *fmt, va_list ap);
void http_defer(aitbc_request *req, const char *key, int64_t deadline_ms, aitbc_retry_fn retry,
                void *user);
void http_wake(const char *key);
/** While an idempotent request's scope is open on this thread (http_scope.c), hold an event
 *  until the scope commits (dropped if it rolls back): 1 = held and *data taken (set to NULL),
 *  0 = publish it now. */
int scope_hold_take(const char *topic, cJSON **data);
/** The same for a long-poll wake-up (1 = held until the scope commits). */
int scope_hold_wake(const char *key);

void metrics_observe(const char *method, const char *pattern, unsigned status, int64_t micros);
/** Prometheus text; caller frees. */
char *metrics_render(void);

/* ---------------- WebSocket (ws.c) ---------------- */
int ws_start(const host_settings *set);
int ws_port(void);
void ws_stop(void);
/** @brief WebSocket connections in the hub and what is queued to them (zeros when not running). */
void ws_stats(size_t *conns, size_t *queued_msgs, size_t *queued_bytes);

/* ---------------- bus (bus.c) ---------------- */
int bus_start(void);
int bus_declare(aitbc_plugin_ctx *ctx, const aitbc_topic *topic);
/** The declared topic or NULL (for the WebSocket bridge's permission checks). */
const aitbc_topic *bus_find_topic(const char *name);
int bus_publish(const char *topic, const cJSON *data);
/** bus_publish of a copy the caller made and hands over (freed whatever the outcome). */
int bus_publish_owned(const char *topic, cJSON *data);
/** 0 if ctx declared topic, else AITBC_EFORBIDDEN (logged once per topic). */
int bus_check_owner(aitbc_plugin_ctx *ctx, const char *topic);
int bus_subscribe(const char *topic, aitbc_event_fn fn, void *user);
/** A plugin's subscription: dropped by bus_drop_plugin before the plugin stops. */
int bus_subscribe_owned(aitbc_plugin_ctx *owner, const char *topic, aitbc_event_fn fn, void *user);
/** Remove owner's subscriptions; on return none of its subscribers runs or will run. */
void bus_drop_plugin(aitbc_plugin_ctx *owner);
/** Nonzero on the bus's dispatcher thread (in a subscriber). */
int bus_on_dispatcher(void);
/** Deliver everything queued, then stop the dispatcher. */
void bus_stop(void);

/* ---------------- storage (store_sqlite.c) ---------------- */
int store_open(const host_settings *set);
/** @brief "sqlite" or "postgres": the driver of the open store (static string). */
const char *store_driver_name(void);
void store_close(void);
/** @brief dsn with every setting but the password (for printing), "key=value ..." in out. */
void store_dsn_redacted(const char *dsn, char *out, size_t cap);
/** Database pages written to the WAL by committed write transactions since start. */
uint64_t store_wal_pages_total(void);
int store_migrate(const char *plugin, const aitbc_migration *steps, size_t n);
/** Called by a thread before it exits, to close its connection. */
void store_thread_done(void);
aitbc_txn *store_txn_begin(int mode);
/** A WRITE transaction whose next level down behaves like an outermost one: each begin at level
 *  2 opens a savepoint, its rollback undoes only that savepoint, its commit releases it (work is
 *  durable only when the scope commits). The HTTP pipeline wraps an idempotent request in one so
 *  the recorded answer commits with the work. NULL on error (logged), or when the thread already
 *  has a transaction open. */
aitbc_txn *store_txn_begin_scope(void);
int store_txn_commit(aitbc_txn *t);
void store_txn_rollback(aitbc_txn *t);
aitbc_stmt *store_stmt(aitbc_txn *t, const char *sql);
int store_bind_int64(aitbc_stmt *s, int idx, int64_t v);
int store_bind_text(aitbc_stmt *s, int idx, const char *text);
int store_bind_blob(aitbc_stmt *s, int idx, const void *data, size_t len);
int store_bind_null(aitbc_stmt *s, int idx);
int store_step(aitbc_stmt *s);
int64_t store_col_int64(aitbc_stmt *s, int col);
const char *store_col_text(aitbc_stmt *s, int col);
const void *store_col_blob(aitbc_stmt *s, int col, size_t *len);
int store_col_is_null(aitbc_stmt *s, int col);
int64_t store_changes(aitbc_stmt *s);
void store_stmt_done(aitbc_stmt *s);
/* The writer's shared transaction (group commit), on the writer thread only. */
int store_batch_begin(void);
int store_batch_check(void);
int store_batch_end(int commit);
/** A request's read scope on the calling thread, from begin to end: the first READ transaction
 *  begun in it stays open until store_read_scope_end, and every later READ begin nests into it
 *  (one BEGIN/COMMIT and one snapshot per request instead of one per store call). Lazy: nothing
 *  is opened until a read begins. A WRITE begin (or a write scope) ends the snapshot first and
 *  leaves the scope. A read level that fails ends the snapshot at once (the next read begins
 *  afresh). The HTTP server wraps every non-write route's handler and retry in one; end it
 *  before the request parks (a parked request must not hold a snapshot). */
void store_read_scope_begin(void);
void store_read_scope_end(void);
/** Write transactions (a writer batch counts as one) that have ended in this process, committed
 *  or not; counted before the write turn is given back (host API write_turns). */
uint64_t store_write_turns(void);

/* ---------------- several hosts on one PostgreSQL (cluster*.c) ---------------- */
/** Start the cluster thread on its own connection to dsn (postgres only): the outbox and leader
 *  tables, LISTEN, catch-up. 0, or AITBC_EIO when the database cannot be reached. */
int cluster_start(const char *dsn, const char *node_id, int poll_ms, int retention_s);
/** Stop the thread and close its connection (every role is released with it). */
void cluster_stop(void);
/** Nonzero between cluster_start and cluster_stop. */
int cluster_active(void);
/** For /metrics. Role names are valid ([A-Za-z0-9._:-], safe in a label). */
#define CLUSTER_STATS_ROLES 32
typedef struct cluster_stats {
    int connected;
    uint64_t received;
    size_t nroles;
    char roles[CLUSTER_STATS_ROLES][64];
    int held[CLUSTER_STATS_ROLES];
} cluster_stats;
/** 1 and *out filled while the cluster runs, else 0. */
int cluster_get_stats(cluster_stats *out);
/** Make the cluster thread look now (a new role to take). */
void cluster_poke(void);
/** The API's leader(): 1 when this host holds role (always 1 without a cluster). On the writer
 *  inside a batch the answer is fenced: checked in the database, in that transaction. */
int cluster_leader(aitbc_plugin_ctx *ctx, const char *role);
/** Note an event / a wake-up the calling thread's write transaction announces, for the outbox
 *  (no-op without a cluster). 0 or an error (then cluster_outbox_discard, and do not commit). */
int cluster_outbox_event(const char *topic, const cJSON *data);
int cluster_outbox_wake(const char *key);
/** In that open transaction: write what was noted (one statement) and NOTIFY the other hosts
 *  (delivered when it commits). 0 or an error: the transaction must then not commit. */
int cluster_outbox_flush(void);
/** Forget what was noted (an error before the flush). */
void cluster_outbox_discard(void);
/** An event / a wake-up made outside any write transaction (already delivered here): queue it for
 *  the other hosts through the next write batch. Not from a bus subscriber (every host runs its
 *  own subscribers on the relayed event), not without a cluster. */
void cluster_relay_event(const char *topic, const cJSON *data);
void cluster_relay_wake(const char *key);

/* ---------------- workers and timers (work.c) ---------------- */
int work_start(int workers);
int work_submit(aitbc_task_fn fn, void *arg);
aitbc_timer *work_timer_add(aitbc_plugin_ctx *ctx, int64_t interval_ms, aitbc_task_fn fn,
                            void *arg);
void work_timer_cancel(aitbc_timer *t);
/** Before ctx's stop: its timers stop firing, none is running, the task queue has drained. */
void work_quiesce_plugin(aitbc_plugin_ctx *ctx);
/** Just before a plugin's start: its timers may fire from now on (one added earlier, against the
 *  rules, during init, waits until here and then runs a full interval later). */
void work_release_plugin(aitbc_plugin_ctx *ctx);
/** After ctx's destroy: free the timers it left. */
void work_forget_plugin(aitbc_plugin_ctx *ctx);
/** Stop timers, finish queued tasks, join threads. */
void work_stop(void);

/* ---------------- group commit (writer.c) ---------------- */
enum { WRITER_COMMITTED, WRITER_FAILED, WRITER_NOT_RUN };
/** One piece of write work for the writer thread. Owned by the submitter; settle may free it. */
typedef struct writer_item {
    void (*run)(void *arg);                 /* on the writer, inside the batch transaction */
    void (*settle)(void *arg, int outcome); /* on the writer after the batch: WRITER_* */
    void *arg;
    struct writer_item *next;
} writer_item;
/** Start the writer thread (after store_open and bus_start). */
int writer_start(void);
/** Run what is queued, then stop the thread (after the plugins stopped, before bus_stop). */
void writer_stop(void);
/** Nonzero while work is accepted. */
int writer_running(void);
/** Queue an item. 0, or AITBC_EUNAVAIL when the writer is not running (nothing queued). */
int writer_submit(writer_item *it);
/** On the writer inside a batch: keep the event until the commit and return 1 (*data taken,
 *  set to NULL); elsewhere return 0 (the caller publishes at once). */
int writer_capture_take(const char *topic, cJSON **data);
/** Nonzero on the writer thread while a batch is open. */
int writer_in_batch(void);
int writer_capture_wake(const char *key);
/* Histogram bounds of the writer's batch sizes (writes) and commit times (µs): up to BATCH_MAX. */
#define WRITER_SIZE_BOUNDS                                                                         \
    { 1, 2, 4, 8, 16, 32, 64, 128, 256 }
#define WRITER_SIZE_NB 9
/* The commit-time bounds, listed once, as µs (the writer counts in them) and as seconds (the
 * scrape's le labels, constants so no scrape converts them). */
#define WRITER_COMMIT_LIST(X)                                                                      \
    X(100), X(250), X(500), X(1000), X(2500), X(5000), X(10000), X(25000), X(50000), X(100000),    \
        X(250000), X(500000), X(1000000), X(2500000)
#define WRITER_BOUND_US(us) us
#define WRITER_BOUND_S(us) (us) / 1e6
#define WRITER_COMMIT_BOUNDS_US                                                                    \
    { WRITER_COMMIT_LIST(WRITER_BOUND_US) }
#define WRITER_COMMIT_BOUNDS_S                                                                     \
    { WRITER_COMMIT_LIST(WRITER_BOUND_S) }
#define WRITER_COMMIT_NB 14
typedef struct writer_stats {
    size_t queued;                          /* waiting right now */
    uint64_t batches, items, failed;        /* since start */
    uint64_t size_hist[WRITER_SIZE_NB + 1]; /* batches by size (last = larger); not cumulative */
    uint64_t commit_hist[WRITER_COMMIT_NB + 1]; /* COMMITs by duration; not cumulative */
    uint64_t commit_us_sum;
} writer_stats;
void writer_get_stats(writer_stats *out);
/** The API's txn_submit. */
int writer_txn_submit(aitbc_task_fn fn, void *arg, aitbc_write_done_fn done);
/** txn_after for plugins: done(arg, rc) once the open batch has ended (writer.c). */
int writer_txn_after(aitbc_write_done_fn done, void *arg);

/* ---------------- Idempotency-Key (idempotency.c) ---------------- */
typedef struct idem_record idem_record;
typedef enum {
    IDEM_PROCEED,  /* run the handler, then idem_finish with its answer */
    IDEM_REPLAY,   /* *status and *body hold the stored first answer: send it */
    IDEM_MISMATCH, /* same key, other body: 409 idempotency_mismatch */
    IDEM_BUSY,     /* first request still running: 409 in_progress */
    IDEM_BAD_KEY,  /* header longer than 255 chars or empty: 400 */
    IDEM_ERROR,    /* storage failure: 500 */
} idem_result;
/** Create the host_idempotency table (after store_open). */
int idem_init(void);
/** Claim (account, route, key) for this body. On IDEM_PROCEED *rec is set (caller passes it to
 *  idem_finish exactly once). On IDEM_REPLAY *status and *body (malloc'd, caller frees) are set. */
idem_result idem_begin(const char *account, const char *route, const char *key, const cJSON *body,
                       idem_record **rec, unsigned *status, char **body_out);
/** Store the answer (2xx/5xx) or forget the claim (4xx, so the client may retry). Frees rec. */
void idem_finish(idem_record *rec, unsigned status, const char *body, size_t len);
/** Drop records older than max_age_ms (called from a timer). */
void idem_purge(int64_t max_age_ms);

/* ---------------- the API table (api.c) ---------------- */
const aitbc_host_api *host_api(void);
/** Current host settings (after config). */
const host_settings *host_settings_get(void);
/** Process start time (for uptime). */
int64_t host_started_ms(void);

#endif

/* ---------------- host state (api.c; appended by host-core) ---------------- */
/** Record the validated settings (copied) and the start time; main calls it once, before any
 *  plugin is loaded. host_settings_get() returns this copy. */
void host_settings_set(const host_settings *set);
