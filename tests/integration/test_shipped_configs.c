/* The example configs in config/ against the schemas: every file passes
 * `aitbc-host --check-config` (unknown keys, wrong types and out-of-range values are refused
 * there), and each section of every file, the host's own (node, http, ...) and each plugin's,
 * shows what `--print-config-example` writes from its schema: every key, in schema order, set or
 * commented out, under its comment line (meaning, type, default, range) word for word. Values are
 * the file's own, and so are nested lines below a key and a comment after a value; a key or
 * comment the schema no longer has, a missing key, or a comment that differs from the schema
 * fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define TEXT_MAX (256 * 1024)
#define LINES_MAX 512

static const char *const k_configs[] = {"minimal.yaml", "coordinator.yaml", "miner.yaml",
                                        "full.yaml"};

/* Reads all of a stream into buf (NUL-terminated); the length. */
static size_t slurp(FILE *f, char *buf, size_t cap) {
    size_t n = 0, r;
    while (n + 1 < cap && (r = fread(buf + n, 1, cap - 1 - n, f)) > 0)
        n += r;
    buf[n] = '\0';
    return n;
}

/* Runs aitbc-host -c <path> <flag>, its stdout (and its log, with_log) into out; fails
 * the test unless it exits 0. */
static void host_output(const char *path, const char *flag, int with_log, char *out, size_t cap) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s' %s %s", AITBC_HOST_BIN, path, flag,
             with_log ? "2>&1" : "2>/dev/null");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    slurp(p, out, cap);
    int status = pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s refuses %s:\n%s", flag, path, with_log ? out : "(run it to see why)");
}

static void config_path(const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s/config/%s", AITBC_SOURCE_DIR, name);
}

static char *read_config(const char *name) {
    char path[1024];
    config_path(name, path, sizeof path);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = malloc(TEXT_MAX);
    assert_non_null(text);
    slurp(f, text, TEXT_MAX);
    fclose(f);
    return text;
}

/* "  name:" at exactly the given indent: copies name and returns 1. */
static int indented_name(const char *line, int indent, char *out, size_t cap) {
    for (int i = 0; i < indent; i++)
        if (line[i] != ' ') return 0;
    const char *p = line + indent, *colon = strchr(p, ':');
    const char *eol = strchr(p, '\n');
    if (*p == ' ' || *p == '#' || !colon || (eol && colon > eol) || colon == p ||
        (size_t)(colon - p) >= cap)
        return 0;
    for (const char *c = p; c < colon; c++)
        if (*c == ' ') return 0;
    memcpy(out, p, (size_t)(colon - p));
    out[colon - p] = '\0';
    return 1;
}

static const char *next_line(const char *line) {
    const char *nl = strchr(line, '\n');
    return nl ? nl + 1 : line + strlen(line);
}

/* The line after "  <plugin>:" under the top-level plugins: key of text, or NULL. */
static const char *section_body(const char *text, const char *plugin) {
    const char *line = strstr(text, "\nplugins:");
    if (!line) line = strncmp(text, "plugins:", 8) == 0 ? text : NULL;
    if (!line) return NULL;
    char name[64];
    for (line = next_line(line + (*line == '\n')); *line; line = next_line(line)) {
        if (line[0] != ' ' && line[0] != '#' && line[0] != '\n') return NULL; /* next top key */
        if (indented_name(line, 2, name, sizeof name) && strcmp(name, plugin) == 0)
            return next_line(line);
    }
    return NULL;
}

/* The line after the top-level "<name>:" of text (a host section), or NULL. */
static const char *host_section_body(const char *text, const char *name) {
    char head[80];
    snprintf(head, sizeof head, "\n%s:", name);
    const char *line = strncmp(text, head + 1, strlen(head + 1)) == 0 ? text : strstr(text, head);
    return line ? next_line(line + (*line == '\n')) : NULL;
}

/* One line of a section whose keys sit at key_indent (2: the host's, 4: a plugin's), reduced to
 * what the schema decides: "key <name>" for a key line (set, or commented out as "# name:"),
 * "doc <text>" for a comment line at the key's indent; NULL for lines that belong to a value
 * (deeper indent, or "#  " commented-out continuations). */
static const char *reduce(const char *line, size_t key_indent, char *out, size_t cap) {
    size_t len = strcspn(line, "\n"), indent = strspn(line, " ");
    if (indent == len || indent >= key_indent + 2) return NULL;
    const char *p = line + indent;
    int commented = *p == '#';
    if (commented && strncmp(p, "#  ", 3) == 0) return NULL;
    if (commented) p += p[1] == ' ' ? 2 : 1;
    size_t rest = len - (size_t)(p - line), id = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (indent == key_indent && id > 0 && id < rest && p[id] == ':' &&
        (id + 1 == rest || p[id + 1] == ' '))
        snprintf(out, cap, "key %.*s", (int)id, p);
    else if (indent == key_indent && commented)
        snprintf(out, cap, "doc %.*s", (int)rest, p);
    else
        snprintf(out, cap, "line %.*s", (int)(len - indent), line + indent);
    return out;
}

/* The reduced lines of the section starting at body (it ends at a line indented less than
 * key_indent). */
static size_t reduce_section(const char *body, size_t key_indent, char lines[][1024], size_t max) {
    size_t n = 0;
    for (const char *line = body; *line && n < max; line = next_line(line)) {
        size_t len = strcspn(line, "\n"), indent = strspn(line, " ");
        if (indent == len) continue;
        if (indent < key_indent) break;
        if (reduce(line, key_indent, lines[n], sizeof lines[n])) n++;
    }
    return n;
}

/* 0 if the shipped file's section (have_body: of plugin, or of the host's section plugin when
 * key_indent is 2) reduces to the generated one; else prints where. */
static int compare_section(const char *file, const char *plugin, size_t key_indent,
                           const char *want_body, const char *have_body) {
    static char want[LINES_MAX][1024], have[LINES_MAX][1024];
    if (!have_body) {
        print_message("config/%s: no section for plugin %s under plugins:\n", file, plugin);
        return 1;
    }
    size_t nw = reduce_section(want_body, key_indent, want, LINES_MAX);
    size_t nh = reduce_section(have_body, key_indent, have, LINES_MAX);
    for (size_t i = 0; i < nw || i < nh; i++) {
        if (i < nw && i < nh && strcmp(want[i], have[i]) == 0) continue;
        print_message("config/%s, section %s, line %zu of its keys: the schema has\n  %s\n"
                      "but the file has\n  %s\n(aitbc-host -c config/%s --print-config-example "
                      "prints the section)\n",
                      file, plugin, i + 1, i < nw ? want[i] : "(nothing more)",
                      i < nh ? have[i] : "(nothing more)", file);
        return 1;
    }
    return 0;
}

static void every_config_passes_check_config(void **st) {
    (void)st;
    static char out[TEXT_MAX];
    for (size_t i = 0; i < sizeof k_configs / sizeof k_configs[0]; i++) {
        char path[1024];
        config_path(k_configs[i], path, sizeof path);
        host_output(path, "--check-config", 1, out, sizeof out);
        assert_non_null(strstr(out, "config ok: "));
    }
}

static void every_plugin_section_matches_its_schema(void **st) {
    (void)st;
    static char out[TEXT_MAX];
    int drifted = 0;
    size_t sections = 0, lines = 0;
    for (size_t i = 0; i < sizeof k_configs / sizeof k_configs[0]; i++) {
        char path[1024];
        config_path(k_configs[i], path, sizeof path);
        host_output(path, "--print-config-example", 0, out, sizeof out);
        const char *plugins = strstr(out, "\nplugins:\n");
        assert_non_null(plugins);
        char *text = read_config(k_configs[i]);
        char name[64];
        for (const char *line = plugins + 1; *line; line = next_line(line)) {
            if (!indented_name(line, 2, name, sizeof name)) continue;
            static char reduced[LINES_MAX][1024];
            lines += reduce_section(next_line(line), 4, reduced, LINES_MAX);
            drifted +=
                compare_section(k_configs[i], name, 4, next_line(line), section_body(text, name));
            sections++;
        }
        free(text);
    }
    assert_true(sections >= 15 && lines > 100); /* the examples were printed and read */
    assert_int_equal(drifted, 0);
}

/* The host's sections the same way (those a file has: the others take their defaults). */
static void every_host_section_matches_its_schema(void **st) {
    (void)st;
    static char out[TEXT_MAX];
    int drifted = 0;
    size_t sections = 0;
    for (size_t i = 0; i < sizeof k_configs / sizeof k_configs[0]; i++) {
        char path[1024];
        config_path(k_configs[i], path, sizeof path);
        host_output(path, "--print-config-example", 0, out, sizeof out);
        char *text = read_config(k_configs[i]);
        char name[64];
        for (const char *line = out; *line && strncmp(line, "plugins:", 8) != 0;
             line = next_line(line)) {
            if (!indented_name(line, 0, name, sizeof name)) continue;
            const char *have = host_section_body(text, name);
            if (!have) continue;
            drifted += compare_section(k_configs[i], name, 2, next_line(line), have);
            sections++;
        }
        free(text);
    }
    assert_true(sections >= 10); /* node and http in each file, and more */
    assert_int_equal(drifted, 0);
}

/* What --print-config-example prints is a config: with only defaults set (no plugin there has a
 * required key), the section passes --check-config as it stands. */
static void the_example_is_a_valid_config(void **st) {
    (void)st;
    static char out[TEXT_MAX];
    char path[1024], tmp[] = "/tmp/aitbc-example-XXXXXX";
    config_path("coordinator.yaml", path, sizeof path);
    host_output(path, "--print-config-example", 0, out, sizeof out);
    assert_null(strstr(out, ", required"));
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(out, f);
    fclose(f);
    host_output(tmp, "--check-config", 1, out, sizeof out);
    unlink(tmp);
    assert_non_null(strstr(out, "config ok: 5 plugins"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_config_passes_check_config),
        cmocka_unit_test(every_plugin_section_matches_its_schema),
        cmocka_unit_test(every_host_section_matches_its_schema),
        cmocka_unit_test(the_example_is_a_valid_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
