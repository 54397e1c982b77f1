/* aitbc-keyhash: make an admin key and the hash to put under `admin_key_hashes`, or hash a key
 * read from stdin. The pepper comes from the environment (AITBC_PEPPER) or a pepper file (-f),
 * exactly as the plugin reads it, so the hash matches what the running node computes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keyfmt.h"

static int usage(void) {
    fprintf(stderr,
            "usage: aitbc-keyhash [-f PEPPER_FILE] new    make an admin key and its hash\n"
            "       aitbc-keyhash [-f PEPPER_FILE] hash   hash the key read from stdin\n"
            "The pepper is $AITBC_PEPPER unless -f names a file (e.g. <data_dir>/auth.pepper).\n");
    return 2;
}

static int load_pepper(const char *file, char *buf, size_t cap, size_t *len) {
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) return -1;
        *len = fread(buf, 1, cap - 1, f);
        fclose(f);
        /* The plugin trims trailing whitespace of the pepper file only (not of the config value).
         */
        while (*len && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r' || buf[*len - 1] == ' '))
            (*len)--;
    } else {
        const char *env = getenv("AITBC_PEPPER");
        if (!env || strlen(env) >= cap) return -1;
        *len = strlen(env);
        memcpy(buf, env, *len);
    }
    return *len >= 16 ? 0 : -1; /* the plugin refuses shorter peppers */
}

int main(int argc, char **argv) {
    const char *file = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-f") == 0) {
        file = argv[i + 1];
        i += 2;
    }
    if (i + 1 != argc || sodium_init() < 0) return usage();
    char pepper[1024];
    size_t plen = 0;
    if (load_pepper(file, pepper, sizeof pepper, &plen) != 0) {
        fprintf(stderr, "aitbc-keyhash: no usable pepper (>= 16 characters)\n");
        return 1;
    }
    unsigned char pk[KEYFMT_PEPPER_BYTES], hash[KEYFMT_HASH_BYTES];
    keyfmt_pepper_key(pepper, plen, pk);
    sodium_memzero(pepper, sizeof pepper);
    char key[AITBC_API_KEY_MAX + 2];
    if (strcmp(argv[i], "new") == 0) {
        /* Same id shape as aitbc_random_id("key"): 26 base32 chars of 128 random bits. */
        static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
        char id[32] = "key_";
        for (int k = 0; k < 26; k++)
            id[4 + k] = b32[randombytes_uniform(32)];
        id[30] = '\0';
        unsigned char secret[KEYFMT_SECRET_BYTES];
        randombytes_buf(secret, sizeof secret);
        if (keyfmt_format(AITBC_ROLE_ADMIN, id, secret, key) != 0) return 1;
        sodium_memzero(secret, sizeof secret);
    } else if (strcmp(argv[i], "hash") == 0) {
        if (!fgets(key, sizeof key, stdin)) return usage();
        key[strcspn(key, "\r\n")] = '\0';
        keyfmt_parsed p;
        if (keyfmt_parse(key, &p) != 0 || p.role != AITBC_ROLE_ADMIN) {
            fprintf(stderr, "aitbc-keyhash: not an admin key (aitbc_admin_<key_id>_<secret>)\n");
            return 1;
        }
    } else {
        return usage();
    }
    keyfmt_hash(pk, key, hash);
    char hex[2 * KEYFMT_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    if (strcmp(argv[i], "new") == 0) printf("key:  %s\n", key);
    printf("hash: %s\n", hex);
    sodium_memzero(key, sizeof key);
    return 0;
}
