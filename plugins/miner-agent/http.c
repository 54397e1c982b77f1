/* The agent's HTTP client (libcurl): one per thread, keeping its connection to the coordinator.
 * Every call runs on a private multi handle so another thread can interrupt it
 * (curl_multi_wakeup) — a long-poll must not hold up SIGTERM. Answers are hostile input: bodies
 * are capped and parsed strictly. */
#include "miner_agent.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ANSWER_BASE_MAX (1u << 20)
#define ANSWER_PER_JOB_MAX (17u << 20) /* a job payload may be 16 MiB */
#define RETRY_AFTER_MAX_S 3600

struct ma_http {
    CURL *easy;
    CURLM *multi;
    char base[MA_URL_MAX];
    size_t max_body;
    int64_t cap_ms; /* 0 = none */
    /* per call */
    aitbc_bytes body; /* kept between calls: the connection's answers are similar in size */
    int too_large;
    int64_t retry_after_s;
};

ma_http *ma_http_new(const ma_agent *a) {
    ma_http *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->easy = curl_easy_init();
    h->multi = curl_multi_init();
    if (!h->easy || !h->multi) {
        ma_http_free(h);
        return NULL;
    }
    snprintf(h->base, sizeof h->base, "%s", a->cfg.coordinator_url);
    h->max_body = ANSWER_BASE_MAX + (size_t)a->cfg.concurrency * ANSWER_PER_JOB_MAX;
    return h;
}

void ma_http_free(ma_http *h) {
    if (!h) return;
    if (h->easy) curl_easy_cleanup(h->easy);
    if (h->multi) curl_multi_cleanup(h->multi);
    aitbc_bytes_free(&h->body);
    free(h);
}

void ma_http_cap(ma_http *h, int64_t ms) {
    if (h) h->cap_ms = ms;
}

void ma_http_wake(ma_http *h) {
    if (h) curl_multi_wakeup(h->multi);
}

static size_t on_body(char *data, size_t size, size_t n, void *user) {
    ma_http *h = user;
    int rc = aitbc_bytes_append(&h->body, data, size * n, h->max_body);
    h->too_large = rc == AITBC_EOVERFLOW;
    return rc == 0 ? size * n : 0; /* 0 ends the transfer */
}

static size_t on_header(char *data, size_t size, size_t n, void *user) {
    ma_http *h = user;
    size_t len = size * n;
    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        long long v = 0;
        int digits = 0;
        for (size_t i = 12; i < len; i++) {
            if (data[i] >= '0' && data[i] <= '9') {
                if (v < RETRY_AFTER_MAX_S) v = v * 10 + (data[i] - '0');
                digits++;
            } else if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' && data[i] != '\n') {
                digits = 0; /* an HTTP date or junk: ignored */
                break;
            }
        }
        if (digits) h->retry_after_s = v > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : v;
    }
    return len;
}

/* Drive the transfer until done, the deadline, or *abort. The CURLcode of the transfer. */
static CURLcode drive(ma_http *h, int64_t timeout_ms, atomic_int *abort) {
    int64_t until = aitbc_mono_ms() + timeout_ms;
    for (;;) {
        int running = 0, left = 0;
        if (curl_multi_perform(h->multi, &running) != CURLM_OK) return CURLE_FAILED_INIT;
        CURLMsg *m;
        while ((m = curl_multi_info_read(h->multi, &left)))
            if (m->msg == CURLMSG_DONE) return m->data.result;
        if (!running) return CURLE_GOT_NOTHING;
        if (abort && atomic_load(abort)) return CURLE_ABORTED_BY_CALLBACK;
        int64_t now = aitbc_mono_ms();
        if (now >= until) return CURLE_OPERATION_TIMEDOUT;
        int wait = until - now > 1000 ? 1000 : (int)(until - now);
        curl_multi_poll(h->multi, NULL, 0, wait, NULL);
        if (abort && atomic_load(abort)) return CURLE_ABORTED_BY_CALLBACK;
    }
}

int ma_http_post(ma_http *h, const char *path, const char *api_key, const char *body,
                 int64_t timeout_ms, atomic_int *abort, ma_resp *out) {
    memset(out, 0, sizeof *out);
    if (h->cap_ms > 0 && timeout_ms > h->cap_ms) timeout_ms = h->cap_ms;
    char url[MA_URL_MAX + 256], keyhdr[AITBC_API_KEY_MAX + 16];
    snprintf(url, sizeof url, "%s%s", h->base, path);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (api_key && api_key[0]) {
        snprintf(keyhdr, sizeof keyhdr, "X-Api-Key: %s", api_key);
        hdrs = curl_slist_append(hdrs, keyhdr);
    }
    h->body.len = 0;
    h->too_large = 0;
    h->retry_after_s = 0;
    CURL *c = h->easy;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? strlen(body) : 0));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 10000 ? timeout_ms : 10000));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "aitbc-miner-agent/1");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_multi_add_handle(h->multi, c);
    CURLcode rc = drive(h, timeout_ms, abort);
    curl_multi_remove_handle(h->multi, c);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        snprintf(out->error, sizeof out->error, "%s",
                 h->too_large ? "answer too large" : curl_easy_strerror(rc));
        return AITBC_EUNAVAIL;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->retry_after_s = h->retry_after_s;
    if (h->body.len) out->json = aitbc_json_parse_strict(h->body.data, h->body.len);
    return 0;
}

void ma_resp_free(ma_resp *r) {
    cJSON_Delete(r->json);
    r->json = NULL;
}

const char *ma_resp_code(const ma_resp *r) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
    return c ? c : "";
}
