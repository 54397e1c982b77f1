/* Storage driver, PostgreSQL: running a statement. It is prepared on the server lazily, at its
 * first step, with the types of the values bound then, and the prepared statement is cached per
 * connection keyed by type signature + SQL. A statement the server cannot type that way (a
 * parameter only ever compared with NULL, as in `?1 IS NULL OR x = ?1`) is prepared again with
 * its untyped parameters as text, once per connection.
 *
 * Inside a transaction a failing statement must fail alone (SQLite keeps the transaction usable,
 * PostgreSQL aborts it), so it runs between SAVEPOINT and RELEASE. To keep that to one round
 * trip, SAVEPOINT, the (first-time) prepare, the statement and RELEASE go out together in
 * pipeline mode with one sync; only a failure costs a second round trip (ROLLBACK TO + RELEASE).
 * Three separate round trips measured 27–34 µs per INSERT on loopback, the pipeline 17–19 µs,
 * no savepoint at all 12–27 µs (bench/README.md). Outside a transaction the statement runs
 * alone (prepare and execute still pipelined). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_priv.h"

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

int pg_execute(pg_stmt *s) {
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
