/* Host logging: one line per message on stderr, "<RFC 3339 UTC ms> LEVEL [prefix] message", or
 * with node.log_format: json one JSON object per line: {"ts","level","plugin","msg"} and
 * "request_id" when the line is written while serving a request (plugin handler logs, the access
 * log).
 * Every line is formatted into one buffer and written with a single write() under a mutex, so
 * lines from concurrent threads never interleave. Control characters in messages are replaced,
 * so a hostile value that ends up in a log line cannot forge further lines. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static atomic_int g_level = AITBC_LOG_INFO;
static atomic_int g_json;                    /* node.log_format: json */
static _Thread_local char tl_request_id[64]; /* "" = not serving a request */
static pthread_mutex_t g_write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

/** @brief Set the most verbose level that is still written. */
void hlog_set_level(aitbc_log_level level) {
    if (level < AITBC_LOG_ERROR) level = AITBC_LOG_ERROR;
    if (level > AITBC_LOG_DEBUG) level = AITBC_LOG_DEBUG;
    atomic_store(&g_level, (int)level);
}

/** @brief Parse "error", "warn"/"warning", "info" or "debug" (any case). 0 or AITBC_EINVAL. */
int hlog_parse_level(const char *text, aitbc_log_level *out) {
    static const struct {
        const char *name;
        aitbc_log_level level;
    } names[] = {{"error", AITBC_LOG_ERROR},
                 {"warn", AITBC_LOG_WARN},
                 {"warning", AITBC_LOG_WARN},
                 {"info", AITBC_LOG_INFO},
                 {"debug", AITBC_LOG_DEBUG}};
    if (!text) return AITBC_EINVAL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(text, names[i].name) == 0) {
            if (out) *out = names[i].level;
            return 0;
        }
    }
    return AITBC_EINVAL;
}

#define BUF_MAX (32 * 1024)
#define BUF_AGE_MS 200

/* Buffered lines (hlog_buffered), guarded by g_write_lock. */
static char g_buf[BUF_MAX];
static size_t g_buf_len;
static int64_t g_buf_since_ms; /* when the oldest buffered line arrived */

static void write_locked(const char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, buf, len);
        if (w <= 0) break; /* nowhere else to report a failing stderr */
        buf += w;
        len -= (size_t)w;
    }
}

static void flush_locked(void) {
    write_locked(g_buf, g_buf_len);
    g_buf_len = 0;
}

/* buffered: append to g_buf (flushing when full or old); else flush it, then write the line. */
static void write_all(const char *buf, size_t len, int buffered) {
    pthread_mutex_lock(&g_write_lock);
    if (!buffered || len > BUF_MAX) {
        flush_locked();
        write_locked(buf, len);
    } else {
        int64_t now = aitbc_mono_ms();
        if (g_buf_len + len > BUF_MAX) flush_locked();
        if (g_buf_len == 0) g_buf_since_ms = now;
        memcpy(g_buf + g_buf_len, buf, len);
        g_buf_len += len;
        if (now - g_buf_since_ms >= BUF_AGE_MS) flush_locked();
    }
    pthread_mutex_unlock(&g_write_lock);
}

/** @brief Write out the buffered lines. */
void hlog_flush(void) {
    pthread_mutex_lock(&g_write_lock);
    flush_locked();
    pthread_mutex_unlock(&g_write_lock);
}

/* Control characters become spaces: a hostile value in a message cannot forge further lines. */
static void text_line(char *out, const char *head, size_t hn, const char *msg, size_t mlen,
                      size_t *len) {
    memcpy(out, head, hn);
    for (size_t i = 0; i < mlen; i++) {
        unsigned char c = (unsigned char)msg[i];
        out[hn + i] = c < 0x20 && c != '\t' ? ' ' : (char)c;
    }
    *len = hn + mlen;
    out[(*len)++] = '\n';
}

/* A JSON string body: quote, backslash and control characters escaped. Text that is not UTF-8
 * has its non-ASCII bytes replaced by '?', so the line is always valid JSON. Worst case 6 bytes
 * per input byte. */
static size_t json_escape(char *out, const char *in, size_t n) {
    int utf8 = aitbc_utf8_valid(in, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c == '\t') {
            out[o++] = '\\';
            out[o++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else {
            out[o++] = c >= 0x80 && !utf8 ? '?' : (char)c;
        }
    }
    return o;
}

static void json_line(char *out, const char *ts, const char *level, const char *prefix,
                      const char *msg, size_t mlen, const char *request_id, size_t *len) {
    size_t o = (size_t)sprintf(out, "{\"ts\":\"%s\",\"level\":\"%s\",\"plugin\":\"", ts, level);
    o += json_escape(out + o, prefix, strlen(prefix));
    o += (size_t)sprintf(out + o, "\",\"msg\":\"");
    o += json_escape(out + o, msg, mlen);
    out[o++] = '"';
    if (request_id && request_id[0]) {
        o += (size_t)sprintf(out + o, ",\"request_id\":\"");
        o += json_escape(out + o, request_id, strlen(request_id));
        out[o++] = '"';
    }
    out[o++] = '}';
    out[o++] = '\n';
    *len = o;
}

static void emit(const char *prefix, aitbc_log_level level, int buffered, const char *fmt,
                 va_list ap) {
    if ((int)level > atomic_load(&g_level)) return;
    if (level < AITBC_LOG_ERROR || level > AITBC_LOG_DEBUG) level = AITBC_LOG_ERROR;
    if (!prefix) prefix = "host";

    char ts[AITBC_TIME_MAX];
    aitbc_time_format(aitbc_now_ms(), ts);
    char stack_msg[1024];
    va_list copy;
    va_copy(copy, ap);
    int need = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (need < 0) need = 0;
    char *msg = (size_t)need < sizeof stack_msg ? stack_msg : malloc((size_t)need + 1);
    size_t msg_cap = msg ? (size_t)need + 1 : sizeof stack_msg;
    if (!msg) msg = stack_msg; /* out of memory: still say something, truncated */
    vsnprintf(msg, msg_cap, fmt, ap);
    size_t mlen = strlen(msg);

    int json = atomic_load(&g_json);
    const char *rid = tl_request_id;
    /* JSON's worst case: every byte of the message, prefix and request id escaped to 6; a text
     * line is the head plus the message. */
    size_t cap = json ? 160 + 6 * (mlen + strlen(prefix) + strlen(rid)) : 160 + mlen + 2;
    char stack_line[2048];
    char *line = cap <= sizeof stack_line ? stack_line : malloc(cap);
    size_t len = 0;
    if (line) {
        if (json) {
            static const char *const json_levels[] = {"error", "warn", "info", "debug"};
            json_line(line, ts, json_levels[level], prefix, msg, mlen, rid, &len);
        } else {
            char head[160];
            int hn = snprintf(head, sizeof head, "%s %s [%s] ", ts, level_names[level], prefix);
            size_t h = hn < 0 ? 0 : (size_t)hn < sizeof head ? (size_t)hn : sizeof head - 1;
            text_line(line, head, h, msg, mlen, &len);
        }
        write_all(line, len, buffered);
        if (line != stack_line) free(line);
    }
    if (msg != stack_msg) free(msg);
}

/** @brief Text or JSON lines (node.log_format). */
void hlog_set_json(int on) {
    atomic_store(&g_json, on ? 1 : 0);
}

void hlog_apply_settings(const host_settings *set) {
    aitbc_log_level level = AITBC_LOG_INFO;
    hlog_parse_level(set->log_level, &level);
    hlog_set_level(level);
    hlog_set_json(strcmp(set->log_format, "json") == 0);
}

/** @brief The request this thread is serving (copied; NULL when done): JSON lines carry it as
 *  request_id. */
void hlog_set_request_id(const char *id) {
    snprintf(tl_request_id, sizeof tl_request_id, "%s", id ? id : "");
}

/** @brief va_list form of hlog(). */
void hlogv(const char *prefix, aitbc_log_level level, const char *fmt, va_list ap) {
    emit(prefix, level, 0, fmt, ap);
}

/** @brief hlog through the buffer (access log lines). */
void hlog_buffered(const char *prefix, aitbc_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit(prefix, level, 1, fmt, ap);
    va_end(ap);
}

/** @brief One log line to stderr; prefix NULL means "host". */
void hlog(const char *prefix, aitbc_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hlogv(prefix, level, fmt, ap);
    va_end(ap);
}
