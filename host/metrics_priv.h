/* Private to the /metrics renderer (metrics*.c): the growing text buffer and the parts of one
 * scrape. */
#ifndef AITBC_HOST_METRICS_PRIV_H
#define AITBC_HOST_METRICS_PRIV_H

#include <stddef.h>
#include <stdint.h>

typedef struct mbuf {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: the scrape answers 500 */
} mbuf;

/* ---- metrics_text.c ---- */
void mb_printf(mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** @brief A sample value as Prometheus reads it: integers exactly, NaN, +Inf, -Inf. */
void mb_value(mbuf *b, double v);
/** @brief Escape a label value (backslash, quote, newline) into out (always terminated). */
void mb_escape(const char *in, char *out, size_t cap);
/** The families one scrape holds so far, as (offset, length) of their names in its mbuf (which
 *  may move as it grows), so a plugin's family is checked against them without rereading the
 *  text. */
typedef struct mfams {
    struct mfam {
        size_t off, len;
    } * v;
    size_t n, cap;
} mfams;
/** @brief Index every "# TYPE name " line b holds now (one pass). 0, or -1 out of memory. */
int mf_index(mfams *f, const mbuf *b);
/** @brief 1 if name is one of f's families (names in b). */
int mf_has(const mfams *f, const mbuf *b, const char *name);
/** @brief Record the family whose name is b's len bytes at off. 0, or -1 out of memory. */
int mf_add(mfams *f, size_t off, size_t len);
void mf_free(mfams *f);
/** @brief One histogram's lines: labels (escaped, e.g. `route="/x",method="GET"`; NULL or ""
 *  = none), bounds[nb] upper bounds, counts[nb + 1] per bucket (last = +Inf; not cumulative:
 *  this sums them), sum of the observed values. */
void mb_histogram(mbuf *b, const char *name, const char *labels, const double *bounds, size_t nb,
                  const uint64_t *counts, double sum);

/* ---- metrics_host.c: the host's own series beyond HTTP (writer, WebSocket) ---- */
void metrics_render_host(mbuf *b);

/* ---- metrics_plugins.c: every "metrics:*@1" service ---- */
void metrics_render_plugins(mbuf *b);

#endif
