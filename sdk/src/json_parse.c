/* Strict parsing of untrusted JSON: one value, whitespace around it, well-formed UTF-8, no
 * \u0000 in a string, no duplicate member names, every number finite. cJSON alone accepts
 * trailing garbage (with the options we need), any byte sequence in strings, cuts a string at an
 * escaped NUL (an amount or label would silently change), keeps both of two equal names (the
 * first wins on lookup but both are stored and hashed) and turns 1e999 into infinity. */
#include <math.h>
#include <stdio.h>
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

/* 1 if the text has a NUL or another control character that JSON does not allow where it stands:
 * a raw byte below 0x20 inside a string (RFC 8259 wants those escaped; cJSON takes them, and a raw
 * NUL cuts the string) or outside one other than whitespace, or the escape \u0000 (an escaped
 * backslash before "u0000" is text and does not count). */
static int has_nul_or_control(const char *text, size_t len) {
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 && (in_string || !is_blank((char)c))) return 1;
        if (!in_string) {
            in_string = c == '"';
            continue;
        }
        if (c == '"') {
            in_string = 0;
        } else if (c == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u' && i + 6 <= len && memcmp(text + i + 2, "0000", 4) == 0)
                return 1;
            i++; /* the escaped character: an escaped backslash then "u0000" is text */
        }
    }
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* NULL if no two members of obj share a name, else one member with a repeated name. Small
 * objects compare pairwise; large ones (a hostile body may hold 100 000 members) sort the names:
 * n log n, not n². */
static const cJSON *repeated_name(const cJSON *obj) {
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        n++;
    if (n <= 16) {
        for (const cJSON *c = obj->child; c; c = c->next)
            for (const cJSON *d = obj->child; d != c; d = d->next)
                if (strcmp(d->string, c->string) == 0) return c;
        return NULL;
    }
    const cJSON **v = malloc(n * sizeof *v);
    if (!v) return obj->child; /* cannot tell: refuse */
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        v[i++] = c;
    qsort(v, n, sizeof *v, cmp_names);
    const cJSON *dup = NULL;
    for (i = 1; i < n && !dup; i++)
        if (strcmp(v[i - 1]->string, v[i]->string) == 0) dup = v[i];
    free(v);
    return dup;
}

/* Append ".name" (or "name" at the top) or "[i]" to the path in where[0..cap). */
static void path_push(char *where, size_t cap, const cJSON *parent, const cJSON *item, int index) {
    size_t used = strlen(where);
    if (used >= cap) return;
    if (cJSON_IsArray(parent))
        snprintf(where + used, cap - used, "[%d]", index);
    else
        snprintf(where + used, cap - used, "%s%s", used ? "." : "", item->string);
}

/* 1 if every number below item is finite and no object has two members of the same name; else 0
 * with where (if cap > 0) naming the offending number or repeated member. cJSON bounds the
 * nesting depth while parsing, so the recursion is bounded too. */
static int tree_ok(const cJSON *item, char *where, size_t cap) {
    if (cJSON_IsNumber(item)) return isfinite(item->valuedouble);
    const cJSON *dup = cJSON_IsObject(item) ? repeated_name(item) : NULL;
    if (dup) {
        if (cap) path_push(where, cap, item, dup, 0);
        return 0;
    }
    size_t mark = cap ? strlen(where) : 0;
    int i = 0;
    for (const cJSON *c = item->child; c; c = c->next, i++) {
        if (cap) path_push(where, cap, item, c, i);
        if (!tree_ok(c, where, cap)) return 0;
        if (cap) where[mark] = '\0';
    }
    return 1;
}

cJSON *aitbc_json_parse_strict_at(const char *text, size_t len, char *where, size_t cap) {
    if (cap) where[0] = '\0';
    if (!text || !aitbc_utf8_valid(text, len) || has_nul_or_control(text, len)) return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) return NULL;
    const char *stop = text + len;
    const char *p = end ? end : stop;
    while (p < stop && is_blank(*p))
        p++;
    if (p != stop) {
        cJSON_Delete(j);
        return NULL;
    }
    if (!tree_ok(j, where, cap)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

cJSON *aitbc_json_parse_strict(const char *text, size_t len) {
    return aitbc_json_parse_strict_at(text, len, NULL, 0);
}
