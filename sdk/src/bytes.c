/* aitbc_bytes: the one growable buffer behind every "collect what libcurl hands us" callback. */
#include <stdlib.h>
#include <string.h>

#include "aitbc/errors.h"
#include "aitbc/util.h"

int aitbc_bytes_append(aitbc_bytes *b, const void *p, size_t n, size_t max) {
    if (n > max || b->len > max - n) return AITBC_EOVERFLOW;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2; /* doubling: amortised O(1) */
        char *grown = realloc(b->data, cap);
        if (!grown) return AITBC_ENOMEM;
        b->data = grown;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void aitbc_bytes_free(aitbc_bytes *b) {
    free(b->data);
    *b = (aitbc_bytes){0};
}
