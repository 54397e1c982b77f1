/* The libwebsockets protocol callback of the WebSocket API: authenticates the upgrade (X-Api-Key
 * through auth@1, or a single-use ?ticket=), refuses it with a real HTTP status and the API's
 * JSON error body, runs the client protocol, and writes queued frames.
 * Runs only on the lws service thread (and in lws_context_destroy after that thread ended). */
#include "internal.h"
#include "ws_server.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------------- refusing an upgrade or a plain HTTP request ---------------- */

/* Status line, JSON error body and (for 429) Retry-After. 1 = response sent, -1 = hang up. */
static int refuse(struct lws *wsi, unsigned status, const char *code, const char *message,
                  int retry_after_s) {
    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
                                      *end = hdr + sizeof(hdr) - 1;
    unsigned char body[LWS_PRE + 256];
    int blen = snprintf((char *)body + LWS_PRE, sizeof(body) - LWS_PRE,
                        "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);
    if (blen < 0 || (size_t)blen >= sizeof(body) - LWS_PRE) return -1;
    if (lws_add_http_common_headers(wsi, status, "application/json", (lws_filepos_t)blen, &p, end))
        return -1;
    if (retry_after_s > 0) {
        char v[16];
        int vl = snprintf(v, sizeof(v), "%d", retry_after_s);
        if (lws_add_http_header_by_name(
                wsi, (const unsigned char *)"retry-after:", (const unsigned char *)v, vl, &p, end))
            return -1;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    if (lws_write(wsi, body + LWS_PRE, (size_t)blen, LWS_WRITE_HTTP_FINAL) != blen) return -1;
    return 1;
}

/* ---------------- upgrade ---------------- */

static int origin_ok(struct lws *wsi) {
    char origin[256];
    if (!g_ws.norigins || lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
        return 1; /* no list, or not a browser: Origin only guards against other web pages */
    if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0) return 0;
    for (size_t i = 0; i < g_ws.norigins; i++)
        if (!strcasecmp(origin, g_ws.origins[i])) return 1;
    return 0;
}

static int ticket_arg(struct lws *wsi, char *out, size_t cap) {
    char frag[128];
    for (int i = 0; i < 32; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        if (!strncmp(frag, "ticket=", 7) && strlen(frag + 7) < cap) {
            strcpy(out, frag + 7);
            return 1;
        }
    }
    return 0;
}

/* 0 and *who filled, or AITBC_EAUTH / AITBC_ERATE (*retry set) / AITBC_EUNAVAIL. */
static int authenticate(struct lws *wsi, aitbc_principal *who, int *retry) {
    char key[AITBC_API_KEY_MAX];
    int kl = lws_hdr_custom_length(wsi, "x-api-key:", 10);
    if (kl > 0) {
        if (kl >= (int)sizeof(key) ||
            lws_hdr_custom_copy(wsi, key, sizeof(key), "x-api-key:", 10) < 0)
            return AITBC_EAUTH;
        const aitbc_auth_v1 *auth = services_auth();
        if (!auth) return AITBC_EUNAVAIL;
        char peer[64] = "";
        lws_get_peer_simple(wsi, peer, sizeof(peer));
        int rc = auth->authenticate(auth->self, key, peer, who, retry);
        sodium_memzero(key, sizeof(key));
        return rc == 0 ? 0 : rc == AITBC_ERATE ? AITBC_ERATE : AITBC_EAUTH;
    }
    char ticket[WS_TICKET_MAX];
    if (ticket_arg(wsi, ticket, sizeof(ticket)))
        return ws_tickets_take(g_ws.tickets, ticket, aitbc_now_ms(), who);
    return AITBC_EAUTH;
}

static int on_upgrade(struct lws *wsi, const char *upgrade) {
    char path[256];
    if (!upgrade || strcasecmp(upgrade, "websocket")) return -1;
    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 || strcmp(path, g_ws.path))
        return refuse(wsi, 404, "not_found", "no WebSocket endpoint at this path", 0);
    if (!origin_ok(wsi)) return refuse(wsi, 403, "forbidden", "origin not allowed", 0);
    if (atomic_load(&g_ws.conns) >= g_ws.max_clients)
        return refuse(wsi, 503, "unavailable", "too many WebSocket clients", 0);
    aitbc_principal who;
    int retry = 0;
    memset(&who, 0, sizeof(who));
    switch (authenticate(wsi, &who, &retry)) {
    case 0:
        break;
    case AITBC_ERATE:
        return refuse(wsi, 429, "rate_limited", "too many attempts", retry > 0 ? retry : 1);
    case AITBC_EUNAVAIL:
        return refuse(wsi, 503, "unavailable", "authentication is not available", 0);
    default:
        return refuse(wsi, 401, "unauthenticated", "missing or invalid API key or ticket", 0);
    }
    /* Fair share: one key (or one account's keys) cannot take every slot. Connections are
     * added to the hub on ESTABLISHED, which lws runs right after this callback on this same
     * thread, so the count includes every earlier upgrade. */
    size_t by_key, by_account;
    ws_hub_count_of(g_ws.hub, who.key_id, who.owner_address, &by_key, &by_account);
    if (g_ws.max_per_key > 0 && by_key >= (size_t)g_ws.max_per_key)
        return refuse(wsi, 429, "rate_limited", "too many WebSocket connections for this key", 30);
    if (g_ws.max_per_account > 0 && by_account >= (size_t)g_ws.max_per_account)
        return refuse(wsi, 429, "rate_limited", "too many WebSocket connections for this account",
                      30);
    ws_conn *c = ws_conn_new(&who, wsi);
    if (!c) return refuse(wsi, 503, "unavailable", "out of memory", 0);
    /* Opaque user data survives lws binding the ws protocol; ESTABLISHED picks it up. */
    lws_set_opaque_user_data(wsi, c);
    atomic_fetch_add(&g_ws.conns, 1);
    return 0;
}

static void drop(struct lws *wsi) {
    ws_conn *c = lws_get_opaque_user_data(wsi);
    if (!c) return;
    lws_set_opaque_user_data(wsi, NULL);
    ws_hub_remove(g_ws.hub, c);
    atomic_fetch_sub(&g_ws.conns, 1);
}

/* ---------------- protocol ---------------- */

static void handle_text(ws_conn *c, const char *text, size_t len) {
    ws_request rq;
    cJSON *res = NULL;
    char *out;
    if (ws_request_parse(text, len, &rq) != 0) {
        out = ws_reply_error(rq.id, rq.err_code, rq.err_msg);
    } else {
        switch (rq.method) {
        case WS_M_SUBSCRIBE:
            res = ws_hub_subscribe(g_ws.hub, c, rq.topics, bus_find_topic);
            break;
        case WS_M_UNSUBSCRIBE:
            res = ws_hub_unsubscribe(g_ws.hub, c, rq.topics);
            break;
        default: {
            char now[AITBC_TIME_MAX];
            aitbc_time_format(aitbc_now_ms(), now);
            res = cJSON_CreateObject();
            cJSON_AddBoolToObject(res, "pong", 1);
            cJSON_AddStringToObject(res, "time", now);
            break;
        }
        }
        out =
            res ? ws_reply_result(rq.id, res) : ws_reply_error(rq.id, "internal", "internal error");
    }
    ws_request_free(&rq);
    ws_hub_reply(g_ws.hub, c, out);
}

static int on_receive(struct lws *wsi, const void *in, size_t len) {
    ws_conn *c = lws_get_opaque_user_data(wsi);
    if (!c) return -1;
    if (ws_conn_rx_append(c, in, len) != 0)
        ws_hub_close(g_ws.hub, c, WS_CLOSE_TOO_BIG, "message too big");
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
    size_t n;
    const char *text = ws_conn_rx_data(c, &n);
    /* text is NULL for a message over the limit: its 1009 close is already decided. */
    if (text && lws_frame_is_binary(wsi))
        ws_hub_reply(g_ws.hub, c,
                     ws_reply_error(NULL, "invalid_argument", "binary frames are not supported"));
    else if (text)
        handle_text(c, text, n);
    ws_conn_rx_reset(c);
    /* Answers pile up faster than the client takes them: read no more requests until they
     * drain (on_writeable reopens), instead of letting the queue overflow into a 1008. */
    if (ws_hub_backlogged(g_ws.hub, c)) lws_rx_flow_control(wsi, 0);
    lws_callback_on_writable(wsi);
    return 0;
}

/* Queued frames go out in batches of about WS_BATCH_BYTES, one raw write (one send()) each,
 * up to WS_BATCHES_PER_CALL batches per writeable callback and only while the socket takes more
 * (lws_send_pipe_choked): a fast reader gets many frames per system call, a slow one never makes
 * lws buffer more than one partial batch, and one busy connection cannot starve the others.
 * The batches hold whole frames built by the hub (no extensions are negotiated, so nothing
 * else frames our data); lws's own control frames (pong, close) go between batches. */
#define WS_BATCH_BYTES 16384
#define WS_BATCHES_PER_CALL 4

static int on_writeable(struct lws *wsi) {
    ws_conn *c = lws_get_opaque_user_data(wsi);
    ws_out o;
    if (!c) return -1;
    for (int i = 0; i < WS_BATCHES_PER_CALL; i++) {
        switch (ws_hub_next_frames(g_ws.hub, c, WS_BATCH_BYTES, &o)) {
        case WS_OUT_FRAMES:
            if (lws_write(wsi, (unsigned char *)o.data, o.len, LWS_WRITE_RAW) < (int)o.len)
                return -1;
            if (!o.more) {
                /* Queue empty: read requests again if on_receive paused them (cheap when not). */
                lws_rx_flow_control(wsi, 1);
                return 0;
            }
            if (lws_send_pipe_choked(wsi)) {
                lws_callback_on_writable(wsi);
                return 0;
            }
            break;
        case WS_OUT_CLOSE:
            lws_close_reason(wsi, (enum lws_close_status)o.close_code, (unsigned char *)o.reason,
                             strlen(o.reason));
            return -1;
        default:
            return 0;
        }
    }
    lws_callback_on_writable(wsi);
    return 0;
}

/* A connection was queued by another thread (or a close was decided): ask lws for a write slot,
 * and give a peer that is not reading a bounded time to take its close frame. */
static void on_wake(ws_conn *c, int new_close, void *arg) {
    struct lws *wsi = ws_conn_wsi(c);
    (void)arg;
    if (new_close) {
        const aitbc_principal *p = ws_conn_principal(c);
        if (new_close == WS_CLOSE_POLICY || new_close == WS_CLOSE_REVOKED)
            hlog("ws", AITBC_LOG_WARN, "closing a connection of key %s with %d (%s)", p->key_id,
                 new_close, new_close == WS_CLOSE_POLICY ? "slow consumer" : "key revoked");
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, WS_CLOSE_GRACE_S);
    }
    lws_callback_on_writable(wsi);
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len) {
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return on_upgrade(wsi, in);
    case LWS_CALLBACK_HTTP: {
        int r = in && !strcmp(in, g_ws.path)
                    ? refuse(wsi, 426, "upgrade_required", "this endpoint speaks WebSocket only", 0)
                    : refuse(wsi, 404, "not_found", "no such endpoint", 0);
        return r < 0 || lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        ws_conn *c = lws_get_opaque_user_data(wsi);
        if (!c) return -1;
        ws_hub_add(g_ws.hub, c);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi);
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        drop(wsi);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (g_ws.hub) ws_hub_service(g_ws.hub, on_wake, NULL);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
