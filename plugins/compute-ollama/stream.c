/* The /api/generate answer: newline-delimited JSON objects, {"response":"…","done":false} per
 * token and a final {"done":true,"eval_count":N}, or {"error":"…"} at any point. Network reads
 * split lines anywhere, so bytes are collected until a newline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aitbc/json.h>
#include "ollama.h"

#define LINE_MAX_BYTES (1u << 20) /* one token's line is tiny; the final one carries context */

void ollama_stream_init(ollama_stream *s, size_t max_text) {
    memset(s, 0, sizeof *s);
    s->text_max = max_text;
    s->eval_count = -1;
}

void ollama_stream_free(ollama_stream *s) {
    free(s->text);
    free(s->line);
    memset(s, 0, sizeof *s);
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t want = *cap ? *cap : 256;
        while (want < *len + n + 1)
            want *= 2;
        char *grown = realloc(*buf, want);
        if (!grown) return -1;
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static ollama_feed line_done(ollama_stream *s, const char *line, size_t len) {
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0) return OLLAMA_MORE; /* blank keep-alive line */
    cJSON *o = aitbc_json_parse_strict(line, len);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(o, "response");
    const cJSON *done = cJSON_GetObjectItemCaseSensitive(o, "done");
    ollama_feed r = OLLAMA_MORE;
    if (!cJSON_IsObject(o)) {
        snprintf(s->error, sizeof s->error, "the server sent a line that is not JSON");
        r = OLLAMA_BAD_LINE;
    } else if (err) {
        snprintf(s->error, sizeof s->error, "%.200s",
                 cJSON_IsString(err) ? err->valuestring : "unspecified error");
        r = OLLAMA_SERVER_ERROR;
    } else if ((resp && !cJSON_IsString(resp)) || !cJSON_IsBool(done)) {
        snprintf(s->error, sizeof s->error, "the server sent a line without response/done");
        r = OLLAMA_BAD_LINE;
    } else {
        if (resp && resp->valuestring[0]) {
            size_t n = strlen(resp->valuestring);
            if (s->text_len + n > s->text_max) {
                snprintf(s->error, sizeof s->error, "the generated text passed %zu bytes",
                         s->text_max);
                r = OLLAMA_TOO_LARGE;
            } else if (append(&s->text, &s->text_len, &s->text_cap, resp->valuestring, n) != 0) {
                r = OLLAMA_TOO_LARGE;
            }
            s->chunks++;
        }
        int64_t count;
        if (r == OLLAMA_MORE && cJSON_IsTrue(done)) {
            if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(o, "eval_count"), &count) == 0 &&
                count >= 0)
                s->eval_count = count;
            s->done = 1;
            r = OLLAMA_DONE;
        }
    }
    cJSON_Delete(o);
    return r;
}

ollama_feed ollama_stream_feed(ollama_stream *s, const char *data, size_t len) {
    if (s->done) return OLLAMA_DONE; /* anything after the final line is ignored */
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (s->line_len + take > LINE_MAX_BYTES) {
            snprintf(s->error, sizeof s->error, "the server sent a line over %u bytes",
                     LINE_MAX_BYTES);
            return OLLAMA_TOO_LARGE;
        }
        ollama_feed r = OLLAMA_MORE;
        if (!nl)
            return append(&s->line, &s->line_len, &s->line_cap, data, take) == 0 ? OLLAMA_MORE
                                                                                 : OLLAMA_TOO_LARGE;
        if (s->line_len) {
            if (append(&s->line, &s->line_len, &s->line_cap, data, take) != 0)
                return OLLAMA_TOO_LARGE;
            r = line_done(s, s->line, s->line_len);
            s->line_len = 0;
        } else {
            r = line_done(s, data, take);
        }
        if (r != OLLAMA_MORE) return r;
        data += take + 1;
        len -= take + 1;
    }
    return OLLAMA_MORE;
}

ollama_feed ollama_stream_finish(ollama_stream *s) {
    if (s->done) return OLLAMA_DONE;
    if (s->line_len == 0) return OLLAMA_MORE;
    s->line_len = 0;
    return line_done(s, s->line, strlen(s->line));
}
