/* compute-exec's config: the list of commands, each checked completely at start so a typo is a
 * start-up error naming the key, not a failed job later. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <aitbc/errors.h>
#include <aitbc/json.h>
#include "exec.h"

/* PATH is the one variable every command gets, so a script's `#!/usr/bin/env python3` works. */
#define EXEC_PATH "PATH=/usr/local/bin:/usr/bin:/bin"

static int fail(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return AITBC_EINVAL;
}

/* A portable environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int env_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* The coordinator's job type alphabet: a type it would refuse could never reach us. */
static int type_ok(const char *t) {
    size_t n = strlen(t);
    if (n == 0 || n >= EXEC_TYPE_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || strchr("_.-", t[i])))
            return 0;
    return 1;
}

static char **strings_of(const cJSON *arr, size_t extra) {
    size_t n = (size_t)cJSON_GetArraySize(arr);
    char **v = calloc(n + extra + 1, sizeof *v);
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (v && !(v[i++] = strdup(it->valuestring))) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return NULL;
        }
    }
    return v;
}

static void free_strings(char **v) {
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void exec_command_free(exec_command *c) {
    free_strings(c->argv);
    free_strings(c->envp);
    free(c->cwd);
    memset(c, 0, sizeof *c);
}

static int parse_env(const cJSON *env, exec_command *c, const char *at, char *err, size_t cap) {
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, env) {
        if (!env_name_ok(it->string) || strcmp(it->string, "PATH") == 0 || !cJSON_IsString(it))
            return fail(err, cap,
                        "%s.env.%s: names are [A-Za-z_][A-Za-z0-9_]* (PATH is fixed) and values "
                        "strings",
                        at, it->string);
        n++;
    }
    c->envp = calloc(n + 2, sizeof *c->envp);
    if (!c->envp) return AITBC_ENOMEM;
    c->envp[0] = strdup(EXEC_PATH);
    size_t i = 1;
    cJSON_ArrayForEach(it, env) {
        size_t len = strlen(it->string) + strlen(it->valuestring) + 2;
        if (!(c->envp[i] = malloc(len))) return AITBC_ENOMEM;
        snprintf(c->envp[i++], len, "%s=%s", it->string, it->valuestring);
    }
    return c->envp[0] ? 0 : AITBC_ENOMEM;
}

static const char *const k_keys[] = {
    "type", "argv", "timeout_s", "max_output_bytes", "memory_mb", "env", "cwd", "unit_type", NULL};

static int parse_command(const cJSON *o, exec_command *c, const char *at, char *err, size_t cap) {
    if (!cJSON_IsObject(o)) return fail(err, cap, "%s must be an object", at);
    const char *unknown = aitbc_json_unknown_key(o, k_keys);
    if (unknown)
        return fail(err, cap,
                    "%s.%s: unknown key (allowed: type, argv, timeout_s, "
                    "max_output_bytes, memory_mb, env, cwd, unit_type)",
                    at, unknown);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type"));
    if (!type || !type_ok(type))
        return fail(err, cap, "%s.type must be 1..%d of [a-z0-9_.-] (a job type)", at,
                    EXEC_TYPE_MAX - 1);
    snprintf(c->type, sizeof c->type, "%s", type);

    const cJSON *argv = cJSON_GetObjectItemCaseSensitive(o, "argv");
    int argc = cJSON_IsArray(argv) ? cJSON_GetArraySize(argv) : 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, argv) if (!cJSON_IsString(it)) argc = 0;
    if (argc == 0)
        return fail(err, cap, "%s.argv must be a non-empty array of strings (no shell)", at);
    const char *prog = cJSON_GetArrayItem(argv, 0)->valuestring;
    if (prog[0] != '/' || access(prog, X_OK) != 0)
        return fail(err, cap, "%s.argv[0] must be the absolute path of an executable file: %s", at,
                    prog);
    if (!(c->argv = strings_of(argv, 0))) return AITBC_ENOMEM;

    static const aitbc_cfg_int_spec ints[] = {{"timeout_s", 60, 1, 86400},
                                              {"max_output_bytes", 1048576, 1, 268435456},
                                              {"memory_mb", 1024, 0, 1048576}};
    int64_t v[3];
    int bad = aitbc_cfg_ints(o, ints, 3, v);
    if (bad >= 0)
        return fail(err, cap, "%s.%s must be an integer in %lld..%lld", at, ints[bad].key,
                    (long long)ints[bad].lo, (long long)ints[bad].hi);
    c->timeout_ms = v[0] * 1000;
    c->max_output_bytes = (size_t)v[1];
    c->memory_bytes = v[2] * 1024 * 1024;

    const cJSON *env = cJSON_GetObjectItemCaseSensitive(o, "env");
    if (env && !cJSON_IsObject(env)) return fail(err, cap, "%s.env must be an object", at);
    int rc = parse_env(env, c, at, err, cap);
    if (rc != 0) return rc;

    const cJSON *cwd = cJSON_GetObjectItemCaseSensitive(o, "cwd");
    if (cwd &&
        (!cJSON_IsString(cwd) || cwd->valuestring[0] != '/' || access(cwd->valuestring, X_OK) != 0))
        return fail(err, cap, "%s.cwd must be the absolute path of an existing directory", at);
    if (!(c->cwd = strdup(cwd ? cwd->valuestring : "/"))) return AITBC_ENOMEM;

    const cJSON *unit = cJSON_GetObjectItemCaseSensitive(o, "unit_type");
    const char *u = unit ? cJSON_GetStringValue(unit) : "job";
    if (!u || (strcmp(u, "job") != 0 && strcmp(u, "second") != 0))
        return fail(err, cap, "%s.unit_type must be \"job\" or \"second\"", at);
    c->bill_seconds = strcmp(u, "second") == 0;
    return 0;
}

int exec_set_parse(const cJSON *cfg, exec_set *set, char *err, size_t cap) {
    memset(set, 0, sizeof *set);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cfg, "commands");
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
        return fail(err, cap, "commands must be a non-empty list of {type, argv, ...}");
    size_t n = (size_t)cJSON_GetArraySize(list);
    set->commands = calloc(n, sizeof *set->commands);
    set->types = calloc(n + 1, sizeof *set->types);
    if (!set->commands || !set->types) {
        exec_set_free(set);
        return AITBC_ENOMEM;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, list) {
        char at[48];
        snprintf(at, sizeof at, "commands[%zu]", set->n);
        exec_command *c = &set->commands[set->n++];
        int rc = parse_command(o, c, at, err, cap);
        if (rc == 0 && exec_set_find(set, c->type) != c)
            rc = fail(err, cap, "%s.type: '%s' is already mapped to another command", at, c->type);
        if (rc != 0) {
            if (rc == AITBC_ENOMEM) snprintf(err, cap, "out of memory");
            exec_set_free(set);
            return rc;
        }
        set->types[set->n - 1] = c->type;
    }
    return 0;
}

void exec_set_free(exec_set *set) {
    for (size_t i = 0; i < set->n; i++)
        exec_command_free(&set->commands[i]);
    free(set->commands);
    free(set->types);
    memset(set, 0, sizeof *set);
}

const exec_command *exec_set_find(const exec_set *set, const char *type) {
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->commands[i].type, type) == 0) return &set->commands[i];
    return NULL;
}
