/* Storage driver, PostgreSQL: the server side of the transaction model both drivers share
 * (store_txn.c: nesting, the writer's batch with a savepoint per request, scopes).
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

int pg_writer_lock(void) {
    struct timespec until = aitbc_timespec_in(CLOCK_REALTIME, pg_busy_ms());
    if (pthread_mutex_timedlock(&g_writer, &until) == 0) return 0;
    hlog("store", AITBC_LOG_ERROR, "no write turn within busy_timeout (%d ms)", pg_busy_ms());
    return AITBC_EBUSY;
}

void pg_writer_unlock(void) {
    pthread_mutex_unlock(&g_writer);
}

static int txn_usable(void *conn) {
    pg_conn *c = conn;
    return !c->broken && PQtransactionStatus(c->db) == PQTRANS_INTRANS;
}

/* Ends whatever the server still has open (nothing after a lost connection). */
static void txn_abort(void *conn) {
    pg_conn *c = conn;
    PGTransactionStatusType st = c->broken ? PQTRANS_UNKNOWN : PQtransactionStatus(c->db);
    if (st == PQTRANS_INTRANS || st == PQTRANS_INERROR) pg_exec(c, "ROLLBACK");
}

static int server_begin(pg_conn *c, int write) {
    if (!write) return pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", STORE_PG_WRITE_LOCK_KEY);
    int rc = pg_exec(c, sql);
    if (rc != 0) txn_abort(c);
    return rc;
}

/* A session found dead at BEGIN (the server restarted while this thread was idle) has lost
 * nothing yet: a new connection and a second BEGIN make that invisible to the caller. */
static int txn_begin(void *conn, int write) {
    pg_conn *c = conn;
    int rc = server_begin(c, write);
    if (rc != 0 && c->broken && pg_conn_reopen(c) == 0) rc = server_begin(c, write);
    return rc;
}

static int txn_commit(void *conn) {
    return pg_exec(conn, "COMMIT");
}

static int txn_ctl(void *conn, int which) {
    pg_conn *c = conn;
    switch (which) {
    case TXN_SP_BEGIN:
        return pg_exec(c, "SAVEPOINT aitbc_sp");
    case TXN_SP_RELEASE:
        return pg_exec(c, "RELEASE aitbc_sp");
    case TXN_SP_UNDO:
        if (c->broken) return AITBC_EIO;
        return pg_exec(c, "ROLLBACK TO aitbc_sp; RELEASE aitbc_sp");
    case TXN_SCOPE_BEGIN:
        return pg_exec(c, "SAVEPOINT aitbc_scope");
    case TXN_SCOPE_RELEASE:
        return pg_exec(c, "RELEASE aitbc_scope");
    default:
        return pg_exec(c, "ROLLBACK TO aitbc_scope; RELEASE aitbc_scope");
    }
}

const store_txn_ops store_pg_txn_ops = {
    .owned = pg_txn_owned,
    .writer_lock = pg_writer_lock,
    .writer_unlock = pg_writer_unlock,
    .begin = txn_begin,
    .commit = txn_commit,
    .abort = txn_abort,
    .usable = txn_usable,
    .ctl = txn_ctl,
    .committed = NULL,
};

static aitbc_txn *my_txn(void) {
    pg_conn *c = pg_conn_get();
    return c ? &c->txn : NULL;
}

aitbc_txn *pg_txn_begin(int mode) {
    return store_txn_begin_on(my_txn(), mode);
}

aitbc_txn *pg_txn_begin_scope(void) {
    return store_txn_begin_scope_on(my_txn());
}

int pg_batch_begin(void) {
    return store_batch_begin_on(my_txn());
}

int pg_batch_check(void) {
    return store_batch_check_on(my_txn());
}

int pg_batch_end(int commit) {
    return store_batch_end_on(my_txn(), commit);
}

int pg_txn_exec(aitbc_txn *t, const char *sql) {
    if (!t || !pg_txn_owned(t)) return AITBC_EINVAL;
    char *pgsql = store_pg_rewrite(sql, NULL);
    if (!pgsql) return AITBC_ENOMEM;
    int rc = pg_exec(t->conn, pgsql);
    free(pgsql);
    return rc;
}
