/* Receipt texts and the offline verifier (aitbc/receipt.h). Every failure names the one thing
 * that is wrong, so a person reading the line knows whether the receipt was altered, the key is
 * another node's, or the payload/result they hold is not what was run. */
#include "aitbc/receipt.h"
#include "aitbc/errors.h"
#include "aitbc/json.h"
#include "aitbc/util.h"

#include <ctype.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int say(char *reason, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *reason, size_t cap, int rc, const char *fmt, ...) {
    if (reason && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

char *aitbc_receipt_signed_text(const cJSON *r) {
    if (!cJSON_IsObject(r)) return NULL;
    cJSON *copy = cJSON_Duplicate(r, 1);
    if (!copy) return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "signature");
    char *text = aitbc_json_canonical(copy);
    cJSON_Delete(copy);
    return text;
}

int aitbc_receipt_result_text(const char *job_id, int64_t attempt, const char *result_sha256,
                              int64_t units, char *out, size_t cap) {
    int n = snprintf(out, cap, "aitbc-result-v1\n%s\n%" PRId64 "\n%s\n%" PRId64, job_id, attempt,
                     result_sha256, units);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

void aitbc_receipt_key_id(const unsigned char public_key[32], char out[17]) {
    unsigned char h[32];
    crypto_hash_sha256(h, public_key, 32);
    aitbc_hex_encode(h, 8, out);
}

static int is_hex(const char *s, size_t n) {
    if (!s || strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* {"key_id","public_key","status"} for a 64-hex key, or NULL with a reason. given_id may be
 * NULL; when present it must be the key's real id. */
static cJSON *key_entry(const char *pk_hex, const char *given_id, const char *status, char *reason,
                        size_t cap) {
    unsigned char pk[32];
    char lower[65], id[17];
    if (!pk_hex || strlen(pk_hex) != 64) {
        say(reason, cap, 0, "not a key: public_key must be 64 hex characters");
        return NULL;
    }
    for (size_t i = 0; i < 64; i++)
        lower[i] = (char)tolower((unsigned char)pk_hex[i]);
    lower[64] = 0;
    if (!is_hex(lower, 64) || aitbc_hex_decode(lower, pk, sizeof pk) != 0) {
        say(reason, cap, 0, "not a key: public_key must be 64 hex characters");
        return NULL;
    }
    aitbc_receipt_key_id(pk, id);
    if (given_id && strcmp(given_id, id) != 0) {
        say(reason, cap, 0, "key_id %.32s does not belong to public_key %.16s… (its id is %s)",
            given_id, lower, id);
        return NULL;
    }
    cJSON *k = cJSON_CreateObject();
    aitbc_json_add_str(k, "key_id", id);
    aitbc_json_add_str(k, "public_key", lower);
    aitbc_json_add_str(k, "status", status ? status : "active");
    return k;
}

static cJSON *key_from_object(const cJSON *o, char *reason, size_t cap) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "key_id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(o, "alg");
    if ((id && !cJSON_IsString(id)) || (st && !cJSON_IsString(st))) {
        say(reason, cap, 0, "not a key: key_id and status must be strings");
        return NULL;
    }
    if (alg && (!cJSON_IsString(alg) || strcmp(alg->valuestring, "Ed25519") != 0)) {
        say(reason, cap, 0, "not a key: alg must be Ed25519");
        return NULL;
    }
    return key_entry(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "public_key")),
                     cJSON_GetStringValue(id), cJSON_GetStringValue(st), reason, cap);
}

cJSON *aitbc_receipt_keys_parse(const char *text, size_t len, char *reason, size_t cap) {
    if (!text) {
        say(reason, cap, 0, "not a key: nothing given");
        return NULL;
    }
    size_t a = 0, b = len;
    while (a < b && isspace((unsigned char)text[a]))
        a++;
    while (b > a && isspace((unsigned char)text[b - 1]))
        b--;
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "keys");
    if (b - a == 64 && text[a] != '{') {
        char hex[65];
        memcpy(hex, text + a, 64);
        hex[64] = 0;
        cJSON *k = key_entry(hex, NULL, NULL, reason, cap);
        if (!k) goto fail;
        cJSON_AddItemToArray(arr, k);
        return out;
    }
    cJSON *doc = aitbc_json_parse_strict(text + a, b - a);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        say(reason, cap, 0,
            "not a key: expected 64 hex characters or the JSON of GET /v1/receipts/public-key");
        goto fail;
    }
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys"), *it;
    if (!keys) { /* one key object */
        cJSON *k = key_from_object(doc, reason, cap);
        cJSON_Delete(doc);
        if (!k) goto fail;
        cJSON_AddItemToArray(arr, k);
        return out;
    }
    if (!cJSON_IsArray(keys) || cJSON_GetArraySize(keys) == 0) {
        cJSON_Delete(doc);
        say(reason, cap, 0, "not a key: \"keys\" must be a non-empty array");
        goto fail;
    }
    cJSON_ArrayForEach(it, keys) {
        cJSON *k = cJSON_IsObject(it) ? key_from_object(it, reason, cap) : NULL;
        if (!k) {
            if (!cJSON_IsObject(it)) say(reason, cap, 0, "not a key: keys[] holds a non-object");
            cJSON_Delete(doc);
            goto fail;
        }
        cJSON_AddItemToArray(arr, k);
    }
    cJSON_Delete(doc);
    return out;
fail:
    cJSON_Delete(out);
    return NULL;
}

static const char *str_of(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The shape API.md gives a receipt; the name of the first member that is wrong, or NULL. */
static const char *bad_member(const cJSON *r, int64_t *version, int64_t *attempt, int64_t *units) {
    static const char *const strings[] = {
        "receipt_id", "job_id", "client",     "miner",        "state",
        "unit_price", "price",  "started_at", "completed_at", "coordinator_key_id",
        "signature",  NULL};
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(r, "version"), version) != 0)
        return "version";
    for (size_t i = 0; strings[i]; i++)
        if (!str_of(r, strings[i])) return strings[i];
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(r, "attempt"), attempt) != 0 ||
        *attempt < 1)
        return "attempt";
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(r, "units"), units) != 0 || *units < 0)
        return "units";
    if (!is_hex(str_of(r, "payload_sha256"), 64)) return "payload_sha256";
    if (!is_hex(str_of(r, "result_sha256"), 64)) return "result_sha256";
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(r, "miner_signature");
    if (ms && !cJSON_IsNull(ms) && !cJSON_IsString(ms)) return "miner_signature";
    const cJSON *mk = cJSON_GetObjectItemCaseSensitive(r, "miner_public_key");
    if (mk && !cJSON_IsNull(mk) && !is_hex(cJSON_GetStringValue(mk), 64)) return "miner_public_key";
    return NULL;
}

static const char *key_for(const cJSON *keys, const char *key_id) {
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(keys, "keys")) {
        const char *id = str_of(it, "key_id");
        if (id && strcmp(id, key_id) == 0) return str_of(it, "public_key");
    }
    return NULL;
}

/* 0 when the miner signature verifies; AITBC_ESIG with a reason otherwise. *checked = 0 when the
 * receipt carries no miner_public_key to check it with. */
static int check_miner(const cJSON *r, int64_t attempt, int64_t units, int *checked, char *reason,
                       size_t cap) {
    const char *sig = str_of(r, "miner_signature"), *pk = str_of(r, "miner_public_key");
    *checked = 0;
    if (!sig) return say(reason, cap, AITBC_ESIG, "COMPLETED receipt without miner_signature");
    if (!pk) return 0;
    unsigned char raw[32];
    char address[48], text[256];
    aitbc_hex_decode(pk, raw, sizeof raw);
    aitbc_address_from_pubkey(raw, address);
    if (strcmp(address, str_of(r, "miner")) != 0)
        return say(reason, cap, AITBC_ESIG, "miner_public_key is not the key of miner %.48s",
                   str_of(r, "miner"));
    if (aitbc_receipt_result_text(str_of(r, "job_id"), attempt, str_of(r, "result_sha256"), units,
                                  text, sizeof text) < 0 ||
        aitbc_ed25519_verify_b64(pk, sig, text, strlen(text)) != 0)
        return say(reason, cap, AITBC_ESIG,
                   "miner signature does not verify over job_id, attempt, result_sha256, units");
    *checked = 1;
    return 0;
}

/* 0 when obj hashes to the receipt's member; else AITBC_ESIG with a reason. */
static int check_hash(const cJSON *r, const char *member, const cJSON *obj, const char *what,
                      char *reason, size_t cap) {
    char sha[65];
    if (aitbc_json_sha256_hex(obj, sha) != 0)
        return say(reason, cap, AITBC_EINVAL, "the %s given cannot be canonicalised", what);
    if (strcmp(sha, str_of(r, member)) != 0)
        return say(reason, cap, AITBC_ESIG, "the %s given does not match %s (its hash is %.12s…)",
                   what, member, sha);
    return 0;
}

int aitbc_receipt_verify(const cJSON *receipt, const cJSON *keys, const cJSON *payload,
                         const cJSON *result, char *reason, size_t cap) {
    const cJSON *r = receipt, *inner = cJSON_GetObjectItemCaseSensitive(receipt, "receipt");
    if (cJSON_IsObject(inner)) r = inner;
    if (!cJSON_IsObject(r)) return say(reason, cap, AITBC_EINVAL, "not a receipt: not an object");
    int64_t version, attempt, units;
    const char *bad = bad_member(r, &version, &attempt, &units);
    if (bad) return say(reason, cap, AITBC_EINVAL, "not a receipt: %s missing or malformed", bad);
    if (version != 1)
        return say(reason, cap, AITBC_EINVAL, "receipt version %" PRId64 " is not supported (1)",
                   version);
    const char *state = str_of(r, "state");
    int completed = strcmp(state, "COMPLETED") == 0;
    if (!completed && strcmp(state, "FAILED") != 0)
        return say(reason, cap, AITBC_EINVAL, "not a receipt: state %.16s", state);
    const char *kid = str_of(r, "coordinator_key_id");
    const char *pk = key_for(keys, kid);
    if (!pk) {
        const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(keys, "keys"), 0);
        return say(reason, cap, AITBC_EINVAL,
                   "signed by coordinator key %.32s, not by the key given (%.16s): another node's "
                   "receipt, or the wrong --public-key",
                   kid, first ? str_of(first, "key_id") : "none");
    }
    char *text = aitbc_receipt_signed_text(r);
    if (!text) return say(reason, cap, AITBC_ENOMEM, "out of memory");
    int rc = aitbc_ed25519_verify_b64(pk, str_of(r, "signature"), text, strlen(text));
    free(text);
    if (rc != 0)
        return say(reason, cap, AITBC_ESIG,
                   "coordinator signature does not verify: the receipt was altered");
    int miner_checked = 0;
    if (completed && (rc = check_miner(r, attempt, units, &miner_checked, reason, cap)) != 0)
        return rc;
    if (payload && (rc = check_hash(r, "payload_sha256", payload, "payload", reason, cap)) != 0)
        return rc;
    if (result && (rc = check_hash(r, "result_sha256", result, completed ? "result" : "error",
                                   reason, cap)) != 0)
        return rc;
    return say(reason, cap, 0, "job %.48s %s, coordinator key %s, %s%s%s", str_of(r, "job_id"),
               state, kid,
               !completed      ? "no miner signature (FAILED)"
               : miner_checked ? "miner signature ok"
                               : "miner signature not checked (receipt has no "
                                 "miner_public_key)",
               payload ? ", payload hash ok" : "",
               result ? (completed ? ", result hash ok" : ", error hash ok") : "");
}
