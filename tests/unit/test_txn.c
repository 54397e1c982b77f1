/* aitbc_txn_join/leave (sdk/include/aitbc/txn.h), the one way a service call joins its caller's
 * transaction or owns one, on the real storage layer of an in-process host (testhost.h): an owned
 * call commits on success and never commits a half-written failure; a refusal that wrote nothing
 * leaves an enclosing transaction of the thread usable; a joined call never ends the caller's
 * transaction, so the caller decides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "testhost.h"

static char g_dir[AITBC_TESTHOST_PATH_MAX];
static aitbc_testhost *g_host;
static const aitbc_host_api *api;

static int exec_in(aitbc_txn *t, const char *sql, const char *text) {
    aitbc_stmt *s = api->stmt(t, sql);
    if (!s) return AITBC_EIO;
    if (text) api->bind_text(s, 1, text);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

static int put(aitbc_txn *t, const char *name) {
    return exec_in(t, "INSERT INTO t_rows(name) VALUES(?1)", name);
}

/* 1 if a row named name is committed, 0 if not (read in a transaction of its own). */
static int has(const char *name) {
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    assert_non_null(t);
    aitbc_stmt *s = api->stmt(t, "SELECT 1 FROM t_rows WHERE name = ?1");
    assert_non_null(s);
    api->bind_text(s, 1, name);
    int rc = api->step(s);
    api->stmt_done(s);
    assert_int_equal(api->txn_commit(t), 0);
    return rc == AITBC_ROW;
}

/* What a service call does: join or own, write one row (or refuse before writing), leave. */
static int service(aitbc_txn *given, const char *name, int fail_rc, int write_first) {
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(api, given, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EBUSY;
    int wrote = 0, rc = 0;
    if (write_first) {
        rc = put(t, name);
        wrote = 1;
    }
    if (rc == 0) rc = fail_rc;
    return aitbc_txn_leave(api, &use, rc, wrote);
}

static void owned_success_commits(void **st) {
    (void)st;
    assert_int_equal(service(NULL, "own-ok", 0, 1), 0);
    assert_true(has("own-ok"));
}

static void owned_failure_after_write_rolls_back(void **st) {
    (void)st;
    assert_int_equal(service(NULL, "own-half", AITBC_EIO, 1), AITBC_EIO);
    assert_false(has("own-half"));
}

/* A refusal before any write, nested in a transaction the thread already has open, must not
 * doom that transaction; a failure after a write must (nothing half-written is committed). */
static void owned_refusal_keeps_enclosing_usable(void **st) {
    (void)st;
    aitbc_txn *outer = api->txn_begin(AITBC_TXN_WRITE);
    assert_non_null(outer);
    assert_int_equal(put(outer, "outer-a"), 0);
    assert_int_equal(service(NULL, "never", AITBC_EFUNDS, 0), AITBC_EFUNDS);
    assert_int_equal(put(outer, "outer-b"), 0);
    assert_int_equal(api->txn_commit(outer), 0);
    assert_true(has("outer-a"));
    assert_true(has("outer-b"));

    outer = api->txn_begin(AITBC_TXN_WRITE);
    assert_non_null(outer);
    assert_int_equal(put(outer, "outer-c"), 0);
    assert_int_equal(service(NULL, "nested-half", AITBC_EIO, 1), AITBC_EIO);
    assert_int_equal(api->txn_commit(outer), AITBC_EIO);
    assert_false(has("outer-c"));
    assert_false(has("nested-half"));
}

/* Joined: the call neither commits nor rolls back; the caller's choice decides both ways. */
static void joined_failure_leaves_decision_to_caller(void **st) {
    (void)st;
    aitbc_txn *outer = api->txn_begin(AITBC_TXN_WRITE);
    assert_non_null(outer);
    assert_int_equal(service(outer, "join-half", AITBC_EIO, 1), AITBC_EIO);
    assert_int_equal(put(outer, "join-after"), 0); /* still open and not doomed */
    api->txn_rollback(outer);
    assert_false(has("join-half"));
    assert_false(has("join-after"));

    outer = api->txn_begin(AITBC_TXN_WRITE);
    assert_non_null(outer);
    assert_int_equal(service(outer, "join-kept", AITBC_EIO, 1), AITBC_EIO);
    assert_int_equal(api->txn_commit(outer), 0); /* the caller chose to keep it */
    assert_true(has("join-kept"));
}

static void joined_success_does_not_commit(void **st) {
    (void)st;
    aitbc_txn *outer = api->txn_begin(AITBC_TXN_WRITE);
    assert_non_null(outer);
    assert_int_equal(service(outer, "join-ok", 0, 1), 0);
    assert_int_equal(put(outer, "join-ok-after"), 0); /* still the caller's, still open */
    api->txn_rollback(outer);
    assert_false(has("join-ok"));
    assert_false(has("join-ok-after"));
}

/* An own transaction that cannot begin (a WRITE inside this thread's READ one): NULL, and leave
 * on the untouched use ends nothing. */
static void owned_begin_failure(void **st) {
    (void)st;
    aitbc_txn *outer = api->txn_begin(AITBC_TXN_READ);
    assert_non_null(outer);
    assert_int_equal(service(NULL, "never-2", 0, 1), AITBC_EBUSY);
    aitbc_txn_use use;
    assert_null(aitbc_txn_join(api, NULL, AITBC_TXN_WRITE, &use));
    assert_int_equal(aitbc_txn_leave(api, &use, AITBC_EINVAL, 1), AITBC_EINVAL);
    assert_int_equal(api->txn_commit(outer), 0);
    assert_false(has("never-2"));
}

static int group_setup(void **st) {
    (void)st;
    char path[AITBC_TESTHOST_PATH_MAX];
    if (aitbc_testhost_temp_config(g_dir, path, "log_level: error", NULL) != 0) return -1;
    if (!(g_host = aitbc_testhost_start(path, NULL, 0))) return -1;
    api = aitbc_testhost_api(g_host);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t || exec_in(t, "CREATE TABLE t_rows(name TEXT PRIMARY KEY)", NULL) != 0) return -1;
    return api->txn_commit(t);
}

static int group_teardown(void **st) {
    (void)st;
    aitbc_testhost_stop(g_host);
    return aitbc_testhost_temp_remove(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(owned_success_commits),
        cmocka_unit_test(owned_failure_after_write_rolls_back),
        cmocka_unit_test(owned_refusal_keeps_enclosing_usable),
        cmocka_unit_test(joined_failure_leaves_decision_to_caller),
        cmocka_unit_test(joined_success_does_not_commit),
        cmocka_unit_test(owned_begin_failure),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
