/* --print-config-example: the `plugins:` section of a config, written from the plugins' own
 * schemas, so the example configs' comments cannot drift from what the host checks. Each key
 * gets one comment line (its doc, then type, default and range) and one line with its default;
 * a key without a default is shown commented out (or, when required, with a placeholder). The
 * shipped config/ YAML files keep exactly these lines in their plugin sections (values may
 * differ): tests/integration/test_shipped_configs.c compares them. */
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

/* "    # <doc> (<type>[, required][, default <value>], <range>)" then the key's line. */
static void print_key(FILE *out, const aitbc_cfg_key *k) {
    cJSON *def = config_default_value(k);
    char *def_text = def ? cJSON_PrintUnformatted(def) : NULL; /* JSON is YAML's flow style */
    char range[96];
    fprintf(out, "    # %s (%s", k->doc && k->doc[0] ? k->doc : k->key, config_type_text(k));
    if (k->required) fputs(", required", out);
    if (def_text) fprintf(out, ", default %s", def_text);
    if (k->type == AITBC_CFG_INT || k->type == AITBC_CFG_NUMBER)
        fprintf(out, ", %s", config_range_text(k, range, sizeof range));
    fputs(")\n", out);
    fprintf(out, "    %s%s: ", def_text || k->required ? "" : "# ", k->key);
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

/** @brief Writes the `plugins:` section of cfg (plugins in the file's order) with every key of
 *  each loaded plugin's schema under its comment. Call after loader_load_all. */
void config_print_example(FILE *out, const host_config *cfg) {
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
            print_key(out, k);
    }
}
