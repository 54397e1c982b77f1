/* Route table access for the HTTP server and the host's own operations endpoints:
 * GET /healthz (public), GET /metrics (public from loopback, admin role otherwise) and
 * GET /v1/openapi.json (public, openapi.c). */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"

/* Routes are added from plugin start (before and, rarely, after the server opens) and matched
 * on every request: a read-mostly lock. */
static pthread_rwlock_t g_routes_lock = PTHREAD_RWLOCK_INITIALIZER;
static router *g_routes;

static int add_locked(aitbc_plugin_ctx *ctx, const aitbc_route *route) {
    if (!g_routes && !(g_routes = router_new())) return AITBC_ENOMEM;
    return router_add(g_routes, route, ctx);
}

int http_add_route(aitbc_plugin_ctx *ctx, const aitbc_route *route) {
    pthread_rwlock_wrlock(&g_routes_lock);
    int rc = add_locked(ctx, route);
    pthread_rwlock_unlock(&g_routes_lock);
    const char *who = ctx && ctx->desc && ctx->desc->name ? ctx->desc->name : "host";
    if (rc == AITBC_EEXIST)
        hlog("http", AITBC_LOG_ERROR, "%s: route %s %s is already registered", who, route->method,
             route->path);
    else if (rc != 0)
        hlog("http", AITBC_LOG_ERROR, "%s: route %s %s refused (bad pattern or method)", who,
             route && route->method ? route->method : "?",
             route && route->path ? route->path : "?");
    return rc;
}

route_result http_routes_match(const char *method, const char *path, route_match *m) {
    pthread_rwlock_rdlock(&g_routes_lock);
    route_result rr = router_match(g_routes, method, path, m);
    pthread_rwlock_unlock(&g_routes_lock);
    return rr;
}

void http_routes_each(router_each_fn fn, void *user) {
    pthread_rwlock_rdlock(&g_routes_lock);
    router_each(g_routes, fn, user);
    pthread_rwlock_unlock(&g_routes_lock);
}

void http_routes_free(void) {
    pthread_rwlock_wrlock(&g_routes_lock);
    router_free(g_routes);
    g_routes = NULL;
    pthread_rwlock_unlock(&g_routes_lock);
}

static int plugin_healthy(size_t i) {
    aitbc_plugin_ctx *ctx = loader_at(i);
    return !(ctx && ctx->desc && ctx->desc->health) || ctx->desc->health(ctx->state) == 0;
}

static cJSON *health_json(const unsigned char *healthy, size_t n, int all) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", all ? "ok" : "degraded");
    cJSON *plugins = cJSON_AddArrayToObject(root, "plugins");
    for (size_t i = 0; i < n; i++) {
        aitbc_plugin_ctx *ctx = loader_at(i);
        if (!ctx || !ctx->desc) continue;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "name", ctx->desc->name ? ctx->desc->name : "");
        cJSON_AddStringToObject(p, "version", ctx->desc->version ? ctx->desc->version : "");
        cJSON_AddBoolToObject(p, "healthy", healthy[i]);
        cJSON_AddItemToArray(plugins, p);
    }
    return root;
}

/* The answer is a function of which plugins are healthy (the plugin list is fixed once the node
 * runs), so its text is kept for the last health mask and rebuilt only when the mask changes:
 * load balancers poll this, and building the tree per request cost more than a cached
 * authenticated read. */
#define HEALTH_MASK_BITS 64
static pthread_rwlock_t g_health_lock = PTHREAD_RWLOCK_INITIALIZER;
static char *g_health_text; /* NULL until the first answer; freed by http_ops_free */
static size_t g_health_len, g_health_n;
static uint64_t g_health_mask;

static void healthz(aitbc_request *req, void *user) {
    (void)user;
    size_t n = loader_count();
    unsigned char small[HEALTH_MASK_BITS];
    unsigned char *healthy = n <= HEALTH_MASK_BITS ? small : malloc(n);
    if (!healthy) {
        http_error(req, 503, "unavailable", NULL, "Out of memory; try again.");
        return;
    }
    uint64_t mask = 0;
    int all = 1;
    for (size_t i = 0; i < n; i++) {
        healthy[i] = (unsigned char)plugin_healthy(i);
        all &= healthy[i];
        if (healthy[i] && i < HEALTH_MASK_BITS) mask |= (uint64_t)1 << i;
    }
    unsigned status = all ? 200 : 503;
    int cacheable = n <= HEALTH_MASK_BITS;
    if (cacheable) {
        pthread_rwlock_rdlock(&g_health_lock);
        int hit = g_health_text && g_health_mask == mask && g_health_n == n;
        if (hit) http_respond_raw(req, status, "application/json", g_health_text, g_health_len);
        pthread_rwlock_unlock(&g_health_lock);
        if (hit) return;
    }
    cJSON *root = health_json(healthy, n, all);
    if (healthy != small) free(healthy);
    char *text = aitbc_json_print(root);
    cJSON_Delete(root);
    if (!text) {
        http_error(req, 503, "unavailable", NULL, "Out of memory; try again.");
        return;
    }
    size_t len = strlen(text);
    http_respond_raw(req, status, "application/json", text, len);
    if (!cacheable) {
        free(text);
        return;
    }
    pthread_rwlock_wrlock(&g_health_lock);
    free(g_health_text);
    g_health_text = text;
    g_health_len = len;
    g_health_mask = mask;
    g_health_n = n;
    pthread_rwlock_unlock(&g_health_lock);
}

void http_ops_free(void) {
    pthread_rwlock_wrlock(&g_health_lock);
    free(g_health_text);
    g_health_text = NULL;
    pthread_rwlock_unlock(&g_health_lock);
}

static void metrics(aitbc_request *req, void *user) {
    (void)user;
    char *text = metrics_render();
    if (!text) {
        http_error(req, 500, "internal", NULL, "Internal error.");
        return;
    }
    http_respond_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    free(text);
}

int http_ops_is_metrics(const aitbc_route *route) {
    return route && route->handler == metrics;
}

int http_ops_routes(void) {
    static const aitbc_route routes[] = {
        {.method = "GET", .path = "/healthz", .roles = AITBC_ROLE_PUBLIC, .handler = healthz},
        {.method = "GET", .path = "/metrics", .roles = AITBC_ROLE_ADMIN, .handler = metrics},
        {.method = "GET",
         .path = "/v1/openapi.json",
         .roles = AITBC_ROLE_PUBLIC,
         .handler = openapi_handler},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        int rc = http_add_route(NULL, &routes[i]);
        if (rc != 0) return rc;
    }
    return 0;
}
