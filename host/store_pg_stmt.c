/* Storage driver, PostgreSQL: statements. A statement handle is cached per connection by its SQL
 * text, like the SQLite driver's; it is prepared on the server lazily, at its first step, with
 * the types of the values bound then (int64 -> int8, blob -> bytea, text and NULL unspecified so
 * the server infers them), and the prepared statement is cached per connection keyed by SQL +
 * type signature. A statement the server cannot type that way (a parameter only ever compared
 * with NULL, as in `?1 IS NULL OR x = ?1`) is prepared again with its unspecified parameters as
 * text, once per connection. Results come back whole, in text format: col_int64 parses, col_text
 * borrows, col_blob decodes bytea (valid until the next step or stmt_done, as with SQLite).
 *
 * Inside a transaction a failing statement must fail alone (SQLite keeps the transaction usable,
 * PostgreSQL aborts it), so it runs between SAVEPOINT and RELEASE. To keep that to one round
 * trip, the (first-time) prepare, SAVEPOINT, the statement and RELEASE go out together in
 * pipeline mode with one sync; only a failure costs a second round trip (ROLLBACK TO + RELEASE).
 * Outside a transaction the statement runs alone (prepare and execute still pipelined). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_priv.h"

#define OID_INT8 20
#define OID_BYTEA 17
#define OID_TEXT 25

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

void pg_preps_forget(pg_conn *c) {
    for (size_t i = 0; i < PG_CACHE_BUCKETS; i++) {
        pg_prep *p = c->preps[i];
        while (p) {
            pg_prep *next = p->next;
            free(p->key);
            free(p);
            p = next;
        }
        c->preps[i] = NULL;
    }
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

/* The prepared statement for the bound types, registered (not yet sent) if new: *fresh = 1. */
static pg_prep *prep_for(pg_stmt *s, int *fresh) {
    pg_conn *c = s->conn;
    size_t klen = (size_t)s->nparams + 1 + strlen(s->pgsql) + 1;
    char *key = malloc(klen);
    if (!key) return NULL;
    snprintf(key, klen, "%s\n%s", s->sig, s->pgsql);
    unsigned h = pg_hash(key);
    for (pg_prep *p = c->preps[h % PG_CACHE_BUCKETS]; p; p = p->next) {
        if (p->hash == h && !strcmp(p->key, key)) {
            free(key);
            *fresh = 0;
            return p;
        }
    }
    pg_prep *p = calloc(1, sizeof *p);
    if (!p) {
        free(key);
        return NULL;
    }
    p->key = key;
    p->hash = h;
    snprintf(p->name, sizeof p->name, "a%u", ++c->prep_seq);
    *fresh = 1;
    return p;
}

static void prep_keep(pg_conn *c, pg_prep *p) {
    p->next = c->preps[p->hash % PG_CACHE_BUCKETS];
    c->preps[p->hash % PG_CACHE_BUCKETS] = p;
}

/* In sending order: a failing prepare must fall inside the savepoint too. */
enum { OP_SAVEPOINT, OP_PREPARE, OP_RUN, OP_RELEASE, OP_COUNT };

/* Reads the results of a pipeline of the ops marked in sent[], each op's first result into
 * res[op], then the sync. 0, or -1 when the stream broke off (connection lost). */
static int collect(PGconn *db, const int *sent, PGresult **res) {
    for (int op = 0; op < OP_COUNT; op++) {
        if (!sent[op]) continue;
        PGresult *r = PQgetResult(db);
        if (!r) return -1;
        res[op] = r;
        while ((r = PQgetResult(db)))
            PQclear(r); /* the NULL that ends an op's results */
    }
    PGresult *sync = PQgetResult(db);
    int ok = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    return ok ? 0 : -1;
}

static int ok_status(const PGresult *r) {
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The rows a command changed, counted as SQLite's changes(): INSERT, UPDATE, DELETE only. */
static void note_changes(pg_conn *c, const PGresult *r) {
    const char *status = PQcmdStatus((PGresult *)r);
    if (!strncmp(status, "INSERT", 6) || !strncmp(status, "UPDATE", 6) ||
        !strncmp(status, "DELETE", 6) || !strncmp(status, "MERGE", 5))
        c->changes = strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
}

/* Whether a failed prepare only lacked a parameter's type: `?1 IS NULL OR x = ?1` with NULL
 * or text bound leaves the server nothing to infer from. */
static int untyped(const PGresult *r) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state && (!strcmp(state, "42P18") || !strcmp(state, "42P08"));
}

/* One pipeline: [SAVEPOINT] [prepare] run [RELEASE], sync. as_text: unspecified parameters are
 * prepared as text. *retry is set (nothing logged) when the prepare failed only for want of a
 * parameter type and a text retry may work. 0 or an AITBC_E* code. */
static int run_pipeline(pg_stmt *s, pg_prep *p, int prepare, int as_text, int *retry) {
    pg_conn *c = s->conn;
    Oid types[s->nparams + 1];
    int unspecified = 0;
    for (int i = 0; i < s->nparams; i++) {
        types[i] = s->sig[i] == 'i' ? OID_INT8 : s->sig[i] == 'b' ? OID_BYTEA : 0;
        if (!types[i]) unspecified = 1;
        if (!types[i] && as_text) types[i] = OID_TEXT;
    }
    int guarded = PQtransactionStatus(c->db) == PQTRANS_INTRANS;
    int sent[OP_COUNT] = {0};
    PGresult *res[OP_COUNT] = {0};
    int ok = PQenterPipelineMode(c->db);
    if (ok && guarded)
        ok = sent[OP_SAVEPOINT] =
            PQsendQueryParams(c->db, "SAVEPOINT aitbc_st", 0, NULL, NULL, NULL, NULL, 0);
    if (ok && prepare)
        ok = sent[OP_PREPARE] = PQsendPrepare(c->db, p->name, s->pgsql, s->nparams, types);
    if (ok)
        ok = sent[OP_RUN] = PQsendQueryPrepared(c->db, p->name, s->nparams,
                                                (const char *const *)s->vals, s->lens, s->fmts, 0);
    if (ok && guarded)
        ok = sent[OP_RELEASE] =
            PQsendQueryParams(c->db, "RELEASE aitbc_st", 0, NULL, NULL, NULL, NULL, 0);
    if (ok) ok = PQpipelineSync(c->db);
    if (ok) ok = collect(c->db, sent, res) == 0;
    if (!PQexitPipelineMode(c->db) && !c->broken && PQstatus(c->db) == CONNECTION_OK) {
        /* Results left unread: the connection cannot be trusted with the next statement. */
        hlog("store", AITBC_LOG_ERROR, "PostgreSQL pipeline out of step (%s): reconnecting",
             s->sql);
        c->broken = 1;
    }

    int rc = 0;
    const PGresult *bad = NULL;
    for (int op = 0; op < OP_COUNT && !bad; op++)
        if (sent[op] && res[op] && !ok_status(res[op])) bad = res[op];
    if (sent[OP_PREPARE] && res[OP_PREPARE] && ok_status(res[OP_PREPARE])) p->prepared = 1;
    if (!ok || bad) {
        if (ok && bad == res[OP_PREPARE] && untyped(bad) && unspecified && !as_text)
            *retry = 1, rc = AITBC_EIO;
        else /* the op that failed carries the error; the ones after it were skipped */
            rc = pg_map_error(c, bad && PQresultStatus(bad) != PGRES_PIPELINE_ABORTED ? bad : NULL,
                              s->sql);
        if (guarded && !c->broken && res[OP_SAVEPOINT] && ok_status(res[OP_SAVEPOINT]) &&
            PQtransactionStatus(c->db) == PQTRANS_INERROR)
            pg_exec(c, "ROLLBACK TO aitbc_st; RELEASE aitbc_st");
    }
    if (rc == 0) {
        s->res = res[OP_RUN];
        res[OP_RUN] = NULL;
        note_changes(c, s->res);
    }
    for (int op = 0; op < OP_COUNT; op++)
        PQclear(res[op]);
    return rc;
}

/* Runs the statement with its bindings: s->res holds the rows. 0 or an AITBC_E* code. */
static int execute(pg_stmt *s) {
    pg_conn *c = s->conn;
    if (c->broken) {
        hlog("store", AITBC_LOG_ERROR, "no PostgreSQL connection (lost): %s", s->sql);
        return AITBC_EIO;
    }
    int fresh = 0, retry = 0;
    pg_prep *p = prep_for(s, &fresh);
    if (!p) return AITBC_ENOMEM;
    int rc = run_pipeline(s, p, fresh, 0, &retry);
    /* The retry is cached under the same key: later executions use the text-typed statement. */
    if (retry) rc = run_pipeline(s, p, 1, 1, &retry);
    if (fresh) {
        if (p->prepared)
            prep_keep(c, p);
        else {
            free(p->key);
            free(p);
        }
    }
    return rc;
}

int pg_step(aitbc_stmt *h) {
    pg_stmt *s = H(h);
    if (!s) return AITBC_EINVAL;
    if (!s->res) {
        int rc = execute(s);
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
