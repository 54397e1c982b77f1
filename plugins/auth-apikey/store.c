/* The auth_keys table: one row per key with its hash (never the secret), role, owner, label,
 * times and revocation. Every function takes the caller's transaction or opens a short one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_apikey.h"

static const aitbc_migration k_steps[] = {
    {1, "CREATE TABLE auth_keys ("
        " key_id TEXT PRIMARY KEY,"
        " role TEXT NOT NULL CHECK (role IN ('client','miner','admin')),"
        " owner_address TEXT NOT NULL,"
        " label TEXT NOT NULL,"
        " key_hash BLOB NOT NULL CHECK (length(key_hash) = 32),"
        " created_at INTEGER NOT NULL,"
        " last_used_at INTEGER,"
        " revoked_at INTEGER);"
        "CREATE INDEX auth_keys_by_created ON auth_keys(created_at DESC, key_id DESC);"
        "CREATE INDEX auth_keys_by_owner ON auth_keys(owner_address, role);"},
    {2, "CREATE TABLE auth_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"},
};

int store_migrate_keys(auth_state *st) {
    return st->api->migrate(st->ctx, k_steps, sizeof k_steps / sizeof k_steps[0]);
}

int store_insert_key(auth_state *st, aitbc_txn *txn, const char *key_id, unsigned role,
                     const char *owner, const char *label,
                     const unsigned char hash[KEYFMT_HASH_BYTES], int64_t created_ms) {
    const aitbc_host_api *api = st->api;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EIO;
    int rc = AITBC_EIO;
    aitbc_stmt *s =
        api->stmt(t, "INSERT INTO auth_keys (key_id, role, owner_address, label, key_hash,"
                     " created_at) VALUES (?, ?, ?, ?, ?, ?)");
    if (s) {
        api->bind_text(s, 1, key_id);
        api->bind_text(s, 2, keyfmt_role_name(role));
        api->bind_text(s, 3, owner);
        api->bind_text(s, 4, label);
        api->bind_blob(s, 5, hash, KEYFMT_HASH_BYTES);
        api->bind_int64(s, 6, created_ms);
        rc = api->step(s) == AITBC_DONE ? 0 : AITBC_EIO;
        api->stmt_done(s);
    }
    return aitbc_txn_leave(api, &use, rc, 1);
}

int store_load_key(auth_state *st, const char *key_id, kc_row *row) {
    const aitbc_host_api *api = st->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EIO;
    int rc = AITBC_EIO;
    /* revoked as 0/1: a bare `IS NOT NULL` is a boolean on PostgreSQL, not a number. */
    aitbc_stmt *s = api->stmt(t, "SELECT role, owner_address, key_hash,"
                                 " CASE WHEN revoked_at IS NOT NULL THEN 1 ELSE 0 END"
                                 " FROM auth_keys WHERE key_id = ?");
    if (s) {
        api->bind_text(s, 1, key_id);
        int r = api->step(s);
        if (r == AITBC_ROW) {
            size_t len = 0;
            const void *h = api->col_blob(s, 2, &len);
            const char *owner = api->col_text(s, 1);
            memset(row, 0, sizeof *row);
            row->role = keyfmt_role_from_name(api->col_text(s, 0));
            if (owner) strncpy(row->owner, owner, sizeof row->owner - 1);
            if (h && len == KEYFMT_HASH_BYTES)
                memcpy(row->hash, h, KEYFMT_HASH_BYTES);
            else
                row->revoked = 1; /* a damaged row must never authenticate */
            row->revoked |= (int)api->col_int64(s, 3);
            rc = 0;
        } else if (r == AITBC_DONE) {
            rc = AITBC_ENOTFOUND;
        }
        api->stmt_done(s);
    }
    api->txn_commit(t);
    return rc;
}

int store_revoke_key(auth_state *st, aitbc_txn *txn, const char *key_id, int64_t now_ms,
                     char owner_out[48]) {
    const aitbc_host_api *api = st->api;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EIO;
    int rc = AITBC_EIO, wrote = 0;
    aitbc_stmt *s = api->stmt(t, "SELECT owner_address FROM auth_keys WHERE key_id = ?");
    if (s) {
        api->bind_text(s, 1, key_id);
        int r = api->step(s);
        if (r == AITBC_ROW) {
            const char *o = api->col_text(s, 0);
            memset(owner_out, 0, 48);
            if (o) strncpy(owner_out, o, 47);
            rc = 0;
        } else if (r == AITBC_DONE) {
            rc = AITBC_ENOTFOUND;
        }
        api->stmt_done(s);
    }
    if (rc == 0) {
        s = api->stmt(
            t, "UPDATE auth_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL");
        rc = AITBC_EIO;
        wrote = 1;
        if (s) {
            api->bind_int64(s, 1, now_ms);
            api->bind_text(s, 2, key_id);
            rc = api->step(s) == AITBC_DONE ? 0 : AITBC_EIO;
            api->stmt_done(s);
        }
    }
    /* An unknown key wrote nothing: not a failure of the transaction. */
    return aitbc_txn_leave(api, &use, rc, wrote);
}

int store_owner_keys(auth_state *st, aitbc_txn *txn, const char *owner, unsigned role,
                     char (**ids)[48], size_t *n) {
    const aitbc_host_api *api = st->api;
    aitbc_txn_use use;
    *ids = NULL;
    *n = 0;
    aitbc_txn *t = aitbc_txn_join(api, txn, AITBC_TXN_READ, &use);
    if (!t) return AITBC_EIO;
    int rc = AITBC_EIO;
    aitbc_stmt *s = api->stmt(t, "SELECT key_id FROM auth_keys WHERE owner_address = ? AND role = ?"
                                 " AND revoked_at IS NULL");
    if (s) {
        api->bind_text(s, 1, owner);
        api->bind_text(s, 2, keyfmt_role_name(role));
        size_t cap = 0;
        int r;
        rc = 0;
        while ((r = api->step(s)) == AITBC_ROW) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 4;
                char(*grown)[48] = realloc(*ids, cap * sizeof *grown);
                if (!grown) {
                    rc = AITBC_ENOMEM;
                    break;
                }
                *ids = grown;
            }
            const char *id = api->col_text(s, 0);
            memset((*ids)[*n], 0, 48);
            if (id) strncpy((*ids)[*n], id, 47);
            (*n)++;
        }
        if (rc == 0 && r != AITBC_DONE) rc = AITBC_EIO;
        api->stmt_done(s);
    }
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    /* A read: committing our own never fails the caller's work. */
    return aitbc_txn_leave(api, &use, 0, 0) ? AITBC_EIO : rc;
}

int store_count_admins(auth_state *st, int64_t *n) {
    const aitbc_host_api *api = st->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EIO;
    int rc = AITBC_EIO;
    aitbc_stmt *s = api->stmt(t, "SELECT count(*) FROM auth_keys WHERE role = 'admin'"
                                 " AND revoked_at IS NULL");
    if (s) {
        if (api->step(s) == AITBC_ROW) {
            *n = api->col_int64(s, 0);
            rc = 0;
        }
        api->stmt_done(s);
    }
    api->txn_commit(t);
    return rc;
}

void store_flush_used(auth_state *st, const kc_used *used, size_t n) {
    if (n == 0) return;
    const aitbc_host_api *api = st->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* The later of the stored and the new time (scalar max() is SQLite's only). */
        aitbc_stmt *s = api->stmt(
            t, "UPDATE auth_keys SET last_used_at = CASE WHEN coalesce(last_used_at, 0) > ?1"
               " THEN coalesce(last_used_at, 0) ELSE ?1 END WHERE key_id = ?2");
        if (!s) {
            rc = AITBC_EIO;
            break;
        }
        api->bind_int64(s, 1, used[i].last_used_ms);
        api->bind_text(s, 2, used[i].key_id);
        if (api->step(s) != AITBC_DONE) rc = AITBC_EIO;
        api->stmt_done(s);
    }
    if (rc == 0)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    if (rc != 0) api->log(st->ctx, AITBC_LOG_WARN, "could not record last use of %zu keys", n);
}

void auth_add_time(cJSON *obj, const char *name, int64_t ms) {
    if (ms <= 0) {
        cJSON_AddNullToObject(obj, name);
        return;
    }
    char buf[AITBC_TIME_MAX];
    aitbc_time_format(ms, buf);
    cJSON_AddStringToObject(obj, name, buf);
}

int64_t auth_last_used(auth_state *st, const char *key_id, int64_t stored_ms) {
    /* The database lags by up to a flush interval; memory knows the latest use. */
    int64_t mem = kc_last_used(st->cache, key_id);
    return mem > stored_ms ? mem : stored_ms;
}

/* Columns: key_id, role, label, owner_address, created_at, last_used_at, revoked_at. */
static cJSON *row_json(auth_state *st, aitbc_stmt *s) {
    const aitbc_host_api *api = st->api;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    const char *key_id = api->col_text(s, 0);
    aitbc_json_add_str(o, "key_id", key_id);
    aitbc_json_add_str(o, "role", api->col_text(s, 1));
    aitbc_json_add_str(o, "label", api->col_text(s, 2));
    aitbc_json_add_str(o, "address", api->col_text(s, 3));
    auth_add_time(o, "created_at", api->col_int64(s, 4));
    int64_t used = api->col_is_null(s, 5) ? 0 : api->col_int64(s, 5);
    auth_add_time(o, "last_used_at", key_id ? auth_last_used(st, key_id, used) : used);
    int revoked = !api->col_is_null(s, 6);
    cJSON_AddBoolToObject(o, "revoked", revoked);
    if (revoked) auth_add_time(o, "revoked_at", api->col_int64(s, 6));
    return o;
}

int store_key_view(auth_state *st, aitbc_txn *txn, const char *key_id, ac_view *out) {
    const aitbc_host_api *api = st->api;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(api, txn, AITBC_TXN_READ, &use);
    if (!t) return AITBC_EIO;
    int rc = AITBC_EIO;
    aitbc_stmt *s = api->stmt(t, "SELECT label, created_at, last_used_at FROM auth_keys"
                                 " WHERE key_id = ?");
    if (s) {
        api->bind_text(s, 1, key_id);
        int r = api->step(s);
        if (r == AITBC_ROW) {
            const char *label = api->col_text(s, 0);
            snprintf(out->label, sizeof out->label, "%s", label ? label : "");
            out->created_ms = api->col_int64(s, 1);
            out->used_ms = api->col_is_null(s, 2) ? 0 : api->col_int64(s, 2);
            out->has_row = 1;
            rc = 0;
        } else if (r == AITBC_DONE) {
            rc = AITBC_ENOTFOUND;
        }
        api->stmt_done(s);
    }
    return aitbc_txn_leave(api, &use, rc, 0);
}

int store_list_keys(auth_state *st, unsigned role, const char *owner, int64_t after_ms,
                    const char *after_id, int limit, cJSON *items) {
    const aitbc_host_api *api = st->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EIO;
    int rc = AITBC_EIO;
    aitbc_stmt *s = api->stmt(
        t, "SELECT key_id, role, label, owner_address, created_at, last_used_at, revoked_at"
           " FROM auth_keys WHERE (CAST(?1 AS TEXT) IS NULL OR role = ?1)"
           " AND (CAST(?2 AS TEXT) IS NULL OR owner_address = ?2)"
           " AND (CAST(?3 AS INTEGER) IS NULL OR created_at < ?3"
           " OR (created_at = ?3 AND key_id < ?4))"
           " ORDER BY created_at DESC, key_id DESC LIMIT ?5");
    if (s) {
        if (role)
            api->bind_text(s, 1, keyfmt_role_name(role));
        else
            api->bind_null(s, 1);
        if (owner)
            api->bind_text(s, 2, owner);
        else
            api->bind_null(s, 2);
        if (after_id) {
            api->bind_int64(s, 3, after_ms);
            api->bind_text(s, 4, after_id);
        } else {
            api->bind_null(s, 3);
            api->bind_null(s, 4);
        }
        api->bind_int64(s, 5, (int64_t)limit + 1);
        int r;
        rc = 0;
        while ((r = api->step(s)) == AITBC_ROW) {
            cJSON *o = row_json(st, s);
            if (!o) {
                rc = AITBC_ENOMEM;
                break;
            }
            cJSON_AddItemToArray(items, o);
        }
        if (rc == 0 && r != AITBC_DONE) rc = AITBC_EIO;
        api->stmt_done(s);
    }
    api->txn_commit(t);
    return rc;
}
