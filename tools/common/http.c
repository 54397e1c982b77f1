/* libcurl behind at_http: only http/https, no redirects to other schemes, bounded time and size,
 * the two answer headers the tools show (Request-Id for bug reports, Retry-After for 429). */
#include "http.h"

#include <aitbc/errors.h>
#include <aitbc/util.h>

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct sink {
    aitbc_bytes body;
    int too_big;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *user) {
    sink *s = user;
    int rc = aitbc_bytes_append(&s->body, data, size * n, AT_HTTP_MAX_BODY);
    s->too_big = rc == AITBC_EOVERFLOW;
    return rc == 0 ? size * n : 0; /* 0 aborts the transfer */
}

/* Copies the value of header `name` from one header line into out. */
static void take_header(const char *line, size_t len, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':') return;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && isspace((unsigned char)*v))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    snprintf(out, cap, "%.*s", (int)(end - v), v);
}

static size_t on_header(char *data, size_t size, size_t n, void *user) {
    at_resp *r = user;
    take_header(data, size * n, "Retry-After", r->retry_after, sizeof r->retry_after);
    take_header(data, size * n, "Request-Id", r->request_id, sizeof r->request_id);
    return size * n;
}

int at_is_url(const char *text) {
    return text && (strncmp(text, "http://", 7) == 0 || strncmp(text, "https://", 8) == 0);
}

int at_http(const at_req *rq, at_resp *out, char *err, size_t cap) {
    memset(out, 0, sizeof *out);
    if (!at_is_url(rq->url)) {
        snprintf(err, cap, "'%s' is not an http:// or https:// URL", rq->url ? rq->url : "");
        return -1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, cap, "cannot start libcurl (out of memory?)");
        return -1;
    }
    struct curl_slist *h = NULL;
    char line[512];
    if (rq->api_key) {
        snprintf(line, sizeof line, "X-Api-Key: %s", rq->api_key);
        h = curl_slist_append(h, line);
    }
    if (rq->idempotency_key) {
        snprintf(line, sizeof line, "Idempotency-Key: %s", rq->idempotency_key);
        h = curl_slist_append(h, line);
    }
    if (rq->body) h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip for big job payloads */
    sink s = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (strcmp(rq->method, "GET") == 0) curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (rq->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(rq->body));
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, rq->timeout_s > 0 ? rq->timeout_s : 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "aitbc-cli/0.1");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    out->body = s.body.data;
    out->len = s.body.len;
    if (rc != CURLE_OK) {
        if (s.too_big)
            snprintf(err, cap, "the answer from %s is larger than %u MiB", rq->url,
                     AT_HTTP_MAX_BODY >> 20);
        else
            snprintf(err, cap, "cannot reach %s: %s", rq->url,
                     curl_err[0] ? curl_err : curl_easy_strerror(rc));
        at_resp_free(out);
        return -1;
    }
    if (!out->body) {
        out->body = calloc(1, 1);
        if (!out->body) {
            snprintf(err, cap, "out of memory");
            return -1;
        }
    }
    out->json = cJSON_ParseWithLength(out->body, out->len);
    return 0;
}

void at_resp_free(at_resp *r) {
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}
