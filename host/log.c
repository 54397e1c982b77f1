/* Host logging: one line per message on stderr, "<RFC 3339 UTC ms> LEVEL [prefix] message".
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

static size_t format_time(char *buf, size_t cap) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
    return n + (m > 0 ? (size_t)m : 0);
}

#define BUF_MAX (32 * 1024)
#define BUF_AGE_MS 200

/* Buffered lines (hlog_buffered), guarded by g_write_lock. */
static char g_buf[BUF_MAX];
static size_t g_buf_len;
static int64_t g_buf_since_ms; /* when the oldest buffered line arrived */

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
        int64_t now = mono_ms();
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

static void emit(const char *prefix, aitbc_log_level level, int buffered, const char *fmt,
                 va_list ap) {
    if ((int)level > atomic_load(&g_level)) return;
    if (level < AITBC_LOG_ERROR || level > AITBC_LOG_DEBUG) level = AITBC_LOG_ERROR;

    char head[160];
    size_t hn = format_time(head, sizeof head);
    int m = snprintf(head + hn, sizeof head - hn, " %s [%s] ", level_names[level],
                     prefix ? prefix : "host");
    hn = m < 0 ? hn : hn + (size_t)m;
    if (hn >= sizeof head) hn = sizeof head - 1;

    char stack[1024];
    va_list copy;
    va_copy(copy, ap);
    int need = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (need < 0) need = 0;
    size_t total = hn + (size_t)need + 2;
    char *line = total <= sizeof stack ? stack : malloc(total);
    if (!line) {
        /* Out of memory: still say something, truncated. */
        line = stack;
        total = sizeof stack;
    }
    memcpy(line, head, hn);
    vsnprintf(line + hn, total - hn - 1, fmt, ap);
    size_t len = hn + strlen(line + hn);
    for (size_t i = hn; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 && c != '\t') line[i] = ' ';
    }
    line[len++] = '\n';
    write_all(line, len, buffered);
    if (line != stack) free(line);
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
