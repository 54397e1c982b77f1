/* State a plugin keeps in memory beside the database, when several hosts share that database.
 *
 * On SQLite one host owns the file, so a copy in memory that follows every local write stays
 * exact. On PostgreSQL several hosts may write the same tables, and their writes never pass
 * through this host's memory. Two tools keep such a copy honest there, both free on SQLite:
 *
 *  - aitbc_store_shared(api): 1 when other hosts may write this database (driver "postgres").
 *    Code that must decide from the truth (inside a write transaction, which on PostgreSQL holds
 *    the database-wide write lock) reads the row instead of its copy when it returns 1.
 *  - A generation: one counter row in a table of the plugin's own,
 *        CREATE TABLE <plugin>_gen(name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
 *        INSERT INTO <plugin>_gen(name, n) VALUES('<what>', 0);
 *    that every transaction changing the state a copy mirrors bumps (aitbc_gen_bump, in that
 *    transaction). A host remembers the generation it built its copy at, reads it again before
 *    trusting the copy (aitbc_gen_read: one indexed read), and rebuilds when it moved. Read the
 *    generation and the rows in one read transaction: they are one snapshot, so a change that
 *    commits after it moves the generation past what the copy remembers. */
#ifndef AITBC_SHARED_H
#define AITBC_SHARED_H

#include <stdint.h>
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aitbc_host_api aitbc_host_api;

/** 1 when other hosts may write the same database (storage driver "postgres"), 0 on SQLite and
 *  on hosts older than ABI 1.3 (no storage_driver entry: SQLite). Any thread. */
int aitbc_store_shared(const aitbc_host_api *api);

/** Inside write transaction t: add one to row `name` of `table` (a <plugin>_gen table as above),
 *  so other hosts see that the state it names changed. Does nothing (0) when the database is not
 *  shared. 0, or the storage error (the caller's transaction must then fail: a change other
 *  hosts would not notice must not commit). */
int aitbc_gen_bump(const aitbc_host_api *api, aitbc_txn *t, const char *table, const char *name);

/** The generation of row `name` of `table` into *n (0 when the row is missing). Reads in t, or in
 *  a read transaction of its own when t is NULL (nested into one the calling thread has open).
 *  0 or the storage error. */
int aitbc_gen_read(const aitbc_host_api *api, aitbc_txn *t, const char *table, const char *name,
                   int64_t *n);

#ifdef __cplusplus
}
#endif

#endif
