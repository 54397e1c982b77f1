/* Unit tests of the request read scope (store_read_scope_begin/end, store_txn.c) on a real SQLite
 * file: the reads of one scope share one transaction and one snapshot, nothing is opened until a
 * read begins, a write leaves the scope (and sees its own work), a failed read level ends the
 * snapshot so later reads still work, and write_turns counts every ended write transaction. */
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
    snprintf(g_dir, sizeof g_dir, "/tmp/aitbc-scope-test-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_db, sizeof g_db, "%s/test.db", g_dir);
    host_settings set;
    memset(&set, 0, sizeof set);
    snprintf(set.db_path, sizeof set.db_path, "%s", g_db);
    snprintf(set.db_synchronous, sizeof set.db_synchronous, "normal");
    set.db_busy_timeout_ms = 10000;
    if (store_open(&set) != 0) return -1;
    static const aitbc_migration base[] = {{1, "CREATE TABLE s_rows (name TEXT PRIMARY KEY)"}};
    return store_migrate("s", base, 1);
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

/* Rows, read as a request's handler reads: in a READ transaction of its own begin/commit. */
static int64_t rows(void) {
    aitbc_txn *t = store_txn_begin(AITBC_TXN_READ);
    assert_non_null(t);
    aitbc_stmt *s = store_stmt(t, "SELECT COUNT(*) FROM s_rows");
    assert_non_null(s);
    assert_int_equal(store_step(s), AITBC_ROW);
    int64_t n = store_col_int64(s, 0);
    store_stmt_done(s);
    assert_int_equal(store_txn_commit(t), 0);
    return n;
}

static int insert(const char *name) {
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = store_stmt(t, "INSERT INTO s_rows (name) VALUES (?)");
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
    intptr_t rc = insert(arg);
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

static void test_one_snapshot(void **state) {
    (void)state;
    store_read_scope_begin();
    int64_t before = rows();
    insert_elsewhere("a");
    /* Still the scope's snapshot: the second read nests into the first one's transaction. */
    assert_int_equal(rows(), before);
    store_read_scope_end();
    assert_int_equal(rows(), before + 1);
}

static void test_lazy_and_ended(void **state) {
    (void)state;
    /* Nothing read: nothing open, so this thread may write at once after the scope. */
    store_read_scope_begin();
    store_read_scope_end();
    assert_int_equal(insert("b"), 0);
    /* After its end the scope holds nothing: the next read sees the latest commit. */
    store_read_scope_begin();
    assert_int_equal(rows(), 1);
    store_read_scope_end();
    insert_elsewhere("c");
    assert_int_equal(rows(), 2);
}

static void test_write_leaves_scope(void **state) {
    (void)state;
    store_read_scope_begin();
    assert_int_equal(rows(), 0);
    uint64_t turns = store_write_turns();
    /* A handler that writes after reading: the snapshot ends, the write begins and commits. */
    assert_int_equal(insert("d"), 0);
    assert_true(store_write_turns() > turns);
    assert_int_equal(rows(), 1);
    insert_elsewhere("e");
    assert_int_equal(rows(), 2); /* no scope any more: each read sees the latest */
    store_read_scope_end();
}

static void test_failed_level_ends_snapshot(void **state) {
    (void)state;
    store_read_scope_begin();
    assert_int_equal(rows(), 0);
    aitbc_txn *t = store_txn_begin(AITBC_TXN_READ);
    assert_non_null(t);
    store_txn_rollback(t);
    /* The rollback doomed only that level's snapshot: the next read begins afresh and commits. */
    insert_elsewhere("f");
    assert_int_equal(rows(), 1);
    store_read_scope_end();
    /* A write on this thread after the scope: nothing was left open. */
    assert_int_equal(insert("g"), 0);
    assert_int_equal(rows(), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_and_ended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_leaves_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_level_ends_snapshot, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
