/* Series a plugin adds to the host's GET /metrics (Prometheus text format) without the host
 * knowing the plugin. A plugin registers a service named "metrics:<plugin>@1" with an
 * aitbc_metrics_v1 table from init; on every scrape the host calls each such collect in name order,
 * on the HTTP thread serving the scrape, and renders what it reports.
 *
 * A scrape may come every few seconds: collect reads in-memory counters or indexed rows, never a
 * full table scan. It may open a read transaction (txn_begin(AITBC_TXN_READ)); it must not block on
 * anything else. */
#ifndef AITBC_METRICS_H
#define AITBC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Services named with this prefix are collected by the host. */
#define AITBC_METRICS_SERVICE_PREFIX "metrics:"

typedef enum aitbc_metric_type {
    AITBC_METRIC_GAUGE = 0,   /**< a value that goes up and down */
    AITBC_METRIC_COUNTER = 1, /**< only rises (until a restart); its name ends in "_total" */
} aitbc_metric_type;

/** One label of a sample: name matches [a-zA-Z_][a-zA-Z0-9_]*; the host escapes the value. */
typedef struct aitbc_metric_label {
    const char *name;
    const char *value;
} aitbc_metric_label;

/** The host's side of one scrape (opaque). */
typedef struct aitbc_metrics_out aitbc_metrics_out;

/** What collect writes with; the host passes it in. */
typedef struct aitbc_metrics_writer_v1 {
    uint32_t size;
    /** Start a family: name matches aitbc_[a-zA-Z0-9_]*, is not already used in this scrape (by
     *  the host or another plugin), and a COUNTER's ends in "_total". help is one line. 0, or
     *  AITBC_EINVAL (logged once; the family's samples are then dropped). */
    int (*family)(aitbc_metrics_out *out, const char *name, aitbc_metric_type type,
                  const char *help);
    /** One sample of the family started last: n labels (0 = none; invalid label names drop the
     *  sample). Values are float64 as in Prometheus: integers up to 2^53 are exact. */
    void (*sample)(aitbc_metrics_out *out, const aitbc_metric_label *labels, size_t n,
                   double value);
} aitbc_metrics_writer_v1;

/** The table behind "metrics:<plugin>@1". */
typedef struct aitbc_metrics_v1 {
    uint32_t size;
    void *self;
    /** Report this plugin's families through w (borrowed for the call). Any HTTP thread; two
     *  scrapes may collect at once. */
    void (*collect)(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out);
} aitbc_metrics_v1;

/** A family with one unlabelled sample. */
static inline void aitbc_metric_one(const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out,
                                    const char *name, aitbc_metric_type type, const char *help,
                                    double value) {
    if (w->family(out, name, type, help) == 0) w->sample(out, NULL, 0, value);
}

#ifdef __cplusplus
}
#endif

#endif
