/* Strict parsing of untrusted JSON: one value, whitespace around it, well-formed UTF-8, no
 * \u0000 in a string, no duplicate member names, every number finite. cJSON alone accepts
 * trailing garbage (with the options we need), any byte sequence in strings, cuts a string at an
 * escaped NUL (an amount or label would silently change), keeps both of two equal names (the
 * first wins on lookup but both are stored and hashed) and turns 1e999 into infinity. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aitbc/json.h"

int aitbc_utf8_valid(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0; /* overlong */
            if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90; /* overlong */
            if (c == 0xF4) hi = 0x8F; /* past U+10FFFF */
        } else {
            return 0;
        }
        if (len - i <= n) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += n + 1;
    }
    return 1;
}

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* 1 if the text has the escape \u0000 (an escaped backslash before "u0000" does not count). */
static int has_escaped_nul(const char *text, size_t len) {
    for (size_t i = 0; i + 6 <= len; i++) {
        if (text[i] != '\\') continue;
        if (text[i + 1] == 'u' && memcmp(text + i + 2, "0000", 4) == 0) return 1;
        i++; /* skip the escaped character, so "\\u0000" is a backslash and text */
    }
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* 1 if no two members of obj share a name. Small objects compare pairwise; large ones (a hostile
 * body may hold 100 000 members) sort the names: n log n, not n². */
static int names_unique(const cJSON *obj) {
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        n++;
    if (n <= 16) {
        for (const cJSON *c = obj->child; c; c = c->next)
            for (const cJSON *d = obj->child; d != c; d = d->next)
                if (strcmp(d->string, c->string) == 0) return 0;
        return 1;
    }
    const cJSON **v = malloc(n * sizeof *v);
    if (!v) return 0;
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        v[i++] = c;
    qsort(v, n, sizeof *v, cmp_names);
    int ok = 1;
    for (i = 1; i < n && ok; i++)
        ok = strcmp(v[i - 1]->string, v[i]->string) != 0;
    free(v);
    return ok;
}

/* 1 if every number below item is finite and no object has two members of the same name. cJSON
 * bounds the nesting depth while parsing, so the recursion is bounded too. */
static int tree_ok(const cJSON *item) {
    if (cJSON_IsNumber(item)) return isfinite(item->valuedouble);
    if (cJSON_IsObject(item) && !names_unique(item)) return 0;
    for (const cJSON *c = item->child; c; c = c->next)
        if (!tree_ok(c)) return 0;
    return 1;
}

cJSON *aitbc_json_parse_strict(const char *text, size_t len) {
    if (!text || !aitbc_utf8_valid(text, len) || has_escaped_nul(text, len)) return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) return NULL;
    const char *stop = text + len;
    const char *p = end ? end : stop;
    while (p < stop && is_blank(*p))
        p++;
    if (p != stop || !tree_ok(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}
