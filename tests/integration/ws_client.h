/* A minimal WebSocket client for tests and benchmarks, on libwebsockets' client API.
 *
 * A wsc_loop is one lws client context with its own service thread; it carries any number of
 * connections (1,000 is fine). Calls from the test thread are thread-safe: they queue work for
 * the service thread and wait on conditions, never on fixed sleeps. Received text messages are
 * kept in order per connection until taken.
 *
 *   wsc_loop *l = wsc_loop_new();
 *   wsc *c = wsc_connect(l, th_ws_port(h), "k-client", 5000);
 *   assert(wsc_is_open(c));
 *   wsc_send(c, "{\"method\":\"subscribe\",\"params\":[\"blocks\"]}");
 *   cJSON *reply = wsc_recv_json(c, 5000);
 *   ...
 *   wsc_loop_free(l);   // closes and frees every connection still open
 */
#ifndef AITBC_TEST_WS_CLIENT_H
#define AITBC_TEST_WS_CLIENT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsc_loop wsc_loop;
typedef struct wsc wsc;

typedef enum { WSC_CONNECTING = 0, WSC_OPEN, WSC_FAILED, WSC_CLOSED } wsc_state;

/** How to connect. Every field may be NULL. */
typedef struct wsc_opts {
    const char *path;    /**< path and query, e.g. "/ws?ticket=wst_…"; default "/ws" */
    const char *api_key; /**< sent as X-Api-Key */
    const char *origin;  /**< sent as Origin */
} wsc_opts;

/** @brief A client context plus its service thread. NULL on failure. */
wsc_loop *wsc_loop_new(void);
/** @brief Close every connection, stop the thread, free everything. */
void wsc_loop_free(wsc_loop *l);

/** @brief Start connecting to ws://127.0.0.1:port (returns at once). NULL on OOM. */
wsc *wsc_open(wsc_loop *l, int port, const wsc_opts *opts);
/** @brief wsc_open + wait up to timeout_ms until open or failed. Check wsc_is_open. */
wsc *wsc_connect(wsc_loop *l, int port, const char *api_key, int timeout_ms);
/** @brief Wait until the connection is no longer connecting. 1 if open. */
int wsc_wait_open(wsc *c, int timeout_ms);
wsc_state wsc_get_state(wsc *c);
int wsc_is_open(wsc *c);
/** @brief For a refused upgrade: the HTTP status the server answered (401, 404 …), else 0. */
int wsc_http_status(wsc *c);
/** @brief lws's text for a failed connection (e.g. "HS: ws upgrade unauthorized"), or "". */
const char *wsc_error(wsc *c);

/** @brief Queue one text message (copied). 0, or -1 if not open. */
int wsc_send(wsc *c, const char *text);
/** @brief Next received text message, waiting up to timeout_ms. Caller frees. NULL on timeout,
 *  or when the connection is closed and nothing is left. recv_us (may be NULL) gets the
 *  CLOCK_MONOTONIC time in µs at which the message arrived. */
char *wsc_recv(wsc *c, int timeout_ms, int64_t *recv_us);
/** @brief wsc_recv parsed as JSON (NULL also for invalid JSON). Caller frees with cJSON_Delete. */
cJSON *wsc_recv_json(wsc *c, int timeout_ms);
/** @brief Subscribe to one topic (request id 1) and take the answer: 0 when it was granted. */
int wsc_subscribe(wsc *c, const char *topic, int timeout_ms);
/** @brief Received messages not taken yet. */
size_t wsc_pending(wsc *c);
/** @brief Stop (paused = 1) or resume reading from the socket, to play a slow consumer. */
void wsc_pause(wsc *c, int paused);

/** @brief Wait until the connection is closed (by either side). 1 if closed. */
int wsc_wait_closed(wsc *c, int timeout_ms);
/** @brief Close code the server sent (1008, 4001 …); 1006 if the connection dropped without a
 *  close frame; 0 while open. */
int wsc_close_code(wsc *c);
/** @brief Close reason text the server sent (copied into out). */
const char *wsc_close_reason(wsc *c, char *out, size_t cap);

/** @brief Close (if open) and free the connection. */
void wsc_free(wsc *c);

/** @brief CLOCK_MONOTONIC now in µs (same clock as recv_us). */
int64_t wsc_now_us(void);

#endif
