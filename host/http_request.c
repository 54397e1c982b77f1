/* One HTTP exchange as plugins see it: request accessors (method, params, query, headers, body,
 * principal) and the staged response (status, body, headers) that the server hands to MHD once
 * the handler returns. Staging instead of queueing at once keeps "exactly one response" easy to
 * enforce and lets handlers add headers in any order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "http_priv.h"
#include "aitbc/json.h"

const char *http_req_method(aitbc_request *req) {
    return req ? req->method : NULL;
}

const char *http_req_param(aitbc_request *req, const char *name) {
    if (!req || !name) return NULL;
    for (size_t i = 0; i < req->m.nparams; i++)
        if (req->m.names[i] && strcmp(req->m.names[i], name) == 0) return req->m.values[i];
    return NULL;
}

/* Parse the query string of the raw URI once, decoding names and values ('+' is a space). A name
 * or value that does not decode, or decodes to a NUL or to bytes that are not UTF-8, is the
 * request's bad_query (answered 400): values reach SQL as text, which PostgreSQL wants UTF-8. */
static void parse_query(aitbc_request *req) {
    req->q_parsed = 1;
    const char *qs = req->uri ? strchr(req->uri, '?') : NULL;
    if (!qs || !qs[1]) return;
    qs++;
    size_t n = 1;
    for (const char *p = qs; *p; p++)
        n += *p == '&';
    req->q = calloc(n, sizeof *req->q);
    if (!req->q) return;
    const char *s = qs;
    while (*s) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        const char *fragment = memchr(s, '#', len);
        if (fragment) len = (size_t)(fragment - s);
        const char *eq = memchr(s, '=', len);
        size_t nlen = eq ? (size_t)(eq - s) : len;
        size_t vlen = eq ? len - nlen - 1 : 0;
        if (nlen > 0) {
            char *name = malloc(nlen + 1), *value = malloc(vlen + 1);
            long nl = name && value ? router_url_decode(s, nlen, name, 1) : -1;
            long vl = nl >= 0 ? router_url_decode(eq ? eq + 1 : "", vlen, value, 1) : -1;
            if (vl >= 0 && aitbc_utf8_valid(name, (size_t)nl) &&
                aitbc_utf8_valid(value, (size_t)vl)) {
                req->q[req->nq].name = name;
                req->q[req->nq].value = value;
                req->nq++;
            } else {
                if (!req->bad_query) req->bad_query = strndup(s, nlen > 64 ? 64 : nlen);
                free(name);
                free(value);
            }
        }
        if (fragment || !amp) break;
        s = amp + 1;
    }
}

const char *http_req_bad_query(aitbc_request *req) {
    if (!req->q_parsed) parse_query(req);
    return req->bad_query;
}

const char *http_req_query(aitbc_request *req, const char *name) {
    if (!req || !name) return NULL;
    if (!req->q_parsed) parse_query(req);
    for (size_t i = 0; i < req->nq; i++)
        if (strcmp(req->q[i].name, name) == 0) return req->q[i].value;
    return NULL;
}

const char *http_req_header(aitbc_request *req, const char *name) {
    if (!req || !req->conn || !name) return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const cJSON *http_req_json(aitbc_request *req) {
    return req ? req->json : NULL;
}

const char *http_req_body(aitbc_request *req, size_t *len) {
    if (len) *len = req && req->body ? req->body_len : 0;
    return req && req->body ? req->body : "";
}

const aitbc_principal *http_req_principal(aitbc_request *req) {
    return req && req->has_principal ? &req->principal : NULL;
}

const char *http_req_remote(aitbc_request *req) {
    return req ? req->remote : NULL;
}

const char *http_req_id(aitbc_request *req) {
    return req ? req->id : NULL;
}

/* Header names and values must not smuggle line breaks into the response. */
static int header_safe(const char *s) {
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') return 0;
    return 1;
}

void http_resp_header(aitbc_request *req, const char *name, const char *value) {
    if (!req || !name || !value || !name[0] || !header_safe(name) || !header_safe(value)) {
        hlog("http", AITBC_LOG_WARN, "refused response header %s", name ? name : "(null)");
        return;
    }
    http_header *h = calloc(1, sizeof *h);
    if (!h || !(h->name = strdup(name)) || !(h->value = strdup(value))) {
        if (h) free(h->name);
        free(h);
        return;
    }
    http_header **tail = &req->hdrs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
}

/* A second response is a plugin bug: keep the first, log the second. */
static int stage_allowed(aitbc_request *req, unsigned status) {
    if (!req) return 0;
    if (req->responded || req->phase == PH_DONE) {
        hlog("http", AITBC_LOG_ERROR, "request %s: second response (%u) ignored", req->id, status);
        return 0;
    }
    if (req->deferred) {
        hlog("http", AITBC_LOG_ERROR, "request %s: response after defer ignored", req->id);
        return 0;
    }
    return 1;
}

static void stage(aitbc_request *req, unsigned status, const char *ctype, char *body, size_t len) {
    if (status < 100 || status > 599) {
        hlog("http", AITBC_LOG_ERROR, "request %s: invalid status %u", req->id, status);
        free(body);
        body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"Internal error.\"}}");
        len = body ? strlen(body) : 0;
        status = 500;
        ctype = "application/json";
    }
    req->responded = 1;
    req->status = status;
    req->resp_body = body;
    req->resp_len = len;
    snprintf(req->ctype, sizeof req->ctype, "%s", ctype ? ctype : "application/octet-stream");
}

void http_respond_json(aitbc_request *req, unsigned status, cJSON *body) {
    if (!stage_allowed(req, status)) {
        cJSON_Delete(body);
        return;
    }
    char *text = body ? aitbc_json_print(body) : strdup("{}");
    cJSON_Delete(body);
    if (!text) {
        status = 500;
        text = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"Out of memory.\"}}");
    }
    stage(req, status, "application/json", text, text ? strlen(text) : 0);
}

void http_respond_raw(aitbc_request *req, unsigned status, const char *ctype, const char *data,
                      size_t len) {
    if (!stage_allowed(req, status)) return;
    char *copy = malloc(len + 1);
    if (!copy) {
        stage(req, 500, "text/plain", NULL, 0);
        return;
    }
    if (len) memcpy(copy, data, len);
    copy[len] = '\0';
    stage(req, status, ctype, copy, len);
}

void http_respond_errorv(aitbc_request *req, unsigned status, const char *code, const char *field,
                         const char *fmt, va_list ap) {
    if (!stage_allowed(req, status)) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt ? fmt : "", ap);
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", code ? code : "internal");
    cJSON_AddStringToObject(err, "message", msg);
    if (field) cJSON_AddStringToObject(err, "field", field);
    http_respond_json(req, status, root);
}

void http_error(aitbc_request *req, unsigned status, const char *code, const char *field,
                const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    http_respond_errorv(req, status, code, field, fmt, ap);
    va_end(ap);
}

void http_restage_error(aitbc_request *req, unsigned status, const char *code, const char *msg) {
    http_unstage(req);
    http_error(req, status, code, NULL, "%s", msg);
}

int http_queue(aitbc_request *req, int closing) {
    if (!req->responded) return -1;
    /* The request owns the body until on_completed, which MHD calls after the last byte went
     * out, so MHD may borrow it; a refused queue loses nothing. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        req->resp_len, req->resp_body ? req->resp_body : (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) return -1;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->ctype);
    MHD_add_response_header(resp, "Request-Id", req->id);
    for (http_header *h = req->hdrs; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    if (closing) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(req->conn, req->status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES) return -1;
    req->phase = PH_DONE;
    return 0;
}

void http_unstage(aitbc_request *req) {
    free(req->resp_body);
    req->resp_body = NULL;
    req->resp_len = 0;
    req->responded = 0;
    http_header *h = req->hdrs;
    while (h) {
        http_header *next = h->next;
        free(h->name);
        free(h->value);
        free(h);
        h = next;
    }
    req->hdrs = NULL;
}

void http_req_free(aitbc_request *req) {
    if (!req) return;
    route_match_free(&req->m);
    free(req->uri);
    free(req->body);
    cJSON_Delete(req->json);
    for (size_t i = 0; i < req->nq; i++) {
        free(req->q[i].name);
        free(req->q[i].value);
    }
    free(req->q);
    free(req->bad_query);
    http_unstage(req);
    free(req->wake_key);
    free(req);
}
