/* ABI tests: runs the real aitbc-host binary with configs listing deliberately broken plugins
 * (built from abi_plugin.c, one defect each) and checks that the host refuses each one with the
 * file and the specific reason, exits non-zero and never serves. The good plugins show the other
 * side: dependency order, the lifecycle, a served route, --check-config and offline commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define WAIT_MS 60000

static char g_dir[64];

typedef struct run {
    int status; /* exit code, or -1 if it did not exit normally */
    char *out;  /* stdout */
    char *err;  /* stderr */
} run;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(path);
}

static int setup(void **state) {
    snprintf(g_dir, sizeof g_dir, "/tmp/aitbc-abi-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    return nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_in(char *out, const char *name) {
    snprintf(out, PATH_MAX, "%s/%s", g_dir, name);
}

static char *slurp(const char *name) {
    char p[PATH_MAX];
    path_in(p, name);
    FILE *f = fopen(p, "rb");
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    if (f) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

/* node_extra: more keys of the node section (", log_format: json"), "" for none. */
static void write_config_node(const char *node_extra, const char *plugins_yaml) {
    char p[PATH_MAX];
    path_in(p, "c.yaml");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
#ifdef AITBC_PLUGIN_DIR
    const char *real_plugins = ":" AITBC_PLUGIN_DIR; /* the job plugins, for test_init_failure */
#else
    const char *real_plugins = "";
#endif
    fprintf(f,
            "node: { data_dir: \"%s/data\", plugin_path: \"%s:%s%s\", log_level: debug%s }\n"
            "http: { listen: \"127.0.0.1:0\", threads: 2 }\n"
            "plugins:\n%s",
            g_dir, ABI_PLUGIN_DIR, g_dir, real_plugins, node_extra, plugins_yaml);
    fclose(f);
}

static void write_config(const char *plugins_yaml) {
    write_config_node("", plugins_yaml);
}

/* Starts aitbc-host -c <dir>/c.yaml --ready-file <dir>/ready [extra...]; returns its pid. */
static pid_t spawn(const char *const *extra) {
    char cfg[PATH_MAX], ready[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
    path_in(cfg, "c.yaml");
    path_in(ready, "ready");
    path_in(out, "stdout");
    path_in(err, "stderr");
    const char *argv[16] = {AITBC_HOST_BIN, "-c", cfg, "--ready-file", ready};
    size_t n = 5;
    for (; extra && *extra && n < 15; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(126);
        execv(AITBC_HOST_BIN, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits for the process to exit (killing it after WAIT_MS) and collects its output. */
static void reap(pid_t pid, run *r) {
    int st = 0;
    int64_t until = mono_ms() + WAIT_MS;
    pid_t w;
    while ((w = waitpid(pid, &st, WNOHANG)) == 0 && mono_ms() < until)
        pause_ms(5);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fail_msg("aitbc-host did not exit within %d ms", WAIT_MS);
    }
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); /* as a shell says it */
    r->out = slurp("stdout");
    r->err = slurp("stderr");
}

static void run_host(const char *plugins_yaml, const char *const *extra, run *r) {
    write_config(plugins_yaml);
    reap(spawn(extra), r);
}

static void run_free(run *r) {
    free(r->out);
    free(r->err);
}

static int exists(const char *name) {
    char p[PATH_MAX];
    path_in(p, name);
    return access(p, F_OK) == 0;
}

static void assert_contains(const char *hay, const char *needle) {
    if (!strstr(hay, needle)) fail_msg("expected to find\n  %s\nin\n%s", needle, hay);
}

/* A plugin file in the ABI plugin dir, as the loader names it. */
#define PLUG(name) ABI_PLUGIN_DIR "/" name

/* The host refused: non-zero exit, "plugin <file>: refused: …<reason>" logged, never served. */
static void expect_refusal(const char *plugins_yaml, const char *file, const char *reason) {
    run r;
    run_host(plugins_yaml, NULL, &r);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "plugin %s: refused: ", file);
    if (r.status != 1) /* 1 = refused; 0 = served, anything else = crashed or a sanitizer fired */
        fail_msg("aitbc-host exited %d for %s; stderr:\n%s", r.status, file, r.err);
    assert_null(strstr(r.err, "Sanitizer"));
    assert_null(strstr(r.err, "runtime error"));
    assert_contains(r.err, want);
    assert_contains(strstr(r.err, want), reason);
    assert_false(exists("ready"));
    assert_null(strstr(r.err, "serving on"));
    run_free(&r);
}

static void test_missing_symbol(void **s) {
    expect_refusal("  abi-nosym: {}\n", PLUG("abi-nosym.so"),
                   "missing symbol aitbc_plugin_describe");
}

static void test_null_descriptor(void **s) {
    expect_refusal("  abi-nulldesc: {}\n", PLUG("abi-nulldesc.so"),
                   "aitbc_plugin_describe() returned NULL");
}

static void test_other_major(void **s) {
    expect_refusal("  abi-major: {}\n", PLUG("abi-major.so"),
                   "ABI major version 2, this host speaks 1");
}

static void test_newer_minor(void **s) {
    expect_refusal("  abi-minor: {}\n", PLUG("abi-minor.so"), "ABI minor version 1.99 is newer");
}

static void test_short_descriptor(void **s) {
    expect_refusal("  abi-small: {}\n", PLUG("abi-small.so"), "struct_size 16 is smaller");
}

/* A schema entry smaller than the 1.0 config key: the host would read past each entry. */
static void test_short_config_key(void **s) {
    expect_refusal("  abi-smallkey: {}\n", PLUG("abi-smallkey.so"), "cfg_key_size 8 is smaller");
}

static void test_build_signature(void **s) {
    expect_refusal("  abi-sig: {}\n", PLUG("abi-sig.so"), "build signature");
}

static void test_null_callback(void **s) {
    expect_refusal("  abi-nullcb: {}\n", PLUG("abi-nullcb.so"), "required callback start is NULL");
}

static void test_name_mismatch(void **s) {
    expect_refusal("  abi-mismatch: {}\n", PLUG("abi-mismatch.so"),
                   "descriptor name 'abi-other' does not match its config key 'abi-mismatch'");
}

static void test_duplicate_name(void **s) {
    expect_refusal("  abi-good: { greeting: hi }\n  abi-dup: {}\n", PLUG("abi-dup.so"),
                   "duplicate plugin name 'abi-good' (already loaded from " ABI_PLUGIN_DIR
                   "/abi-good.so)");
}

static void test_unmet_requires(void **s) {
    expect_refusal("  abi-unmet: {}\n", PLUG("abi-unmet.so"),
                   "requires service 'nobody@1' but no listed plugin provides it");
}

static void test_dependency_cycle(void **s) {
    expect_refusal("  abi-cycle-a: {}\n  abi-cycle-b: {}\n", PLUG("abi-cycle-a.so"),
                   "dependency cycle between plugins abi-cycle-a, abi-cycle-b");
}

static void test_unknown_config_key(void **s) {
    expect_refusal("  abi-good:\n    greeting: hi\n    colour: red\n", PLUG("abi-good.so"),
                   "c.yaml:6: plugin 'abi-good': unknown config key 'colour'");
}

static void test_wrong_config_type(void **s) {
    expect_refusal(
        "  abi-good: { greeting: hi, count: many }\n", PLUG("abi-good.so"),
        "c.yaml:4: plugin 'abi-good': config key 'count' must be an integer, got a string");
}

static void test_missing_required_key(void **s) {
    expect_refusal("  abi-good: {}\n", PLUG("abi-good.so"),
                   "missing required config key 'greeting'");
}

static void test_not_found(void **s) {
    expect_refusal("  abi-absent: {}\n", "abi-absent.so",
                   "file not found in plugin path " ABI_PLUGIN_DIR);
}

static void test_dlopen_error(void **s) {
    char p[PATH_MAX];
    path_in(p, "abi-garbage.so");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    expect_refusal("  abi-garbage: {}\n", p, "dlopen failed");
}

static void test_invalid_name(void **s) {
    expect_refusal("  Bad_Name: {}\n", "Bad_Name", "invalid plugin name");
}

/* ---- the good side ---- */

static int http_get(int port, const char *path, char *resp, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t k;
    while (got + 1 < cap && (k = read(fd, resp + got, cap - 1 - got)) > 0)
        got += (size_t)k;
    resp[got] = '\0';
    close(fd);
    return 0;
}

/* Position of needle in hay, failing the test when it is missing. */
static const char *at(const char *hay, const char *needle) {
    assert_contains(hay, needle);
    return strstr(hay, needle);
}

static void test_good_lifecycle(void **s) {
    /* The consumer is listed first; the loader must init/start its provider before it. */
    write_config("  abi-consumer:\n  abi-good: { greeting: hello, count: 3 }\n");
    pid_t pid = spawn(NULL);
    char ready[PATH_MAX];
    path_in(ready, "ready");
    int64_t until = mono_ms() + WAIT_MS;
    int st = 0;
    while (access(ready, F_OK) != 0 && mono_ms() < until && waitpid(pid, &st, WNOHANG) == 0)
        pause_ms(5);
    if (access(ready, F_OK) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        char *err = slurp("stderr");
        fail_msg("host never became ready; stderr:\n%s", err);
    }
    char *text = slurp("ready");
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    int port = cJSON_GetObjectItem(j, "http_port")->valueint;
    assert_true(port > 0);
    assert_int_equal(cJSON_GetObjectItem(j, "ws_port")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(j, "pid")->valueint, pid);
    cJSON_Delete(j);

    char resp[4096];
    assert_int_equal(http_get(port, "/abi-good/ping", resp, sizeof resp), 0);
    assert_true(strncmp(resp, "HTTP/1.", 7) == 0 && strncmp(resp + 9, "200", 3) == 0);
    assert_contains(resp, "\"pong\":true");

    struct stat sb;
    char data[PATH_MAX];
    path_in(data, "data");
    assert_int_equal(stat(data, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);

    kill(pid, SIGTERM);
    run r;
    reap(pid, &r);
    assert_int_equal(r.status, 0);
    assert_false(exists("ready")); /* removed once it stops serving */
    const char *e = r.err;
    assert_contains(e, "[abi-good] lifecycle init greeting=hello count=3");
    assert_contains(e, "[abi-consumer] lifecycle init greeting=- count=7"); /* the default */
    assert_true(at(e, "[abi-good] lifecycle init") < at(e, "[abi-consumer] lifecycle init"));
    assert_true(at(e, "[abi-consumer] lifecycle init") < at(e, "[abi-good] lifecycle start"));
    assert_true(at(e, "[abi-good] lifecycle start") < at(e, "[abi-consumer] lifecycle start"));
    assert_true(at(e, "[abi-consumer] lifecycle start") < at(e, "serving on http://127.0.0.1:"));
    assert_true(at(e, "serving on") < at(e, "[abi-consumer] lifecycle stop"));
    assert_true(at(e, "[abi-consumer] lifecycle stop") < at(e, "[abi-good] lifecycle stop"));
    assert_true(at(e, "[abi-good] lifecycle stop") < at(e, "[abi-consumer] lifecycle destroy"));
    assert_true(at(e, "[abi-consumer] lifecycle destroy") < at(e, "[abi-good] lifecycle destroy"));
    run_free(&r);
}

static void test_check_config(void **s) {
    const char *const args[] = {"--check-config", NULL};
    run r;
    run_host("  abi-consumer: {}\n  abi-good: { greeting: hi }\n", args, &r);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "config ok: 2 plugins");
    assert_null(strstr(r.err, "lifecycle")); /* nothing initialised */
    assert_false(exists("data"));
    run_free(&r);

    run_host("  abi-good: { greeting: hi, count: 1.5 }\n", args, &r);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "config key 'count' must be an integer");
    assert_null(strstr(r.out, "config ok"));
    run_free(&r);

    /* A host section error is caught before any plugin is looked at. */
    write_config("  abi-good: { greeting: hi }\nstorage: { synchronous: sometimes }\n");
    reap(spawn(args), &r);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "c.yaml:5: 'synchronous' must be off|normal|full");
    run_free(&r);

    /* The storage in effect is printed; a postgres dsn without its password (nothing connects). */
    write_config("  abi-good: { greeting: hi }\nstorage:\n  driver: postgres\n"
                 "  dsn: \"host=db.example port=5433 user=aitbc password=hunter22 dbname=aitbc\"\n"
                 "  pool: 7\n");
    reap(spawn(args), &r);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "storage: postgres dsn \"");
    assert_contains(r.out, "host=db.example port=5433");
    assert_contains(r.out, "(pool 7, busy_timeout_ms 5000)");
    /* ... and so are the host's sections, key by key, with the same dsn */
    assert_contains(r.out, "effective host config:\n  node:\n");
    assert_contains(r.out, "    workers: 2  (default)  min 1  max 256\n");
    assert_contains(r.out, "    pool: 7  min 2  max 1000\n");
    assert_contains(r.out, "    dsn: \"");
    assert_null(strstr(r.out, "hunter22"));
    assert_null(strstr(r.err, "hunter22"));
    run_free(&r);
}

/* The schema's default and bounds (1.2): the host refuses a value outside them naming plugin,
 * key, value and range, fills the default of an absent key, prints both with --check-config, and
 * refuses a plugin whose own default breaks its bounds. */
static void test_config_bounds(void **s) {
    expect_refusal("  abi-good: { greeting: hi, count: 101 }\n", PLUG("abi-good.so"),
                   "c.yaml:4: plugin 'abi-good': config key 'count' = 101 is out of range "
                   "(allowed 0..100)");
    expect_refusal("  abi-good: { greeting: hi, count: -1 }\n", PLUG("abi-good.so"),
                   "config key 'count' = -1 is out of range (allowed 0..100)");
    expect_refusal("  abi-baddef: {}\n", PLUG("abi-baddef.so"),
                   "plugin 'abi-baddef': the default '500' of config key 'count' must be an "
                   "integer (allowed 0..100)");

    const char *const args[] = {"--check-config", NULL};
    run r;
    run_host("  abi-good: { greeting: hi }\n  abi-consumer: { count: 100 }\n", args, &r);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "  abi-good:\n    greeting: \"hi\"\n    count: 7  (default)  min 0  max "
                           "100\n");
    assert_contains(r.out,
                    "  abi-consumer:\n    greeting: (unset)\n    count: 100  min 0  max 100\n");
    run_free(&r);
}

static void test_offline_command(void **s) {
    const char *const chain[] = {"--verify-chain", NULL};
    run r;
    run_host("  abi-command: {}\n", chain, &r);
    assert_int_equal(r.status, 3); /* the command's own exit code */
    assert_contains(r.out, "abi command ran with 0 args:");
    assert_contains(r.err, "[abi-command] lifecycle destroy");
    assert_null(strstr(r.err, "lifecycle start"));
    assert_false(exists("ready"));
    run_free(&r);

    run_host("  abi-good: { greeting: hi }\n", chain, &r);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "no loaded plugin provides command:verify-chain@1");
    assert_false(exists("ready"));
    run_free(&r);
}

/* uses[]: optional, orders start, and a lookup of anything undeclared is refused (as is a
 * publish on a topic the plugin did not declare). */
static void test_uses(void **s) {
    run r;
    const char *const check[] = {"--check-config", NULL};
    run_host("  abi-user: {}\n  abi-good: { greeting: hi }\n", check, &r);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "1. abi-good 0.0.1\n    provides  abi-good@1\n");
    assert_contains(r.out, "2. abi-user 0.0.1\n    uses      abi-*@1 <- abi-good\n");
    run_free(&r);

    run_host("  abi-user: {}\n", check, &r);
    assert_int_equal(r.status, 0); /* optional: nobody provides it, still fine */
    assert_contains(r.out, "uses      abi-*@1 (not loaded)");
    run_free(&r);

    /* A cycle through uses[] is broken (ring-b starts first), not refused. */
    run_host("  abi-ring-a: {}\n  abi-ring-b: {}\n", check, &r);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "1. abi-ring-b 0.0.1  (a cycle through uses");
    assert_contains(r.out, "2. abi-ring-a 0.0.1\n");
    run_free(&r);

    expect_refusal("  abi-baduses: {}\n", PLUG("abi-baduses.so"),
                   "uses entry 'no version' is not a service name");
}

static void test_lookups_declared(void **s) {
    const char *const yaml[] = {"  abi-user: {}\n  abi-good: { greeting: hi }\n",
                                "  abi-sneak: {}\n  abi-good: { greeting: hi }\n"};
    for (int i = 0; i < 2; i++) {
        write_config(yaml[i]);
        pid_t pid = spawn(NULL);
        int64_t deadline = mono_ms() + WAIT_MS;
        while (!exists("ready") && mono_ms() < deadline)
            pause_ms(10);
        assert_true(exists("ready"));
        kill(pid, SIGTERM);
        run r;
        reap(pid, &r);
        assert_int_equal(r.status, 0);
        if (i == 0) {
            /* Listed first, but started after the provider it uses. */
            assert_true(at(r.err, "[abi-good] lifecycle start") <
                        at(r.err, "[abi-user] lifecycle start"));
            assert_contains(r.err, "[abi-user] lookup abi-good@1: found");
        } else {
            assert_contains(r.err, "[abi-sneak] looked up service abi-good@1 without declaring "
                                   "it: add it to the descriptor's uses[]");
            assert_contains(r.err, "[abi-sneak] lookup abi-good@1: none");
            /* A topic it did not declare: refused, with the reason. */
            assert_contains(r.err, "[abi-sneak] publish on topic job_updates refused");
            assert_contains(r.err, "[abi-sneak] publish job_updates: -8");
        }
        run_free(&r);
    }
}

/* spawn() with the config written, then wait until it serves; *port = its HTTP port. */
static pid_t spawn_serving(int *port) {
    pid_t pid = spawn(NULL);
    int64_t until = mono_ms() + WAIT_MS;
    while (!exists("ready") && mono_ms() < until)
        pause_ms(10);
    assert_true(exists("ready"));
    char *text = slurp("ready");
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    *port = cJSON_GetObjectItem(j, "http_port")->valueint;
    cJSON_Delete(j);
    return pid;
}

/* A plugin's metrics:*@1 service: its good families follow the host's in /metrics with label
 * values escaped; names that would break the format or take a host family are refused and their
 * samples dropped; a table smaller than aitbc_metrics_v1 is never called. */
static void test_plugin_metrics(void **s) {
    write_config("  abi-metrics: {}\n");
    int port;
    pid_t pid = spawn_serving(&port);
    static char resp[256 * 1024];
    assert_int_equal(http_get(port, "/metrics", resp, sizeof resp), 0);
    assert_true(strncmp(resp + 9, "200", 3) == 0);
    assert_contains(resp, "# HELP aitbc_abi_ok A good gauge over two lines.\n"
                          "# TYPE aitbc_abi_ok gauge\n"
                          "aitbc_abi_ok{who=\"a \\\"quoted\\\" \\\\ value\\nsecond line\"} 1.5\n");
    assert_true(at(resp, "aitbc_process_uptime_seconds") < at(resp, "aitbc_abi_ok"));
    assert_contains(resp, "aitbc_abi_events_total 7\n");
    assert_contains(resp, "aitbc_abi_refusals 5\n");
    for (int v = 666; v <= 670; v++) {
        char line[16];
        snprintf(line, sizeof line, " %d\n", v);
        assert_null(strstr(resp, line));
    }
    assert_null(strstr(resp, "abi-bad"));
    assert_null(strstr(resp, "other_series"));
    kill(pid, SIGTERM);
    run r;
    reap(pid, &r);
    assert_int_equal(r.status, 0);
    assert_contains(r.err, "metrics: family already reported from metrics:abi-metrics@1 refused: "
                           "aitbc_http_requests_total");
    assert_contains(r.err, "metrics: family already reported from metrics:abi-metrics@1 refused: "
                           "aitbc_abi_ok");
    assert_contains(r.err, "metrics: family name or type from metrics:abi-metrics@1 refused: "
                           "aitbc_abi_count");
    run_free(&r);
}

/* node.log_format: json: every stderr line of a real run is one JSON object; a plugin's lines
 * carry its name, and lines written while serving a request (the handler's, the access log)
 * carry the request's id, the one the client got in Request-Id. */
static void test_json_logs(void **s) {
    write_config_node(", log_format: json", "  abi-good: { greeting: hi }\n");
    int port;
    pid_t pid = spawn_serving(&port);
    char resp[4096], rid[64] = "";
    assert_int_equal(http_get(port, "/abi-good/ping", resp, sizeof resp), 0);
    const char *h = at(resp, "Request-Id: ") + strlen("Request-Id: ");
    snprintf(rid, sizeof rid, "%.*s", (int)strcspn(h, "\r\n"), h);
    assert_true(strlen(rid) > 4);
    kill(pid, SIGTERM);
    run r;
    reap(pid, &r);
    assert_int_equal(r.status, 0);
    int lines = 0, lifecycle = 0, handler = 0, access = 0;
    for (char *line = r.err, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        assert_non_null(end);
        cJSON *o = cJSON_ParseWithLength(line, (size_t)(end - line));
        if (!cJSON_IsObject(o)) fail_msg("not a JSON line: %.*s", (int)(end - line), line);
        const char *plugin = cJSON_GetStringValue(cJSON_GetObjectItem(o, "plugin"));
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg"));
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "request_id"));
        assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(o, "ts")));
        assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(o, "level")));
        assert_non_null(plugin);
        assert_non_null(msg);
        lifecycle += !strcmp(plugin, "abi-good") && !strcmp(msg, "lifecycle start") && !id;
        handler += !strcmp(plugin, "abi-good") && !strcmp(msg, "ping") && id && !strcmp(id, rid);
        access += !strcmp(plugin, "http") && strstr(msg, "GET /abi-good/ping 200") && id &&
                  !strcmp(id, rid);
        lines++;
        cJSON_Delete(o);
    }
    assert_true(lines > 5);
    assert_int_equal(lifecycle, 1);
    assert_int_equal(handler, 1);
    assert_int_equal(access, 1);
    run_free(&r);
}

/* Runs a plugin that hands the host exact heap copies of its structs (abi_plugin.c,
 * EXACT_STRUCTS): it serves its route, its topic and both migration steps are taken, /metrics
 * shows its two labels (read with its stride), and no sanitizer fires. Returns its stderr. */
static char *run_exact_plugin(const char *name) {
    char yaml[128], path[96];
    snprintf(yaml, sizeof yaml, "  %s: {}\n", name);
    snprintf(path, sizeof path, "/%s/ping", name);
    write_config(yaml);
    int port;
    pid_t pid = spawn_serving(&port);
    static char resp[256 * 1024];
    assert_int_equal(http_get(port, path, resp, sizeof resp), 0);
    assert_true(strncmp(resp + 9, "200", 3) == 0);
    assert_int_equal(http_get(port, "/metrics", resp, sizeof resp), 0);
    int labels = strstr(resp, "aitbc_abi_sized_labels{a=\"1\",b=\"2\"} 1\n") != NULL;
    kill(pid, SIGTERM);
    run r;
    reap(pid, &r);
    int status = r.status, sanitizer = strstr(r.err, "Sanitizer") != NULL;
    int taken = strstr(r.err, "exact structs: 0") != NULL;
    if (status != 0 || sanitizer || !taken || !labels) fprintf(stderr, "%s\n%s", r.err, resp);
    free(r.out);
    assert_int_equal(status, 0);
    assert_false(sanitizer);
    assert_true(taken);
    assert_true(labels);
    return r.err;
}

/* A plugin built against the 1.0 headers runs on today's host, which reads its descriptor,
 * routes, topics, migration steps and metric labels only as far as 1.0 defined them (the plugin's
 * copies end there: ASan would catch more). */
static void test_plugin_from_1_0(void **s) {
    char *err = run_exact_plugin("abi-v10");
    /* Its schema was read in the 1.0 layout: no defaults to fill. */
    assert_contains(err, "[abi-v10] lifecycle init greeting=- count=-1");
    free(err);
}

/* Today's plugin whose descriptor sizes say what it hands in: a 1.0-sized route (read no
 * further: ASan), migration steps and metric labels with a stride wider than the host's (read
 * by that stride, or the second step and label would be junk). */
static void test_declared_sizes(void **s) {
    char *err = run_exact_plugin("abi-sized");
    assert_contains(err, "[abi-sized] lifecycle init greeting=- count=7"); /* defaults filled */
    free(err);
}

/* A declared size smaller than the 1.0 struct cannot come from any build: refused, named. */
static void test_short_struct_sizes(void **s) {
    expect_refusal("  abi-smallroute: {}\n", PLUG("abi-smallroute.so"),
                   "route_size 8 is smaller than the v1.0 route (");
    expect_refusal("  abi-smalltopic: {}\n", PLUG("abi-smalltopic.so"),
                   "topic_size 8 is smaller than the v1.0 topic (");
    expect_refusal("  abi-smallmig: {}\n", PLUG("abi-smallmig.so"),
                   "migration_size 8 is smaller than the v1.0 migration step (");
    expect_refusal("  abi-smalllabel: {}\n", PLUG("abi-smalllabel.so"),
                   "metric_label_size 8 is smaller than the v1.0 metric label (");
}

/* A failing init: the host stops, never calls destroy, drops what the plugin left (a 1 ms timer
 * and a subscription that would abort), and LeakSanitizer (ASan build) finds nothing. */
static void test_init_failure(void **s) {
    run r;
    run_host("  abi-good: { greeting: hi }\n  abi-initfail: {}\n", NULL, &r);
    if (r.status != 1) fprintf(stderr, "%s", r.err);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "[abi-initfail] init failed");
    assert_contains(r.err, "[abi-good] lifecycle destroy");
    assert_null(strstr(r.err, "Sanitizer"));
    run_free(&r);
#ifdef AITBC_PLUGIN_DIR
    /* The job plugins follow the rule too: a rule across keys fails their init without leaking;
     * a value outside a key's bounds is the host's to refuse, naming plugin, key, value, range. */
    const char *const cases[] = {"  miner: { open_registration: false }\n",
                                 "  client: { fee_bps: 5 }\n", "  miner: { lease_s: 0 }\n",
                                 "  client: { fee_bps: -1 }\n"};
    const char *const want[] = {"[miner] miner.enrolment_token (16..255 characters) is required",
                                "[client] client.treasury must be an address",
                                "plugin 'miner': config key 'lease_s' = 0 is out of range "
                                "(allowed 1..86400)",
                                "plugin 'client': config key 'fee_bps' = -1 is out of range "
                                "(allowed 0..10000)"};
    for (int i = 0; i < 4; i++) {
        char yaml[512];
        if (i % 2 == 0)
            snprintf(yaml, sizeof yaml, "  chain: {}\n  auth-apikey: {}\n  client: {}\n%s",
                     cases[i]);
        else
            snprintf(yaml, sizeof yaml, "  chain: {}\n  auth-apikey: {}\n%s  miner: {}\n",
                     cases[i]);
        write_config(yaml);
        reap(spawn(NULL), &r);
        assert_int_equal(r.status, 1);
        assert_contains(r.err, want[i]);
        assert_contains(r.err, i < 2 ? "init failed" : "refused");
        if (i >= 2) assert_null(strstr(r.err, "lifecycle")); /* before any init */
        assert_null(strstr(r.err, "Sanitizer"));
        run_free(&r);
    }
#endif
}

static void test_usage(void **s) {
    const char *const argv[] = {AITBC_HOST_BIN, "--ready-file", "/dev/null", NULL};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        execv(AITBC_HOST_BIN, (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_missing_symbol),
        T(test_null_descriptor),
        T(test_other_major),
        T(test_newer_minor),
        T(test_short_descriptor),
        T(test_short_config_key),
        T(test_build_signature),
        T(test_null_callback),
        T(test_name_mismatch),
        T(test_duplicate_name),
        T(test_unmet_requires),
        T(test_dependency_cycle),
        T(test_unknown_config_key),
        T(test_wrong_config_type),
        T(test_missing_required_key),
        T(test_not_found),
        T(test_dlopen_error),
        T(test_invalid_name),
        T(test_good_lifecycle),
        T(test_check_config),
        T(test_offline_command),
        T(test_plugin_metrics),
        T(test_json_logs),
        T(test_usage),
        T(test_uses),
        T(test_lookups_declared),
        T(test_plugin_from_1_0),
        T(test_declared_sizes),
        T(test_short_struct_sizes),
        T(test_init_failure),
        T(test_config_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
