/* Shared-database checks and generation rows (see aitbc/shared.h for the rules). */
#include "aitbc/shared.h"
#include "aitbc/errors.h"
#include "aitbc/store.h"
#include "aitbc/host.h"
#include "aitbc/txn.h"
#include <stdio.h>

int aitbc_store_shared(const aitbc_host_api *api) {
    /* Several hosts share a PostgreSQL database; a SQLite file has one host. */
    return aitbc_store_is_postgres(api);
}

/* The statement text for table; the host caches prepared statements by text, so building it per
 * call costs a format, not a prepare. */
static int sql_for(char *out, size_t cap, const char *fmt, const char *table) {
    int n = snprintf(out, cap, fmt, table);
    return n > 0 && (size_t)n < cap ? 0 : AITBC_EINVAL;
}

int aitbc_gen_bump(const aitbc_host_api *api, aitbc_txn *t, const char *table, const char *name) {
    if (!aitbc_store_shared(api)) return 0;
    char sql[160];
    if (!t || sql_for(sql, sizeof sql, "UPDATE %s SET n = n + 1 WHERE name = ?1", table) != 0)
        return AITBC_EINVAL;
    aitbc_stmt *s = api->stmt(t, sql);
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, name);
    int rc = api->step(s);
    /* A missing row would make every bump vanish: the plugin's migration forgot it. */
    if (rc >= 0 && api->changes(s) != 1) rc = AITBC_ENOTFOUND;
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

int aitbc_gen_read(const aitbc_host_api *api, aitbc_txn *t, const char *table, const char *name,
                   int64_t *n) {
    char sql[160];
    *n = 0;
    if (sql_for(sql, sizeof sql, "SELECT n FROM %s WHERE name = ?1", table) != 0)
        return AITBC_EINVAL;
    aitbc_txn_use use;
    aitbc_txn *r = aitbc_txn_join(api, t, AITBC_TXN_READ, &use);
    if (!r) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(r, sql);
    int rc = AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, name);
        rc = api->step(s);
        if (rc == AITBC_ROW) *n = api->col_int64(s, 0);
        api->stmt_done(s);
    }
    rc = rc == AITBC_ROW || rc == AITBC_DONE ? 0 : rc;
    aitbc_txn_leave(api, &use, 0, 0); /* a read: ending it never fails the answer */
    return rc;
}
