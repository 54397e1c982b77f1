/* The transaction model of both storage drivers (the rules are in store_sqlite.c's header):
 * nesting on the thread's one connection, only the outermost commit commits, a rollback at any
 * level fails the whole transaction, the writer's batch makes each caller's outermost level a
 * savepoint, and a scope makes level 2 a savepoint of its own. The driver's store_txn_ops do the
 * talking to the server. */
#include "store_txn.h"

#include <stdatomic.h>

/* Write turns ended in this process (see store_write_turns). */
static atomic_uint_fast64_t g_turns_ended;

uint64_t store_write_turns(void) {
    return (uint64_t)atomic_load(&g_turns_ended);
}

/* Give the process's write turn back. Counted first, while still held: the next writer, which can
 * only start after the unlock, already sees the new count, so a count taken inside a turn always
 * names that turn. Every caller has committed or rolled back (or never began) by now. */
static void turn_end(const store_txn_ops *ops) {
    atomic_fetch_add(&g_turns_ended, 1);
    ops->writer_unlock();
}

/* A request's read scope on this thread (store_read_scope_begin): 0 none; 1 armed, no
 * transaction yet; 2 open: tl_scope_txn's level 1 is the scope's, every caller's READ level nests
 * under it, so the request pays one BEGIN/COMMIT and reads one snapshot. */
static _Thread_local int tl_read_scope;
static _Thread_local aitbc_txn *tl_scope_txn;

static int read_scope_holds(const aitbc_txn *t) {
    return tl_read_scope == 2 && tl_scope_txn == t && t->depth == 1;
}

/* End the scope's read transaction (t->depth is 1: nobody else is in it). A read has nothing to
 * keep, so a failure here only ends the snapshot. */
static void read_scope_close(aitbc_txn *t) {
    t->depth = 0;
    if (t->failed || !t->ops->usable(t->conn) || t->ops->commit(t->conn) != 0)
        t->ops->abort(t->conn);
    else if (t->ops->committed)
        t->ops->committed(t->conn, 0);
    t->failed = 0;
}

/* A caller's level under the open scope ended and left only the scope's: a failed or broken
 * snapshot is ended at once (the next read begins afresh, as without a scope). */
static void read_scope_settle(aitbc_txn *t) {
    if (read_scope_holds(t) && (t->failed || !t->ops->usable(t->conn))) {
        read_scope_close(t);
        tl_read_scope = 1;
        tl_scope_txn = NULL;
    }
}

void store_read_scope_begin(void) {
    tl_read_scope = 1;
    tl_scope_txn = NULL;
}

void store_read_scope_end(void) {
    aitbc_txn *t = tl_scope_txn;
    int open = tl_read_scope == 2 && t;
    tl_read_scope = 0;
    tl_scope_txn = NULL;
    if (!open) return;
    if (t->depth != 1) {
        hlog("store", AITBC_LOG_ERROR, "a handler left %d read transaction level(s) open",
             t->depth - 1);
        return;
    }
    read_scope_close(t);
}

aitbc_txn *store_txn_begin_on(aitbc_txn *t, int mode) {
    if (!t) return NULL;
    const store_txn_ops *ops = t->ops;
    int write = mode == AITBC_TXN_WRITE;
    if (write && tl_read_scope) {
        /* A request that writes leaves its read scope: its snapshot ends first, and what it reads
         * after the write must see it. */
        if (read_scope_holds(t)) read_scope_close(t);
        if (t->depth == 0) {
            tl_read_scope = 0;
            tl_scope_txn = NULL;
        }
    }
    if (t->depth > 0) {
        if (t->scoped && t->depth == 1) {
            if (ops->ctl(t->conn, TXN_SCOPE_BEGIN) != 0) return NULL;
            t->depth = 2;
            return t;
        }
        if (mode == AITBC_TXN_WRITE && t->mode == AITBC_TXN_READ) {
            hlog("store", AITBC_LOG_ERROR,
                 "a WRITE transaction cannot nest inside a READ one: "
                 "begin the outer transaction as WRITE");
            return NULL;
        }
        if (t->batch && t->depth == 1) {
            /* Inside the writer's batch a caller's outermost level is a savepoint of its own. */
            if (ops->ctl(t->conn, TXN_SP_BEGIN) != 0) return NULL;
            t->failed = 0;
        }
        t->depth++;
        return t;
    }
    if (write && ops->writer_lock() != 0) return NULL;
    if (ops->begin(t->conn, write) != 0) {
        if (write) turn_end(ops);
        return NULL;
    }
    t->depth = 1;
    t->mode = write ? AITBC_TXN_WRITE : AITBC_TXN_READ;
    t->failed = 0;
    t->scoped = 0;
    if (!write && tl_read_scope == 1) {
        t->depth = 2; /* level 1 is the scope's, level 2 the caller's */
        tl_read_scope = 2;
        tl_scope_txn = t;
    }
    return t;
}

aitbc_txn *store_txn_begin_scope_on(aitbc_txn *t) {
    if (!t) return NULL;
    if (tl_read_scope) {
        if (read_scope_holds(t)) read_scope_close(t);
        tl_read_scope = 0;
        tl_scope_txn = NULL;
    }
    if (t->depth > 0) {
        hlog("store", AITBC_LOG_ERROR, "a scope must be the outermost transaction");
        return NULL;
    }
    t = store_txn_begin_on(t, AITBC_TXN_WRITE);
    if (t) t->scoped = 1;
    return t;
}

/* Level 2 of a scope ends: undo or keep its savepoint. The server may have ended the whole
 * transaction after an error; then the scope fails as a whole. */
static int scope_unit_end(aitbc_txn *t, int keep) {
    t->depth = 1;
    int failed = t->failed || !keep;
    t->failed = 0;
    if (!t->ops->usable(t->conn)) {
        t->failed = 1;
        return AITBC_EIO;
    }
    int rc = t->ops->ctl(t->conn, failed ? TXN_SCOPE_UNDO : TXN_SCOPE_RELEASE);
    if (rc != 0) t->failed = 1;
    return failed ? AITBC_EIO : rc;
}

/* The outermost level has ended (committed or rolled back): the next writer may go. */
static void txn_ended(aitbc_txn *t) {
    if (t->mode == AITBC_TXN_WRITE) turn_end(t->ops);
}

static void txn_abort(aitbc_txn *t) {
    t->ops->abort(t->conn);
    t->failed = 0;
    txn_ended(t);
}

/* A caller's outermost level inside the batch ended: keep its work (release) or undo only it.
 * 0 or AITBC_EIO. */
static int savepoint_end(aitbc_txn *t) {
    int failed = t->failed;
    t->failed = 0;
    if (!failed && t->ops->ctl(t->conn, TXN_SP_RELEASE) == 0) return 0;
    t->ops->ctl(t->conn, TXN_SP_UNDO);
    return AITBC_EIO;
}

int store_txn_commit_on(aitbc_txn *t) {
    if (!t || !t->ops->owned(t)) {
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
        int rc = t->failed ? AITBC_EIO : 0;
        read_scope_settle(t);
        return rc;
    }
    t->scoped = 0;
    if (t->failed) {
        txn_abort(t);
        return AITBC_EIO;
    }
    if (!t->ops->usable(t->conn)) {
        /* The server ended the transaction itself after an error (I/O, full disk, lost
         * connection): nothing of it is kept. */
        hlog("store", AITBC_LOG_ERROR, "commit: the transaction was already rolled back");
        txn_abort(t);
        return AITBC_EIO;
    }
    int rc = t->ops->commit(t->conn);
    if (rc != 0) {
        txn_abort(t);
        return rc;
    }
    if (t->ops->committed) t->ops->committed(t->conn, t->mode == AITBC_TXN_WRITE);
    txn_ended(t);
    return 0;
}

void store_txn_rollback_on(aitbc_txn *t) {
    if (!t || !t->ops->owned(t)) {
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
    } else {
        read_scope_settle(t);
    }
}

int store_batch_begin_on(aitbc_txn *t) {
    if (!t) return AITBC_EIO;
    if (t->depth > 0) {
        hlog("store", AITBC_LOG_ERROR, "batch begun inside an open transaction");
        return AITBC_EINVAL;
    }
    if (t->ops->writer_lock() != 0) return AITBC_EBUSY;
    int rc = t->ops->begin(t->conn, 1);
    if (rc != 0) {
        turn_end(t->ops);
        return rc;
    }
    t->depth = 1;
    t->mode = AITBC_TXN_WRITE;
    t->failed = 0;
    t->batch = 1;
    return 0;
}

int store_batch_check_on(aitbc_txn *t) {
    if (!t || !t->batch) return AITBC_EINVAL;
    if (t->depth > 1) {
        hlog("store", AITBC_LOG_ERROR, "a write left %d transaction level(s) open: rolled back",
             t->depth - 1);
        t->depth = 1;
        t->failed = 1;
        savepoint_end(t);
    }
    return t->ops->usable(t->conn) ? 0 : AITBC_EIO;
}

int store_batch_end_on(aitbc_txn *t, int commit) {
    if (!t || !t->batch) return AITBC_EINVAL;
    int rc = AITBC_EIO;
    if (commit && t->ops->usable(t->conn)) rc = t->ops->commit(t->conn);
    if (rc != 0) t->ops->abort(t->conn);
    t->depth = 0;
    t->batch = 0;
    t->failed = 0;
    turn_end(t->ops);
    if (rc == 0 && t->ops->committed) t->ops->committed(t->conn, 1);
    return rc;
}

void store_txn_forsake(aitbc_txn *t) {
    if (t->depth > 0 && t->mode == AITBC_TXN_WRITE) turn_end(t->ops);
}
