/* Schema migrations, for both storage drivers (through the store_* functions). Each plugin (and the
 * host itself, as "host") owns numbered steps; host_schema records which (plugin, version) pairs
 * were applied. A missing step runs in its own write transaction together with its host_schema row,
 * so a step is either fully applied and recorded or not at all; a failing step stops the migration
 * (earlier steps stay). */
#include <string.h>

#include "store_driver.h"

/* 1 if applied, 0 if not, negative on error. */
static int step_applied(aitbc_txn *t, const char *plugin, int version) {
    aitbc_stmt *s = store_stmt(t, "SELECT 1 FROM host_schema WHERE plugin=? AND version=?");
    if (!s) return AITBC_EIO;
    store_bind_text(s, 1, plugin);
    store_bind_int64(s, 2, version);
    int rc = store_step(s);
    store_stmt_done(s);
    return rc == AITBC_ROW ? 1 : rc;
}

static int record_step(aitbc_txn *t, const char *plugin, int version) {
    aitbc_stmt *s = store_stmt(t, "INSERT INTO host_schema (plugin, version, applied_at) "
                                  "VALUES (?, ?, ?)");
    if (!s) return AITBC_EIO;
    store_bind_text(s, 1, plugin);
    store_bind_int64(s, 2, version);
    store_bind_int64(s, 3, aitbc_now_ms());
    int rc = store_step(s);
    store_stmt_done(s);
    return rc < 0 ? rc : 0;
}

/* Applies one step if missing. 0 or a negative code (logged). */
static int migrate_one(const char *plugin, const aitbc_migration *m) {
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EIO;
    int rc = step_applied(t, plugin, m->version);
    if (rc == 0) {
        hlog("store", AITBC_LOG_INFO, "%s: applying migration %d", plugin, m->version);
        rc = store_txn_exec(t, m->sql);
        if (rc == 0) rc = record_step(t, plugin, m->version);
    } else if (rc == 1) {
        rc = 0;
    }
    if (rc < 0) {
        store_txn_rollback(t);
        return rc;
    }
    return store_txn_commit(t);
}

/** @brief Apply the plugin's missing steps in order, each in its own transaction. Steps must have
 *  increasing versions >= 1. 0, or the first failure (AITBC_EINVAL, AITBC_EIO, AITBC_EBUSY). */
int store_migrate(const char *plugin, const aitbc_migration *steps, size_t n) {
    if (!plugin || !plugin[0] || (n && !steps)) {
        hlog("store", AITBC_LOG_ERROR, "migrate: bad arguments");
        return AITBC_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (steps[i].version < 1 || !steps[i].sql ||
            (i && steps[i].version <= steps[i - 1].version)) {
            hlog("store", AITBC_LOG_ERROR,
                 "%s: migration step %zu has a bad version (%d) or no "
                 "SQL: versions start at 1 and increase",
                 plugin, i, steps[i].version);
            return AITBC_EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int rc = migrate_one(plugin, &steps[i]);
        if (rc != 0) {
            hlog("store", AITBC_LOG_ERROR,
                 "%s: migration %d failed; the schema stays at the "
                 "previous step",
                 plugin, steps[i].version);
            return rc;
        }
    }
    return 0;
}
