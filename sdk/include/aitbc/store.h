/* Storage SDK: transactions and prepared statements over one database (SQLite, or PostgreSQL with
 * `storage: {driver: postgres}`). Plugins write one portable SQL text for both (docs/plugins.md,
 * "Portable SQL"); the few statements that must differ branch on aitbc_store_is_postgres. */
#ifndef AITBC_STORE_H
#define AITBC_STORE_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An open transaction on the calling thread's connection. Not shareable across threads. */
typedef struct aitbc_txn aitbc_txn;
/** A prepared statement, cached per connection and SQL text; valid until aitbc_host_api.stmt_done.
 */
typedef struct aitbc_stmt aitbc_stmt;

enum { AITBC_TXN_READ = 0, AITBC_TXN_WRITE = 1 };
/** stmt_step results. */
enum { AITBC_ROW = 1, AITBC_DONE = 0 };

typedef struct aitbc_host_api aitbc_host_api;

/** 1 when the host stores in PostgreSQL, 0 for SQLite (also on a host older than ABI 1.3, which
 *  has only SQLite). For the few statements that must differ between the two: call it once (from
 *  init) and keep the answer; every other statement is one portable text. */
int aitbc_store_is_postgres(const aitbc_host_api *api);

/** SQL text for a statement that names an index with SQLite's INDEXED BY, a planner hint
 *  PostgreSQL has no syntax for (its planner has statistics and needs none): `head` INDEXED BY
 *  `index` `tail` on SQLite, `head` `tail` on PostgreSQL. Every argument but pg is a string
 *  literal, so both texts are constants. */
#define AITBC_SQL_INDEXED_BY(pg, head, index, tail)                                                \
    ((pg) ? head " " tail : head " INDEXED BY " index " " tail)

/** One numbered migration step of a plugin. Steps run in order, once, each in a transaction. */
typedef struct aitbc_migration {
    int version;     /**< 1, 2, 3 ... */
    const char *sql; /**< one or more statements */
} aitbc_migration;

#ifdef __cplusplus
}
#endif

#endif
