/* The per-thread connections of a storage driver (store_conns.c): each thread that uses the store
 * gets its own, opened on first use; a registry lets store_close() close them all, and a thread
 * key closes the connection of a thread that ends without store_thread_done(). */
#ifndef AITBC_STORE_CONNS_H
#define AITBC_STORE_CONNS_H

#include <pthread.h>
#include <stdatomic.h>
#include "store_txn.h"

typedef struct store_conns store_conns;

/* The first member of a driver's connection, so a link's address is the connection's. */
typedef struct store_conn_link {
    store_conns *reg;
    aitbc_txn *txn; /* the connection's transaction */
    struct store_conn_link *next;
} store_conn_link;

struct store_conns {
    pthread_mutex_t lock; /* the list, and opening/closing the registry */
    pthread_key_t key;
    atomic_int open;
    store_conn_link *head;
    void (*free_conn)(store_conn_link *l); /* the driver closes and frees one */
};

#define STORE_CONNS_INIT(free_fn)                                                                  \
    { PTHREAD_MUTEX_INITIALIZER, 0, 0, NULL, free_fn }

/** @brief Make the registry usable. 0, AITBC_EINVAL when already open (logged), AITBC_EIO. */
int store_conns_start(store_conns *r);
/** @brief Close every connection (all other users must have stopped). */
void store_conns_stop(store_conns *r);
/** @brief The calling thread's connection, or NULL if it has none yet. Logs and returns NULL with
 *  *closed set when the registry is not open (closed may be NULL). */
store_conn_link *store_conns_mine(store_conns *r, int *closed);
/** @brief Register l as the calling thread's connection. */
void store_conns_add(store_conns *r, store_conn_link *l, aitbc_txn *txn);
/** @brief Close the calling thread's connection, if it has one. */
void store_conns_thread_done(store_conns *r);
/** @brief Whether t is open and belongs to the calling thread's connection. */
int store_conns_owned(store_conns *r, const aitbc_txn *t);

#endif
