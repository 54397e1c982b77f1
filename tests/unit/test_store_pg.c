/* The PostgreSQL storage driver (host/store_pg*.c) against a real server: the test runs when
 * AITBC_TEST_PG_DSN names one (tests/run.sh starts a throwaway cluster with tests/pg/cluster.sh)
 * and skips otherwise. Each test gets a fresh schema. Covered: migrations, nested transactions,
 * a failing statement failing alone (plain transaction and the writer's batch), constraint
 * mapping, blob and int64 round trips, changes(), a READ transaction's snapshot, the write
 * lock another host would wait for, a lost
 * connection (AITBC_EIO inside the transaction, then a new connection on the next one) and the
 * storage.pool cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include "internal.h"

static char g_schema[40];
static char g_dsn[1000];

/* A side connection to the same schema: "another process". */
static void quiet(void *arg, const char *message) {
    (void)arg;
    (void)message; /* "drop cascades to …" and the like */
}

static PGconn *side(void) {
    PGconn *db = PQconnectdb(g_dsn);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PQsetNoticeProcessor(db, quiet, NULL);
    return db;
}

static void side_exec(const char *sql) {
    PGconn *db = side();
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    PQfinish(db);
}

static int g_pool = 4;

static int setup(void **state) {
    (void)state;
    const char *dsn = getenv("AITBC_TEST_PG_DSN");
    if (!dsn || !*dsn) return 0;
    hlog_set_level(AITBC_LOG_ERROR + 1);
    static int seq;
    snprintf(g_schema, sizeof g_schema, "unit_%d_%d", (int)getpid(), ++seq);
    PGconn *db = PQconnectdb(dsn);
    PQsetNoticeProcessor(db, quiet, NULL);
    char sql[160];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", g_schema,
             g_schema);
    PGresult *r = PQexec(db, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(db);
    if (!ok) return -1;
    if ((size_t)snprintf(g_dsn, sizeof g_dsn, "%s options=-csearch_path=%s", dsn, g_schema) >=
        sizeof g_dsn)
        return -1;
    host_settings set;
    memset(&set, 0, sizeof set);
    snprintf(set.db_driver, sizeof set.db_driver, "postgres");
    snprintf(set.db_dsn, sizeof set.db_dsn, "%s", g_dsn);
    set.db_pool = g_pool;
    set.db_busy_timeout_ms = g_pool == 2 ? 300 : 5000;
    if (store_open(&set) != 0) return -1;
    static const aitbc_migration base[] = {
        {1, "CREATE TABLE t_items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, data BLOB,"
            " n INTEGER)"},
    };
    return store_migrate("t", base, 1);
}

static int teardown(void **state) {
    (void)state;
    if (!g_schema[0]) return 0;
    store_close();
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", g_schema);
    side_exec(sql);
    g_schema[0] = '\0';
    return 0;
}

static void need_pg(void) {
    if (!g_schema[0]) skip(); /* AITBC_TEST_PG_DSN is not set: no server to test against */
}

/* The integer in the one row sql returns; with_arg binds arg (text, or NULL) to its `?`. */
static int64_t one_int(aitbc_txn *t, const char *sql, int with_arg, const char *arg) {
    aitbc_stmt *s = store_stmt(t, sql);
    assert_non_null(s);
    if (with_arg) assert_int_equal(store_bind_text(s, 1, arg), 0);
    assert_int_equal(store_step(s), AITBC_ROW);
    int64_t n = store_col_int64(s, 0);
    store_stmt_done(s);
    return n;
}

static int64_t count_items(void) {
    return one_int(NULL, "SELECT count(*) FROM t_items", 0, NULL);
}

static int insert(aitbc_txn *t, const char *name) {
    aitbc_stmt *s = store_stmt(t, "INSERT INTO t_items (name) VALUES (?)");
    if (!s) return AITBC_EIO;
    store_bind_text(s, 1, name);
    int rc = store_step(s);
    store_stmt_done(s);
    return rc;
}

static void test_driver_name_and_migrations(void **state) {
    (void)state;
    need_pg();
    assert_string_equal(store_driver_name(), "postgres");
    static const aitbc_migration steps[] = {
        {1, "CREATE TABLE t_m (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID"},
        {2, "ALTER TABLE t_m ADD COLUMN n INTEGER NOT NULL DEFAULT 0"},
    };
    assert_int_equal(store_migrate("m", steps, 2), 0);
    assert_int_equal(store_migrate("m", steps, 2), 0); /* applied once */
    static const aitbc_migration bad[] = {
        {3, "CREATE TABLE t_bad (a INTEGER); CREATE TABLE t_bad (a INTEGER)"},
    };
    assert_int_equal(store_migrate("m", bad, 1), AITBC_EIO);
    /* The failed step left nothing: PostgreSQL's DDL is transactional. */
    assert_int_equal(one_int(NULL,
                             "SELECT count(*) FROM pg_tables WHERE tablename = 't_bad'"
                             " AND schemaname = current_schema()",
                             0, NULL),
                     0);
    assert_int_equal(one_int(NULL, "SELECT max(version) FROM host_schema WHERE plugin = ?", 1, "m"),
                     2);
}

static void test_nested(void **state) {
    (void)state;
    need_pg();
    aitbc_txn *outer = store_txn_begin(AITBC_TXN_WRITE);
    assert_non_null(outer);
    aitbc_txn *inner = store_txn_begin(AITBC_TXN_WRITE);
    assert_ptr_equal(inner, outer);
    assert_int_equal(insert(inner, "a"), AITBC_DONE);
    assert_int_equal(store_txn_commit(inner), 0);
    store_txn_rollback(outer);
    assert_int_equal(count_items(), 0);

    outer = store_txn_begin(AITBC_TXN_WRITE);
    inner = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert(inner, "b"), AITBC_DONE);
    store_txn_rollback(inner);
    assert_int_equal(store_txn_commit(outer), AITBC_EIO); /* the inner rollback poisons it */
    assert_int_equal(count_items(), 0);

    /* WRITE inside READ is refused, as with SQLite. */
    aitbc_txn *r = store_txn_begin(AITBC_TXN_READ);
    assert_non_null(r);
    assert_null(store_txn_begin(AITBC_TXN_WRITE));
    assert_int_equal(store_txn_commit(r), 0);
}

static void test_failure_isolation(void **state) {
    (void)state;
    need_pg();
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert(t, "x"), AITBC_DONE);
    assert_int_equal(insert(t, "x"), AITBC_EEXIST);
    /* A syntax error too fails alone; the transaction goes on. */
    aitbc_stmt *s = store_stmt(t, "SELEKT 1");
    assert_non_null(s);
    assert_int_equal(store_step(s), AITBC_EIO);
    store_stmt_done(s);
    assert_int_equal(insert(t, "y"), AITBC_DONE);
    assert_int_equal(store_txn_commit(t), 0);
    assert_int_equal(count_items(), 2);

    /* The writer's batch: each request is a savepoint, a failed one is undone alone. */
    assert_int_equal(store_batch_begin(), 0);
    t = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert(t, "b1"), AITBC_DONE);
    assert_int_equal(store_txn_commit(t), 0);
    assert_int_equal(store_batch_check(), 0);
    t = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert(t, "b2"), AITBC_DONE);
    assert_int_equal(insert(t, "b1"), AITBC_EEXIST);
    store_txn_rollback(t);
    assert_int_equal(store_batch_check(), 0);
    t = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert(t, "b3"), AITBC_DONE);
    assert_int_equal(store_txn_commit(t), 0);
    assert_int_equal(store_batch_check(), 0);
    assert_int_equal(store_batch_end(1), 0);
    assert_int_equal(count_items(), 4); /* x, y, b1, b3 */

    /* A scope: level 2 is its own unit. */
    aitbc_txn *sc = store_txn_begin_scope();
    assert_non_null(sc);
    t = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert(t, "s1"), AITBC_DONE);
    store_txn_rollback(t);
    t = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert(t, "s2"), AITBC_DONE);
    assert_int_equal(store_txn_commit(t), 0);
    assert_int_equal(store_txn_commit(sc), 0);
    assert_int_equal(count_items(), 5);
}

static void test_constraints(void **state) {
    (void)state;
    need_pg();
    assert_int_equal(insert(NULL, "u"), AITBC_DONE);
    assert_int_equal(insert(NULL, "u"), AITBC_EEXIST);
    /* Other constraint failures are I/O errors, as SQLite's are. */
    aitbc_stmt *s = store_stmt(NULL, "INSERT INTO t_items (name) VALUES (NULL)");
    assert_int_equal(store_step(s), AITBC_EIO);
    store_stmt_done(s);
    /* An explicit primary key collides like a unique name. */
    s = store_stmt(NULL, "INSERT INTO t_items (id, name) VALUES (?, ?)");
    store_bind_int64(s, 1, 777);
    store_bind_text(s, 2, "p1");
    assert_int_equal(store_step(s), AITBC_DONE);
    store_stmt_done(s);
    s = store_stmt(NULL, "INSERT INTO t_items (id, name) VALUES (?, ?)");
    store_bind_int64(s, 1, 777);
    store_bind_text(s, 2, "p2");
    assert_int_equal(store_step(s), AITBC_EEXIST);
    store_stmt_done(s);
}

static void test_values_round_trip(void **state) {
    (void)state;
    need_pg();
    unsigned char blob[300];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (unsigned char)(i * 7); /* zeros, high bytes, backslashes */
    static const int64_t ints[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    for (size_t i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%zu", i);
        aitbc_stmt *s = store_stmt(NULL, "INSERT INTO t_items (name, data, n) VALUES (?, ?, ?)");
        store_bind_text(s, 1, name);
        if (i == 0)
            store_bind_blob(s, 2, blob, 0); /* empty, not NULL */
        else if (i == 1)
            store_bind_null(s, 2);
        else
            store_bind_blob(s, 2, blob, sizeof blob);
        store_bind_int64(s, 3, ints[i]);
        assert_int_equal(store_step(s), AITBC_DONE);
        assert_int_equal(store_changes(s), 1);
        store_stmt_done(s);
    }
    aitbc_stmt *s = store_stmt(NULL, "SELECT name, data, n FROM t_items ORDER BY name");
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(store_step(s), AITBC_ROW);
        size_t len = 99;
        const void *p = store_col_blob(s, 1, &len);
        if (i == 0) {
            assert_non_null(p);
            assert_int_equal(len, 0);
            assert_false(store_col_is_null(s, 1));
        } else if (i == 1) {
            assert_null(p);
            assert_true(store_col_is_null(s, 1));
        } else {
            assert_int_equal(len, sizeof blob);
            assert_memory_equal(p, blob, sizeof blob);
        }
        assert_true(store_col_int64(s, 2) == ints[i]);
        assert_false(store_col_is_null(s, 2));
        assert_non_null(store_col_text(s, 0));
    }
    assert_int_equal(store_step(s), AITBC_DONE);
    store_stmt_done(s);

    /* changes() counts the rows an UPDATE touched. */
    s = store_stmt(NULL, "UPDATE t_items SET n = n WHERE n >= ?");
    store_bind_int64(s, 1, 0);
    assert_int_equal(store_step(s), AITBC_DONE);
    assert_int_equal(store_changes(s), 3);
    store_stmt_done(s);
    /* The same SQL with another type bound (a second prepared statement). */
    assert_int_equal(one_int(NULL, "SELECT count(*) FROM t_items WHERE name = ?", 1, "v3"), 1);
    assert_int_equal(one_int(NULL, "SELECT count(*) FROM t_items WHERE name = ?", 1, NULL), 0);
    /* A parameter the server cannot type (only compared with NULL first) works as text, inside a
     * transaction too, and twice (the text-typed statement is cached). */
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    for (int round = 0; round < 2; round++) {
        static const char optional[] =
            "SELECT count(*) FROM t_items WHERE (?1 IS NULL OR name = ?1)";
        assert_int_equal(one_int(t, optional, 1, NULL), 5);
        assert_int_equal(one_int(t, optional, 1, "v2"), 1);
    }
    assert_int_equal(store_txn_commit(t), 0);
}

static void test_read_snapshot(void **state) {
    (void)state;
    need_pg();
    aitbc_txn *r = store_txn_begin(AITBC_TXN_READ);
    assert_int_equal(count_items(), 0);
    side_exec("INSERT INTO t_items (name) VALUES ('later')");
    assert_int_equal(count_items(), 0); /* one snapshot for the whole READ transaction */
    /* A READ transaction refuses writes. */
    assert_int_equal(insert(r, "w"), AITBC_EIO);
    assert_int_equal(store_txn_commit(r), 0);
    assert_int_equal(count_items(), 1);
}

/* Whether another session could take the write lock now ("another host"). */
static int side_can_write(void) {
    PGconn *db = side();
    PGresult *r = PQexec(db, "SELECT pg_try_advisory_lock(1095324738)");
    int got = PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    PQfinish(db); /* a session lock ends with its session */
    return got;
}

/* Free within a few seconds: the hosts of other tests running on the same database take the
 * same lock for their own writes now and then. */
static int side_can_write_soon(void) {
    for (int i = 0; i < 300; i++) {
        if (side_can_write()) return 1;
        usleep(10 * 1000);
    }
    return 0;
}

/* A WRITE transaction holds the database-wide advisory lock ("AITB") from BEGIN to its end, so
 * writers on other hosts wait; a READ transaction does not take it. */
static void test_write_lock(void **state) {
    (void)state;
    need_pg();
    assert_true(side_can_write_soon());
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    assert_false(side_can_write());
    assert_int_equal(store_txn_commit(t), 0);
    assert_true(side_can_write_soon());
    t = store_txn_begin(AITBC_TXN_READ);
    assert_true(side_can_write_soon());
    assert_int_equal(store_txn_commit(t), 0);
    assert_int_equal(store_batch_begin(), 0);
    assert_false(side_can_write());
    assert_int_equal(store_batch_end(1), 0);
    assert_true(side_can_write_soon());
}

static void test_lost_connection(void **state) {
    (void)state;
    need_pg();
    assert_int_equal(insert(NULL, "before"), AITBC_DONE);
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert(t, "inside"), AITBC_DONE);
    aitbc_stmt *s = store_stmt(t, "SELECT pg_backend_pid()");
    assert_int_equal(store_step(s), AITBC_ROW);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)",
             (long long)store_col_int64(s, 0));
    store_stmt_done(s);
    side_exec(sql);
    usleep(100 * 1000);
    /* Inside the transaction: errors, never a silent new connection. */
    assert_int_equal(insert(t, "after"), AITBC_EIO);
    assert_int_equal(insert(t, "after2"), AITBC_EIO);
    assert_int_equal(store_txn_commit(t), AITBC_EIO);
    /* The next use opens a new connection; the lost transaction left nothing. */
    t = store_txn_begin(AITBC_TXN_WRITE);
    assert_non_null(t);
    assert_int_equal(insert(t, "recovered"), AITBC_DONE);
    assert_int_equal(store_txn_commit(t), 0);
    assert_int_equal(count_items(), 2);
    /* Lost while idle: noticed at BEGIN, before any work, and replaced there without an error. */
    s = store_stmt(NULL, "SELECT pg_backend_pid()");
    assert_int_equal(store_step(s), AITBC_ROW);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)",
             (long long)store_col_int64(s, 0));
    store_stmt_done(s);
    side_exec(sql);
    usleep(100 * 1000);
    t = store_txn_begin(AITBC_TXN_WRITE);
    assert_non_null(t);
    assert_int_equal(insert(t, "idle"), AITBC_DONE);
    assert_int_equal(store_txn_commit(t), 0);
    assert_int_equal(count_items(), 3);
}

/* A thread that uses the store (opening a connection) and keeps it until told to finish. */
typedef struct holder {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int got, release;
} holder;

static void *hold_conn(void *arg) {
    holder *h = arg;
    aitbc_stmt *s = store_stmt(NULL, "SELECT 1");
    int ok = s && store_step(s) == AITBC_ROW;
    store_stmt_done(s);
    pthread_mutex_lock(&h->mu);
    h->got = ok ? 1 : -1;
    pthread_cond_broadcast(&h->cv);
    while (!h->release)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    store_thread_done();
    return NULL;
}

static void *try_conn(void *arg) {
    aitbc_stmt *s = store_stmt(NULL, "SELECT 1");
    *(int *)arg = s && store_step(s) == AITBC_ROW;
    store_stmt_done(s);
    store_thread_done();
    return NULL;
}

/* storage.pool 2: this thread holds one, a second thread the other; a third waits
 * busy_timeout_ms (300) and fails; once the second gives its connection back, a fourth gets one. */
static int setup_pool2(void **state) {
    g_pool = 2;
    int rc = setup(state);
    g_pool = 4;
    return rc;
}

static void test_pool_cap(void **state) {
    (void)state;
    need_pg();
    assert_int_equal(count_items(), 0); /* this thread's connection */
    holder h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, hold_conn, &h), 0);
    pthread_mutex_lock(&h.mu);
    while (!h.got)
        pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);
    assert_int_equal(h.got, 1);
    int ok = -1;
    assert_int_equal(pthread_create(&t2, NULL, try_conn, &ok), 0);
    pthread_join(t2, NULL);
    assert_int_equal(ok, 0); /* all taken: refused after the wait */
    pthread_mutex_lock(&h.mu);
    h.release = 1;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    pthread_join(t1, NULL);
    assert_int_equal(pthread_create(&t2, NULL, try_conn, &ok), 0);
    pthread_join(t2, NULL);
    assert_int_equal(ok, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_driver_name_and_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constraints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_cap, setup_pool2, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
