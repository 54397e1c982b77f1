/* JSON helpers over cJSON: canonical form (RFC 8785 subset we emit), typed field access. */
#ifndef AITBC_JSON_H
#define AITBC_JSON_H

#include <stdint.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Canonical JSON (RFC 8785/JCS): keys sorted by UTF-16 code units, no whitespace, nulls omitted
 *  (members whose value is null are dropped, recursively), integers printed without exponent,
 *  strings escaped per JCS. Returns a malloc'd string (caller frees with free()), or NULL. */
char *aitbc_json_canonical(const cJSON *item);
/** Compact JSON text of item for everything the node writes (HTTP bodies, WebSocket frames,
 *  stored text): key order and nulls kept, numbers printed exactly as aitbc_json_canonical prints
 *  them (the shortest form that reads back as the same double; -0 as 0; NaN/Infinity as null),
 *  so no value changes between what was received, stored, sent and hashed. Use it instead of
 *  cJSON_Print*, which rounds to 15 significant digits. malloc'd (free()), NULL on failure. */
char *aitbc_json_print(const cJSON *item);
/** Strict parse of untrusted text: exactly one JSON value surrounded only by whitespace, and the
 *  text must be valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF), so that its
 *  canonical form and hash are what any other RFC 8785 implementation computes. Also refused: a
 *  \u0000 escape in any string, two members of one object with the same name, and a number that
 *  is not finite as a double (1e999). NULL if not.
 *  Caller frees with cJSON_Delete. */
cJSON *aitbc_json_parse_strict(const char *text, size_t len);
/** aitbc_json_parse_strict that also says where a well-formed text broke a rule: on NULL,
 *  where (cap bytes, cap may be 0) holds the path of the first number that is not finite
 *  ("payload.n", "items[2]") or of a member whose name repeats in its object ("labels.a"), and
 *  is empty when the text is not well-formed JSON at all (syntax, UTF-8, \u0000). */
cJSON *aitbc_json_parse_strict_at(const char *text, size_t len, char *where, size_t cap);
/** 1 if text[0..len) is well-formed UTF-8. */
int aitbc_utf8_valid(const char *text, size_t len);
/** SHA-256 of the canonical JSON as 64 lowercase hex chars + NUL. 0 or an error. */
int aitbc_json_sha256_hex(const cJSON *item, char out[65]);
/** Integer field: 0 and *out if item is a number holding an exact integer within int64 (and
 *  within ±2^53); AITBC_EINVAL otherwise. */
int aitbc_json_int(const cJSON *item, int64_t *out);
/** Checks obj has no member outside the NULL-terminated allowed list; returns the first unknown
 *  member name (borrowed) or NULL. */
const char *aitbc_json_unknown_key(const cJSON *obj, const char *const *allowed);
/** Add helpers that return obj, for building responses; NULL text adds JSON null. */
cJSON *aitbc_json_add_str(cJSON *obj, const char *key, const char *text);
cJSON *aitbc_json_add_i64(cJSON *obj, const char *key, int64_t v);
/** Adds a money string formatted from base units. */
cJSON *aitbc_json_add_money(cJSON *obj, const char *key, int64_t units, int decimals);
/** A number of the plugin's config section (api->config()): the host has checked its type and
 *  bounds and filled the schema's default, so this only reads it (0 when absent: no default). */
int64_t aitbc_cfg_i64(const cJSON *cfg, const char *key);
/** A boolean of the config section (see aitbc_cfg_i64): 1 true, 0 false or absent. */
int aitbc_cfg_bool(const cJSON *cfg, const char *key);

/** Optional integer member of an object nested in the config (a list entry the host's schema
 *  cannot see; top-level keys take default and bounds from the schema): *out = def when key is
 *  absent; 0, or AITBC_EINVAL when it is not an integer in lo..hi (log "<plugin>.<key> must be
 *  …" yourself). */
int aitbc_cfg_int(const cJSON *cfg, const char *key, int64_t def, int64_t lo, int64_t hi,
                  int64_t *out);

/** One optional integer key of a config section, for aitbc_cfg_ints. */
typedef struct aitbc_cfg_int_spec {
    const char *key;
    int64_t def, lo, hi;
} aitbc_cfg_int_spec;
/** aitbc_cfg_int for each of n specs, into out[i]. Returns -1 when all are fine, else the index
 *  of the first bad one (log "<plugin>.<spec.key> must be an integer in lo..hi"). */
int aitbc_cfg_ints(const cJSON *cfg, const aitbc_cfg_int_spec *specs, size_t n, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif
