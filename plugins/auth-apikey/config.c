/* Reading the plugin's config section: per-role rate limits, the failed-attempt limit, configured
 * admin key hashes and the pepper (from config, or a file created on first start). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth_apikey.h"

#define PEPPER_MIN 16
#define PEPPER_FILE "auth.pepper"

static const char *const k_roles[3] = {"client", "miner", "admin"};
/* Defaults per role: generous for people, enough for a miner's heartbeats and polls. */
static const rl_limit k_default_limits[3] = {{20, 40}, {20, 60}, {50, 100}};

static int load_limit(const cJSON *obj, const char *role, rl_limit *lim, char *err, size_t errlen) {
    static const char *const allowed[] = {"rps", "burst", NULL};
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "rate_limits.%s: must be an object {rps, burst}", role);
        return AITBC_EINVAL;
    }
    const char *bad = aitbc_json_unknown_key(obj, allowed);
    if (bad) {
        snprintf(err, errlen, "rate_limits.%s.%s: unknown key", role, bad);
        return AITBC_EINVAL;
    }
    const cJSON *rps = cJSON_GetObjectItemCaseSensitive(obj, "rps");
    const cJSON *burst = cJSON_GetObjectItemCaseSensitive(obj, "burst");
    if (rps) {
        if (!cJSON_IsNumber(rps) || rps->valuedouble < 0 || rps->valuedouble > 1e9) {
            snprintf(err, errlen, "rate_limits.%s.rps: must be a number >= 0 (0 = unlimited)",
                     role);
            return AITBC_EINVAL;
        }
        lim->rate = rps->valuedouble;
    }
    if (burst) {
        if (!cJSON_IsNumber(burst) || burst->valuedouble < 1 || burst->valuedouble > 1e9) {
            snprintf(err, errlen, "rate_limits.%s.burst: must be a number >= 1", role);
            return AITBC_EINVAL;
        }
        lim->burst = burst->valuedouble;
    } else if (rps && lim->burst < lim->rate) {
        lim->burst = lim->rate; /* a burst below the rate would cap the rate itself */
    }
    return 0;
}

static int load_limits(auth_state *st, const cJSON *rl, char *err, size_t errlen) {
    for (int i = 0; i < 3; i++)
        st->limits.by_role[i] = k_default_limits[i];
    if (!rl) return 0;
    if (!cJSON_IsObject(rl)) {
        snprintf(err, errlen, "rate_limits: must be an object {client, miner, admin}");
        return AITBC_EINVAL;
    }
    const char *bad =
        aitbc_json_unknown_key(rl, (const char *const[]){"client", "miner", "admin", NULL});
    if (bad) {
        snprintf(err, errlen, "rate_limits.%s: unknown role", bad);
        return AITBC_EINVAL;
    }
    for (int i = 0; i < 3; i++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(rl, k_roles[i]);
        if (o && load_limit(o, k_roles[i], &st->limits.by_role[i], err, errlen) != 0)
            return AITBC_EINVAL;
    }
    return 0;
}

static int load_failed(auth_state *st, const cJSON *fa, char *err, size_t errlen) {
    st->failed_per_minute = 30;
    if (!fa) return 0;
    if (!cJSON_IsObject(fa) ||
        aitbc_json_unknown_key(fa, (const char *const[]){"per_minute", NULL})) {
        snprintf(err, errlen, "failed_auth: must be an object {per_minute}");
        return AITBC_EINVAL;
    }
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(fa, "per_minute");
    int64_t v;
    if (pm && (aitbc_json_int(pm, &v) != 0 || v < 0 || v > 1000000)) {
        snprintf(err, errlen, "failed_auth.per_minute: must be an integer 0..1000000 (0 = off)");
        return AITBC_EINVAL;
    }
    if (pm) st->failed_per_minute = (int)v;
    return 0;
}

static int load_hashes(auth_state *st, const cJSON *arr, char *err, size_t errlen) {
    if (!arr) return 0;
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n < 0) {
        snprintf(err, errlen, "admin_key_hashes: must be an array of 64-hex-digit hashes");
        return AITBC_EINVAL;
    }
    if (n == 0) return 0;
    st->config_hashes = calloc((size_t)n, sizeof *st->config_hashes);
    if (!st->config_hashes) return AITBC_ENOMEM;
    for (int i = 0; i < n; i++) {
        const cJSON *h = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsString(h) || strlen(h->valuestring) != 2 * KEYFMT_HASH_BYTES ||
            aitbc_hex_decode(h->valuestring, st->config_hashes[i], KEYFMT_HASH_BYTES) != 0) {
            snprintf(err, errlen, "admin_key_hashes[%d]: must be 64 hex digits", i);
            return AITBC_EINVAL;
        }
    }
    st->n_config_hashes = (size_t)n;
    return 0;
}

int auth_config_load(auth_state *st, char *err, size_t errlen) {
    const cJSON *cfg = st->api->config(st->ctx);
    int rc = load_limits(st, cJSON_GetObjectItemCaseSensitive(cfg, "rate_limits"), err, errlen);
    if (rc == 0)
        rc = load_failed(st, cJSON_GetObjectItemCaseSensitive(cfg, "failed_auth"), err, errlen);
    if (rc == 0)
        rc =
            load_hashes(st, cJSON_GetObjectItemCaseSensitive(cfg, "admin_key_hashes"), err, errlen);
    return rc;
}

/* Read the pepper file, or create it (0600, exclusive, so two starts cannot race to two peppers).
 */
static int pepper_file(auth_state *st, char *out, size_t cap, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", st->api->data_dir(st->ctx), PEPPER_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        unsigned char raw[32];
        char hex[65];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
        sodium_memzero(raw, sizeof raw);
        int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (wfd >= 0) {
            ssize_t w = write(wfd, hex, 64);
            int ok = w == 64 && fsync(wfd) == 0;
            close(wfd);
            if (!ok) {
                unlink(path);
                st->api->log(st->ctx, AITBC_LOG_ERROR, "cannot write %s", path);
                return AITBC_EIO;
            }
            st->api->log(st->ctx, AITBC_LOG_INFO,
                         "created pepper file %s (keep it with the database)", path);
        }
        sodium_memzero(hex, sizeof hex);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        st->api->log(st->ctx, AITBC_LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
        return AITBC_EIO;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
        st->api->log(st->ctx, AITBC_LOG_WARN, "%s is readable by others; chmod 600 it", path);
    ssize_t r = read(fd, out, cap);
    close(fd);
    while (r > 0 && (out[r - 1] == '\n' || out[r - 1] == '\r' || out[r - 1] == ' '))
        r--;
    if (r < PEPPER_MIN || (size_t)r >= cap) {
        st->api->log(st->ctx, AITBC_LOG_ERROR, "%s: pepper must be %d..%zu characters", path,
                     PEPPER_MIN, cap - 1);
        return AITBC_EINVAL;
    }
    *len = (size_t)r;
    return 0;
}

int auth_pepper_load(auth_state *st) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(st->api->config(st->ctx), "pepper");
    if (p) {
        if (!cJSON_IsString(p) || strlen(p->valuestring) < PEPPER_MIN) {
            st->api->log(st->ctx, AITBC_LOG_ERROR,
                         "pepper: must be a string of at least %d characters", PEPPER_MIN);
            return AITBC_EINVAL;
        }
        keyfmt_pepper_key(p->valuestring, strlen(p->valuestring), st->pepper_key);
        return 0;
    }
    char buf[1024];
    size_t len = 0;
    int rc = pepper_file(st, buf, sizeof buf, &len);
    if (rc == 0) keyfmt_pepper_key(buf, len, st->pepper_key);
    sodium_memzero(buf, sizeof buf);
    return rc;
}
