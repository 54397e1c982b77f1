/* The WebSocket API server (websocket: section): a libwebsockets context with its own service
 * thread, bridged to the event bus as one more subscriber ("*"), plus the host route
 * POST /v1/ws/tickets. Lifecycle: ws_start → ws_port → ws_stop.
 *
 * Threads: only the service thread calls lws (besides lws_cancel_service, which is the one
 * thread-safe call). The bus dispatcher fans events into the hub's per-connection queues and
 * wakes the service thread; HTTP threads only touch the ticket store. */
#include "ws_server.h"
#include "internal.h"
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

ws_server g_ws = {.life = PTHREAD_RWLOCK_INITIALIZER};

#define REVOKED_TOPIC "key_revoked"

static const struct lws_protocols protocols[] = {
    /* tx_packet_size: one send() may carry a whole batch of frames (ws_callbacks.c); lws
     * would otherwise cut every write at 4 KiB and copy the rest aside. */
    {.name = "aitbc",
     .callback = ws_callback,
     .per_session_data_size = 0,
     .rx_buffer_size = 0,
     .tx_packet_size = 65536},
    {0},
};

/* ---------------- glue ---------------- */

static void wake_service(void *arg) {
    (void)arg;
    if (g_ws.ctx) lws_cancel_service(g_ws.ctx);
}

static void lws_log_line(int level, const char *line) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    hlog("lws", level == LLL_ERR ? AITBC_LOG_WARN : AITBC_LOG_DEBUG, "%.*s", (int)n, line);
}

/* The bus dispatcher: revocations close connections; every declared topic fans out. */
static void on_bus_event(const char *topic, uint64_t seq, const cJSON *data, void *user) {
    (void)seq;
    (void)user;
    pthread_rwlock_rdlock(&g_ws.life);
    if (g_ws.running) {
        if (!strcmp(topic, REVOKED_TOPIC)) {
            const char *key_id =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "key_id"));
            if (key_id) {
                ws_tickets_revoke(g_ws.tickets, key_id);
                ws_hub_revoke(g_ws.hub, key_id);
            }
        }
        const aitbc_topic *decl = bus_find_topic(topic);
        if (decl) ws_hub_publish(g_ws.hub, topic, data, decl);
    }
    pthread_rwlock_unlock(&g_ws.life);
}

static void respond_error(aitbc_request *req, unsigned status, const char *code, const char *fmt,
                          ...) {
    va_list ap;
    va_start(ap, fmt);
    http_respond_errorv(req, status, code, NULL, fmt, ap);
    va_end(ap);
}

/* POST /v1/ws/tickets (any role) → 201 {"ticket","expires_at"}. */
static void tickets_handler(aitbc_request *req, void *user) {
    (void)user;
    const aitbc_principal *who = http_req_principal(req);
    char ticket[WS_TICKET_MAX];
    int64_t expires = 0;
    int rc = AITBC_EUNAVAIL;
    pthread_rwlock_rdlock(&g_ws.life);
    if (g_ws.running && who)
        rc = ws_tickets_issue(g_ws.tickets, who, aitbc_now_ms(), ticket, &expires);
    pthread_rwlock_unlock(&g_ws.life);
    if (rc == AITBC_ERATE) {
        http_resp_header(req, "Retry-After", "30");
        respond_error(req, 429, "rate_limited", "too many outstanding tickets for this key");
        return;
    }
    if (rc != 0) {
        respond_error(req, 503, "unavailable", "WebSocket tickets are not available");
        return;
    }
    char when[AITBC_TIME_MAX];
    aitbc_time_format(expires, when);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "ticket", ticket);
    cJSON_AddStringToObject(body, "expires_at", when);
    sodium_memzero(ticket, sizeof(ticket));
    http_respond_json(req, 201, body);
}

static void *service_main(void *arg) {
    (void)arg;
    while (!atomic_load(&g_ws.quit))
        if (lws_service(g_ws.ctx, 0) < 0) break;
    store_thread_done(); /* auth@1 may have opened a database connection on this thread */
    return NULL;
}

/* ---------------- lifecycle ---------------- */

static int copy_origins(const cJSON *list) {
    const cJSON *o;
    size_t n = (size_t)cJSON_GetArraySize(list);
    if (!n) return 0;
    g_ws.origins = calloc(n, sizeof(char *));
    if (!g_ws.origins) return AITBC_ENOMEM;
    cJSON_ArrayForEach(o, list) {
        const char *s = cJSON_GetStringValue(o);
        if (s && !(g_ws.origins[g_ws.norigins++] = strdup(s))) return AITBC_ENOMEM;
    }
    return 0;
}

static void release_all(void) {
    ws_hub_free(g_ws.hub);
    ws_tickets_free(g_ws.tickets);
    for (size_t i = 0; i < g_ws.norigins; i++)
        free(g_ws.origins[i]);
    free(g_ws.origins);
    g_ws.hub = NULL;
    g_ws.tickets = NULL;
    g_ws.origins = NULL;
    g_ws.norigins = 0;
}

int ws_start(const host_settings *set) {
    if (!set->ws_enabled) return 0;
    if (sodium_init() < 0) return AITBC_EIO;
    snprintf(g_ws.path, sizeof(g_ws.path), "%s", set->ws_path[0] ? set->ws_path : "/ws");
    g_ws.max_clients = set->ws_max_clients > 0 ? set->ws_max_clients : 1024;
    g_ws.max_per_key = set->ws_max_per_key;
    g_ws.max_per_account = set->ws_max_per_account;
    int ping = set->ws_ping_s; /* 0: no server pings (and no idle drop) */
    g_ws.hub = ws_hub_new(set->ws_queue_max > 0 ? (size_t)set->ws_queue_max : 256, LWS_PRE,
                          wake_service, NULL);
    if (g_ws.hub && set->ws_queue_max_bytes > 0)
        ws_hub_set_max_bytes(g_ws.hub, (size_t)set->ws_queue_max_bytes);
    g_ws.tickets = ws_tickets_new();
    if (!g_ws.hub || !g_ws.tickets || copy_origins(set->ws_allowed_origins)) {
        release_all();
        return AITBC_ENOMEM;
    }
    /* A connection without valid traffic (a PONG counts) for `ping` s gets a PING; after
     * 2 × ping + 5 s without any it is dropped: dead peers do not hold slots. */
    memset(&g_ws.idle, 0, sizeof(g_ws.idle));
    g_ws.idle.secs_since_valid_ping = (uint16_t)(ping > 30000 ? 30000 : ping);
    g_ws.idle.secs_since_valid_hangup = (uint16_t)(g_ws.idle.secs_since_valid_ping * 2 + 5);

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_line);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = set->ws_port;
    info.iface = set->ws_host[0] ? set->ws_host : "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.retry_and_idle_policy = ping > 0 ? &g_ws.idle : NULL;
    info.timeout_secs = 10;         /* handshakes and close acks */
    info.max_http_header_pool = 64; /* concurrent handshakes; more just wait their turn */
    g_ws.ctx = lws_create_context(&info);
    if (!g_ws.ctx) {
        hlog("ws", AITBC_LOG_ERROR, "cannot listen on %s:%d", info.iface, info.port);
        release_all();
        return AITBC_EIO;
    }
    g_ws.port = lws_get_vhost_listen_port(lws_get_vhost_by_name(g_ws.ctx, "default"));
    atomic_store(&g_ws.quit, 0);
    atomic_store(&g_ws.conns, 0);
    g_ws.running = 1;

    int rc = bus_subscribe("*", on_bus_event, NULL);
    aitbc_route route = {.method = "POST",
                         .path = "/v1/ws/tickets",
                         .roles = AITBC_ROLE_ANY,
                         .body = AITBC_BODY_NONE,
                         .handler = tickets_handler};
    if (!rc) rc = http_add_route(NULL, &route);
    if (!rc && pthread_create(&g_ws.thread, NULL, service_main, NULL)) rc = AITBC_EIO;
    if (rc) {
        pthread_rwlock_wrlock(&g_ws.life);
        g_ws.running = 0;
        pthread_rwlock_unlock(&g_ws.life);
        lws_context_destroy(g_ws.ctx);
        g_ws.ctx = NULL;
        release_all();
        return rc;
    }
    hlog("ws", AITBC_LOG_INFO, "WebSocket API on ws://%s:%d%s", info.iface, g_ws.port, g_ws.path);
    return 0;
}

int ws_port(void) {
    return g_ws.port;
}

void ws_stop(void) {
    if (!g_ws.ctx) return;
    pthread_rwlock_wrlock(&g_ws.life);
    g_ws.running = 0;
    pthread_rwlock_unlock(&g_ws.life);
    /* Say goodbye (1001) after what is queued; give clients up to 2 s to take it. */
    ws_hub_close_all(g_ws.hub, WS_CLOSE_GOING_AWAY, "server shutting down");
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 200 && ws_hub_count(g_ws.hub) > 0; i++)
        nanosleep(&tick, NULL);
    atomic_store(&g_ws.quit, 1);
    lws_cancel_service(g_ws.ctx);
    pthread_join(g_ws.thread, NULL);
    lws_context_destroy(g_ws.ctx); /* remaining connections are dropped via their callbacks */
    g_ws.ctx = NULL;
    g_ws.port = 0;
    release_all();
}

void ws_stats(size_t *conns, size_t *queued_msgs, size_t *queued_bytes) {
    *conns = *queued_msgs = *queued_bytes = 0;
    pthread_rwlock_rdlock(&g_ws.life);
    if (g_ws.running) ws_hub_totals(g_ws.hub, conns, queued_msgs, queued_bytes);
    pthread_rwlock_unlock(&g_ws.life);
}
