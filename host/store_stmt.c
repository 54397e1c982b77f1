/* Storage driver, SQLite: prepared statements. Each connection caches its statements in a small
 * hash table keyed by the SQL text, so a hot query is compiled once per thread. A cached statement
 * is handed out once at a time; when the same SQL is asked for while its statement is still in
 * use (nested loops over the same query), a second statement is prepared and cached too. Every
 * statement is finalized when its connection closes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_priv.h"

static unsigned sql_hash(const char *s) {
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void store_cache_clear(store_conn *c) {
    for (size_t i = 0; i < STORE_CACHE_BUCKETS; i++) {
        aitbc_stmt *s = c->cache[i];
        while (s) {
            aitbc_stmt *next = s->next;
            sqlite3_finalize(s->st);
            free(s->sql);
            free(s);
            s = next;
        }
        c->cache[i] = NULL;
    }
    memset(c->recent, 0, sizeof c->recent);
}

static aitbc_stmt *stmt_prepare(store_conn *c, const char *sql, unsigned h) {
    aitbc_stmt *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->sql = strdup(sql);
    int rc = s->sql ? sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL)
                    : SQLITE_NOMEM;
    if (rc != SQLITE_OK || !s->st) {
        if (rc == SQLITE_OK) /* only whitespace or a comment: nothing to run */
            hlog("store", AITBC_LOG_ERROR, "empty SQL statement: '%s'", sql);
        else
            store_map_error(c, rc, sql);
        sqlite3_finalize(s->st);
        free(s->sql);
        free(s);
        return NULL;
    }
    s->conn = c;
    s->hash = h;
    s->next = c->cache[h % STORE_CACHE_BUCKETS];
    c->cache[h % STORE_CACHE_BUCKETS] = s;
    return s;
}

/** @brief A ready statement for sql on the calling thread's connection. txn may be NULL
 *  (autocommit, or the thread's open transaction); otherwise it must be this thread's open
 *  transaction. NULL on error (logged). Return it with store_stmt_done. */
aitbc_stmt *sq_stmt(aitbc_txn *t, const char *sql) {
    if (!sql) return NULL;
    store_conn *c = store_conn_get();
    if (!c) return NULL;
    if (t && (t->conn != c || t->depth <= 0)) {
        hlog("store", AITBC_LOG_ERROR,
             "statement for a transaction that is not open on this "
             "thread: %s",
             sql);
        return NULL;
    }
    aitbc_stmt **slot = &c->recent[((uintptr_t)sql >> 3) % STORE_RECENT_SLOTS];
    aitbc_stmt *s = *slot;
    if (s && s->key == sql && !s->in_use && !strcmp(s->sql, sql)) {
        s->in_use = 1;
        return s;
    }
    unsigned h = sql_hash(sql);
    for (s = c->cache[h % STORE_CACHE_BUCKETS]; s; s = s->next)
        if (!s->in_use && s->hash == h && !strcmp(s->sql, sql)) break;
    if (!s) s = stmt_prepare(c, sql, h);
    if (!s) return NULL;
    s->in_use = 1;
    s->key = sql;
    *slot = s;
    return s;
}

static int bind_result(aitbc_stmt *s, int rc) {
    if (rc == SQLITE_OK) return 0;
    if (rc == SQLITE_RANGE) {
        hlog("store", AITBC_LOG_ERROR, "bind index out of range: %s", s->sql);
        return AITBC_EINVAL;
    }
    return rc == SQLITE_NOMEM ? AITBC_ENOMEM : AITBC_EIO;
}

/** @brief Bind a 64-bit integer (1-based index). */
int sq_bind_int64(aitbc_stmt *s, int idx, int64_t v) {
    return s ? bind_result(s, sqlite3_bind_int64(s->st, idx, v)) : AITBC_EINVAL;
}

/** @brief Bind text (copied); NULL binds SQL NULL. */
int sq_bind_text(aitbc_stmt *s, int idx, const char *text) {
    if (!s) return AITBC_EINVAL;
    if (!text) return bind_result(s, sqlite3_bind_null(s->st, idx));
    return bind_result(s, sqlite3_bind_text(s->st, idx, text, -1, SQLITE_TRANSIENT));
}

/** @brief Bind a blob (copied); a zero length binds an empty blob, not NULL. */
int sq_bind_blob(aitbc_stmt *s, int idx, const void *data, size_t len) {
    if (!s || (len && !data)) return AITBC_EINVAL;
    if (!len) return bind_result(s, sqlite3_bind_zeroblob(s->st, idx, 0));
    return bind_result(s, sqlite3_bind_blob64(s->st, idx, data, len, SQLITE_TRANSIENT));
}

/** @brief Bind SQL NULL. */
int sq_bind_null(aitbc_stmt *s, int idx) {
    return s ? bind_result(s, sqlite3_bind_null(s->st, idx)) : AITBC_EINVAL;
}

/** @brief Step: AITBC_ROW, AITBC_DONE, AITBC_EEXIST (UNIQUE/PRIMARY KEY), AITBC_EBUSY, AITBC_EIO.
 */
int sq_step(aitbc_stmt *s) {
    if (!s) return AITBC_EINVAL;
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_ROW) return AITBC_ROW;
    if (rc == SQLITE_DONE) return AITBC_DONE;
    return store_map_error(s->conn, rc, s->sql);
}

/** @brief Column as int64 (0-based; 0 for NULL). */
int64_t sq_col_int64(aitbc_stmt *s, int col) {
    return s ? sqlite3_column_int64(s->st, col) : 0;
}

/** @brief Column as text, NULL for SQL NULL; borrowed until the next step or stmt_done. */
const char *sq_col_text(aitbc_stmt *s, int col) {
    return s ? (const char *)sqlite3_column_text(s->st, col) : NULL;
}

/** @brief Column as bytes; NULL for SQL NULL, a valid pointer (len 0) for an empty blob. */
const void *sq_col_blob(aitbc_stmt *s, int col, size_t *len) {
    static const char empty[1];
    if (len) *len = 0;
    if (!s || sqlite3_column_type(s->st, col) == SQLITE_NULL) return NULL;
    const void *p = sqlite3_column_blob(s->st, col);
    int n = sqlite3_column_bytes(s->st, col);
    if (len) *len = n > 0 ? (size_t)n : 0;
    return p ? p : empty;
}

/** @brief 1 if the column is SQL NULL. */
int sq_col_is_null(aitbc_stmt *s, int col) {
    return !s || sqlite3_column_type(s->st, col) == SQLITE_NULL;
}

/** @brief Rows changed by the most recent write on the statement's connection. */
int64_t sq_changes(aitbc_stmt *s) {
    return s ? sqlite3_changes64(s->conn->db) : 0;
}

/** @brief Reset, clear bindings and return the statement to its connection's cache. */
void sq_stmt_done(aitbc_stmt *s) {
    if (!s) return;
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    s->in_use = 0;
}
