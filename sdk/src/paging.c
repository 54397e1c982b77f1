/* Keyset cursors: base64url of a small JSON {"f": tag, "k": key, "t"?: tie}. The tag (a hash of
 * the listing and its filters) makes a cursor useless with other filters; the key is the last
 * row's sort key, so pages stay stable while new rows arrive at the top. */
#include "aitbc/paging.h"
#include "aitbc/errors.h"
#include "aitbc/json.h"
#include "aitbc/util.h"
#include "aitbc/host.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int aitbc_page_limit(const char *text, int *out) {
    if (!text) {
        *out = AITBC_LIMIT_DEFAULT;
        return 0;
    }
    size_t n = strlen(text);
    if (n == 0 || n > 3 || strspn(text, "0123456789") != n) return AITBC_EINVAL;
    int v = atoi(text);
    if (v < 1 || v > AITBC_LIMIT_MAX) return AITBC_EINVAL;
    *out = v;
    return 0;
}

void aitbc_cursor_tag(const char *listing, const char *const *filters, size_t nfilters,
                      char out[AITBC_CURSOR_TAG_LEN + 1]) {
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    /* A separator no value contains, and a marker telling NULL from "". */
    const unsigned char sep = 0x1f, null_marker = 0x00;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)listing, strlen(listing));
    for (size_t i = 0; i < nfilters; i++) {
        crypto_hash_sha256_update(&st, &sep, 1);
        if (filters[i])
            crypto_hash_sha256_update(&st, (const unsigned char *)filters[i], strlen(filters[i]));
        else
            crypto_hash_sha256_update(&st, &null_marker, 1);
    }
    crypto_hash_sha256_final(&st, h);
    aitbc_hex_encode(h, AITBC_CURSOR_TAG_LEN / 2, out);
}

int aitbc_cursor_encode(const char *tag, int64_t key, const char *tie, char out[AITBC_CURSOR_MAX]) {
    if (tie && strlen(tie) >= AITBC_CURSOR_TIE_MAX) return AITBC_EINVAL;
    cJSON *o = cJSON_CreateObject();
    aitbc_json_add_str(o, "f", tag);
    aitbc_json_add_i64(o, "k", key);
    if (tie) aitbc_json_add_str(o, "t", tie);
    char *json = aitbc_json_print(o);
    cJSON_Delete(o);
    if (!json) return AITBC_ENOMEM;
    size_t n = strlen(json);
    int rc = AITBC_EINVAL;
    if (4 * ((n + 2) / 3) + 1 <= AITBC_CURSOR_MAX) {
        aitbc_b64url_encode(json, n, out);
        rc = 0;
    }
    free(json);
    return rc;
}

int aitbc_cursor_decode(const char *text, const char *tag, int64_t *key,
                        char tie[AITBC_CURSOR_TIE_MAX]) {
    char json[AITBC_CURSOR_MAX];
    if (!text || strlen(text) >= AITBC_CURSOR_MAX) return AITBC_EINVAL;
    long n = aitbc_b64url_decode(text, json, sizeof json - 1);
    if (n <= 0) return AITBC_EINVAL;
    cJSON *o = aitbc_json_parse_strict(json, (size_t)n);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return AITBC_EINVAL;
    }
    static const char *const fields[] = {"f", "k", "t", NULL};
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "f"));
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "k");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "t");
    int64_t v;
    int rc = AITBC_EINVAL;
    if (f && aitbc_json_int(k, &v) == 0 && v >= 0 && !aitbc_json_unknown_key(o, fields) &&
        (!t || (cJSON_IsString(t) && strlen(t->valuestring) < AITBC_CURSOR_TIE_MAX))) {
        rc = strcmp(f, tag) == 0 ? 0 : AITBC_ECONFLICT;
        if (rc == 0) {
            *key = v;
            if (tie) strcpy(tie, t ? t->valuestring : "");
        }
    }
    cJSON_Delete(o);
    return rc;
}

void aitbc_page_set_next(cJSON *answer, int more, const char *tag, int64_t last_key,
                         const char *last_tie) {
    char cursor[AITBC_CURSOR_MAX];
    int ok = more && aitbc_cursor_encode(tag, last_key, last_tie, cursor) == 0;
    aitbc_json_add_str(answer, "next_cursor", ok ? cursor : NULL);
}

cJSON *aitbc_page_collect(const aitbc_host_api *api, aitbc_stmt *s, int limit, int key_col,
                          const char *tag, aitbc_page_row_fn row, void *user) {
    cJSON *answer = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(answer, "items");
    int n = 0, more = 0, rc;
    int64_t last = 0;
    while ((rc = api->step(s)) == AITBC_ROW) {
        if (n == limit) {
            more = 1; /* the extra row only says another page exists */
            break;
        }
        cJSON *item = row(s, user);
        if (item) cJSON_AddItemToArray(items, item);
        last = api->col_int64(s, key_col);
        n++;
    }
    api->stmt_done(s);
    if (rc < 0) {
        cJSON_Delete(answer);
        return NULL;
    }
    aitbc_page_set_next(answer, more, tag, last, NULL);
    return answer;
}
