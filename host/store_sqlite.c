/* Storage driver, SQLite: one database file in WAL mode, one connection per thread, nested
 * transactions on that connection. Statements and their cache live in store_stmt.c, migrations in
 * store_migrate.c (shared by both drivers). store.c calls it through store_sqlite_driver.
 *
 * Rules callers can rely on (the transaction rules are store_txn.c's, shared with the postgres
 * driver; this file gives them SQLite's BEGIN/COMMIT/SAVEPOINT through store_sqlite_txn_ops):
 * - A thread's connection is opened on its first use and closed by sq_thread_done() (every
 *   host thread calls it before exiting; the pthread key destructor catches the others) or by
 *   sq_close(), which closes every connection. sq_close() must run after every other thread
 *   that used the store has stopped.
 * - sq_txn_begin(READ) is BEGIN DEFERRED, WRITE is BEGIN IMMEDIATE (the write lock is taken up
 *   front, so two writers wait on busy_timeout instead of failing on upgrade). A begin on a
 *   thread that already has a transaction open nests (depth+1) and returns the same handle. A
 *   nested WRITE inside an outer READ is refused (NULL, logged): a deferred transaction cannot be
 *   upgraded safely, so open the outer one as WRITE.
 * - Only the outermost commit commits. A rollback at any level marks the whole transaction failed
 *   but leaves it open until the outermost level ends; that commit then rolls back and returns
 *   AITBC_EIO. Commit and rollback each close one level: call exactly one of them per begin.
 * - Write transactions of this process take turns on one mutex before BEGIN IMMEDIATE: SQLite
 *   allows one writer anyway, and a waiter woken by the mutex's hand-off starts at once, where
 *   SQLite's busy handler would sleep 1–100 ms between retries (the p99 of every write path).
 *   busy_timeout still covers other processes (the CLI, --verify-chain) and autocommit writes.
 * - sq_txn_begin_scope() opens a WRITE transaction whose level 2 is a SAVEPOINT: a handler's
 *   own transactions inside the scope keep their meaning (a rollback undoes just that unit, a
 *   later begin starts clean), but nothing is durable before the scope's commit.
 * - sq_stmt(NULL, sql) is allowed: the statement runs on the thread's connection in autocommit
 *   mode (or inside the thread's open transaction, if any), handy for single reads. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store_priv.h"

static void conn_close(store_conn_link *l);
static store_conns g_conns = STORE_CONNS_INIT(conn_close);
#define SUBJOURNAL_MEMORY_BYTES (4 * 1024 * 1024)
static char g_path[PATH_MAX];
static char g_vfs_name[32]; /* store_walbuf.c's VFS, or empty for the default */
static char g_sync[16];
static int g_busy_ms;
static pthread_mutex_t g_writer = PTHREAD_MUTEX_INITIALIZER; /* held by the open write txn */

int store_map_error(store_conn *c, int rc, const char *sql) {
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        hlog("store", AITBC_LOG_WARN, "database busy: %s", sql);
        return AITBC_EBUSY;
    case SQLITE_NOMEM:
        return AITBC_ENOMEM;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return AITBC_EEXIST;
        break;
    default:
        break;
    }
    hlog("store", AITBC_LOG_ERROR, "SQL failed (%s): %s",
         c ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc), sql);
    return AITBC_EIO;
}

int store_exec(store_conn *c, const char *sql) {
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK) return 0;
    int err = (rc & 0xff) == SQLITE_BUSY ? AITBC_EBUSY : AITBC_EIO;
    hlog("store", err == AITBC_EBUSY ? AITBC_LOG_WARN : AITBC_LOG_ERROR, "SQL failed (%s): %s",
         msg ? msg : sqlite3_errstr(rc), sql);
    sqlite3_free(msg);
    return err;
}

static const char *const ctl_sql[CTL_COUNT] = {
    [CTL_BEGIN_READ] = "BEGIN DEFERRED",
    [CTL_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [CTL_COMMIT] = "COMMIT",
    [CTL_ROLLBACK] = "ROLLBACK",
    [CTL_SAVEPOINT] = "SAVEPOINT aitbc_sp",
    [CTL_RELEASE] = "RELEASE aitbc_sp",
    [CTL_ROLLBACK_TO] = "ROLLBACK TO aitbc_sp",
};

int store_ctl(store_conn *c, int which) {
    sqlite3_stmt **st = &c->ctl[which];
    int rc =
        *st ? SQLITE_OK
            : sqlite3_prepare_v3(c->db, ctl_sql[which], -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(*st);
        sqlite3_reset(*st);
        if (rc == SQLITE_DONE) return 0;
    }
    int err = (rc & 0xff) == SQLITE_BUSY ? AITBC_EBUSY : AITBC_EIO;
    hlog("store", err == AITBC_EBUSY ? AITBC_LOG_WARN : AITBC_LOG_ERROR, "SQL failed (%s): %s",
         sqlite3_errmsg(c->db), ctl_sql[which]);
    return err;
}

/* Closes a connection that is no longer in the registry. */
static void conn_close(store_conn_link *l) {
    store_conn *c = (store_conn *)l;
    for (int i = 0; i < CTL_COUNT; i++)
        sqlite3_finalize(c->ctl[i]);
    store_cache_clear(c);
    /* An open transaction is rolled back by SQLite when the connection closes. */
    if (sqlite3_close(c->db) != SQLITE_OK)
        hlog("store", AITBC_LOG_ERROR, "closing a connection failed: %s", sqlite3_errmsg(c->db));
    free(c);
}

static int conn_setup(store_conn *c) {
    char sql[128];
    sqlite3_extended_result_codes(c->db, 1);
    if (sqlite3_busy_timeout(c->db, g_busy_ms) != SQLITE_OK) return AITBC_EIO;
    /* Checkpoints are the checkpointer thread's job (store_checkpoint.c), never a commit's. */
    snprintf(sql, sizeof sql,
             "PRAGMA foreign_keys=ON; PRAGMA synchronous=%s; PRAGMA wal_autocheckpoint=0;", g_sync);
    return store_exec(c, sql);
}

/* Opens a connection for the calling thread and registers it. */
static store_conn *conn_open(void) {
    store_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->txn.conn = c;
    c->txn.ops = &store_sqlite_txn_ops;
    int rc = sqlite3_open_v2(g_path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             g_vfs_name[0] ? g_vfs_name : NULL);
    if (rc != SQLITE_OK) {
        hlog("store", AITBC_LOG_ERROR, "cannot open %s: %s", g_path,
             c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    if (conn_setup(c) != 0) {
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    store_conns_add(&g_conns, &c->link, &c->txn);
    return c;
}

store_conn *store_conn_get(void) {
    int closed;
    store_conn *c = (store_conn *)store_conns_mine(&g_conns, &closed);
    return c || closed ? c : conn_open();
}

static const char *sync_value(const char *s) {
    if (!s[0] || !strcmp(s, "normal")) return "NORMAL";
    if (!strcmp(s, "off")) return "OFF";
    if (!strcmp(s, "full")) return "FULL";
    return NULL;
}

/* Balances live here: owner only, even when the files existed before with looser modes
 * (SQLite's -wal/-shm copy the database file's mode). store.c does the same for data_dir. */
static void restrict_files(const host_settings *set) {
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char path[PATH_MAX + 8];
        snprintf(path, sizeof path, "%s%s", set->db_path, suffixes[i]);
        if (chmod(path, 0600) != 0 && errno != ENOENT)
            hlog("store", AITBC_LOG_WARN, "cannot make %s owner-only: %s", path, strerror(errno));
    }
}

/** @brief Open the database of the settings (WAL, pragmas, host_schema); the caller's connection
 *  stays open. 0, AITBC_EINVAL for bad settings, AITBC_EIO when the file cannot be used. */
static void sq_close(void);

static int sq_open(const host_settings *set) {
    const char *sync = sync_value(set->db_synchronous);
    if (!sync || !set->db_path[0]) {
        hlog("store", AITBC_LOG_ERROR, "bad storage settings (path '%s', synchronous '%s')",
             set->db_path, set->db_synchronous);
        return AITBC_EINVAL;
    }
    int rc = store_conns_start(&g_conns);
    if (rc != 0) return rc;
    /* No other thread uses the store before store_open returns: the settings need no lock.
     * Process-wide memory accounting takes a global mutex on every allocation; we never read
     * it. Refused (harmlessly) once SQLite is initialised, e.g. on a second store_open. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* Sub-journals (the original pages a SAVEPOINT changes, kept so it can roll back alone)
     * stay in memory. Past 64 KiB (the default) SQLite moved one to a temp file for good, and
     * from then on every request of the group commit (each a savepoint) wrote every page it
     * touched there, two pwrite() calls a page. A savepoint's journal holds only the pages its
     * own unit of work changed and is emptied when it is released. The threshold is also the
     * size of the journal's one memory chunk (only the part written is touched): one malloc per
     * savepoint instead of one per KiB when unbounded (-1), which cost 6 % of a job submit's
     * CPU; 4 MiB stays below glibc's largest mmap threshold, so the chunk comes from the heap
     * and is reused. The price is resident memory: once such a chunk was freed glibc keeps more
     * freed heap in every arena (its mmap and trim thresholds rise to match), +8 MiB for a
     * fresh full node at 4 MiB (+10.5 MiB at 16 MiB); 4 MiB still holds any one request's
     * pages with room. */
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, SUBJOURNAL_MEMORY_BYTES);
    snprintf(g_path, sizeof g_path, "%s", set->db_path);
    const char *vfs = store_walbuf_vfs();
    snprintf(g_vfs_name, sizeof g_vfs_name, "%s", vfs ? vfs : "");
    snprintf(g_sync, sizeof g_sync, "%s", sync);
    g_busy_ms = set->db_busy_timeout_ms > 0 ? set->db_busy_timeout_ms : 5000;

    store_conn *c = conn_open();
    restrict_files(set);
    sqlite3_stmt *st = NULL;
    int wal = 0;
    /* journal_mode is stored in the file: set once here, every later connection inherits it. */
    if (c && sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        wal = mode && !strcmp(mode, "wal");
    }
    sqlite3_finalize(st);
    if (!wal || store_exec(c, STORE_HOST_SCHEMA_SQL) != 0 || store_ckpt_start() != 0) {
        if (c && !wal) hlog("store", AITBC_LOG_ERROR, "%s: cannot switch to WAL mode", g_path);
        sq_close();
        return AITBC_EIO;
    }
    hlog("store", AITBC_LOG_DEBUG, "opened %s (WAL, synchronous=%s, busy_timeout=%dms)", g_path,
         g_sync, g_busy_ms);
    return 0;
}

/** @brief Close every connection (all other users must have stopped) and forget the settings. */
static void sq_close(void) {
    store_ckpt_stop(); /* it uses a connection of its own */
    store_conns_stop(&g_conns);
}

/** @brief Close the calling thread's connection, if it has one (call before a thread exits). */
static void sq_thread_done(void) {
    store_conns_thread_done(&g_conns);
}

/* Waits for the writer turn as long as SQLite would wait for its lock (busy_timeout), so a stuck
 * writer shows up as a busy error, never as a silent deadlock. */
int store_busy_ms(void) {
    return g_busy_ms;
}

void store_writer_unlock(void) {
    pthread_mutex_unlock(&g_writer);
}

int store_writer_lock(void) {
    struct timespec until = aitbc_timespec_in(CLOCK_REALTIME, g_busy_ms);
    if (pthread_mutex_timedlock(&g_writer, &until) == 0) return 0;
    hlog("store", AITBC_LOG_ERROR, "no write turn within busy_timeout (%d ms)", g_busy_ms);
    return AITBC_EBUSY;
}

/* ---- the server side of the shared transaction model (store_txn.c) ---- */
static int txn_owned(const aitbc_txn *t) {
    return store_conns_owned(&g_conns, t);
}

static int txn_begin(void *conn, int write) {
    return store_ctl(conn, write ? CTL_BEGIN_WRITE : CTL_BEGIN_READ);
}

static int txn_commit(void *conn) {
    return store_ctl(conn, CTL_COMMIT);
}

/* Ends the SQL transaction with ROLLBACK unless SQLite already ended it (some errors do). */
static void txn_abort(void *conn) {
    store_conn *c = conn;
    if (!sqlite3_get_autocommit(c->db)) store_ctl(c, CTL_ROLLBACK);
}

static int txn_usable(void *conn) {
    return !sqlite3_get_autocommit(((store_conn *)conn)->db);
}

static int txn_ctl(void *conn, int which) {
    switch (which) {
    case TXN_SP_BEGIN:
        return store_ctl(conn, CTL_SAVEPOINT);
    case TXN_SP_RELEASE:
        return store_ctl(conn, CTL_RELEASE);
    case TXN_SP_UNDO:
        store_ctl(conn, CTL_ROLLBACK_TO);
        return store_ctl(conn, CTL_RELEASE);
    case TXN_SCOPE_BEGIN:
        return store_exec(conn, "SAVEPOINT aitbc_scope");
    case TXN_SCOPE_RELEASE:
        return store_exec(conn, "RELEASE aitbc_scope");
    default:
        return store_exec(conn, "ROLLBACK TO aitbc_scope; RELEASE aitbc_scope");
    }
}

static void txn_committed(void *conn, int write) {
    if (write) store_ckpt_note_commit(conn);
}

const store_txn_ops store_sqlite_txn_ops = {
    .owned = txn_owned,
    .writer_lock = store_writer_lock,
    .writer_unlock = store_writer_unlock,
    .begin = txn_begin,
    .commit = txn_commit,
    .abort = txn_abort,
    .usable = txn_usable,
    .ctl = txn_ctl,
    .committed = txn_committed,
};

/* The calling thread's transaction (inside its connection); NULL when the store is unusable. */
static aitbc_txn *my_txn(void) {
    store_conn *c = store_conn_get();
    return c ? &c->txn : NULL;
}

aitbc_txn *sq_txn_begin(int mode) {
    return store_txn_begin_on(my_txn(), mode);
}

static aitbc_txn *sq_txn_begin_scope(void) {
    return store_txn_begin_scope_on(my_txn());
}

static int sq_batch_begin(void) {
    return store_batch_begin_on(my_txn());
}

static int sq_batch_check(void) {
    return store_batch_check_on(my_txn());
}

static int sq_batch_end(int commit) {
    return store_batch_end_on(my_txn(), commit);
}

static int sq_txn_exec(aitbc_txn *t, const char *sql) {
    return txn_owned(t) ? store_exec(t->conn, sql) : AITBC_EINVAL;
}

const store_driver store_sqlite_driver = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .thread_done = sq_thread_done,
    .txn_begin = sq_txn_begin,
    .txn_begin_scope = sq_txn_begin_scope,
    .txn_commit = store_txn_commit_on,
    .txn_rollback = store_txn_rollback_on,
    .txn_exec = sq_txn_exec,
    .stmt = sq_stmt,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_int64 = sq_col_int64,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .col_is_null = sq_col_is_null,
    .changes = sq_changes,
    .stmt_done = sq_stmt_done,
    .batch_begin = sq_batch_begin,
    .batch_check = sq_batch_check,
    .batch_end = sq_batch_end,
};
