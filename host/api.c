/* The host API table: the one aitbc_host_api every plugin receives, wired to the host's internal
 * modules. Functions that need to know which plugin calls (log prefix, config, migrations) take
 * the plugin's ctx; the rest forward straight through. Also keeps the process-wide settings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static host_settings g_settings;
static int64_t g_started_ms;

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *plugin_name(const aitbc_plugin_ctx *ctx) {
    return ctx && ctx->desc && ctx->desc->name ? ctx->desc->name : "plugin";
}

static void api_log(aitbc_plugin_ctx *ctx, aitbc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void api_log(aitbc_plugin_ctx *ctx, aitbc_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hlogv(plugin_name(ctx), level, fmt, ap);
    va_end(ap);
}

static const cJSON *api_config(aitbc_plugin_ctx *ctx) {
    return ctx ? ctx->config : NULL;
}

static const char *api_data_dir(aitbc_plugin_ctx *ctx) {
    return g_settings.data_dir;
}

static void api_respond_error(aitbc_request *req, unsigned status, const char *code,
                              const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void api_respond_error(aitbc_request *req, unsigned status, const char *code,
                              const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    http_respond_errorv(req, status, code, field, fmt, ap);
    va_end(ap);
}

static void api_wake(const char *key) {
    if (!key || writer_capture_wake(key) || scope_hold_wake(key)) return;
    http_wake(key);
    cluster_relay_wake(key); /* made outside a transaction: the other hosts hear it later */
}

/* A struct a plugin passes in is read only as far as the plugin's build knows it (abi_sizes.c):
 * each is copied into the host's zeroed layout first, so fields appended after the plugin's
 * build read as zero and nothing past what the plugin gave is touched. */
static const aitbc_plugin_desc *plugin_desc(const aitbc_plugin_ctx *ctx) {
    return ctx ? ctx->desc : NULL;
}

static int api_route(aitbc_plugin_ctx *ctx, const aitbc_route *route) {
    if (!route) return AITBC_EINVAL;
    aitbc_route r;
    abi_read(plugin_desc(ctx), ABI_ROUTE, &r, route, 0);
    return http_add_route(ctx, &r);
}

static int api_bus_topic(aitbc_plugin_ctx *ctx, const aitbc_topic *topic) {
    if (!topic) return AITBC_EINVAL;
    aitbc_topic t;
    abi_read(plugin_desc(ctx), ABI_TOPIC, &t, topic, 0);
    return bus_declare(ctx, &t);
}

/* Lookups from a plugin's init/start must be declared (provides, requires or uses). */
static const void *api_service_lookup(const char *name_at_version) {
    return loader_lookup_allowed(name_at_version) ? services_lookup(name_at_version) : NULL;
}

/* The one publish path: data is the caller's to give up (api_bus_publish hands a copy). On the
 * writer, or inside a request's write scope, the event is held and leaves only once the work it
 * reports committed; elsewhere it goes to the bus now and to the other hosts (several hosts). */
static int api_bus_publish_take(aitbc_plugin_ctx *ctx, const char *topic, cJSON *data) {
    int rc = bus_check_owner(ctx, topic);
    if (rc == 0 && !data) rc = AITBC_EINVAL;
    if (rc != 0) {
        cJSON_Delete(data);
        return rc;
    }
    if (strcmp(topic, "*") != 0 &&
        (writer_capture_take(topic, &data) || scope_hold_take(topic, &data)))
        return 0;
    cluster_relay_event(topic, data);
    return bus_publish_owned(topic, data);
}

static int api_bus_publish(aitbc_plugin_ctx *ctx, const char *topic, const cJSON *data) {
    cJSON *copy = data ? cJSON_Duplicate(data, 1) : NULL;
    if (data && !copy) return AITBC_ENOMEM;
    return api_bus_publish_take(ctx, topic, copy);
}

static int api_bus_subscribe(aitbc_plugin_ctx *ctx, const char *topic, aitbc_event_fn fn,
                             void *user) {
    return bus_subscribe_owned(ctx, topic, fn, user);
}

static int api_migrate(aitbc_plugin_ctx *ctx, const aitbc_migration *steps, size_t n) {
    if (!ctx || !ctx->desc || (n && !steps)) return AITBC_EINVAL;
    aitbc_migration *copy = calloc(n ? n : 1, sizeof *copy);
    if (!copy) return AITBC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        abi_read(ctx->desc, ABI_MIGRATION, &copy[i], steps, i);
    int rc = store_migrate(ctx->desc->name, copy, n);
    free(copy);
    return rc;
}

static int api_plugin_info(size_t i, const char **name, const char **version) {
    aitbc_plugin_ctx *p = i < loader_count() ? loader_at(i) : NULL;
    if (!p || !p->desc) return AITBC_ENOTFOUND;
    *name = p->desc->name;
    *version = p->desc->version;
    return 0;
}

static const aitbc_host_api g_api = {
    .size = sizeof(aitbc_host_api),
    .version = AITBC_HOST_API_VERSION,
    .log = api_log,
    .config = api_config,
    .data_dir = api_data_dir,
    .now_ms = wall_ms,
    .route = api_route,
    .req_method = http_req_method,
    .req_param = http_req_param,
    .req_query = http_req_query,
    .req_header = http_req_header,
    .req_json = http_req_json,
    .req_body = http_req_body,
    .req_principal = http_req_principal,
    .req_remote = http_req_remote,
    .resp_header = http_resp_header,
    .respond_json = http_respond_json,
    .respond_raw = http_respond_raw,
    .respond_error = api_respond_error,
    .defer = http_defer,
    .wake = api_wake,
    .bus_topic = api_bus_topic,
    .bus_publish = api_bus_publish,
    .bus_subscribe = api_bus_subscribe,
    .migrate = api_migrate,
    .txn_begin = store_txn_begin,
    .txn_commit = store_txn_commit,
    .txn_rollback = store_txn_rollback,
    .stmt = store_stmt,
    .bind_int64 = store_bind_int64,
    .bind_text = store_bind_text,
    .bind_blob = store_bind_blob,
    .bind_null = store_bind_null,
    .step = store_step,
    .col_int64 = store_col_int64,
    .col_text = store_col_text,
    .col_blob = store_col_blob,
    .col_is_null = store_col_is_null,
    .changes = store_changes,
    .stmt_done = store_stmt_done,
    .service_register = services_register,
    .service_lookup = api_service_lookup,
    .submit = work_submit,
    .timer_add = work_timer_add,
    .timer_cancel = work_timer_cancel,
    .req_id = http_req_id,
    .plugin_count = loader_count,
    .plugin_info = api_plugin_info,
    .started_ms = host_started_ms,
    .service_names = services_names,
    .txn_submit = writer_txn_submit,
    .txn_after = writer_txn_after,
    .storage_driver = store_driver_name,
    .leader = cluster_leader,
    .bus_publish_take = api_bus_publish_take,
    .write_turns = store_write_turns,
};

/* A field appended to aitbc_host_api must be wired above: this fails until the last one is. */
_Static_assert(sizeof(aitbc_host_api) == offsetof(aitbc_host_api, write_turns) + sizeof(void *),
               "aitbc_host_api grew: wire the new fields in g_api and move this check");

/** @brief The API table handed to every plugin's init (static, lives for the process). */
const aitbc_host_api *host_api(void) {
    return &g_api;
}

/** @brief Record the validated settings (copied) and the start time. */
void host_settings_set(const host_settings *set) {
    g_settings = *set;
    g_started_ms = wall_ms();
}

/** @brief The settings main recorded with host_settings_set (defaults are all zero before). */
const host_settings *host_settings_get(void) {
    return &g_settings;
}

/** @brief Wall-clock ms when the host recorded its settings (uptime = now - this). */
int64_t host_started_ms(void) {
    return g_started_ms;
}
