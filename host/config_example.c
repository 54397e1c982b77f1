/* --print-config-example: a config written from the schemas (the host's sections', then each
 * listed plugin's), so the example configs' comments cannot drift from what the host checks. Each
 * key gets one comment line (its doc, then type, default and range) and one line with its
 * default; a key without a default is shown commented out (or, when required, with a
 * placeholder). The shipped config/ YAML files keep exactly these lines in their sections (values
 * may differ): tests/integration/test_shipped_configs.c compares them. --check-config shows the
 * host's sections as they take effect (config_print_host). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The value written for a key without a default: empty of its type, or its lower bound. */
static void placeholder(FILE *out, const aitbc_cfg_key *k) {
    switch (k->type) {
    case AITBC_CFG_STRING:
        fputs("\"\"", out);
        return;
    case AITBC_CFG_INT:
    case AITBC_CFG_NUMBER:
        fprintf(out, "%.15g", k->bounds & AITBC_CFG_MIN ? k->min : 0.0);
        return;
    case AITBC_CFG_BOOL:
        fputs("false", out);
        return;
    case AITBC_CFG_OBJECT:
        fputs("{}", out);
        return;
    case AITBC_CFG_ARRAY:
        fputs("[]", out);
        return;
    }
}

/* "<indent># <doc> (<type>[, required][, default <value>], <range>)" then the key's line. */
static void print_key(FILE *out, const char *indent, const aitbc_cfg_key *k) {
    cJSON *def = config_default_value(k);
    char *def_text = def ? cJSON_PrintUnformatted(def) : NULL; /* JSON is YAML's flow style */
    char range[96];
    fprintf(out, "%s# %s (%s", indent, k->doc && k->doc[0] ? k->doc : k->key, config_type_text(k));
    if (k->required) fputs(", required", out);
    if (def_text) fprintf(out, ", default %s", def_text);
    if (k->type == AITBC_CFG_INT || k->type == AITBC_CFG_NUMBER)
        fprintf(out, ", %s", config_range_text(k, range, sizeof range));
    fputs(")\n", out);
    fprintf(out, "%s%s%s: ", indent, def_text || k->required ? "" : "# ", k->key);
    if (def_text)
        fputs(def_text, out);
    else
        placeholder(out, k);
    fputc('\n', out);
    free(def_text);
    cJSON_Delete(def);
}

/* The loaded plugin configured under name, or NULL. */
static const aitbc_plugin_ctx *loaded(const char *name) {
    for (size_t i = 0; i < loader_count(); i++) {
        const aitbc_plugin_ctx *p = loader_at(i);
        if (p->desc && p->desc->name && strcmp(p->desc->name, name) == 0) return p;
    }
    return NULL;
}

/** @brief Writes a config: the host's sections, then the `plugins:` section of cfg (plugins in
 *  the file's order), every key of each schema under its comment. Call after loader_load_all. */
void config_print_example(FILE *out, const host_config *cfg) {
    const char *name, *what;
    const aitbc_cfg_key *keys;
    for (size_t i = 0; (keys = config_host_section(i, &name, &what)) != NULL; i++) {
        fprintf(out, "%s:  # %s\n", name, what);
        for (const aitbc_cfg_key *k = keys; k->key; k++)
            print_key(out, "  ", k);
        fputc('\n', out);
    }
    const cJSON *section;
    fputs("plugins:\n", out);
    cJSON_ArrayForEach(section, cJSON_GetObjectItemCaseSensitive(config_root(cfg), "plugins")) {
        const aitbc_plugin_ctx *p = loaded(section->string);
        if (!p) continue;
        const aitbc_cfg_key *schema = loader_schema(p);
        const char *about = p->desc->description;
        fprintf(out, "  %s:%s", p->desc->name, schema && schema->key ? "" : " {}");
        if (about && about[0]) fprintf(out, "  # %s", about);
        fputc('\n', out);
        for (const aitbc_cfg_key *k = schema; k && k->key; k++)
            print_key(out, "    ", k);
    }
}

/** @brief "    key: value  (default)  min ..  max ..": one key of an effective section (v NULL:
 *  unset), for --check-config. */
void config_print_value(FILE *out, const aitbc_cfg_key *k, const cJSON *v) {
    char *text = v ? cJSON_PrintUnformatted(v) : NULL;
    fprintf(out, "    %s: %s", k->key, text ? text : "(unset)");
    cJSON *def = config_default_value(k);
    if (def && v && cJSON_Compare(def, v, 1)) fprintf(out, "  (default)");
    cJSON_Delete(def);
    if (k->bounds & AITBC_CFG_MIN) fprintf(out, "  min %.17g", k->min);
    if (k->bounds & AITBC_CFG_MAX) fprintf(out, "  max %.17g", k->max);
    fputc('\n', out);
    free(text);
}

/** @brief --check-config: each of the host's sections as it takes effect, key by key, marking
 *  defaults and bounds (as the plugins' effective config is shown); a dsn without its password. */
void config_print_host(FILE *out, const host_config *cfg) {
    const cJSON *root = config_root(cfg);
    const char *name;
    const aitbc_cfg_key *keys;
    fprintf(out, "effective host config:\n");
    for (size_t i = 0; (keys = config_host_section(i, &name, NULL)) != NULL; i++) {
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, name);
        if (!sec && strcmp(name, "websocket") == 0) {
            fprintf(out, "  websocket: (no section: no WebSocket listener)\n");
            continue;
        }
        cJSON *eff = config_effective(sec, keys);
        fprintf(out, "  %s:\n", name);
        for (const aitbc_cfg_key *k = keys; eff && k->key; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(eff, k->key);
            cJSON *redacted = NULL;
            if (v && strcmp(k->key, "dsn") == 0) {
                char dsn[1024];
                store_dsn_redacted(cJSON_GetStringValue(v), dsn, sizeof dsn);
                v = redacted = cJSON_CreateString(dsn);
            }
            config_print_value(out, k, v);
            cJSON_Delete(redacted);
        }
        cJSON_Delete(eff);
    }
}
