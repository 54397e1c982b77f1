/* The WebSocket hub: every live connection with its principal, subscriptions (each with its own
 * seq counter) and a bounded queue of outgoing messages.
 *
 * Why a hub: the bus dispatcher must never block on a socket, and only the lws service thread
 * may touch lws. So the dispatcher only appends to queues here (under one mutex) and asks the
 * service thread to come (wake fn); the service thread pops and writes. A queue that reaches
 * queue_max is dropped and its connection marked for a 1008 close: a slow consumer costs the
 * others nothing, and it never sees a silent gap (what it got before the close is complete).
 *
 * An event is rendered once and shared (refcounted) by every queue holding it, whoever may see
 * it: `visible` only decides which queues get it, never what the frame says. The frame text is
 * head + seq + tail (seq counts per connection and topic, so it is the one per-subscriber
 * part), assembled when it is written; the service thread writes a connection's queued frames
 * in batches, many per send(). */
#include "aitbc/errors.h"
#include "ws_hub_priv.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- hub and connections ---------------- */

ws_hub *ws_hub_new(size_t queue_max, size_t headroom, ws_wake_fn wake_fn, void *wake_arg) {
    ws_hub *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->queue_max = queue_max ? queue_max : 1;
    h->headroom = headroom;
    h->wake = wake_fn;
    h->wake_arg = wake_arg;
    atomic_init(&h->active_subs, 0);
    return h;
}

void ws_hub_free(ws_hub *h) {
    if (!h) return;
    while (h->head) {
        ws_conn *c = h->head;
        h->head = c->next;
        wsq_conn_free(c);
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
}

ws_conn *ws_conn_new(const aitbc_principal *who, void *wsi) {
    ws_conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->who = *who;
    c->wsi = wsi;
    return c;
}

const aitbc_principal *ws_conn_principal(const ws_conn *c) {
    return &c->who;
}

void *ws_conn_wsi(const ws_conn *c) {
    return c->wsi;
}

void ws_hub_add(ws_hub *h, ws_conn *c) {
    pthread_mutex_lock(&h->lock);
    c->prev = NULL;
    c->next = h->head;
    if (h->head) h->head->prev = c;
    h->head = c;
    c->in_hub = 1;
    h->count++;
    pthread_mutex_unlock(&h->lock);
}

void ws_hub_remove(ws_hub *h, ws_conn *c) {
    if (!c) return;
    pthread_mutex_lock(&h->lock);
    if (c->in_hub) {
        if (c->prev)
            c->prev->next = c->next;
        else
            h->head = c->next;
        if (c->next) c->next->prev = c->prev;
        c->in_hub = 0;
        h->count--;
        atomic_fetch_sub(&h->active_subs, c->nactive);
    }
    if (c->wake_pending) {
        for (ws_conn **pp = &h->wakes; *pp; pp = &(*pp)->wake_next)
            if (*pp == c) {
                *pp = c->wake_next;
                break;
            }
        c->wake_pending = 0;
    }
    pthread_mutex_unlock(&h->lock);
    wsq_conn_free(c);
}

void ws_hub_set_max_bytes(ws_hub *h, size_t bytes) {
    pthread_mutex_lock(&h->lock);
    h->queue_max_bytes = bytes;
    pthread_mutex_unlock(&h->lock);
}

size_t ws_hub_count(ws_hub *h) {
    pthread_mutex_lock(&h->lock);
    size_t n = h->count;
    pthread_mutex_unlock(&h->lock);
    return n;
}

void ws_hub_totals(ws_hub *h, size_t *conns, size_t *msgs, size_t *bytes) {
    size_t m = 0, b = 0;
    pthread_mutex_lock(&h->lock);
    for (ws_conn *c = h->head; c; c = c->next) {
        m += c->qlen;
        b += c->qbytes;
    }
    *conns = h->count;
    pthread_mutex_unlock(&h->lock);
    *msgs = m;
    *bytes = b;
}

void ws_hub_count_of(ws_hub *h, const char *key_id, const char *account, size_t *by_key,
                     size_t *by_account) {
    size_t k = 0, a = 0;
    pthread_mutex_lock(&h->lock);
    for (ws_conn *c = h->head; c; c = c->next) {
        k += key_id && !strcmp(c->who.key_id, key_id);
        a += account && account[0] && !strcmp(c->who.owner_address, account);
    }
    pthread_mutex_unlock(&h->lock);
    *by_key = k;
    *by_account = a;
}

/* ---------------- subscriptions (service thread) ---------------- */

static ws_sub *find_sub(ws_conn *c, const char *topic) {
    for (size_t i = 0; i < c->nsubs; i++)
        if (!strcmp(c->subs[i].topic, topic)) return &c->subs[i];
    return NULL;
}

/* Activate topic on c; hub lock held. NULL reason = done. */
static const char *activate(ws_hub *h, ws_conn *c, const char *topic) {
    ws_sub *s = find_sub(c, topic);
    if (s && s->active) return NULL;
    if (c->nactive >= WS_MAX_SUBS) return "limit_exceeded";
    if (!s) {
        char *name = strdup(topic);
        if (!name) return "internal";
        /* Inactive entries only keep seq counters; reuse one rather than grow without bound
         * (with nactive < WS_MAX_SUBS at least half of 2 * WS_MAX_SUBS entries are inactive). */
        if (c->nsubs >= 2 * WS_MAX_SUBS) {
            for (size_t i = 0; i < c->nsubs && !s; i++)
                if (!c->subs[i].active) s = &c->subs[i];
            free(s->topic);
        } else {
            ws_sub *grown = realloc(c->subs, (c->nsubs + 1) * sizeof(*grown));
            if (!grown) {
                free(name);
                return "internal";
            }
            c->subs = grown;
            s = &c->subs[c->nsubs++];
        }
        s->topic = name;
        s->seq = 0;
    }
    s->active = 1;
    c->nactive++;
    if (c->in_hub) atomic_fetch_add(&h->active_subs, 1);
    return NULL;
}

cJSON *ws_hub_subscribe(ws_hub *h, ws_conn *c, const cJSON *topics, ws_lookup_fn lookup) {
    cJSON *res = cJSON_CreateObject();
    cJSON *ok = cJSON_AddArrayToObject(res, "subscribed");
    cJSON *denied = cJSON_AddArrayToObject(res, "denied");
    if (!ok || !denied) {
        cJSON_Delete(res);
        return NULL;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, topics) {
        const char *name = cJSON_GetStringValue(t);
        const char *reason = "unknown_topic";
        if (ws_topic_name_ok(name)) {
            /* The bus lookup runs outside the hub lock: no lock order between bus and hub. */
            reason = ws_topic_reason(ws_topic_check(lookup ? lookup(name) : NULL, &c->who));
            if (!reason) {
                pthread_mutex_lock(&h->lock);
                reason = activate(h, c, name);
                pthread_mutex_unlock(&h->lock);
            }
        }
        if (!reason) {
            cJSON_AddItemToArray(ok, cJSON_CreateString(name));
            continue;
        }
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "topic", name ? name : "");
        cJSON_AddStringToObject(d, "reason", reason);
        cJSON_AddItemToArray(denied, d);
    }
    return res;
}

cJSON *ws_hub_unsubscribe(ws_hub *h, ws_conn *c, const cJSON *topics) {
    cJSON *res = cJSON_CreateObject();
    cJSON *done = cJSON_AddArrayToObject(res, "unsubscribed");
    if (!done) {
        cJSON_Delete(res);
        return NULL;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, topics) {
        const char *name = cJSON_GetStringValue(t);
        if (!name) continue;
        pthread_mutex_lock(&h->lock);
        ws_sub *s = find_sub(c, name);
        if (s && s->active) {
            s->active = 0;
            c->nactive--;
            if (c->in_hub) atomic_fetch_sub(&h->active_subs, 1);
            wsq_purge_topic(c, name);
        }
        pthread_mutex_unlock(&h->lock);
        cJSON_AddItemToArray(done, cJSON_CreateString(name));
    }
    return res;
}

/* ---------------- queueing ---------------- */

void ws_hub_reply(ws_hub *h, ws_conn *c, char *text) {
    int w = 0;
    if (!text) return;
    pthread_mutex_lock(&h->lock);
    if (c->close_code) {
        free(text);
    } else if (!wsq_fits(h, c, strlen(text))) {
        free(text);
        w = wsq_overflow(h, c);
    } else if (wsq_push(h, c, (ws_msg){.text = text})) {
        free(text);
        w = wsq_decide_close(h, c, WS_CLOSE_GOING_AWAY, "out of memory", 0);
    } else {
        w = wsq_mark_wake(h, c);
    }
    pthread_mutex_unlock(&h->lock);
    wsq_wake(h, w);
}

int ws_hub_backlogged(ws_hub *h, ws_conn *c) {
    pthread_mutex_lock(&h->lock);
    int full =
        c->qlen * 2 >= h->queue_max || (h->queue_max_bytes && c->qbytes * 2 >= h->queue_max_bytes);
    pthread_mutex_unlock(&h->lock);
    return full;
}

void ws_hub_close(ws_hub *h, ws_conn *c, int code, const char *reason) {
    pthread_mutex_lock(&h->lock);
    int w = wsq_decide_close(h, c, code, reason, 1);
    pthread_mutex_unlock(&h->lock);
    wsq_wake(h, w);
}

size_t ws_hub_publish(ws_hub *h, const char *topic, const cJSON *data, const aitbc_topic *decl) {
    if (!decl || !topic || atomic_load(&h->active_subs) == 0) return 0;
    ws_event *ev = wsq_event_new(topic, data);
    if (!ev) return 0;
    size_t ev_bytes = wsq_msg_bytes(&(ws_msg){.ev = ev});
    size_t delivered = 0;
    int w = 0;
    pthread_mutex_lock(&h->lock);
    for (ws_conn *c = h->head; c; c = c->next) {
        if (c->close_code) continue;
        ws_sub *s = find_sub(c, topic);
        if (!s || !s->active) continue;
        if (decl->visible && !decl->visible(&c->who, data, decl->user)) continue;
        if (!wsq_fits(h, c, ev_bytes)) {
            w |= wsq_overflow(h, c);
            continue;
        }
        if (wsq_push(h, c, (ws_msg){.ev = ev, .seq = s->seq + 1})) {
            w |= wsq_decide_close(h, c, WS_CLOSE_GOING_AWAY, "out of memory", 0);
            continue;
        }
        s->seq++;
        delivered++;
        w |= wsq_mark_wake(h, c);
    }
    /* One reference per queue holding ev, taken in one step: no queue can release its
     * reference before the lock is given up, and our own keeps ev alive until then. */
    if (delivered) atomic_fetch_add(&ev->refs, delivered);
    pthread_mutex_unlock(&h->lock);
    wsq_event_release(ev);
    wsq_wake(h, w);
    return delivered;
}

size_t ws_hub_revoke(ws_hub *h, const char *key_id) {
    size_t n = 0;
    int w = 0;
    if (!key_id || !*key_id) return 0;
    pthread_mutex_lock(&h->lock);
    for (ws_conn *c = h->head; c; c = c->next)
        if (!strcmp(c->who.key_id, key_id) && c->close_code != WS_CLOSE_REVOKED) {
            c->close_code = 0; /* revocation wins over any close already decided */
            w |= wsq_decide_close(h, c, WS_CLOSE_REVOKED, "api key revoked", 0);
            n++;
        }
    pthread_mutex_unlock(&h->lock);
    wsq_wake(h, w);
    return n;
}

void ws_hub_close_all(ws_hub *h, int code, const char *reason) {
    int w = 0;
    pthread_mutex_lock(&h->lock);
    for (ws_conn *c = h->head; c; c = c->next)
        w |= wsq_decide_close(h, c, code, reason, 1);
    pthread_mutex_unlock(&h->lock);
    wsq_wake(h, w);
}

/* ---------------- service thread ---------------- */

void ws_hub_service(ws_hub *h, void (*fn)(ws_conn *c, int new_close, void *arg), void *arg) {
    pthread_mutex_lock(&h->lock);
    while (h->wakes) {
        ws_conn *c = h->wakes;
        h->wakes = c->wake_next;
        c->wake_pending = 0;
        int new_close = 0;
        if (c->close_code && !c->close_seen) {
            c->close_seen = 1;
            new_close = c->close_code;
        }
        fn(c, new_close, arg);
    }
    pthread_mutex_unlock(&h->lock);
}
