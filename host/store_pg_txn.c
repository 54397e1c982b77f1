/* Storage driver, PostgreSQL: transactions, with the SQLite driver's rules (store_sqlite.c):
 * nesting on the thread's connection, only the outermost commit commits, a rollback at any level
 * fails the whole transaction, the writer's batch makes each request's outermost level a
 * SAVEPOINT, and a scope makes level 2 a savepoint of its own.
 *
 * A WRITE transaction is BEGIN (READ COMMITTED) followed at once by pg_advisory_xact_lock on one
 * database-wide key (STORE_PG_WRITE_LOCK_KEY), sent together in one round trip: write
 * transactions serialize across every host exactly as SQLite's single writer serializes them,
 * and because each statement of a READ COMMITTED transaction sees everything committed before
 * it, a writer that holds the lock reads the latest data (REPEATABLE READ would have taken its
 * snapshot before the lock was granted). This process's writers also take turns on a mutex first,
 * so a waiting writer holds no server lock wait and is woken at once. A READ transaction is
 * REPEATABLE READ READ ONLY: one snapshot, like a SQLite read transaction. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "store_pg_priv.h"

static pthread_mutex_t g_writer = PTHREAD_MUTEX_INITIALIZER;

#define SQL_BEGIN_WRITE_FMT "BEGIN; SELECT pg_advisory_xact_lock(%lld)"
#define SQL_BEGIN_READ "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

int pg_writer_lock(void) {
    struct timespec until = aitbc_timespec_in(CLOCK_REALTIME, pg_busy_ms());
    if (pthread_mutex_timedlock(&g_writer, &until) == 0) return 0;
    hlog("store", AITBC_LOG_ERROR, "no write turn within busy_timeout (%d ms)", pg_busy_ms());
    return AITBC_EBUSY;
}

void pg_writer_unlock(void) {
    pthread_mutex_unlock(&g_writer);
}

static int in_txn(pg_conn *c) {
    return !c->broken && PQtransactionStatus(c->db) == PQTRANS_INTRANS;
}

/* Ends whatever the server still has open (nothing after a lost connection). */
static void server_rollback(pg_conn *c) {
    PGTransactionStatusType st = c->broken ? PQTRANS_UNKNOWN : PQtransactionStatus(c->db);
    if (st == PQTRANS_INTRANS || st == PQTRANS_INERROR) pg_exec(c, "ROLLBACK");
}

/* BEGIN for mode; a WRITE also takes the database-wide advisory lock. */
static int server_begin(pg_conn *c, int write) {
    if (!write) return pg_exec(c, SQL_BEGIN_READ);
    char sql[96];
    snprintf(sql, sizeof sql, SQL_BEGIN_WRITE_FMT, STORE_PG_WRITE_LOCK_KEY);
    int rc = pg_exec(c, sql);
    if (rc != 0) server_rollback(c);
    return rc;
}

static void txn_ended(pg_txn *t) {
    if (t->mode == AITBC_TXN_WRITE) pg_writer_unlock();
}

static void txn_abort(pg_txn *t) {
    server_rollback(t->conn);
    t->failed = 0;
    txn_ended(t);
}

aitbc_txn *pg_txn_begin(int mode) {
    pg_conn *c = pg_conn_get();
    if (!c) return NULL;
    pg_txn *t = &c->txn;
    if (t->depth > 0) {
        if (t->scoped && t->depth == 1) {
            if (pg_exec(c, "SAVEPOINT aitbc_scope") != 0) return NULL;
            t->depth = 2;
            return (aitbc_txn *)t;
        }
        if (mode == AITBC_TXN_WRITE && t->mode == AITBC_TXN_READ) {
            hlog("store", AITBC_LOG_ERROR,
                 "a WRITE transaction cannot nest inside a READ one: "
                 "begin the outer transaction as WRITE");
            return NULL;
        }
        if (t->batch && t->depth == 1) {
            if (pg_exec(c, "SAVEPOINT aitbc_sp") != 0) return NULL;
            t->failed = 0;
        }
        t->depth++;
        return (aitbc_txn *)t;
    }
    int write = mode == AITBC_TXN_WRITE;
    if (write && pg_writer_lock() != 0) return NULL;
    if (server_begin(c, write) != 0) {
        if (write) pg_writer_unlock();
        return NULL;
    }
    t->depth = 1;
    t->mode = write ? AITBC_TXN_WRITE : AITBC_TXN_READ;
    t->failed = 0;
    t->scoped = 0;
    return (aitbc_txn *)t;
}

aitbc_txn *pg_txn_begin_scope(void) {
    pg_conn *c = pg_conn_get();
    if (!c) return NULL;
    if (c->txn.depth > 0) {
        hlog("store", AITBC_LOG_ERROR, "a scope must be the outermost transaction");
        return NULL;
    }
    pg_txn *t = (pg_txn *)pg_txn_begin(AITBC_TXN_WRITE);
    if (t) t->scoped = 1;
    return (aitbc_txn *)t;
}

static int scope_unit_end(pg_txn *t, int keep) {
    t->depth = 1;
    int failed = t->failed || !keep;
    t->failed = 0;
    if (!in_txn(t->conn)) {
        t->failed = 1;
        return AITBC_EIO;
    }
    int rc = failed ? pg_exec(t->conn, "ROLLBACK TO aitbc_scope; RELEASE aitbc_scope")
                    : pg_exec(t->conn, "RELEASE aitbc_scope");
    if (rc != 0) t->failed = 1;
    return failed ? AITBC_EIO : rc;
}

/* A caller's outermost level inside the batch ended: keep (RELEASE) or undo only it. */
static int savepoint_end(pg_txn *t) {
    int failed = t->failed;
    t->failed = 0;
    if (!failed && pg_exec(t->conn, "RELEASE aitbc_sp") == 0) return 0;
    if (in_txn(t->conn) || PQtransactionStatus(t->conn->db) == PQTRANS_INERROR)
        pg_exec(t->conn, "ROLLBACK TO aitbc_sp; RELEASE aitbc_sp");
    return AITBC_EIO;
}

int pg_txn_commit(aitbc_txn *h) {
    pg_txn *t = (pg_txn *)h;
    if (!pg_txn_valid(t)) {
        hlog("store", AITBC_LOG_ERROR, "commit of a transaction that is not open on this thread");
        return AITBC_EINVAL;
    }
    if (t->scoped && t->depth == 2) return scope_unit_end(t, 1);
    if (t->batch && t->depth == 1) {
        hlog("store", AITBC_LOG_ERROR, "commit without a begin inside the writer's batch");
        return AITBC_EINVAL;
    }
    if (--t->depth > 0) {
        if (t->batch && t->depth == 1) return savepoint_end(t);
        return t->failed ? AITBC_EIO : 0;
    }
    t->scoped = 0;
    if (t->failed) {
        txn_abort(t);
        return AITBC_EIO;
    }
    if (!in_txn(t->conn)) {
        /* COMMIT of a failed server transaction would only roll it back. */
        hlog("store", AITBC_LOG_ERROR, "commit: the transaction had already failed");
        txn_abort(t);
        return AITBC_EIO;
    }
    int rc = pg_exec(t->conn, "COMMIT");
    if (rc != 0) {
        txn_abort(t);
        return rc;
    }
    txn_ended(t);
    return 0;
}

void pg_txn_rollback(aitbc_txn *h) {
    pg_txn *t = (pg_txn *)h;
    if (!pg_txn_valid(t)) {
        hlog("store", AITBC_LOG_ERROR, "rollback of a transaction that is not open on this thread");
        return;
    }
    if (t->batch && t->depth == 1) {
        hlog("store", AITBC_LOG_ERROR, "rollback without a begin inside the writer's batch");
        return;
    }
    if (t->scoped && t->depth == 2) {
        scope_unit_end(t, 0);
        return;
    }
    t->failed = 1;
    if (--t->depth == 0) {
        t->scoped = 0;
        txn_abort(t);
    } else if (t->batch && t->depth == 1) {
        savepoint_end(t);
    }
}

int pg_txn_exec(aitbc_txn *h, const char *sql) {
    pg_txn *t = (pg_txn *)h;
    if (!pg_txn_valid(t)) return AITBC_EINVAL;
    char *pgsql = store_pg_rewrite(sql, NULL);
    if (!pgsql) return AITBC_ENOMEM;
    int rc = pg_exec(t->conn, pgsql);
    free(pgsql);
    return rc;
}

int pg_batch_begin(void) {
    pg_conn *c = pg_conn_get();
    if (!c) return AITBC_EIO;
    pg_txn *t = &c->txn;
    if (t->depth > 0) {
        hlog("store", AITBC_LOG_ERROR, "batch begun inside an open transaction");
        return AITBC_EINVAL;
    }
    if (pg_writer_lock() != 0) return AITBC_EBUSY;
    int rc = server_begin(c, 1);
    if (rc != 0) {
        pg_writer_unlock();
        return rc;
    }
    t->depth = 1;
    t->mode = AITBC_TXN_WRITE;
    t->failed = 0;
    t->batch = 1;
    return 0;
}

int pg_batch_check(void) {
    pg_conn *c = pg_conn_get();
    if (!c || !c->txn.batch) return AITBC_EINVAL;
    pg_txn *t = &c->txn;
    if (t->depth > 1) {
        hlog("store", AITBC_LOG_ERROR, "a write left %d transaction level(s) open: rolled back",
             t->depth - 1);
        t->depth = 1;
        t->failed = 1;
        savepoint_end(t);
    }
    return in_txn(c) ? 0 : AITBC_EIO;
}

int pg_batch_end(int commit) {
    pg_conn *c = pg_conn_get();
    if (!c || !c->txn.batch) return AITBC_EINVAL;
    pg_txn *t = &c->txn;
    int rc = AITBC_EIO;
    if (commit && in_txn(c)) rc = pg_exec(c, "COMMIT");
    if (rc != 0) server_rollback(c);
    t->depth = 0;
    t->batch = 0;
    t->failed = 0;
    pg_writer_unlock();
    return rc;
}
