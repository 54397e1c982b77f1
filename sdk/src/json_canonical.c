/* The one JSON writer of the node. Canonical JSON (RFC 8785 / JCS) for hashes and signatures:
 * sorted keys, no whitespace, members whose value is null dropped first, as API.md asks. The same
 * writer prints every other JSON text (HTTP bodies, WebSocket frames, stored text) with key order
 * and nulls kept, so a number reads back as exactly the double that was hashed. */
#include "aitbc/json.h"
#include "aitbc/errors.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *data;
    size_t len, cap;
    int failed;
    int canonical; /* sort keys, drop nulls, refuse what JCS cannot express */
} buf;

static void buf_put(buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(buf *b, const char *s) {
    buf_put(b, s, strlen(s));
}

/* Next UTF-16 code unit of a UTF-8 string; *pending carries a low surrogate between calls.
 * Invalid bytes are taken as they are (cJSON only hands us what it parsed). */
static unsigned next_utf16(const unsigned char **p, unsigned *pending) {
    if (*pending) {
        unsigned u = *pending;
        *pending = 0;
        return u;
    }
    const unsigned char *s = *p;
    unsigned cp;
    size_t n;
    if (s[0] < 0x80) {
        cp = s[0];
        n = 1;
    } else if ((s[0] & 0xE0) == 0xC0 && s[1]) {
        cp = (s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu);
        n = 2;
    } else if ((s[0] & 0xF0) == 0xE0 && s[1] && s[2]) {
        cp = (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
        n = 3;
    } else if ((s[0] & 0xF8) == 0xF0 && s[1] && s[2] && s[3]) {
        cp = (s[0] & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
        n = 4;
    } else {
        cp = s[0];
        n = 1;
    }
    *p = s + n;
    if (cp >= 0x10000) {
        cp -= 0x10000;
        *pending = 0xDC00 | (cp & 0x3FF);
        return 0xD800 | (cp >> 10);
    }
    return cp;
}

/* JCS orders member names by their UTF-16 code units, not by UTF-8 bytes. */
static int utf16_cmp(const char *a, const char *b) {
    const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
    unsigned qa = 0, qb = 0;
    for (;;) {
        int end_a = !*pa && !qa, end_b = !*pb && !qb;
        if (end_a || end_b) return end_b - end_a;
        unsigned ua = next_utf16(&pa, &qa), ub = next_utf16(&pb, &qb);
        if (ua != ub) return ua < ub ? -1 : 1;
    }
}

static void put_string(buf *b, const char *s) {
    buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        /* Bytes that need no escape go out as one run (every JSON text passes through here). */
        const unsigned char *run = p;
        while (*p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        if (p > run) buf_put(b, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        char esc[8];
        switch (*p) {
        case '"':
            buf_put(b, "\\\"", 2);
            break;
        case '\\':
            buf_put(b, "\\\\", 2);
            break;
        case '\b':
            buf_put(b, "\\b", 2);
            break;
        case '\f':
            buf_put(b, "\\f", 2);
            break;
        case '\n':
            buf_put(b, "\\n", 2);
            break;
        case '\r':
            buf_put(b, "\\r", 2);
            break;
        case '\t':
            buf_put(b, "\\t", 2);
            break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                buf_puts(b, esc);
            } else {
                buf_put(b, (const char *)p, 1);
            }
        }
    }
    buf_put(b, "\"", 1);
}

/* Shortest decimal digits of v (v finite, non-zero): the fewest significant digits that read back
 * as v, the closest such value if several. digits gets them without sign, dot or trailing zeros;
 * the return value is the decimal exponent of the first digit (v = 0.d1d2... × 10^(ret+1)). */
static int shortest_digits(double v, char digits[24]) {
    char text[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(text, sizeof text, "%.*e", p - 1, fabs(v));
        char *e = strchr(text, 'e');
        int exp10 = atoi(e + 1);
        long long mant = 0;
        for (const char *c = text; c < e; c++)
            if (*c != '.') mant = mant * 10 + (*c - '0');
        /* The correctly rounded p-digit value first; where the round-trip interval is lopsided (at
         * a power of two) its neighbour on the other side of v may read back when it does not. */
        const long long tries[3] = {mant, mant + 1, mant - 1};
        for (int i = 0; i < 3; i++) {
            if (tries[i] <= 0) continue;
            char cand[48];
            snprintf(cand, sizeof cand, "%llde%d", tries[i], exp10 - (p - 1));
            if (strtod(cand, NULL) != fabs(v)) continue;
            int n = snprintf(digits, 24, "%lld", tries[i]);
            exp10 += n - p; /* mant + 1 may have gained a digit (999 → 1000) */
            while (n > 1 && digits[n - 1] == '0')
                digits[--n] = '\0';
            return exp10;
        }
    }
    snprintf(digits, 24, "%s", "0"); /* unreachable: 17 digits always read back */
    return 0;
}

/* Numbers as ECMAScript's Number::toString prints them, which is what RFC 8785 requires: plain
 * digits from 1e-6 up to 1e21, exponent form ("1e+21", "1.5e-7") outside that range. */
static void put_number(buf *b, double v) {
    char text[64];
    if (!isfinite(v)) {
        if (b->canonical)
            b->failed = 1; /* JCS has no NaN or Infinity */
        else
            buf_puts(b, "null"); /* what JSON.stringify prints for them */
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(text, sizeof text, "%lld", (long long)v); /* the common case; -0 prints "0" */
        buf_puts(b, text);
        return;
    }
    char d[24];
    int n = shortest_digits(v, d) + 1; /* |v| = 0.d × 10^n */
    int k = (int)strlen(d);
    if (v < 0) buf_put(b, "-", 1);
    if (k <= n && n <= 21) {
        buf_puts(b, d);
        for (int i = k; i < n; i++)
            buf_put(b, "0", 1);
    } else if (0 < n && n <= 21) {
        buf_put(b, d, (size_t)n);
        buf_put(b, ".", 1);
        buf_puts(b, d + n);
    } else if (-6 < n && n <= 0) {
        buf_put(b, "0.", 2);
        for (int i = n; i < 0; i++)
            buf_put(b, "0", 1);
        buf_puts(b, d);
    } else {
        buf_put(b, d, 1);
        if (k > 1) {
            buf_put(b, ".", 1);
            buf_puts(b, d + 1);
        }
        snprintf(text, sizeof text, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
        buf_puts(b, text);
    }
}

static int by_name(const void *x, const void *y) {
    const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
    return utf16_cmp(a->string, b->string);
}

static void put_value(buf *b, const cJSON *item);

static void put_members_in_order(buf *b, const cJSON *obj) {
    buf_put(b, "{", 1);
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (c != obj->child) buf_put(b, ",", 1);
        put_string(b, c->string ? c->string : "");
        buf_put(b, ":", 1);
        put_value(b, c);
    }
    buf_put(b, "}", 1);
}

static void put_object(buf *b, const cJSON *obj) {
    if (!b->canonical) {
        put_members_in_order(b, obj);
        return;
    }
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        n += !cJSON_IsNull(c);
    const cJSON **members = n ? malloc(n * sizeof *members) : NULL;
    if (n && !members) {
        b->failed = 1;
        return;
    }
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        if (!cJSON_IsNull(c)) members[i++] = c;
    if (n > 1) qsort(members, n, sizeof *members, by_name);
    buf_put(b, "{", 1);
    for (i = 0; i < n; i++) {
        if (i) buf_put(b, ",", 1);
        put_string(b, members[i]->string);
        buf_put(b, ":", 1);
        put_value(b, members[i]);
    }
    buf_put(b, "}", 1);
    free(members);
}

static void put_value(buf *b, const cJSON *item) {
    if (cJSON_IsObject(item)) {
        put_object(b, item);
    } else if (cJSON_IsArray(item)) {
        buf_put(b, "[", 1);
        for (const cJSON *c = item->child; c; c = c->next) {
            if (c != item->child) buf_put(b, ",", 1);
            put_value(b, c);
        }
        buf_put(b, "]", 1);
    } else if (cJSON_IsString(item)) {
        put_string(b, item->valuestring);
    } else if (cJSON_IsNumber(item)) {
        put_number(b, item->valuedouble);
    } else if (cJSON_IsTrue(item)) {
        buf_puts(b, "true");
    } else if (cJSON_IsFalse(item)) {
        buf_puts(b, "false");
    } else if (cJSON_IsNull(item)) {
        buf_puts(b, "null"); /* canonical: only reachable inside arrays */
    } else if (cJSON_IsRaw(item) && !b->canonical && item->valuestring) {
        buf_puts(b, item->valuestring); /* already JSON text, by the caller's word */
    } else {
        b->failed = 1; /* raw or invalid items have no canonical form */
    }
}

static char *write_json(const cJSON *item, int canonical) {
    if (!item) return NULL;
    buf b = {.canonical = canonical};
    put_value(&b, item);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

char *aitbc_json_canonical(const cJSON *item) {
    return write_json(item, 1);
}

char *aitbc_json_print(const cJSON *item) {
    return write_json(item, 0);
}

int aitbc_json_sha256_hex(const cJSON *item, char out[65]) {
    char *text = aitbc_json_canonical(item);
    if (!text) return AITBC_EINVAL;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)text, strlen(text));
    free(text);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof digest; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
    return 0;
}
