/* Config loading: YAML (libyaml's document API) → a cJSON tree, remembering the source line of
 * every node so later validation can say "file:line: reason". Scalars are typed the YAML 1.2
 * core way (plain true/false → bool, plain integers/floats → number, null/~/empty → null, quoted
 * → string), after ${ENV} substitution. The file is hostile input: duplicate keys, non-scalar
 * keys, custom tags, NUL bytes, deep nesting and alias bombs are refused. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "internal.h"

#define MAX_DEPTH 64
#define MAX_NODES 200000 /* aliases can multiply a small file; this bounds the expansion */
#define MAX_SAFE_INT 9007199254740992.0 /* 2^53: integers beyond it do not survive a double */

typedef struct line_ent {
    uintptr_t node;
    int line;
} line_ent;

struct host_config {
    char *path;
    cJSON *root;
    line_ent *lines; /* sorted by node address once loading is done */
    size_t nlines, cap;
};

typedef struct loader {
    host_config *cfg;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    size_t nodes;
} loader;

static int fail(loader *ld, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(loader *ld, int line, const char *fmt, ...) {
    int n = snprintf(ld->err, ld->errlen, "%s:%d: ", ld->cfg->path, line);
    if (n >= 0 && (size_t)n < ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return AITBC_EINVAL;
}

static int remember(host_config *cfg, const cJSON *node, int line) {
    if (cfg->nlines == cfg->cap) {
        size_t cap = cfg->cap ? cfg->cap * 2 : 64;
        line_ent *grown = realloc(cfg->lines, cap * sizeof *grown);
        if (!grown) return AITBC_ENOMEM;
        cfg->lines = grown;
        cfg->cap = cap;
    }
    cfg->lines[cfg->nlines++] = (line_ent){(uintptr_t)node, line};
    return 0;
}

/* ---- ${ENV} substitution ---- */

/* Appends to a growing buffer; 0 or AITBC_ENOMEM. */
static int buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t c = (*cap ? *cap : 64);
        while (c < *len + n + 1)
            c *= 2;
        char *g = realloc(*buf, c);
        if (!g) return AITBC_ENOMEM;
        *buf = g;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Replaces ${NAME} by the environment variable NAME; "$${" stands for a literal "${".
 * Returns a malloc'd string or NULL with the error written. */
static char *substitute_env(loader *ld, const char *in, int line) {
    char *out = NULL;
    size_t len = 0, cap = 0;
    if (buf_add(&out, &len, &cap, "", 0) != 0) goto oom;
    for (const char *p = in; *p;) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            if (buf_add(&out, &len, &cap, "${", 2) != 0) goto oom;
            p += 3;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            if (buf_add(&out, &len, &cap, p, 1) != 0) goto oom;
            p++;
            continue;
        }
        const char *name = p + 2, *end = strchr(name, '}');
        if (!end) {
            fail(ld, line, "unterminated ${ in value (write $${ for a literal ${)");
            goto bad;
        }
        size_t nlen = (size_t)(end - name);
        int ok = nlen > 0 && nlen < 256 && (isalpha((unsigned char)name[0]) || name[0] == '_');
        for (size_t i = 0; ok && i < nlen; i++)
            ok = isalnum((unsigned char)name[i]) || name[i] == '_';
        if (!ok) {
            fail(ld, line, "invalid environment variable name in ${%.*s}",
                 (int)(nlen > 64 ? 64 : nlen), name);
            goto bad;
        }
        char var[256];
        memcpy(var, name, nlen);
        var[nlen] = '\0';
        const char *val = getenv(var);
        if (!val) {
            fail(ld, line, "environment variable %s is not set", var);
            goto bad;
        }
        if (buf_add(&out, &len, &cap, val, strlen(val)) != 0) goto oom;
        p = end + 1;
    }
    return out;
oom:
    fail(ld, line, "out of memory");
bad:
    free(out);
    return NULL;
}

/* ---- scalar typing (YAML 1.2 core schema) ---- */

static int is_null_word(const char *s) {
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bool_word(const char *s) {
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return 0;
    return -1;
}

static int all_chars(const char *s, const char *set) {
    return *s && strspn(s, set) == strlen(s);
}

/* 1 and *out for a core-schema integer (decimal, 0o octal, 0x hex). */
static int parse_int_word(const char *s, double *out, int *range_err) {
    const char *digits = s;
    int base = 10;
    if (s[0] == '0' && s[1] == 'x') {
        digits = s + 2, base = 16;
        if (!all_chars(digits, "0123456789abcdefABCDEF")) return 0;
    } else if (s[0] == '0' && s[1] == 'o') {
        digits = s + 2, base = 8;
        if (!all_chars(digits, "01234567")) return 0;
    } else {
        if (*digits == '-' || *digits == '+') digits++;
        if (!all_chars(digits, "0123456789")) return 0;
    }
    errno = 0;
    long long v = strtoll(base == 10 ? s : digits, NULL, base);
    if (errno == ERANGE || (double)v > MAX_SAFE_INT || (double)v < -MAX_SAFE_INT) *range_err = 1;
    *out = (double)v;
    return 1;
}

/* 1 and *out for a core-schema float: [-+]?(.d+|d+(.d*)?)([eE][-+]?d+)? */
static int parse_float_word(const char *s, double *out) {
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    size_t intd = strspn(p, "0123456789");
    p += intd;
    size_t fracd = 0;
    if (*p == '.') {
        p++;
        fracd = strspn(p, "0123456789");
        p += fracd;
    }
    if (intd + fracd == 0) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        size_t expd = strspn(p, "0123456789");
        if (expd == 0) return 0;
        p += expd;
    }
    if (*p) return 0;
    double v = strtod(s, NULL);
    if (!isfinite(v)) return 0;
    *out = v;
    return 1;
}

static cJSON *make_scalar(loader *ld, yaml_node_t *node, int line) {
    const char *raw = (const char *)node->data.scalar.value;
    if (strlen(raw) != node->data.scalar.length) {
        fail(ld, line, "NUL byte in value");
        return NULL;
    }
    char *text = substitute_env(ld, raw, line);
    if (!text) return NULL;
    cJSON *item = NULL;
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        item = cJSON_CreateString(text);
    } else if (is_null_word(text)) {
        item = cJSON_CreateNull();
    } else if (bool_word(text) >= 0) {
        item = cJSON_CreateBool(bool_word(text));
    } else {
        double num;
        int range_err = 0;
        if (parse_int_word(text, &num, &range_err)) {
            if (range_err) {
                fail(ld, line, "integer %s is out of range", text);
                free(text);
                return NULL;
            }
            item = cJSON_CreateNumber(num);
        } else if (parse_float_word(text, &num)) {
            item = cJSON_CreateNumber(num);
        } else {
            item = cJSON_CreateString(text);
        }
    }
    free(text);
    if (!item) fail(ld, line, "out of memory");
    return item;
}

/* ---- tree conversion ---- */

static cJSON *convert(loader *ld, yaml_node_t *node, int line, int depth);

static int tag_ok(const yaml_node_t *node) {
    const char *tag = (const char *)node->tag;
    return !tag || !strcmp(tag, YAML_STR_TAG) || !strcmp(tag, YAML_SEQ_TAG) ||
           !strcmp(tag, YAML_MAP_TAG);
}

static cJSON *convert_mapping(loader *ld, yaml_node_t *node, int depth) {
    cJSON *obj = cJSON_CreateObject();
    if (!obj) {
        fail(ld, (int)node->start_mark.line + 1, "out of memory");
        return NULL;
    }
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
        int kline = (int)k->start_mark.line + 1;
        if (k->type != YAML_SCALAR_NODE) {
            fail(ld, kline, "a mapping key must be a plain word");
            goto bad;
        }
        const char *key = (const char *)k->data.scalar.value;
        if (strlen(key) != k->data.scalar.length) {
            fail(ld, kline, "NUL byte in key");
            goto bad;
        }
        if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
            fail(ld, kline, "duplicate key '%s'", key);
            goto bad;
        }
        /* The member's line is its key's line: that is where a reader looks for it. */
        cJSON *child = convert(ld, v, kline, depth + 1);
        if (!child) goto bad;
        cJSON_AddItemToObject(obj, key, child);
    }
    return obj;
bad:
    cJSON_Delete(obj);
    return NULL;
}

static cJSON *convert_sequence(loader *ld, yaml_node_t *node, int depth) {
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        fail(ld, (int)node->start_mark.line + 1, "out of memory");
        return NULL;
    }
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
         it++) {
        yaml_node_t *v = yaml_document_get_node(ld->doc, *it);
        cJSON *child = convert(ld, v, (int)v->start_mark.line + 1, depth + 1);
        if (!child) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, child);
    }
    return arr;
}

static cJSON *convert(loader *ld, yaml_node_t *node, int line, int depth) {
    if (depth > MAX_DEPTH) {
        fail(ld, line, "nesting deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    if (++ld->nodes > MAX_NODES) {
        fail(ld, line, "more than %d values (alias expansion?)", MAX_NODES);
        return NULL;
    }
    if (!tag_ok(node)) {
        fail(ld, line, "YAML tag %s is not supported", (const char *)node->tag);
        return NULL;
    }
    cJSON *item = NULL;
    switch (node->type) {
    case YAML_SCALAR_NODE:
        item = make_scalar(ld, node, line);
        break;
    case YAML_MAPPING_NODE:
        item = convert_mapping(ld, node, depth);
        break;
    case YAML_SEQUENCE_NODE:
        item = convert_sequence(ld, node, depth);
        break;
    default:
        fail(ld, line, "unexpected YAML node");
        return NULL;
    }
    if (item && remember(ld->cfg, item, line) != 0) {
        cJSON_Delete(item);
        fail(ld, line, "out of memory");
        return NULL;
    }
    return item;
}

static int cmp_line(const void *a, const void *b) {
    uintptr_t x = ((const line_ent *)a)->node, y = ((const line_ent *)b)->node;
    return x < y ? -1 : x > y;
}

static void parse_error(loader *ld, yaml_parser_t *parser) {
    int line = (int)parser->problem_mark.line + 1;
    if (parser->context)
        fail(ld, line, "YAML syntax error: %s (%s at line %d)",
             parser->problem ? parser->problem : "unknown", parser->context,
             (int)parser->context_mark.line + 1);
    else
        fail(ld, line, "YAML syntax error: %s", parser->problem ? parser->problem : "unknown");
}

/* Parses the single document of the file into cfg->root. */
static int load_document(loader *ld, FILE *f) {
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int rc = AITBC_EINVAL;
    if (!yaml_parser_initialize(&parser)) return fail(ld, 0, "out of memory");
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        parse_error(ld, &parser);
        yaml_parser_delete(&parser);
        return rc;
    }
    ld->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        ld->cfg->root = cJSON_CreateObject(); /* an empty file: every default, no plugins */
        rc = ld->cfg->root && remember(ld->cfg, ld->cfg->root, 1) == 0 ? 0 : AITBC_ENOMEM;
    } else if (root->type != YAML_MAPPING_NODE) {
        fail(ld, (int)root->start_mark.line + 1, "the top level must be a mapping of sections");
    } else {
        ld->cfg->root = convert(ld, root, 1, 0);
        rc = ld->cfg->root ? 0 : AITBC_EINVAL;
    }
    yaml_document_delete(&doc);
    if (rc == 0) {
        if (!yaml_parser_load(&parser, &extra)) {
            parse_error(ld, &parser);
            rc = AITBC_EINVAL;
        } else {
            if (yaml_document_get_root_node(&extra)) {
                fail(ld, (int)yaml_document_get_root_node(&extra)->start_mark.line + 1,
                     "only one YAML document per file");
                rc = AITBC_EINVAL;
            }
            yaml_document_delete(&extra);
        }
    }
    yaml_parser_delete(&parser);
    return rc;
}

/** @brief Load a YAML config file into a cJSON tree with line numbers and ${ENV} substitution.
 *  @return the config (config_free) or NULL with "file:line: reason" in err. */
host_config *config_load(const char *path, char *err, size_t errlen) {
    host_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->path = strdup(path))) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(cfg);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        config_free(cfg);
        return NULL;
    }
    loader ld = {.cfg = cfg, .err = err, .errlen = errlen};
    int rc = load_document(&ld, f);
    fclose(f);
    if (rc != 0) {
        config_free(cfg);
        return NULL;
    }
    qsort(cfg->lines, cfg->nlines, sizeof *cfg->lines, cmp_line);
    return cfg;
}

/** @brief Free a config and its tree (every node borrowed from it becomes invalid). */
void config_free(host_config *cfg) {
    if (!cfg) return;
    cJSON_Delete(cfg->root);
    free(cfg->lines);
    free(cfg->path);
    free(cfg);
}

/** @brief The parsed tree (always an object). */
const cJSON *config_root(const host_config *cfg) {
    return cfg ? cfg->root : NULL;
}

/** @brief The file the config came from, as given to config_load. */
const char *config_path(const host_config *cfg) {
    return cfg ? cfg->path : "";
}

/** @brief 1-based source line of a node of this config (its key's line for members), or 0. */
int config_line(const host_config *cfg, const cJSON *node) {
    if (!cfg || !node || !cfg->lines) return 0;
    line_ent key = {(uintptr_t)node, 0};
    const line_ent *e = bsearch(&key, cfg->lines, cfg->nlines, sizeof key, cmp_line);
    return e ? e->line : 0;
}
