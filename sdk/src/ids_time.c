/* Random prefixed ids and RFC 3339 UTC timestamps with milliseconds. */
#include "aitbc/util.h"
#include "aitbc/errors.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void aitbc_random_id(const char *prefix, char out[AITBC_ID_MAX]) {
    static const char base32[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char bytes[17] = {0};  /* 128 random bits, padded to a multiple of 5 bits */
    if (sodium_init() < 0) abort(); /* no randomness: nothing we issue could be trusted */
    randombytes_buf(bytes, 16);
    size_t n = (size_t)snprintf(out, AITBC_ID_MAX, "%s_", prefix);
    if (n > AITBC_ID_MAX - 27)
        n = AITBC_ID_MAX - 27; /* keep room for the random part even with a silly prefix */
    for (int i = 0; i < 26; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = ((unsigned)bytes[byte] << 8 | bytes[byte + 1]) >> (11 - shift);
        out[n++] = base32[v & 31];
    }
    out[n] = '\0';
}

int64_t aitbc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec aitbc_timespec_in(int clock_id, int64_t ms) {
    struct timespec t;
    clock_gettime((clockid_t)clock_id, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

void aitbc_time_format(int64_t unix_ms, char out[AITBC_TIME_MAX]) {
    time_t secs = (time_t)(unix_ms / 1000);
    int ms = (int)(unix_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char text[96]; /* room for any int the compiler can imagine; real dates use 24 chars */
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    snprintf(out, AITBC_TIME_MAX, "%.*s", AITBC_TIME_MAX - 1, text);
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, char c) {
    if (**p != c) return -1;
    (*p)++;
    return 0;
}

int aitbc_time_parse(const char *text, int64_t *unix_ms) {
    const char *p = text;
    int y, mo, d, h, mi, s, ms = 0;
    if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) || expect(&p, '-') ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't') || !++p || digits(&p, 2, &h) ||
        expect(&p, ':') || digits(&p, 2, &mi) || expect(&p, ':') || digits(&p, 2, &s))
        return AITBC_EINVAL;
    if (*p == '.') {
        p++;
        int scale = 100, any = 0;
        for (; *p >= '0' && *p <= '9'; p++, any = 1) {
            ms += (*p - '0') * scale;
            scale /= 10;
        }
        if (!any) return AITBC_EINVAL;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om) || oh > 23 || om > 59)
            return AITBC_EINVAL;
        offset_min = sign * (oh * 60 + om);
    } else {
        return AITBC_EINVAL;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return AITBC_EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    time_t secs = timegm(&tm);
    if (tm.tm_mday != d && s < 60) return AITBC_EINVAL; /* 31 February and friends */
    *unix_ms = ((int64_t)secs - (int64_t)offset_min * 60) * 1000 + ms;
    return 0;
}
