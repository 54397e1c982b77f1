/* Finished results on disk. Each completion body is written durably to
 * <data_dir>/miner-spool/<job_id>.<attempt>.json before it is sent, and removed only when the
 * coordinator acknowledged it (200, or 409 lease_lost: nothing left to deliver). A restart sends
 * whatever is left; the coordinator answers a repeat of the same completion with the same answer,
 * so a result is never lost and never counted twice. A body the coordinator refuses outright
 * (400/403/404/413) is renamed *.rejected for the operator and not sent again. */
#include "miner_agent.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_FILE_MAX (64u << 20)

static void spool_path(const ma_agent *a, const char *job_id, int64_t attempt, const char *ext,
                       char *out, size_t cap) {
    snprintf(out, cap, "%s/%s.%" PRId64 ".%s", a->spool_dir, job_id, attempt, ext);
}

int ma_spool_init(ma_agent *a) {
    if (mkdir(a->spool_dir, 0700) != 0 && errno != EEXIST) {
        a->api->log(a->ctx, AITBC_LOG_ERROR, "cannot create %s: %s", a->spool_dir, strerror(errno));
        return AITBC_EIO;
    }
    return 0;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int ma_spool_write(ma_agent *a, const char *job_id, int64_t attempt, const char *body) {
    char path[PATH_MAX + 128], tmp[PATH_MAX + 128];
    spool_path(a, job_id, attempt, "json", path, sizeof path);
    spool_path(a, job_id, attempt, "tmp", tmp, sizeof tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) goto fail;
    size_t n = strlen(body), off = 0;
    while (off < n) {
        ssize_t w = write(fd, body + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int ok = off == n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0 || fsync_dir(a->spool_dir) != 0) goto fail;
    return 0;
fail:
    a->api->log(a->ctx, AITBC_LOG_ERROR, "cannot spool the result of %s to %s: %s", job_id,
                a->spool_dir, strerror(errno));
    unlink(tmp);
    return AITBC_EIO;
}

void ma_spool_remove(ma_agent *a, const char *job_id, int64_t attempt) {
    char path[PATH_MAX + 128];
    spool_path(a, job_id, attempt, "json", path, sizeof path);
    if (unlink(path) == 0) fsync_dir(a->spool_dir);
}

int ma_spool_has(ma_agent *a, const char *job_id, int64_t attempt) {
    char path[PATH_MAX + 128];
    spool_path(a, job_id, attempt, "json", path, sizeof path);
    return access(path, F_OK) == 0;
}

static void reject(ma_agent *a, const char *job_id, int64_t attempt) {
    char path[PATH_MAX + 128], bad[PATH_MAX + 128];
    spool_path(a, job_id, attempt, "json", path, sizeof path);
    spool_path(a, job_id, attempt, "rejected", bad, sizeof bad);
    rename(path, bad);
}

int ma_spool_send(ma_agent *a, ma_http *h, const char *job_id, int64_t attempt, const char *body,
                  atomic_int *abort) {
    char path[AITBC_ID_MAX + 32], key[AITBC_API_KEY_MAX];
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", job_id);
    ma_api_key(a, key);
    ma_resp r;
    ma_http_post(h, path, key, body, (int64_t)a->cfg.request_timeout_s * 1000, abort, &r);
    const char *code = ma_resp_code(&r);
    int done = r.status == 200 || (r.status == 409 && strcmp(code, "lease_lost") == 0);
    if (r.status == 200) {
        const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "state"));
        a->api->log(a->ctx, AITBC_LOG_INFO, "job %s attempt %" PRId64 " delivered: %s", job_id,
                    attempt, state ? state : "?");
    } else if (done) {
        a->api->log(a->ctx, AITBC_LOG_WARN,
                    "job %s attempt %" PRId64 ": lease lost, result dropped", job_id, attempt);
    } else if (r.status == 400 || r.status == 403 || r.status == 404 || r.status == 413) {
        a->api->log(a->ctx, AITBC_LOG_ERROR,
                    "job %s attempt %" PRId64 ": coordinator refused the completion (%ld %s); "
                    "kept as .rejected in %s",
                    job_id, attempt, r.status, code, a->spool_dir);
        reject(a, job_id, attempt);
        ma_resp_free(&r);
        return MA_SENT;
    } else {
        if (r.status == 401) ma_key_rejected(a, key);
        a->api->log(a->ctx, AITBC_LOG_WARN,
                    "job %s attempt %" PRId64 ": completion not delivered (%ld %s%s); kept in "
                    "the spool",
                    job_id, attempt, r.status, r.status ? code : "", r.status ? "" : r.error);
    }
    ma_resp_free(&r);
    if (!done) return MA_RETRY;
    ma_spool_remove(a, job_id, attempt);
    return MA_SENT;
}

/* "<job_id>.<attempt>.json" → parts. 0 or -1. */
static int parse_name(const char *name, char job_id[AITBC_ID_MAX], int64_t *attempt) {
    const char *ext = strrchr(name, '.');
    if (!ext || strcmp(ext, ".json") != 0) return -1;
    const char *dot = ext - 1;
    while (dot > name && *dot != '.')
        dot--;
    if (dot <= name || (size_t)(dot - name) >= AITBC_ID_MAX) return -1;
    memcpy(job_id, name, (size_t)(dot - name));
    job_id[dot - name] = '\0';
    char *end = NULL;
    long long n = strtoll(dot + 1, &end, 10);
    if (end != ext || n < 1 || !ma_job_id_ok(job_id)) return -1;
    *attempt = n;
    return 0;
}

static char *read_body(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return NULL;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && (size_t)st.st_size <= SPOOL_FILE_MAX &&
        (buf = malloc((size_t)st.st_size + 1))) {
        ssize_t got = read(fd, buf, (size_t)st.st_size);
        if (got != st.st_size) {
            free(buf);
            buf = NULL;
        } else {
            buf[got] = '\0';
        }
    }
    close(fd);
    return buf;
}

/* Calls fn for every spooled result; stops when fn returns nonzero. */
static int each(ma_agent *a, int (*fn)(ma_agent *, const char *, int64_t, void *), void *arg) {
    DIR *d = opendir(a->spool_dir);
    if (!d) return 0;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        char job_id[AITBC_ID_MAX];
        int64_t attempt;
        if (parse_name(e->d_name, job_id, &attempt) == 0) rc = fn(a, job_id, attempt, arg);
    }
    closedir(d);
    return rc;
}

static int add_id(ma_agent *a, const char *job_id, int64_t attempt, void *arg) {
    (void)a;
    (void)attempt;
    cJSON *arr = arg, *it;
    cJSON_ArrayForEach(it, arr) if (strcmp(it->valuestring, job_id) == 0) return 0;
    cJSON_AddItemToArray(arr, cJSON_CreateString(job_id));
    return 0;
}

void ma_spool_ids(ma_agent *a, cJSON *arr) {
    each(a, add_id, arr);
}

static int count_one(ma_agent *a, const char *job_id, int64_t attempt, void *arg) {
    (void)a;
    (void)job_id;
    (void)attempt;
    ++*(int *)arg;
    return 0;
}

int ma_spool_count(ma_agent *a) {
    int n = 0;
    each(a, count_one, &n);
    return n;
}

typedef struct flush_arg {
    ma_http *h;
    atomic_int *abort;
} flush_arg;

static int send_one(ma_agent *a, const char *job_id, int64_t attempt, void *arg) {
    flush_arg *f = arg;
    if (ma_jobs_holds(a, job_id, 0)) return 0; /* its job thread sends it */
    char path[PATH_MAX + 128];
    spool_path(a, job_id, attempt, "json", path, sizeof path);
    char *body = read_body(path);
    cJSON *parsed = body ? aitbc_json_parse_strict(body, strlen(body)) : NULL;
    if (!parsed) {
        a->api->log(a->ctx, AITBC_LOG_ERROR, "%s is unreadable or not JSON; kept as .rejected",
                    path);
        reject(a, job_id, attempt);
        free(body);
        return 0;
    }
    cJSON_Delete(parsed);
    int rc = ma_spool_send(a, f->h, job_id, attempt, body, f->abort);
    free(body);
    return rc == MA_RETRY; /* the coordinator is not taking them now: stop trying */
}

int ma_spool_flush(ma_agent *a, ma_http *h, atomic_int *abort) {
    flush_arg f = {h, abort};
    return each(a, send_one, &f) ? MA_RETRY : MA_SENT;
}
