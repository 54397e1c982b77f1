/* Storage SDK: transactions and prepared statements over one database (SQLite today). */
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

/** One numbered migration step of a plugin. Steps run in order, once, each in a transaction. */
typedef struct aitbc_migration {
    int version;     /**< 1, 2, 3 ... */
    const char *sql; /**< one or more statements */
} aitbc_migration;

#ifdef __cplusplus
}
#endif

#endif
