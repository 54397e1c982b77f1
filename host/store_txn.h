/* The transaction model both storage drivers share (store_txn.c): nesting on the thread's one
 * connection, the writer's batch and scopes. A driver supplies the few server operations. */
#ifndef AITBC_STORE_TXN_H
#define AITBC_STORE_TXN_H

#include "internal.h"

/* Savepoints the model opens and closes (store_txn_ops.ctl). */
enum {
    TXN_SP_BEGIN,      /* a request's own unit inside the writer's batch (SAVEPOINT aitbc_sp) */
    TXN_SP_RELEASE,    /* keep it */
    TXN_SP_UNDO,       /* undo and close it */
    TXN_SCOPE_BEGIN,   /* level 2 of a scope (SAVEPOINT aitbc_scope) */
    TXN_SCOPE_RELEASE, /* keep it */
    TXN_SCOPE_UNDO     /* undo and close it */
};

typedef struct store_txn_ops {
    /* Whether t is the calling thread's open transaction (handles never cross threads). */
    int (*owned)(const aitbc_txn *t);
    /* The process's write turn, held by an open write transaction. */
    int (*writer_lock)(void);
    void (*writer_unlock)(void);
    /* BEGIN for a READ or WRITE transaction; 0 or an AITBC_E* code (logged). */
    int (*begin)(void *conn, int write);
    /* COMMIT; 0 or an AITBC_E* code (logged). */
    int (*commit)(void *conn);
    /* ROLLBACK, unless the server has already ended the transaction. */
    void (*abort)(void *conn);
    /* Whether the server transaction is still open and usable (an error may have ended it). */
    int (*usable)(void *conn);
    /* One of the TXN_SP_* / TXN_SCOPE_* savepoint operations; 0 or an AITBC_E* code. */
    int (*ctl)(void *conn, int which);
    /* After a COMMIT went through (SQLite counts it for its checkpointer); may be NULL. */
    void (*committed)(void *conn, int write);
} store_txn_ops;

/* A thread's transaction. Lives inside its connection: a thread has at most one open. */
struct aitbc_txn {
    void *conn;
    const store_txn_ops *ops;
    int depth;  /* 0 = none open; 1 = outermost */
    int mode;   /* AITBC_TXN_READ or AITBC_TXN_WRITE of the outermost begin */
    int failed; /* a rollback at some level: the outermost commit rolls back */
    int batch;  /* the writer's shared transaction (store_batch_*): depth 1 is the batch and
                 * each level-2 begin is a SAVEPOINT that commits or rolls back on its own */
    int scoped; /* begun by store_txn_begin_scope: level 2 is a savepoint (its own unit) */
};

/** @brief Begin (or nest into) t, the calling thread's transaction. NULL on error (logged). */
aitbc_txn *store_txn_begin_on(aitbc_txn *t, int mode);
/** @brief A WRITE transaction whose level 2 is a savepoint; t must have none open. */
aitbc_txn *store_txn_begin_scope_on(aitbc_txn *t);
/** @brief store_txn_commit / store_txn_rollback of internal.h, for either driver. */
int store_txn_commit_on(aitbc_txn *t);
void store_txn_rollback_on(aitbc_txn *t);
/** @brief store_batch_* of internal.h on the calling thread's t. */
int store_batch_begin_on(aitbc_txn *t);
int store_batch_check_on(aitbc_txn *t);
int store_batch_end_on(aitbc_txn *t, int commit);
/** @brief The thread is going away with t still open (a bug, logged by the caller): the
 *  connection's close rolls it back; here the other writers get their turn back. */
void store_txn_forsake(aitbc_txn *t);

#endif
