/* The miner's identity on disk: the Ed25519 key (<data_dir>/miner.key, the 32-byte seed as 64
 * hex, 0600, made on first start — the same file format as the coordinator's keys) and the API key
 * the coordinator issued at registration (<data_dir>/miner.apikey, 0600, replaced atomically). */
#include "miner_agent.h"
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void warn_if_open(ma_agent *a, const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        a->api->log(a->ctx, AITBC_LOG_WARN, "%s is readable by others (mode %03o): chmod 600 it",
                    path, (unsigned)(st.st_mode & 0777));
}

static void read_apikey(ma_agent *a) {
    char buf[AITBC_API_KEY_MAX + 2];
    FILE *f = fopen(a->apikey_path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    size_t len = strlen(buf);
    if (len > 0 && len < sizeof a->api_key) memcpy(a->api_key, buf, len + 1);
    sodium_memzero(buf, sizeof buf);
    warn_if_open(a, a->apikey_path);
}

int ma_identity_load(ma_agent *a) {
    const char *dir = a->api->data_dir(a->ctx);
    if (snprintf(a->key_path, sizeof a->key_path, "%s/miner.key", dir) >= (int)sizeof a->key_path ||
        snprintf(a->apikey_path, sizeof a->apikey_path, "%s/miner.apikey", dir) >=
            (int)sizeof a->apikey_path ||
        snprintf(a->spool_dir, sizeof a->spool_dir, "%s/miner-spool", dir) >=
            (int)sizeof a->spool_dir) {
        a->api->log(a->ctx, AITBC_LOG_ERROR, "node.data_dir is too long");
        return AITBC_EINVAL;
    }
    int rc = jc_key_load_or_create(a->key_path, &a->key);
    if (rc != 0) {
        a->api->log(a->ctx, AITBC_LOG_ERROR,
                    "cannot read or create the miner key %s (%s): it must hold 64 hex characters",
                    a->key_path, rc == AITBC_EINVAL ? "malformed" : strerror(errno));
        return rc;
    }
    warn_if_open(a, a->key_path);
    aitbc_address_from_pubkey(a->key.pk, a->address);
    read_apikey(a);
    return 0;
}

int ma_identity_save_apikey(ma_agent *a, const char *api_key) {
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", a->apikey_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return AITBC_EIO;
    size_t n = strlen(api_key);
    int ok = write(fd, api_key, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, a->apikey_path) != 0) {
        unlink(tmp);
        a->api->log(a->ctx, AITBC_LOG_ERROR, "cannot write %s: %s", a->apikey_path,
                    strerror(errno));
        return AITBC_EIO;
    }
    return 0;
}

void ma_sign(const ma_agent *a, const char *text, char out[88]) {
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), a->key.sk);
    aitbc_b64url_encode(sig, sizeof sig, out);
}
