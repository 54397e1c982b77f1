/* The storage driver interface. The rest of the host calls the store_* functions of internal.h;
 * store.c sends each call to the driver the configuration chose when the store opened: SQLite
 * (store_sqlite.c, the default) or PostgreSQL (store_pg*.c). Both give the same transaction
 * model (nesting, the writer's batch with a savepoint per request, scoped units, READ and WRITE
 * transactions) and the same AITBC_E* codes. */
#ifndef AITBC_STORE_DRIVER_H
#define AITBC_STORE_DRIVER_H

#include "internal.h"

/* host_schema, in the SQL both drivers accept (the postgres driver rewrites the type names). */
#define STORE_HOST_SCHEMA_SQL                                                                      \
    "CREATE TABLE IF NOT EXISTS host_schema ("                                                     \
    " plugin TEXT NOT NULL, version INTEGER NOT NULL,"                                             \
    " applied_at INTEGER NOT NULL, PRIMARY KEY (plugin, version))"

typedef struct store_driver {
    const char *name; /* store_driver_name() */
    int (*open)(const host_settings *set);
    void (*close)(void);
    void (*thread_done)(void);
    aitbc_txn *(*txn_begin)(int mode);
    aitbc_txn *(*txn_begin_scope)(void);
    int (*txn_commit)(aitbc_txn *t);
    void (*txn_rollback)(aitbc_txn *t);
    /* Run SQL text (one or more statements, no parameters, no results) inside t: migrations. */
    int (*txn_exec)(aitbc_txn *t, const char *sql);
    aitbc_stmt *(*stmt)(aitbc_txn *t, const char *sql);
    int (*bind_int64)(aitbc_stmt *s, int idx, int64_t v);
    int (*bind_text)(aitbc_stmt *s, int idx, const char *text);
    int (*bind_blob)(aitbc_stmt *s, int idx, const void *data, size_t len);
    int (*bind_null)(aitbc_stmt *s, int idx);
    int (*step)(aitbc_stmt *s);
    int64_t (*col_int64)(aitbc_stmt *s, int col);
    const char *(*col_text)(aitbc_stmt *s, int col);
    const void *(*col_blob)(aitbc_stmt *s, int col, size_t *len);
    int (*col_is_null)(aitbc_stmt *s, int col);
    int64_t (*changes)(aitbc_stmt *s);
    void (*stmt_done)(aitbc_stmt *s);
    int (*batch_begin)(void);
    int (*batch_check)(void);
    int (*batch_end)(int commit);
} store_driver;

extern const store_driver store_sqlite_driver;
extern const store_driver store_pg_driver;

/** @brief Run SQL text inside the calling thread's open transaction t (store_migrate). */
int store_txn_exec(aitbc_txn *t, const char *sql);

#endif
