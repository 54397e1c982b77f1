/* Upgrade tickets for browsers, which cannot set X-Api-Key on a WebSocket: POST /v1/ws/tickets
 * trades the key for a random single-use ticket bound to the caller's principal, good for 30 s,
 * passed as ?ticket= (so an API key never appears in a URL or an access log).
 *
 * Kept in memory only: a restart just invalidates outstanding tickets, which live 30 s anyway.
 * The store is a small array scanned linearly, compared in constant time per entry; it is
 * bounded in all and per key, so a caller cannot grow it without limit. */
#include "aitbc/errors.h"
#include "ws_internal.h"
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define TICKET_PREFIX "wst_"
#define TICKET_RANDOM 16 /* bytes: 128 bits */
#define TICKET_LEN (sizeof(TICKET_PREFIX) - 1 + 2 * TICKET_RANDOM)

typedef struct ticket {
    char text[WS_TICKET_MAX];
    aitbc_principal who;
    int64_t expires_ms;
} ticket;

struct ws_tickets {
    pthread_mutex_t lock;
    ticket *items;
    size_t n, cap;
};

ws_tickets *ws_tickets_new(void) {
    ws_tickets *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void ws_tickets_free(ws_tickets *t) {
    if (!t) return;
    sodium_memzero(t->items, t->cap * sizeof(*t->items));
    free(t->items);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static void drop_at(ws_tickets *t, size_t i) {
    t->items[i] = t->items[--t->n];
    sodium_memzero(&t->items[t->n], sizeof(t->items[t->n]));
}

static void purge_expired(ws_tickets *t, int64_t now_ms) {
    for (size_t i = 0; i < t->n;)
        if (t->items[i].expires_ms <= now_ms)
            drop_at(t, i);
        else
            i++;
}

int ws_tickets_issue(ws_tickets *t, const aitbc_principal *who, int64_t now_ms,
                     char out[WS_TICKET_MAX], int64_t *expires_ms) {
    unsigned char rnd[TICKET_RANDOM];
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    purge_expired(t, now_ms);
    size_t mine = 0;
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->items[i].who.key_id, who->key_id)) mine++;
    if (mine >= WS_TICKETS_PER_KEY) {
        rc = AITBC_ERATE;
        goto out;
    }
    if (t->n >= WS_TICKETS_MAX) {
        rc = AITBC_EUNAVAIL;
        goto out;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        ticket *grown = realloc(t->items, cap * sizeof(*grown));
        if (!grown) {
            rc = AITBC_ENOMEM;
            goto out;
        }
        t->items = grown;
        t->cap = cap;
    }
    ticket *k = &t->items[t->n++];
    memset(k, 0, sizeof(*k));
    randombytes_buf(rnd, sizeof(rnd));
    memcpy(k->text, TICKET_PREFIX, sizeof(TICKET_PREFIX) - 1);
    sodium_bin2hex(k->text + sizeof(TICKET_PREFIX) - 1, 2 * TICKET_RANDOM + 1, rnd, sizeof(rnd));
    k->who = *who;
    k->expires_ms = now_ms + WS_TICKET_TTL_MS;
    memcpy(out, k->text, WS_TICKET_MAX);
    *expires_ms = k->expires_ms;
out:
    pthread_mutex_unlock(&t->lock);
    sodium_memzero(rnd, sizeof(rnd));
    return rc;
}

int ws_tickets_take(ws_tickets *t, const char *text, int64_t now_ms, aitbc_principal *who) {
    if (!text || strlen(text) != TICKET_LEN) return AITBC_EAUTH;
    int rc = AITBC_EAUTH;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        /* Constant time per entry: timing says nothing about how much of a ticket matched. */
        if (sodium_memcmp(t->items[i].text, text, TICKET_LEN) != 0) continue;
        if (t->items[i].expires_ms > now_ms) {
            *who = t->items[i].who;
            rc = 0;
        }
        drop_at(t, i); /* single use, and an expired one is gone as well */
        break;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void ws_tickets_revoke(ws_tickets *t, const char *key_id) {
    if (!key_id) return;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n;)
        if (!strcmp(t->items[i].who.key_id, key_id))
            drop_at(t, i);
        else
            i++;
    pthread_mutex_unlock(&t->lock);
}
