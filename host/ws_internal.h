/* Private interfaces between the WebSocket modules of the host (ws_*.c).
 *
 * The pure parts live here: the client protocol (ws_protocol.c), the hub that holds every
 * connection with its subscriptions and bounded outgoing queue (ws_hub.c), and the upgrade
 * tickets (ws_tickets.c). None of them calls libwebsockets, so cmocka tests drive them directly.
 * ws_server.c and ws_callbacks.c glue them to libwebsockets, the bus and the HTTP router.
 *
 * Threads: the bus dispatcher calls ws_hub_publish/ws_hub_revoke; the lws service thread calls
 * everything else. The hub's one mutex guards connection list, queues and subscriptions. */
#ifndef AITBC_WS_INTERNAL_H
#define AITBC_WS_INTERNAL_H

#include "aitbc/bus.h"
#include "aitbc/http.h"
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------- protocol (ws_protocol.c) ---------------- */

#define WS_MAX_SUBS 64   /* topics one connection may hold at once */
#define WS_TOPIC_MAX 128 /* longest topic name, bytes including NUL */
#define WS_MSG_MAX 16384 /* longest client message accepted, bytes */

/* Close codes the server sends (RFC 6455 + our 4001). */
enum {
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_REVOKED = 4001,
};

typedef enum { WS_M_INVALID = 0, WS_M_SUBSCRIBE, WS_M_UNSUBSCRIBE, WS_M_PING } ws_method;

/** One parsed client message. */
typedef struct ws_request {
    ws_method method;
    cJSON *id;            /**< copy of "id" to echo (string or number), or NULL */
    cJSON *topics;        /**< (un)subscribe: array of strings, owned; NULL otherwise */
    const char *err_code; /**< method == WS_M_INVALID: "invalid_json", "invalid_argument", ... */
    const char *err_msg;  /**< human sentence for err_code (static storage) */
} ws_request;

/** @brief Parse one client text message (hostile input). Always fills *out; on a bad message
 *  method is WS_M_INVALID with err_code/err_msg set (id still set when it could be read).
 *  @return 0 for a valid request, AITBC_EINVAL otherwise. Free with ws_request_free. */
int ws_request_parse(const char *text, size_t len, ws_request *out);
/** @brief Release what ws_request_parse allocated. */
void ws_request_free(ws_request *r);
/** @brief {"id"?, "result": result} as compact JSON. TAKES result. Caller frees (NULL on OOM). */
char *ws_reply_result(const cJSON *id, cJSON *result);
/** @brief {"id"?, "error":{"code","message"}} as compact JSON. Caller frees (NULL on OOM). */
char *ws_reply_error(const cJSON *id, const char *code, const char *message);

typedef enum { WS_TOPIC_OK = 0, WS_TOPIC_FORBIDDEN, WS_TOPIC_UNKNOWN } ws_topic_verdict;
/** @brief May `who` subscribe to the topic declared as decl (NULL = not declared)? */
ws_topic_verdict ws_topic_check(const aitbc_topic *decl, const aitbc_principal *who);
/** @brief "forbidden" / "unknown_topic" for the denied list; NULL for WS_TOPIC_OK. */
const char *ws_topic_reason(ws_topic_verdict v);
/** @brief 1 if name is an acceptable topic name (1..WS_TOPIC_MAX-1 printable ASCII bytes). */
int ws_topic_name_ok(const char *name);

/* ---------------- hub (ws_hub.c) ---------------- */

typedef struct ws_hub ws_hub;
typedef struct ws_conn ws_conn;

/** Looks a declared topic up; the bus's bus_find_topic in the host, a table in unit tests. */
typedef const aitbc_topic *(*ws_lookup_fn)(const char *name);
/** Called (outside the hub lock) when connections were queued for service; any thread. */
typedef void (*ws_wake_fn)(void *arg);

/** @brief A hub for connections with at most queue_max queued messages each. Outgoing frames
 *  are rendered with `headroom` spare bytes in front (LWS_PRE for lws_write). */
ws_hub *ws_hub_new(size_t queue_max, size_t headroom, ws_wake_fn wake, void *wake_arg);
/** @brief Also bound each queue in bytes (0 = by count only). A message that does not fit marks
 *  its connection for the 1008 close, like a full queue; one message always fits an empty one. */
void ws_hub_set_max_bytes(ws_hub *h, size_t bytes);
/** @brief Free the hub and every connection still in it (no thread may use it any more). */
void ws_hub_free(ws_hub *h);

/** @brief A new connection for `who` (copied) carrying the opaque transport handle `wsi`.
 *  Not in any hub yet; NULL on OOM. */
ws_conn *ws_conn_new(const aitbc_principal *who, void *wsi);
/** @brief The principal the connection authenticated as (borrowed for its life). */
const aitbc_principal *ws_conn_principal(const ws_conn *c);
/** @brief The transport handle given to ws_conn_new. */
void *ws_conn_wsi(const ws_conn *c);
/** @brief Start delivering to c (TAKES c: ws_hub_remove frees it). */
void ws_hub_add(ws_hub *h, ws_conn *c);
/** @brief Take c out of the hub (if in it) and free it with everything it still queues. */
void ws_hub_remove(ws_hub *h, ws_conn *c);
/** @brief Connections in the hub. */
size_t ws_hub_count(ws_hub *h);
/** @brief Connections, and messages and frame bytes queued over all of them (/metrics; one pass
 *  over the connections under the hub lock). */
void ws_hub_totals(ws_hub *h, size_t *conns, size_t *msgs, size_t *bytes);
/** @brief Connections in the hub authenticated with key_id (*by_key) and with the account
 *  address (*by_account; 0 for an empty address). */
void ws_hub_count_of(ws_hub *h, const char *key_id, const char *account, size_t *by_key,
                     size_t *by_account);

/** @brief Apply a subscribe request: each topic is checked with lookup + ws_topic_check and
 *  either subscribed or listed in denied. @return {"subscribed":[…],"denied":[{topic,reason}]}
 *  (caller owns), NULL on OOM. */
cJSON *ws_hub_subscribe(ws_hub *h, ws_conn *c, const cJSON *topics, ws_lookup_fn lookup);
/** @brief Unsubscribe from each topic and drop its queued events, so nothing of it follows
 *  the answer. @return {"unsubscribed":[…]} (caller owns), NULL on OOM. */
cJSON *ws_hub_unsubscribe(ws_hub *h, ws_conn *c, const cJSON *topics);
/** @brief Queue a reply (TAKES text, malloc'd). A full queue marks c for the 1008 close. */
void ws_hub_reply(ws_hub *h, ws_conn *c, char *text);
/** 1 when c's queue is at least half full (messages or bytes): stop reading its requests until
 *  it drains, so a client that sends many at once is slowed, not closed as a slow consumer. */
int ws_hub_backlogged(ws_hub *h, ws_conn *c);
/** @brief Queue a close (after what is already queued) with code and reason. */
void ws_hub_close(ws_hub *h, ws_conn *c, int code, const char *reason);

/** @brief Fan one bus event out to every subscribed connection allowed to see it (decl's roles
 *  were checked at subscribe; decl->visible filters each event). Slow consumers (queue full) are
 *  marked for a 1008 close, never waited for. @return connections that got the event. */
size_t ws_hub_publish(ws_hub *h, const char *topic, const cJSON *data, const aitbc_topic *decl);
/** @brief Close (4001) every connection authenticated with key_id. @return how many. */
size_t ws_hub_revoke(ws_hub *h, const char *key_id);
/** @brief Close every connection with code/reason once its queue is sent (shutdown). */
void ws_hub_close_all(ws_hub *h, int code, const char *reason);

/** @brief Hand every connection queued for service to fn (under the hub lock; fn must not call
 *  back into the hub). new_close is the close code the first time fn sees a decided close (to
 *  log it and bound how long the peer gets to take it), else 0. */
void ws_hub_service(ws_hub *h, void (*fn)(ws_conn *c, int new_close, void *arg), void *arg);

typedef enum { WS_OUT_NONE = 0, WS_OUT_CLOSE, WS_OUT_FRAMES } ws_out_kind;
/** What to send next on one connection. */
typedef struct ws_out {
    ws_out_kind kind;
    char *data; /**< FRAMES: whole WebSocket frames, headers included (headroom bytes before
                 *   it are spare). Borrowed from the connection until the next
                 *   ws_hub_next_frames */
    size_t len;
    int more;        /**< FRAMES: more is queued after these */
    int close_code;  /**< CLOSE */
    char reason[64]; /**< CLOSE */
} ws_out;
#define WS_FRAMES_MAX 512 /* messages one ws_hub_next_frames takes at most */
/** @brief The next queued messages for c as complete server frames (FIN, text, unmasked;
 *  RFC 6455 5.2) back to back, about `budget` bytes (always at least one message), ready for
 *  one raw write; or the close once nothing is left to send (service thread only). Many frames
 *  per send() is what lets one service thread feed thousands of subscribers. */
ws_out_kind ws_hub_next_frames(ws_hub *h, ws_conn *c, size_t budget, ws_out *out);

/** @brief Incoming message assembly (service thread only): append a fragment. AITBC_EOVERFLOW
 *  when the message would exceed WS_MSG_MAX (then the rest of it is refused as well). */
int ws_conn_rx_append(ws_conn *c, const void *data, size_t len);
/** @brief The assembled message (NUL-terminated) and its length; NULL if it was too big. */
const char *ws_conn_rx_data(ws_conn *c, size_t *len);
/** @brief Start assembling the next message. */
void ws_conn_rx_reset(ws_conn *c);

/* ---------------- tickets (ws_tickets.c) ---------------- */

#define WS_TICKET_MAX 48       /* "wst_" + 32 hex + NUL fits */
#define WS_TICKET_TTL_MS 30000 /* a ticket lives 30 s */
#define WS_TICKETS_PER_KEY 16  /* outstanding tickets one key may hold */
#define WS_TICKETS_MAX 8192    /* outstanding tickets in all */

typedef struct ws_tickets ws_tickets;
/** @brief An empty ticket store. */
ws_tickets *ws_tickets_new(void);
void ws_tickets_free(ws_tickets *t);
/** @brief Issue a random single-use ticket bound to who, valid until now_ms + WS_TICKET_TTL_MS.
 *  @return 0; AITBC_ERATE when the key holds WS_TICKETS_PER_KEY live tickets; AITBC_EUNAVAIL
 *  when the store is full. */
int ws_tickets_issue(ws_tickets *t, const aitbc_principal *who, int64_t now_ms,
                     char out[WS_TICKET_MAX], int64_t *expires_ms);
/** @brief Redeem a ticket once: 0 and *who filled, or AITBC_EAUTH (unknown, used, expired). */
int ws_tickets_take(ws_tickets *t, const char *ticket, int64_t now_ms, aitbc_principal *who);
/** @brief Forget every ticket issued to key_id (the key was revoked). */
void ws_tickets_revoke(ws_tickets *t, const char *key_id);

#endif
