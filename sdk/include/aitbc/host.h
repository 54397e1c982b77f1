/* The host API table: everything a plugin may ask of the host. Append-only; check `size`. */
#ifndef AITBC_HOST_H
#define AITBC_HOST_H

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "plugin.h"
#include "http.h"
#include "bus.h"
#include "store.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AITBC_HOST_API_VERSION 1u

/** 1 if the host's table has `entry` (entries appended after 1.0 are marked @since): a plugin
 *  that may run on an older host checks before calling, e.g. AITBC_HOST_HAS(api, service_names). */
#define AITBC_HOST_HAS(api, entry)                                                                 \
    ((api)->size >= offsetof(aitbc_host_api, entry) + sizeof((api)->entry))

typedef void (*aitbc_task_fn)(void *arg);
/** After a txn_submit'ed function: rc 0 = its writes committed; AITBC_EIO = the shared
 *  transaction failed (its writes are gone); AITBC_EUNAVAIL = shutting down, fn never ran. */
typedef void (*aitbc_write_done_fn)(void *arg, int rc);
typedef struct aitbc_timer aitbc_timer;

/**
 * Ownership: pointers passed in are borrowed until the call returns and copied if kept, unless
 * the line says TAKES. Pointers returned are borrowed (valid as stated) unless it says "caller
 * frees". Every function is thread-safe unless it says otherwise.
 */
struct aitbc_host_api {
    uint32_t size;    /**< sizeof(aitbc_host_api) of the host */
    uint32_t version; /**< AITBC_HOST_API_VERSION */

    /* ---- logging and config ---- */
    /** printf-style log line, prefixed with the plugin's name. */
    void (*log)(aitbc_plugin_ctx *ctx, aitbc_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /** The plugin's validated config section (an object, maybe empty). Borrowed for the plugin's
     * life. */
    const cJSON *(*config)(aitbc_plugin_ctx *ctx);
    /** node.data_dir, created by the host. Borrowed for the plugin's life. */
    const char *(*data_dir)(aitbc_plugin_ctx *ctx);
    /** Milliseconds since the Unix epoch (wall clock). */
    int64_t (*now_ms)(void);

    /* ---- HTTP: routes (call from start) ---- */
    /** Register a route. 0, or AITBC_EEXIST if method+path is taken. */
    int (*route)(aitbc_plugin_ctx *ctx, const aitbc_route *route);

    /* ---- HTTP: reading a request (borrowed until the response is sent) ---- */
    const char *(*req_method)(aitbc_request *req);
    /** Path parameter by name ("job_id"), already URL-decoded, or NULL. */
    const char *(*req_param)(aitbc_request *req, const char *name);
    /** Query argument by name, URL-decoded, or NULL. */
    const char *(*req_query)(aitbc_request *req, const char *name);
    /** Request header by name (case-insensitive), or NULL. */
    const char *(*req_header)(aitbc_request *req, const char *name);
    /** Parsed JSON body for AITBC_BODY_JSON routes; NULL when the body was empty. */
    const cJSON *(*req_json)(aitbc_request *req);
    /** Raw body bytes (NUL-terminated) and length; "" when empty. */
    const char *(*req_body)(aitbc_request *req, size_t *len);
    /** The authenticated caller, or NULL on public routes. */
    const aitbc_principal *(*req_principal)(aitbc_request *req);
    /** Remote IP address as text. */
    const char *(*req_remote)(aitbc_request *req);

    /* ---- HTTP: answering (exactly one response per request) ---- */
    /** Add a response header to the coming response. */
    void (*resp_header)(aitbc_request *req, const char *name, const char *value);
    /** JSON response. TAKES body (may be NULL for an empty object). */
    void (*respond_json)(aitbc_request *req, unsigned status, cJSON *body);
    /** Raw response; data copied. */
    void (*respond_raw)(aitbc_request *req, unsigned status, const char *content_type,
                        const char *data, size_t len);
    /** The API.md error body {"error":{"code","message","field"?}}. field may be NULL. */
    void (*respond_error)(aitbc_request *req, unsigned status, const char *code, const char *field,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
    /** Long-poll: park the request (connection suspended, no thread held) until wake(key) or
     *  deadline_ms (absolute, now_ms clock); then retry(req, user, timed_out) runs on an HTTP
     *  thread. The handler returns right after calling defer. key is copied. */
    void (*defer)(aitbc_request *req, const char *wake_key, int64_t deadline_ms,
                  aitbc_retry_fn retry, void *user);
    /** Wake every request deferred on key (e.g. "job:job_…", "jobs:queued"). Any thread. */
    void (*wake)(const char *wake_key);

    /* ---- event bus ---- */
    /** Declare a topic (from init or start). Copied. */
    int (*bus_topic)(aitbc_plugin_ctx *ctx, const aitbc_topic *topic);
    /** Publish: data is deep-copied, delivery is asynchronous on the dispatcher thread. Only on a
     *  topic this plugin declared (else AITBC_EFORBIDDEN). Any thread; never blocks on subscribers.
     */
    int (*bus_publish)(aitbc_plugin_ctx *ctx, const char *topic, const cJSON *data);
    /** Subscribe to a topic ("*" = all). fn runs on the dispatcher thread. */
    int (*bus_subscribe)(aitbc_plugin_ctx *ctx, const char *topic, aitbc_event_fn fn, void *user);

    /* ---- storage ---- */
    /** Run the plugin's migrations (from init). Steps already applied are skipped. */
    int (*migrate)(aitbc_plugin_ctx *ctx, const aitbc_migration *steps, size_t n);
    /** Begin a transaction on this thread's connection (WRITE = BEGIN IMMEDIATE). If this thread
     *  already has one open, returns it nested: only the outermost commit commits. NULL on error.
     */
    aitbc_txn *(*txn_begin)(int mode);
    /** Commit (outermost) or just close a nesting level. 0 or AITBC_EIO/AITBC_EBUSY. */
    int (*txn_commit)(aitbc_txn *txn);
    /** Roll back the whole transaction (any level marks the outermost as failed). */
    void (*txn_rollback)(aitbc_txn *txn);
    /** Prepared statement for sql (cached per connection). NULL on SQL error (logged). */
    aitbc_stmt *(*stmt)(aitbc_txn *txn, const char *sql);
    /* Binding is 1-based, as in SQLite. text is copied. */
    int (*bind_int64)(aitbc_stmt *s, int idx, int64_t v);
    int (*bind_text)(aitbc_stmt *s, int idx, const char *text);
    int (*bind_blob)(aitbc_stmt *s, int idx, const void *data, size_t len);
    int (*bind_null)(aitbc_stmt *s, int idx);
    /** AITBC_ROW, AITBC_DONE, or a negative error (AITBC_EEXIST on a UNIQUE violation). */
    int (*step)(aitbc_stmt *s);
    /* Columns are 0-based. text/blob are borrowed until the next step or stmt_done. */
    int64_t (*col_int64)(aitbc_stmt *s, int col);
    const char *(*col_text)(aitbc_stmt *s, int col); /**< NULL for SQL NULL */
    const void *(*col_blob)(aitbc_stmt *s, int col, size_t *len);
    int (*col_is_null)(aitbc_stmt *s, int col);
    /** Rows changed by the last step of a write statement. */
    int64_t (*changes)(aitbc_stmt *s);
    /** Reset the statement for reuse and release it back to the cache. */
    void (*stmt_done)(aitbc_stmt *s);

    /* ---- service registry ---- */
    /** Provide a service table "name@major" (from init). table is borrowed for the plugin's life.
     */
    int (*service_register)(aitbc_plugin_ctx *ctx, const char *name_at_version, const void *table);
    /** Look a service up (from start or later); NULL if nobody provides it. */
    const void *(*service_lookup)(const char *name_at_version);

    /* ---- work ---- */
    /** Run fn(arg) on the worker pool (a few threads shared by every plugin; fn may block on the
     *  database but not for long: other plugins' tasks wait behind it). */
    int (*submit)(aitbc_task_fn fn, void *arg);
    /** Call fn(arg) every interval_ms on the timer thread (first call after interval_ms).
     *  Callbacks of one timer never overlap. Every timer of every plugin shares that thread, so
     *  fn must be short: write through txn_submit, hand slow work to submit. Cancel with
     *  timer_cancel (blocks until not running). */
    aitbc_timer *(*timer_add)(aitbc_plugin_ctx *ctx, int64_t interval_ms, aitbc_task_fn fn,
                              void *arg);
    void (*timer_cancel)(aitbc_timer *t);

    /* ---- appended in 1.1: check `size` covers an entry before calling it ---- */
    /* ---- HTTP: more request accessors ---- */
    /** @since 1.1. Request id (the Request-Id response header) for logs. */
    const char *(*req_id)(aitbc_request *req);

    /* ---- the node (appended) ---- */
    /** @since 1.1. Number of loaded plugins. */
    size_t (*plugin_count)(void);
    /** @since 1.1. Name and version of the i-th plugin in start order (borrowed for the host's
     * life). 0, or AITBC_ENOTFOUND past the end. */
    int (*plugin_info)(size_t i, const char **name, const char **version);
    /** @since 1.1. Wall-clock ms when the host started (uptime = now_ms() - started_ms()). */
    int64_t (*started_ms)(void);

    /* ---- service registry ---- */
    /** @since 1.1. Names of the registered services starting with prefix (NULL or "" = all), e.g.
     *  every "compute:" backend. Up to max names go to out (borrowed for the host's life).
     *  Returns how many match, which may exceed max. Call from start or later. */
    size_t (*service_names)(const char *prefix, const char **out, size_t max);

    /* ---- storage (appended) ---- */
    /** @since 1.1. Run fn(arg) on the host's writer, inside a transaction shared with other
     *  writes (group commit; see aitbc_route.write): fn uses txn_begin/commit as usual and a
     *  rollback undoes only its own work; its bus_publish/wake calls are held until the commit.
     *  Then done(arg, rc) runs on the writer (it must not block). For timers and other threads
     *  that write often. 0, or AITBC_EUNAVAIL (not running: nothing runs, done is not called). */
    int (*txn_submit)(aitbc_task_fn fn, void *arg, aitbc_write_done_fn done);
    /** @since 1.1. On the writer (a write route's handler or a txn_submit'ed function): run
     *  done(arg, rc) on the writer once the shared transaction has ended — rc 0 = committed,
     *  AITBC_EIO = it failed and every write in it is gone — before any request in it is
     *  answered. For state kept in memory beside the database (undo it when rc != 0); it must
     *  not block. 0; AITBC_EINVAL when not on the writer (the caller's commit was final);
     *  AITBC_ENOMEM (nothing registered: do not change such state). */
    int (*txn_after)(aitbc_write_done_fn done, void *arg);

    /* ---- appended in 1.3 ---- */
    /** @since 1.3. The storage driver in use: "sqlite" or "postgres" (borrowed, static). For the
     *  few statements that must differ between the two; write portable SQL everywhere else
     *  (docs/plugins.md, "Portable SQL"). */
    const char *(*storage_driver)(void);

    /* ---- several hosts on one database ---- */
    /** @since 1.3. 1 when this host holds the leader role `role` ([A-Za-z0-9._:-]{1,63}, e.g.
     *  "chain.producer"), for work only one host may do at a time. The first call
     *  asks for the role; with several hosts on one PostgreSQL, one of them gets it within about a
     *  second and keeps it until it stops or dies (then another takes over within a few seconds).
     *  Called on the writer (a write route's handler or a txn_submit'ed function) the answer is
     *  fenced: it is checked in the database inside that transaction, so a write made after a
     *  1 commits before any write of a later leader. Elsewhere it is a hint (e.g. whether to
     *  queue the work at all). Always 1 on SQLite (one host). Use aitbc_leader() below. */
    int (*leader)(aitbc_plugin_ctx *ctx, const char *role);

    /* ---- bus ---- */
    /** @since 1.3. bus_publish of data the plugin hands over: the host keeps it (no copy) and
     *  frees it whatever the outcome, so the caller must not touch it again. For events built
     *  only to be published (a write batch holds each until its commit). Use
     *  aitbc_publish_take() below. */
    int (*bus_publish_take)(aitbc_plugin_ctx *ctx, const char *topic, cJSON *data);

    /* ---- storage: state derived from committed data ---- */
    /** @since 1.3. How many write transactions (a writer batch counts as one) have ended in this
     *  process, committed or rolled back. Counted after the COMMIT or ROLLBACK and before the
     *  next write may begin, so a value read while a write transaction is open on this process
     *  is exceeded exactly once that transaction has ended. For a copy of committed state kept in
     *  memory: a write made at count n is settled (committed or gone) once write_turns() > n, and
     *  a read transaction begun after that sees its outcome. Any thread, lock-free. */
    uint64_t (*write_turns)(void);
};

/** 1 when this host holds `role` (see `leader`); 1 on a host older than 1.3 (one host). */
static inline int aitbc_leader(const aitbc_host_api *api, aitbc_plugin_ctx *ctx, const char *role) {
    return AITBC_HOST_HAS(api, leader) ? api->leader(ctx, role) : 1;
}

/** Publish data and give it up (see bus_publish_take); on a host older than 1.3, publish a copy
 *  and free data here. */
static inline int aitbc_publish_take(const aitbc_host_api *api, aitbc_plugin_ctx *ctx,
                                     const char *topic, cJSON *data) {
    if (AITBC_HOST_HAS(api, bus_publish_take)) return api->bus_publish_take(ctx, topic, data);
    int rc = api->bus_publish(ctx, topic, data);
    cJSON_Delete(data);
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif
