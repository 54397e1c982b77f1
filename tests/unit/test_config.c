/* Unit tests of the config module: YAML → cJSON with line numbers, scalar typing, ${ENV}
 * substitution, host settings validation and plugin schema checks. Every test writes its YAML
 * into a fresh temp dir and checks the exact line an error names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static char g_dir[] = "/tmp/aitbc-test-config-XXXXXX";
static char g_file[PATH_MAX];
static char g_err[1024];

static int setup(void **state) {
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    unlink(g_file);
    return rmdir(g_dir);
}

/* Writes text to the temp file and loads it. */
static host_config *load(const char *text) {
    snprintf(g_file, sizeof g_file, "%s/c.yaml", g_dir);
    FILE *f = fopen(g_file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    g_err[0] = '\0';
    return config_load(g_file, g_err, sizeof g_err);
}

/* Asserts the last error starts with "<file>:<line>: " and contains want. */
static void assert_error_at(int line, const char *want) {
    char prefix[PATH_MAX + 16];
    snprintf(prefix, sizeof prefix, "%s:%d: ", g_file, line);
    if (strncmp(g_err, prefix, strlen(prefix)) != 0 || !strstr(g_err, want))
        fail_msg("want '%s…%s', got '%s'", prefix, want, g_err);
}

static void expect_load_error(const char *text, int line, const char *want) {
    host_config *cfg = load(text);
    assert_null(cfg);
    assert_error_at(line, want);
}

static void expect_settings_error(const char *text, int line, const char *want) {
    host_config *cfg = load(text);
    assert_non_null(cfg);
    host_settings s;
    assert_int_equal(config_settings(cfg, &s, g_err, sizeof g_err), AITBC_EINVAL);
    assert_error_at(line, want);
    config_free(cfg);
}

static const char good_yaml[] =
    "# a full host config\n"
    "node:\n"
    "  data_dir: /var/lib/aitbc\n"
    "  log_level: debug\n"
    "  log_format: json\n"
    "  workers: 3\n"
    "  plugin_path: /opt/a:/opt/b\n"
    "http: { listen: \"0.0.0.0:8080\", threads: 8, max_body_bytes: 2048, path_prefix: /api,\n"
    "        access_log: false }\n"
    "websocket:\n"
    "  listen: 127.0.0.1:0\n"
    "  path: /stream\n"
    "  allowed_origins: [\"https://a.example\", 'https://b.example']\n"
    "storage: { driver: sqlite, synchronous: FULL, busy_timeout_ms: 100 }\n"
    "plugins:\n"
    "  hello: {}\n"
    "  chain:\n"
    "    block_interval_ms: 2000\n"
    "    label: 'quoted'\n"
    "  empty:\n";

static void test_good_file(void **state) {
    unsetenv("AITBC_PLUGIN_PATH");
    host_config *cfg = load(good_yaml);
    assert_non_null(cfg);
    host_settings s;
    assert_int_equal(config_settings(cfg, &s, g_err, sizeof g_err), 0);
    assert_string_equal(s.data_dir, "/var/lib/aitbc");
    assert_string_equal(s.log_level, "debug");
    assert_string_equal(s.log_format, "json");
    assert_int_equal(s.workers, 3);
    assert_string_equal(s.plugin_path, "/opt/a:/opt/b");
    assert_string_equal(s.http_host, "0.0.0.0");
    assert_int_equal(s.http_port, 8080);
    assert_int_equal(s.http_threads, 8);
    assert_int_equal(s.max_body_bytes, 2048);
    assert_string_equal(s.path_prefix, "/api");
    assert_int_equal(s.http_access_log, 0);
    assert_true(s.ws_enabled);
    assert_int_equal(s.ws_port, 0);
    assert_string_equal(s.ws_path, "/stream");
    assert_int_equal(cJSON_GetArraySize(s.ws_allowed_origins), 2);
    assert_string_equal(s.db_synchronous, "full");
    assert_int_equal(s.db_busy_timeout_ms, 100);
    assert_string_equal(s.db_path, "/var/lib/aitbc/aitbc.db");

    const cJSON *plugins = cJSON_GetObjectItem(config_root(cfg), "plugins");
    const cJSON *chain = cJSON_GetObjectItem(plugins, "chain");
    assert_int_equal(config_line(cfg, plugins), 15);
    assert_int_equal(config_line(cfg, chain), 17);
    assert_int_equal(config_line(cfg, cJSON_GetObjectItem(chain, "label")), 19);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(plugins, "empty")));
    assert_int_equal(config_line(cfg, NULL), 0);
    config_free(cfg);
}

static void test_defaults(void **state) {
    setenv("AITBC_PLUGIN_PATH", "/dev/first", 1);
    host_config *cfg = load("plugins: { hello: {} }\n");
    assert_non_null(cfg);
    host_settings s;
    assert_int_equal(config_settings(cfg, &s, g_err, sizeof g_err), 0);
    assert_string_equal(s.data_dir, "./data");
    assert_string_equal(s.log_level, "info");
    assert_string_equal(s.log_format, "text");
    assert_string_equal(s.http_host, "127.0.0.1");
    assert_int_equal(s.http_port, 18000);
    assert_int_equal(s.http_threads, 4);
    assert_int_equal(s.max_body_bytes, 1024 * 1024);
    assert_int_equal(s.http_access_log, 1);
    assert_false(s.ws_enabled);
    assert_int_equal(s.ws_port, 18001);
    assert_string_equal(s.ws_path, "/ws");
    assert_string_equal(s.db_path, "./data/aitbc.db");
    assert_string_equal(s.db_synchronous, "normal");
    assert_int_equal(s.workers, 2);
    /* The rest of the schemas' defaults. */
    assert_string_equal(s.path_prefix, "");
    assert_int_equal(s.http_max_conns_per_address, 256);
    assert_int_equal(s.http_header_timeout_s, 10);
    assert_string_equal(s.ws_host, "127.0.0.1");
    assert_int_equal(s.ws_max_clients, 1024);
    assert_int_equal(s.ws_queue_max, 256);
    assert_int_equal(s.ws_queue_max_bytes, 8 * 1024 * 1024);
    assert_int_equal(s.ws_max_per_key, 64);
    assert_int_equal(s.ws_max_per_account, 128);
    assert_int_equal(s.ws_ping_s, 30);
    assert_null(s.ws_allowed_origins);
    assert_string_equal(s.db_driver, "sqlite");
    assert_int_equal(s.db_pool, 32);
    assert_int_equal(s.db_busy_timeout_ms, 5000);
    assert_string_equal(s.cluster_node_id, "");
    assert_int_equal(s.cluster_poll_ms, 1000);
    assert_int_equal(s.cluster_retention_s, 3600);
    /* The environment's dirs come first, then the built-in default. */
    assert_true(strncmp(s.plugin_path, "/dev/first:", 11) == 0);
    assert_true(strlen(s.plugin_path) > 11);
    unsetenv("AITBC_PLUGIN_PATH");
    config_free(cfg);

    /* An empty file is a valid config: all defaults, no plugins. */
    cfg = load("# nothing\n");
    assert_non_null(cfg);
    assert_int_equal(config_settings(cfg, &s, g_err, sizeof g_err), 0);
    assert_int_equal(cJSON_GetArraySize(config_root(cfg)), 0);
    config_free(cfg);

    /* An empty websocket section switches it on with defaults. */
    cfg = load("websocket:\n");
    assert_non_null(cfg);
    assert_int_equal(config_settings(cfg, &s, g_err, sizeof g_err), 0);
    assert_true(s.ws_enabled);
    config_free(cfg);
}

static void test_scalar_types(void **state) {
    host_config *cfg = load("plugins:\n  p:\n"
                            "    t: true\n    f: False\n    qt: \"true\"\n"
                            "    i: 42\n    neg: -7\n    hex: 0x1F\n    oct: 0o17\n"
                            "    fl: 1.5\n    exp: 2e3\n    qi: '42'\n"
                            "    n1: null\n    n2: ~\n    n3:\n    s: yes\n    v: 1.2.3\n");
    assert_non_null(cfg);
    const cJSON *p = cJSON_GetObjectItem(cJSON_GetObjectItem(config_root(cfg), "plugins"), "p");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(p, "t")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(p, "f")));
    assert_string_equal(cJSON_GetObjectItem(p, "qt")->valuestring, "true");
    assert_true(cJSON_GetObjectItem(p, "i")->valuedouble == 42);
    assert_true(cJSON_GetObjectItem(p, "neg")->valuedouble == -7);
    assert_true(cJSON_GetObjectItem(p, "hex")->valuedouble == 31);
    assert_true(cJSON_GetObjectItem(p, "oct")->valuedouble == 15);
    assert_true(cJSON_GetObjectItem(p, "fl")->valuedouble == 1.5);
    assert_true(cJSON_GetObjectItem(p, "exp")->valuedouble == 2000);
    assert_string_equal(cJSON_GetObjectItem(p, "qi")->valuestring, "42");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "n1")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "n2")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "n3")));
    assert_string_equal(cJSON_GetObjectItem(p, "s")->valuestring, "yes"); /* YAML 1.2: no yes/no */
    assert_string_equal(cJSON_GetObjectItem(p, "v")->valuestring, "1.2.3");
    config_free(cfg);

    expect_load_error("plugins:\n  p: { big: 123456789012345678901 }\n", 2, "out of range");
}

static void test_syntax_error_line(void **state) {
    expect_load_error("node:\n  data_dir: ./d\nhttp:\n  listen: [unclosed\n  threads: 2\n", 5,
                      "YAML syntax error");
    expect_load_error("node: {data_dir: ./d}\n  bad indent: 1\n", 2, "YAML syntax error");
    expect_load_error("- a\n- b\n", 1, "top level must be a mapping");
    expect_load_error("node: {}\n---\nhttp: {}\n", 3, "only one YAML document");
    expect_load_error("plugins:\n  p: !!binary aGVsbG8=\n", 2, "tag");
    expect_load_error("plugins:\n  ? [a, b]\n  : 1\n", 2, "mapping key");

    /* An alias bomb stops at the node limit instead of eating memory. */
    char bomb[2048] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    static const char names[] = "abcdefgh";
    for (int i = 1; names[i]; i++) {
        char line[160], p = names[i - 1];
        snprintf(line, sizeof line, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n",
                 names[i], names[i], p, p, p, p, p, p, p, p, p, p);
        strcat(bomb, line);
    }
    host_config *cfg = load(bomb);
    assert_null(cfg);
    assert_non_null(strstr(g_err, "alias"));
}

static void test_unknown_key_line(void **state) {
    expect_settings_error("node:\n  data_dir: ./d\n  colour: blue\n", 3,
                          "unknown config key 'colour'");
    expect_settings_error("node: {}\nhttps: {}\n", 2, "unknown section 'https'");
    expect_settings_error("http:\n  listen: 127.0.0.1:1\n\n  treads: 4\n", 4, "'treads'");
    expect_settings_error("storage: { driver: mysql }\n", 1, "'driver' must be sqlite|postgres");
    expect_settings_error("storage: { driver: postgres }\n", 1, "needs storage.dsn");
    expect_settings_error(
        "storage:\n  driver: postgres\n  dsn: host=db\n  pool: 1\n", 4,
        "section 'storage': config key 'pool' = 1 is out of range (allowed 2..1000)");
    expect_settings_error("node:\n  log_level: loud\n", 2, "'log_level' must be");
    expect_settings_error("node:\n  log_format: xml\n", 2, "'log_format' must be text|json");
    expect_settings_error("plugins:\n  hello: 3\n", 2, "plugin 'hello'");
    expect_settings_error("websocket: { path: ws }\n", 1, "'path' must start with '/'");
    expect_settings_error("http: { path_prefix: /api/ }\n", 1, "'path_prefix'");
}

static void test_wrong_type(void **state) {
    expect_settings_error("http:\n  threads: four\n", 2,
                          "'threads' must be an integer, got a string");
    expect_settings_error("http:\n  threads: 2.5\n", 2, "must be an integer, got a number");
    expect_settings_error("http:\n  access_log: \"yes\"\n", 2, "true or false");
    expect_settings_error("node: [a]\n", 1, "section 'node' must be a mapping");
    expect_settings_error("websocket:\n  allowed_origins: [a, 3]\n", 2, "must list strings");
    expect_settings_error(
        "node:\n  workers: 0\n", 2,
        "section 'node': config key 'workers' = 0 is out of range (allowed 1..256)");
    expect_settings_error("node:\n  data_dir: \"\"\n", 2, "must not be empty");
}

static void test_env_substitution(void **state) {
    setenv("AITBC_TEST_DIR", "/srv/x", 1);
    setenv("AITBC_TEST_PORT", "18123", 1);
    setenv("AITBC_TEST_SECRET", "0042", 1);
    host_config *cfg = load("node:\n  data_dir: ${AITBC_TEST_DIR}/data\n"
                            "http:\n  listen: \"127.0.0.1:${AITBC_TEST_PORT}\"\n"
                            "plugins:\n  p:\n    lit: \"cost $${NOT_A_VAR} $5\"\n"
                            "    n: ${AITBC_TEST_PORT}\n    secret: \"${AITBC_TEST_SECRET}\"\n");
    assert_non_null(cfg);
    host_settings s;
    assert_int_equal(config_settings(cfg, &s, g_err, sizeof g_err), 0);
    assert_string_equal(s.data_dir, "/srv/x/data");
    assert_int_equal(s.http_port, 18123);
    const cJSON *p = cJSON_GetObjectItem(cJSON_GetObjectItem(config_root(cfg), "plugins"), "p");
    assert_string_equal(cJSON_GetObjectItem(p, "lit")->valuestring, "cost ${NOT_A_VAR} $5");
    assert_true(cJSON_GetObjectItem(p, "n")->valuedouble == 18123); /* plain: typed after */
    assert_string_equal(cJSON_GetObjectItem(p, "secret")->valuestring, "0042"); /* quoted */
    config_free(cfg);

    unsetenv("AITBC_TEST_UNSET");
    expect_load_error("node:\n  data_dir: ./d\nplugins:\n  p: { key: \"${AITBC_TEST_UNSET}\" }\n",
                      4, "environment variable AITBC_TEST_UNSET is not set");
    expect_load_error("node:\n  data_dir: ${AITBC_TEST_DIR\n", 2, "unterminated");
    expect_load_error("node:\n  data_dir: ${1BAD}\n", 2, "invalid environment variable name");
}

static void test_duplicate_key(void **state) {
    expect_load_error("node:\n  data_dir: a\n  workers: 2\n  data_dir: b\n", 4,
                      "duplicate key 'data_dir'");
    expect_load_error("plugins:\n  hello: {}\n  hello: {}\n", 3, "duplicate key 'hello'");
}

static void test_listen_parsing(void **state) {
    static const struct {
        const char *listen;
        const char *host;
        int port;
    } good[] = {{"127.0.0.1:0", "127.0.0.1", 0},
                {"localhost:65535", "localhost", 65535},
                {"[::1]:18000", "::1", 18000}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "http: { listen: \"%s\" }\n", good[i].listen);
        host_config *cfg = load(yaml);
        assert_non_null(cfg);
        host_settings s;
        assert_int_equal(config_settings(cfg, &s, g_err, sizeof g_err), 0);
        assert_string_equal(s.http_host, good[i].host);
        assert_int_equal(s.http_port, good[i].port);
        config_free(cfg);
    }
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:", ":80",    "host:65536",
                                      "host:-1",   "host:8o",    "::1:80", "h:123456",
                                      "[::1:80",   "a b:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "node: {}\nhttp: { listen: \"%s\" }\n", bad[i]);
        expect_settings_error(yaml, 2, "'listen' must be \"host:port\"");
    }
    expect_settings_error("websocket:\n  listen: nope\n", 2, "'listen'");
}

static const aitbc_cfg_key schema[] = {
    {"interval_ms", AITBC_CFG_INT, 1, "how often, ms", .def = NULL},
    {"name", AITBC_CFG_STRING, 0, "a label", .def = NULL},
    {"ratio", AITBC_CFG_NUMBER, 0, "a fraction", .def = NULL},
    {"on", AITBC_CFG_BOOL, 0, "switch", .def = NULL},
    {"keys", AITBC_CFG_ARRAY, 0, "list", .def = NULL},
    {"limits", AITBC_CFG_OBJECT, 0, "mapping", .def = NULL},
    {0}};

static int check_plugin(host_config *cfg, const char *name, const aitbc_cfg_key *keys) {
    const cJSON *sec = cJSON_GetObjectItem(cJSON_GetObjectItem(config_root(cfg), "plugins"), name);
    g_err[0] = '\0';
    return config_check_schema(cfg, sec, keys, name, g_err, sizeof g_err);
}

static void test_schema(void **state) {
    host_config *cfg = load("plugins:\n"
                            "  ok: { interval_ms: 5, name: x, ratio: 0.5, on: true, keys: [1],\n"
                            "        limits: { a: 1 } }\n"
                            "  intratio: { interval_ms: 5, ratio: 2 }\n"
                            "  unknown:\n    interval_ms: 5\n    colour: red\n"
                            "  wrongtype:\n    interval_ms: \"5\"\n"
                            "  fraction: { interval_ms: 1.5 }\n"
                            "  missing:\n    name: x\n"
                            "  empty:\n"
                            "  nokeys: { a: 1 }\n"
                            "  nokeys-empty: {}\n");
    assert_non_null(cfg);
    assert_int_equal(check_plugin(cfg, "ok", schema), 0);
    assert_int_equal(check_plugin(cfg, "intratio", schema), 0);

    assert_int_equal(check_plugin(cfg, "unknown", schema), AITBC_EINVAL);
    assert_error_at(7, "plugin 'unknown': unknown config key 'colour'");
    assert_non_null(strstr(g_err, "interval_ms, name"));

    assert_int_equal(check_plugin(cfg, "wrongtype", schema), AITBC_EINVAL);
    assert_error_at(
        9, "plugin 'wrongtype': config key 'interval_ms' must be an integer, got a string");
    assert_int_equal(check_plugin(cfg, "fraction", schema), AITBC_EINVAL);
    assert_error_at(10, "must be an integer");

    assert_int_equal(check_plugin(cfg, "missing", schema), AITBC_EINVAL);
    assert_error_at(11, "plugin 'missing': missing required config key 'interval_ms'");
    /* An empty (null) section is an empty mapping: the required key is still missing. */
    assert_int_equal(check_plugin(cfg, "empty", schema), AITBC_EINVAL);
    assert_error_at(13, "missing required config key 'interval_ms'");

    /* NULL schema: no keys allowed, but an empty section is fine. */
    assert_int_equal(check_plugin(cfg, "nokeys", NULL), AITBC_EINVAL);
    assert_error_at(14, "unknown config key 'a' (known keys: none)");
    assert_int_equal(check_plugin(cfg, "nokeys-empty", NULL), 0);
    assert_int_equal(check_plugin(cfg, "empty", NULL), 0);
    config_free(cfg);
}

static const aitbc_cfg_key bounded[] = {
    {"lease_s", AITBC_CFG_INT, 0, "s", .def = "60", AITBC_CFG_RANGE(1, 86400)},
    {"ratio", AITBC_CFG_NUMBER, 0, "r", .def = "0.5", AITBC_CFG_AT_LEAST(0)},
    {"cap", AITBC_CFG_INT, 0, "c", .bounds = AITBC_CFG_MAX, .max = 10},
    {"label", AITBC_CFG_STRING, 0, "l", .def = "a \"b\""},
    {"on", AITBC_CFG_BOOL, 0, "o", .def = "true"},
    {"list", AITBC_CFG_ARRAY, 0, "l", .def = "[1, 2]"},
    {0}};

/* Bounds refuse with plugin, key, value and range; defaults fill only absent keys. */
static void test_schema_defaults_and_bounds(void **state) {
    host_config *cfg = load("plugins:\n"
                            "  low: { lease_s: 0 }\n"
                            "  high: { lease_s: 86401 }\n"
                            "  neg: { ratio: -0.25 }\n"
                            "  cap: { cap: 11 }\n"
                            "  edges: { lease_s: 86400, ratio: 0, cap: -5, label: set }\n"
                            "  empty:\n");
    assert_non_null(cfg);
    assert_int_equal(check_plugin(cfg, "low", bounded), AITBC_EINVAL);
    assert_error_at(2, "plugin 'low': config key 'lease_s' = 0 is out of range (allowed 1..86400)");
    assert_int_equal(check_plugin(cfg, "high", bounded), AITBC_EINVAL);
    assert_error_at(3, "config key 'lease_s' = 86401 is out of range (allowed 1..86400)");
    assert_int_equal(check_plugin(cfg, "neg", bounded), AITBC_EINVAL);
    assert_error_at(4, "config key 'ratio' = -0.25 is out of range (allowed >= 0)");
    assert_int_equal(check_plugin(cfg, "cap", bounded), AITBC_EINVAL);
    assert_error_at(5, "config key 'cap' = 11 is out of range (allowed <= 10)");
    assert_int_equal(check_plugin(cfg, "edges", bounded), 0);

    const cJSON *plugins = cJSON_GetObjectItem(config_root(cfg), "plugins");
    cJSON *eff = config_effective(cJSON_GetObjectItem(plugins, "edges"), bounded);
    char *text = cJSON_PrintUnformatted(eff);
    assert_string_equal(text, "{\"lease_s\":86400,\"ratio\":0,\"cap\":-5,\"label\":\"set\","
                              "\"on\":true,\"list\":[1,2]}");
    free(text);
    cJSON_Delete(eff);
    eff = config_effective(cJSON_GetObjectItem(plugins, "empty"), bounded);
    text = cJSON_PrintUnformatted(eff);
    assert_string_equal(text, "{\"lease_s\":60,\"ratio\":0.5,\"label\":\"a \\\"b\\\"\","
                              "\"on\":true,\"list\":[1,2]}");
    free(text);
    cJSON_Delete(eff);

    /* A default its own key refuses is the plugin's bug, refused whatever the section says. */
    static const aitbc_cfg_key broken[] = {{"n", AITBC_CFG_INT, 0, "n", .def = "1.5"}, {0}};
    static const aitbc_cfg_key outside[] = {
        {"n", AITBC_CFG_INT, 0, "n", .def = "0", AITBC_CFG_AT_LEAST(1)}, {0}};
    assert_int_equal(check_plugin(cfg, "empty", broken), AITBC_EINVAL);
    assert_non_null(strstr(g_err, "the default '1.5' of config key 'n' must be an integer"));
    assert_int_equal(check_plugin(cfg, "empty", outside), AITBC_EINVAL);
    assert_non_null(strstr(g_err, "the default '0' of config key 'n' must be an integer "
                                  "(allowed >= 1)"));
    config_free(cfg);
}

static void test_missing_file(void **state) {
    g_err[0] = '\0';
    assert_null(config_load("/nonexistent/aitbc.yaml", g_err, sizeof g_err));
    assert_non_null(strstr(g_err, "/nonexistent/aitbc.yaml: cannot open"));
}

/* Truncated and byte-mutated configs never crash (ASan watches) and always either load or
 * explain themselves as "file:line: reason". Deterministic: a fixed seed. */
static void test_hostile_inputs(void **state) {
    static const char alphabet[] = "{}[]:,-&*!|>'\"#%@`$~? \n\t\\a0\x01\xff";
    char text[sizeof good_yaml];
    unsigned seed = 12345;
    size_t loaded = 0, refused = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(text, good_yaml, sizeof good_yaml);
        if (round < (int)sizeof good_yaml) {
            text[round] = '\0'; /* every prefix */
        } else {
            for (int k = 0; k < 1 + round % 4; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % (sizeof good_yaml - 1);
                text[at] = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
            }
        }
        host_config *cfg = load(text);
        if (cfg) {
            host_settings s;
            config_settings(cfg, &s, g_err, sizeof g_err);
            loaded++;
            config_free(cfg);
        } else {
            assert_true(strncmp(g_err, g_file, strlen(g_file)) == 0);
            refused++;
        }
    }
    assert_true(loaded > 0 && refused > 0);
}

/* The configs shipped in config/ must always pass the host's own checks. */
static void test_shipped_configs(void **state) {
    /* A miner node listens beside a coordinator on the same machine, hence its own port. */
    static const char *const names[] = {"full.yaml", "coordinator.yaml", "miner.yaml",
                                        "minimal.yaml"};
    static const int ports[] = {18000, 18000, 18100, 18000};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/config/%s", AITBC_SOURCE_DIR, names[i]);
        host_config *cfg = config_load(path, g_err, sizeof g_err);
        if (!cfg) fail_msg("%s", g_err);
        host_settings s;
        if (config_settings(cfg, &s, g_err, sizeof g_err) != 0) fail_msg("%s", g_err);
        assert_string_equal(s.http_host, "127.0.0.1");
        assert_int_equal(s.http_port, ports[i]);
        /* The product's public base URL is …/api: the seed's URLs work out of the box (the
         * routes also answer without the prefix, see test_router). */
        if (strcmp(names[i], "miner.yaml") != 0) /* a miner node serves only /healthz, /metrics */
            assert_string_equal(s.path_prefix, "/api");
        assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(config_root(cfg), "plugins")) >= 2);
        config_free(cfg);
    }
}

/* cluster: (several hosts on PostgreSQL): defaults, values, and the refusals with their line. */
static void test_cluster_section(void **state) {
    (void)state;
    host_settings s;
    host_config *cfg = load("plugins: {}\n");
    assert_non_null(cfg);
    assert_int_equal(config_settings(cfg, &s, g_err, sizeof g_err), 0);
    assert_string_equal(s.cluster_node_id, ""); /* <hostname>-<random> at start */
    assert_int_equal(s.cluster_poll_ms, 1000);
    assert_int_equal(s.cluster_retention_s, 3600);
    config_free(cfg);
    cfg = load("cluster: { node_id: \"coord-1.eu:18000\", poll_ms: 250, retention_s: 600 }\n");
    assert_non_null(cfg);
    assert_int_equal(config_settings(cfg, &s, g_err, sizeof g_err), 0);
    assert_string_equal(s.cluster_node_id, "coord-1.eu:18000");
    assert_int_equal(s.cluster_poll_ms, 250);
    assert_int_equal(s.cluster_retention_s, 600);
    config_free(cfg);
    expect_settings_error("cluster:\n  node_id: \"has space\"\n", 2, "'node_id' must be");
    expect_settings_error("cluster:\n  poll_ms: 10\n", 2,
                          "config key 'poll_ms' = 10 is out of range (allowed 50..60000)");
    expect_settings_error("cluster:\n  retention_s: 1\n", 2,
                          "config key 'retention_s' = 1 is out of range (allowed 60..2592000)");
    expect_settings_error("cluster:\n  leader: yes\n", 2, "leader");
}

static void test_log_levels(void **state) {
    aitbc_log_level l = AITBC_LOG_ERROR;
    assert_int_equal(hlog_parse_level("DEBUG", &l), 0);
    assert_int_equal(l, AITBC_LOG_DEBUG);
    assert_int_equal(hlog_parse_level("warning", &l), 0);
    assert_int_equal(l, AITBC_LOG_WARN);
    assert_int_equal(hlog_parse_level("loud", &l), AITBC_EINVAL);
    assert_int_equal(hlog_parse_level(NULL, &l), AITBC_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_scalar_types),
        cmocka_unit_test(test_syntax_error_line),
        cmocka_unit_test(test_unknown_key_line),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_listen_parsing),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_schema_defaults_and_bounds),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_cluster_section),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_shipped_configs),
        cmocka_unit_test(test_hostile_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
