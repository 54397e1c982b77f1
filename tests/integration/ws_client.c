/* Minimal WebSocket client for tests and benchmarks (see ws_client.h), on libwebsockets'
 * client API. Only the loop's service thread calls lws (besides lws_cancel_service); the test
 * thread marks a connection dirty with what it wants (connect, write, pause, close) and wakes
 * the service thread, which does it. One mutex + condvar per loop guard every field. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libwebsockets.h>
#include "ws_client.h"

typedef struct msg {
    struct msg *next;
    char *text;
    size_t len;
    int64_t at_us;
} msg;

struct wsc {
    wsc_loop *loop;
    wsc *prev, *next;       /* all connections of the loop */
    wsc *dirty_next;
    int dirty;
    struct lws *wsi;        /* service thread; NULL before connect and after close */
    int port;
    char *path, *api_key, *origin;
    wsc_state state;
    int http_status;
    char error[128];
    int close_code;
    char close_reason[128];
    msg *rx_head, *rx_tail; /* complete messages */
    size_t rx_count;
    char *part;             /* message being assembled */
    size_t part_len, part_cap;
    msg *tx_head, *tx_tail;
    int want_connect, want_close, release;
    int in_connect;         /* inside lws_client_connect_via_info: not to be destroyed */
    int paused, pause_applied;
};

struct wsc_loop {
    struct lws_context *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int quit;
    wsc *all;
    wsc *dirty;
};

int64_t wsc_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* lock held */
static void mark_dirty(wsc *c)
{
    if (c->dirty)
        return;
    c->dirty = 1;
    c->dirty_next = c->loop->dirty;
    c->loop->dirty = c;
}

static void free_msgs(msg *m)
{
    while (m) {
        msg *n = m->next;
        free(m->text);
        free(m);
        m = n;
    }
}

/* lock held; c must not be dirty-listed or connected any more */
static void destroy(wsc *c)
{
    wsc_loop *l = c->loop;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free_msgs(c->rx_head);
    free_msgs(c->tx_head);
    free(c->part);
    free(c->path);
    free(c->api_key);
    free(c->origin);
    free(c);
}

/* ---------------- service thread ---------------- */

static void do_connect(wsc *c)
{
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof(i));
    i.context = c->loop->ctx;
    i.address = "127.0.0.1";
    i.port = c->port;
    i.path = c->path;
    i.host = "127.0.0.1";
    i.origin = c->origin;
    i.ietf_version_or_minus_one = -1;
    i.opaque_user_data = c;
    /* Errors may be reported through the callback before this returns (it takes the lock). */
    c->in_connect = 1;
    pthread_mutex_unlock(&c->loop->lock);
    struct lws *w = lws_client_connect_via_info(&i);
    pthread_mutex_lock(&c->loop->lock);
    c->in_connect = 0;
    if (w && c->state == WSC_CONNECTING)
        c->wsi = w;
    if (!w && c->state == WSC_CONNECTING) {
        c->state = WSC_FAILED;
        snprintf(c->error, sizeof(c->error), "connect failed");
        pthread_cond_broadcast(&c->loop->cond);
    }
    if (!c->wsi && c->release && !c->dirty)
        destroy(c);
}

/* lock held */
static void process_dirty(wsc_loop *l)
{
    while (l->dirty) {
        wsc *c = l->dirty;
        l->dirty = c->dirty_next;
        c->dirty = 0;
        if (c->want_connect) {
            c->want_connect = 0;
            do_connect(c); /* may destroy c */
            continue;
        }
        if (!c->wsi) {
            if (c->release && c->state != WSC_CONNECTING)
                destroy(c);
            continue;
        }
        if (c->paused != c->pause_applied) {
            c->pause_applied = c->paused;
            lws_rx_flow_control(c->wsi, !c->paused);
        }
        if (c->tx_head || c->want_close)
            lws_callback_on_writable(c->wsi);
    }
}

static void on_closed(wsc *c, int failed, const char *why)
{
    c->wsi = NULL;
    if (failed) {
        c->state = WSC_FAILED;
        snprintf(c->error, sizeof(c->error), "%s", why ? why : "connection error");
    } else {
        c->state = WSC_CLOSED;
        if (!c->close_code)
            c->close_code = 1006;
    }
    pthread_cond_broadcast(&c->loop->cond);
    if (c->release && !c->dirty && !c->in_connect)
        destroy(c);
}

static int on_receive(wsc *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->part_len + len + 1 > c->part_cap) {
        size_t cap = c->part_cap ? c->part_cap : 1024;
        while (cap < c->part_len + len + 1)
            cap *= 2;
        char *p = realloc(c->part, cap);
        if (!p)
            return -1;
        c->part = p;
        c->part_cap = cap;
    }
    memcpy(c->part + c->part_len, in, len);
    c->part_len += len;
    c->part[c->part_len] = '\0';
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    msg *m = calloc(1, sizeof(*m));
    if (!m || !(m->text = malloc(c->part_len + 1))) {
        free(m);
        return -1;
    }
    memcpy(m->text, c->part, c->part_len + 1);
    m->len = c->part_len;
    m->at_us = wsc_now_us();
    c->part_len = 0;
    if (c->rx_tail)
        c->rx_tail->next = m;
    else
        c->rx_head = m;
    c->rx_tail = m;
    c->rx_count++;
    pthread_cond_broadcast(&c->loop->cond);
    return 0;
}

static int on_writeable(wsc *c, struct lws *wsi)
{
    if (c->want_close) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
        return -1;
    }
    msg *m = c->tx_head;
    if (!m)
        return 0;
    c->tx_head = m->next;
    if (!c->tx_head)
        c->tx_tail = NULL;
    int n = lws_write(wsi, (unsigned char *)m->text + LWS_PRE, m->len, LWS_WRITE_TEXT);
    free(m->text);
    free(m);
    if (n < 0)
        return -1;
    if (c->tx_head)
        lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    if (!wsi)
        return 0;
    wsc *c = lws_get_opaque_user_data(wsi);
    wsc_loop *l = lws_context_user(lws_get_context(wsi));
    int rc = 0;
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        pthread_mutex_lock(&l->lock);
        process_dirty(l);
        pthread_mutex_unlock(&l->lock);
        return 0;
    }
    if (!c)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    pthread_mutex_lock(&l->lock);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (c->api_key) {
            unsigned char **p = in, *end = *p + len;
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-api-key:",
                                            (const unsigned char *)c->api_key,
                                            (int)strlen(c->api_key), p, end))
                rc = -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->state = WSC_OPEN;
        pthread_cond_broadcast(&l->cond);
        mark_dirty(c); /* a pause or writes queued while connecting */
        lws_cancel_service(l->ctx);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        c->http_status = (int)lws_http_client_http_response(wsi);
        lws_set_opaque_user_data(wsi, NULL);
        on_closed(c, 1, in);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        rc = on_receive(c, wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        rc = on_writeable(c, wsi);
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *b = in;
            c->close_code = b[0] << 8 | b[1];
            size_t rl = len - 2 < sizeof(c->close_reason) - 1 ? len - 2 : sizeof(c->close_reason) - 1;
            memcpy(c->close_reason, b + 2, rl);
            c->close_reason[rl] = '\0';
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        lws_set_opaque_user_data(wsi, NULL);
        on_closed(c, 0, NULL);
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static const struct lws_protocols protocols[] = {
    {.name = "aitbc-test-client", .callback = callback},
    {0},
};

static void *service_main(void *arg)
{
    wsc_loop *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->lock);
        int quit = l->quit;
        pthread_mutex_unlock(&l->lock);
        if (quit || lws_service(l->ctx, 0) < 0)
            break;
    }
    return NULL;
}

/* ---------------- test thread ---------------- */

wsc_loop *wsc_loop_new(void)
{
    wsc_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = l;
    info.timeout_secs = 10;
    info.connect_timeout_secs = 10;
    l->ctx = lws_create_context(&info);
    if (!l->ctx || pthread_create(&l->thread, NULL, service_main, l)) {
        if (l->ctx)
            lws_context_destroy(l->ctx);
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->lock);
        free(l);
        return NULL;
    }
    return l;
}

void wsc_loop_free(wsc_loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->quit = 1;
    pthread_mutex_unlock(&l->lock);
    lws_cancel_service(l->ctx);
    pthread_join(l->thread, NULL);
    /* Connections still up are closed by the destroy (their callbacks run on this thread). */
    lws_context_destroy(l->ctx);
    pthread_mutex_lock(&l->lock);
    l->dirty = NULL;
    while (l->all)
        destroy(l->all);
    pthread_mutex_unlock(&l->lock);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

wsc *wsc_open(wsc_loop *l, int port, const wsc_opts *opts)
{
    wsc *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = l;
    c->port = port;
    c->path = strdup(opts && opts->path ? opts->path : "/ws");
    c->api_key = opts && opts->api_key ? strdup(opts->api_key) : NULL;
    c->origin = opts && opts->origin ? strdup(opts->origin) : NULL;
    c->want_connect = 1;
    pthread_mutex_lock(&l->lock);
    c->next = l->all;
    if (l->all)
        l->all->prev = c;
    l->all = c;
    mark_dirty(c);
    pthread_mutex_unlock(&l->lock);
    lws_cancel_service(l->ctx);
    return c;
}

wsc *wsc_connect(wsc_loop *l, int port, const char *api_key, int timeout_ms)
{
    wsc_opts o = {.api_key = api_key};
    wsc *c = wsc_open(l, port, &o);
    if (c)
        wsc_wait_open(c, timeout_ms);
    return c;
}

int wsc_wait_open(wsc *c, int timeout_ms)
{
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&c->loop->lock);
    while (c->state == WSC_CONNECTING)
        if (pthread_cond_timedwait(&c->loop->cond, &c->loop->lock, &ts) == ETIMEDOUT)
            break;
    int open = c->state == WSC_OPEN;
    pthread_mutex_unlock(&c->loop->lock);
    return open;
}

wsc_state wsc_get_state(wsc *c)
{
    pthread_mutex_lock(&c->loop->lock);
    wsc_state s = c->state;
    pthread_mutex_unlock(&c->loop->lock);
    return s;
}

int wsc_is_open(wsc *c)
{
    return c && wsc_get_state(c) == WSC_OPEN;
}

int wsc_http_status(wsc *c)
{
    pthread_mutex_lock(&c->loop->lock);
    int s = c->http_status;
    pthread_mutex_unlock(&c->loop->lock);
    return s;
}

const char *wsc_error(wsc *c)
{
    return c->error; /* written once, before the state leaves CONNECTING */
}

int wsc_send(wsc *c, const char *text)
{
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
    mark_dirty(c);
    pthread_mutex_unlock(&c->loop->lock);
    lws_cancel_service(c->loop->ctx);
    return 0;
}

char *wsc_recv(wsc *c, int timeout_ms, int64_t *recv_us)
{
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&c->loop->lock);
    while (!c->rx_head && (c->state == WSC_OPEN || c->state == WSC_CONNECTING))
        if (pthread_cond_timedwait(&c->loop->cond, &c->loop->lock, &ts) == ETIMEDOUT)
            break;
    msg *m = c->rx_head;
    if (m) {
        c->rx_head = m->next;
        if (!c->rx_head)
            c->rx_tail = NULL;
        c->rx_count--;
    }
    pthread_mutex_unlock(&c->loop->lock);
    if (!m)
        return NULL;
    char *text = m->text;
    if (recv_us)
        *recv_us = m->at_us;
    free(m);
    return text;
}

cJSON *wsc_recv_json(wsc *c, int timeout_ms)
{
    char *t = wsc_recv(c, timeout_ms, NULL);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    return j;
}

size_t wsc_pending(wsc *c)
{
    pthread_mutex_lock(&c->loop->lock);
    size_t n = c->rx_count;
    pthread_mutex_unlock(&c->loop->lock);
    return n;
}

void wsc_pause(wsc *c, int paused)
{
    pthread_mutex_lock(&c->loop->lock);
    c->paused = paused ? 1 : 0;
    mark_dirty(c);
    pthread_mutex_unlock(&c->loop->lock);
    lws_cancel_service(c->loop->ctx);
}

int wsc_wait_closed(wsc *c, int timeout_ms)
{
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&c->loop->lock);
    while (c->state == WSC_OPEN || c->state == WSC_CONNECTING)
        if (pthread_cond_timedwait(&c->loop->cond, &c->loop->lock, &ts) == ETIMEDOUT)
            break;
    int closed = c->state == WSC_CLOSED || c->state == WSC_FAILED;
    pthread_mutex_unlock(&c->loop->lock);
    return closed;
}

int wsc_close_code(wsc *c)
{
    pthread_mutex_lock(&c->loop->lock);
    int code = c->close_code;
    pthread_mutex_unlock(&c->loop->lock);
    return code;
}

const char *wsc_close_reason(wsc *c, char *out, size_t cap)
{
    pthread_mutex_lock(&c->loop->lock);
    snprintf(out, cap, "%s", c->close_reason);
    pthread_mutex_unlock(&c->loop->lock);
    return out;
}

void wsc_free(wsc *c)
{
    if (!c)
        return;
    wsc_loop *l = c->loop;
    pthread_mutex_lock(&l->lock);
    if (!c->wsi && c->state != WSC_CONNECTING && !c->dirty) {
        destroy(c);
    } else {
        c->release = 1;
        c->want_close = 1;
        mark_dirty(c);
    }
    pthread_mutex_unlock(&l->lock);
    lws_cancel_service(l->ctx);
}
