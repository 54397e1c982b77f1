/* First start: with no live admin key (and none configured by hash), make one, write it to
 * <data_dir>/admin.key (0600) and show it on stderr only when a person is looking (a terminal);
 * logs otherwise name the file, never the key. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth_apikey.h"

#define ADMIN_KEY_FILE "admin.key"

/* Write via a temp file + rename so a reader never sees half a key; 0600 from creation on. */
static int write_key_file(auth_state *st, const char *path, const char *key) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        st->api->log(st->ctx, AITBC_LOG_ERROR, "cannot create %s: %s", tmp, strerror(errno));
        return AITBC_EIO;
    }
    size_t len = strlen(key);
    int ok = fchmod(fd, 0600) == 0 && write(fd, key, len) == (ssize_t)len &&
             write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        st->api->log(st->ctx, AITBC_LOG_ERROR, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return AITBC_EIO;
    }
    return 0;
}

int bootstrap_admin(auth_state *st) {
    if (st->n_config_hashes > 0) return 0;
    /* Counted and created in one write transaction: hosts starting together on one shared
     * database make one first admin key between them, not one each. */
    const aitbc_host_api *api = st->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    int64_t n = 0;
    int rc = store_count_admins(st, &n);
    if (rc != 0 || n > 0) {
        api->txn_commit(t); /* nothing written */
        return rc;
    }
    char key[AITBC_API_KEY_MAX], key_id[48], address[48];
    rc = service_create_key(st, t, AITBC_ROLE_ADMIN, "bootstrap admin", NULL, key, key_id, address);
    if (rc == 0)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    if (rc != 0) {
        st->api->log(st->ctx, AITBC_LOG_ERROR, "cannot create the first admin key (%d)", rc);
        return rc;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", st->api->data_dir(st->ctx), ADMIN_KEY_FILE);
    rc = write_key_file(st, path, key);
    if (rc != 0) {
        /* A key nobody can read is a key nobody should hold: take it back. */
        service_revoke_key(st, NULL, key_id);
    } else {
        st->api->log(st->ctx, AITBC_LOG_WARN,
                     "created the first admin key %s; it is in %s (mode 0600)", key_id, path);
        if (isatty(STDERR_FILENO)) fprintf(stderr, "\n  Admin API key (shown once): %s\n\n", key);
    }
    sodium_memzero(key, sizeof key);
    return rc;
}
