/* The store_* functions every host module calls, sent to the driver chosen by storage.driver
 * when the store opened (store_driver.h). The driver is fixed between store_open and store_close,
 * and both run while no other thread uses the store, so reading it needs no lock. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "store_driver.h"

static const store_driver *g_drv = &store_sqlite_driver;

int store_open(const host_settings *set) {
    /* Keys and the node's identity live in data_dir whatever the driver: owner only, even when
     * the directory existed before with a looser mode. */
    if (set->data_dir[0] && chmod(set->data_dir, 0700) != 0 && errno != ENOENT)
        hlog("store", AITBC_LOG_WARN, "cannot make %s owner-only: %s", set->data_dir,
             strerror(errno));
    g_drv = !strcmp(set->db_driver, "postgres") ? &store_pg_driver : &store_sqlite_driver;
    return g_drv->open(set);
}

const char *store_driver_name(void) {
    return g_drv->name;
}

void store_close(void) {
    g_drv->close();
}

void store_thread_done(void) {
    g_drv->thread_done();
}

aitbc_txn *store_txn_begin(int mode) {
    return g_drv->txn_begin(mode);
}

aitbc_txn *store_txn_begin_scope(void) {
    return g_drv->txn_begin_scope();
}

int store_txn_commit(aitbc_txn *t) {
    return g_drv->txn_commit(t);
}

void store_txn_rollback(aitbc_txn *t) {
    g_drv->txn_rollback(t);
}

int store_txn_exec(aitbc_txn *t, const char *sql) {
    return g_drv->txn_exec(t, sql);
}

aitbc_stmt *store_stmt(aitbc_txn *t, const char *sql) {
    return g_drv->stmt(t, sql);
}

int store_bind_int64(aitbc_stmt *s, int idx, int64_t v) {
    return g_drv->bind_int64(s, idx, v);
}

int store_bind_text(aitbc_stmt *s, int idx, const char *text) {
    return g_drv->bind_text(s, idx, text);
}

int store_bind_blob(aitbc_stmt *s, int idx, const void *data, size_t len) {
    return g_drv->bind_blob(s, idx, data, len);
}

int store_bind_null(aitbc_stmt *s, int idx) {
    return g_drv->bind_null(s, idx);
}

int store_step(aitbc_stmt *s) {
    return g_drv->step(s);
}

int64_t store_col_int64(aitbc_stmt *s, int col) {
    return g_drv->col_int64(s, col);
}

const char *store_col_text(aitbc_stmt *s, int col) {
    return g_drv->col_text(s, col);
}

const void *store_col_blob(aitbc_stmt *s, int col, size_t *len) {
    return g_drv->col_blob(s, col, len);
}

int store_col_is_null(aitbc_stmt *s, int col) {
    return g_drv->col_is_null(s, col);
}

int64_t store_changes(aitbc_stmt *s) {
    return g_drv->changes(s);
}

void store_stmt_done(aitbc_stmt *s) {
    g_drv->stmt_done(s);
}

int store_batch_begin(void) {
    return g_drv->batch_begin();
}

int store_batch_check(void) {
    return g_drv->batch_check();
}

int store_batch_end(int commit) {
    return g_drv->batch_end(commit);
}
