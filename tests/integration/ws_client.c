/* Minimal WebSocket client for tests and benchmarks (see ws_client.h), test-thread side: each
 * call marks a connection dirty with what it wants (connect, write, pause, close) and wakes the
 * loop's service thread (ws_client_lws.c), which does it; then waits on the loop's condvar.
 * One mutex + condvar per loop guard every field. */
#include "ws_client_priv.h"
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t wsc_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void deadline(struct timespec *ts, int timeout_ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* lock held */
/* lock held */
void wsc_i_mark_dirty(wsc *c) {
    if (c->dirty) return;
    c->dirty = 1;
    c->dirty_next = c->loop->dirty;
    c->loop->dirty = c;
}

static void free_msgs(msg *m) {
    while (m) {
        msg *n = m->next;
        free(m->text);
        free(m);
        m = n;
    }
}

/* lock held; c must not be dirty-listed or connected any more */
void wsc_i_destroy(wsc *c) {
    wsc_loop *l = c->loop;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->all = c->next;
    if (c->next) c->next->prev = c->prev;
    free_msgs(c->rx_head);
    free_msgs(c->tx_head);
    free(c->part);
    free(c->path);
    free(c->api_key);
    free(c->origin);
    free(c);
}

wsc *wsc_open(wsc_loop *l, int port, const wsc_opts *opts) {
    wsc *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->loop = l;
    c->port = port;
    c->path = strdup(opts && opts->path ? opts->path : "/ws");
    c->api_key = opts && opts->api_key ? strdup(opts->api_key) : NULL;
    c->origin = opts && opts->origin ? strdup(opts->origin) : NULL;
    c->want_connect = 1;
    pthread_mutex_lock(&l->lock);
    c->next = l->all;
    if (l->all) l->all->prev = c;
    l->all = c;
    wsc_i_mark_dirty(c);
    pthread_mutex_unlock(&l->lock);
    lws_cancel_service(l->ctx);
    return c;
}

wsc *wsc_connect(wsc_loop *l, int port, const char *api_key, int timeout_ms) {
    wsc_opts o = {.api_key = api_key};
    wsc *c = wsc_open(l, port, &o);
    if (c) wsc_wait_open(c, timeout_ms);
    return c;
}

int wsc_wait_open(wsc *c, int timeout_ms) {
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&c->loop->lock);
    while (c->state == WSC_CONNECTING)
        if (pthread_cond_timedwait(&c->loop->cond, &c->loop->lock, &ts) == ETIMEDOUT) break;
    int open = c->state == WSC_OPEN;
    pthread_mutex_unlock(&c->loop->lock);
    return open;
}

wsc_state wsc_get_state(wsc *c) {
    pthread_mutex_lock(&c->loop->lock);
    wsc_state s = c->state;
    pthread_mutex_unlock(&c->loop->lock);
    return s;
}

int wsc_is_open(wsc *c) {
    return c && wsc_get_state(c) == WSC_OPEN;
}

int wsc_http_status(wsc *c) {
    pthread_mutex_lock(&c->loop->lock);
    int s = c->http_status;
    pthread_mutex_unlock(&c->loop->lock);
    return s;
}

const char *wsc_error(wsc *c) {
    return c->error; /* written once, before the state leaves CONNECTING */
}

int wsc_send(wsc *c, const char *text) {
    size_t len = strlen(text);
    msg *m = calloc(1, sizeof(*m));
    if (!m || !(m->text = malloc(LWS_PRE + len + 1))) {
        free(m);
        return -1;
    }
    memcpy(m->text + LWS_PRE, text, len + 1);
    m->len = len;
    pthread_mutex_lock(&c->loop->lock);
    if (c->state != WSC_OPEN && c->state != WSC_CONNECTING) {
        pthread_mutex_unlock(&c->loop->lock);
        free(m->text);
        free(m);
        return -1;
    }
    if (c->tx_tail)
        c->tx_tail->next = m;
    else
        c->tx_head = m;
    c->tx_tail = m;
    wsc_i_mark_dirty(c);
    pthread_mutex_unlock(&c->loop->lock);
    lws_cancel_service(c->loop->ctx);
    return 0;
}

char *wsc_recv(wsc *c, int timeout_ms, int64_t *recv_us) {
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&c->loop->lock);
    c->rx_waiting++;
    while (!c->rx_head && (c->state == WSC_OPEN || c->state == WSC_CONNECTING))
        if (pthread_cond_timedwait(&c->loop->cond, &c->loop->lock, &ts) == ETIMEDOUT) break;
    c->rx_waiting--;
    msg *m = c->rx_head;
    if (m) {
        c->rx_head = m->next;
        if (!c->rx_head) c->rx_tail = NULL;
        c->rx_count--;
    }
    pthread_mutex_unlock(&c->loop->lock);
    if (!m) return NULL;
    char *text = m->text;
    if (recv_us) *recv_us = m->at_us;
    free(m);
    return text;
}

cJSON *wsc_recv_json(wsc *c, int timeout_ms) {
    char *t = wsc_recv(c, timeout_ms, NULL);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    return j;
}

int wsc_subscribe(wsc *c, const char *topic, int timeout_ms) {
    char req[256];
    snprintf(req, sizeof req, "{\"method\":\"subscribe\",\"id\":1,\"params\":[\"%s\"]}", topic);
    if (wsc_send(c, req) != 0) return -1;
    cJSON *ack = wsc_recv_json(c, timeout_ms);
    const cJSON *got = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(ack, "result"), "subscribed");
    const cJSON *first = cJSON_GetArrayItem(got, 0);
    int ok = cJSON_IsString(first) && strcmp(first->valuestring, topic) == 0;
    cJSON_Delete(ack);
    return ok ? 0 : -1;
}

size_t wsc_pending(wsc *c) {
    pthread_mutex_lock(&c->loop->lock);
    size_t n = c->rx_count;
    pthread_mutex_unlock(&c->loop->lock);
    return n;
}

void wsc_pause(wsc *c, int paused) {
    pthread_mutex_lock(&c->loop->lock);
    c->paused = paused ? 1 : 0;
    wsc_i_mark_dirty(c);
    pthread_mutex_unlock(&c->loop->lock);
    lws_cancel_service(c->loop->ctx);
}

int wsc_wait_closed(wsc *c, int timeout_ms) {
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&c->loop->lock);
    while (c->state == WSC_OPEN || c->state == WSC_CONNECTING)
        if (pthread_cond_timedwait(&c->loop->cond, &c->loop->lock, &ts) == ETIMEDOUT) break;
    int closed = c->state == WSC_CLOSED || c->state == WSC_FAILED;
    pthread_mutex_unlock(&c->loop->lock);
    return closed;
}

int wsc_close_code(wsc *c) {
    pthread_mutex_lock(&c->loop->lock);
    int code = c->close_code;
    pthread_mutex_unlock(&c->loop->lock);
    return code;
}

const char *wsc_close_reason(wsc *c, char *out, size_t cap) {
    pthread_mutex_lock(&c->loop->lock);
    snprintf(out, cap, "%s", c->close_reason);
    pthread_mutex_unlock(&c->loop->lock);
    return out;
}

void wsc_free(wsc *c) {
    if (!c) return;
    wsc_loop *l = c->loop;
    pthread_mutex_lock(&l->lock);
    if (!c->wsi && c->state != WSC_CONNECTING && !c->dirty) {
        wsc_i_destroy(c);
    } else {
        c->release = 1;
        c->want_close = 1;
        wsc_i_mark_dirty(c);
    }
    pthread_mutex_unlock(&l->lock);
    lws_cancel_service(l->ctx);
}
