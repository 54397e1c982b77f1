/* Fuzz target: strict JSON parsing and canonical JSON (sdk/src/json_parse.c, json_canonical.c).
 * Invariants, abort() on violation:
 *  - whatever parses strictly has a canonical form, unless it holds a non-finite number;
 *  - the canonical text is itself strict JSON, and canonicalising it again gives the identical
 *    string (so hashes over it are stable);
 *  - every finite number, canonicalised alone, reads back (strtod) as exactly the same double;
 *  - aitbc_json_sha256_hex succeeds exactly when canonicalisation does: 64 lowercase hex chars. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aitbc/json.h"

static int has_non_finite(const cJSON *j, int depth) {
    if (depth > 2000) return 0;
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble)) return 1;
    for (const cJSON *c = j->child; c; c = c->next)
        if (has_non_finite(c, depth + 1)) return 1;
    return 0;
}

static void check_numbers(const cJSON *j, int depth) {
    if (depth > 2000) return;
    if (cJSON_IsNumber(j) && isfinite(j->valuedouble)) {
        cJSON *n = cJSON_CreateNumber(j->valuedouble);
        if (!n) abort();
        char *text = aitbc_json_canonical(n);
        if (!text) abort();
        char *end;
        double back = strtod(text, &end);
        if (*end != '\0' || back != j->valuedouble)
            abort(); /* the printed number is not exactly the parsed one */
        free(text);
        cJSON_Delete(n);
    }
    for (const cJSON *c = j->child; c; c = c->next)
        check_numbers(c, depth + 1);
}

static int is_lower_hex64(const char *s) {
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[64] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *j = aitbc_json_parse_strict((const char *)data, size);
    if (!j) return 0;
    int bad_numbers = has_non_finite(j, 0);
    char *canon = aitbc_json_canonical(j);
    char hex[65];
    int hrc = aitbc_json_sha256_hex(j, hex);
    if (bad_numbers) {
        if (canon || hrc == 0)
            abort(); /* JCS has no NaN or Infinity: refusing them is the contract */
        cJSON_Delete(j);
        return 0;
    }
    if (!canon || hrc != 0 || !is_lower_hex64(hex)) abort();
    check_numbers(j, 0);

    cJSON *again = aitbc_json_parse_strict(canon, strlen(canon));
    if (!again) abort(); /* canonical output that our own strict parser refuses */
    char *canon2 = aitbc_json_canonical(again);
    if (!canon2 || strcmp(canon, canon2) != 0) abort(); /* canonicalisation is not idempotent */
    char hex2[65];
    if (aitbc_json_sha256_hex(again, hex2) != 0 || strcmp(hex, hex2) != 0) abort();
    free(canon2);
    cJSON_Delete(again);
    free(canon);
    cJSON_Delete(j);
    return 0;
}
