/* Series from plugins: every service "metrics:<plugin>@1" (aitbc_metrics_v1) is collected in name
 * order on each scrape, through a writer that checks names (so no plugin can break the text
 * format or take another's family) and escapes label values. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metrics_priv.h"
#include <aitbc/metrics.h>

#define MAX_SERVICES 64
#define MAX_LABELS 8
#define WARN_MAX 16 /* complaints about bad families per process: scrapes repeat them forever */

struct aitbc_metrics_out {
    mbuf *b;
    mfams *fams; /* every family of this scrape so far, the host's included */
    const char *service;
    const aitbc_plugin_desc *plugin; /* whose collect runs: its labels' layout */
    char family[128];                /* "" = the current family was refused: drop its samples */
};

static atomic_int g_warned;

static void warn(const aitbc_metrics_out *o, const char *what, const char *name) {
    if (atomic_fetch_add(&g_warned, 1) < WARN_MAX)
        hlog(NULL, AITBC_LOG_WARN, "metrics: %s from %s refused: %.100s", what, o->service,
             name ? name : "(null)");
}

static int ident_ok(const char *s) {
    if (!s || !*s || (*s >= '0' && *s <= '9')) return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static int w_family(aitbc_metrics_out *o, const char *name, aitbc_metric_type type,
                    const char *help) {
    o->family[0] = '\0';
    if (!ident_ok(name) || strncmp(name, "aitbc_", 6) != 0 || strlen(name) >= sizeof o->family ||
        (type != AITBC_METRIC_GAUGE && type != AITBC_METRIC_COUNTER) ||
        (type == AITBC_METRIC_COUNTER) != ends_with(name, "_total")) {
        warn(o, "family name or type", name);
        return AITBC_EINVAL;
    }
    if (mf_has(o->fams, o->b, name)) {
        warn(o, "family already reported", name);
        return AITBC_EINVAL;
    }
    /* HELP is one line: a newline would end it; backslashes are escaped as the format asks. */
    char line[512];
    size_t n = 0;
    for (const char *h = help ? help : ""; *h && n + 3 < sizeof line; h++) {
        if (*h == '\\') line[n++] = '\\';
        line[n++] = *h == '\n' ? ' ' : *h;
    }
    line[n] = '\0';
    size_t at = o->b->len + 7; /* the name in "# HELP name " */
    mb_printf(o->b, "# HELP %s %s\n# TYPE %s %s\n", name, line, name,
              type == AITBC_METRIC_COUNTER ? "counter" : "gauge");
    if (o->b->failed || mf_add(o->fams, at, strlen(name)) != 0) {
        o->b->failed = 1; /* the scrape answers 500 */
        return AITBC_ENOMEM;
    }
    strcpy(o->family, name);
    return 0;
}

static void w_sample(aitbc_metrics_out *o, const aitbc_metric_label *plugin_labels, size_t n,
                     double value) {
    if (!o->family[0]) return;
    if (n > MAX_LABELS || (n && !plugin_labels)) {
        warn(o, "sample with too many labels", o->family);
        return;
    }
    aitbc_metric_label labels[MAX_LABELS]; /* in the host's layout, whatever the plugin's */
    for (size_t i = 0; i < n; i++) {
        abi_read(o->plugin, ABI_METRIC_LABEL, &labels[i], plugin_labels, i);
        if (!ident_ok(labels[i].name) || strncmp(labels[i].name, "__", 2) == 0 ||
            strcmp(labels[i].name, "le") == 0 || !labels[i].value) {
            warn(o, "label", labels[i].name);
            return;
        }
    }
    mb_printf(o->b, "%s", o->family);
    for (size_t i = 0; i < n; i++) {
        char text[512];
        mb_escape(labels[i].value, text, sizeof text);
        mb_printf(o->b, "%s%s=\"%s\"", i ? "," : "{", labels[i].name, text);
    }
    mb_printf(o->b, "%s ", n ? "}" : "");
    mb_value(o->b, value);
    mb_printf(o->b, "\n");
}

static const aitbc_metrics_writer_v1 k_writer = {
    .size = sizeof k_writer,
    .family = w_family,
    .sample = w_sample,
};

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void metrics_render_plugins(mbuf *b) {
    const char *names[MAX_SERVICES];
    size_t n = services_names(AITBC_METRICS_SERVICE_PREFIX, names, MAX_SERVICES);
    if (n > MAX_SERVICES) n = MAX_SERVICES;
    qsort(names, n, sizeof *names, by_name);
    mfams fams = {0};
    if (mf_index(&fams, b) != 0) b->failed = 1;
    for (size_t i = 0; !b->failed && i < n; i++) {
        const aitbc_metrics_v1 *m = services_lookup(names[i]);
        if (!m || m->size < END_OF(aitbc_metrics_v1, collect) || !m->collect) continue;
        const aitbc_plugin_ctx *owner = services_owner(names[i]);
        aitbc_metrics_out o = {
            .b = b, .fams = &fams, .service = names[i], .plugin = owner ? owner->desc : NULL};
        m->collect(m->self, &k_writer, &o);
    }
    mf_free(&fams);
}
