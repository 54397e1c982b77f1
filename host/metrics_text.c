/* The Prometheus text format's small pieces: a growing buffer, sample values, label escaping and
 * cumulative histogram lines. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_priv.h"

void mb_printf(mbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
}

void mb_value(mbuf *b, double v) {
    if (isnan(v))
        mb_printf(b, "NaN");
    else if (isinf(v))
        mb_printf(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e18)
        mb_printf(b, "%.0f", v);
    else
        mb_printf(b, "%.15g", v); /* shortest for most decimal inputs */
}

void mb_escape(const char *in, char *out, size_t cap) {
    size_t o = 0;
    for (; in && *in && o + 3 < cap; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

int mf_add(mfams *f, size_t off, size_t len) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        struct mfam *v = realloc(f->v, cap * sizeof *v);
        if (!v) return -1;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (struct mfam){off, len};
    return 0;
}

int mf_index(mfams *f, const mbuf *b) {
    const char *p = b->p, *end = b->p + b->len;
    while (p && p < end) {
        if ((size_t)(end - p) > 7 && strncmp(p, "# TYPE ", 7) == 0) {
            const char *name = p + 7, *sp = memchr(name, ' ', (size_t)(end - name));
            if (sp && mf_add(f, (size_t)(name - b->p), (size_t)(sp - name)) != 0) return -1;
        }
        p = memchr(p, '\n', (size_t)(end - p));
        if (p) p++;
    }
    return 0;
}

int mf_has(const mfams *f, const mbuf *b, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i].len == n && memcmp(b->p + f->v[i].off, name, n) == 0) return 1;
    return 0;
}

void mf_free(mfams *f) {
    free(f->v);
    memset(f, 0, sizeof *f);
}

void mb_histogram(mbuf *b, const char *name, const char *labels, const double *bounds, size_t nb,
                  const uint64_t *counts, double sum) {
    const char *l = labels ? labels : "", *comma = *l ? "," : "";
    const char *open = *l ? "{" : "", *close = *l ? "}" : "";
    uint64_t cum = 0;
    for (size_t k = 0; k <= nb; k++) {
        cum += counts[k];
        if (k < nb)
            mb_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, l, comma, bounds[k],
                      (unsigned long long)cum);
        else
            mb_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, l, comma,
                      (unsigned long long)cum);
    }
    mb_printf(b, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", name, open, l, close, sum, name, open,
              l, close, (unsigned long long)cum);
}
