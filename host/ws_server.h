/* State shared by the libwebsockets glue of the host: ws_server.c (lifecycle, service thread,
 * bus bridge, ticket route) and ws_callbacks.c (the lws protocol callback). */
#ifndef AITBC_WS_SERVER_H
#define AITBC_WS_SERVER_H

#include "ws_internal.h"
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

/* How long a connection whose close was decided (slow consumer, revoked key) may take to read
 * its close frame before it is dropped without one. */
#define WS_CLOSE_GRACE_S 10

typedef struct ws_server {
    struct lws_context *ctx;
    ws_hub *hub;
    ws_tickets *tickets;
    char path[64];
    int max_clients;
    int max_per_key;     /* 0 = no cap */
    int max_per_account; /* 0 = no cap */
    int port;
    char **origins; /* websocket.allowed_origins, copied; NULL = any */
    size_t norigins;
    atomic_int conns; /* upgraded or upgrading connections (max_clients) */
    atomic_int quit;  /* the service thread leaves its loop */
    /* Readers (bus dispatcher, HTTP threads) hold it while they use hub/tickets/ctx; ws_stop
     * takes it for writing to turn `running` off before tearing anything down. */
    pthread_rwlock_t life;
    int running;
    pthread_t thread;
    lws_retry_bo_t idle; /* server pings: secs_since_valid_ping / hangup */
} ws_server;

extern ws_server g_ws;

/** @brief The protocol callback of the one protocol the server speaks (HTTP + WebSocket). */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

#endif
