/* Storage driver, PostgreSQL: statement handles. A handle is cached per connection by its SQL
 * text, like the SQLite driver's, and holds its bindings and its last result; running it is
 * store_pg_exec.c's job. Bindings: int64 as int8, blob as bytea (binary), text and NULL with no
 * type so the server infers it. Results come back whole, in text format: col_int64 parses,
 * col_text borrows, col_blob decodes bytea (valid until the next step or stmt_done, as with
 * SQLite). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_priv.h"

static pg_stmt *H(aitbc_stmt *s) {
    return (pg_stmt *)s;
}

static void free_blobs(pg_stmt *s) {
    for (int i = 0; i < s->nblobs; i++) {
        PQfreemem(s->blobs[i]);
        s->blobs[i] = NULL;
    }
}

static void clear_result(pg_stmt *s) {
    free_blobs(s);
    PQclear(s->res);
    s->res = NULL;
    s->row = -1;
}

static void clear_bindings(pg_stmt *s) {
    for (int i = 0; i < s->nparams; i++) {
        free(s->vals[i]);
        s->vals[i] = NULL;
        s->lens[i] = 0;
        s->fmts[i] = 0;
        s->sig[i] = 'u';
    }
}

static void stmt_free(pg_stmt *s) {
    clear_result(s);
    clear_bindings(s);
    free(s->blobs);
    free(s->bloblens);
    free(s->vals);
    free(s->lens);
    free(s->fmts);
    free(s->sig);
    free(s->sql);
    free(s->pgsql);
    free(s);
}

void pg_cache_clear(pg_conn *c) {
    for (size_t i = 0; i < PG_CACHE_BUCKETS; i++) {
        pg_stmt *s = c->cache[i];
        while (s) {
            pg_stmt *next = s->next;
            stmt_free(s);
            s = next;
        }
        c->cache[i] = NULL;
    }
    pg_preps_forget(c);
}

static pg_stmt *stmt_new(pg_conn *c, const char *sql, unsigned h) {
    pg_stmt *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->conn = c;
    s->hash = h;
    s->row = -1;
    s->sql = strdup(sql);
    s->pgsql = s->sql ? store_pg_rewrite(sql, &s->nparams) : NULL;
    size_t n = (size_t)s->nparams + 1;
    s->vals = calloc(n, sizeof *s->vals);
    s->lens = calloc(n, sizeof *s->lens);
    s->fmts = calloc(n, sizeof *s->fmts);
    s->sig = calloc(n, 1);
    if (!s->pgsql || !s->vals || !s->lens || !s->fmts || !s->sig) {
        stmt_free(s);
        return NULL;
    }
    memset(s->sig, 'u', (size_t)s->nparams);
    s->next = c->cache[h % PG_CACHE_BUCKETS];
    c->cache[h % PG_CACHE_BUCKETS] = s;
    return s;
}

aitbc_stmt *pg_stmt_get(aitbc_txn *t, const char *sql) {
    if (!sql) return NULL;
    pg_conn *c = pg_conn_get();
    if (!c) return NULL;
    if (t && (t->conn != c || t->depth <= 0)) {
        hlog("store", AITBC_LOG_ERROR,
             "statement for a transaction that is not open on this thread: %s", sql);
        return NULL;
    }
    unsigned h = pg_hash(sql);
    for (pg_stmt *s = c->cache[h % PG_CACHE_BUCKETS]; s; s = s->next) {
        if (!s->in_use && s->hash == h && !strcmp(s->sql, sql)) {
            s->in_use = 1;
            return (aitbc_stmt *)s;
        }
    }
    pg_stmt *s = stmt_new(c, sql, h);
    if (!s) return NULL;
    s->in_use = 1;
    return (aitbc_stmt *)s;
}

/* Checks an index and drops the old value; 0 or AITBC_EINVAL (logged). */
static int bind_slot(pg_stmt *s, int idx) {
    if (idx < 1 || idx > s->nparams) {
        hlog("store", AITBC_LOG_ERROR, "bind index out of range: %s", s->sql);
        return AITBC_EINVAL;
    }
    free(s->vals[idx - 1]);
    s->vals[idx - 1] = NULL;
    s->lens[idx - 1] = 0;
    s->fmts[idx - 1] = 0;
    s->sig[idx - 1] = 'u';
    return 0;
}

int pg_bind_int64(aitbc_stmt *h, int idx, int64_t v) {
    pg_stmt *s = H(h);
    if (!s) return AITBC_EINVAL;
    int rc = bind_slot(s, idx);
    if (rc) return rc;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)v);
    if (!(s->vals[idx - 1] = strdup(num))) return AITBC_ENOMEM;
    s->sig[idx - 1] = 'i';
    return 0;
}

int pg_bind_text(aitbc_stmt *h, int idx, const char *text) {
    pg_stmt *s = H(h);
    if (!s) return AITBC_EINVAL;
    int rc = bind_slot(s, idx);
    if (rc || !text) return rc;
    return (s->vals[idx - 1] = strdup(text)) ? 0 : AITBC_ENOMEM;
}

int pg_bind_blob(aitbc_stmt *h, int idx, const void *data, size_t len) {
    pg_stmt *s = H(h);
    if (!s || (len && !data) || len > (size_t)0x3fffffff) return AITBC_EINVAL;
    int rc = bind_slot(s, idx);
    if (rc) return rc;
    /* Sent in binary format: no escaping, and an empty blob is empty, not NULL. */
    if (!(s->vals[idx - 1] = malloc(len ? len : 1))) return AITBC_ENOMEM;
    if (len) memcpy(s->vals[idx - 1], data, len);
    s->lens[idx - 1] = (int)len;
    s->fmts[idx - 1] = 1;
    s->sig[idx - 1] = 'b';
    return 0;
}

int pg_bind_null(aitbc_stmt *h, int idx) {
    pg_stmt *s = H(h);
    return s ? bind_slot(s, idx) : AITBC_EINVAL;
}

int pg_step(aitbc_stmt *h) {
    pg_stmt *s = H(h);
    if (!s) return AITBC_EINVAL;
    if (!s->res) {
        int rc = pg_execute(s);
        if (rc != 0) return rc;
    }
    free_blobs(s);
    s->row++;
    return s->row < PQntuples(s->res) ? AITBC_ROW : AITBC_DONE;
}

/* Whether col of the current row exists. */
static int have(const pg_stmt *s, int col) {
    return s && s->res && s->row >= 0 && s->row < PQntuples(s->res) && col >= 0 &&
           col < PQnfields(s->res);
}

int64_t pg_col_int64(aitbc_stmt *h, int col) {
    pg_stmt *s = H(h);
    if (!have(s, col) || PQgetisnull(s->res, s->row, col)) return 0;
    const char *v = PQgetvalue(s->res, s->row, col);
    if (v[0] == 't' && !v[1]) return 1; /* boolean, as SQLite's 1 */
    return strtoll(v, NULL, 10);
}

const char *pg_col_text(aitbc_stmt *h, int col) {
    pg_stmt *s = H(h);
    if (!have(s, col) || PQgetisnull(s->res, s->row, col)) return NULL;
    return PQgetvalue(s->res, s->row, col);
}

const void *pg_col_blob(aitbc_stmt *h, int col, size_t *len) {
    static const char empty[1];
    pg_stmt *s = H(h);
    if (len) *len = 0;
    if (!have(s, col) || PQgetisnull(s->res, s->row, col)) return NULL;
    if (PQftype(s->res, col) != OID_BYTEA) {
        /* Text read as bytes, as SQLite gives them. */
        if (len) *len = (size_t)PQgetlength(s->res, s->row, col);
        return PQgetvalue(s->res, s->row, col);
    }
    if (!s->blobs) {
        /* A statement's SQL fixes its columns: sized once, reused for every row. */
        size_t n = (size_t)PQnfields(s->res) + 1;
        s->blobs = calloc(n, sizeof *s->blobs);
        s->bloblens = calloc(n, sizeof *s->bloblens);
        if (!s->blobs || !s->bloblens) {
            free(s->blobs);
            free(s->bloblens);
            s->blobs = NULL;
            s->bloblens = NULL;
            return NULL;
        }
        s->nblobs = PQnfields(s->res);
    }
    if (col >= s->nblobs) return NULL;
    if (!s->blobs[col]) {
        s->blobs[col] = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, col),
                                        &s->bloblens[col]);
        if (!s->blobs[col]) return NULL;
    }
    if (len) *len = s->bloblens[col];
    return s->bloblens[col] ? (const void *)s->blobs[col] : (const void *)empty;
}

int pg_col_is_null(aitbc_stmt *h, int col) {
    pg_stmt *s = H(h);
    return !have(s, col) || PQgetisnull(s->res, s->row, col);
}

int64_t pg_changes(aitbc_stmt *h) {
    pg_stmt *s = H(h);
    return s ? s->conn->changes : 0;
}

void pg_stmt_done(aitbc_stmt *h) {
    pg_stmt *s = H(h);
    if (!s) return;
    clear_result(s);
    clear_bindings(s);
    s->in_use = 0;
}
