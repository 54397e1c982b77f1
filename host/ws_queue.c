/* The hub's queue primitives: shared rendered events, per-connection bounded rings, close
 * decisions, the service thread's next-frame rendering, and incoming message assembly.
 * See ws_hub.c for why the queues exist. */
#include "aitbc/errors.h"
#include "ws_hub_priv.h"
#include "aitbc/json.h"
#include "aitbc/money.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- events and messages ---------------- */

void wsq_event_release(ws_event *ev) {
    if (ev && atomic_fetch_sub(&ev->refs, 1) == 1) {
        free(ev->topic);
        free(ev->head);
        free(ev->tail);
        free(ev);
    }
}

ws_event *wsq_event_new(const char *topic, const cJSON *data) {
    ws_event *ev = calloc(1, sizeof(*ev));
    cJSON *t = cJSON_CreateString(topic);
    char *tj = t ? aitbc_json_print(t) : NULL;
    char *dj = data ? aitbc_json_print(data) : strdup("null");
    cJSON_Delete(t);
    if (!ev || !tj || !dj) goto fail;
    atomic_init(&ev->refs, 1);
    ev->topic = strdup(topic);
    ev->head_len =
        strlen("{\"method\":\"event\",\"params\":{\"topic\":") + strlen(tj) + strlen(",\"seq\":");
    ev->tail_len = strlen(",\"data\":") + strlen(dj) + strlen("}}");
    ev->head = malloc(ev->head_len + 1);
    ev->tail = malloc(ev->tail_len + 1);
    if (!ev->topic || !ev->head || !ev->tail) goto fail;
    snprintf(ev->head, ev->head_len + 1,
             "{\"method\":\"event\",\"params\":{\"topic\":%s,\"seq\":", tj);
    snprintf(ev->tail, ev->tail_len + 1, ",\"data\":%s}}", dj);
    free(tj);
    free(dj);
    return ev;
fail:
    free(tj);
    free(dj);
    if (ev) {
        free(ev->topic);
        free(ev->head);
        free(ev->tail);
        free(ev);
    }
    return NULL;
}

void wsq_msg_release(ws_msg *m) {
    wsq_event_release(m->ev);
    free(m->text);
    m->ev = NULL;
    m->text = NULL;
}

/* ---------------- queue (hub lock held) ---------------- */

size_t wsq_msg_bytes(const ws_msg *m) {
    /* 20 digits cover any seq. */
    return m->ev ? m->ev->head_len + 20 + m->ev->tail_len : strlen(m->text);
}

int wsq_fits(const ws_hub *h, const ws_conn *c, size_t bytes) {
    if (c->qlen >= h->queue_max) return 0;
    /* One message always fits an empty queue, whatever its size: it can then be delivered. */
    return !h->queue_max_bytes || c->qlen == 0 || c->qbytes + bytes <= h->queue_max_bytes;
}

int wsq_push(ws_hub *h, ws_conn *c, ws_msg m) {
    if (c->qlen == c->qcap) {
        size_t cap = c->qcap ? c->qcap * 2 : 8;
        if (cap > h->queue_max) cap = h->queue_max;
        ws_msg *q = malloc(cap * sizeof(*q));
        if (!q) return AITBC_ENOMEM;
        for (size_t i = 0; i < c->qlen; i++)
            q[i] = c->q[(c->qhead + i) % c->qcap];
        free(c->q);
        c->q = q;
        c->qcap = cap;
        c->qhead = 0;
    }
    c->q[(c->qhead + c->qlen) % c->qcap] = m;
    c->qlen++;
    c->qbytes += wsq_msg_bytes(&m);
    return 0;
}

void wsq_drop(ws_conn *c) {
    for (size_t i = 0; i < c->qlen; i++)
        wsq_msg_release(&c->q[(c->qhead + i) % c->qcap]);
    c->qlen = c->qhead = 0;
    c->qbytes = 0;
}

/* Remove queued events of one topic, keeping the order of the rest. */
void wsq_purge_topic(ws_conn *c, const char *topic) {
    size_t kept = 0;
    for (size_t i = 0; i < c->qlen; i++) {
        ws_msg m = c->q[(c->qhead + i) % c->qcap];
        if (m.ev && !strcmp(m.ev->topic, topic)) {
            c->qbytes -= wsq_msg_bytes(&m);
            wsq_msg_release(&m);
        } else
            c->q[(c->qhead + kept++) % c->qcap] = m;
    }
    c->qlen = kept;
}

/* Queue c for the service thread; 1 if the caller must call the wake fn. */
int wsq_mark_wake(ws_hub *h, ws_conn *c) {
    if (c->wake_pending || !c->in_hub) return 0;
    c->wake_pending = 1;
    c->wake_next = h->wakes;
    h->wakes = c;
    return 1;
}

int wsq_decide_close(ws_hub *h, ws_conn *c, int code, const char *reason, int drain) {
    if (c->close_code && c->close_code != WS_CLOSE_GOING_AWAY) return 0;
    c->close_code = code;
    c->close_drain = drain;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    if (!drain) wsq_drop(c);
    return wsq_mark_wake(h, c);
}

int wsq_overflow(ws_hub *h, ws_conn *c) {
    return wsq_decide_close(h, c, WS_CLOSE_POLICY, "slow consumer: queue full", 0);
}

void wsq_wake(ws_hub *h, int needed) {
    if (needed && h->wake) h->wake(h->wake_arg);
}

void wsq_conn_free(ws_conn *c) {
    wsq_drop(c);
    free(c->q);
    for (size_t i = 0; i < c->nsubs; i++)
        free(c->subs[i].topic);
    free(c->subs);
    free(c->wbuf);
    free(c->rbuf);
    free(c);
}

/* ---------------- service thread ---------------- */

static char *wbuf_reserve(ws_hub *h, ws_conn *c, size_t len) {
    size_t need = h->headroom + len + 1;
    if (need > c->wcap) {
        char *b = realloc(c->wbuf, need);
        if (!b) return NULL;
        c->wbuf = b;
        c->wcap = need;
    }
    return c->wbuf + h->headroom;
}

/* A queued message's text, measured once and then written: an event is head + seq + tail, a
 * reply is as is. */
typedef struct msg_text {
    const ws_msg *m;
    char digits[AITBC_MONEY_MAX];
    size_t dl, len;
} msg_text;

static size_t text_measure(const ws_msg *m, msg_text *t) {
    t->m = m;
    if (!m->ev) {
        t->len = strlen(m->text);
        return t->len;
    }
    /* seq as decimal: an integer is money with 0 decimals (snprintf cost a tenth of the host's
     * CPU at a million deliveries a second); a seq never nears 2^63. */
    t->dl = (size_t)aitbc_money_format((int64_t)m->seq, 0, t->digits);
    t->len = m->ev->head_len + t->dl + m->ev->tail_len;
    return t->len;
}

static void text_write(const msg_text *t, char *p) {
    const ws_msg *m = t->m;
    if (!m->ev) {
        memcpy(p, m->text, t->len);
        return;
    }
    memcpy(p, m->ev->head, m->ev->head_len);
    memcpy(p + m->ev->head_len, t->digits, t->dl);
    memcpy(p + m->ev->head_len + t->dl, m->ev->tail, m->ev->tail_len);
}

/* RFC 6455 5.2 server frame header (FIN, text, unmasked) for a payload of len bytes. */
static size_t frame_header(unsigned char *p, size_t len) {
    p[0] = 0x81;
    if (len < 126) {
        p[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        p[1] = 126;
        p[2] = (unsigned char)(len >> 8);
        p[3] = (unsigned char)len;
        return 4;
    }
    p[1] = 127;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

static ws_out_kind out_of_memory(ws_out *out) {
    out->kind = WS_OUT_CLOSE;
    out->close_code = WS_CLOSE_GOING_AWAY;
    snprintf(out->reason, sizeof(out->reason), "out of memory");
    return out->kind;
}

/* lock held, nothing left to send: the decided close, if any. Unlocks. */
static ws_out_kind next_close(ws_hub *h, ws_conn *c, ws_out *out) {
    if (c->close_code) {
        out->kind = WS_OUT_CLOSE;
        out->close_code = c->close_code;
        snprintf(out->reason, sizeof(out->reason), "%s", c->close_reason);
    }
    pthread_mutex_unlock(&h->lock);
    return out->kind;
}

/* lock held: may c's queue be sent now? */
static int sendable(const ws_conn *c) {
    return c->qlen && (!c->close_code || c->close_drain);
}

/* lock held: the oldest queued message, taken out of c's queue. */
static ws_msg pop(ws_conn *c) {
    ws_msg m = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    c->qbytes -= wsq_msg_bytes(&m);
    return m;
}

ws_out_kind ws_hub_next_frames(ws_hub *h, ws_conn *c, size_t budget, ws_out *out) {
    ws_msg taken[WS_FRAMES_MAX];
    size_t n = 0, bound = 0;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&h->lock);
    if (!sendable(c)) return next_close(h, c, out);
    /* One lock round for the whole batch: the publisher holds the same lock while it fans an
     * event out, so taking messages one by one would make the two threads trade it per frame. */
    while (sendable(c) && n < WS_FRAMES_MAX && (n == 0 || bound < budget)) {
        taken[n] = pop(c);
        bound += wsq_msg_bytes(&taken[n++]) + 10; /* + the longest frame header */
    }
    out->more = c->qlen > 0 || c->close_code;
    pthread_mutex_unlock(&h->lock);
    char *p = wbuf_reserve(h, c, bound);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (p) {
            msg_text t;
            len += frame_header((unsigned char *)p + len, text_measure(&taken[i], &t));
            text_write(&t, p + len);
            len += t.len;
        }
        wsq_msg_release(&taken[i]);
    }
    if (!p) return out_of_memory(out);
    out->kind = WS_OUT_FRAMES;
    out->data = p;
    out->len = len;
    return out->kind;
}

/* ---------------- incoming messages (service thread) ---------------- */

int ws_conn_rx_append(ws_conn *c, const void *data, size_t len) {
    if (c->rx_over || len > WS_MSG_MAX || c->rlen + len > WS_MSG_MAX) {
        c->rx_over = 1; /* the rest of this message is ignored too */
        return AITBC_EOVERFLOW;
    }
    if (c->rlen + len + 1 > c->rcap) {
        size_t cap = c->rcap ? c->rcap : 256;
        while (cap < c->rlen + len + 1)
            cap *= 2;
        char *b = realloc(c->rbuf, cap);
        if (!b) return AITBC_ENOMEM;
        c->rbuf = b;
        c->rcap = cap;
    }
    memcpy(c->rbuf + c->rlen, data, len);
    c->rlen += len;
    c->rbuf[c->rlen] = '\0';
    return 0;
}

const char *ws_conn_rx_data(ws_conn *c, size_t *len) {
    *len = c->rx_over ? 0 : c->rlen;
    if (c->rx_over) return NULL;
    return c->rbuf ? c->rbuf : "";
}

void ws_conn_rx_reset(ws_conn *c) {
    c->rlen = 0;
    c->rx_over = 0;
}
