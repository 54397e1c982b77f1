/* Integration-test harness (harness.h): runs the real aitbc-host binary with real plugins in a
 * temp data dir on 127.0.0.1:0, waits for its ready file, and speaks HTTP to it with libcurl.
 * Everything the host prints goes to <dir>/host.stderr so a failing test can show it. */
#include "harness.h"
#include "recorder.h"

#include <aitbc/util.h>

#include <curl/curl.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AITBC_HOST_BIN
#error "AITBC_HOST_BIN must name the aitbc-host binary"
#endif
#ifndef AITBC_TEST_PLUGIN_DIR
#error "AITBC_TEST_PLUGIN_DIR must name the build's plugin directory"
#endif

#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS 30000

struct th_host {
    char dir[PATH_MAX];
    char db_dir[PATH_MAX]; /* th_start_beside: whose database it shares ("" = its own) */
    char cfg[PATH_MAX + 32];
    char ready[PATH_MAX + 32];
    char err[PATH_MAX + 32];
    pid_t pid;  /* 0 once reaped */
    int status; /* exit status once reaped */
    int http_port;
    int ws_port;
    char *plugins_yaml, *extra_yaml; /* as started, for th_restart */
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
        if (cap - n < 2) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = n;
    }
    return buf;
}

/* A top-level `name:` line in the caller's extra YAML means the caller owns that section. */
static int has_section(const char *yaml, const char *name) {
    if (!yaml) return 0;
    size_t n = strlen(name);
    for (const char *p = yaml; p; p = strchr(p, '\n')) {
        if (*p == '\n') p++;
        if (strncmp(p, name, n) == 0 && p[n] == ':') return 1;
    }
    return 0;
}

/* The data dir whose database h uses. */
static const char *th_db_dir(const th_host *h) {
    return h->db_dir[0] ? h->db_dir : h->dir;
}

int th_on_postgres(void) {
    const char *pg = getenv("AITBC_TEST_PG_DSN");
    return pg && *pg;
}

/* With AITBC_TEST_PG_DSN set, each data dir gets its own schema, named after the dir (so a host
 * restarted on the same dir, or started later with th_start_in, finds its data again), created
 * here if missing. 0 or -1 (printed). */
/* The server's notices ("schema … already exists, skipping") are no test output. */
static void pg_quiet(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static PGconn *pg_connect(const char *dsn) {
    PGconn *db = PQconnectdb(dsn);
    if (db) PQsetNoticeProcessor(db, pg_quiet, NULL);
    return db;
}

static int pg_schema_for(const char *dir, char *out, size_t cap) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
    for (const char *p = dir; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(out, cap, "t_%016llx", (unsigned long long)h);
    PGconn *db = pg_connect(getenv("AITBC_TEST_PG_DSN"));
    char sql[96];
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", out);
    PGresult *r = PQstatus(db) == CONNECTION_OK ? PQexec(db, sql) : NULL;
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "harness: cannot create schema %s: %s", out, PQerrorMessage(db));
    PQclear(r);
    PQfinish(db);
    return ok ? 0 : -1;
}

int th_pg_terminate(const th_host *h) {
    char schema[32], sql[160];
    if (!th_on_postgres() || pg_schema_for(th_db_dir(h), schema, sizeof schema) != 0) return -1;
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE application_name = '%s'",
             schema);
    PGconn *db = pg_connect(getenv("AITBC_TEST_PG_DSN"));
    PGresult *r = PQstatus(db) == CONNECTION_OK ? PQexec(db, sql) : NULL;
    int n = r && PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
    if (n < 0) fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    /* pg_terminate_backend only signals: wait until the sessions are gone. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'",
             schema);
    for (int i = 0; n > 0 && i < 500; i++) {
        r = PQexec(db, sql);
        int left = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
        if (!left) break;
        nap_ms(10);
    }
    PQfinish(db);
    return n;
}

/* SQLite: the database file read-only; PostgreSQL: the host's schema, with `?` as $1. */
PGconn *th_pg_session(const th_host *h) {
    char schema[32], dsn[2048];
    if (!th_on_postgres() || pg_schema_for(th_db_dir(h), schema, sizeof schema) != 0) return NULL;
    snprintf(dsn, sizeof dsn, "%s options=-csearch_path=%s", getenv("AITBC_TEST_PG_DSN"), schema);
    PGconn *db = pg_connect(dsn);
    if (PQstatus(db) == CONNECTION_OK) return db;
    fprintf(stderr, "harness: cannot connect to %s: %s", dsn, PQerrorMessage(db));
    PQfinish(db);
    return NULL;
}

int th_db_count(const th_host *h, const char *sql, const char *arg) {
    int n = -1;
    if (th_on_postgres()) {
        char pgsql[1024];
        size_t o = 0;
        for (const char *p = sql; *p && o + 3 < sizeof pgsql; p++) {
            if (*p == '?') {
                pgsql[o++] = '$';
                pgsql[o++] = '1';
            } else {
                pgsql[o++] = *p;
            }
        }
        pgsql[o] = '\0';
        PGconn *db = th_pg_session(h);
        if (!db) return -1;
        const char *vals[1] = {arg};
        PGresult *r = PQstatus(db) == CONNECTION_OK
                          ? PQexecParams(db, pgsql, arg ? 1 : 0, NULL, vals, NULL, NULL, 0)
                          : NULL;
        if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            n = atoi(PQgetvalue(r, 0, 0));
        else
            fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(db));
        PQclear(r);
        PQfinish(db);
        return n;
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/aitbc.db", th_db_dir(h));
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        (!arg || sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT) == SQLITE_OK) &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    else
        fprintf(stderr, "harness: %s: %s\n", sql, db ? sqlite3_errmsg(db) : "no database");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int write_config(th_host *h, const char *plugins_yaml, const char *extra_yaml) {
    FILE *f = fopen(h->cfg, "w");
    if (!f) return -1;
    const char *extra_path = getenv("AITBC_TEST_PLUGIN_PATH");
    fprintf(f, "node:\n  data_dir: \"%s\"\n  log_level: debug\n  plugin_path: \"%s%s%s\"\n", h->dir,
            AITBC_TEST_PLUGIN_DIR, extra_path && *extra_path ? ":" : "",
            extra_path ? extra_path : "");
    if (!has_section(extra_yaml, "http")) fprintf(f, "http:\n  listen: \"127.0.0.1:0\"\n");
    char schema[32];
    const char *pg = getenv("AITBC_TEST_PG_DSN");
    if (has_section(extra_yaml, "storage")) {
        /* the test's own storage section (extra_yaml, below) */
    } else if (pg && *pg) {
        if (pg_schema_for(th_db_dir(h), schema, sizeof schema) != 0) {
            fclose(f);
            return -1;
        }
        /* application_name names the host's sessions, so th_pg_terminate finds them. */
        fprintf(f,
                "storage:\n  driver: postgres\n  dsn: \"%s options=-csearch_path=%s "
                "application_name=%s\"\n",
                pg, schema, schema);
    } else {
        fprintf(f, "storage:\n  path: \"%s/aitbc.db\"\n", th_db_dir(h));
    }
    fprintf(f, "plugins:\n%s", plugins_yaml ? plugins_yaml : "");
    if (plugins_yaml && *plugins_yaml && plugins_yaml[strlen(plugins_yaml) - 1] != '\n')
        fputc('\n', f);
    if (extra_yaml)
        fprintf(f, "%s%s", extra_yaml,
                *extra_yaml && extra_yaml[strlen(extra_yaml) - 1] != '\n' ? "\n" : "");
    return fclose(f) == 0 ? 0 : -1;
}

static void print_stderr(const th_host *h) {
    char *text = th_stderr(h);
    fprintf(stderr, "---- aitbc-host stderr (%s) ----\n%s\n---- end ----\n", h->err,
            text ? text : "(none)");
    free(text);
}

static int reap(th_host *h, int block) {
    if (!h->pid) return 1;
    int st = 0;
    pid_t r = waitpid(h->pid, &st, block ? 0 : WNOHANG);
    if (r != h->pid) return 0;
    h->pid = 0;
    h->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return 1;
}

static int read_ready(th_host *h) {
    char *text = slurp(h->ready, NULL);
    if (!text) return 0;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) return 0; /* written atomically, but be safe against a partial read */
    const cJSON *hp = cJSON_GetObjectItemCaseSensitive(j, "http_port");
    const cJSON *wp = cJSON_GetObjectItemCaseSensitive(j, "ws_port");
    int ok = cJSON_IsNumber(hp) && hp->valueint > 0;
    if (ok) {
        h->http_port = hp->valueint;
        h->ws_port = cJSON_IsNumber(wp) ? wp->valueint : 0;
    }
    cJSON_Delete(j);
    return ok;
}

/* Tests that open many sockets (1,000 WebSocket clients) need more than the usual soft limit of
 * 1024 descriptors in this process; the host raises its own. */
static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static th_host *launch(th_host *h, const char *plugins_yaml, const char *extra_yaml) {
    raise_fd_limit();
    if (plugins_yaml != h->plugins_yaml) {
        free(h->plugins_yaml);
        h->plugins_yaml = plugins_yaml ? strdup(plugins_yaml) : NULL;
    }
    if (extra_yaml != h->extra_yaml) {
        free(h->extra_yaml);
        h->extra_yaml = extra_yaml ? strdup(extra_yaml) : NULL;
    }
    snprintf(h->cfg, sizeof h->cfg, "%s/config.yaml", h->dir);
    snprintf(h->ready, sizeof h->ready, "%s/ready.json", h->dir);
    snprintf(h->err, sizeof h->err, "%s/host.stderr", h->dir);
    unlink(h->ready);
    if (write_config(h, plugins_yaml, extra_yaml) != 0) {
        fprintf(stderr, "harness: cannot write %s: %s\n", h->cfg, strerror(errno));
        return NULL;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return NULL;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        int fd = open(h->err, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execl(AITBC_HOST_BIN, "aitbc-host", "-c", h->cfg, "--ready-file", h->ready, (char *)NULL);
        fprintf(stderr, "harness: exec %s: %s\n", AITBC_HOST_BIN, strerror(errno));
        _exit(127);
    }
    h->pid = pid;
    int64_t until = now_ms() + START_TIMEOUT_MS;
    while (now_ms() < until) {
        if (read_ready(h)) return h;
        if (reap(h, 0)) {
            fprintf(stderr, "harness: aitbc-host exited with status %d before it was ready\n",
                    h->status);
            print_stderr(h);
            return NULL;
        }
        nap_ms(10);
    }
    fprintf(stderr, "harness: aitbc-host not ready after %d ms\n", START_TIMEOUT_MS);
    kill(h->pid, SIGKILL);
    reap(h, 1);
    print_stderr(h);
    return NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* A host record with a fresh temp data dir (its own database), not started. NULL on error. */
static th_host *temp_host(void) {
    th_host *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    const char *tmp = getenv("TMPDIR");
    snprintf(h->dir, sizeof h->dir, "%s/aitbc-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(h->dir)) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        free(h);
        return NULL;
    }
    return h;
}

/* A temp host that did not start: its dir goes. */
static void temp_host_drop(th_host *h) {
    nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(h->plugins_yaml);
    free(h->extra_yaml);
    free(h);
}

th_host *th_start(const char *plugins_yaml, const char *extra_yaml) {
    th_host *h = temp_host();
    if (h && !launch(h, plugins_yaml, extra_yaml)) {
        temp_host_drop(h);
        return NULL;
    }
    return h;
}

/* Copy peer_dir/name into dir (mode 0600) when the peer has it. 0, or -1 (printed). */
static int copy_secret(const char *peer_dir, const char *dir, const char *name) {
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    snprintf(from, sizeof from, "%s/%s", peer_dir, name);
    snprintf(to, sizeof to, "%s/%s", dir, name);
    size_t len = 0;
    char *data = slurp(from, &len);
    if (!data) return errno == ENOENT ? 0 : -1;
    int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;
    if (fd >= 0) ok = close(fd) == 0 && ok;
    free(data);
    if (!ok) fprintf(stderr, "harness: cannot copy %s: %s\n", from, strerror(errno));
    return ok ? 0 : -1;
}

th_host *th_start_beside(const th_host *peer, const char *plugins_yaml, const char *extra_yaml) {
    th_host *h = peer ? temp_host() : NULL;
    if (!h) return NULL;
    snprintf(h->db_dir, sizeof h->db_dir, "%s", th_db_dir(peer));
    /* One node: the same auth pepper (keys made on one host check on the other) and node key. */
    if (copy_secret(peer->dir, h->dir, "auth.pepper") != 0 ||
        copy_secret(peer->dir, h->dir, "node.key") != 0 || !launch(h, plugins_yaml, extra_yaml)) {
        temp_host_drop(h);
        return NULL;
    }
    return h;
}

th_host *th_start_in(const char *data_dir, const char *plugins_yaml, const char *extra_yaml) {
    th_host *h = calloc(1, sizeof *h);
    if (!h || !data_dir || strlen(data_dir) >= sizeof h->dir) {
        free(h);
        return NULL;
    }
    snprintf(h->dir, sizeof h->dir, "%s", data_dir);
    if (!launch(h, plugins_yaml, extra_yaml)) {
        free(h->plugins_yaml);
        free(h->extra_yaml);
        free(h); /* the caller's dir stays */
        return NULL;
    }
    return h;
}

int th_signal(th_host *h, int sig) {
    return h && h->pid && kill(h->pid, sig) == 0 ? 0 : -1;
}

int th_kill(th_host *h) {
    if (!h) return -1;
    if (!h->pid) return h->status;
    kill(h->pid, SIGKILL);
    reap(h, 1);
    return h->status;
}

int th_restart(th_host *h, int same_port) {
    if (!h) return -1;
    th_stop(h);
    char *extra = NULL;
    const char *old = h->extra_yaml ? h->extra_yaml : "";
    if (same_port && h->http_port > 0 && !has_section(old, "http")) {
        size_t cap = strlen(old) + 64;
        extra = malloc(cap);
        if (!extra) return -1;
        snprintf(extra, cap, "http:\n  listen: \"127.0.0.1:%d\"\n%s", h->http_port, old);
    }
    /* launch keeps a copy of a new extra text (the pinned port stays pinned next time) */
    th_host *ok = launch(h, h->plugins_yaml, extra ? extra : h->extra_yaml);
    free(extra);
    return ok ? 0 : -1;
}

/* Runs the host to completion in h->dir (config and output files already named in h). */
static int run_to_end(th_host *h, const char *plugins_yaml, const char *extra_yaml,
                      const char *const *args, char **output) {
    const char *argv[32] = {"aitbc-host", "-c", h->cfg};
    size_t n = 3;
    for (size_t i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int status = -1;
    if (output) *output = NULL;
    unlink(h->err); /* this run's output only */
    if (write_config(h, plugins_yaml, extra_yaml) == 0) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int fd = open(h->err, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, STDERR_FILENO);
                dup2(fd, STDOUT_FILENO);
                close(fd);
            }
            execv(AITBC_HOST_BIN, (char *const *)argv);
            _exit(127);
        }
        h->pid = pid;
        if (pid > 0 && reap(h, 1)) status = h->status;
        if (output) *output = th_stderr(h);
    }
    return status;
}

int th_run_once(const char *plugins_yaml, const char *extra_yaml, const char *const *args,
                char **output) {
    th_host h = {0};
    const char *tmp = getenv("TMPDIR");
    snprintf(h.dir, sizeof h.dir, "%s/aitbc-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (output) *output = NULL;
    if (!mkdtemp(h.dir)) return -1;
    snprintf(h.cfg, sizeof h.cfg, "%s/config.yaml", h.dir);
    snprintf(h.err, sizeof h.err, "%s/host.stderr", h.dir);
    int status = run_to_end(&h, plugins_yaml, extra_yaml, args, output);
    nftw(h.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return status;
}

int th_run_once_in(const char *data_dir, const char *plugins_yaml, const char *extra_yaml,
                   const char *const *args, char **output) {
    th_host h = {0};
    if (output) *output = NULL;
    if (!data_dir || strlen(data_dir) >= sizeof h.dir) return -1;
    snprintf(h.dir, sizeof h.dir, "%s", data_dir);
    snprintf(h.cfg, sizeof h.cfg, "%s/once.yaml", h.dir);
    snprintf(h.err, sizeof h.err, "%s/once.stderr", h.dir);
    return run_to_end(&h, plugins_yaml, extra_yaml, args, output);
}

int th_stop(th_host *h) {
    if (!h) return -1;
    if (!h->pid) return h->status;
    kill(h->pid, SIGTERM);
    int64_t until = now_ms() + STOP_TIMEOUT_MS;
    while (!reap(h, 0)) {
        if (now_ms() > until) {
            fprintf(stderr, "harness: aitbc-host ignored SIGTERM for %d ms; killing it\n",
                    STOP_TIMEOUT_MS);
            print_stderr(h);
            kill(h->pid, SIGKILL);
            reap(h, 1);
            h->status = 128 + SIGKILL;
            break;
        }
        nap_ms(10);
    }
    if (h->status != 0 && h->status != 128 + SIGKILL) {
        /* A host that dies of a signal while stopping (glibc's abort on a corrupted heap, say)
         * leaves its last words only here: show them before the data dir goes. */
        fprintf(stderr, "harness: aitbc-host stopped with status %d\n", h->status);
        print_stderr(h);
    }
    return h->status;
}

void th_forget(th_host *h) {
    if (!h) return;
    th_stop(h);
    free(h->plugins_yaml);
    free(h->extra_yaml);
    free(h);
}

void th_free(th_host *h) {
    if (!h) return;
    th_stop(h);
    nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(h->plugins_yaml);
    free(h->extra_yaml);
    free(h);
}

int th_http_port(const th_host *h) {
    return h ? h->http_port : 0;
}

int th_ws_port(const th_host *h) {
    return h ? h->ws_port : 0;
}

const char *th_data_dir(const th_host *h) {
    return h ? h->dir : NULL;
}

int th_pid(const th_host *h) {
    return h ? (int)h->pid : 0;
}

char *th_stderr(const th_host *h) {
    if (!h) return NULL;
    char *text = slurp(h->err, NULL);
    return text ? text : strdup("");
}

/* ---------------- HTTP ---------------- */

/* Answers in tests are at most a few MiB; the cap only stops a runaway stream. */
#define TH_ANSWER_MAX ((size_t)256 << 20)

static size_t on_body(char *data, size_t size, size_t n, void *user) {
    return aitbc_bytes_append(user, data, size * n, TH_ANSWER_MAX) == 0 ? size * n : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *user) {
    aitbc_bytes *b = user;
    /* A new status line (after 100 Continue) starts the headers over. */
    if (size * n >= 5 && strncmp(data, "HTTP/", 5) == 0) b->len = 0;
    return aitbc_bytes_append(b, data, size * n, TH_ANSWER_MAX) == 0 ? size * n : 0;
}

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The value of header name in a "Name: value" list, or NULL. */
static const char *find_header(const char *const *list, const char *name) {
    size_t n = strlen(name);
    for (; list && *list; list++)
        if (strncasecmp(*list, name, n) == 0 && (*list)[n] == ':')
            return *list + n + 1 + strspn(*list + n + 1, " \t");
    return NULL;
}

static int has_header(const char *const *list, const char *name) {
    return find_header(list, name) != NULL;
}

/* http.path_prefix from the caller's extra YAML ("" if none), for the traffic recorder. */
static void path_prefix_of(const th_host *h, char *out, size_t cap) {
    out[0] = '\0';
    const char *p = h->extra_yaml ? strstr(h->extra_yaml, "path_prefix:") : NULL;
    if (!p) return;
    p += strlen("path_prefix:");
    p += strspn(p, " \t\"'");
    size_t n = strcspn(p, " \t\"'\r\n,}");
    snprintf(out, cap, "%.*s", (int)n, p);
}

int th_req_ex(th_host *h, const char *method, const char *path, const char *api_key,
              const char *body, const char *const *extra_headers, th_resp *out) {
    memset(out, 0, sizeof *out);
    if (!h || !method || !path) return -1;
    pthread_once(&g_curl_once, curl_init_once);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    char url[2048], keyhdr[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", h->http_port, path);
    struct curl_slist *hdrs = NULL;
    if (api_key) {
        snprintf(keyhdr, sizeof keyhdr, "X-Api-Key: %s", api_key);
        hdrs = curl_slist_append(hdrs, keyhdr);
    }
    if (body && !has_header(extra_headers, "Content-Type"))
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (!has_header(extra_headers, "Expect"))
        hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    for (const char *const *e = extra_headers; e && *e; e++)
        hdrs = curl_slist_append(hdrs, *e);
    aitbc_bytes rb = {0}, hb = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0 || body)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    out->body = rb.data ? rb.data : strdup("");
    out->body_len = rb.len;
    out->headers = hb.data ? hb.data : strdup("");
    out->json = out->body_len ? cJSON_ParseWithLength(out->body, out->body_len) : NULL;
    if (rc == CURLE_OK && th_recording()) {
        char prefix[256];
        path_prefix_of(h, prefix, sizeof prefix);
        const char *type = find_header(extra_headers, "Content-Type");
        th_record(prefix, method, path, body ? (type ? type : "application/json") : NULL, body,
                  out);
    }
    return rc == CURLE_OK ? 0 : -1;
}

int th_req(th_host *h, const char *method, const char *path, const char *api_key, const char *body,
           th_resp *out) {
    return th_req_ex(h, method, path, api_key, body, NULL, out);
}

void th_resp_free(th_resp *r) {
    if (!r) return;
    free(r->body);
    free(r->headers);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

const char *th_resp_header(const th_resp *r, const char *name, char *out, size_t cap) {
    if (!r || !r->headers || !name || !out || cap == 0) return NULL;
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            const char *end = line + len;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
            size_t vlen = (size_t)(end - v);
            if (vlen >= cap) vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
        line = eol ? eol + 1 : NULL;
    }
    return NULL;
}

const char *th_error_code(const th_resp *r) {
    if (!r || !r->json) return NULL;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
    return cJSON_IsString(code) ? code->valuestring : NULL;
}

int th_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms) {
    int64_t until = now_ms() + timeout_ms;
    for (;;) {
        if (cond(arg)) return 1;
        if (now_ms() >= until) return 0;
        nap_ms(5);
    }
}

int th_tcp(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

int th_send_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int th_http_complete(const char *buf, size_t got) {
    const char *end = strstr(buf, "\r\n\r\n");
    if (!end) return 0;
    const char *cl = strcasestr(buf, "\ncontent-length:");
    size_t want = cl && cl < end ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
    return got >= (size_t)(end + 4 - buf) + want;
}

long th_raw_read(int fd, char *buf, size_t cap, int timeout_ms, int mode) {
    size_t got = 0;
    int64_t end = now_ms() + timeout_ms;
    while (got + 1 < cap) {
        int left = (int)(end - now_ms());
        if (left <= 0) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0) break;
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
        buf[got] = '\0';
        if (mode == TH_FIRST_DATA || (mode == TH_HTTP_RESPONSE && th_http_complete(buf, got)))
            break;
    }
    buf[got] = '\0';
    return got ? (long)got : -1;
}

int th_end(th_host **h) {
    int rc = th_stop(*h);
    th_free(*h);
    *h = NULL;
    return rc == 0 ? 0 : -1;
}

double th_metric(th_host *h, const char *name) {
    th_resp r;
    if (th_req(h, "GET", "/metrics", NULL, NULL, &r) != 0) {
        th_resp_free(&r);
        return -1;
    }
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s ", name);
    const char *at = r.body ? strstr(r.body, pat) : NULL;
    double v = at ? strtod(at + strlen(pat), NULL) : -1;
    th_resp_free(&r);
    return v;
}
