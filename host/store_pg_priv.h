/* Private to the PostgreSQL storage driver (store_pg_conn.c, store_pg_txn.c, store_pg_stmt.c,
 * store_pg_exec.c): the per-thread connection, its prepared statements and its one (possibly
 * nested) transaction. This driver's aitbc_stmt handles point at pg_stmt. */
#ifndef AITBC_STORE_PG_PRIV_H
#define AITBC_STORE_PG_PRIV_H

#include <libpq-fe.h>
#include "store_driver.h"
#include "store_pg_sql.h"
#include "store_conns.h"

#define PG_CACHE_BUCKETS 64
/* The advisory lock every write transaction takes right after BEGIN ("AITB"): write
 * transactions serialize across every host on the database, as SQLite's one writer does. */
#define STORE_PG_WRITE_LOCK_KEY 0x41495442LL
/* Type OIDs the driver binds with (pg_type.oid, fixed in every PostgreSQL). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

typedef struct pg_conn pg_conn;
typedef struct pg_stmt pg_stmt;

/* A statement prepared on a connection: keyed by the SQL text and its parameters' types. */
typedef struct pg_prep {
    char *key; /* type signature, '\n', SQL */
    unsigned hash;
    char name[16];
    int prepared; /* the server has it */
    struct pg_prep *next;
} pg_prep;

struct pg_stmt {
    pg_conn *conn;
    char *sql;   /* as the caller wrote it: the cache key */
    char *pgsql; /* rewritten (store_pg_sql.c) */
    int nparams;
    unsigned hash;
    int in_use;
    /* bindings, nparams each */
    char **vals;
    int *lens, *fmts;
    char *sig; /* one letter per parameter: i int8, b bytea, u unspecified (text, NULL) */
    /* the result of the last execution; row is the current one */
    PGresult *res;
    int row;
    unsigned char **blobs; /* bytea columns decoded for this row, one per column */
    size_t *bloblens;
    int nblobs;
    pg_stmt *next; /* bucket chain */
};

struct pg_conn {
    store_conn_link link; /* first: the registry's link is the connection (store_conns.h) */
    PGconn *db;
    int broken; /* the server went away: reopened at the next use outside a transaction */
    int64_t changes;
    unsigned prep_seq;
    aitbc_txn txn;
    pg_stmt *cache[PG_CACHE_BUCKETS];
    pg_prep *preps[PG_CACHE_BUCKETS];
};

/* ---- store_pg_conn.c ---- */
/** @brief The calling thread's connection, opened on first use (waiting for a pool slot) and
 *  reopened here if it was lost and no transaction is open; NULL on failure (logged). */
pg_conn *pg_conn_get(void);
/** @brief Replace a lost connection (only outside a transaction: its work would be gone).
 *  0 or AITBC_EIO (logged). */
int pg_conn_reopen(pg_conn *c);
/** @brief Whether t is the calling thread's open transaction. */
int pg_txn_owned(const aitbc_txn *t);
/** @brief Map a failed result (or NULL) to an AITBC_E* code; logs with the SQL, marks the
 *  connection broken when the server is gone. */
int pg_map_error(pg_conn *c, const PGresult *r, const char *sql);
/** @brief Run SQL (simple protocol, no parameters, results ignored). 0 or a mapped error. */
int pg_exec(pg_conn *c, const char *sql);
/** @brief Busy timeout (storage.busy_timeout_ms) of the open store. */
int pg_busy_ms(void);
/** @brief FNV-1a of a string (statement caches). */
unsigned pg_hash(const char *s);

/* ---- store_pg_txn.c ---- */
extern const store_txn_ops store_pg_txn_ops;
/** @brief The in-process write turn, as the SQLite driver's (held by an open write txn). */
int pg_writer_lock(void);
void pg_writer_unlock(void);

/* ---- store_pg_stmt.c ---- */
/** @brief Free every statement handle and forget every prepared statement of c. */
void pg_cache_clear(pg_conn *c);

/* ---- store_pg_exec.c ---- */
/** @brief The connection was replaced: its prepared statements are gone (handles stay). */
void pg_preps_forget(pg_conn *c);
/** @brief Run s with its bindings (preparing it first if this connection has not): s->res holds
 *  the rows. 0 or an AITBC_E* code (logged). */
int pg_execute(pg_stmt *s);

/* the driver's entries */
int pg_open(const host_settings *set);
void pg_close(void);
void pg_thread_done(void);
aitbc_txn *pg_txn_begin(int mode);
aitbc_txn *pg_txn_begin_scope(void);
int pg_txn_exec(aitbc_txn *t, const char *sql);
int pg_batch_begin(void);
int pg_batch_check(void);
int pg_batch_end(int commit);
aitbc_stmt *pg_stmt_get(aitbc_txn *t, const char *sql);
int pg_bind_int64(aitbc_stmt *s, int idx, int64_t v);
int pg_bind_text(aitbc_stmt *s, int idx, const char *text);
int pg_bind_blob(aitbc_stmt *s, int idx, const void *data, size_t len);
int pg_bind_null(aitbc_stmt *s, int idx);
int pg_step(aitbc_stmt *s);
int64_t pg_col_int64(aitbc_stmt *s, int col);
const char *pg_col_text(aitbc_stmt *s, int col);
const void *pg_col_blob(aitbc_stmt *s, int col, size_t *len);
int pg_col_is_null(aitbc_stmt *s, int col);
int64_t pg_changes(aitbc_stmt *s);
void pg_stmt_done(aitbc_stmt *s);

#endif
