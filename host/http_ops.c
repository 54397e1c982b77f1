/* Route table access for the HTTP server and the host's own operations endpoints:
 * GET /healthz (public), GET /metrics (public from loopback, admin role otherwise) and
 * GET /v1/openapi.json (public, openapi.c). */
#include <pthread.h>
#include <stddef.h>
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

static void healthz(aitbc_request *req, void *user) {
    (void)user;
    cJSON *root = cJSON_CreateObject();
    cJSON *status = cJSON_AddStringToObject(root, "status", "ok");
    cJSON *plugins = cJSON_AddArrayToObject(root, "plugins");
    int healthy_all = 1;
    size_t n = loader_count();
    for (size_t i = 0; i < n; i++) {
        aitbc_plugin_ctx *ctx = loader_at(i);
        if (!ctx || !ctx->desc) continue;
        int healthy = 1;
        if (ctx->desc->health) healthy = ctx->desc->health(ctx->state) == 0;
        healthy_all &= healthy;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "name", ctx->desc->name ? ctx->desc->name : "");
        cJSON_AddStringToObject(p, "version", ctx->desc->version ? ctx->desc->version : "");
        cJSON_AddBoolToObject(p, "healthy", healthy);
        cJSON_AddItemToArray(plugins, p);
    }
    if (!healthy_all && status) cJSON_SetValuestring(status, "degraded");
    http_respond_json(req, healthy_all ? 200 : 503, root);
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
