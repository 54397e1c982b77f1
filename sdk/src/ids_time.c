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

int64_t aitbc_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t aitbc_mono_ms(void) {
    return aitbc_mono_us() / 1000;
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

/* Writes v as exactly n decimal digits (v >= 0 and below 10^n). */
static void put_digits(char *p, int n, int v) {
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Milliseconds of 0000-01-01T00:00:00Z and of 10000-01-01T00:00:00Z since the epoch: the range
 * whose years have four digits. */
#define YEAR0_MS (-62167219200000LL)
#define YEAR10000_MS 253402300800000LL

/* The civil date of a day count since 1970-01-01 (proleptic Gregorian, 400-year eras of
 * 146097 days counted from 0000-03-01 so the leap day ends each year). */
static void civil_from_days(int64_t days, int *year, int *month, int *day) {
    days += 719468; /* 0000-03-01 to 1970-01-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;                                   /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

void aitbc_time_format(int64_t unix_ms, char out[AITBC_TIME_MAX]) {
    if (unix_ms >= YEAR0_MS && unix_ms < YEAR10000_MS) {
        /* Every timestamp of every answer comes through here: digits by hand instead of
         * gmtime_r and two snprintf calls (a tenth of a job submit's instructions). */
        int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
        if (ms < 0) {
            ms += 1000;
            secs -= 1;
        }
        int64_t days = secs / 86400, sod = secs % 86400;
        if (sod < 0) {
            sod += 86400;
            days -= 1;
        }
        int year, month, day;
        civil_from_days(days, &year, &month, &day);
        memcpy(out, "0000-00-00T00:00:00.000Z", 25);
        put_digits(out, 4, year);
        put_digits(out + 5, 2, month);
        put_digits(out + 8, 2, day);
        put_digits(out + 11, 2, (int)(sod / 3600));
        put_digits(out + 14, 2, (int)(sod / 60 % 60));
        put_digits(out + 17, 2, (int)(sod % 60));
        put_digits(out + 20, 3, (int)ms);
        return;
    }
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
