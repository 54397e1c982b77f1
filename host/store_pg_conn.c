/* Storage driver, PostgreSQL: connections. Like the SQLite driver, each thread that uses the store
 * gets its own connection, opened on first use and closed by store_thread_done() (or by
 * store_close(), which closes them all). storage.pool caps how many are open at once: a thread
 * that needs one while all are taken waits up to storage.busy_timeout_ms for another thread to
 * give one back, then fails (logged; a request gets 503). A connection whose server went away
 * (restart, network) fails its statements with AITBC_EIO; the thread's next use outside a
 * transaction reopens it — never in the middle of a transaction, whose work is lost.
 *
 * Every connection sets lock_timeout to storage.busy_timeout_ms (a writer waiting longer for the
 * write lock gets AITBC_EBUSY, as SQLite's busy_timeout) and routes server notices to the log. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_pg_priv.h"

static void conn_close(store_conn_link *l);
static store_conns g_conns = STORE_CONNS_INIT(conn_close);
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; /* the pool count */
static pthread_cond_t g_slot = PTHREAD_COND_INITIALIZER;   /* a pool slot came free */
static int g_count, g_pool;
static int g_busy_ms;
static char *g_dsn;

unsigned pg_hash(const char *s) {
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int pg_busy_ms(void) {
    return g_busy_ms;
}

/* Where the connection points, for messages: host and port, never the password. */
static void describe(PGconn *db, char *out, size_t cap) {
    const char *host = db ? PQhost(db) : NULL, *port = db ? PQport(db) : NULL;
    snprintf(out, cap, "%s port %s", host && host[0] ? host : "(default host)",
             port && port[0] ? port : "5432");
}

int pg_map_error(pg_conn *c, const PGresult *r, const char *sql) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg[0] && c) msg = PQerrorMessage(c->db);
    if (c && PQstatus(c->db) == CONNECTION_BAD) {
        char where[300];
        describe(c->db, where, sizeof where);
        if (!c->broken)
            hlog("store", AITBC_LOG_ERROR,
                 "lost the connection to PostgreSQL (%s): %.*s; it is reopened on next use", where,
                 (int)strcspn(msg, "\n"), msg);
        c->broken = 1;
        return AITBC_EIO;
    }
    if (state && !strcmp(state, "23505")) return AITBC_EEXIST;
    if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") ||
                  !strcmp(state, "57014"))) {
        hlog("store", AITBC_LOG_WARN, "database busy (%s): %s", state, sql);
        return AITBC_EBUSY;
    }
    if (state && !strcmp(state, "53200")) return AITBC_ENOMEM;
    hlog("store", AITBC_LOG_ERROR, "SQL failed (%s: %.*s): %s", state ? state : "-",
         (int)strcspn(msg, "\n"), msg, sql);
    return AITBC_EIO;
}

int pg_exec(pg_conn *c, const char *sql) {
    PGresult *r = PQexec(c->db, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_map_error(c, r, sql);
    PQclear(r);
    return rc;
}

/* Server notices (e.g. "relation already exists, skipping") are debug lines, not stderr. */
static void notice(void *arg, const char *message) {
    (void)arg;
    hlog("store", AITBC_LOG_DEBUG, "postgres: %.*s", (int)strcspn(message, "\n"), message);
}

/* Connects (no lock held). NULL on failure, logged with host/port and what to do. */
static PGconn *connect_db(void) {
    /* The dsn's own settings win over these defaults (they come later in expansion). */
    static const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                                       NULL};
    const char *vals[] = {"10", "aitbc-host", g_dsn, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    if (db && PQstatus(db) == CONNECTION_OK) {
        char sql[96];
        snprintf(sql, sizeof sql, "SET lock_timeout = %d", g_busy_ms);
        PGresult *r = PQexec(db, sql);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok) {
            PQsetNoticeProcessor(db, notice, NULL);
            return db;
        }
    }
    char where[300];
    describe(db, where, sizeof where);
    const char *msg = db ? PQerrorMessage(db) : "out of memory";
    hlog("store", AITBC_LOG_ERROR,
         "cannot connect to PostgreSQL at %s: %.*s — check that the server runs and accepts this "
         "host, and storage.dsn (host, port, dbname, user, password or .pgpass)",
         where, (int)strcspn(msg, "\n"), msg);
    PQfinish(db);
    return NULL;
}

/* Waits for a pool slot (g_lock held). 0, or AITBC_EBUSY after busy_timeout. */
static int take_slot(void) {
    struct timespec until = aitbc_timespec_in(CLOCK_REALTIME, g_busy_ms);
    while (g_count >= g_pool) {
        if (pthread_cond_timedwait(&g_slot, &g_lock, &until) != 0 && g_count >= g_pool) {
            hlog("store", AITBC_LOG_ERROR,
                 "all %d PostgreSQL connections (storage.pool) are held by other threads: raise "
                 "storage.pool",
                 g_pool);
            return AITBC_EBUSY;
        }
    }
    g_count++;
    return 0;
}

static void give_slot(void) {
    pthread_mutex_lock(&g_lock);
    g_count--;
    pthread_cond_signal(&g_slot);
    pthread_mutex_unlock(&g_lock);
}

static pg_conn *conn_open(void) {
    pthread_mutex_lock(&g_lock);
    int rc = take_slot();
    pthread_mutex_unlock(&g_lock);
    if (rc != 0) return NULL;
    pg_conn *c = calloc(1, sizeof *c);
    if (c) c->db = connect_db();
    if (!c || !c->db) {
        free(c);
        give_slot();
        return NULL;
    }
    c->txn.conn = c;
    c->txn.ops = &store_pg_txn_ops;
    store_conns_add(&g_conns, &c->link, &c->txn);
    return c;
}

/* Closes a connection that is no longer in the registry (an open transaction ends with it on
 * the server) and gives its pool slot back. */
static void conn_close(store_conn_link *l) {
    pg_conn *c = (pg_conn *)l;
    pg_cache_clear(c);
    PQfinish(c->db);
    free(c);
    give_slot();
}

int pg_conn_reopen(pg_conn *c) {
    PGconn *db = connect_db();
    if (!db) return AITBC_EIO;
    PQfinish(c->db);
    c->db = db;
    c->broken = 0;
    pg_preps_forget(c);
    hlog("store", AITBC_LOG_INFO, "reconnected to PostgreSQL");
    return 0;
}

pg_conn *pg_conn_get(void) {
    int closed;
    pg_conn *c = (pg_conn *)store_conns_mine(&g_conns, &closed);
    if (closed) return NULL;
    if (!c) return conn_open();
    if (c->broken && c->txn.depth == 0 && pg_conn_reopen(c) != 0) return NULL;
    return c;
}

int pg_txn_owned(const aitbc_txn *t) {
    return store_conns_owned(&g_conns, t);
}

int pg_open(const host_settings *set) {
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(set->db_dsn, &err);
    if (!opts || !set->db_dsn[0]) {
        hlog("store", AITBC_LOG_ERROR, "storage.dsn is not a libpq connection string: %.*s",
             err ? (int)strcspn(err, "\n") : 5, err ? err : "empty");
        PQfreemem(err);
        PQconninfoFree(opts);
        return AITBC_EINVAL;
    }
    PQconninfoFree(opts);
    int rc = store_conns_start(&g_conns);
    if (rc != 0) return rc;
    /* No other thread uses the store before store_open returns: the settings need no lock. */
    if (!(g_dsn = strdup(set->db_dsn))) {
        store_conns_stop(&g_conns);
        return AITBC_ENOMEM;
    }
    g_busy_ms = set->db_busy_timeout_ms > 0 ? set->db_busy_timeout_ms : 5000;
    g_pool = set->db_pool >= 2 ? set->db_pool : 32;
    /* Every HTTP thread and worker may hold a connection, plus the writer, bus, WebSocket and
     * timer threads: fewer slots than that and requests queue for one (docs/operations.md). */
    int threads = set->http_threads + set->workers + 6;
    if (g_pool < threads)
        hlog("store", AITBC_LOG_WARN,
             "storage.pool %d is below the host's %d store threads (http.threads + node.workers + "
             "6): threads will wait for a connection",
             g_pool, threads);

    /* host_schema under the write lock: hosts starting together do not race on CREATE. */
    aitbc_txn *t = pg_txn_begin(AITBC_TXN_WRITE);
    rc = t ? pg_txn_exec(t, STORE_HOST_SCHEMA_SQL) : AITBC_EIO;
    if (t && rc == 0)
        rc = store_txn_commit_on(t);
    else if (t)
        store_txn_rollback_on(t);
    if (rc != 0) {
        pg_close();
        return AITBC_EIO;
    }
    pg_conn *c = pg_conn_get();
    char where[300];
    describe(c ? c->db : NULL, where, sizeof where);
    hlog("store", AITBC_LOG_INFO, "storage: PostgreSQL %d at %s (pool %d, lock_timeout %dms)",
         c ? PQserverVersion(c->db) : 0, where, g_pool, g_busy_ms);
    return 0;
}

void pg_close(void) {
    store_conns_stop(&g_conns);
    free(g_dsn);
    g_dsn = NULL;
}

void pg_thread_done(void) {
    store_conns_thread_done(&g_conns);
}

const store_driver store_pg_driver = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .thread_done = pg_thread_done,
    .txn_begin = pg_txn_begin,
    .txn_begin_scope = pg_txn_begin_scope,
    .txn_commit = store_txn_commit_on,
    .txn_rollback = store_txn_rollback_on,
    .txn_exec = pg_txn_exec,
    .stmt = pg_stmt_get,
    .bind_int64 = pg_bind_int64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_int64 = pg_col_int64,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .col_is_null = pg_col_is_null,
    .changes = pg_changes,
    .stmt_done = pg_stmt_done,
    .batch_begin = pg_batch_begin,
    .batch_check = pg_batch_check,
    .batch_end = pg_batch_end,
};
