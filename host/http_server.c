/* The HTTP request pipeline on libmicrohttpd's callbacks, in the order API.md
 * fixes: 413 (Content-Length, before the body is read) → 404/405 → auth (401/429/503) → 403 →
 * 415 → 400 invalid_json → Idempotency-Key → handler. Checks that need only headers run on the
 * first access-handler call, so a refused request never has its body read. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <sodium.h>

#include "http_priv.h"

#define MAX_CLOSING_RETRIES 4

static atomic_int g_inflight; /* requests between the request line and on_completed */
static atomic_int g_closing;

int http_inflight(void) {
    return atomic_load(&g_inflight);
}

int http_set_closing(int on) {
    return atomic_exchange(&g_closing, on);
}

/* Request ids only need to be unique, not secret: each thread draws 128 random bits once and then
 * counts, instead of a getrandom() system call per request. Same "req_" + 26 base32 shape. */
static void next_request_id(char out[AITBC_ID_MAX]) {
    static _Thread_local unsigned char state[16];
    static _Thread_local int seeded;
    static const char base32[] = "abcdefghijklmnopqrstuvwxyz234567";
    if (!seeded) {
        if (sodium_init() < 0)
            abort(); /* no randomness: the SDK's ids refuse to run without it too */
        randombytes_buf(state, sizeof state);
        seeded = 1;
    }
    for (int i = 15; i >= 8 && ++state[i] == 0; i--) /* a 64-bit counter in the low half */
        ;
    unsigned char bytes[17] = {0};
    memcpy(bytes, state, 16);
    memcpy(out, "req_", 4);
    for (int i = 0; i < 26; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = ((unsigned)bytes[byte] << 8 | bytes[byte + 1]) >> (11 - shift);
        out[4 + i] = base32[v & 31];
    }
    out[30] = '\0';
}

void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    aitbc_request *req = calloc(1, sizeof *req);
    if (!req) return NULL;
    req->uri = strdup(uri ? uri : "");
    if (!req->uri) {
        free(req);
        return NULL;
    }
    req->conn = conn;
    req->start_us = aitbc_mono_us();
    next_request_id(req->id);
    atomic_fetch_add(&g_inflight, 1);
    return req;
}

static void fill_remote(aitbc_request *req) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(req->remote, sizeof req->remote, "unknown");
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req->remote,
                  sizeof req->remote);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->remote,
                  sizeof req->remote);
}

static int is_loopback(const char *ip) {
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

/* "application/json", any case, optionally followed by parameters ("; charset=utf-8"). */
static int is_json_type(const char *ct) {
    if (!ct) return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof want - 1) != 0) return 0;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* -1: no Content-Length (or unparsable; MHD rejects those itself). */
static long long content_length(aitbc_request *req) {
    const char *cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl) return -1;
    char *end = NULL;
    unsigned long long v = strtoull(cl, &end, 10);
    if (end == cl) return -1;
    return v > (unsigned long long)INT64_MAX ? INT64_MAX : (long long)v;
}

/* The path part of the raw request target. Returns a malloc'd copy or NULL. */
static char *raw_path(const char *uri) {
    size_t len = strcspn(uri, "?#");
    return strndup(uri, len);
}

static int authenticate(aitbc_request *req) {
    const aitbc_auth_v1 *auth = services_auth();
    if (!auth) {
        http_error(req, 503, "unavailable", NULL, "Authentication is not available.");
        return -1;
    }
    int retry_after = 0;
    const char *key = http_req_header(req, "X-Api-Key");
    int rc = auth->authenticate(auth->self, key, req->remote, &req->principal, &retry_after);
    if (rc == 0) {
        req->has_principal = 1;
        return 0;
    }
    if (rc == AITBC_ERATE) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", retry_after > 0 ? retry_after : 1);
        http_resp_header(req, "Retry-After", ra);
        http_error(req, 429, "rate_limited", NULL, "Too many requests; retry after %s s.", ra);
    } else if (rc == AITBC_EAUTH) {
        http_error(req, 401, "unauthenticated", NULL,
                   key ? "The API key is not valid." : "An X-Api-Key header is required.");
    } else {
        hlog("http", AITBC_LOG_ERROR, "request %s: auth service failed (%d)", req->id, rc);
        http_error(req, 503, "unavailable", NULL, "Authentication is not available.");
    }
    return -1;
}

/* MHD 0.9.75 cannot answer in the middle of a body, so an over-limit chunked body is read and
 * dropped up to this much more, then the connection is closed without an answer. */
#define DISCARD_MAX ((size_t)16 * 1024 * 1024)

/* "Expect: 100-continue": the client waits for a go-ahead before it sends the body, so an early
 * answer reaches it without a body in flight. */
static int expects_continue(aitbc_request *req) {
    const char *e = http_req_header(req, MHD_HTTP_HEADER_EXPECT);
    return e && strcasecmp(e, "100-continue") == 0;
}

/* Everything decided from the request line and headers. 0: go on and read the body. */
static int header_checks(aitbc_request *req) {
    char *path = raw_path(req->uri);
    if (!path) {
        http_error(req, 500, "internal", NULL, "Internal error.");
        return -1;
    }
    const char *rpath = router_route_path(http_settings()->path_prefix, path);
    route_result rr = ROUTE_NOT_FOUND;
    if (rpath) {
        rr = http_routes_match(req->method, rpath, &req->m);
        /* HEAD is served by the GET route (MHD drops the body). */
        if (rr != ROUTE_FOUND && strcmp(req->method, "HEAD") == 0) {
            route_match get;
            if (http_routes_match("GET", rpath, &get) == ROUTE_FOUND) {
                route_match_free(&req->m);
                req->m = get;
                rr = ROUTE_FOUND;
            } else {
                route_match_free(&get);
            }
        }
    }
    free(path);
    req->matched = rr == ROUTE_FOUND;
    if (strict_head_check(req) != 0) return -1;
    const aitbc_route *route = req->matched ? req->m.route : NULL;
    req->limit =
        route && route->max_body_bytes ? route->max_body_bytes : http_settings()->max_body_bytes;
    long long cl = content_length(req);
    if (cl > 0 && (unsigned long long)cl > req->limit) {
        if (!expects_continue(req) && (unsigned long long)cl - req->limit <= DISCARD_MAX) {
            /* Answering now would close the socket under a client still sending: the kernel
             * resets the connection and most clients report a broken pipe, never the 413. So
             * the body is read and dropped, and the 413 goes out once it is in. */
            req->too_large = 1;
            req->drain_all = 1;
            return 0;
        }
        http_error(req, 413, "payload_too_large", NULL, "The body is larger than %zu bytes.",
                   req->limit);
        return -1;
    }
    if (rr == ROUTE_NOT_FOUND) {
        http_error(req, 404, "not_found", NULL, "No such resource.");
        return -1;
    }
    if (rr == ROUTE_METHOD_NOT_ALLOWED) {
        http_resp_header(req, "Allow", req->m.allow);
        http_error(req, 405, "method_not_allowed", NULL, "Method %s is not allowed here.",
                   req->method);
        return -1;
    }
    req->host_route = req->m.owner == NULL;
    int open_metrics = http_ops_is_metrics(route) && is_loopback(req->remote);
    if (route->roles != AITBC_ROLE_PUBLIC && !open_metrics) {
        if (authenticate(req) != 0) return -1;
        if (!(req->principal.role & route->roles)) {
            http_error(req, 403, "forbidden", NULL, "This key may not use this endpoint.");
            return -1;
        }
    }
    if (route->body == AITBC_BODY_JSON && cl > 0 &&
        !is_json_type(http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        http_error(req, 415, "unsupported_media_type", NULL, "The body must be application/json.");
        return -1;
    }
    return 0;
}

/* 0 to go on, -1 to close the connection. */
static int take_body(aitbc_request *req, const char *data, size_t len) {
    if (req->too_large) {
        req->discarded += len;
        /* A drained Content-Length body was bounded before it was read. */
        return !req->drain_all && req->discarded > DISCARD_MAX ? -1 : 0;
    }
    if (len > req->limit - req->body_len) {
        /* Chunked (or lying) bodies are cut off at the limit. */
        req->too_large = 1;
        free(req->body);
        req->body = NULL;
        req->body_len = req->body_cap = 0;
        req->discarded = len;
        return 0;
    }
    if (req->body_len + len + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 1024;
        while (cap < req->body_len + len + 1)
            cap *= 2;
        char *grown = realloc(req->body, cap);
        if (!grown) return -1;
        req->body = grown;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
    return 0;
}

static void idempotency_begin(aitbc_request *req) {
    const char *key = http_req_header(req, "Idempotency-Key");
    if (!key || !req->has_principal) return;
    const char *account =
        req->principal.owner_address[0] ? req->principal.owner_address : req->principal.key_id;
    /* Keys are scoped to the concrete path: one key space per job's /complete, say, not one shared
     * by every job; the path prefix does not make a different resource. */
    char *path = raw_path(req->uri);
    const char *rpath = path ? router_route_path(http_settings()->path_prefix, path) : NULL;
    char route_key[600];
    snprintf(route_key, sizeof route_key, "%s %.560s", req->m.route->method, rpath ? rpath : "");
    free(path);
    /* Claim, work and answer commit as one transaction (finish() ends it). */
    if (!writer_in_batch() && scope_begin() != 0) { /* the writer's batch is that already */
        http_error(req, 503, "unavailable", NULL, "The server is busy; retry with the same key.");
        return;
    }
    unsigned status = 0;
    char *stored = NULL;
    switch (idem_begin(account, route_key, key, req->json, &req->idem, &status, &stored)) {
    case IDEM_PROCEED:
        break;
    case IDEM_REPLAY:
        http_respond_raw(req, status, "application/json", stored, strlen(stored));
        break;
    case IDEM_MISMATCH:
        http_error(req, 409, "idempotency_mismatch", "Idempotency-Key",
                   "This Idempotency-Key was used with a different body.");
        break;
    case IDEM_BUSY:
        http_error(req, 409, "in_progress", "Idempotency-Key",
                   "The first request with this Idempotency-Key is still running.");
        break;
    case IDEM_BAD_KEY:
        http_error(req, 400, "invalid_argument", "Idempotency-Key",
                   "Idempotency-Key must be 1 to 255 characters of UTF-8.");
        break;
    default:
        http_error(req, 500, "internal", NULL, "Internal error.");
        break;
    }
    free(stored);
}

/* The body is complete: the checks that need it. 0 to go on to the handler. */
static int body_checks(aitbc_request *req) {
    const aitbc_route *route = req->m.route;
    if (req->too_large) {
        http_error(req, 413, "payload_too_large", NULL, "The body is larger than %zu bytes.",
                   req->limit);
        return -1;
    }
    if (route->body == AITBC_BODY_JSON && req->body_len > 0) {
        if (!is_json_type(http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
            http_error(req, 415, "unsupported_media_type", NULL,
                       "The body must be application/json.");
            return -1;
        }
        char where[128];
        req->json = aitbc_json_parse_strict_at(req->body, req->body_len, where, sizeof where);
        if (!req->json && where[0]) {
            http_error(req, 400, "invalid_json", where,
                       "A number that is not a finite double (1e999), or a member name given "
                       "twice in one object.");
            return -1;
        }
        if (!req->json) {
            http_error(req, 400, "invalid_json", NULL, "The body is not valid JSON.");
            return -1;
        }
    }
    return 0;
}

/* Idempotency-Key, then the handler. */
static void run_handler(aitbc_request *req) {
    const aitbc_route *route = req->m.route;
    if (route->idempotent) {
        idempotency_begin(req);
        if (req->responded) return;
    }
    hlog_set_request_id(req->id); /* the plugin's log lines name the request (JSON logs) */
    /* Reads share one transaction per request; it ends when the handler returns, before a
     * deferred request parks. Write routes run on the writer, inside its batch. */
    if (!route->write) store_read_scope_begin();
    route->handler(req, route->user);
    if (!route->write) store_read_scope_end();
    hlog_set_request_id(NULL);
}

static void run_retry(aitbc_request *req) {
    aitbc_retry_fn retry = req->retry;
    void *user = req->retry_user;
    int timed_out = req->timed_out;
    req->deferred = 0;
    req->retry = NULL;
    if (atomic_load(&g_closing) && ++req->closing_retries > MAX_CLOSING_RETRIES) {
        http_error(req, 503, "unavailable", NULL, "The server is shutting down.");
        return;
    }
    hlog_set_request_id(req->id);
    int reads = !req->m.route->write;
    if (reads) store_read_scope_begin();
    retry(req, user, timed_out);
    if (reads) store_read_scope_end();
    hlog_set_request_id(NULL);
}

static void settle_idempotency(aitbc_request *req) {
    if (req->idem) {
        idem_finish(req->idem, req->status, req->resp_body, req->resp_len);
        req->idem = NULL;
    }
}

/* After a handler or retry returned: park, or hand the response to MHD. */
static enum MHD_Result finish(aitbc_request *req) {
    if (req->deferred) {
        /* A keyed request may not hold the write transaction while parked: what it did so far
         * commits now and its answer is recorded on its own when it comes. */
        if (scope_active() && scope_end(1) != 0)
            hlog("http", AITBC_LOG_ERROR, "request %s: commit before parking failed", req->id);
        defer_park(req);
        return MHD_YES;
    }
    if (!req->responded) {
        hlog("http", AITBC_LOG_ERROR, "request %s: handler for %s %s returned without a response",
             req->id, req->method, req->m.pattern ? req->m.pattern : "?");
        http_error(req, 500, "internal", NULL, "Internal error.");
    }
    settle_idempotency(req);
    if (scope_active() && scope_end(1) != 0)
        http_restage_error(req, 503, "unavailable",
                           "The request could not be committed and nothing was done; retry with "
                           "the same Idempotency-Key.");
    return http_queue(req, atomic_load(&g_closing)) == 0 ? MHD_YES : MHD_NO;
}

/* ---- write routes: the handler runs on the writer, the answer waits for the commit ---- */

/* On the writer, inside the batch: the handler, then (answer final) the Idempotency-Key record,
 * so the record commits with the work or not at all. */
static void write_run(void *arg) {
    aitbc_request *req = arg;
    run_handler(req);
    if (req->deferred) return;
    if (!req->responded) {
        hlog("http", AITBC_LOG_ERROR, "request %s: handler for %s %s returned without a response",
             req->id, req->method, req->m.pattern ? req->m.pattern : "?");
        http_error(req, 500, "internal", NULL, "Internal error.");
    }
    settle_idempotency(req);
}

/* On the writer after the batch: a failed batch answers 503 (nothing it did is kept); then the
 * connection resumes and finish() sends the answer or parks the deferral. */
static void write_settle(void *arg, int outcome) {
    aitbc_request *req = arg;
    if (outcome != WRITER_COMMITTED) {
        if (req->deferred) defer_cancel(req);
        if (req->idem) /* claimed in an earlier batch: let the client retry with the key */
            idem_finish(req->idem, 503, NULL, 0);
        req->idem = NULL;
        http_unstage(req);
        http_resp_header(req, "Retry-After", "1");
        http_error(req, 503, "unavailable", NULL, "The write could not be committed; retry.");
    }
    req->phase = PH_WRITTEN;
    MHD_resume_connection(req->conn);
}

/* Hand a write route's handler to the writer; the connection waits suspended. */
static enum MHD_Result to_writer(aitbc_request *req) {
    req->witem.run = write_run;
    req->witem.settle = write_settle;
    req->witem.arg = req;
    req->phase = PH_WRITING;
    MHD_suspend_connection(req->conn); /* before submitting: the writer may resume at once */
    if (writer_submit(&req->witem) == 0) return MHD_YES;
    /* No writer (stopping, or a host without one): run here, one transaction per request. */
    write_run(req);
    req->phase = PH_WRITTEN;
    MHD_resume_connection(req->conn);
    return MHD_YES;
}

enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_size, void **req_cls) {
    (void)cls;
    (void)url;
    (void)version;
    aitbc_request *req = *req_cls;
    if (!req) return MHD_NO; /* out of memory when the request began */
    switch (req->phase) {
    case PH_NEW:
        guard_head_done(conn);
        req->conn = conn;
        snprintf(req->method, sizeof req->method, "%s", method);
        fill_remote(req);
        req->phase = PH_BODY;
        if (header_checks(req) != 0) return finish(req);
        return MHD_YES;
    case PH_BODY:
        if (*upload_size) {
            int keep = take_body(req, upload_data, *upload_size) == 0;
            *upload_size = 0;
            if (!keep)
                hlog("http", AITBC_LOG_WARN, "request %s: body far over the limit, closing",
                     req->id);
            return keep ? MHD_YES : MHD_NO;
        }
        if (body_checks(req) != 0) return finish(req);
        if (req->m.route->write) return to_writer(req);
        run_handler(req);
        return finish(req);
    case PH_RESUMED:
        /* A retry runs here even on a write route: a queued job wakes every parked poll, and
         * all but one find nothing; through the writer each would cost two more suspend/resume
         * round trips in line behind real writes. Its writes use their own transaction. */
        run_retry(req);
        return finish(req);
    case PH_WRITTEN:
        return finish(req);
    case PH_WRITING:
    case PH_PARKED:
    case PH_DONE:
        /* Body bytes after an early answer are dropped. */
        *upload_size = 0;
        return MHD_YES;
    }
    return MHD_NO;
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe) {
    (void)cls;
    aitbc_request *req = *req_cls;
    if (!req) return;
    *req_cls = NULL;
    if (conn) guard_next_head(conn);
    int64_t micros = aitbc_mono_us() - req->start_us;
    if (req->idem) /* never answered (client gone): forget the claim so a retry can run */
        idem_finish(req->idem, 499, NULL, 0);
    /* A long-poll parked by its handler on the writer: the client hung up before the resumed
     * connection came back to park it, so it is still in the registry. */
    if (req->deferred) defer_cancel(req);
    unsigned status = req->phase == PH_DONE ? req->status : 0;
    int library_answer = 0;
    if (!status && conn) {
        /* An answer libmicrohttpd wrote itself (431, a malformed chunk or Content-Length…):
         * logged and counted like ours, though its body is the library's. */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        if (ci && ci->http_status) {
            status = ci->http_status;
            library_answer = 1;
            if (!req->remote[0]) fill_remote(req);
        }
    }
    metrics_observe(req->method[0] ? req->method : "OTHER", req->matched ? req->m.pattern : NULL,
                    status, micros);
    if (http_settings()->http_access_log) {
        int plen = (int)strcspn(req->uri, "?#");
        hlog_set_request_id(req->id);
        hlog_buffered("http", AITBC_LOG_INFO, "%s %.*s %u %zu %lldus %s %s%s",
                      req->method[0] ? req->method : "-", plen, req->uri, status,
                      status ? req->resp_len : (size_t)0, (long long)micros, req->id, req->remote,
                      library_answer                               ? " (libmicrohttpd's answer)"
                      : toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
                                                                   : " (aborted)");
        hlog_set_request_id(NULL);
    }
    http_req_free(req);
    atomic_fetch_sub(&g_inflight, 1);
}
