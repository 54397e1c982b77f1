/* WebSocket test client, service-thread side (see ws_client.h): the loop's lws context and
 * thread, the protocol callback, and carrying out what the test thread asked for. Only this
 * thread calls lws (besides lws_cancel_service). */
#include "ws_client_priv.h"
#include <stdlib.h>
#include <string.h>

static void do_connect(wsc *c) {
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof(i));
    i.context = c->loop->ctx;
    i.address = "127.0.0.1";
    i.port = c->port;
    i.path = c->path;
    i.host = "127.0.0.1";
    i.ietf_version_or_minus_one = -1;
    i.opaque_user_data = c;
    /* Errors may be reported through the callback before this returns (it takes the lock). */
    c->in_connect = 1;
    pthread_mutex_unlock(&c->loop->lock);
    struct lws *w = lws_client_connect_via_info(&i);
    pthread_mutex_lock(&c->loop->lock);
    c->in_connect = 0;
    if (w && c->state == WSC_CONNECTING) c->wsi = w;
    if (!w && c->state == WSC_CONNECTING) {
        c->state = WSC_FAILED;
        snprintf(c->error, sizeof(c->error), "connect failed");
        pthread_cond_broadcast(&c->loop->cond);
    }
    if (!c->wsi && c->release && !c->dirty) wsc_i_destroy(c);
}

/* lock held */
static void process_dirty(wsc_loop *l) {
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
            if (c->release && c->state != WSC_CONNECTING) wsc_i_destroy(c);
            continue;
        }
        if (c->paused != c->pause_applied) {
            c->pause_applied = c->paused;
            lws_rx_flow_control(c->wsi, !c->paused);
        }
        if (c->tx_head || c->want_close) lws_callback_on_writable(c->wsi);
    }
}

static void on_closed(wsc *c, int failed, const char *why) {
    c->wsi = NULL;
    if (failed) {
        c->state = WSC_FAILED;
        snprintf(c->error, sizeof(c->error), "%s", why ? why : "connection error");
    } else {
        c->state = WSC_CLOSED;
        if (!c->close_code) c->close_code = 1006;
    }
    pthread_cond_broadcast(&c->loop->cond);
    if (c->release && !c->dirty && !c->in_connect) wsc_i_destroy(c);
}

static int on_receive(wsc *c, struct lws *wsi, const void *in, size_t len) {
    if (c->part_len + len + 1 > c->part_cap) {
        size_t cap = c->part_cap ? c->part_cap : 1024;
        while (cap < c->part_len + len + 1)
            cap *= 2;
        char *p = realloc(c->part, cap);
        if (!p) return -1;
        c->part = p;
        c->part_cap = cap;
    }
    memcpy(c->part + c->part_len, in, len);
    c->part_len += len;
    c->part[c->part_len] = '\0';
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
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
    if (c->rx_waiting) /* no wake-up per message when nobody waits for this connection */
        pthread_cond_broadcast(&c->loop->cond);
    return 0;
}

static int on_writeable(wsc *c, struct lws *wsi) {
    if (c->want_close) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
        return -1;
    }
    msg *m = c->tx_head;
    if (!m) return 0;
    c->tx_head = m->next;
    if (!c->tx_head) c->tx_tail = NULL;
    int n = lws_write(wsi, (unsigned char *)m->text + LWS_PRE, m->len, LWS_WRITE_TEXT);
    free(m->text);
    free(m);
    if (n < 0) return -1;
    if (c->tx_head) lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    if (!wsi) return 0;
    wsc *c = lws_get_opaque_user_data(wsi);
    wsc_loop *l = lws_context_user(lws_get_context(wsi));
    int rc = 0;
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        pthread_mutex_lock(&l->lock);
        process_dirty(l);
        pthread_mutex_unlock(&l->lock);
        return 0;
    }
    if (!c) return lws_callback_http_dummy(wsi, reason, user, in, len);
    pthread_mutex_lock(&l->lock);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        /* Added here rather than through connect_info so they go out verbatim (lws would put
         * "http://" in front of an origin). */
        unsigned char **p = in, *end = *p + len;
        if (c->api_key && lws_add_http_header_by_name(wsi, (const unsigned char *)"x-api-key:",
                                                      (const unsigned char *)c->api_key,
                                                      (int)strlen(c->api_key), p, end))
            rc = -1;
        if (c->origin && lws_add_http_header_by_name(wsi, (const unsigned char *)"origin:",
                                                     (const unsigned char *)c->origin,
                                                     (int)strlen(c->origin), p, end))
            rc = -1;
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->state = WSC_OPEN;
        pthread_cond_broadcast(&l->cond);
        wsc_i_mark_dirty(c); /* a pause or writes queued while connecting */
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
            size_t rl =
                len - 2 < sizeof(c->close_reason) - 1 ? len - 2 : sizeof(c->close_reason) - 1;
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

static void *service_main(void *arg) {
    wsc_loop *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->lock);
        int quit = l->quit;
        pthread_mutex_unlock(&l->lock);
        if (quit || lws_service(l->ctx, 0) < 0) break;
    }
    return NULL;
}

wsc_loop *wsc_loop_new(void) {
    wsc_loop *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
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
        if (l->ctx) lws_context_destroy(l->ctx);
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->lock);
        free(l);
        return NULL;
    }
    return l;
}

void wsc_loop_free(wsc_loop *l) {
    if (!l) return;
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
        wsc_i_destroy(l->all);
    pthread_mutex_unlock(&l->lock);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
