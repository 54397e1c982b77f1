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

#include "internal.h"

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

static const aitbc_cfg_key node_keys[] = {
    {"data_dir", AITBC_CFG_STRING, 0, "directory for the database and keys (default ./data)",
     .def = NULL},
    {"log_level", AITBC_CFG_STRING, 0, "error|warn|info|debug (default info)", .def = NULL},
    {"log_format", AITBC_CFG_STRING, 0, "text|json: JSON = one object per line (default text)",
     .def = NULL},
    {"workers", AITBC_CFG_INT, 0, "worker threads for plugin tasks (default 2)", .def = NULL},
    {"plugin_path", AITBC_CFG_STRING, 0, "':'-separated directories searched for <name>.so",
     .def = NULL},
    {0}};
static const aitbc_cfg_key http_keys[] = {
    {"listen", AITBC_CFG_STRING, 0, "host:port (default 127.0.0.1:18000; port 0 = any)",
     .def = NULL},
    {"threads", AITBC_CFG_INT, 0, "HTTP worker threads (default 4)", .def = NULL},
    {"max_body_bytes", AITBC_CFG_INT, 0, "largest request body (default 1048576)", .def = NULL},
    {"path_prefix", AITBC_CFG_STRING, 0, "serve routes under this prefix too (default none)",
     .def = NULL},
    {"access_log", AITBC_CFG_BOOL, 0, "one log line per request (default true)", .def = NULL},
    {"max_connections_per_address", AITBC_CFG_INT, 0,
     "connections one client address may hold (default 256, 0 = no cap)", .def = NULL},
    {"header_timeout_s", AITBC_CFG_INT, 0,
     "seconds a connection has to send a request head (default 10, 0 = no limit)", .def = NULL},
    {0}};
static const aitbc_cfg_key ws_keys[] = {
    {"listen", AITBC_CFG_STRING, 0, "host:port (default 127.0.0.1:18001)", .def = NULL},
    {"path", AITBC_CFG_STRING, 0, "upgrade path (default /ws)", .def = NULL},
    {"max_clients", AITBC_CFG_INT, 0, "connections at once (default 1024)", .def = NULL},
    {"queue_max", AITBC_CFG_INT, 0, "queued messages per client (default 256)", .def = NULL},
    {"queue_max_bytes", AITBC_CFG_INT, 0, "queued bytes per client (default 8388608)", .def = NULL},
    {"max_clients_per_key", AITBC_CFG_INT, 0, "connections one API key may hold (default 64)",
     .def = NULL},
    {"max_clients_per_account", AITBC_CFG_INT, 0,
     "connections the keys of one account may hold together (default 128)", .def = NULL},
    {"ping_interval_s", AITBC_CFG_INT, 0, "seconds between pings (default 30, 0 = never)",
     .def = NULL},
    {"allowed_origins", AITBC_CFG_ARRAY, 0, "Origin values accepted (default any)", .def = NULL},
    {0}};
static const aitbc_cfg_key storage_keys[] = {
    {"driver", AITBC_CFG_STRING, 0, "sqlite|postgres (default sqlite)", .def = NULL},
    {"path", AITBC_CFG_STRING, 0, "database file (default <data_dir>/aitbc.db)", .def = NULL},
    {"dsn", AITBC_CFG_STRING, 0,
     "postgres: libpq connection string, e.g. 'host=db.internal dbname=aitbc user=aitbc'",
     .def = NULL},
    {"pool", AITBC_CFG_INT, 0, "postgres: connections this host opens at most (default 32)",
     .def = NULL},
    {"synchronous", AITBC_CFG_STRING, 0, "off|normal|full (default normal)", .def = NULL},
    {"busy_timeout_ms", AITBC_CFG_INT, 0, "wait for a locked database (default 5000)", .def = NULL},
    {0}};

typedef struct ctx {
    const host_config *cfg;
    char *err;
    size_t errlen;
} ctx;

/* Copies a string value into a fixed buffer; a value that does not fit is an error. */
static int take_str(ctx *c, const cJSON *sec, const char *key, char *dst, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sec, key);
    if (!v) return 0;
    if (strlen(v->valuestring) >= cap)
        return failf(c->cfg, v, c->err, c->errlen, "'%s' is longer than %zu characters", key,
                     cap - 1);
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

static int take_int(ctx *c, const cJSON *sec, const char *key, long long lo, long long hi,
                    int *dst) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sec, key);
    if (!v) return 0;
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return failf(c->cfg, v, c->err, c->errlen, "'%s' must be between %lld and %lld", key, lo,
                     hi);
    *dst = (int)v->valuedouble;
    return 0;
}

static int take_enum(ctx *c, const cJSON *sec, const char *key, const char *const *allowed,
                     char *dst, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sec, key);
    if (!v) return 0;
    char list[128] = "";
    size_t n = 0;
    for (const char *const *a = allowed; *a; a++) {
        if (strcasecmp(v->valuestring, *a) == 0) {
            snprintf(dst, cap, "%s", *a);
            return 0;
        }
        int w = snprintf(list + n, sizeof list - n, "%s%s", n ? "|" : "", *a);
        n = w > 0 && (size_t)w < sizeof list - n ? n + (size_t)w : n;
    }
    return failf(c->cfg, v, c->err, c->errlen, "'%s' must be %s, got '%s'", key, list,
                 v->valuestring);
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

static int take_listen(ctx *c, const cJSON *sec, char *host, size_t cap, int *port) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sec, "listen");
    if (v && parse_listen(v->valuestring, host, cap, port) != 0)
        return failf(c->cfg, v, c->err, c->errlen,
                     "'listen' must be \"host:port\" with port 0-65535, got '%s'", v->valuestring);
    return 0;
}

static int path_ok(const char *p) {
    return p[0] == '/' && !strpbrk(p, " ?#\t");
}

static int read_node(ctx *c, const cJSON *sec, host_settings *s) {
    int rc = 0;
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    rc |= take_str(c, sec, "data_dir", s->data_dir, sizeof s->data_dir);
    if (!rc && !s->data_dir[0])
        rc = failf(c->cfg, cJSON_GetObjectItem(sec, "data_dir"), c->err, c->errlen,
                   "'data_dir' must not be empty");
    if (!rc) {
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(sec, "log_level");
        if (lv && !strcasecmp(lv->valuestring, "warning"))
            snprintf(s->log_level, sizeof s->log_level, "warn");
        else
            rc = take_enum(c, sec, "log_level", levels, s->log_level, sizeof s->log_level);
    }
    static const char *const formats[] = {"text", "json", NULL};
    if (!rc) rc = take_enum(c, sec, "log_format", formats, s->log_format, sizeof s->log_format);
    if (!rc) rc = take_int(c, sec, "workers", 1, 256, &s->workers);
    if (rc) return rc;
    /* AITBC_PLUGIN_PATH comes first so a developer can shadow installed plugins. */
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(sec, "plugin_path");
    const char *configured = pp ? pp->valuestring : AITBC_DEFAULT_PLUGIN_DIR;
    const char *env = getenv("AITBC_PLUGIN_PATH");
    int n = snprintf(s->plugin_path, sizeof s->plugin_path, "%s%s%s", env && *env ? env : "",
                     env && *env ? ":" : "", configured);
    if (n < 0 || (size_t)n >= sizeof s->plugin_path)
        return failf(c->cfg, pp, c->err, c->errlen, "plugin path is too long");
    return 0;
}

static int read_http(ctx *c, const cJSON *sec, host_settings *s) {
    int bytes = (int)s->max_body_bytes;
    int rc = take_listen(c, sec, s->http_host, sizeof s->http_host, &s->http_port);
    if (!rc) rc = take_int(c, sec, "threads", 1, 1024, &s->http_threads);
    if (!rc) rc = take_int(c, sec, "max_body_bytes", 1, INT_MAX, &bytes);
    s->max_body_bytes = (size_t)bytes;
    if (!rc) rc = take_str(c, sec, "path_prefix", s->path_prefix, sizeof s->path_prefix);
    if (!rc && s->path_prefix[0] &&
        (!path_ok(s->path_prefix) || s->path_prefix[strlen(s->path_prefix) - 1] == '/'))
        rc = failf(c->cfg, cJSON_GetObjectItem(sec, "path_prefix"), c->err, c->errlen,
                   "'path_prefix' must start with '/' and not end with '/' (e.g. /api)");
    if (!rc)
        rc = take_int(c, sec, "max_connections_per_address", 0, 1000000,
                      &s->http_max_conns_per_address);
    if (!rc) rc = take_int(c, sec, "header_timeout_s", 0, 3600, &s->http_header_timeout_s);
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(sec, "access_log");
    if (!rc && al) s->http_access_log = cJSON_IsTrue(al);
    return rc;
}

static int read_ws(ctx *c, const cJSON *sec, host_settings *s) {
    int rc = take_listen(c, sec, s->ws_host, sizeof s->ws_host, &s->ws_port);
    if (!rc) rc = take_str(c, sec, "path", s->ws_path, sizeof s->ws_path);
    if (!rc && !path_ok(s->ws_path))
        rc = failf(c->cfg, cJSON_GetObjectItem(sec, "path"), c->err, c->errlen,
                   "'path' must start with '/' (e.g. /ws)");
    if (!rc) rc = take_int(c, sec, "max_clients", 1, 1000000, &s->ws_max_clients);
    if (!rc) rc = take_int(c, sec, "queue_max", 1, 1000000, &s->ws_queue_max);
    int qbytes = (int)s->ws_queue_max_bytes;
    if (!rc) rc = take_int(c, sec, "queue_max_bytes", 4096, INT_MAX, &qbytes);
    s->ws_queue_max_bytes = qbytes;
    if (!rc) rc = take_int(c, sec, "max_clients_per_key", 0, 1000000, &s->ws_max_per_key);
    if (!rc) rc = take_int(c, sec, "max_clients_per_account", 0, 1000000, &s->ws_max_per_account);
    if (!rc) rc = take_int(c, sec, "ping_interval_s", 0, 86400, &s->ws_ping_s);
    if (rc) return rc;
    const cJSON *ao = cJSON_GetObjectItemCaseSensitive(sec, "allowed_origins"), *o;
    cJSON_ArrayForEach(o, ao) {
        if (!cJSON_IsString(o))
            return failf(c->cfg, o, c->err, c->errlen, "'allowed_origins' must list strings");
    }
    s->ws_allowed_origins = (cJSON *)ao; /* borrowed from the config tree */
    return rc;
}

static int read_storage(ctx *c, const cJSON *sec, host_settings *s) {
    static const char *const drivers[] = {"sqlite", "postgres", NULL};
    static const char *const syncs[] = {"off", "normal", "full", NULL};
    int rc = take_enum(c, sec, "driver", drivers, s->db_driver, sizeof s->db_driver);
    if (!rc) rc = take_str(c, sec, "path", s->db_path, sizeof s->db_path);
    if (!rc) rc = take_str(c, sec, "dsn", s->db_dsn, sizeof s->db_dsn);
    if (!rc) rc = take_int(c, sec, "pool", 2, 1000, &s->db_pool);
    if (!rc && !strcmp(s->db_driver, "postgres") && !s->db_dsn[0])
        rc = failf(c->cfg, sec, c->err, c->errlen,
                   "storage.driver postgres needs storage.dsn (a libpq connection string)");
    if (!rc)
        rc = take_enum(c, sec, "synchronous", syncs, s->db_synchronous, sizeof s->db_synchronous);
    if (!rc) rc = take_int(c, sec, "busy_timeout_ms", 0, 600000, &s->db_busy_timeout_ms);
    return rc;
}

static void defaults(host_settings *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->data_dir, sizeof s->data_dir, "./data");
    snprintf(s->log_level, sizeof s->log_level, "info");
    snprintf(s->log_format, sizeof s->log_format, "text");
    snprintf(s->http_host, sizeof s->http_host, "127.0.0.1");
    s->http_port = 18000;
    s->http_threads = 4;
    s->max_body_bytes = 1024 * 1024;
    s->http_access_log = 1;
    s->http_max_conns_per_address = 256;
    s->http_header_timeout_s = 10;
    snprintf(s->ws_host, sizeof s->ws_host, "127.0.0.1");
    s->ws_port = 18001;
    snprintf(s->ws_path, sizeof s->ws_path, "/ws");
    s->ws_max_clients = 1024;
    s->ws_queue_max = 256;
    s->ws_queue_max_bytes = 8 * 1024 * 1024;
    s->ws_max_per_key = 64;
    s->ws_max_per_account = 128;
    s->ws_ping_s = 30;
    snprintf(s->db_driver, sizeof s->db_driver, "sqlite");
    snprintf(s->db_synchronous, sizeof s->db_synchronous, "normal");
    s->db_busy_timeout_ms = 5000;
    s->db_pool = 32;
    s->workers = 2;
}

/* Every plugin entry must be a mapping or empty; the loader checks the contents. */
static int check_plugins(ctx *c, const cJSON *plugins) {
    const cJSON *p;
    cJSON_ArrayForEach(p, plugins) {
        if (!cJSON_IsObject(p) && !cJSON_IsNull(p))
            return failf(c->cfg, p, c->err, c->errlen,
                         "plugin '%s': its section must be a mapping (or {}), got %s", p->string,
                         value_name(p));
    }
    return 0;
}

/* The top level holds only the known sections, each a mapping or empty (= defaults). */
static int check_sections(ctx *c, const cJSON *root) {
    static const char *const known[] = {"node", "http", "websocket", "storage", "plugins", NULL};
    const cJSON *sec;
    cJSON_ArrayForEach(sec, root) {
        if (!name_in(known, sec->string))
            return failf(c->cfg, sec, c->err, c->errlen,
                         "unknown section '%s' (known: node, http, websocket, storage, plugins)",
                         sec->string);
        if (!cJSON_IsObject(sec) && !cJSON_IsNull(sec))
            return failf(c->cfg, sec, c->err, c->errlen, "section '%s' must be a mapping, got %s",
                         sec->string, value_name(sec));
    }
    return 0;
}

/** @brief Validate the host's sections and fill *out with defaults applied.
 *  @return 0, or AITBC_EINVAL with "file:line: reason" in err. */
int config_settings(const host_config *cfg, host_settings *out, char *err, size_t errlen) {
    ctx c = {cfg, err, errlen};
    const cJSON *root = config_root(cfg);
    defaults(out);
    int rc = check_sections(&c, root);
    const struct {
        const char *name;
        const aitbc_cfg_key *keys;
        int (*read)(ctx *, const cJSON *, host_settings *);
    } sections[] = {{"node", node_keys, read_node},
                    {"http", http_keys, read_http},
                    {"websocket", ws_keys, read_ws},
                    {"storage", storage_keys, read_storage}};
    for (size_t i = 0; !rc && i < sizeof sections / sizeof sections[0]; i++) {
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, sections[i].name);
        char where[64];
        snprintf(where, sizeof where, "section '%s'", sections[i].name);
        rc = check_keys(cfg, sec, sections[i].keys, where, err, errlen);
        if (!rc) rc = sections[i].read(&c, cJSON_IsObject(sec) ? sec : NULL, out);
    }
    out->ws_enabled = cJSON_GetObjectItemCaseSensitive(root, "websocket") != NULL;
    if (!rc) rc = check_plugins(&c, cJSON_GetObjectItemCaseSensitive(root, "plugins"));
    if (!rc && !out->db_path[0]) {
        int n = snprintf(out->db_path, sizeof out->db_path, "%s/aitbc.db", out->data_dir);
        if (n < 0 || (size_t)n >= sizeof out->db_path)
            rc = failf(cfg, root, err, errlen, "node.data_dir is too long");
    }
    return rc;
}
