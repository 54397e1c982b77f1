/* The HTTP side of compute-ollama: one streamed POST /api/generate per job through libcurl, and
 * GET /api/tags for the models. Every way the server can fail maps to one error code; "could not
 * reach it" and "it dropped the stream" are retryable, a refusal of this payload is not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <aitbc/errors.h>
#include <aitbc/json.h>
#include <aitbc/util.h>
#include "ollama.h"

#define ERROR_BODY_MAX 65536 /* a non-200 answer is an error object; keep enough of it */
#define TAGS_TIMEOUT_MS 3000

typedef enum { GO_ON = 0, STOPPED, TIMED_OUT, FEED_FAILED } why_ended;

typedef struct transfer {
    CURL *curl;
    ollama_stream stream;
    ollama_feed feed;       /* last result of feeding the stream */
    long status;            /* HTTP status once known */
    aitbc_bytes error_body; /* of a non-200 answer, its first ERROR_BODY_MAX bytes */
    int64_t received;       /* body bytes */
    int64_t max_tokens;
    int64_t deadline;
    const aitbc_compute_ctl *ctl;
    why_ended why;
    double last_progress;
} transfer;

static size_t on_body(char *data, size_t size, size_t n, void *user) {
    transfer *t = user;
    size_t len = size * n;
    if (!t->status) curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
    t->received += (int64_t)len;
    if (t->status != 200) {
        size_t room = ERROR_BODY_MAX - t->error_body.len;
        int rc = aitbc_bytes_append(&t->error_body, data, len < room ? len : room, ERROR_BODY_MAX);
        return rc == 0 ? len : 0;
    }
    t->feed = ollama_stream_feed(&t->stream, data, len);
    if (t->feed != OLLAMA_MORE && t->feed != OLLAMA_DONE) {
        t->why = FEED_FAILED;
        return 0; /* aborts the transfer */
    }
    const aitbc_compute_ctl *ctl = t->ctl;
    double p = (double)t->stream.chunks / (double)t->max_tokens;
    if (p > 0.99) p = 0.99; /* the agent reports 1 when the job completes */
    if (ctl && ctl->progress && p > t->last_progress) {
        t->last_progress = p;
        if (ctl->progress(ctl->user, p)) {
            t->why = aitbc_now_ms() >= t->deadline ? TIMED_OUT : STOPPED;
            return 0;
        }
    }
    return len;
}

/* libcurl calls this at least once a second, also while the server is silent. */
static int on_tick(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
    (void)a, (void)b, (void)c, (void)d;
    transfer *t = user;
    const aitbc_compute_ctl *ctl = t->ctl;
    /* The deadline first: an agent's should_stop also turns true at ctl->deadline_ms. */
    if (aitbc_now_ms() >= t->deadline)
        t->why = TIMED_OUT;
    else if (ctl && ctl->should_stop && ctl->should_stop(ctl->user))
        t->why = STOPPED;
    return t->why != GO_ON;
}

static CURL *new_handle(const ollama_config *cfg, const char *path, char *url, size_t url_cap) {
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    size_t n = strlen(cfg->url);
    snprintf(url, url_cap, "%.*s%s", (int)(n && cfg->url[n - 1] == '/' ? n - 1 : n), cfg->url,
             path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
    return c;
}

/* The server answered with a non-200 status and (usually) {"error":"..."}. */
static int status_failure(const transfer *t, aitbc_compute_out *out) {
    cJSON *o =
        t->error_body.len ? aitbc_json_parse_strict(t->error_body.data, t->error_body.len) : NULL;
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "error"));
    char text[256];
    snprintf(text, sizeof text, "%.200s", msg ? msg : "no error message");
    cJSON_Delete(o);
    if (t->status == 404)
        return aitbc_compute_fail(out, AITBC_ENOTFOUND, 0, "model_not_found",
                                  "the inference server does not have this model (%s)", text);
    if (t->status == 429 || t->status >= 500)
        return aitbc_compute_fail(out, AITBC_EUNAVAIL, 1, "backend_error",
                                  "the inference server answered %ld: %s", t->status, text);
    return aitbc_compute_fail(out, AITBC_EINVAL, 0, "backend_rejected",
                              "the inference server refused the request with %ld: %s", t->status,
                              text);
}

static int ended_early(const transfer *t, CURLcode code, const ollama_config *cfg,
                       aitbc_compute_out *out) {
    switch (t->why) {
    case STOPPED:
        return aitbc_compute_fail(out, AITBC_EUNAVAIL, 1, "stopped",
                                  "the job was stopped during generation");
    case TIMED_OUT:
        return aitbc_compute_fail(out, AITBC_EUNAVAIL, 0, "timeout",
                                  "generation did not finish in time (%lld tokens so far)",
                                  (long long)t->stream.chunks);
    case FEED_FAILED:
        if (t->feed == OLLAMA_SERVER_ERROR)
            return aitbc_compute_fail(out, AITBC_EUNAVAIL, 1, "backend_error",
                                      "the inference server failed mid-stream: %s",
                                      t->stream.error);
        if (t->feed == OLLAMA_TOO_LARGE)
            return aitbc_compute_fail(out, AITBC_EIO, 0, "output_too_large", "%s", t->stream.error);
        return aitbc_compute_fail(out, AITBC_EIO, 1, "invalid_response", "%s", t->stream.error);
    case GO_ON:
        break;
    }
    if (t->received == 0 && code != CURLE_OK)
        return aitbc_compute_fail(out, AITBC_EUNAVAIL, 1, "backend_unavailable",
                                  "cannot reach the inference server at %s: %s", cfg->url,
                                  curl_easy_strerror(code));
    if (code == CURLE_OPERATION_TIMEDOUT)
        return aitbc_compute_fail(out, AITBC_EUNAVAIL, 1, "stream_interrupted",
                                  "the inference server sent nothing for %lld s",
                                  (long long)(cfg->idle_timeout_ms / 1000));
    return aitbc_compute_fail(out, AITBC_EUNAVAIL, 1, "stream_interrupted",
                              "the inference server ended the stream before it was done (%s)",
                              code == CURLE_OK ? "no final line" : curl_easy_strerror(code));
}

int ollama_run(const ollama_config *cfg, const cJSON *payload, const aitbc_compute_ctl *ctl,
               aitbc_compute_out *out) {
    const int64_t started = aitbc_now_ms();
    char *body = NULL;
    transfer t = {0};
    int rc = ollama_request_body(cfg, payload, &body, &t.max_tokens, out);
    if (rc != 0) return rc;
    t.ctl = ctl;
    t.deadline = aitbc_compute_deadline(ctl, started, cfg->max_run_ms);
    ollama_stream_init(&t.stream, cfg->max_output_bytes);
    char url[2048];
    t.curl = new_handle(cfg, "/api/generate", url, sizeof url);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!t.curl || !headers) {
        rc = aitbc_compute_fail(out, AITBC_ENOMEM, 1, "out_of_memory", "out of memory");
        goto done;
    }
    curl_easy_setopt(t.curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(t.curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(t.curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t.curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(t.curl, CURLOPT_XFERINFOFUNCTION, on_tick);
    curl_easy_setopt(t.curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(t.curl, CURLOPT_NOPROGRESS, 0L);
    /* A stream that goes quiet for idle_timeout is dead: under 1 byte/s for that long. */
    curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_TIME, (long)((cfg->idle_timeout_ms + 999) / 1000));
    CURLcode code = curl_easy_perform(t.curl);
    if (!t.status) curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &t.status);
    if (t.why == GO_ON && code == CURLE_OK && t.status == 200 && !t.stream.done) {
        t.feed = ollama_stream_finish(&t.stream);
        if (t.feed != OLLAMA_MORE && t.feed != OLLAMA_DONE) t.why = FEED_FAILED;
    }
    if (t.why == GO_ON && t.status && t.status != 200) {
        rc = status_failure(&t, out);
    } else if (t.why != GO_ON || !t.stream.done) {
        rc = ended_early(&t, code, cfg, out);
    } else {
        const char *text = t.stream.text ? t.stream.text : "";
        int64_t tokens = t.stream.eval_count >= 0 ? t.stream.eval_count : t.stream.chunks;
        out->result = cJSON_CreateObject();
        cJSON_AddStringToObject(out->result, "text", text);
        aitbc_json_add_i64(out->result, "tokens", tokens);
        out->units = tokens;
        out->unit_type = "token";
    }
done:
    curl_slist_free_all(headers);
    if (t.curl) curl_easy_cleanup(t.curl);
    ollama_stream_free(&t.stream);
    aitbc_bytes_free(&t.error_body);
    free(body);
    return rc;
}

static size_t collect(char *data, size_t size, size_t n, void *user) {
    /* a model list is a few KiB */
    return aitbc_bytes_append(user, data, size * n, ERROR_BODY_MAX * 16) == 0 ? size * n : 0;
}

cJSON *ollama_models(const ollama_config *cfg) {
    char url[2048];
    CURL *c = new_handle(cfg, "/api/tags", url, sizeof url);
    if (!c) return NULL;
    aitbc_bytes b = {0};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)TAGS_TIMEOUT_MS);
    long status = 0;
    CURLcode code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    cJSON *tags =
        code == CURLE_OK && status == 200 && b.len ? aitbc_json_parse_strict(b.data, b.len) : NULL;
    aitbc_bytes_free(&b);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(tags, "models");
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(tags);
        return NULL;
    }
    cJSON *names = cJSON_CreateArray();
    const cJSON *m;
    cJSON_ArrayForEach(m, list) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name"));
        if (name && ollama_serves(cfg, name)) cJSON_AddItemToArray(names, cJSON_CreateString(name));
    }
    cJSON_Delete(tags);
    return names;
}
