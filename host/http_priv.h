/* Private to the HTTP module (router.c, http_*.c, metrics.c): the request record and the helpers
 * the HTTP files share. Nothing outside host/http* includes this. */
#ifndef AITBC_HTTP_PRIV_H
#define AITBC_HTTP_PRIV_H

#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>

#include <microhttpd.h>

#include "internal.h"

/* ---- router helpers (router.c) ---- */
/** @brief Percent-decode len bytes of in into out (needs len+1 bytes); '+' becomes ' ' when
 *  plus_is_space. @return decoded length, or -1 on a bad escape or a decoded NUL. */
long router_url_decode(const char *in, size_t len, char *out, int plus_is_space);
/** Called once per route by router_each / http_routes_each; owner is NULL for host routes. */
typedef void (*router_each_fn)(const aitbc_route *route, aitbc_plugin_ctx *owner, void *user);
/** @brief Every route, in trie order (callers sort what they show). */
void router_each(const router *r, router_each_fn fn, void *user);
/** @brief router_each over the live route table under its read lock (http_ops.c). */
void http_routes_each(router_each_fn fn, void *user);
/** @brief GET /v1/openapi.json (openapi.c). */
void openapi_handler(aitbc_request *req, void *user);
/** @brief Number of routes added. */
size_t router_count(const router *r);
/** @brief The path to match once http.path_prefix is applied: the rest after the prefix ("/" if
 *  the path is the prefix), else the path itself (routes answer with and without the prefix).
 *  NULL only for a NULL path. @return borrowed from path or static. */
const char *router_route_path(const char *prefix, const char *path);

/* ---- one request ---- */
typedef struct http_header {
    char *name;
    char *value;
    struct http_header *next;
} http_header;

typedef struct http_qarg {
    char *name;
    char *value;
} http_qarg;

enum req_phase {
    PH_NEW,     /* headers arrived, nothing checked yet */
    PH_BODY,    /* checks passed, body being read */
    PH_PARKED,  /* deferred: connection suspended */
    PH_RESUMED, /* woken or timed out: retry on the next access-handler call */
    PH_WRITING, /* a write route's handler/retry is queued on or running on the writer */
    PH_WRITTEN, /* its batch ended: finish on the next access-handler call */
    PH_DONE,    /* a response is queued */
};

struct aitbc_request {
    struct MHD_Connection *conn;
    char *uri; /* raw request target as received, query included */
    char method[16];
    char id[AITBC_ID_MAX];
    char remote[64];
    int64_t start_us; /* monotonic */
    enum req_phase phase;
    route_match m;
    int matched;    /* router_match found a route */
    int host_route; /* /healthz, /metrics */
    size_t limit;   /* body limit for this request */
    char *body;
    size_t body_len, body_cap;
    int too_large;
    int drain_all;    /* Content-Length over the limit: read and drop the body, then 413 */
    size_t discarded; /* body bytes dropped after the limit */
    cJSON *json;
    aitbc_principal principal;
    int has_principal;
    http_qarg *q;
    size_t nq;
    int q_parsed;
    char *bad_query;   /* the first query parameter that did not decode (bad escape, %00) */
    idem_record *idem; /* Idempotency-Key claim to settle with the answer */
    /* staged response */
    int responded;
    unsigned status;
    char *resp_body;
    size_t resp_len;
    char ctype[96];
    http_header *hdrs;
    /* deferral (http_defer.c; the park fields are guarded by the registry lock) */
    int deferred;
    char *wake_key;
    int64_t deadline_ms;
    aitbc_retry_fn retry;
    void *retry_user;
    int timed_out;
    int closing_retries; /* retries run while shutting down */
    int park_state;      /* 0 none, 1 registered, 2 suspended, 3 woken before suspended */
    writer_item witem;   /* write routes: the handler's turn on the writer (group commit) */
    struct aitbc_request *pnext, *pprev;
};

/* ---- http_request.c ---- */
/** @brief Free everything the request owns (not the request's MHD connection). */
void http_req_free(aitbc_request *req);
/** @brief Stage an error body; used by the pipeline before any handler runs. */
void http_error(aitbc_request *req, unsigned status, const char *code, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/** @brief Drop the staged response (status, body, headers) so another may be staged. */
void http_unstage(aitbc_request *req);
/** @brief Replace a staged response with an error (the work behind it was not committed). */
void http_restage_error(aitbc_request *req, unsigned status, const char *code, const char *msg);
/** @brief Hand the staged response to MHD. 0 on success. */
int http_queue(aitbc_request *req, int closing);

/** @brief Name of the first query parameter whose name or value does not decode (a bad percent
 *  escape or %00), or NULL. Borrowed from req. */
const char *http_req_bad_query(aitbc_request *req);

/* ---- http_strict.c ---- */
/** @brief Framing checks MHD does not make (conflicting Content-Length, a Transfer-Encoding
 *  other than plain chunked or with Content-Length, an undecodable query parameter): 0, or -1
 *  with a 400 staged. */
int strict_head_check(aitbc_request *req);

/* ---- http_defer.c ---- */
/** @brief Start the deadline thread. */
int defer_start(void);
/** @brief Called after the handler returned with req->deferred set: suspend and park. */
void defer_park(aitbc_request *req);
/** @brief Take back a defer() whose request will not park after all (its write batch failed). */
void defer_cancel(aitbc_request *req);
/** @brief Resume every parked request with timed_out = 1 and refuse new parking. */
void defer_shutdown(void);
/** @brief Stop the deadline thread (after the daemon stopped). */
void defer_stop(void);
/** @brief Nonzero once defer_shutdown ran. */
int defer_closing(void);
/** @brief Requests currently parked. */
size_t defer_parked(void);

/* ---- http_scope.c: an idempotent request as one transaction ---- */
/** @brief Open the calling thread's scope (store_txn_begin_scope). 0 or an AITBC_E* code. */
int scope_begin(void);
/** @brief Nonzero while the calling thread has a scope open. */
int scope_active(void);
/** @brief Commit (commit != 0) or roll back the scope, then release (committed) or drop what it
 *  held. 0 when committed; AITBC_E* otherwise. No-op 0 without a scope. */
int scope_end(int commit);

/* ---- http_guard.c: the request-head deadline ---- */
/** @brief MHD_OPTION_NOTIFY_CONNECTION callback: track (STARTED) or forget (CLOSED) a socket. */
void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                  enum MHD_ConnectionNotificationCode code);
/** @brief The request head arrived: no deadline while the request runs. */
void guard_head_done(struct MHD_Connection *conn);
/** @brief An answer went out: the next request's head is due within the timeout. */
void guard_next_head(struct MHD_Connection *conn);
/** @brief Start the guard thread (header_timeout_s 0 = no deadline). */
int guard_start(int header_timeout_s);
/** @brief Stop the guard thread (after the daemon stopped). */
void guard_stop(void);

/* ---- http_ops.c ---- */
/** @brief Register /healthz and /metrics. */
int http_ops_routes(void);
/** @brief Nonzero for the /metrics route (public from loopback, admin otherwise). */
int http_ops_is_metrics(const aitbc_route *route);
/** @brief Shared router access: match under the read lock. */
route_result http_routes_match(const char *method, const char *path, route_match *m);
/** @brief Drop the router (after the daemon stopped). */
void http_routes_free(void);
/* Frees the kept /healthz answer (shutdown, after the daemon stopped). */
void http_ops_free(void);

/* ---- http_server.c: the pipeline on MHD's callbacks ---- */
void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_size, void **req_cls);
void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe);
/** @brief Requests begun and not yet completed. */
int http_inflight(void);
/** @brief Set the shutting-down flag; @return its previous value. */
int http_set_closing(int on);

/* ---- http_daemon.c ---- */
/** @brief The settings the server started with (zeroed before http_start). */
const host_settings *http_settings(void);

/* ---- metrics.c ---- */
/** @brief Forget every series (tests, restart). */
void metrics_reset(void);

#endif
