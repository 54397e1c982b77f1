/* Unit tests of the SQLite storage driver (store_sqlite.c, store_stmt.c, store_migrate.c) on a
 * real database file in a temp dir: migrations (once, skipped, failing step), nested transactions
 * (inner commit + outer rollback, inner rollback poisoning the outer commit, WRITE inside READ),
 * constraint mapping, concurrent writers, the statement cache and the same SQL in use twice; the
 * request read scope: one snapshot for all its reads, lazy, left by a write, a failed read level
 * ending the snapshot, and write_turns counting ended write transactions. */
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
#include "internal.h"

static char g_dir[256];
static char g_db[300];

static int setup(void **state) {
    (void)state;
    hlog_set_level(AITBC_LOG_ERROR);
    snprintf(g_dir, sizeof g_dir, "/tmp/aitbc-store-test-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_db, sizeof g_db, "%s/test.db", g_dir);
    host_settings set;
    memset(&set, 0, sizeof set);
    snprintf(set.db_path, sizeof set.db_path, "%s", g_db);
    snprintf(set.db_synchronous, sizeof set.db_synchronous, "normal");
    set.db_busy_timeout_ms = 10000;
    if (store_open(&set) != 0) return -1;
    static const aitbc_migration base[] = {
        {1, "CREATE TABLE t_items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB)"},
    };
    return store_migrate("t", base, 1);
}

static int teardown(void **state) {
    (void)state;
    store_close();
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[320];
        snprintf(path, sizeof path, "%s%s", g_db, suffixes[i]);
        unlink(path);
    }
    rmdir(g_dir);
    return 0;
}

static int64_t count_sql(const char *sql) {
    aitbc_stmt *s = store_stmt(NULL, sql);
    assert_non_null(s);
    assert_int_equal(store_step(s), AITBC_ROW);
    int64_t n = store_col_int64(s, 0);
    store_stmt_done(s);
    return n;
}

static int64_t count_items(void) {
    return count_sql("SELECT COUNT(*) FROM t_items");
}

static int insert_item(aitbc_txn *t, const char *name) {
    aitbc_stmt *s = store_stmt(t, "INSERT INTO t_items (name) VALUES (?)");
    if (!s) return AITBC_EIO;
    store_bind_text(s, 1, name);
    int rc = store_step(s);
    store_stmt_done(s);
    return rc;
}

static void test_migrations(void **state) {
    (void)state;
    static const aitbc_migration steps[] = {
        {1, "CREATE TABLE m_a (x INTEGER)"},
        {2, "CREATE TABLE m_b (y INTEGER); INSERT INTO m_b VALUES (7);"},
    };
    assert_int_equal(store_migrate("m", steps, 2), 0);
    assert_int_equal(count_sql("SELECT COUNT(*) FROM host_schema WHERE plugin='m'"), 2);
    assert_int_equal(count_sql("SELECT COUNT(*) FROM m_b"), 1);
    /* Second run: skipped (the INSERT of step 2 would otherwise add a row). */
    assert_int_equal(store_migrate("m", steps, 2), 0);
    assert_int_equal(count_sql("SELECT COUNT(*) FROM m_b"), 1);
    assert_int_equal(count_sql("SELECT COUNT(*) FROM host_schema WHERE plugin='m'"), 2);

    /* Step 3 fails half-way: it leaves nothing behind, 1-2 stay, step 4 never runs. */
    static const aitbc_migration more[] = {
        {1, "CREATE TABLE m_a (x INTEGER)"},
        {2, "CREATE TABLE m_b (y INTEGER); INSERT INTO m_b VALUES (7);"},
        {3, "CREATE TABLE m_c (z INTEGER); INSERT INTO no_such_table VALUES (1);"},
        {4, "CREATE TABLE m_d (w INTEGER)"},
    };
    assert_true(store_migrate("m", more, 4) < 0);
    assert_int_equal(count_sql("SELECT COUNT(*) FROM host_schema WHERE plugin='m'"), 2);
    assert_int_equal(count_sql("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('m_c','m_d')"),
                     0);

    /* Versions must increase. */
    static const aitbc_migration bad[] = {{2, "SELECT 1"}, {1, "SELECT 1"}};
    assert_int_equal(store_migrate("m", bad, 2), AITBC_EINVAL);
}

static void test_inner_commit_outer_rollback(void **state) {
    (void)state;
    aitbc_txn *outer = store_txn_begin(AITBC_TXN_WRITE);
    assert_non_null(outer);
    aitbc_txn *inner = store_txn_begin(AITBC_TXN_WRITE);
    assert_ptr_equal(inner, outer);
    assert_int_equal(insert_item(inner, "a"), AITBC_DONE);
    assert_int_equal(store_txn_commit(inner), 0);
    assert_int_equal(insert_item(outer, "b"), AITBC_DONE);
    store_txn_rollback(outer);
    assert_int_equal(count_items(), 0);
}

static void test_inner_rollback_fails_outer(void **state) {
    (void)state;
    aitbc_txn *outer = store_txn_begin(AITBC_TXN_WRITE);
    assert_non_null(outer);
    assert_int_equal(insert_item(outer, "a"), AITBC_DONE);
    aitbc_txn *inner = store_txn_begin(AITBC_TXN_WRITE);
    assert_non_null(inner);
    assert_int_equal(insert_item(inner, "b"), AITBC_DONE);
    store_txn_rollback(inner);
    /* The outer transaction is still open and usable until it ends. */
    assert_int_equal(insert_item(outer, "c"), AITBC_DONE);
    assert_int_equal(count_sql("SELECT COUNT(*) FROM t_items"), 3);
    assert_int_equal(store_txn_commit(outer), AITBC_EIO);
    assert_int_equal(count_items(), 0);

    /* The thread's next transaction starts clean. */
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    assert_non_null(t);
    assert_int_equal(insert_item(t, "d"), AITBC_DONE);
    assert_int_equal(store_txn_commit(t), 0);
    assert_int_equal(count_items(), 1);
}

/* A scope's units behave like outermost transactions (a rolled-back one does not poison the
 * next), and nothing is durable before the scope commits. */
static void test_scope_units(void **state) {
    (void)state;
    aitbc_txn *scope = store_txn_begin_scope();
    assert_non_null(scope);
    aitbc_txn *a = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert_item(a, "undone"), 0);
    aitbc_txn *deeper = store_txn_begin(AITBC_TXN_WRITE);
    store_txn_rollback(deeper);
    assert_int_equal(store_txn_commit(a), AITBC_EIO); /* a deeper rollback fails its unit */
    aitbc_txn *b = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert_item(b, "kept"), 0);
    assert_int_equal(store_txn_commit(b), 0);
    aitbc_txn *c = store_txn_begin(AITBC_TXN_READ);
    assert_non_null(c);
    store_txn_rollback(c);
    assert_int_equal(store_txn_commit(scope), 0);
    assert_int_equal(count_items(), 1);
    assert_int_equal(count_sql("SELECT count(*) FROM t_items WHERE name='kept'"), 1);
    /* A scope rolled back takes its committed units with it. */
    scope = store_txn_begin_scope();
    b = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert_item(b, "gone"), 0);
    assert_int_equal(store_txn_commit(b), 0);
    store_txn_rollback(scope);
    assert_int_equal(count_items(), 1);
    /* Not inside another transaction. */
    aitbc_txn *outer = store_txn_begin(AITBC_TXN_WRITE);
    assert_null(store_txn_begin_scope());
    store_txn_rollback(outer);
}

static void test_write_inside_read_refused(void **state) {
    (void)state;
    aitbc_txn *r = store_txn_begin(AITBC_TXN_READ);
    assert_non_null(r);
    assert_null(store_txn_begin(AITBC_TXN_WRITE));
    aitbc_txn *r2 = store_txn_begin(AITBC_TXN_READ);
    assert_ptr_equal(r2, r);
    assert_int_equal(store_txn_commit(r2), 0);
    assert_int_equal(store_txn_commit(r), 0);
    /* A commit without an open transaction is refused, not a crash. */
    assert_int_equal(store_txn_commit(r), AITBC_EINVAL);
}

static void test_unique_is_eexist(void **state) {
    (void)state;
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    assert_int_equal(insert_item(t, "dup"), AITBC_DONE);
    assert_int_equal(insert_item(t, "dup"), AITBC_EEXIST);
    aitbc_stmt *s = store_stmt(t, "INSERT INTO t_items (id, name) VALUES (?, ?)");
    store_bind_int64(s, 1, 1);
    store_bind_text(s, 2, "other");
    int64_t id = count_sql("SELECT id FROM t_items WHERE name='dup'");
    store_bind_int64(s, 1, id);
    assert_int_equal(store_step(s), AITBC_EEXIST); /* PRIMARY KEY */
    store_stmt_done(s);
    assert_int_equal(store_txn_commit(t), 0);
    assert_int_equal(count_items(), 1);
    assert_null(store_stmt(NULL, "SELEC nonsense"));
}

static void test_columns(void **state) {
    (void)state;
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    aitbc_stmt *s = store_stmt(t, "INSERT INTO t_items (name, data) VALUES (?, ?), (?, ?)");
    assert_non_null(s);
    store_bind_text(s, 1, "empty");
    store_bind_blob(s, 2, NULL, 0);
    store_bind_text(s, 3, "null");
    store_bind_null(s, 4);
    assert_int_equal(store_step(s), AITBC_DONE);
    assert_int_equal(store_changes(s), 2);
    store_stmt_done(s);
    assert_int_equal(store_txn_commit(t), 0);

    s = store_stmt(NULL, "SELECT data, name FROM t_items ORDER BY name");
    size_t len = 99;
    assert_int_equal(store_step(s), AITBC_ROW);
    assert_non_null(store_col_blob(s, 0, &len)); /* empty, not NULL */
    assert_int_equal(len, 0);
    assert_false(store_col_is_null(s, 0));
    assert_int_equal(store_step(s), AITBC_ROW);
    assert_null(store_col_blob(s, 0, &len));
    assert_true(store_col_is_null(s, 0));
    assert_string_equal(store_col_text(s, 1), "null");
    assert_int_equal(store_step(s), AITBC_DONE);
    store_stmt_done(s);
}

#define WRITERS 4
#define PER_WRITER 200

static void *writer(void *arg) {
    intptr_t id = (intptr_t)arg;
    intptr_t failures = 0;
    for (int i = 0; i < PER_WRITER; i++) {
        char name[32];
        snprintf(name, sizeof name, "w%d-%d", (int)id, i);
        aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
        if (!t) {
            failures++;
            continue;
        }
        if (insert_item(t, name) != AITBC_DONE) {
            store_txn_rollback(t);
            failures++;
        } else if (store_txn_commit(t) != 0) {
            failures++;
        }
    }
    store_thread_done();
    return (void *)failures;
}

static void test_concurrent_writers(void **state) {
    (void)state;
    pthread_t th[WRITERS];
    for (intptr_t i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer, (void *)i), 0);
    for (int i = 0; i < WRITERS; i++) {
        void *failures = NULL;
        pthread_join(th[i], &failures);
        assert_int_equal((intptr_t)failures, 0);
    }
    assert_int_equal(count_items(), WRITERS * PER_WRITER);
}

static void test_stmt_cache_reuse(void **state) {
    (void)state;
    const char *sql = "SELECT COUNT(*) FROM t_items WHERE name = ?";
    aitbc_stmt *a = store_stmt(NULL, sql);
    assert_non_null(a);
    store_bind_text(a, 1, "x");
    assert_int_equal(store_step(a), AITBC_ROW);
    store_stmt_done(a);
    aitbc_stmt *b = store_stmt(NULL, sql);
    assert_ptr_equal(a, b);
    /* Bindings were cleared: an unbound parameter is NULL, which matches no row. */
    assert_int_equal(store_step(b), AITBC_ROW);
    assert_int_equal(store_col_int64(b, 0), 0);
    store_stmt_done(b);
}

static void test_same_sql_twice(void **state) {
    (void)state;
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "n%d", i);
        assert_int_equal(insert_item(t, name), AITBC_DONE);
    }
    assert_int_equal(store_txn_commit(t), 0);

    const char *sql = "SELECT name FROM t_items ORDER BY name";
    int pairs = 0;
    aitbc_stmt *outer = store_stmt(NULL, sql);
    assert_non_null(outer);
    while (store_step(outer) == AITBC_ROW) {
        aitbc_stmt *inner = store_stmt(NULL, sql);
        assert_non_null(inner);
        assert_ptr_not_equal(inner, outer);
        while (store_step(inner) == AITBC_ROW)
            pairs++;
        store_stmt_done(inner);
    }
    store_stmt_done(outer);
    assert_int_equal(pairs, 9);
    /* Both copies are cached now: two at once again need no third. */
    aitbc_stmt *a = store_stmt(NULL, sql), *b = store_stmt(NULL, sql);
    assert_true((a == outer && b != outer) || (b == outer && a != outer));
    store_stmt_done(a);
    store_stmt_done(b);
}

static aitbc_txn *g_other_txn;

static void *use_foreign_txn(void *arg) {
    (void)arg;
    void *ok = store_stmt(g_other_txn, "SELECT 1") == NULL ? (void *)1 : NULL;
    store_thread_done();
    return ok;
}

static void test_txn_is_per_thread(void **state) {
    (void)state;
    g_other_txn = store_txn_begin(AITBC_TXN_READ);
    assert_non_null(g_other_txn);
    pthread_t th;
    void *refused = NULL;
    assert_int_equal(pthread_create(&th, NULL, use_foreign_txn, NULL), 0);
    pthread_join(th, &refused);
    assert_non_null(refused);
    assert_int_equal(store_txn_commit(g_other_txn), 0);
}

/* Rows, read as a request's handler reads: in a READ transaction of its own begin/commit. */
static int64_t scope_rows(void) {
    aitbc_txn *t = store_txn_begin(AITBC_TXN_READ);
    assert_non_null(t);
    aitbc_stmt *s = store_stmt(t, "SELECT COUNT(*) FROM t_items");
    assert_non_null(s);
    assert_int_equal(store_step(s), AITBC_ROW);
    int64_t n = store_col_int64(s, 0);
    store_stmt_done(s);
    assert_int_equal(store_txn_commit(t), 0);
    return n;
}

static int scope_insert(const char *name) {
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = store_stmt(t, "INSERT INTO t_items (name) VALUES (?)");
    int rc = AITBC_EIO;
    if (s) {
        store_bind_text(s, 1, name);
        rc = store_step(s) == AITBC_DONE ? 0 : AITBC_EIO;
        store_stmt_done(s);
    }
    if (rc != 0) {
        store_txn_rollback(t);
        return rc;
    }
    return store_txn_commit(t);
}

static void *insert_main(void *arg) {
    intptr_t rc = scope_insert(arg);
    store_thread_done();
    return (void *)rc;
}

/* Another request thread writes and commits (its own connection). */
static void insert_elsewhere(const char *name) {
    pthread_t th;
    void *rc = NULL;
    assert_int_equal(pthread_create(&th, NULL, insert_main, (void *)name), 0);
    pthread_join(th, &rc);
    assert_int_equal((intptr_t)rc, 0);
}

/* ---- the request read scope (store_read_scope_begin/end) ---- */

static void test_scope_one_snapshot(void **state) {
    (void)state;
    store_read_scope_begin();
    int64_t before = scope_rows();
    insert_elsewhere("a");
    /* Still the scope's snapshot: the second read nests into the first one's transaction. */
    assert_int_equal(scope_rows(), before);
    store_read_scope_end();
    assert_int_equal(scope_rows(), before + 1);
}

static void test_scope_lazy_and_ended(void **state) {
    (void)state;
    /* Nothing read: nothing open, so this thread may write at once after the scope. */
    store_read_scope_begin();
    store_read_scope_end();
    assert_int_equal(scope_insert("b"), 0);
    /* After its end the scope holds nothing: the next read sees the latest commit. */
    store_read_scope_begin();
    assert_int_equal(scope_rows(), 1);
    store_read_scope_end();
    insert_elsewhere("c");
    assert_int_equal(scope_rows(), 2);
}

static void test_scope_left_by_write(void **state) {
    (void)state;
    store_read_scope_begin();
    assert_int_equal(scope_rows(), 0);
    uint64_t turns = store_write_turns();
    /* A handler that writes after reading: the snapshot ends, the write begins and commits. */
    assert_int_equal(scope_insert("d"), 0);
    assert_true(store_write_turns() > turns);
    assert_int_equal(scope_rows(), 1);
    insert_elsewhere("e");
    assert_int_equal(scope_rows(), 2); /* no scope any more: each read sees the latest */
    store_read_scope_end();
}

static void test_scope_failed_level(void **state) {
    (void)state;
    store_read_scope_begin();
    assert_int_equal(scope_rows(), 0);
    aitbc_txn *t = store_txn_begin(AITBC_TXN_READ);
    assert_non_null(t);
    store_txn_rollback(t);
    /* The rollback doomed only that level's snapshot: the next read begins afresh and commits. */
    insert_elsewhere("f");
    assert_int_equal(scope_rows(), 1);
    store_read_scope_end();
    /* A write on this thread after the scope: nothing was left open. */
    assert_int_equal(scope_insert("g"), 0);
    assert_int_equal(scope_rows(), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inner_commit_outer_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inner_rollback_fails_outer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_inside_read_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_is_eexist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stmt_cache_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_sql_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_is_per_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_one_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_lazy_and_ended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_left_by_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_failed_level, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
