/* The WebSocket hub: every live connection with its principal, subscriptions (each with its own
 * seq counter) and a bounded queue of outgoing messages.
 *
 * Why a hub: the bus dispatcher must never block on a socket, and only the lws service thread
 * may touch lws. So the dispatcher only appends to queues here (under one mutex) and asks the
 * service thread to come (wake fn); the service thread pops and writes. A queue that reaches
 * queue_max is dropped and its connection marked for a 1008 close: a slow consumer costs the
 * others nothing, and it never sees a silent gap (what it got before the close is complete).
 *
 * An event is rendered once and shared (refcounted) by every queue holding it; the frame text
 * is head + seq + tail, assembled per connection when it is written. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aitbc/errors.h"
#include "ws_internal.h"

typedef struct ws_event {
    atomic_size_t refs;
    char *topic;           /* for dropping on unsubscribe */
    char *head, *tail;     /* {"method":"event","params":{"topic":T,"seq":  …  ,"data":D}} */
    size_t head_len, tail_len;
} ws_event;

typedef struct ws_msg {
    ws_event *ev;   /* an event, or NULL for a reply */
    uint64_t seq;
    char *text;     /* reply text (owned) when ev == NULL */
} ws_msg;

typedef struct ws_sub {
    char *topic;
    uint64_t seq;   /* kept after unsubscribe so a seq is never reused on a connection */
    int active;
} ws_sub;

struct ws_conn {
    aitbc_principal who;
    void *wsi;
    ws_conn *prev, *next;
    int in_hub;
    ws_sub *subs;
    size_t nsubs, nactive;
    ws_msg *q;             /* ring */
    size_t qcap, qhead, qlen;
    int close_code;        /* nonzero: close decided */
    int close_drain;       /* send what is queued before the close */
    int close_seen;        /* the service fn was told */
    char close_reason[64];
    int wake_pending;
    ws_conn *wake_next;
    char *wbuf;            /* service thread only */
    size_t wcap;
    char *rbuf;
    size_t rlen, rcap;
};

struct ws_hub {
    pthread_mutex_t lock;
    size_t queue_max, headroom;
    ws_wake_fn wake;
    void *wake_arg;
    ws_conn *head;
    size_t count;
    ws_conn *wakes;
    atomic_size_t active_subs; /* lets publish skip rendering when nobody listens */
};

/* ---------------- events and messages ---------------- */

static void event_release(ws_event *ev)
{
    if (ev && atomic_fetch_sub(&ev->refs, 1) == 1) {
        free(ev->topic);
        free(ev->head);
        free(ev->tail);
        free(ev);
    }
}

static ws_event *event_new(const char *topic, const cJSON *data)
{
    ws_event *ev = calloc(1, sizeof(*ev));
    cJSON *t = cJSON_CreateString(topic);
    char *tj = t ? cJSON_PrintUnformatted(t) : NULL;
    char *dj = data ? cJSON_PrintUnformatted(data) : strdup("null");
    cJSON_Delete(t);
    if (!ev || !tj || !dj)
        goto fail;
    atomic_init(&ev->refs, 1);
    ev->topic = strdup(topic);
    ev->head_len = strlen("{\"method\":\"event\",\"params\":{\"topic\":") + strlen(tj) +
                   strlen(",\"seq\":");
    ev->tail_len = strlen(",\"data\":") + strlen(dj) + strlen("}}");
    ev->head = malloc(ev->head_len + 1);
    ev->tail = malloc(ev->tail_len + 1);
    if (!ev->topic || !ev->head || !ev->tail)
        goto fail;
    snprintf(ev->head, ev->head_len + 1, "{\"method\":\"event\",\"params\":{\"topic\":%s,\"seq\":", tj);
    snprintf(ev->tail, ev->tail_len + 1, ",\"data\":%s}}", dj);
    cJSON_free(tj);
    cJSON_free(dj);
    return ev;
fail:
    cJSON_free(tj);
    cJSON_free(dj);
    if (ev) {
        free(ev->topic);
        free(ev->head);
        free(ev->tail);
        free(ev);
    }
    return NULL;
}

static void msg_release(ws_msg *m)
{
    event_release(m->ev);
    free(m->text);
    m->ev = NULL;
    m->text = NULL;
}

/* ---------------- queue (hub lock held) ---------------- */

static int queue_push(ws_hub *h, ws_conn *c, ws_msg m)
{
    if (c->qlen == c->qcap) {
        size_t cap = c->qcap ? c->qcap * 2 : 8;
        if (cap > h->queue_max)
            cap = h->queue_max;
        ws_msg *q = malloc(cap * sizeof(*q));
        if (!q)
            return AITBC_ENOMEM;
        for (size_t i = 0; i < c->qlen; i++)
            q[i] = c->q[(c->qhead + i) % c->qcap];
        free(c->q);
        c->q = q;
        c->qcap = cap;
        c->qhead = 0;
    }
    c->q[(c->qhead + c->qlen) % c->qcap] = m;
    c->qlen++;
    return 0;
}

static void queue_drop(ws_conn *c)
{
    for (size_t i = 0; i < c->qlen; i++)
        msg_release(&c->q[(c->qhead + i) % c->qcap]);
    c->qlen = c->qhead = 0;
}

/* Remove queued events of one topic, keeping the order of the rest. */
static void queue_purge_topic(ws_conn *c, const char *topic)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->qlen; i++) {
        ws_msg m = c->q[(c->qhead + i) % c->qcap];
        if (m.ev && !strcmp(m.ev->topic, topic))
            msg_release(&m);
        else
            c->q[(c->qhead + kept++) % c->qcap] = m;
    }
    c->qlen = kept;
}

/* Queue c for the service thread; 1 if the caller must call the wake fn. */
static int mark_wake(ws_hub *h, ws_conn *c)
{
    if (c->wake_pending || !c->in_hub)
        return 0;
    c->wake_pending = 1;
    c->wake_next = h->wakes;
    h->wakes = c;
    return 1;
}

static int decide_close(ws_hub *h, ws_conn *c, int code, const char *reason, int drain)
{
    if (c->close_code && c->close_code != WS_CLOSE_GOING_AWAY)
        return 0;
    c->close_code = code;
    c->close_drain = drain;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    if (!drain)
        queue_drop(c);
    return mark_wake(h, c);
}

static int overflow(ws_hub *h, ws_conn *c)
{
    return decide_close(h, c, WS_CLOSE_POLICY, "slow consumer: queue full", 0);
}

static void wake(ws_hub *h, int needed)
{
    if (needed && h->wake)
        h->wake(h->wake_arg);
}

/* ---------------- hub and connections ---------------- */

ws_hub *ws_hub_new(size_t queue_max, size_t headroom, ws_wake_fn wake_fn, void *wake_arg)
{
    ws_hub *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->queue_max = queue_max ? queue_max : 1;
    h->headroom = headroom;
    h->wake = wake_fn;
    h->wake_arg = wake_arg;
    atomic_init(&h->active_subs, 0);
    return h;
}

static void conn_free(ws_conn *c)
{
    queue_drop(c);
    free(c->q);
    for (size_t i = 0; i < c->nsubs; i++)
        free(c->subs[i].topic);
    free(c->subs);
    free(c->wbuf);
    free(c->rbuf);
    free(c);
}

void ws_hub_free(ws_hub *h)
{
    if (!h)
        return;
    while (h->head) {
        ws_conn *c = h->head;
        h->head = c->next;
        conn_free(c);
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
}

ws_conn *ws_conn_new(const aitbc_principal *who, void *wsi)
{
    ws_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->who = *who;
    c->wsi = wsi;
    return c;
}

const aitbc_principal *ws_conn_principal(const ws_conn *c)
{
    return &c->who;
}

void *ws_conn_wsi(const ws_conn *c)
{
    return c->wsi;
}

void ws_hub_add(ws_hub *h, ws_conn *c)
{
    pthread_mutex_lock(&h->lock);
    c->prev = NULL;
    c->next = h->head;
    if (h->head)
        h->head->prev = c;
    h->head = c;
    c->in_hub = 1;
    h->count++;
    pthread_mutex_unlock(&h->lock);
}

void ws_hub_remove(ws_hub *h, ws_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&h->lock);
    if (c->in_hub) {
        if (c->prev)
            c->prev->next = c->next;
        else
            h->head = c->next;
        if (c->next)
            c->next->prev = c->prev;
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
    conn_free(c);
}

size_t ws_hub_count(ws_hub *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = h->count;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* ---------------- subscriptions (service thread) ---------------- */

static ws_sub *find_sub(ws_conn *c, const char *topic)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (!strcmp(c->subs[i].topic, topic))
            return &c->subs[i];
    return NULL;
}

/* Activate topic on c; hub lock held. NULL reason = done. */
static const char *activate(ws_hub *h, ws_conn *c, const char *topic)
{
    ws_sub *s = find_sub(c, topic);
    if (s && s->active)
        return NULL;
    if (c->nactive >= WS_MAX_SUBS)
        return "limit_exceeded";
    if (!s) {
        char *name = strdup(topic);
        if (!name)
            return "internal";
        /* Inactive entries only keep seq counters; reuse one rather than grow without bound
         * (with nactive < WS_MAX_SUBS at least half of 2 * WS_MAX_SUBS entries are inactive). */
        if (c->nsubs >= 2 * WS_MAX_SUBS) {
            for (size_t i = 0; i < c->nsubs && !s; i++)
                if (!c->subs[i].active)
                    s = &c->subs[i];
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
    if (c->in_hub)
        atomic_fetch_add(&h->active_subs, 1);
    return NULL;
}

cJSON *ws_hub_subscribe(ws_hub *h, ws_conn *c, const cJSON *topics, ws_lookup_fn lookup)
{
    cJSON *res = cJSON_CreateObject();
    cJSON *ok = cJSON_AddArrayToObject(res, "subscribed");
    cJSON *denied = cJSON_AddArrayToObject(res, "denied");
    if (!ok || !denied) {
        cJSON_Delete(res);
        return NULL;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, topics)
    {
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

cJSON *ws_hub_unsubscribe(ws_hub *h, ws_conn *c, const cJSON *topics)
{
    cJSON *res = cJSON_CreateObject();
    cJSON *done = cJSON_AddArrayToObject(res, "unsubscribed");
    if (!done) {
        cJSON_Delete(res);
        return NULL;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, topics)
    {
        const char *name = cJSON_GetStringValue(t);
        if (!name)
            continue;
        pthread_mutex_lock(&h->lock);
        ws_sub *s = find_sub(c, name);
        if (s && s->active) {
            s->active = 0;
            c->nactive--;
            if (c->in_hub)
                atomic_fetch_sub(&h->active_subs, 1);
            queue_purge_topic(c, name);
        }
        pthread_mutex_unlock(&h->lock);
        cJSON_AddItemToArray(done, cJSON_CreateString(name));
    }
    return res;
}

/* ---------------- queueing ---------------- */

void ws_hub_reply(ws_hub *h, ws_conn *c, char *text)
{
    int w = 0;
    if (!text)
        return;
    pthread_mutex_lock(&h->lock);
    if (c->close_code) {
        free(text);
    } else if (c->qlen >= h->queue_max) {
        free(text);
        w = overflow(h, c);
    } else if (queue_push(h, c, (ws_msg){.text = text})) {
        free(text);
        w = decide_close(h, c, WS_CLOSE_GOING_AWAY, "out of memory", 0);
    } else {
        w = mark_wake(h, c);
    }
    pthread_mutex_unlock(&h->lock);
    wake(h, w);
}

void ws_hub_close(ws_hub *h, ws_conn *c, int code, const char *reason)
{
    pthread_mutex_lock(&h->lock);
    int w = decide_close(h, c, code, reason, 1);
    pthread_mutex_unlock(&h->lock);
    wake(h, w);
}

size_t ws_hub_publish(ws_hub *h, const char *topic, const cJSON *data, const aitbc_topic *decl)
{
    if (!decl || !topic || atomic_load(&h->active_subs) == 0)
        return 0;
    ws_event *ev = event_new(topic, data);
    if (!ev)
        return 0;
    size_t delivered = 0;
    int w = 0;
    pthread_mutex_lock(&h->lock);
    for (ws_conn *c = h->head; c; c = c->next) {
        if (c->close_code)
            continue;
        ws_sub *s = find_sub(c, topic);
        if (!s || !s->active)
            continue;
        if (decl->visible && !decl->visible(&c->who, data, decl->user))
            continue;
        if (c->qlen >= h->queue_max) {
            w |= overflow(h, c);
            continue;
        }
        if (queue_push(h, c, (ws_msg){.ev = ev, .seq = s->seq + 1})) {
            w |= decide_close(h, c, WS_CLOSE_GOING_AWAY, "out of memory", 0);
            continue;
        }
        s->seq++;
        atomic_fetch_add(&ev->refs, 1);
        delivered++;
        w |= mark_wake(h, c);
    }
    pthread_mutex_unlock(&h->lock);
    event_release(ev);
    wake(h, w);
    return delivered;
}

size_t ws_hub_revoke(ws_hub *h, const char *key_id)
{
    size_t n = 0;
    int w = 0;
    if (!key_id || !*key_id)
        return 0;
    pthread_mutex_lock(&h->lock);
    for (ws_conn *c = h->head; c; c = c->next)
        if (!strcmp(c->who.key_id, key_id) && c->close_code != WS_CLOSE_REVOKED) {
            c->close_code = 0; /* revocation wins over any close already decided */
            w |= decide_close(h, c, WS_CLOSE_REVOKED, "api key revoked", 0);
            n++;
        }
    pthread_mutex_unlock(&h->lock);
    wake(h, w);
    return n;
}

void ws_hub_close_all(ws_hub *h, int code, const char *reason)
{
    int w = 0;
    pthread_mutex_lock(&h->lock);
    for (ws_conn *c = h->head; c; c = c->next)
        w |= decide_close(h, c, code, reason, 1);
    pthread_mutex_unlock(&h->lock);
    wake(h, w);
}

/* ---------------- service thread ---------------- */

void ws_hub_service(ws_hub *h, void (*fn)(ws_conn *c, int new_close, void *arg), void *arg)
{
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

static char *wbuf_reserve(ws_hub *h, ws_conn *c, size_t len)
{
    size_t need = h->headroom + len + 1;
    if (need > c->wcap) {
        char *b = realloc(c->wbuf, need);
        if (!b)
            return NULL;
        c->wbuf = b;
        c->wcap = need;
    }
    return c->wbuf + h->headroom;
}

ws_out_kind ws_hub_next(ws_hub *h, ws_conn *c, ws_out *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&h->lock);
    if (c->qlen && (!c->close_code || c->close_drain)) {
        ws_msg m = c->q[c->qhead];
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
        out->more = c->qlen > 0 || c->close_code;
        pthread_mutex_unlock(&h->lock);
        /* Rendering happens outside the lock: the message is ours now. */
        char digits[24];
        size_t dl = m.ev ? (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, m.seq) : 0;
        size_t len = m.ev ? m.ev->head_len + dl + m.ev->tail_len : strlen(m.text);
        char *p = wbuf_reserve(h, c, len);
        if (p && m.ev) {
            memcpy(p, m.ev->head, m.ev->head_len);
            memcpy(p + m.ev->head_len, digits, dl);
            memcpy(p + m.ev->head_len + dl, m.ev->tail, m.ev->tail_len);
        } else if (p) {
            memcpy(p, m.text, len);
        }
        msg_release(&m);
        if (!p) {
            out->kind = WS_OUT_CLOSE;
            out->close_code = WS_CLOSE_GOING_AWAY;
            snprintf(out->reason, sizeof(out->reason), "out of memory");
            return out->kind;
        }
        p[len] = '\0';
        out->kind = WS_OUT_FRAME;
        out->data = p;
        out->len = len;
        return out->kind;
    }
    if (c->close_code) {
        out->kind = WS_OUT_CLOSE;
        out->close_code = c->close_code;
        snprintf(out->reason, sizeof(out->reason), "%s", c->close_reason);
    }
    pthread_mutex_unlock(&h->lock);
    return out->kind;
}

/* ---------------- incoming messages (service thread) ---------------- */

int ws_conn_rx_append(ws_conn *c, const void *data, size_t len)
{
    if (len > WS_MSG_MAX || c->rlen + len > WS_MSG_MAX)
        return AITBC_EOVERFLOW;
    if (c->rlen + len + 1 > c->rcap) {
        size_t cap = c->rcap ? c->rcap : 256;
        while (cap < c->rlen + len + 1)
            cap *= 2;
        char *b = realloc(c->rbuf, cap);
        if (!b)
            return AITBC_ENOMEM;
        c->rbuf = b;
        c->rcap = cap;
    }
    memcpy(c->rbuf + c->rlen, data, len);
    c->rlen += len;
    c->rbuf[c->rlen] = '\0';
    return 0;
}

const char *ws_conn_rx_data(ws_conn *c, size_t *len)
{
    *len = c->rlen;
    return c->rbuf ? c->rbuf : "";
}

void ws_conn_rx_reset(ws_conn *c)
{
    c->rlen = 0;
}
