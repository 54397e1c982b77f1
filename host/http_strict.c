/* Framing checks libmicrohttpd 0.9.75 does not make: requests whose length two parsers could read
 * differently (the classic request-smuggling shapes), and query parameters that do not decode
 * (%00 would cut a value). Each is refused with 400 before any route or key is looked at, so
 * nothing behind a proxy can be reached through a request the proxy read another way.
 * (A NUL inside a header value cannot be seen here: the library cuts the value at it and reports
 * the cut length; docs/api.md says so.) */
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "http_priv.h"

typedef struct head_scan {
    const char *cl;  /* first Content-Length value */
    int cl_conflict; /* a second Content-Length with another value */
    int te_count;    /* Transfer-Encoding headers */
    const char *te;  /* the first one's value */
} head_scan;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    head_scan *s = cls;
    if (!key || !value) return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (!s->cl)
            s->cl = value;
        else if (strcmp(s->cl, value) != 0)
            s->cl_conflict = 1;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        if (s->te_count++ == 0) s->te = value;
    }
    return MHD_YES;
}

int strict_head_check(aitbc_request *req) {
    head_scan s;
    memset(&s, 0, sizeof s);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, scan_header, &s);
    if (s.cl_conflict) {
        http_error(req, 400, "invalid_argument", "Content-Length",
                   "Content-Length is given twice with different values.");
        return -1;
    }
    if (s.te_count > 1 || (s.te && strcasecmp(s.te, "chunked") != 0)) {
        http_error(req, 400, "invalid_argument", "Transfer-Encoding",
                   "The only Transfer-Encoding accepted is chunked.");
        return -1;
    }
    if (s.te && s.cl) {
        http_error(req, 400, "invalid_argument", "Transfer-Encoding",
                   "Transfer-Encoding and Content-Length may not both be given.");
        return -1;
    }
    const char *bad = http_req_bad_query(req);
    if (bad) {
        http_error(req, 400, "invalid_argument", bad,
                   "The query parameter has a bad percent escape, a NUL (%%00) or bytes that "
                   "are not UTF-8.");
        return -1;
    }
    return 0;
}
