/* One idempotent request as one transaction: the Idempotency-Key claim, the handler's work and
 * the recorded answer commit together (store_txn_begin_scope), so a crash leaves either all of
 * them or none. What the handler announces meanwhile — long-poll wake-ups and bus events — is
 * held until the scope commits: a woken long-poll must find the committed row, and work that is
 * rolled back announces nothing. The scope belongs to the request's thread. */
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"

typedef struct held {
    char *key;   /* wake key, or NULL for an event */
    char *topic; /* event topic */
    cJSON *data; /* event data (owned) */
    struct held *next;
} held;

typedef struct scope {
    aitbc_txn *txn;
    held *head, **tail;
} scope;

static _Thread_local scope *t_scope;

int scope_begin(void) {
    if (t_scope) return AITBC_EINVAL;
    scope *s = calloc(1, sizeof *s);
    if (!s) return AITBC_ENOMEM;
    s->txn = store_txn_begin_scope();
    if (!s->txn) {
        free(s);
        return AITBC_EBUSY;
    }
    s->tail = &s->head;
    t_scope = s;
    return 0;
}

int scope_active(void) {
    return t_scope != NULL;
}

static int hold(held *h) {
    *t_scope->tail = h;
    t_scope->tail = &h->next;
    return 1;
}

int scope_hold_wake(const char *key) {
    if (!t_scope || !key) return 0;
    held *h = calloc(1, sizeof *h);
    if (!h || !(h->key = strdup(key))) {
        free(h);
        return 0; /* wake now: early beats never */
    }
    return hold(h);
}

int scope_hold_take(const char *topic, cJSON **data) {
    if (!t_scope || !topic || !data || !*data) return 0;
    held *h = calloc(1, sizeof *h);
    if (!h || !(h->topic = strdup(topic))) {
        free(h);
        return 0;
    }
    h->data = *data;
    *data = NULL;
    return hold(h);
}

/* Several hosts: what the scope announces goes into the outbox in its own transaction, as the
 * writer's batches do (cluster_events.c). */
static int outbox(const scope *s) {
    int rc = 0;
    for (const held *h = s->head; h && rc == 0 && cluster_active(); h = h->next)
        rc = h->key ? cluster_outbox_wake(h->key) : cluster_outbox_event(h->topic, h->data);
    return rc == 0 ? cluster_outbox_flush() : (cluster_outbox_discard(), rc);
}

int scope_end(int commit) {
    scope *s = t_scope;
    if (!s) return 0;
    t_scope = NULL;
    int rc = 0;
    if (commit && outbox(s) != 0) {
        store_txn_rollback(s->txn); /* the other hosts would never hear of it: undo it */
        rc = AITBC_EIO;
    } else if (commit) {
        rc = store_txn_commit(s->txn);
    } else {
        store_txn_rollback(s->txn);
        rc = AITBC_EIO;
    }
    for (held *h = s->head, *next; h; h = next) {
        next = h->next;
        if (rc == 0 && h->key)
            http_wake(h->key);
        else if (rc == 0) {
            bus_publish_owned(h->topic, h->data); /* the held copy is queued as is */
            h->data = NULL;
        }
        free(h->key);
        free(h->topic);
        cJSON_Delete(h->data);
        free(h);
    }
    free(s);
    return rc;
}
