/* Private to the SQLite storage driver (store_sqlite.c, store_stmt.c, store_migrate.c): the
 * per-thread connection, its statement cache and its one (possibly nested) transaction. */
#ifndef AITBC_STORE_PRIV_H
#define AITBC_STORE_PRIV_H

#include <sqlite3.h>
#include "store_driver.h"
#include "store_conns.h"

#define STORE_CACHE_BUCKETS 64
#define STORE_RECENT_SLOTS 64

typedef struct store_conn store_conn;

struct aitbc_stmt {
    sqlite3_stmt *st;
    store_conn *conn;
    char *sql;       /* the cache key */
    const char *key; /* the address it was last asked for by (store_conn.recent) */
    unsigned hash;
    int in_use;       /* handed out by store_stmt, not yet returned by store_stmt_done */
    aitbc_stmt *next; /* bucket chain */
};

/* Transaction control statements, prepared once per connection (BEGIN/COMMIT run on every
 * request: parsing them each time was measurable). */
enum {
    CTL_BEGIN_READ,
    CTL_BEGIN_WRITE,
    CTL_COMMIT,
    CTL_ROLLBACK,
    CTL_SAVEPOINT,
    CTL_RELEASE,
    CTL_ROLLBACK_TO,
    CTL_COUNT
};

struct store_conn {
    store_conn_link link; /* first: the registry's link is the connection (store_conns.h) */
    sqlite3 *db;
    sqlite3_stmt *ctl[CTL_COUNT];
    aitbc_stmt *cache[STORE_CACHE_BUCKETS];
    /* The statement last handed out for an SQL text at a given address: plugins pass string
     * literals, so the same pointer comes back on every request and the lookup skips hashing
     * the text (which cost more than the rest of the lookup). Verified by comparing the text. */
    aitbc_stmt *recent[STORE_RECENT_SLOTS];
    aitbc_txn txn;
};

/** @brief The calling thread's connection, opened on first use; NULL if the store is closed. */
store_conn *store_conn_get(void);
/** @brief Run SQL without results (one or more statements). 0, AITBC_EBUSY or AITBC_EIO (logged).
 */
int store_exec(store_conn *c, const char *sql);
/** @brief Map a SQLite result code to an AITBC_E* code (logging unexpected ones with the SQL). */
int store_map_error(store_conn *c, int rc, const char *sql);
/** @brief Finalize every cached statement of a connection. */
void store_cache_clear(store_conn *c);
/** @brief Run one transaction control statement (cached). 0, AITBC_EBUSY or AITBC_EIO (logged). */
int store_ctl(store_conn *c, int which);
/** @brief Take / give back the process's write turn (held by an open write transaction). */
int store_writer_lock(void);
void store_writer_unlock(void);
/** @brief Busy timeout in ms of the open store. */
int store_busy_ms(void);

extern const store_txn_ops store_sqlite_txn_ops;

/* ---- the driver's entries (store_driver.h), in store_sqlite.c and store_stmt.c ---- */
aitbc_txn *sq_txn_begin(int mode);
aitbc_stmt *sq_stmt(aitbc_txn *t, const char *sql);
int sq_bind_int64(aitbc_stmt *s, int idx, int64_t v);
int sq_bind_text(aitbc_stmt *s, int idx, const char *text);
int sq_bind_blob(aitbc_stmt *s, int idx, const void *data, size_t len);
int sq_bind_null(aitbc_stmt *s, int idx);
int sq_step(aitbc_stmt *s);
int64_t sq_col_int64(aitbc_stmt *s, int col);
const char *sq_col_text(aitbc_stmt *s, int col);
const void *sq_col_blob(aitbc_stmt *s, int col, size_t *len);
int sq_col_is_null(aitbc_stmt *s, int col);
int64_t sq_changes(aitbc_stmt *s);
void sq_stmt_done(aitbc_stmt *s);

/* ---- store_checkpoint.c: WAL checkpoints off the commit path ---- */
/** @brief Count a commit (cheap): the checkpointer looks only after commits. Also adds the
 *  pages the commit wrote to the WAL to store_wal_pages_total(). */
void store_ckpt_note_commit(store_conn *c);
/** @brief Start the checkpointer thread (store_open). 0 or AITBC_EIO. */
int store_ckpt_start(void);
/** @brief Stop and join it (store_close, before the connections close). */
void store_ckpt_stop(void);

/* ---- store_walbuf.c: the WAL written in large pieces ---- */
/** @brief Register (once; store_open, before any connection) the VFS that gathers a
 *  connection's WAL appends into one write per commit; its name for sqlite3_open_v2, or NULL
 *  (then the default VFS is used). */
const char *store_walbuf_vfs(void);

#endif
