/* Receipts and signed texts: the coordinator's Ed25519 key (file, 0600), signing and verifying a
 * receipt over its canonical JSON, the exact miner texts of API.md, and keyset cursors. */
#include "jobs_core.h"
#include <aitbc/errors.h>
#include <aitbc/json.h>
#include <aitbc/receipt.h>
#include <aitbc/util.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int jc_result_text(const char *job_id, int64_t attempt, const char *result_sha256, int64_t units,
                   char *out, size_t cap) {
    return aitbc_receipt_result_text(job_id, attempt, result_sha256, units, out, cap);
}

int jc_register_text(const char *public_key_hex, int64_t timestamp, char *out, size_t cap) {
    int n = snprintf(out, cap, "aitbc-register\n%s\n%" PRId64, public_key_hex, timestamp);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

void jc_key_from_seed(const unsigned char seed[32], jc_key *key) {
    crypto_sign_seed_keypair(key->pk, key->sk, seed);
    aitbc_hex_encode(key->pk, 32, key->pk_hex);
    aitbc_receipt_key_id(key->pk, key->key_id);
}

int jc_key_load_or_create(const char *path, jc_key *key) {
    unsigned char seed[32];
    char hex[65 + 2];
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(hex, 1, sizeof hex - 1, f);
        fclose(f);
        hex[n] = 0;
        while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
            hex[--n] = 0;
        if (n != 64 || aitbc_hex_decode(hex, seed, 32) != 0) return AITBC_EINVAL;
    } else {
        if (errno != ENOENT) return AITBC_EIO;
        randombytes_buf(seed, sizeof seed);
        aitbc_hex_encode(seed, 32, hex);
        hex[64] = '\n';
        /* O_EXCL: two processes racing on a fresh data dir must not both write a key. */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) return errno == EEXIST ? jc_key_load_or_create(path, key) : AITBC_EIO;
        ssize_t w = write(fd, hex, 65);
        int frc = fsync(fd);
        close(fd);
        sodium_memzero(hex, sizeof hex);
        if (w != 65 || frc != 0) return AITBC_EIO;
    }
    jc_key_from_seed(seed, key);
    sodium_memzero(seed, sizeof seed);
    return 0;
}

int jc_receipt_sign(cJSON *r, const jc_key *key) {
    cJSON_DeleteItemFromObjectCaseSensitive(r, "signature");
    cJSON_DeleteItemFromObjectCaseSensitive(r, "coordinator_key_id");
    aitbc_json_add_str(r, "coordinator_key_id", key->key_id);
    char *text = aitbc_receipt_signed_text(r);
    if (!text) return AITBC_ENOMEM;
    unsigned char sig[64];
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), key->sk);
    free(text);
    char b64[96];
    aitbc_b64url_encode(sig, sizeof sig, b64);
    aitbc_json_add_str(r, "signature", b64);
    return 0;
}

int jc_receipt_verify(const cJSON *r, const char *pk_hex) {
    const char *sig = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "signature"));
    if (!cJSON_IsObject(r) || !sig || !pk_hex) return AITBC_EINVAL;
    char *text = aitbc_receipt_signed_text(r);
    if (!text) return AITBC_ENOMEM;
    int rc = aitbc_ed25519_verify_b64(pk_hex, sig, text, strlen(text));
    free(text);
    return rc == 0 ? 0 : AITBC_ESIG;
}
