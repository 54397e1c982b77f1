/* The plugin loader: finds every plugin listed under `plugins:` in the plugin path, dlopen()s it,
 * checks its descriptor against the ABI rules and its config section against its schema, orders
 * the plugins so providers come before consumers (requires[], then uses[]), and runs their
 * lifecycle (init, start in order; stop, destroy in reverse). Every refusal is one log line "plugin
 * <file>: refused: <reason>". */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define NAME_MAX_LEN 64

/* The v1.0 descriptor: everything up to and including reserved[]. A plugin built against an
 * older, shorter descriptor cannot exist for major 1, so anything smaller is corrupt. */
#define DESC_V1_0_SIZE                                                                             \
    (offsetof(aitbc_plugin_desc, reserved) + sizeof(((aitbc_plugin_desc *)0)->reserved))

typedef struct plugin_rec {
    aitbc_plugin_ctx ctx; /* first: the host hands &rec->ctx to the plugin */
    char key[NAME_MAX_LEN + 1];
    int inited;
    int uses_cycle;        /* started before a provider it uses (a cycle through uses[]) */
    aitbc_cfg_key *schema; /* owned: the descriptor's schema in today's layout, or NULL */
    cJSON *config;         /* owned: its section with defaults filled (ctx.config) */
} plugin_rec;

static plugin_rec **g_plugins; /* in dependency order after loader_load_all */
static size_t g_count;

static int refuse(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(const char *file, const char *fmt, ...) {
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    hlog(NULL, AITBC_LOG_ERROR, "plugin %s: refused: %s", file, reason);
    return AITBC_EINVAL;
}

static int name_valid(const char *name) {
    size_t n = name ? strlen(name) : 0;
    return n > 0 && n <= NAME_MAX_LEN && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Searches the ':'-separated path for <dir>/<name>.so; 0 and out filled if a file exists. */
static int find_file(const char *path, const char *name, char *out, size_t cap) {
    for (const char *dir = path; dir && *dir;) {
        const char *end = strchr(dir, ':');
        size_t len = end ? (size_t)(end - dir) : strlen(dir);
        if (len > 0) {
            struct stat st;
            int n = snprintf(out, cap, "%.*s/%s.so", (int)len, dir, name);
            if (n > 0 && (size_t)n < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
        }
        dir = end ? end + 1 : NULL;
    }
    return AITBC_ENOTFOUND;
}

/* The minor version this host speaks; lowered only by the test that plays an older host. */
static unsigned g_host_minor = AITBC_ABI_MINOR;

/** @brief Make the loader behave as a host of an older ABI minor (tests only). */
void loader_pretend_abi_minor(unsigned minor) {
    g_host_minor = minor;
}

/* The descriptor checks, in the order the ABI rules list them. */
static int check_desc(const plugin_rec *r, const aitbc_plugin_desc *d) {
    const char *f = r->ctx.path;
    if (!d) return refuse(f, "%s() returned NULL", AITBC_PLUGIN_SYMBOL);
    if (d->abi_major != AITBC_ABI_MAJOR)
        return refuse(f, "ABI major version %u, this host speaks %u (rebuild it against this SDK)",
                      d->abi_major, AITBC_ABI_MAJOR);
    if (d->abi_minor > g_host_minor)
        return refuse(f,
                      "ABI minor version %u.%u is newer than this host's %u.%u (upgrade the host)",
                      d->abi_major, d->abi_minor, AITBC_ABI_MAJOR, g_host_minor);
    if (d->struct_size < DESC_V1_0_SIZE)
        return refuse(f, "descriptor struct_size %u is smaller than the v1.0 descriptor (%zu)",
                      d->struct_size, (size_t)DESC_V1_0_SIZE);
    char why[160];
    if (abi_check_sizes(d, why, sizeof why) != 0) return refuse(f, "%s", why);
    if (d->build_signature != AITBC_BUILD_SIGNATURE)
        return refuse(f,
                      "build signature %#llx differs from the host's %#llx (rebuild it against "
                      "this SDK and cJSON)",
                      (unsigned long long)d->build_signature,
                      (unsigned long long)AITBC_BUILD_SIGNATURE);
    const char *missing = !d->init      ? "init"
                          : !d->start   ? "start"
                          : !d->stop    ? "stop"
                          : !d->destroy ? "destroy"
                                        : NULL;
    if (missing) return refuse(f, "required callback %s is NULL", missing);
    if (!name_valid(d->name))
        return refuse(f, "invalid plugin name '%.64s' (want [a-z0-9-]+, at most %d chars)",
                      d->name ? d->name : "(null)", NAME_MAX_LEN);
    for (size_t i = 0; i < g_count; i++) {
        if (strcmp(g_plugins[i]->ctx.desc->name, d->name) == 0)
            return refuse(f, "duplicate plugin name '%s' (already loaded from %s)", d->name,
                          g_plugins[i]->ctx.path);
    }
    if (strcmp(d->name, r->key) != 0)
        return refuse(f, "descriptor name '%s' does not match its config key '%s'", d->name,
                      r->key);
    return 0;
}

/* Whether the plugin's descriptor, as it was built, covers `field`: the host reads an appended
 * field only then (a 1.0 plugin's descriptor ends at reserved[]). */
#define DESC_HAS(d, field)                                                                         \
    ((d)->struct_size >= offsetof(aitbc_plugin_desc, field) + sizeof((d)->field))

/* Copies the descriptor's config schema into today's layout, reading each entry only as far as
 * the plugin's headers defined it (the stride is its cfg_key_size; before 1.2 the 1.0 key), so
 * the rest of the host sees one layout with absent fields zero. */
static int copy_schema(plugin_rec *r, const aitbc_plugin_desc *d) {
    if (!d->config_schema) return 0;
    size_t stride = abi_size(d, ABI_CFG_KEY), n = 0;
    while (
        ((const aitbc_cfg_key *)(const void *)((const char *)d->config_schema + n * stride))->key)
        n++;
    if (!(r->schema = calloc(n + 1, sizeof *r->schema))) return AITBC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        abi_read(d, ABI_CFG_KEY, &r->schema[i], d->config_schema, i);
    return 0;
}

/* Descriptors linked into the process (the in-process test host), found by name before the
 * plugin path is searched; NULL-terminated, or NULL. */
static const aitbc_plugin_desc *const *g_linked;

/** @brief Take these descriptors instead of <name>.so for the plugins they name (tests). */
void loader_set_linked(const aitbc_plugin_desc *const *descs) {
    g_linked = descs;
}

static const aitbc_plugin_desc *linked_desc(const char *name) {
    for (const aitbc_plugin_desc *const *d = g_linked; d && *d; d++)
        if ((*d)->name && strcmp((*d)->name, name) == 0) return *d;
    return NULL;
}

/* Finds <key>.so in the plugin path, dlopen()s it and asks it for its descriptor. */
static int open_file(const host_config *cfg, const host_settings *set, const cJSON *section,
                     plugin_rec *r, const aitbc_plugin_desc **d) {
    if (find_file(set->plugin_path, r->key, r->ctx.path, sizeof r->ctx.path) != 0) {
        char file[NAME_MAX_LEN + 4];
        snprintf(file, sizeof file, "%s.so", r->key);
        return refuse(file, "file not found in plugin path %s (%s:%d)", set->plugin_path,
                      config_path(cfg), config_line(cfg, section));
    }
    r->ctx.dl = dlopen(r->ctx.path, RTLD_NOW | RTLD_LOCAL);
    if (!r->ctx.dl) {
        const char *e = dlerror();
        return refuse(r->ctx.path, "dlopen failed: %s", e ? e : "unknown error");
    }
    const aitbc_plugin_desc *(*describe)(void);
    *(void **)&describe = dlsym(r->ctx.dl, AITBC_PLUGIN_SYMBOL);
    if (!describe) return refuse(r->ctx.path, "missing symbol %s", AITBC_PLUGIN_SYMBOL);
    *d = describe();
    return 0;
}

/* Loads one plugin; on success it is appended to g_plugins. */
static int load_one(const host_config *cfg, const host_settings *set, const cJSON *section) {
    plugin_rec *r = calloc(1, sizeof *r);
    if (!r) return AITBC_ENOMEM;
    int rc = AITBC_EINVAL;
    if (!name_valid(section->string)) {
        refuse(section->string, "invalid plugin name (want [a-z0-9-]+, at most %d chars) at %s:%d",
               NAME_MAX_LEN, config_path(cfg), config_line(cfg, section));
        goto bad;
    }
    strcpy(r->key, section->string);
    const aitbc_plugin_desc *d = linked_desc(r->key);
    if (d) {
        snprintf(r->ctx.path, sizeof r->ctx.path, "(linked in) %s", r->key);
    } else if ((rc = open_file(cfg, set, section, r, &d)) != 0) {
        goto bad;
    }
    if ((rc = check_desc(r, d)) != 0 || (rc = copy_schema(r, d)) != 0) goto bad;
    char err[1024];
    if (config_check_schema(cfg, section, r->schema, d->name, err, sizeof err) != 0) {
        rc = refuse(r->ctx.path, "%s", err);
        goto bad;
    }
    if (!(r->config = config_effective(section, r->schema))) {
        rc = AITBC_ENOMEM;
        goto bad;
    }
    r->ctx.config = r->config;
    r->ctx.desc = d;
    g_plugins[g_count++] = r;
    return 0;
bad:
    if (r->ctx.dl) dlclose(r->ctx.dl);
    free(r->schema);
    free(r);
    return rc ? rc : AITBC_EINVAL;
}

static const char *const *desc_uses(const aitbc_plugin_desc *d) {
    return DESC_HAS(d, uses) ? d->uses : NULL;
}

static int in_list(const char *const *list, const char *service) {
    for (const char *const *p = list; p && *p; p++)
        if (services_match(*p, service)) return 1;
    return 0;
}

static int provides(const aitbc_plugin_desc *d, const char *service) {
    return in_list(d->provides, service);
}

/* 1 if a provides something on list (a pattern list: requires[] or uses[]). */
static int provides_any(const plugin_rec *a, const char *const *list) {
    for (const char *const *q = list; q && *q; q++)
        for (const char *const *p = a->ctx.desc->provides; p && *p; p++)
            if (services_match(*q, *p)) return 1;
    return 0;
}

/* 1 if plugin a must come before plugin b: b requires (or, unless hard_only, uses) something a
 * provides. */
static int needed_by(const plugin_rec *a, const plugin_rec *b, int hard_only) {
    if (a == b) return 0;
    return provides_any(a, b->ctx.desc->requires) ||
           (!hard_only && provides_any(a, desc_uses(b->ctx.desc)));
}

static int list_valid(const plugin_rec *r, const char *const *list, const char *what) {
    for (const char *const *q = list; q && *q; q++)
        if (!services_pattern_valid(*q))
            return refuse(r->ctx.path, "%s entry '%.96s' is not a service name like 'name@1'", what,
                          *q);
    return 0;
}

static int check_requires(void) {
    for (size_t i = 0; i < g_count; i++) {
        const plugin_rec *r = g_plugins[i];
        const aitbc_plugin_desc *d = r->ctx.desc;
        if (list_valid(r, d->requires, "requires") || list_valid(r, desc_uses(d), "uses"))
            return AITBC_EINVAL;
        for (const char *const *q = d->requires; q && *q; q++) {
            size_t j = 0;
            while (j < g_count && !provides(g_plugins[j]->ctx.desc, *q))
                j++;
            if (j == g_count)
                return refuse(r->ctx.path, "requires service '%s' but no listed plugin provides it",
                              *q);
        }
    }
    return 0;
}

/* Index of the first unplaced plugin (config order) whose providers are all placed; with
 * hard_only, only requires[] counts. g_count if none. */
static size_t next_ready(int hard_only) {
    for (size_t i = 0; i < g_count; i++) {
        if (!g_plugins[i]) continue;
        size_t j = 0;
        while (j < g_count && !(g_plugins[j] && needed_by(g_plugins[j], g_plugins[i], hard_only)))
            j++;
        if (j == g_count) return i;
    }
    return g_count;
}

/* Stable topological sort: repeatedly take the first plugin (in config order) whose providers
 * are all placed. A cycle through uses[] is broken there (the plugin starts before a provider it
 * may use; its lookups still find it, as every service is registered before any start); a cycle
 * of requires[] alone is refused. */
static int order_plugins(void) {
    plugin_rec **sorted = calloc(g_count ? g_count : 1, sizeof *sorted);
    if (!sorted) return AITBC_ENOMEM;
    size_t placed = 0;
    while (placed < g_count) {
        size_t pick = next_ready(0);
        if (pick == g_count && (pick = next_ready(1)) < g_count) g_plugins[pick]->uses_cycle = 1;
        if (pick == g_count) break;
        sorted[placed++] = g_plugins[pick];
        g_plugins[pick] = NULL;
    }
    int rc = 0;
    if (placed < g_count) {
        char names[512] = "";
        size_t n = 0;
        const char *first = NULL;
        for (size_t i = 0; i < g_count; i++) {
            if (!g_plugins[i]) continue;
            first = first ? first : g_plugins[i]->ctx.path;
            int w = snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "",
                             g_plugins[i]->ctx.desc->name);
            n = w > 0 && (size_t)w < sizeof names - n ? n + (size_t)w : n;
        }
        rc = refuse(first,
                    "dependency cycle between plugins %s (each requires a service "
                    "another of them provides)",
                    names);
        for (size_t i = 0; i < g_count; i++) /* keep every record for unloading */
            if (g_plugins[i]) sorted[placed++] = g_plugins[i];
    }
    free(g_plugins);
    g_plugins = sorted;
    return rc;
}

/* The listed plugin that provides service (a name or pattern), or NULL. */
static const char *provider_of(const char *service) {
    for (size_t i = 0; i < g_count; i++)
        for (const char *const *p = g_plugins[i]->ctx.desc->provides; p && *p; p++)
            if (services_match(service, *p)) return g_plugins[i]->ctx.desc->name;
    return NULL;
}

static void print_list(FILE *out, const char *what, const char *const *list, int with_provider) {
    for (const char *const *q = list; q && *q; q++) {
        fprintf(out, "    %-9s %s", what, *q);
        if (with_provider) {
            const char *p = provider_of(*q);
            fprintf(out, p ? " <- %s" : " (not loaded)", p);
        }
        fputc('\n', out);
    }
}

/** @brief The service graph in start order (for --check-config): what each plugin provides,
 *  requires and uses, and which plugin provides each. */
void loader_print_graph(FILE *out) {
    fprintf(out, "start order (services: provides, requires <- provider, uses <- provider):\n");
    for (size_t i = 0; i < g_count; i++) {
        const aitbc_plugin_desc *d = g_plugins[i]->ctx.desc;
        fprintf(out, "  %zu. %s %s%s\n", i + 1, d->name, d->version ? d->version : "?",
                g_plugins[i]->uses_cycle ? "  (a cycle through uses: started before a provider "
                                           "it uses)"
                                         : "");
        print_list(out, "provides", d->provides, 0);
        print_list(out, "requires", d->requires, 1);
        print_list(out, "uses", desc_uses(d), 1);
    }
}

/** @brief The plugin's config schema in the host's layout (the loader's copy), or NULL. */
const aitbc_cfg_key *loader_schema(const aitbc_plugin_ctx *ctx) {
    return ctx ? ((const plugin_rec *)(const void *)ctx)->schema : NULL;
}

/** @brief Every plugin's effective config (for --check-config): each schema key with the value
 *  the plugin sees, marked when it is the default, with its range. */
void loader_print_config(FILE *out) {
    fprintf(out, "effective plugin config:\n");
    for (size_t i = 0; i < g_count; i++) {
        const plugin_rec *r = g_plugins[i];
        fprintf(out, "  %s:%s\n", r->ctx.desc->name, r->schema && r->schema->key ? "" : " {}");
        for (const aitbc_cfg_key *k = r->schema; k && k->key; k++)
            config_print_value(out, k, cJSON_GetObjectItemCaseSensitive(r->config, k->key));
    }
}

/* The plugin whose init/start/stop/destroy runs on this thread (the loader calls them all from
 * the main thread), for checking its service lookups against its declarations. */
static _Thread_local const plugin_rec *t_calling;

/** @brief 1 unless a plugin's init/start is running on this thread and name is not among its
 *  provides[], requires[] or uses[] (then the refusal is logged). */
int loader_lookup_allowed(const char *name) {
    const plugin_rec *r = t_calling;
    if (!r || !name) return 1;
    const aitbc_plugin_desc *d = r->ctx.desc;
    if (in_list(d->provides, name) || in_list(d->requires, name) || in_list(desc_uses(d), name))
        return 1;
    hlog(d->name, AITBC_LOG_ERROR,
         "looked up service %s without declaring it: add it to the "
         "descriptor's uses[] (optional) or requires[] (must exist)",
         name);
    return 0;
}

/** @brief Load, check and order every plugin listed under `plugins:` (no callbacks run).
 *  @return 0, or an error after logging the refusal; loaded plugins stay until
 *  loader_unload_all(). */
int loader_load_all(const host_config *cfg, const host_settings *set) {
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(config_root(cfg), "plugins");
    size_t n = (size_t)cJSON_GetArraySize(plugins);
    g_plugins = calloc(n ? n : 1, sizeof *g_plugins);
    if (!g_plugins) return AITBC_ENOMEM;
    const cJSON *section, *entries = cJSON_IsObject(plugins) ? plugins : NULL;
    cJSON_ArrayForEach(section, entries) {
        int rc = load_one(cfg, set, section);
        if (rc != 0) return rc;
    }
    int rc = check_requires();
    if (rc == 0) rc = order_plugins();
    for (size_t i = 0; rc == 0 && i < g_count; i++)
        hlog(NULL, AITBC_LOG_DEBUG, "plugin %s %s loaded from %s", g_plugins[i]->ctx.desc->name,
             g_plugins[i]->ctx.desc->version ? g_plugins[i]->ctx.desc->version : "?",
             g_plugins[i]->ctx.path);
    return rc;
}

/** @brief Number of loaded plugins. */
size_t loader_count(void) {
    return g_count;
}

/** @brief The i-th plugin in dependency order, or NULL. */
aitbc_plugin_ctx *loader_at(size_t i) {
    return i < g_count ? &g_plugins[i]->ctx : NULL;
}

/** @brief init every plugin in dependency order; stops at the first failure. */
int loader_init_all(void) {
    for (size_t i = 0; i < g_count; i++) {
        plugin_rec *r = g_plugins[i];
        t_calling = r;
        int rc = r->ctx.desc->init(&r->ctx, host_api(), &r->ctx.state);
        t_calling = NULL;
        if (rc != 0) {
            /* The rule: a failed init freed what it allocated and destroy is not called; whatever
             * it left with the host (subscriptions, timers) must not call into it any more. */
            bus_drop_plugin(&r->ctx);
            work_quiesce_plugin(&r->ctx);
            hlog(r->ctx.desc->name, AITBC_LOG_ERROR, "init failed (%d); see the lines above", rc);
            return rc < 0 ? rc : AITBC_EINVAL;
        }
        r->inited = 1;
    }
    services_freeze();
    return 0;
}

/** @brief start every plugin in dependency order; stops at the first failure. */
int loader_start_all(void) {
    for (size_t i = 0; i < g_count; i++) {
        plugin_rec *r = g_plugins[i];
        r->ctx.started = 1; /* from here its stop() must run even if start() fails half-way */
        work_release_plugin(&r->ctx);
        t_calling = r;
        int rc = r->ctx.desc->start(r->ctx.state);
        t_calling = NULL;
        if (rc != 0) {
            hlog(r->ctx.desc->name, AITBC_LOG_ERROR, "start failed (%d); see the lines above", rc);
            return rc < 0 ? rc : AITBC_EINVAL;
        }
    }
    return 0;
}

/** @brief stop every started plugin, in reverse order. */
void loader_stop_all(void) {
    for (size_t i = g_count; i-- > 0;) {
        plugin_rec *r = g_plugins[i];
        if (r->ctx.started) {
            /* Its subscriptions, timers and queued tasks go first: after stop returns, no
             * callback of the plugin runs (the HTTP side was quiesced before). */
            bus_drop_plugin(&r->ctx);
            work_quiesce_plugin(&r->ctx);
            r->ctx.desc->stop(r->ctx.state);
            r->ctx.started = 0;
        }
    }
}

/** @brief destroy every initialised plugin in reverse order, then dlclose them all. */
void loader_unload_all(void) {
    for (size_t i = g_count; i-- > 0;) {
        plugin_rec *r = g_plugins[i];
        if (r->inited) r->ctx.desc->destroy(r->ctx.state);
        r->inited = 0;
        work_forget_plugin(&r->ctx);
    }
    services_clear(); /* the tables live in the plugins about to be unmapped */
    for (size_t i = g_count; i-- > 0;) {
        if (g_plugins[i]->ctx.dl) dlclose(g_plugins[i]->ctx.dl);
        cJSON_Delete(g_plugins[i]->config);
        free(g_plugins[i]->schema);
        free(g_plugins[i]);
    }
    free(g_plugins);
    g_plugins = NULL;
    g_count = 0;
}
