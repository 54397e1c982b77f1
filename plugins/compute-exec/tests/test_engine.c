/* compute-exec engine with real processes: the payload reaches stdin, the JSON on stdout is the
 * result, and every way a command can misbehave (exit status, junk output, flooding, hanging,
 * leaving children behind, ignoring its input) ends as a clear failure with no process left. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include <aitbc/errors.h>
#include <aitbc/util.h>
#include "../exec.h"
#include "compute_probe.h"

/* The test's commands are small /bin/sh scripts; the plugin itself never uses a shell, an
 * operator may. */
static int make_command(exec_command *c, const char *script, const char *extra_cfg) {
    char text[4096];
    cJSON *s = cJSON_CreateString(script);
    char *quoted = cJSON_PrintUnformatted(s);
    snprintf(text, sizeof text,
             "{\"commands\":[{\"type\":\"t\",\"argv\":[\"/bin/sh\",\"-c\",%s]%s%s}]}", quoted,
             extra_cfg ? "," : "", extra_cfg ? extra_cfg : "");
    free(quoted);
    cJSON_Delete(s);
    cJSON *cfg = cJSON_Parse(text);
    assert_non_null(cfg);
    exec_set set;
    char err[256] = "";
    int rc = exec_set_parse(cfg, &set, err, sizeof err);
    cJSON_Delete(cfg);
    if (rc != 0) fail_msg("config: %s", err);
    *c = set.commands[0];
    memset(&set.commands[0], 0, sizeof set.commands[0]);
    exec_set_free(&set);
    return 0;
}

static int run_script(const char *script, const char *extra_cfg, const char *payload_text,
                      compute_probe *probe, aitbc_compute_out *out) {
    exec_command c;
    make_command(&c, script, extra_cfg);
    cJSON *payload = cJSON_Parse(payload_text ? payload_text : "{\"type\":\"t\",\"n\":1}");
    memset(out, 0, sizeof *out);
    int rc = exec_run(&c, payload, &probe->ctl, out);
    cJSON_Delete(payload);
    exec_command_free(&c);
    const char *broken = compute_probe_violation(rc, out);
    if (broken) fail_msg("compute@1 contract: %s", broken);
    return rc;
}

static void payload_in_result_out(void **state) {
    (void)state;
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    /* cat echoes the canonical payload back: keys sorted, no whitespace. */
    assert_int_equal(
        run_script("cat", NULL, "{\"type\":\"t\", \"b\":[1,2], \"a\":\"x\"}", &probe, &out), 0);
    char *text = cJSON_PrintUnformatted(out.result);
    assert_string_equal(text, "{\"a\":\"x\",\"b\":[1,2],\"type\":\"t\"}");
    free(text);
    assert_int_equal(out.units, 1);
    assert_string_equal(out.unit_type, "job");
    compute_probe_out_reset(&out);
}

static void big_payload_round_trips_without_deadlock(void **state) {
    (void)state;
    /* 2 MiB in and out: stdin is written while stdout is read, or both pipes would fill up. */
    size_t n = 2 << 20;
    char *payload = malloc(n + 64);
    strcpy(payload, "{\"type\":\"t\",\"blob\":\"");
    size_t o = strlen(payload);
    memset(payload + o, 'a', n);
    strcpy(payload + o + n, "\"}");
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(run_script("cat", "\"max_output_bytes\":4194304", payload, &probe, &out), 0);
    assert_int_equal(strlen(cJSON_GetObjectItem(out.result, "blob")->valuestring), n);
    compute_probe_out_reset(&out);
    free(payload);
}

static void command_that_ignores_stdin_still_succeeds(void **state) {
    (void)state;
    size_t n = 1 << 20;
    char *payload = malloc(n + 64);
    snprintf(payload, 32, "{\"type\":\"t\",\"x\":\"");
    size_t o = strlen(payload);
    memset(payload + o, 'b', n);
    strcpy(payload + o + n, "\"}");
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    /* It exits at once: our writes hit a closed socket (EPIPE), which must not kill us. */
    assert_int_equal(run_script("echo '{\"ok\":true}'", NULL, payload, &probe, &out), 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(out.result, "ok")));
    compute_probe_out_reset(&out);
    free(payload);
}

static void failures_have_clear_codes(void **state) {
    (void)state;
    static const struct {
        const char *script;
        const char *code;
        const char *in_message;
    } cases[] = {
        {"echo 'it broke' >&2; exit 3", "command_failed", "exited with status 3: it broke"},
        {"kill -KILL $$", "command_failed", "killed by signal 9"},
        {"echo hello", "invalid_output", "not one JSON object"},
        {"echo '[1,2]'", "invalid_output", "not one JSON object"},
        {"echo '{\"a\":1} {\"b\":2}'", "invalid_output", "not one JSON object"},
        {"printf '{\"a\":\"\\377\"}'", "invalid_output", "UTF-8"},
        {"true", "invalid_output", "0 bytes"},
        {"yes", "output_too_large", "more than 65536 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        compute_probe probe;
        compute_probe_init(&probe);
        aitbc_compute_out out;
        int rc = run_script(cases[i].script, "\"max_output_bytes\":65536", NULL, &probe, &out);
        if (rc == 0 || strcmp(compute_probe_code(&out), cases[i].code) != 0 ||
            !strstr(compute_probe_message(&out), cases[i].in_message))
            fail_msg("case %s: rc %d code %s message %s", cases[i].script, rc,
                     rc ? compute_probe_code(&out) : "-", compute_probe_message(&out));
        assert_false(out.retryable);
        compute_probe_out_reset(&out);
    }
}

static void stderr_flood_is_drained(void **state) {
    (void)state;
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(
        run_script("head -c 3000000 /dev/zero >&2; echo '{}'", NULL, NULL, &probe, &out), 0);
    compute_probe_out_reset(&out);
}

static int gone(pid_t pid) {
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* Reads the pid a script wrote, then waits (bounded) for init to reap the orphan. */
static void assert_process_ends(const char *pidfile) {
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    long pid = 0;
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    unlink(pidfile);
    int64_t until = aitbc_now_ms() + 5000;
    while (!gone((pid_t)pid) && aitbc_now_ms() < until)
        usleep(10000);
    assert_true(gone((pid_t)pid));
}

static void hung_command_times_out_with_its_children(void **state) {
    (void)state;
    char pidfile[] = "/tmp/exec-test-XXXXXX";
    int fd = mkstemp(pidfile);
    close(fd);
    char script[256];
    snprintf(script, sizeof script, "sleep 60 & echo $! > %s; wait", pidfile);
    compute_probe probe;
    compute_probe_init(&probe);
    probe.ctl.deadline_ms = aitbc_now_ms() + 300; /* earlier than timeout_s */
    aitbc_compute_out out;
    int64_t t0 = aitbc_now_ms();
    assert_int_equal(run_script(script, "\"timeout_s\":30", NULL, &probe, &out), AITBC_EUNAVAIL);
    assert_true(aitbc_now_ms() - t0 < 5000);
    assert_string_equal(compute_probe_code(&out), "timeout");
    assert_false(out.retryable);
    compute_probe_out_reset(&out);
    assert_process_ends(pidfile);
}

static void leftover_child_does_not_hold_the_job(void **state) {
    (void)state;
    char pidfile[] = "/tmp/exec-test-XXXXXX";
    int fd = mkstemp(pidfile);
    close(fd);
    char script[256];
    /* The background sleep keeps stdout open after the command itself is done. */
    snprintf(script, sizeof script, "sleep 60 & echo $! > %s; echo '{\"done\":1}'", pidfile);
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    int64_t t0 = aitbc_now_ms();
    assert_int_equal(run_script(script, "\"timeout_s\":30", NULL, &probe, &out), 0);
    assert_true(aitbc_now_ms() - t0 < 5000);
    compute_probe_out_reset(&out);
    assert_process_ends(pidfile);
}

static void stop_request_kills_the_group(void **state) {
    (void)state;
    compute_probe probe;
    compute_probe_init(&probe);
    atomic_store(&probe.stop, 1);
    aitbc_compute_out out;
    int64_t t0 = aitbc_now_ms();
    assert_int_equal(run_script("sleep 60", NULL, NULL, &probe, &out), AITBC_EUNAVAIL);
    assert_true(aitbc_now_ms() - t0 < 5000);
    assert_string_equal(compute_probe_code(&out), "stopped");
    assert_true(out.retryable);
    compute_probe_out_reset(&out);
}

static void environment_is_clean_and_limits_apply(void **state) {
    (void)state;
    setenv("AITBC_TEST_SECRET", "leak", 1);
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(run_script("printf '{\"secret\":\"%s\",\"mode\":\"%s\",\"path\":\"%s\","
                                "\"as_kb\":\"%s\",\"cwd\":\"%s\",\"fds\":\"%s\"}' "
                                "\"$AITBC_TEST_SECRET\" \"$MODE\" \"$PATH\" \"$(ulimit -v)\" "
                                "\"$(pwd)\" \"$(ls /proc/self/fd | wc -l)\"",
                                "\"memory_mb\":64,\"env\":{\"MODE\":\"fast\"},\"cwd\":\"/tmp\"",
                                NULL, &probe, &out),
                     0);
    const cJSON *r = out.result;
    assert_string_equal(cJSON_GetObjectItem(r, "secret")->valuestring, "");
    assert_string_equal(cJSON_GetObjectItem(r, "mode")->valuestring, "fast");
    assert_string_equal(cJSON_GetObjectItem(r, "path")->valuestring,
                        "/usr/local/bin:/usr/bin:/bin");
    assert_string_equal(cJSON_GetObjectItem(r, "as_kb")->valuestring, "65536");
    assert_string_equal(cJSON_GetObjectItem(r, "cwd")->valuestring, "/tmp");
    /* ls sees 0, 1, 2 and its own directory handle: nothing inherited from this process. */
    assert_string_equal(cJSON_GetObjectItem(r, "fds")->valuestring, "4");
    compute_probe_out_reset(&out);
}

static void seconds_are_billed_when_configured(void **state) {
    (void)state;
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(run_script("echo '{}'", "\"unit_type\":\"second\"", NULL, &probe, &out), 0);
    assert_string_equal(out.unit_type, "second");
    assert_int_equal(out.units, 1);
    compute_probe_out_reset(&out);
}

static void missing_program_fails_to_spawn(void **state) {
    (void)state;
    exec_command c;
    make_command(&c, "true", NULL);
    free(c.argv[0]);
    c.argv[0] = strdup("/nonexistent/program"); /* removed after the config was checked */
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out = {0};
    cJSON *payload = cJSON_Parse("{\"type\":\"t\"}");
    assert_int_equal(exec_run(&c, payload, &probe.ctl, &out), AITBC_EIO);
    assert_string_equal(compute_probe_code(&out), "spawn_failed");
    assert_non_null(strstr(compute_probe_message(&out), "No such file"));
    assert_true(out.retryable);
    compute_probe_out_reset(&out);
    cJSON_Delete(payload);
    exec_command_free(&c);
}

static void bad_configs_are_refused(void **state) {
    (void)state;
    static const struct {
        const char *cfg;
        const char *in_err;
    } cases[] = {
        {"{}", "commands must be a non-empty list"},
        {"{\"commands\":[]}", "commands must be a non-empty list"},
        {"{\"commands\":[7]}", "commands[0] must be an object"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"sh\"]}]}", "argv[0] must be the absolute"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[]}]}", "argv must be a non-empty array"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"/bin/sh\",3]}]}", "argv must be"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"/etc/passwd\"]}]}", "executable"},
        {"{\"commands\":[{\"type\":\"a b\",\"argv\":[\"/bin/true\"]}]}", "type must be"},
        {"{\"commands\":[{\"type\":\"Upper\",\"argv\":[\"/bin/true\"]}]}", "type must be"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"/bin/true\"],\"shell\":true}]}",
         "commands[0].shell: unknown key"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"/bin/true\"],\"timeout_s\":0}]}",
         "timeout_s must be an integer in 1..86400"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"/bin/true\"],\"env\":{\"PATH\":\"/x\"}}]}",
         "PATH is fixed"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"/bin/true\"],\"env\":{\"A\":1}}]}", "env.A"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"/bin/true\"],\"cwd\":\"tmp\"}]}", "cwd"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"/bin/true\"],\"unit_type\":\"token\"}]}",
         "unit_type"},
        {"{\"commands\":[{\"type\":\"t\",\"argv\":[\"/bin/true\"]},"
         "{\"type\":\"t\",\"argv\":[\"/bin/false\"]}]}",
         "commands[1].type: 't' is already mapped"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *cfg = cJSON_Parse(cases[i].cfg);
        assert_non_null(cfg);
        exec_set set;
        char err[256] = "";
        int rc = exec_set_parse(cfg, &set, err, sizeof err);
        cJSON_Delete(cfg);
        if (rc != AITBC_EINVAL || !strstr(err, cases[i].in_err))
            fail_msg("config %s: rc %d err '%s'", cases[i].cfg, rc, err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(payload_in_result_out),
        cmocka_unit_test(big_payload_round_trips_without_deadlock),
        cmocka_unit_test(command_that_ignores_stdin_still_succeeds),
        cmocka_unit_test(failures_have_clear_codes),
        cmocka_unit_test(stderr_flood_is_drained),
        cmocka_unit_test(hung_command_times_out_with_its_children),
        cmocka_unit_test(leftover_child_does_not_hold_the_job),
        cmocka_unit_test(stop_request_kills_the_group),
        cmocka_unit_test(environment_is_clean_and_limits_apply),
        cmocka_unit_test(seconds_are_billed_when_configured),
        cmocka_unit_test(missing_program_fails_to_spawn),
        cmocka_unit_test(bad_configs_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
