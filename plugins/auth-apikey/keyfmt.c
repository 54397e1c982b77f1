/* API key text format and hashing. The secret is lowercase hex so it can never contain the '_'
 * that separates the parts; the id (from aitbc_random_id) contains one, hence "last '_'". */
#include "keyfmt.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "aitbc/errors.h"
#include "aitbc/http.h"

unsigned keyfmt_role_from_name(const char *name) {
    if (!name) return 0;
    if (strcmp(name, "client") == 0) return AITBC_ROLE_CLIENT;
    if (strcmp(name, "miner") == 0) return AITBC_ROLE_MINER;
    if (strcmp(name, "admin") == 0) return AITBC_ROLE_ADMIN;
    return 0;
}

const char *keyfmt_role_name(unsigned role) {
    switch (role) {
    case AITBC_ROLE_CLIENT:
        return "client";
    case AITBC_ROLE_MINER:
        return "miner";
    case AITBC_ROLE_ADMIN:
        return "admin";
    default:
        return NULL;
    }
}

static int is_base32(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

int keyfmt_key_id_valid(const char *text) {
    if (!text || strncmp(text, "key_", 4) != 0) return 0;
    size_t n = strlen(text);
    if (n < 5 || n > KEYFMT_KEY_ID_MAX) return 0;
    for (size_t i = 4; i < n; i++) {
        if (!is_base32(text[i])) return 0;
    }
    return 1;
}

static int secret_valid(const char *s, size_t n) {
    if (n != KEYFMT_SECRET_HEX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    }
    return 1;
}

int keyfmt_parse(const char *text, keyfmt_parsed *out) {
    if (!text || !out) return AITBC_EINVAL;
    size_t n = strnlen(text, AITBC_API_KEY_MAX);
    if (n >= AITBC_API_KEY_MAX || strncmp(text, "aitbc_", 6) != 0) return AITBC_EINVAL;
    const char *role = text + 6;
    const char *role_end = strchr(role, '_');
    const char *last = strrchr(text, '_');
    if (!role_end || last <= role_end) return AITBC_EINVAL;
    size_t role_len = (size_t)(role_end - role);
    char role_buf[8];
    if (role_len == 0 || role_len >= sizeof role_buf) return AITBC_EINVAL;
    memcpy(role_buf, role, role_len);
    role_buf[role_len] = '\0';
    unsigned r = keyfmt_role_from_name(role_buf);
    if (!r) return AITBC_EINVAL;

    const char *id = role_end + 1;
    size_t id_len = (size_t)(last - id);
    if (id_len == 0 || id_len > KEYFMT_KEY_ID_MAX) return AITBC_EINVAL;
    const char *secret = last + 1;
    size_t secret_len = n - (size_t)(secret - text);
    if (!secret_valid(secret, secret_len)) return AITBC_EINVAL;

    memset(out, 0, sizeof *out);
    memcpy(out->key_id, id, id_len);
    if (!keyfmt_key_id_valid(out->key_id)) return AITBC_EINVAL;
    out->role = r;
    memcpy(out->secret, secret, secret_len);
    return 0;
}

int keyfmt_format(unsigned role, const char *key_id,
                  const unsigned char secret[KEYFMT_SECRET_BYTES], char out[AITBC_API_KEY_MAX]) {
    const char *rn = keyfmt_role_name(role);
    if (!rn || !keyfmt_key_id_valid(key_id) || !secret) return AITBC_EINVAL;
    char hex[KEYFMT_SECRET_HEX + 1];
    sodium_bin2hex(hex, sizeof hex, secret, KEYFMT_SECRET_BYTES);
    int w = snprintf(out, AITBC_API_KEY_MAX, "aitbc_%s_%s_%s", rn, key_id, hex);
    sodium_memzero(hex, sizeof hex);
    if (w < 0 || w >= AITBC_API_KEY_MAX) return AITBC_EINVAL;
    return 0;
}

void keyfmt_pepper_key(const void *pepper, size_t len, unsigned char out[KEYFMT_PEPPER_BYTES]) {
    /* A domain-separated digest: any pepper length becomes a valid 32-byte BLAKE2b key. */
    static const unsigned char ctx[] = "aitbc-auth-apikey-pepper-v1";
    crypto_generichash_state st;
    crypto_generichash_init(&st, ctx, sizeof ctx - 1, KEYFMT_PEPPER_BYTES);
    crypto_generichash_update(&st, pepper, len);
    crypto_generichash_final(&st, out, KEYFMT_PEPPER_BYTES);
}

void keyfmt_hash(const unsigned char pepper_key[KEYFMT_PEPPER_BYTES], const char *text,
                 unsigned char out[KEYFMT_HASH_BYTES]) {
    crypto_generichash(out, KEYFMT_HASH_BYTES, (const unsigned char *)text, strlen(text),
                       pepper_key, KEYFMT_PEPPER_BYTES);
}

int keyfmt_hash_equal(const unsigned char a[KEYFMT_HASH_BYTES],
                      const unsigned char b[KEYFMT_HASH_BYTES]) {
    return sodium_memcmp(a, b, KEYFMT_HASH_BYTES) == 0;
}
