/* A libpq connection string fit to print (--check-config, logs): every setting it makes except
 * the password. */
#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>

#include "internal.h"

void store_dsn_redacted(const char *dsn, char *out, size_t cap) {
    if (!cap) return;
    out[0] = '\0';
    PQconninfoOption *opts = PQconninfoParse(dsn ? dsn : "", NULL);
    if (!opts) {
        snprintf(out, cap, "(not a libpq connection string)");
        return;
    }
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !o->val[0] || !strcmp(o->keyword, "password")) continue;
        int w = snprintf(out + n, cap - n, "%s%s=%s", n ? " " : "", o->keyword, o->val);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
    PQconninfoFree(opts);
}
