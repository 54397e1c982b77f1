/* Helpers of the job integration tests (jobs_th.h): host set-up, funded clients, and miners
 * that register and sign results with their own Ed25519 keys, over real HTTP. */
#include "jobs_th.h"

#include <aitbc/json.h>
#include <aitbc/money.h>
#include <aitbc/util.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char g_admin[192];
static char g_tracked[256][48];
static int g_ntracked;
static int64_t g_minted;
static const char *g_plugins = "";
static pthread_mutex_t g_track_mu = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what, const th_resp *r) {
    fprintf(stderr, "jobs_th: %s failed: %ld %s\n", what, r ? r->status : -1L,
            r && r->body ? r->body : "");
    abort();
}

th_host *jt_start(const char *miner_cfg) {
    return jt_start_ex(miner_cfg, NULL);
}

th_host *jt_start_ex(const char *miner_cfg, const char *extra_yaml) {
    return jt_start_client(miner_cfg, NULL, extra_yaml);
}

th_host *jt_start_client(const char *miner_cfg, const char *client_extra, const char *extra_yaml) {
    return jt_start_full(miner_cfg, client_extra, NULL, extra_yaml);
}

th_host *jt_start_full(const char *miner_cfg, const char *client_extra, const char *more_plugins,
                       const char *extra_yaml) {
    if (sodium_init() < 0) return NULL;
    static char plugins[2048];
    /* Tests sweep often so expiry shows quickly; a caller that sets its own sweep keeps it. */
    const char *sweep =
        client_extra && strstr(client_extra, "ttl_sweep_ms") ? "" : ", ttl_sweep_ms: 50";
    snprintf(plugins, sizeof plugins,
             "  auth-apikey: { rate_limits: { client: {rps: 0, burst: 1}, miner: {rps: 0, burst: "
             "1}, admin: {rps: 0, burst: 1} }, failed_auth: { per_minute: 0 } }\n"
             "  chain: { block_interval_ms: 100, max_empty_interval_s: 0 }\n"
             "  explorer: {}\n"
             "  client: { fee_bps: 250, treasury: \"" JT_TREASURY "\"%s%s }\n"
             "  miner: { %s }\n"
             "  admin: {}\n%s",
             sweep, client_extra ? client_extra : "", miner_cfg, more_plugins ? more_plugins : "");
    g_plugins = plugins;
    th_host *h = th_start(plugins, extra_yaml);
    if (!h) return NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/admin.key", th_data_dir(h));
    FILE *f = fopen(path, "r");
    if (!f || !fgets(g_admin, sizeof g_admin, f)) abort();
    fclose(f);
    g_admin[strcspn(g_admin, "\r\n")] = 0;
    return h;
}

const char *jt_plugins_yaml(void) {
    return g_plugins;
}

const char *jt_admin(th_host *h) {
    (void)h;
    return g_admin;
}

const char *jt_str(const cJSON *o, const char *key) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

int64_t jt_int(const cJSON *o, const char *key) {
    int64_t v = -1;
    aitbc_json_int(cJSON_GetObjectItemCaseSensitive(o, key), &v);
    return v;
}

int64_t jt_units(const char *money) {
    int64_t v = -1;
    if (!money || aitbc_money_parse(money, 6, &v) != 0) return -1;
    return v;
}

void jt_client_new(th_host *h, const char *mint, jt_client *c) {
    th_resp r;
    if (th_req(h, "POST", "/v1/admin/keys", g_admin, "{\"role\":\"client\",\"label\":\"test\"}",
               &r) != 0 ||
        r.status != 201)
        die("create client key", &r);
    snprintf(c->key, sizeof c->key, "%s", jt_str(r.json, "api_key"));
    snprintf(c->address, sizeof c->address, "%s", jt_str(r.json, "address"));
    th_resp_free(&r);
    if (strcmp(mint, "0") == 0) return;
    char body[256];
    snprintf(body, sizeof body, "{\"address\":\"%s\",\"asset\":\"AIT\",\"amount\":\"%s\"}",
             c->address, mint);
    if (th_req(h, "POST", "/v1/admin/mint", g_admin, body, &r) != 0 || r.status != 201)
        die("mint", &r);
    th_resp_free(&r);
    pthread_mutex_lock(&g_track_mu);
    g_minted += jt_units(mint);
    pthread_mutex_unlock(&g_track_mu);
    jt_track(c->address);
}

void jt_track(const char *address) {
    pthread_mutex_lock(&g_track_mu);
    int seen = 0;
    for (int i = 0; i < g_ntracked && !seen; i++)
        seen = strcmp(g_tracked[i], address) == 0;
    if (!seen && g_ntracked < 256) snprintf(g_tracked[g_ntracked++], 48, "%s", address);
    pthread_mutex_unlock(&g_track_mu);
}

int jt_conserved(th_host *h) {
    int64_t sum = 0;
    jt_track(JT_TREASURY);
    for (int i = 0; i < g_ntracked; i++) {
        int64_t a, l;
        jt_balance(h, g_tracked[i], &a, &l);
        sum += a + l;
    }
    if (sum != g_minted)
        fprintf(stderr, "conservation: balances %" PRId64 " != minted %" PRId64 "\n", sum,
                g_minted);
    return sum == g_minted;
}

int64_t jt_locked_total(th_host *h) {
    int64_t sum = 0;
    for (int i = 0; i < g_ntracked; i++) {
        int64_t a, l;
        jt_balance(h, g_tracked[i], &a, &l);
        sum += l;
    }
    return sum;
}

static int write_receipt(th_host *h, const cJSON *receipt, char *path, size_t cap) {
    static int n;
    snprintf(path, cap, "%s/receipt-%d.json", th_data_dir(h), ++n);
    char *text = aitbc_json_print(receipt);
    FILE *f = fopen(path, "w");
    int ok = f && text && fputs(text, f) >= 0;
    if (f) fclose(f);
    free(text);
    return ok ? 0 : -1;
}

int jt_node_verify(th_host *h, const cJSON *receipt) {
    char path[1024], cmd[4096];
    th_resp r;
    if (write_receipt(h, receipt, path, sizeof path) != 0) return 0;
    if (th_req(h, "GET", "/v1/receipts/public-key", NULL, NULL, &r) != 0 || r.status != 200)
        return 0;
    const cJSON *k = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "keys"), 0);
    snprintf(cmd, sizeof cmd, "node '%s' '%s' '%s' >&2", JT_NODE_VERIFIER, path,
             jt_str(k, "public_key"));
    th_resp_free(&r);
    int st = system(cmd);
    return st == 0;
}

int jt_verify_with(th_host *h, const cJSON *receipt, const char *command) {
    char path[1024], cmd[4096];
    if (write_receipt(h, receipt, path, sizeof path) != 0) return -1;
    snprintf(cmd, sizeof cmd, "%s '%s' --public-key http://127.0.0.1:%d 2>/dev/null >&2", command,
             path, th_http_port(h));
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int jt_cli_verify(th_host *h, const cJSON *receipt) {
    return jt_verify_with(h, receipt, "'" AITBC_HOST_BIN "' --verify-receipt");
}

static void sign_b64(const jt_miner *m, const char *text, char out[96]) {
    unsigned char sig[64];
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), m->sk);
    aitbc_b64url_encode(sig, sizeof sig, out);
}

char *jt_register_body(const jt_miner *m, int64_t ts, const char *caps, int concurrency,
                       const char *unit_price) {
    char text[256], sig[96];
    snprintf(text, sizeof text, "aitbc-register\n%s\n%" PRId64, m->pk_hex, ts);
    sign_b64(m, text, sig);
    size_t cap = strlen(caps) + 512;
    char *body = malloc(cap);
    snprintf(
        body, cap,
        "{\"public_key\":\"%s\",\"timestamp\":%" PRId64 ",\"signature\":\"%s\","
        "\"capabilities\":%s,\"concurrency\":%d,\"unit_price\":\"%s\",\"unit_type\":\"token\"}",
        m->pk_hex, ts, sig, caps, concurrency, unit_price);
    return body;
}

long jt_miner_register(th_host *h, jt_miner *m, const char *caps, int concurrency,
                       const char *unit_price) {
    crypto_sign_keypair(m->pk, m->sk);
    aitbc_hex_encode(m->pk, 32, m->pk_hex);
    char *body = jt_register_body(m, aitbc_now_ms() / 1000, caps, concurrency, unit_price);
    th_resp r;
    if (th_req(h, "POST", "/v1/miners/register", NULL, body, &r) != 0) die("register", &r);
    free(body);
    long st = r.status;
    if (st == 201) {
        snprintf(m->key, sizeof m->key, "%s", jt_str(r.json, "api_key"));
        snprintf(m->address, sizeof m->address, "%s", jt_str(r.json, "address"));
        jt_track(m->address);
    }
    th_resp_free(&r);
    return st;
}

long jt_beat(th_host *h, const jt_miner *m, int wait_s, const char *running, th_resp *r) {
    char path[160], body[65536];
    if (wait_s >= 0)
        snprintf(path, sizeof path, "/v1/miners/%s/poll?wait_s=%d", m->address, wait_s);
    else
        snprintf(path, sizeof path, "/v1/miners/%s/heartbeat", m->address);
    if (running)
        snprintf(body, sizeof body, "{\"status\":\"ONLINE\",\"running\":%s}", running);
    else
        snprintf(body, sizeof body, "{\"status\":\"ONLINE\"}");
    /* No answer (the host was killed) is status 0 for the caller to judge. */
    if (th_req(h, "POST", path, m->key, body, r) != 0) r->status = 0;
    return r->status;
}

long jt_complete(th_host *h, const jt_miner *m, const char *job_id, int64_t attempt,
                 const char *result, int64_t units, th_resp *r) {
    cJSON *res = cJSON_Parse(result);
    char sha[65], text[256], sig[96], path[160];
    aitbc_json_sha256_hex(res, sha);
    cJSON_Delete(res);
    snprintf(text, sizeof text, "aitbc-result-v1\n%s\n%" PRId64 "\n%s\n%" PRId64, job_id, attempt,
             sha, units);
    sign_b64(m, text, sig);
    size_t cap = strlen(result) + 512;
    char *body = malloc(cap);
    snprintf(body, cap,
             "{\"attempt\":%" PRId64 ",\"result\":%s,\"units\":%" PRId64
             ",\"miner_signature\":\"%s\"}",
             attempt, result, units, sig);
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", job_id);
    if (th_req(h, "POST", path, m->key, body, r) != 0) r->status = 0; /* as in jt_beat */
    free(body);
    return r->status;
}

long jt_submit(th_host *h, const jt_client *c, const char *body, char job_id[64]) {
    th_resp r;
    if (th_req(h, "POST", "/v1/jobs", c->key, body, &r) != 0) die("submit", &r);
    long st = r.status;
    if (st == 201 && job_id) snprintf(job_id, 64, "%s", jt_str(r.json, "job_id"));
    th_resp_free(&r);
    return st;
}

char *jt_scrape(th_host *h) {
    th_resp r;
    if (th_req(h, "GET", "/metrics", NULL, NULL, &r) != 0 || r.status != 200) die("metrics", &r);
    char *text = strdup(r.body);
    th_resp_free(&r);
    if (!text) die("metrics copy", NULL);
    return text;
}

double jt_metric_in(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    return NAN;
}

double jt_metric(th_host *h, const char *series) {
    char *text = jt_scrape(h);
    double v = jt_metric_in(text, series);
    free(text);
    return v;
}

static int unexported_in(const char *text, const char *path, const char *prefix, int with_prefix) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    static char buf[256 * 1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    int missing = 0, checked = 0;
    for (const char *p = strstr(buf, "aitbc_"); p; p = strstr(p, "aitbc_")) {
        size_t k = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
        char name[128], line[140];
        snprintf(name, sizeof name, "%.*s", (int)k, p);
        p += k;
        if ((strncmp(name, prefix, strlen(prefix)) == 0) != with_prefix) continue;
        checked++;
        snprintf(line, sizeof line, "\n%s{", name);
        if (strstr(text, line)) continue;
        snprintf(line, sizeof line, "\n%s ", name);
        if (strstr(text, line)) continue;
        fprintf(stderr, "%s queries %s, which the node does not export\n", path, name);
        missing++;
    }
    return checked ? missing : -1; /* nothing to check is a broken test */
}

int jt_unexported(const char *text, const char *prefix, int with_prefix) {
    static const char *const shipped[] = {"contrib/grafana/aitbc.json",
                                          "contrib/prometheus/alerts.yml"};
    int missing = 0;
    for (size_t i = 0; i < sizeof shipped / sizeof *shipped; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", JT_SOURCE_DIR, shipped[i]);
        int n = unexported_in(text, path, prefix, with_prefix);
        if (n < 0) return -1;
        missing += n;
    }
    return missing;
}

int jt_promtool_check(const char *text, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) die("write the scrape", NULL);
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        fprintf(stderr, "promtool not installed (Debian package prometheus): lint skipped\n");
        return 77;
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s'", path);
    int rc = system(cmd);
    return rc == 0 ? 0 : 1;
}

void jt_exchange_pair(th_host *h, jt_client *seller, jt_client *buyer) {
    jt_client_new(h, "10", seller);
    jt_client_new(h, "0", buyer);
    char body[200];
    snprintf(body, sizeof body, "{\"address\":\"%s\",\"asset\":\"BTC\",\"amount\":\"1\"}",
             buyer->address);
    th_resp r;
    if (th_req(h, "POST", "/v1/admin/mint", jt_admin(h), body, &r) != 0 || r.status != 201)
        die("mint BTC", &r);
    th_resp_free(&r);
}

long jt_exchange_order(th_host *h, const jt_client *c, const char *side) {
    char body[200];
    snprintf(body, sizeof body,
             "{\"market\":\"AIT-BTC\",\"side\":\"%s\",\"type\":\"limit\",\"price\":\"0.001\","
             "\"quantity\":\"1\"}",
             side);
    th_resp r;
    if (th_req(h, "POST", "/v1/exchange/orders", c->key, body, &r) != 0) die("order", &r);
    long st = r.status;
    if (st != 201) fprintf(stderr, "order: %ld %s\n", st, r.body ? r.body : "");
    th_resp_free(&r);
    return st;
}

cJSON *jt_job(th_host *h, const char *job_id, int wait_s) {
    char path[160];
    th_resp r;
    snprintf(path, sizeof path, "/v1/jobs/%s?wait_s=%d", job_id, wait_s);
    if (th_req(h, "GET", path, g_admin, NULL, &r) != 0 || r.status != 200) die("get job", &r);
    cJSON *j = r.json;
    r.json = NULL;
    th_resp_free(&r);
    return j;
}

void jt_balance(th_host *h, const char *address, int64_t *available, int64_t *locked) {
    jt_balance_of(h, address, "AIT", 6, available, locked);
}

void jt_balance_of(th_host *h, const char *address, const char *asset, int decimals,
                   int64_t *available, int64_t *locked) {
    char path[160];
    th_resp r;
    snprintf(path, sizeof path, "/v1/explorer/address/%s", address);
    *available = *locked = 0;
    if (th_req(h, "GET", path, g_admin, NULL, &r) != 0 || r.status != 200) {
        th_resp_free(&r); /* an address the ledger never saw holds nothing */
        return;
    }
    const char *a = jt_str(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), asset);
    const char *l = jt_str(cJSON_GetObjectItemCaseSensitive(r.json, "locked"), asset);
    if (a && aitbc_money_parse(a, decimals, available) != 0) *available = -1;
    if (l && aitbc_money_parse(l, decimals, locked) != 0) *locked = -1;
    th_resp_free(&r);
}

static char *slurp_fd(int fd) {
    size_t n = 0, cap = 4096;
    char *b = malloc(cap + 1);
    ssize_t got;
    lseek(fd, 0, SEEK_SET);
    while (b && (got = read(fd, b + n, cap - n)) > 0) {
        n += (size_t)got;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) break;
            b = nb;
            cap *= 2;
        }
    }
    if (b) b[n] = 0;
    return b;
}

void jt_run(const char *cwd, const char *const *argv, const char *const *env, const char *in_path,
            jt_proc *p) {
    char out_path[] = "/tmp/jt_run_out_XXXXXX", err_path[] = "/tmp/jt_run_err_XXXXXX";
    int ofd = mkstemp(out_path), efd = mkstemp(err_path);
    if (ofd < 0 || efd < 0) abort();
    unlink(out_path);
    unlink(err_path);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        if (in < 0 || (cwd && chdir(cwd) != 0)) _exit(126);
        dup2(in, 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        /* a clean slate: the tests decide every AITBC_* setting */
        for (int again = 1; again;) {
            again = 0;
            for (char **e = environ; *e; e++)
                if (strncmp(*e, "AITBC_", 6) == 0) {
                    char name[256];
                    snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
                    unsetenv(name);
                    again = 1;
                    break;
                }
        }
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    p->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    p->out = slurp_fd(ofd);
    p->err = slurp_fd(efd);
    close(ofd);
    close(efd);
}

void jt_proc_free(jt_proc *p) {
    free(p->out);
    free(p->err);
    memset(p, 0, sizeof *p);
}

void jt_tmpdir(char out[256]) {
    snprintf(out, 256, "/tmp/jt_dir_XXXXXX");
    if (!mkdtemp(out)) abort();
}

int jt_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}
