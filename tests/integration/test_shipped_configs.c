/* The example configs in config/ against the plugins' schemas: every file passes
 * `aitbc-host --check-config` (unknown keys, wrong types and out-of-range values are refused
 * there), and every key of every plugin a file lists is shown, set or commented out, in at least
 * one shipped file, so an operator reading the examples sees each setting a plugin has. The keys
 * come from the schema itself: --check-config prints each listed plugin's effective config, one
 * line per schema key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#define KEYS_MAX 256
#define TEXT_MAX (256 * 1024)

static const char *const k_configs[] = {"minimal.yaml", "coordinator.yaml", "miner.yaml",
                                        "full.yaml"};

typedef struct schema_key {
    char plugin[64];
    char key[64];
    int shown; /* found in a shipped file's section of that plugin */
} schema_key;

static schema_key g_keys[KEYS_MAX];
static size_t g_nkeys;

/* Reads all of a stream into buf (NUL-terminated); the length. */
static size_t slurp(FILE *f, char *buf, size_t cap) {
    size_t n = 0, r;
    while (n + 1 < cap && (r = fread(buf + n, 1, cap - 1 - n, f)) > 0)
        n += r;
    buf[n] = '\0';
    return n;
}

/* "  name:" at exactly the given indent: copies name and returns 1. */
static int indented_name(const char *line, int indent, char *out, size_t cap) {
    for (int i = 0; i < indent; i++)
        if (line[i] != ' ') return 0;
    const char *p = line + indent, *colon = strchr(p, ':');
    if (*p == ' ' || *p == '#' || !colon || (size_t)(colon - p) >= cap || colon == p) return 0;
    for (const char *c = p; c < colon; c++)
        if (*c == ' ') return 0;
    memcpy(out, p, (size_t)(colon - p));
    out[colon - p] = '\0';
    return 1;
}

/* Remembers every (plugin, key) line of --check-config's "effective plugin config:" listing. */
static void collect_keys(const char *out) {
    const char *p = strstr(out, "\neffective plugin config:\n");
    assert_non_null(p);
    p = strchr(p + 1, '\n') + 1;
    char plugin[64] = "", name[64];
    for (const char *line = p; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
        if (indented_name(line, 2, name, sizeof name)) {
            snprintf(plugin, sizeof plugin, "%s", name);
        } else if (plugin[0] && indented_name(line, 4, name, sizeof name)) {
            size_t i = 0;
            while (i < g_nkeys && (strcmp(g_keys[i].plugin, plugin) || strcmp(g_keys[i].key, name)))
                i++;
            if (i == g_nkeys && g_nkeys < KEYS_MAX) {
                snprintf(g_keys[i].plugin, sizeof g_keys[i].plugin, "%s", plugin);
                snprintf(g_keys[i].key, sizeof g_keys[i].key, "%s", name);
                g_nkeys++;
            }
        }
    }
}

/* Whether the section of plugin under plugins: in text shows key, set ("key: …") or commented
 * out ("# key: …"), at any depth below the plugin's line. */
static int section_shows(const char *text, const char *plugin, const char *key) {
    const char *plugins = strstr(text, "\nplugins:");
    if (!plugins) return 0;
    char name[64];
    const char *line = strchr(plugins + 1, '\n');
    int inside = 0;
    size_t klen = strlen(key);
    for (line = line ? line + 1 : ""; *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
        if (line[0] != ' ' && line[0] != '#' && line[0] != '\n') break; /* next top-level key */
        if (indented_name(line, 2, name, sizeof name)) {
            inside = strcmp(name, plugin) == 0;
            continue;
        }
        if (!inside) continue;
        const char *p = line;
        while (*p == ' ' || *p == '#')
            p++;
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') return 1;
    }
    return 0;
}

static char *read_config(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config/%s", AITBC_SOURCE_DIR, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = malloc(TEXT_MAX);
    assert_non_null(text);
    slurp(f, text, TEXT_MAX);
    fclose(f);
    return text;
}

static void every_config_checks_and_shows_every_key(void **st) {
    (void)st;
    static char out[TEXT_MAX];
    for (size_t i = 0; i < sizeof k_configs / sizeof k_configs[0]; i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "'%s' -c '%s/config/%s' --check-config 2>&1", AITBC_HOST_BIN,
                 AITBC_SOURCE_DIR, k_configs[i]);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        slurp(p, out, sizeof out);
        int status = pclose(p);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("--check-config refuses config/%s:\n%s", k_configs[i], out);
        collect_keys(out);
    }
    assert_true(g_nkeys > 10); /* the listing was found and read */
    for (size_t i = 0; i < sizeof k_configs / sizeof k_configs[0]; i++) {
        char *text = read_config(k_configs[i]);
        for (size_t k = 0; k < g_nkeys; k++)
            g_keys[k].shown |= section_shows(text, g_keys[k].plugin, g_keys[k].key);
        free(text);
    }
    int missing = 0;
    for (size_t k = 0; k < g_nkeys; k++) {
        if (g_keys[k].shown) continue;
        print_message("no shipped config shows %s.%s (set it or add it commented out)\n",
                      g_keys[k].plugin, g_keys[k].key);
        missing++;
    }
    assert_int_equal(missing, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_config_checks_and_shows_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
