/* Fuzz target: the YAML config loader (host/config_yaml.c) and the validation on top of it
 * (host/config_settings.c). config_load only takes a path, so each input is written to one
 * per-process temp file (created on first use, removed at exit) and loaded from there.
 * Invariants: a failed load leaves an error message; a loaded config has a root; whatever the
 * validators answer, they answer with a message on failure, and everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static char tmp_path[256];

static void remove_tmp(void) {
    unlink(tmp_path);
}

/* A small plugin schema of every type, one key required. */
static const aitbc_cfg_key schema[] = {
    {"name", AITBC_CFG_STRING, 1, "required string", .def = NULL},
    {"interval_s", AITBC_CFG_INT, 0, "integer", .def = NULL},
    {"enabled", AITBC_CFG_BOOL, 0, "bool", .def = NULL},
    {"ratio", AITBC_CFG_NUMBER, 0, "any number", .def = NULL},
    {"limits", AITBC_CFG_OBJECT, 0, "object", .def = NULL},
    {"keys", AITBC_CFG_ARRAY, 0, "array", .def = NULL},
    {0}};

static int write_input(const uint8_t *data, size_t size) {
    if (!tmp_path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp_path, sizeof tmp_path, "%s/aitbc-fuzz-config-%ld.yaml",
                 dir && dir[0] ? dir : "/tmp", (long)getpid());
        atexit(remove_tmp);
    }
    FILE *f = fopen(tmp_path, "wb");
    if (!f) return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    int rc = fclose(f);
    return put == size && rc == 0 ? 0 : -1;
}

/* Walk the tree asking for line numbers, to touch the sorted node→line table. */
static void touch_lines(const host_config *cfg, const cJSON *node, int depth) {
    if (!node || depth > 80) return;
    if (config_line(cfg, node) < 0) abort();
    for (const cJSON *c = node->child; c; c = c->next)
        touch_lines(cfg, c, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (write_input(data, size) != 0)
        return 0; /* disk full or similar: nothing to learn from this input */
    char err[512];
    err[0] = '\0';
    host_config *cfg = config_load(tmp_path, err, sizeof err);
    if (!cfg) {
        if (!err[0]) abort(); /* refusals must say why */
        return 0;
    }
    const cJSON *root = config_root(cfg);
    if (!config_path(cfg)) abort();
    touch_lines(cfg, root, 0);

    host_settings set;
    memset(&set, 0, sizeof set);
    err[0] = '\0';
    if (config_settings(cfg, &set, err, sizeof err) != 0 && !err[0]) abort();

    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(root, "plugins");
    if (cJSON_IsObject(plugins)) {
        for (const cJSON *sec = plugins->child; sec; sec = sec->next) {
            err[0] = '\0';
            if (config_check_schema(cfg, sec, schema, sec->string, err, sizeof err) != 0 && !err[0])
                abort();
        }
    }
    config_free(cfg);
    return 0;
}
