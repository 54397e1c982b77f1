/* Private to the WebSocket test client (ws_client.c: test-thread API, ws_client_lws.c: the
 * lws service thread): the records both sides share under the loop's mutex. */
#ifndef AITBC_TEST_WS_CLIENT_PRIV_H
#define AITBC_TEST_WS_CLIENT_PRIV_H

#include "ws_client.h"
#include <libwebsockets.h>
#include <pthread.h>

typedef struct msg {
    struct msg *next;
    char *text;
    size_t len;
    int64_t at_us;
} msg;

struct wsc {
    wsc_loop *loop;
    wsc *prev, *next; /* all connections of the loop */
    wsc *dirty_next;
    int dirty;
    struct lws *wsi; /* service thread; NULL before connect and after close */
    int port;
    char *path, *api_key, *origin;
    wsc_state state;
    int http_status;
    char error[128];
    int close_code;
    char close_reason[128];
    msg *rx_head, *rx_tail; /* complete messages */
    size_t rx_count;
    char *part; /* message being assembled */
    size_t part_len, part_cap;
    msg *tx_head, *tx_tail;
    int want_connect, want_close, release;
    int in_connect; /* inside lws_client_connect_via_info: not to be destroyed */
    int paused, pause_applied;
    int rx_waiting; /* a wsc_recv is waiting: wake it on the next message */
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

/* lock held: have the service thread look at c (connect, write, pause, close) */
void wsc_i_mark_dirty(wsc *c);
/* lock held: unlink c from its loop and free it (not connected, not dirty-listed) */
void wsc_i_destroy(wsc *c);

#endif
