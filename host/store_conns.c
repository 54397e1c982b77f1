/* Per-thread connections of a storage driver: the registry both drivers share. A connection is
 * closed by its thread (store_thread_done), by the thread key's destructor when the thread ends
 * without that, or by store_close — whichever takes it out of the registry first. */
#include "store_conns.h"

/* Unlinks l if it is still there (store_close may have taken it). */
static int unregister(store_conns *r, store_conn_link *l) {
    int found = 0;
    pthread_mutex_lock(&r->lock);
    for (store_conn_link **p = &r->head; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

/* A connection leaves: the writers get their turn back if its transaction held it; closing the
 * connection rolls the transaction back on the server. */
static void release(store_conn_link *l) {
    store_txn_forsake(l->txn);
    l->reg->free_conn(l);
}

/* pthread key destructor: a thread exited without store_thread_done(). */
static void destructor(void *value) {
    store_conn_link *l = value;
    if (unregister(l->reg, l)) release(l);
}

int store_conns_start(store_conns *r) {
    pthread_mutex_lock(&r->lock);
    if (atomic_load(&r->open)) {
        pthread_mutex_unlock(&r->lock);
        hlog("store", AITBC_LOG_ERROR, "store_open: already open");
        return AITBC_EINVAL;
    }
    if (pthread_key_create(&r->key, destructor) != 0) {
        pthread_mutex_unlock(&r->lock);
        return AITBC_EIO;
    }
    atomic_store(&r->open, 1);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

void store_conns_stop(store_conns *r) {
    pthread_mutex_lock(&r->lock);
    if (!atomic_load(&r->open)) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    store_conn_link *list = r->head;
    r->head = NULL;
    atomic_store(&r->open, 0);
    /* Deleting the key means no destructor runs later for a connection freed here. */
    pthread_key_delete(r->key);
    pthread_mutex_unlock(&r->lock);
    while (list) {
        store_conn_link *next = list->next;
        if (list->txn->depth > 0)
            hlog("store", AITBC_LOG_WARN,
                 "closing a connection with an open transaction (rolled back)");
        list->reg->free_conn(list);
        list = next;
    }
}

store_conn_link *store_conns_mine(store_conns *r, int *closed) {
    /* Lock-free on the hot path: only store_open/store_close change the key, with no user
     * running. */
    if (closed) *closed = 0;
    if (!atomic_load(&r->open)) {
        hlog("store", AITBC_LOG_ERROR, "storage used while not open");
        if (closed) *closed = 1;
        return NULL;
    }
    return pthread_getspecific(r->key);
}

void store_conns_add(store_conns *r, store_conn_link *l, aitbc_txn *txn) {
    l->reg = r;
    l->txn = txn;
    pthread_mutex_lock(&r->lock);
    l->next = r->head;
    r->head = l;
    pthread_setspecific(r->key, l);
    pthread_mutex_unlock(&r->lock);
}

void store_conns_thread_done(store_conns *r) {
    pthread_mutex_lock(&r->lock);
    store_conn_link *l = atomic_load(&r->open) ? pthread_getspecific(r->key) : NULL;
    if (l) pthread_setspecific(r->key, NULL);
    pthread_mutex_unlock(&r->lock);
    if (l && unregister(r, l)) {
        if (l->txn->depth > 0)
            hlog("store", AITBC_LOG_WARN, "thread ended inside a transaction (rolled back)");
        release(l);
    }
}

int store_conns_owned(store_conns *r, const aitbc_txn *t) {
    return t->depth > 0 && atomic_load(&r->open) && pthread_getspecific(r->key) == t->conn;
}
