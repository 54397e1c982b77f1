/* Unit tests of store_walbuf.c (the VFS that writes the WAL in large pieces), with SQLite
 * directly on a temp database: connection A uses the VFS, B and C the default one, the way other
 * processes (the sqlite3 CLI, --verify-chain) see the files. A small page cache makes A's
 * transactions spill frames into the WAL before they commit or roll back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "internal.h"
#include "store_priv.h"
#include "testhost.h"

static char g_dir[256];
static char g_db[300];

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/aitbc-test-walbuf-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_db, sizeof g_db, "%s/test.db", g_dir);
    return store_walbuf_vfs() ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return aitbc_testhost_temp_remove(g_dir);
}

static void exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fail_msg("%s: %s", sql, err ? err : sqlite3_errstr(rc));
}

static sqlite3 *open_db(int walbuf) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     walbuf ? store_walbuf_vfs() : NULL),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;");
    return db;
}

static int64_t count(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void assert_intact(sqlite3 *db) {
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* n rows of 1 KiB, tagged: enough to overflow a 10-page cache many times over. */
static void insert(sqlite3 *db, const char *tag, int n) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
             "INSERT INTO t(tag, data) SELECT '%s', randomblob(1024) FROM k",
             n, tag);
    exec(db, sql);
}

/* What A commits is in the file when COMMIT returns: a default-VFS connection reads it. */
static void test_commits_visible_to_plain_reader(void **state) {
    (void)state;
    sqlite3 *a = open_db(1), *b = open_db(0);
    exec(a, "CREATE TABLE t(id INTEGER PRIMARY KEY, tag TEXT, data BLOB); PRAGMA cache_size=10");
    for (int i = 0; i < 5; i++) {
        exec(a, "BEGIN IMMEDIATE");
        insert(a, "a", 300);
        exec(a, "COMMIT");
        assert_int_equal(count(b, "SELECT COUNT(*) FROM t"), 300 * (i + 1));
    }
    assert_intact(b);
    sqlite3_close(a);
    sqlite3_close(b);
}

/* A savepoint rolled back after its frames spilled, inside a transaction that commits. */
static void test_savepoint_rollback_after_spill(void **state) {
    (void)state;
    sqlite3 *a = open_db(1), *b = open_db(0);
    exec(a, "CREATE TABLE t(id INTEGER PRIMARY KEY, tag TEXT, data BLOB); PRAGMA cache_size=10");
    exec(a, "BEGIN IMMEDIATE");
    insert(a, "kept", 100);
    exec(a, "SAVEPOINT s");
    insert(a, "undone", 400);
    exec(a, "ROLLBACK TO s; RELEASE s");
    insert(a, "kept", 50);
    exec(a, "COMMIT");
    assert_int_equal(count(b, "SELECT COUNT(*) FROM t WHERE tag = 'kept'"), 150);
    assert_int_equal(count(b, "SELECT COUNT(*) FROM t WHERE tag = 'undone'"), 0);
    assert_intact(b);
    sqlite3_close(a);
    sqlite3_close(b);
}

/* A rolls back a transaction whose frames spilled, B then commits into the same WAL offsets,
 * then A writes again: A's dead frames must not land on top of B's (they were written before
 * A let go of the write lock). */
static void test_rollback_then_other_writer(void **state) {
    (void)state;
    sqlite3 *a = open_db(1), *b = open_db(0);
    exec(a, "CREATE TABLE t(id INTEGER PRIMARY KEY, tag TEXT, data BLOB); PRAGMA cache_size=10");
    for (int round = 0; round < 3; round++) {
        exec(a, "BEGIN IMMEDIATE");
        insert(a, "dead", 400);
        exec(a, "ROLLBACK");
        exec(b, "BEGIN IMMEDIATE");
        insert(b, "b", 200);
        exec(b, "COMMIT");
        exec(a, "BEGIN IMMEDIATE");
        insert(a, "a", 1);
        exec(a, "COMMIT");
    }
    sqlite3_close(a);
    sqlite3_close(b);
    sqlite3 *c = open_db(0); /* a fresh connection rebuilds the wal-index from the file */
    assert_int_equal(count(c, "SELECT COUNT(*) FROM t WHERE tag = 'b'"), 600);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM t WHERE tag = 'a'"), 3);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM t WHERE tag = 'dead'"), 0);
    assert_intact(c);
    sqlite3_close(c);
}

/* A process that dies (no close, no checkpoint) in the middle of a spilled transaction: every
 * transaction it had committed is in the WAL, nothing of the open one. */
static void test_killed_writer_keeps_commits(void **state) {
    (void)state;
    sqlite3 *setup_db = open_db(0);
    exec(setup_db, "CREATE TABLE t(id INTEGER PRIMARY KEY, tag TEXT, data BLOB)");
    sqlite3_close(setup_db);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *a = open_db(1);
        exec(a, "PRAGMA cache_size=10");
        for (int i = 0; i < 4; i++) {
            exec(a, "BEGIN IMMEDIATE");
            insert(a, "a", 250);
            exec(a, "COMMIT");
        }
        exec(a, "BEGIN IMMEDIATE");
        insert(a, "open", 400);
        _exit(0); /* like kill -9: the connection is never closed */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sqlite3 *c = open_db(0);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM t WHERE tag = 'a'"), 1000);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM t WHERE tag = 'open'"), 0);
    assert_intact(c);
    sqlite3_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commits_visible_to_plain_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_savepoint_rollback_after_spill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_then_other_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_writer_keeps_commits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
