/* API key text: parsing, formatting and hashing of `aitbc_<role>_<key_id>_<secret>`.
 * Pure functions (no host, no database) so they are unit-tested on their own. */
#ifndef AUTH_APIKEY_KEYFMT_H
#define AUTH_APIKEY_KEYFMT_H

#include <stddef.h>
#include <stdint.h>

#include "aitbc/auth.h"

/** Bytes of randomness in a key's secret; the text form is lowercase hex (no '_', ever). */
#define KEYFMT_SECRET_BYTES 32
#define KEYFMT_SECRET_HEX (2 * KEYFMT_SECRET_BYTES)
/** Stored hash size: BLAKE2b-256. */
#define KEYFMT_HASH_BYTES 32
/** Pepper-derived BLAKE2b key size. */
#define KEYFMT_PEPPER_BYTES 32
/** Longest key id we accept ("key_" + base32); generous, ids are 30 chars today. */
#define KEYFMT_KEY_ID_MAX 47

/** One parsed key. Fields are NUL-terminated copies. */
typedef struct keyfmt_parsed {
    unsigned role; /**< one AITBC_ROLE_* bit */
    char key_id[KEYFMT_KEY_ID_MAX + 1];
    char secret[KEYFMT_SECRET_HEX + 1];
} keyfmt_parsed;

/** @brief Role bit for "client"/"miner"/"admin"; 0 for anything else. */
unsigned keyfmt_role_from_name(const char *name);
/** @brief "client"/"miner"/"admin" for a single role bit; NULL otherwise. */
const char *keyfmt_role_name(unsigned role);
/** @brief 1 if text is a well-formed key id: "key_" then 1..43 chars of [a-z2-7]. */
int keyfmt_key_id_valid(const char *text);
/** @brief Split key text into role, key id and secret.
 *  Role sits between the first and second '_', the secret after the last '_', the id between.
 *  @return 0, or AITBC_EINVAL for anything malformed (too long, bad role, id, or secret). */
int keyfmt_parse(const char *text, keyfmt_parsed *out);
/** @brief Build the key text from its parts. @return 0 or AITBC_EINVAL (bad part / too long). */
int keyfmt_format(unsigned role, const char *key_id,
                  const unsigned char secret[KEYFMT_SECRET_BYTES], char out[AITBC_API_KEY_MAX]);
/** @brief Derive the BLAKE2b key from the deployment pepper (any length ≥ 1). */
void keyfmt_pepper_key(const void *pepper, size_t len, unsigned char out[KEYFMT_PEPPER_BYTES]);
/** @brief hash = BLAKE2b-256 keyed with the pepper key over the whole key text, so a stored hash
 *  binds role, id and secret together. Always the same work for texts of equal length. */
void keyfmt_hash(const unsigned char pepper_key[KEYFMT_PEPPER_BYTES], const char *text,
                 unsigned char out[KEYFMT_HASH_BYTES]);
/** @brief Constant-time equality of two hashes: 1 equal, 0 not. */
int keyfmt_hash_equal(const unsigned char a[KEYFMT_HASH_BYTES],
                      const unsigned char b[KEYFMT_HASH_BYTES]);

#endif
