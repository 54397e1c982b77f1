/* The real `aitbc` binary against a real host with the job plugins: submit and follow a job that
 * a test miner (signing like a real one) runs with progress, get/list/cancel, receipt get and
 * verify, miner keygen/status, the config file, and the errors a user meets (bad key, unreachable
 * node, wrong command line), each with its documented exit code. */
#include "jobs_th.h"
#include <aitbc/json.h>
#include <aitbc/util.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static th_host *H;
static jt_client C;
static jt_miner M;
static char D[256]; /* scratch files; also HOME of every run, so no user config leaks in */
static char env_url[128], env_key[256], env_home[300];
static char done_id[64]; /* a job completed by the first test */

#define OCR_CAPS "{\"job_types\":[\"ocr\"]}"

static void put(const char *name, const char *text, char path[512]) {
    snprintf(path, 512, "%s/%s", D, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    fclose(f);
}

/* aitbc with the client's URL and key from the environment, HOME = D; arguments up to a NULL. */
static void cli(jt_proc *p, ...) {
    const char *argv[16] = {AITBC_CLI_BIN};
    va_list ap;
    va_start(ap, p);
    for (int i = 1; i < 15 && (argv[i] = va_arg(ap, const char *)); i++)
        ;
    va_end(ap);
    const char *env[] = {env_url, env_key, env_home, NULL};
    jt_run(D, argv, env, NULL, p);
}

static void expect(jt_proc *p, int status, const char *out, const char *err) {
    if (p->status != status || (out && !strstr(p->out, out)) || (err && !strstr(p->err, err)))
        fail_msg("exit %d out \"%s\" err \"%s\"; want %d, out ~ \"%s\", err ~ \"%s\"", p->status,
                 p->out, p->err, status, out ? out : "", err ? err : "");
    jt_proc_free(p);
}

/* A CLI run in the background, its output in files the test can watch. */
typedef struct bg {
    pid_t pid;
    char out[512], err[512];
} bg;

static void bg_start(bg *b, const char *const *args) {
    snprintf(b->out, sizeof b->out, "%s/bg.out", D);
    snprintf(b->err, sizeof b->err, "%s/bg.err", D);
    b->pid = fork();
    assert_true(b->pid >= 0);
    if (b->pid == 0) {
        int o = open(b->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(b->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0 || chdir(D) != 0) _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        unsetenv("AITBC_URL");
        unsetenv("AITBC_API_KEY");
        putenv(env_url);
        putenv(env_key);
        putenv(env_home);
        const char *argv[16] = {AITBC_CLI_BIN};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = args[i];
        execv(AITBC_CLI_BIN, (char *const *)argv);
        _exit(127);
    }
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int bg_wait(bg *b) {
    int st;
    while (waitpid(b->pid, &st, 0) < 0)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct watch {
    const char *path, *text;
} watch;

static int file_has(void *arg) {
    watch *w = arg;
    char *t = slurp(w->path);
    int ok = strstr(t, w->text) != NULL;
    free(t);
    return ok;
}

/* The job the miner's poll hands out (its id into id, its payload into *payload). */
static void take_job(const jt_miner *m, char id[64], cJSON **payload) {
    th_resp r;
    assert_int_equal(jt_beat(H, m, 10, "[]", &r), 200);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(r.json, "jobs");
    if (cJSON_GetArraySize(jobs) != 1) fail_msg("poll: %s", r.body);
    const cJSON *j = cJSON_GetArrayItem(jobs, 0);
    snprintf(id, 64, "%s", jt_str(j, "job_id"));
    if (payload) *payload = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(j, "payload"), 1);
    th_resp_free(&r);
}

static void test_submit_follows_progress_to_the_result(void **st) {
    (void)st;
    char img[512];
    put("scan.png", "not really a PNG, the test miner reads no pixels", img);
    bg b;
    const char *args[] = {"job",    "submit", "--type",      "ocr", "--image", img,
                          "--lang", "eng",    "--max-price", "1",   NULL};
    bg_start(&b, args);
    char id[64];
    cJSON *payload;
    take_job(&M, id, &payload);
    /* the image went as standard base64, the language with it */
    const char *b64 = jt_str(payload, "image_base64");
    unsigned char raw[128];
    size_t len = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof raw, b64, strlen(b64), NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_memory_equal(raw, "not really a PNG", 16);
    assert_string_equal(jt_str(payload, "lang"), "eng");
    cJSON_Delete(payload);
    watch w = {b.out, id};
    assert_true(th_wait_until(file_has, &w, 10000)); /* the id comes first, at once */

    char path[160];
    th_resp r;
    snprintf(path, sizeof path, "/v1/jobs/%s/progress", id);
    assert_int_equal(th_req(H, "POST", path, M.key, "{\"attempt\":1,\"progress\":0.5}", &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    char line[128];
    snprintf(line, sizeof line, "%s: RUNNING 50%%", id); /* stderr is no TTY: plain lines */
    watch wp = {b.err, line};
    assert_true(th_wait_until(file_has, &wp, 10000));
    assert_int_equal(
        jt_complete(H, &M, id, 1, "{\"text\":\"hello world\",\"confidence\":93}", 2, &r), 200);
    th_resp_free(&r);
    assert_int_equal(bg_wait(&b), 0);
    char *out = slurp(b.out), *err = slurp(b.err), want[128];
    snprintf(want, sizeof want, "%s\nhello world\n", id);
    assert_string_equal(out, want);
    snprintf(line, sizeof line, "%s: COMPLETED 100%%", id);
    assert_non_null(strstr(err, line));
    assert_null(strchr(err, '\r')); /* no redrawn line when not on a terminal */
    free(out);
    free(err);
    snprintf(done_id, sizeof done_id, "%s", id);
}

static void test_json_payload_file_and_a_failed_job(void **st) {
    (void)st;
    char pf[512];
    put("payload.json", "{\"type\":\"ocr\",\"image_base64\":\"aGk=\",\"x\":0.30000000000000004}",
        pf);
    bg b;
    const char *args[] = {"job", "submit", "--payload", pf, "--max-price", "1", "--json", NULL};
    bg_start(&b, args);
    char id[64];
    cJSON *payload;
    take_job(&M, id, &payload);
    char *text = aitbc_json_print(payload);
    assert_string_equal(text,
                        "{\"image_base64\":\"aGk=\",\"type\":\"ocr\",\"x\":0.30000000000000004}");
    free(text);
    cJSON_Delete(payload);
    th_resp r;
    assert_int_equal(jt_complete(H, &M, id, 1, "{\"text\":\"hi\"}", 1, &r), 200);
    th_resp_free(&r);
    assert_int_equal(bg_wait(&b), 0);
    char *out = slurp(b.out);
    cJSON *job = cJSON_Parse(out);
    assert_non_null(job); /* --json: only the final Job on stdout */
    assert_string_equal(jt_str(job, "job_id"), id);
    assert_string_equal(jt_str(job, "state"), "COMPLETED");
    assert_true(cJSON_GetObjectItemCaseSensitive(job, "progress")->valuedouble == 1);
    cJSON_Delete(job);
    free(out);

    /* a job the miner fails: exit 1 and the miner's error */
    const char *args2[] = {"job", "submit", "--payload", pf, "--max-price", "1", NULL};
    bg_start(&b, args2);
    take_job(&M, id, NULL);
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
    assert_int_equal(th_req(H, "POST", path, M.key,
                            "{\"attempt\":1,\"error\":{\"code\":\"bad_image\",\"message\":\"cannot "
                            "decode\"}}",
                            &r),
                     0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(bg_wait(&b), 1);
    char *err = slurp(b.err);
    assert_non_null(strstr(err, "ended FAILED: bad_image: cannot decode"));
    free(err);
}

static void test_get_list_cancel(void **st) {
    (void)st;
    jt_proc p;
    cli(&p, "job", "submit", "--type", "nobody-runs-this", "--no-wait", NULL);
    assert_int_equal(p.status, 0);
    char id[64];
    snprintf(id, sizeof id, "%.*s", (int)strcspn(p.out, "\n"), p.out);
    assert_int_equal(strncmp(id, "job_", 4), 0);
    jt_proc_free(&p);
    cli(&p, "job", "get", id, NULL, NULL, NULL);
    expect(&p, 0, "QUEUED", NULL);
    cli(&p, "job", "get", id, "--json", NULL, NULL);
    cJSON *j = cJSON_Parse(p.out);
    assert_string_equal(jt_str(j, "job_id"), id);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "progress")));
    cJSON_Delete(j);
    jt_proc_free(&p);
    cli(&p, "job", "list", "--json", NULL, NULL, NULL);
    assert_int_equal(p.status, 0);
    j = cJSON_Parse(p.out);
    assert_string_equal(
        jt_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "items"), 0), "job_id"), id);
    cJSON_Delete(j);
    jt_proc_free(&p);
    cli(&p, "job", "list", "--state", "COMPLETED", "--limit", "1", NULL);
    expect(&p, 0, done_id[0] ? "COMPLETED" : NULL, "more: aitbc job list --cursor");
    cli(&p, "job", "get", done_id, NULL, NULL, NULL);
    expect(&p, 0, "hello world", NULL);
    cli(&p, "job", "cancel", id, NULL, NULL, NULL);
    expect(&p, 0, "CANCELED", NULL);
    cli(&p, "job", "cancel", id, NULL, NULL, NULL);
    expect(&p, 3, NULL, "HTTP 409 conflict");
    cli(&p, "job", "get", "job_doesnotexist00000000000", NULL, NULL, NULL);
    expect(&p, 3, NULL, "HTTP 404 not_found");
    cli(&p, "job", "get", "../admin/stats", NULL, NULL, NULL);
    expect(&p, 2, NULL, "is not a job id");
    cli(&p, "job", "list", "--state", "NOPE", NULL, NULL);
    expect(&p, 3, NULL, "(field state)");
    cli(&p, "receipt", "get", id, NULL, NULL, NULL);
    expect(&p, 3, NULL, "HTTP 404");
}

static void test_receipt_get_and_verify(void **st) {
    (void)st;
    assert_true(done_id[0]);
    char rp[512], kp[512], bad[512];
    snprintf(rp, sizeof rp, "%s/r.json", D);
    jt_proc p;
    cli(&p, "receipt", "get", done_id, "-o", rp, NULL);
    expect(&p, 0, NULL, "aitbc receipt verify");
    cli(&p, "receipt", "verify", rp, NULL, NULL, NULL); /* key from the configured node */
    expect(&p, 0, ": OK (job ", NULL);
    cli(&p, "receipt", "verify", rp, "--json", NULL, NULL);
    cJSON *v = cJSON_Parse(p.out);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "valid")));
    cJSON_Delete(v);
    jt_proc_free(&p);
    /* the job as `job get --json` prints it supplies payload and result */
    char jp[512];
    cli(&p, "job", "get", done_id, "--json", NULL, NULL);
    put("job.json", p.out, jp);
    jt_proc_free(&p);
    cli(&p, "receipt", "verify", rp, "--job", jp, NULL);
    expect(&p, 0, "payload hash ok, result hash ok", NULL);
    /* offline: no node, no config, only a key file */
    th_resp r;
    assert_int_equal(th_req(H, "GET", "/v1/receipts/public-key", NULL, NULL, &r), 0);
    put("key.json", r.body, kp);
    th_resp_free(&r);
    const char *argv[] = {AITBC_CLI_BIN, "receipt", "verify", rp, "--public-key", kp, NULL};
    const char *env[] = {env_home, "AITBC_URL=http://127.0.0.1:1", NULL};
    jt_run(D, argv, env, NULL, &p);
    expect(&p, 0, "OK", NULL);
    /* tampered */
    char *text = slurp(rp);
    cJSON *rj = cJSON_Parse(text);
    free(text);
    cJSON_ReplaceItemInObjectCaseSensitive(rj, "units", cJSON_CreateNumber(99));
    text = aitbc_json_print(rj);
    put("bad.json", text, bad);
    free(text);
    cJSON_Delete(rj);
    cli(&p, "receipt", "verify", bad, "--public-key", kp, NULL);
    expect(&p, 1, "INVALID (coordinator signature does not verify", NULL);
}

static void test_errors_say_what_to_do(void **st) {
    (void)st;
    jt_proc p;
    const char *bad_key[] = {env_url, "AITBC_API_KEY=aitbc_client_key_nope_00", env_home, NULL};
    const char *list[] = {AITBC_CLI_BIN, "job", "list", NULL};
    jt_run(D, list, bad_key, NULL, &p);
    expect(&p, 3, NULL, "check the API key from AITBC_API_KEY");
    const char *gone[] = {"AITBC_URL=http://127.0.0.1:1", env_key, env_home, NULL};
    jt_run(D, list, gone, NULL, &p);
    expect(&p, 4, NULL, "is the node running at http://127.0.0.1:1 (from AITBC_URL)");
    const char *list_json[] = {AITBC_CLI_BIN, "--json", "job", "list", NULL};
    jt_run(D, list_json, gone, NULL, &p);
    expect(&p, 4, "\"code\":\"unreachable\"", "cannot reach");
    cli(&p, "job", "submit", NULL, NULL, NULL, NULL);
    expect(&p, 2, NULL, "say what to run");
    cli(&p, "job", "submit", "--type", "ocr", NULL, NULL);
    expect(&p, 2, NULL, "--type ocr needs --image FILE");
    cli(&p, "job", "submit", "--type", "ocr", "--image", "/nonexistent.png", NULL);
    expect(&p, 2, NULL, "cannot open /nonexistent.png");
    cli(&p, "job", "submit", "--type", "inference", "--model", "m", NULL);
    expect(&p, 2, NULL, "needs --model NAME and --prompt TEXT");
    cli(&p, "job", "frob", NULL, NULL, NULL, NULL);
    expect(&p, 2, NULL, "unknown 'job frob'");
    cli(&p, "job", "get", "job_x", "--state", "QUEUED", NULL);
    expect(&p, 2, NULL, "does not go with 'job get'");
    cli(&p, "--url", "ftp://x", "job", "list", NULL, NULL);
    expect(&p, 2, NULL, "must start with http://");
    cli(&p, "job", "submit", "--type", "ocr2", "--max-price", "1000000", "--no-wait", NULL);
    expect(&p, 3, NULL, "top up the account");
    cli(&p, "job", NULL, NULL, NULL, NULL, NULL);
    expect(&p, 2, NULL, "usage:");
    cli(&p, "--help", NULL, NULL, NULL, NULL, NULL);
    expect(&p, 0, "receipt verify FILE", NULL);
}

static void test_config_file(void **st) {
    (void)st;
    char dir[512], cfg[512], text[600];
    snprintf(dir, sizeof dir, "%s/.config/aitbc", D);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(text, sizeof text, "# my node\nurl: http://127.0.0.1:%d/\napi_key: \"%s\"\n",
             th_http_port(H), C.key);
    put(".config/aitbc/config.yaml", text, cfg);
    chmod(cfg, 0600);
    const char *env[] = {env_home, NULL};
    const char *list[] = {AITBC_CLI_BIN, "job", "list", NULL};
    jt_proc p;
    jt_run(D, list, env, NULL, &p);
    expect(&p, 0, "job_", NULL);
    /* flags win over the file */
    const char *flag[] = {AITBC_CLI_BIN, "--api-key", "aitbc_client_key_nope_00",
                          "job",         "list",      NULL};
    jt_run(D, flag, env, NULL, &p);
    expect(&p, 3, NULL, "check the API key from --api-key");
    /* a readable key file is worth a warning; a wrong file is an error */
    chmod(cfg, 0644);
    jt_run(D, list, env, NULL, &p);
    expect(&p, 0, NULL, "readable by others: chmod 600");
    put(".config/aitbc/config.yaml", "url: http://127.0.0.1:1\nnode: 3\n", cfg);
    jt_run(D, list, env, NULL, &p);
    expect(&p, 2, NULL, "unknown setting 'node'");
    put(".config/aitbc/config.yaml", "url: [a, b\n", cfg);
    jt_run(D, list, env, NULL, &p);
    expect(&p, 2, NULL, "config.yaml");
    unlink(cfg);
}

static void test_miner_keygen_and_status(void **st) {
    (void)st;
    char kp[512];
    snprintf(kp, sizeof kp, "%s/miner.key", D);
    jt_proc p;
    cli(&p, "miner", "keygen", "-o", kp, "--json", NULL);
    assert_int_equal(p.status, 0);
    cJSON *k = cJSON_Parse(p.out);
    char address[48];
    snprintf(address, sizeof address, "%s", jt_str(k, "address"));
    cJSON_Delete(k);
    jt_proc_free(&p);
    struct stat sb;
    assert_int_equal(stat(kp, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 65); /* the miner-agent's format: 64 hex + newline */
    cli(&p, "miner", "keygen", "-o", kp, NULL, NULL);
    expect(&p, 2, NULL, "is never overwritten");

    /* register a miner with that key, as the miner-agent would */
    FILE *f = fopen(kp, "r");
    char seed_hex[80] = "";
    assert_non_null(fgets(seed_hex, sizeof seed_hex, f));
    fclose(f);
    unsigned char seed[32];
    seed_hex[64] = 0;
    assert_int_equal(aitbc_hex_decode(seed_hex, seed, 32), 0);
    jt_miner m;
    crypto_sign_seed_keypair(m.pk, m.sk, seed);
    aitbc_hex_encode(m.pk, 32, m.pk_hex);
    char *body = jt_register_body(&m, aitbc_now_ms() / 1000, OCR_CAPS, 2, "0.1");
    th_resp r;
    assert_int_equal(th_req(H, "POST", "/v1/miners/register", NULL, body, &r), 0);
    free(body);
    assert_int_equal(r.status, 201);
    assert_string_equal(jt_str(r.json, "address"), address);
    char mkey[300];
    snprintf(mkey, sizeof mkey, "AITBC_API_KEY=%s", jt_str(r.json, "api_key"));
    th_resp_free(&r);

    const char *status[] = {AITBC_CLI_BIN, "miner", "status", NULL};
    const char *env[] = {env_url, mkey, env_home, NULL};
    jt_run(D, status, env, NULL, &p);
    expect(&p, 0, address, NULL);
    jt_run(D, status, env, NULL, &p);
    expect(&p, 0, "running         0 of 2", NULL);
    char admin[300];
    snprintf(admin, sizeof admin, "AITBC_API_KEY=%s", jt_admin(H));
    const char *status_of[] = {AITBC_CLI_BIN, "miner", "status", address, "--json", NULL};
    const char *env_admin[] = {env_url, admin, env_home, NULL};
    jt_run(D, status_of, env_admin, NULL, &p);
    expect(&p, 0, "\"public_key\"", NULL);
    cli(&p, "miner", "status", address, NULL, NULL, NULL); /* a client key */
    expect(&p, 3, NULL, "HTTP 403 forbidden");
}

static int setup(void **st) {
    (void)st;
    H = jt_start("heartbeat_interval_s: 30, lease_s: 60, max_attempts: 3");
    if (!H) return -1;
    jt_client_new(H, "100", &C);
    if (jt_miner_register(H, &M, OCR_CAPS, 1, "0.1") != 201) return -1;
    jt_tmpdir(D);
    snprintf(env_url, sizeof env_url, "AITBC_URL=http://127.0.0.1:%d", th_http_port(H));
    snprintf(env_key, sizeof env_key, "AITBC_API_KEY=%s", C.key);
    snprintf(env_home, sizeof env_home, "HOME=%s", D);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", D);
    int rc = system(cmd);
    int stop = th_stop(H);
    th_free(H);
    return rc == 0 && stop == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_follows_progress_to_the_result),
        cmocka_unit_test(test_json_payload_file_and_a_failed_job),
        cmocka_unit_test(test_get_list_cancel),
        cmocka_unit_test(test_receipt_get_and_verify),
        cmocka_unit_test(test_errors_say_what_to_do),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_miner_keygen_and_status),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
