/* Config validation: the host's own sections (node, http, websocket, storage, plugins) into
 * host_settings with defaults, and a plugin's section against the schema its descriptor declares.
 * Both share one key checker so every unknown key, wrong type or missing key is reported the same
 * way: "file:line: <where>: <reason>". */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster_priv.h"
#include "internal.h"
#include <aitbc/json.h>

#ifndef AITBC_DEFAULT_PLUGIN_DIR
#define AITBC_DEFAULT_PLUGIN_DIR "/usr/local/lib/aitbc/plugins"
#endif

static int failf(const host_config *cfg, const cJSON *node, char *err, size_t errlen,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int failf(const host_config *cfg, const cJSON *node, char *err, size_t errlen,
                 const char *fmt, ...) {
    int line = config_line(cfg, node);
    int n = line > 0 ? snprintf(err, errlen, "%s:%d: ", config_path(cfg), line)
                     : snprintf(err, errlen, "%s: ", config_path(cfg));
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return AITBC_EINVAL;
}

static int name_in(const char *const *names, const char *name) {
    for (; *names; names++)
        if (!strcmp(*names, name)) return 1;
    return 0;
}

static int is_integer(const cJSON *v) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
           floor(v->valuedouble) == v->valuedouble && fabs(v->valuedouble) <= 9007199254740992.0;
}

static const char *type_name(aitbc_cfg_type t) {
    switch (t) {
    case AITBC_CFG_STRING:
        return "a string";
    case AITBC_CFG_INT:
        return "an integer";
    case AITBC_CFG_BOOL:
        return "true or false";
    case AITBC_CFG_NUMBER:
        return "a number";
    case AITBC_CFG_OBJECT:
        return "a mapping";
    case AITBC_CFG_ARRAY:
        return "a list";
    }
    return "?";
}

static const char *value_name(const cJSON *v) {
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "a boolean";
    if (is_integer(v)) return "an integer";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "a list";
    return "a mapping";
}

static int type_matches(aitbc_cfg_type t, const cJSON *v) {
    switch (t) {
    case AITBC_CFG_STRING:
        return cJSON_IsString(v);
    case AITBC_CFG_INT:
        return is_integer(v);
    case AITBC_CFG_BOOL:
        return cJSON_IsBool(v);
    case AITBC_CFG_NUMBER:
        return cJSON_IsNumber(v);
    case AITBC_CFG_OBJECT:
        return cJSON_IsObject(v);
    case AITBC_CFG_ARRAY:
        return cJSON_IsArray(v);
    }
    return 0;
}

/* 1 unless k bounds its numbers and v (of k's type) lies outside them. */
static int in_bounds(const aitbc_cfg_key *k, const cJSON *v) {
    if (k->type != AITBC_CFG_INT && k->type != AITBC_CFG_NUMBER) return 1;
    if ((k->bounds & AITBC_CFG_MIN) && !(v->valuedouble >= k->min)) return 0;
    if ((k->bounds & AITBC_CFG_MAX) && !(v->valuedouble <= k->max)) return 0;
    return 1;
}

/* "allowed 1..86400", "allowed >= 0", "allowed <= 10": the bounds as a message part. */
static const char *range_text(const aitbc_cfg_key *k, char *out, size_t cap) {
    unsigned b = k->bounds & (AITBC_CFG_MIN | AITBC_CFG_MAX);
    if (b == (AITBC_CFG_MIN | AITBC_CFG_MAX))
        snprintf(out, cap, "allowed %.17g..%.17g", k->min, k->max);
    else if (b == AITBC_CFG_MIN)
        snprintf(out, cap, "allowed >= %.17g", k->min);
    else if (b == AITBC_CFG_MAX)
        snprintf(out, cap, "allowed <= %.17g", k->max);
    else
        snprintf(out, cap, "any");
    return out;
}

/** @brief What k's type takes, as a message part ("an integer", "a list"). */
const char *config_type_text(const aitbc_cfg_key *k) {
    return type_name(k->type);
}

/** @brief k's bounds as a message part: "allowed 1..86400", "allowed >= 0", "any". */
const char *config_range_text(const aitbc_cfg_key *k, char *out, size_t cap) {
    return range_text(k, out, cap);
}

/** @brief k's default as a value of k's type (caller frees), or NULL when it has none or the text
 *  does not read as that type (config_check_schema refuses such a schema). */
cJSON *config_default_value(const aitbc_cfg_key *k) {
    if (!k->def) return NULL;
    cJSON *v = k->type == AITBC_CFG_STRING ? cJSON_CreateString(k->def) : cJSON_Parse(k->def);
    if (v && (!type_matches(k->type, v) || !in_bounds(k, v))) {
        cJSON_Delete(v);
        v = NULL;
    }
    return v;
}

/* The schema itself: every default reads as its key's type and lies within its bounds. */
static int check_defaults(const aitbc_cfg_key *schema, const char *where, char *err,
                          size_t errlen) {
    for (const aitbc_cfg_key *k = schema; k && k->key; k++) {
        cJSON *v = config_default_value(k);
        if (k->def && !v) {
            char range[96];
            snprintf(err, errlen, "%s: the default '%s' of config key '%s' must be %s (%s)", where,
                     k->def, k->key, type_name(k->type), range_text(k, range, sizeof range));
            return AITBC_EINVAL;
        }
        cJSON_Delete(v);
    }
    return 0;
}

/* Checks section (an object, or NULL/null for "empty") against schema. `where` names the
 * section in messages ("plugin 'chain'", "section 'http'"). */
static int check_keys(const host_config *cfg, const cJSON *section, const aitbc_cfg_key *schema,
                      const char *where, char *err, size_t errlen) {
    if (section && !cJSON_IsNull(section) && !cJSON_IsObject(section))
        return failf(cfg, section, err, errlen, "%s: expected a mapping, got %s", where,
                     value_name(section));
    const cJSON *item, *members = cJSON_IsObject(section) ? section : NULL;
    cJSON_ArrayForEach(item, members) {
        const aitbc_cfg_key *k = schema;
        while (k && k->key && strcmp(k->key, item->string) != 0)
            k++;
        if (!k || !k->key) {
            char known[512] = "";
            size_t n = 0;
            for (const aitbc_cfg_key *s = schema; s && s->key && n < sizeof known; s++) {
                int w = snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "", s->key);
                n += w > 0 ? (size_t)w : 0;
            }
            return failf(cfg, item, err, errlen, "%s: unknown config key '%s' (known keys: %s)",
                         where, item->string, n ? known : "none");
        }
        if (!type_matches(k->type, item))
            return failf(cfg, item, err, errlen, "%s: config key '%s' must be %s, got %s", where,
                         item->string, type_name(k->type), value_name(item));
        if (!in_bounds(k, item)) {
            char range[96];
            return failf(cfg, item, err, errlen, "%s: config key '%s' = %.17g is out of range (%s)",
                         where, item->string, item->valuedouble,
                         range_text(k, range, sizeof range));
        }
    }
    for (const aitbc_cfg_key *k = schema; k && k->key; k++) {
        if (k->required && !cJSON_GetObjectItemCaseSensitive(section, k->key))
            return failf(cfg, section, err, errlen, "%s: missing required config key '%s' (%s)",
                         where, k->key, k->doc ? k->doc : type_name(k->type));
    }
    return 0;
}

/** @brief Check a plugin's config section against its schema (NULL schema: no keys allowed).
 *  @return 0, or AITBC_EINVAL with "file:line: plugin 'name': reason" in err. */
int config_check_schema(const host_config *cfg, const cJSON *section, const aitbc_cfg_key *schema,
                        const char *plugin, char *err, size_t errlen) {
    char where[128];
    snprintf(where, sizeof where, "plugin '%s'", plugin ? plugin : "?");
    int rc = check_defaults(schema, where, err, errlen);
    return rc ? rc : check_keys(cfg, section, schema, where, err, errlen);
}

/** @brief The section a plugin sees: a copy of its (checked) section with every absent key that
 *  has a default filled in. NULL only when out of memory; the caller frees. */
cJSON *config_effective(const cJSON *section, const aitbc_cfg_key *schema) {
    cJSON *out = cJSON_IsObject(section) ? cJSON_Duplicate(section, 1) : cJSON_CreateObject();
    for (const aitbc_cfg_key *k = schema; out && k && k->key; k++) {
        if (cJSON_GetObjectItemCaseSensitive(out, k->key)) continue;
        cJSON *v = config_default_value(k);
        if (v && !cJSON_AddItemToObject(out, k->key, v)) {
            cJSON_Delete(v);
            cJSON_Delete(out);
            out = NULL;
        }
    }
    return out;
}

/* ---- the host's sections ---- */

/* The host's sections are checked against these schemas exactly as a plugin's section is against
 * its own (unknown key, type, range; the same messages), printed by --print-config-example and
 * shown by --check-config the same way. A default that depends on the machine or on another key
 * is left out (.def = NULL) and its doc says what it is. What a schema cannot say (a host:port,
 * one of a few words, a path) the readers below check after it. */
static const aitbc_cfg_key node_keys[] = {
    {"data_dir", AITBC_CFG_STRING, 0,
     "directory for the database, node key and admin key; created with mode 0700", .def = "./data"},
    {"log_level", AITBC_CFG_STRING, 0, "error | warn | info | debug", .def = "info"},
    {"log_format", AITBC_CFG_STRING, 0,
     "text | json (one JSON object per line: ts, level, plugin, msg, request_id)", .def = "text"},
    {"workers", AITBC_CFG_INT, 0, "worker-pool threads that run plugin tasks", .def = "2",
     AITBC_CFG_RANGE(1, 256)},
    {"plugin_path", AITBC_CFG_STRING, 0,
     "':'-separated directories searched for <name>.so (default: the build's plugin dir, then "
     "<prefix>/lib/aitbc/plugins; $AITBC_PLUGIN_PATH is searched first)",
     .def = NULL},
    {0}};
static const aitbc_cfg_key http_keys[] = {
    {"listen", AITBC_CFG_STRING, 0,
     "host:port (\"[::1]:18000\" for IPv6); port 0 picks a free port (written to --ready-file)",
     .def = "127.0.0.1:18000"},
    {"threads", AITBC_CFG_INT, 0, "HTTP worker threads", .def = "4", AITBC_CFG_RANGE(1, 1024)},
    {"max_body_bytes", AITBC_CFG_INT, 0,
     "larger request bodies get 413 (a route may allow more itself)", .def = "1048576",
     AITBC_CFG_RANGE(1, INT_MAX)},
    {"path_prefix", AITBC_CFG_STRING, 0,
     "e.g. /api: every route answers under the prefix too (\"\" = none)", .def = ""},
    {"access_log", AITBC_CFG_BOOL, 0, "one log line per request", .def = "true"},
    {"max_connections_per_address", AITBC_CFG_INT, 0,
     "sockets one client address may hold (0 = no cap); behind a reverse proxy every client has "
     "the proxy's address: raise it",
     .def = "256", AITBC_CFG_RANGE(0, 1000000)},
    {"header_timeout_s", AITBC_CFG_INT, 0,
     "seconds a connection has to send a request head (0 = no limit)", .def = "10",
     AITBC_CFG_RANGE(0, 3600)},
    {0}};
static const aitbc_cfg_key ws_keys[] = {
    {"listen", AITBC_CFG_STRING, 0, "host:port of the WebSocket listener",
     .def = "127.0.0.1:18001"},
    {"path", AITBC_CFG_STRING, 0, "upgrade path", .def = "/ws"},
    {"max_clients", AITBC_CFG_INT, 0, "connections at once; more are refused", .def = "1024",
     AITBC_CFG_RANGE(1, 1000000)},
    {"queue_max", AITBC_CFG_INT, 0,
     "messages queued per client; a client that falls behind is closed (1008)", .def = "256",
     AITBC_CFG_RANGE(1, 1000000)},
    {"queue_max_bytes", AITBC_CFG_INT, 0,
     "bytes queued per client; over it the client is closed (1008) as well", .def = "8388608",
     AITBC_CFG_RANGE(4096, INT_MAX)},
    {"max_clients_per_key", AITBC_CFG_INT, 0,
     "connections one API key may hold (0 = no cap); more get 429", .def = "64",
     AITBC_CFG_RANGE(0, 1000000)},
    {"max_clients_per_account", AITBC_CFG_INT, 0,
     "connections all keys of one account may hold together (0 = no cap)", .def = "128",
     AITBC_CFG_RANGE(0, 1000000)},
    {"ping_interval_s", AITBC_CFG_INT, 0, "seconds between pings (0 = never)", .def = "30",
     AITBC_CFG_RANGE(0, 86400)},
    {"allowed_origins", AITBC_CFG_ARRAY, 0,
     "Origin values accepted, e.g. [\"https://aitbc.example\"] (default: any)", .def = NULL},
    {0}};
static const aitbc_cfg_key storage_keys[] = {
    {"driver", AITBC_CFG_STRING, 0,
     "sqlite (one file, one host) | postgres (several hosts share one database)", .def = "sqlite"},
    {"path", AITBC_CFG_STRING, 0, "sqlite: the database file (default <data_dir>/aitbc.db)",
     .def = NULL},
    {"dsn", AITBC_CFG_STRING, 0,
     "postgres: libpq connection string, e.g. 'host=db.internal dbname=aitbc user=aitbc'; "
     "password in ~/.pgpass or ${NAME}, never logged",
     .def = NULL},
    {"pool", AITBC_CFG_INT, 0,
     "postgres: connections this host opens at most; a thread waits busy_timeout_ms at the cap, "
     "then fails",
     .def = "32", AITBC_CFG_RANGE(2, 1000)},
    {"synchronous", AITBC_CFG_STRING, 0,
     "sqlite: off | normal (survives a crash of the process) | full (survives power loss)",
     .def = "normal"},
    {"busy_timeout_ms", AITBC_CFG_INT, 0, "how long a write waits for the write lock",
     .def = "5000", AITBC_CFG_RANGE(0, 600000)},
    {0}};
static const aitbc_cfg_key cluster_keys[] = {
    {"node_id", AITBC_CFG_STRING, 0,
     "this host's id among hosts sharing one PostgreSQL, unique, [A-Za-z0-9._:-]{1,63} "
     "(default <hostname>-<random>, new at every start)",
     .def = NULL},
    {"poll_ms", AITBC_CFG_INT, 0,
     "ms between catch-ups without a notification and between leader attempts", .def = "1000",
     AITBC_CFG_RANGE(50, 60000)},
    {"retention_s", AITBC_CFG_INT, 0, "seconds cross-host events are kept for hosts that reconnect",
     .def = "3600", AITBC_CFG_RANGE(60, 86400 * 30)},
    {0}};

typedef struct ctx {
    const host_config *cfg;
    const cJSON *sec; /* the section as written (its nodes carry the line numbers), or NULL */
    const cJSON *eff; /* the same with every default filled in: what the readers read */
    char *err;
    size_t errlen;
} ctx;

/* The effective value of key (checked against the schema already), or NULL (no default). */
static const cJSON *val(const ctx *c, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(c->eff, key);
}

/* "'key' why", at key's line in the file (the section's, for a default). */
static int refuse(const ctx *c, const char *key, const char *why) {
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(c->sec, key);
    return failf(c->cfg, at ? at : c->sec, c->err, c->errlen, "'%s' %s", key, why);
}

/* An INT key, read as plugins read theirs: the schema has checked its bounds, all of which fit
 * an int. */
static int num(const ctx *c, const char *key) {
    return (int)aitbc_cfg_i64(c->eff, key);
}

/* Copies a string value into a fixed buffer; a value that does not fit is an error. */
static int take_str(const ctx *c, const char *key, char *dst, size_t cap) {
    const char *v = cJSON_GetStringValue(val(c, key));
    if (!v) return 0;
    if (strlen(v) >= cap) {
        char why[64];
        snprintf(why, sizeof why, "is longer than %zu characters", cap - 1);
        return refuse(c, key, why);
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int take_enum(const ctx *c, const char *key, const char *const *allowed, char *dst,
                     size_t cap) {
    const char *v = cJSON_GetStringValue(val(c, key));
    char list[128] = "";
    size_t n = 0;
    for (const char *const *a = allowed; v && *a; a++) {
        if (strcasecmp(v, *a) == 0) {
            snprintf(dst, cap, "%s", *a);
            return 0;
        }
        int w = snprintf(list + n, sizeof list - n, "%s%s", n ? "|" : "", *a);
        n = w > 0 && (size_t)w < sizeof list - n ? n + (size_t)w : n;
    }
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(c->sec, key);
    return failf(c->cfg, at ? at : c->sec, c->err, c->errlen, "'%s' must be %s, got '%s'", key,
                 list, v ? v : "");
}

/** @brief Parse "host:port" (or "[v6]:port"); port 0..65535. 0 or AITBC_EINVAL. */
static int parse_listen(const char *text, char *host, size_t hostcap, int *port) {
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || !colon[1] ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5)
        return AITBC_EINVAL;
    long p = strtol(colon + 1, NULL, 10);
    if (p > 65535) return AITBC_EINVAL;
    const char *h = text;
    size_t hlen = (size_t)(colon - text);
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']') return AITBC_EINVAL;
        h++, hlen -= 2;
    } else if (memchr(h, ':', hlen)) {
        return AITBC_EINVAL; /* bare IPv6 needs brackets */
    }
    if (hlen == 0 || hlen >= hostcap || memchr(h, ' ', hlen) || memchr(h, '[', hlen) ||
        memchr(h, ']', hlen))
        return AITBC_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

static int take_listen(const ctx *c, char *host, size_t cap, int *port) {
    const char *v = cJSON_GetStringValue(val(c, "listen"));
    if (parse_listen(v ? v : "", host, cap, port) != 0) {
        char why[600];
        snprintf(why, sizeof why, "must be \"host:port\" with port 0-65535, got '%.500s'",
                 v ? v : "");
        return refuse(c, "listen", why);
    }
    return 0;
}

static int path_ok(const char *p) {
    return p[0] == '/' && !strpbrk(p, " ?#\t");
}

static int read_node(const ctx *c, host_settings *s) {
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    static const char *const formats[] = {"text", "json", NULL};
    int rc = take_str(c, "data_dir", s->data_dir, sizeof s->data_dir);
    if (!rc && !s->data_dir[0]) rc = refuse(c, "data_dir", "must not be empty");
    const char *lv = cJSON_GetStringValue(val(c, "log_level"));
    if (!rc && lv && !strcasecmp(lv, "warning"))
        snprintf(s->log_level, sizeof s->log_level, "warn");
    else if (!rc)
        rc = take_enum(c, "log_level", levels, s->log_level, sizeof s->log_level);
    if (!rc) rc = take_enum(c, "log_format", formats, s->log_format, sizeof s->log_format);
    s->workers = num(c, "workers");
    if (rc) return rc;
    /* AITBC_PLUGIN_PATH comes first so a developer can shadow installed plugins. */
    const char *pp = cJSON_GetStringValue(val(c, "plugin_path"));
    const char *configured = pp ? pp : AITBC_DEFAULT_PLUGIN_DIR;
    const char *env = getenv("AITBC_PLUGIN_PATH");
    int n = snprintf(s->plugin_path, sizeof s->plugin_path, "%s%s%s", env && *env ? env : "",
                     env && *env ? ":" : "", configured);
    if (n < 0 || (size_t)n >= sizeof s->plugin_path) return refuse(c, "plugin_path", "is too long");
    return 0;
}

static int read_http(const ctx *c, host_settings *s) {
    int rc = take_listen(c, s->http_host, sizeof s->http_host, &s->http_port);
    s->http_threads = num(c, "threads");
    s->max_body_bytes = (size_t)num(c, "max_body_bytes");
    if (!rc) rc = take_str(c, "path_prefix", s->path_prefix, sizeof s->path_prefix);
    if (!rc && s->path_prefix[0] &&
        (!path_ok(s->path_prefix) || s->path_prefix[strlen(s->path_prefix) - 1] == '/'))
        rc = refuse(c, "path_prefix", "must start with '/' and not end with '/' (e.g. /api)");
    s->http_max_conns_per_address = num(c, "max_connections_per_address");
    s->http_header_timeout_s = num(c, "header_timeout_s");
    s->http_access_log = aitbc_cfg_bool(c->eff, "access_log");
    return rc;
}

static int read_ws(const ctx *c, host_settings *s) {
    int rc = take_listen(c, s->ws_host, sizeof s->ws_host, &s->ws_port);
    if (!rc) rc = take_str(c, "path", s->ws_path, sizeof s->ws_path);
    if (!rc && !path_ok(s->ws_path)) rc = refuse(c, "path", "must start with '/' (e.g. /ws)");
    s->ws_max_clients = num(c, "max_clients");
    s->ws_queue_max = num(c, "queue_max");
    s->ws_queue_max_bytes = num(c, "queue_max_bytes");
    s->ws_max_per_key = num(c, "max_clients_per_key");
    s->ws_max_per_account = num(c, "max_clients_per_account");
    s->ws_ping_s = num(c, "ping_interval_s");
    if (rc) return rc;
    /* Borrowed from the config tree (the effective copy is freed after reading). */
    const cJSON *ao = cJSON_GetObjectItemCaseSensitive(c->sec, "allowed_origins"), *o;
    cJSON_ArrayForEach(o, ao) {
        if (!cJSON_IsString(o))
            return failf(c->cfg, o, c->err, c->errlen, "'allowed_origins' must list strings");
    }
    s->ws_allowed_origins = (cJSON *)ao;
    return 0;
}

static int read_storage(const ctx *c, host_settings *s) {
    static const char *const drivers[] = {"sqlite", "postgres", NULL};
    static const char *const syncs[] = {"off", "normal", "full", NULL};
    int rc = take_enum(c, "driver", drivers, s->db_driver, sizeof s->db_driver);
    if (!rc) rc = take_str(c, "path", s->db_path, sizeof s->db_path);
    if (!rc) rc = take_str(c, "dsn", s->db_dsn, sizeof s->db_dsn);
    s->db_pool = num(c, "pool");
    if (!rc && !strcmp(s->db_driver, "postgres") && !s->db_dsn[0])
        rc = failf(c->cfg, c->sec, c->err, c->errlen,
                   "storage.driver postgres needs storage.dsn (a libpq connection string)");
    if (!rc) rc = take_enum(c, "synchronous", syncs, s->db_synchronous, sizeof s->db_synchronous);
    s->db_busy_timeout_ms = num(c, "busy_timeout_ms");
    return rc;
}

/* Used with storage.driver postgres only; on SQLite the section is checked and has no effect. */
static int read_cluster(const ctx *c, host_settings *s) {
    int rc = take_str(c, "node_id", s->cluster_node_id, sizeof s->cluster_node_id);
    if (!rc && val(c, "node_id") && !cluster_node_id_valid(s->cluster_node_id))
        rc = refuse(c, "node_id", "must be 1-63 of A-Z a-z 0-9 . _ : -");
    s->cluster_poll_ms = num(c, "poll_ms");
    s->cluster_retention_s = num(c, "retention_s");
    return rc;
}

static const struct host_section {
    const char *name, *about;
    const aitbc_cfg_key *keys;
    int (*read)(const ctx *, host_settings *);
} k_sections[] = {
    {"node", "this host: data, logs, threads, where plugins are found", node_keys, read_node},
    {"http", "the HTTP API listener", http_keys, read_http},
    {"websocket", "the WebSocket feed; without this section there is no WebSocket listener",
     ws_keys, read_ws},
    {"storage", "the database (docs/operations.md, \"Storage\")", storage_keys, read_storage},
    {"cluster",
     "several hosts on one PostgreSQL (storage.driver postgres); ignored with SQLite "
     "(docs/operations.md, \"Several hosts on one database\")",
     cluster_keys, read_cluster},
};
#define N_SECTIONS (sizeof k_sections / sizeof k_sections[0])

/** @brief The host's i-th own section (node, http, websocket, storage, cluster): its name, a
 *  one-line description and its schema; NULL past the last. */
const aitbc_cfg_key *config_host_section(size_t i, const char **name, const char **about) {
    if (i >= N_SECTIONS) return NULL;
    if (name) *name = k_sections[i].name;
    if (about) *about = k_sections[i].about;
    return k_sections[i].keys;
}

/* Every plugin entry must be a mapping or empty; the loader checks the contents. */
static int check_plugins(const host_config *cfg, const cJSON *plugins, char *err, size_t errlen) {
    const cJSON *p;
    cJSON_ArrayForEach(p, plugins) {
        if (!cJSON_IsObject(p) && !cJSON_IsNull(p))
            return failf(cfg, p, err, errlen,
                         "plugin '%s': its section must be a mapping (or {}), got %s", p->string,
                         value_name(p));
    }
    return 0;
}

/* The top level holds only the known sections, each a mapping or empty (= defaults). */
static int check_sections(const host_config *cfg, const cJSON *root, char *err, size_t errlen) {
    static const char *const known[] = {"node",    "http",    "websocket", "storage",
                                        "cluster", "plugins", NULL};
    const cJSON *sec;
    cJSON_ArrayForEach(sec, root) {
        if (!name_in(known, sec->string))
            return failf(cfg, sec, err, errlen,
                         "unknown section '%s' (known: node, http, websocket, storage, cluster, "
                         "plugins)",
                         sec->string);
        if (!cJSON_IsObject(sec) && !cJSON_IsNull(sec))
            return failf(cfg, sec, err, errlen, "section '%s' must be a mapping, got %s",
                         sec->string, value_name(sec));
    }
    return 0;
}

/** @brief Validate the host's sections and fill *out with defaults applied.
 *  @return 0, or AITBC_EINVAL with "file:line: reason" in err. */
int config_settings(const host_config *cfg, host_settings *out, char *err, size_t errlen) {
    const cJSON *root = config_root(cfg);
    memset(out, 0, sizeof *out);
    int rc = check_sections(cfg, root, err, errlen);
    for (size_t i = 0; !rc && i < N_SECTIONS; i++) {
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, k_sections[i].name);
        char where[64];
        snprintf(where, sizeof where, "section '%s'", k_sections[i].name);
        rc = check_defaults(k_sections[i].keys, where, err, errlen);
        if (!rc) rc = check_keys(cfg, sec, k_sections[i].keys, where, err, errlen);
        if (rc) break;
        ctx c = {cfg, cJSON_IsObject(sec) ? sec : NULL, NULL, err, errlen};
        cJSON *eff = config_effective(c.sec, k_sections[i].keys);
        if (!eff) {
            snprintf(err, errlen, "%s: out of memory", config_path(cfg));
            return AITBC_ENOMEM;
        }
        c.eff = eff;
        rc = k_sections[i].read(&c, out);
        cJSON_Delete(eff);
    }
    out->ws_enabled = cJSON_GetObjectItemCaseSensitive(root, "websocket") != NULL;
    if (!rc)
        rc = check_plugins(cfg, cJSON_GetObjectItemCaseSensitive(root, "plugins"), err, errlen);
    if (!rc && !out->db_path[0]) {
        int n = snprintf(out->db_path, sizeof out->db_path, "%s/aitbc.db", out->data_dir);
        if (n < 0 || (size_t)n >= sizeof out->db_path)
            rc = failf(cfg, root, err, errlen, "node.data_dir is too long");
    }
    return rc;
}
