/* GET / (the page) and GET /web/{file} (its assets), public. Every answer carries a strict
 * Content-Security-Policy (scripts and styles only from this origin, no inline code, no framing)
 * and an ETag; a matching If-None-Match gets 304 without a body. */
#include <string.h>

#include "web.h"

/* If-None-Match may list several tags or "*". */
static int etag_matches(const char *header, const char *etag) {
    if (!header) return 0;
    if (strcmp(header, "*") == 0) return 1;
    size_t n = strlen(etag);
    for (const char *p = strstr(header, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ') return 1;
    }
    return 0;
}

static void send_file(web_state *ws, aitbc_request *req, const web_file *f) {
    const aitbc_host_api *api = ws->api;
    api->resp_header(req, "Content-Security-Policy", ws->csp);
    api->resp_header(req, "X-Content-Type-Options", "nosniff");
    api->resp_header(req, "Referrer-Policy", "no-referrer");
    api->resp_header(req, "X-Frame-Options", "DENY");
    api->resp_header(req, "Cross-Origin-Opener-Policy", "same-origin");
    /* Names are not content-hashed: revalidate every time, which the ETag makes cheap. */
    api->resp_header(req, "Cache-Control", "no-cache");
    api->resp_header(req, "ETag", f->etag);
    if (etag_matches(api->req_header(req, "If-None-Match"), f->etag)) {
        api->respond_raw(req, 304, f->type, "", 0);
        return;
    }
    api->respond_raw(req, 200, f->type, f->data, f->len);
}

static void h_index(aitbc_request *req, void *user) {
    web_state *ws = user;
    send_file(ws, req, web_file_find(ws, "index.html"));
}

static void h_asset(aitbc_request *req, void *user) {
    web_state *ws = user;
    const web_file *f = web_file_find(ws, ws->api->req_param(req, "file"));
    if (!f) {
        ws->api->respond_error(req, 404, "not_found", NULL, "no such file");
        return;
    }
    send_file(ws, req, f);
}

int web_routes(web_state *ws) {
    if (!web_file_find(ws, "index.html")) {
        ws->api->log(ws->ctx, AITBC_LOG_ERROR, "index.html is missing from the built-in files");
        return AITBC_EINVAL;
    }
    const aitbc_route routes[] = {
        {.method = "GET", .path = "/", .roles = AITBC_ROLE_PUBLIC, .handler = h_index, .user = ws},
        {.method = "GET",
         .path = "/web/{file}",
         .roles = AITBC_ROLE_PUBLIC,
         .handler = h_asset,
         .user = ws},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = ws->api->route(ws->ctx, &routes[i]);
        if (rc != 0) return rc;
    }
    return 0;
}
