/* The node key (<data_dir>/node.key, 0600): an Ed25519 seed in hex that signs blocks, and the
 * custody key derived from it that encrypts custodial accounts' secret keys at rest. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "chain.h"

static int derive(chain_state *cs, const unsigned char seed[32]) {
    if (crypto_sign_seed_keypair(cs->pk, cs->sk, seed) != 0) return AITBC_EIO;
    aitbc_hex_encode(cs->pk, sizeof cs->pk, cs->pk_hex);
    aitbc_address_from_pubkey(cs->pk, cs->address);
    /* Custody key = BLAKE2b keyed hash of a fixed label: the node key never encrypts directly. */
    static const char label[] = "aitbc-custody-v1";
    crypto_generichash(cs->custody_key, sizeof cs->custody_key, (const unsigned char *)label,
                       sizeof label - 1, seed, 32);
    return 0;
}

static int create_key(chain_state *cs, const char *path) {
    unsigned char seed[32];
    char hex[65], tmp[4200];
    randombytes_buf(seed, sizeof seed);
    aitbc_hex_encode(seed, sizeof seed, hex);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        cs->api->log(cs->ctx, AITBC_LOG_ERROR, "cannot create %s: %s", tmp, strerror(errno));
        return AITBC_EIO;
    }
    hex[64] = '\n';
    ssize_t w = write(fd, hex, 65);
    int ok = w == 65 && fsync(fd) == 0;
    close(fd);
    /* link() refuses to replace: two processes racing on first start keep the first key. */
    if (!ok || link(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        if (ok && e == EEXIST) return 1; /* someone else made it: load theirs */
        cs->api->log(cs->ctx, AITBC_LOG_ERROR, "cannot write %s: %s", path, strerror(e));
        return AITBC_EIO;
    }
    unlink(tmp);
    int rc = derive(cs, seed);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(hex, sizeof hex);
    if (rc == 0)
        cs->api->log(cs->ctx, AITBC_LOG_INFO, "created node key %s (proposer %s)", path,
                     cs->address);
    return rc;
}

static int load_key(chain_state *cs, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? AITBC_ENOTFOUND : AITBC_EIO;
    struct stat st;
    char buf[80];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) == 0)
        n = read(fd, buf, sizeof buf - 1);
    else
        cs->api->log(cs->ctx, AITBC_LOG_ERROR, "%s must be mode 0600 (chmod 600 it)", path);
    close(fd);
    if (n < 0) return AITBC_EIO;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    unsigned char seed[32];
    if (chain_hex32(buf, seed) != 0) {
        cs->api->log(cs->ctx, AITBC_LOG_ERROR, "%s: not a 64-hex-digit Ed25519 seed", path);
        return AITBC_EINVAL;
    }
    int rc = derive(cs, seed);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

int chain_key_load_or_create(chain_state *cs, const char *path) {
    int rc = load_key(cs, path);
    if (rc != AITBC_ENOTFOUND) return rc;
    rc = create_key(cs, path);
    return rc == 1 ? load_key(cs, path) : rc;
}

void chain_custody_seal(const chain_state *cs, const unsigned char sk[64], char *out_hex) {
    unsigned char
        buf[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + crypto_sign_SECRETKEYBYTES];
    randombytes_buf(buf, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(buf + crypto_secretbox_NONCEBYTES, sk, crypto_sign_SECRETKEYBYTES, buf,
                          cs->custody_key);
    aitbc_hex_encode(buf, sizeof buf, out_hex);
}

int chain_custody_open(const chain_state *cs, const char *hex, unsigned char sk_out[64]) {
    unsigned char
        buf[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + crypto_sign_SECRETKEYBYTES];
    if (!hex || strlen(hex) != 2 * sizeof buf || aitbc_hex_decode(hex, buf, sizeof buf) != 0)
        return AITBC_EINVAL;
    if (crypto_secretbox_open_easy(sk_out, buf + crypto_secretbox_NONCEBYTES,
                                   sizeof buf - crypto_secretbox_NONCEBYTES, buf,
                                   cs->custody_key) != 0)
        return AITBC_EINVAL;
    return 0;
}
