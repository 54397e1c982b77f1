/* Keyset cursors for the explorer's lists: opaque base64url JSON {"f": filter tag, "k": last key}.
 * The tag ties a cursor to the listing and filters it was made for; the key is the last row's
 * height or sequence, so pages stay stable while new rows arrive at the top. */
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "explorer.h"

void ex_filter_tag(const char *listing, const char *a, const char *b, char out[EX_TAG_LEN + 1])
{
    crypto_hash_sha256_state st;
    unsigned char h[32];
    const unsigned char sep = 0x1f; /* unit separator: no field can contain it */
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)listing, strlen(listing));
    crypto_hash_sha256_update(&st, &sep, 1);
    if (a)
        crypto_hash_sha256_update(&st, (const unsigned char *)a, strlen(a));
    crypto_hash_sha256_update(&st, &sep, 1);
    if (b)
        crypto_hash_sha256_update(&st, (const unsigned char *)b, strlen(b));
    crypto_hash_sha256_final(&st, h);
    aitbc_hex_encode(h, EX_TAG_LEN / 2, out);
}

int ex_cursor_encode(const char *tag, int64_t key, char out[EX_CURSOR_MAX])
{
    char json[80];
    int n = snprintf(json, sizeof json, "{\"f\":\"%s\",\"k\":%lld}", tag, (long long)key);
    if (n <= 0 || (size_t)n >= sizeof json || (size_t)(4 * ((n + 2) / 3) + 1) > EX_CURSOR_MAX)
        return AITBC_EINVAL;
    size_t len = aitbc_b64url_encode(json, (size_t)n, out);
    out[len] = '\0';
    return 0;
}

int ex_cursor_decode(const char *text, const char *tag, int64_t *key)
{
    char json[EX_CURSOR_MAX];
    if (!text || strlen(text) >= EX_CURSOR_MAX)
        return AITBC_EINVAL;
    long n = aitbc_b64url_decode(text, json, sizeof json - 1);
    if (n <= 0)
        return AITBC_EINVAL;
    json[n] = '\0';
    if (memchr(json, '\0', (size_t)n))
        return AITBC_EINVAL;
    cJSON *o = cJSON_ParseWithLength(json, (size_t)n);
    if (!o)
        return AITBC_EINVAL;
    int rc = AITBC_EINVAL;
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "f"));
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "k");
    int64_t v;
    if (cJSON_IsObject(o) && cJSON_GetArraySize(o) == 2 && f && k && aitbc_json_int(k, &v) == 0 &&
        v >= 0) {
        rc = strcmp(f, tag) == 0 ? 0 : AITBC_ECONFLICT;
        if (rc == 0)
            *key = v;
    }
    cJSON_Delete(o);
    return rc;
}

int ex_parse_limit(const char *text, int *out)
{
    if (!text) {
        *out = EX_LIMIT_DEFAULT;
        return 0;
    }
    size_t n = strlen(text);
    if (n == 0 || n > 3)
        return AITBC_EINVAL;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return AITBC_EINVAL;
        v = v * 10 + (text[i] - '0');
    }
    if (v < 1 || v > EX_LIMIT_MAX)
        return AITBC_EINVAL;
    *out = v;
    return 0;
}
