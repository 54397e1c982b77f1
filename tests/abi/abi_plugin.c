/* One source for every plugin of the ABI tests. Compile definitions (set per target in
 * CMakeLists.txt) break exactly one rule each, so every .so is a correct plugin but for one defect;
 * without any, it is a good plugin that logs its lifecycle and serves GET /<name>/ping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aitbc/aitbc.h"

#ifndef DESC_NAME
#define DESC_NAME PLUGIN_NAME
#endif
#ifndef ABI_MAJOR
#define ABI_MAJOR AITBC_ABI_MAJOR
#endif
/* V1_0: what a plugin built against the 1.0 headers hands the host: abi_minor 0, a descriptor
 * that ends at reserved[], routes that end before `idempotent`, and 1.0 topics, migration steps
 * and metric labels. All are heap copies of exactly that size, so a host reading further trips
 * AddressSanitizer. */
#ifdef V1_0
#define ABI_MINOR 0
#define STRUCT_SIZE offsetof(aitbc_plugin_desc, uses)
#define ROUTE_SIZE offsetof(aitbc_route, idempotent)
#endif
/* SIZED: a plugin of today's minor whose descriptor declares a 1.0-sized route and strides
 * larger than the host's own for migration steps and metric labels: the host must read exactly
 * route_size bytes of the route and step through the arrays by the declared strides. */
#ifdef SIZED
#define ROUTE_DECL offsetof(aitbc_route, idempotent)
#define ROUTE_SIZE ROUTE_DECL
#define MIGRATION_DECL (sizeof(aitbc_migration) + 8)
#define LABEL_DECL (sizeof(aitbc_metric_label) + 8)
#endif
#if defined(V1_0) || defined(SIZED)
#define EXACT_STRUCTS 1 /* topic, migrations and labels in heap copies of exactly that size */
#endif
#ifndef ROUTE_DECL
#define ROUTE_DECL sizeof(aitbc_route)
#endif
#ifndef TOPIC_DECL
#define TOPIC_DECL sizeof(aitbc_topic)
#endif
#ifndef MIGRATION_DECL
#define MIGRATION_DECL sizeof(aitbc_migration)
#endif
#ifndef LABEL_DECL
#define LABEL_DECL sizeof(aitbc_metric_label)
#endif
#ifndef ABI_MINOR
#define ABI_MINOR AITBC_ABI_MINOR
#endif
#ifndef STRUCT_SIZE
#define STRUCT_SIZE sizeof(aitbc_plugin_desc)
#endif
#ifndef SIGNATURE_XOR
#define SIGNATURE_XOR 0
#endif
#ifndef GREETING_REQUIRED
#define GREETING_REQUIRED 0
#endif

typedef struct state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
} state;

static state g_state;

static void ping(aitbc_request *req, void *user) {
    g_state.api->log(g_state.ctx, AITBC_LOG_DEBUG, "ping");
    cJSON *body = cJSON_CreateObject();
    cJSON_AddBoolToObject(body, "pong", 1);
    g_state.api->respond_json(req, 200, body);
}

#ifdef COMMAND
/* An offline command: echoes its arguments and exits with 3, so the test sees it ran. */
static int command_run(void *self, int argc, char **argv) {
    printf("abi command ran with %d args:", argc);
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
    return 3;
}
static const aitbc_command_v1 command = {sizeof command, NULL, command_run};
#endif

#ifdef METRICS
/* Series for /metrics: one good family with a label value that needs escaping, then each way a
 * plugin can get a family wrong (the host refuses those and drops their samples). */
static void collect(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    (void)self;
    aitbc_metric_label l = {"who", "a \"quoted\" \\ value\nsecond line"};
    if (w->family(out, "aitbc_abi_ok", AITBC_METRIC_GAUGE, "A good gauge\nover two lines.") == 0)
        w->sample(out, &l, 1, 1.5);
    int taken = w->family(out, "aitbc_http_requests_total", AITBC_METRIC_COUNTER, "the host's");
    w->sample(out, NULL, 0, 666);
    int again = w->family(out, "aitbc_abi_ok", AITBC_METRIC_GAUGE, "its own, twice");
    w->sample(out, NULL, 0, 666);
    int bad = w->family(out, "aitbc_abi-bad", AITBC_METRIC_GAUGE, "not a name");
    w->sample(out, NULL, 0, 667);
    int untotal = w->family(out, "aitbc_abi_count", AITBC_METRIC_COUNTER, "counter sans _total");
    w->sample(out, NULL, 0, 668);
    int foreign = w->family(out, "other_series", AITBC_METRIC_GAUGE, "outside aitbc_");
    w->sample(out, NULL, 0, 669);
    if (w->family(out, "aitbc_abi_events_total", AITBC_METRIC_COUNTER, "Events.") == 0) {
        aitbc_metric_label reserved = {"__name__", "x"};
        w->sample(out, &reserved, 1, 670);
        w->sample(out, NULL, 0, 7);
    }
    aitbc_metric_one(
        w, out, "aitbc_abi_refusals", AITBC_METRIC_GAUGE, "Families refused.",
        (double)((taken != 0) + (again != 0) + (bad != 0) + (untotal != 0) + (foreign != 0)));
}
static void never_collect(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    (void)self;
    (void)w;
    (void)out;
    abort(); /* its table is too small: the host must not call it */
}
static const aitbc_metrics_v1 metrics = {sizeof metrics, NULL, collect};
static const aitbc_metrics_v1 small_metrics = {4, NULL, never_collect};
#endif

#ifdef EXACT_STRUCTS
/* Heap copies of exactly the bytes the plugin's build defines (a stride of `stride` bytes per
 * element, the rest of each element 0xA5 junk): ASan sees any read past them, and a host that
 * steps by its own size instead of the declared stride reads the junk. */
static void *exact_copy(const void *elems, size_t elem_size, size_t n, size_t stride) {
    char *p = malloc(n * stride);
    if (!p) return NULL;
    memset(p, 0xA5, n * stride);
    for (size_t i = 0; i < n; i++)
        memcpy(p + i * stride, (const char *)elems + i * elem_size,
               elem_size < stride ? elem_size : stride);
    return p;
}

static void labels_collect(void *self, const aitbc_metrics_writer_v1 *w, aitbc_metrics_out *out) {
    (void)self;
    const aitbc_metric_label l[2] = {{"a", "1"}, {"b", "2"}};
    void *copy = exact_copy(l, sizeof l[0], 2, LABEL_DECL);
    if (copy && w->family(out, "aitbc_abi_sized_labels", AITBC_METRIC_GAUGE, "Two labels.") == 0)
        w->sample(out, copy, 2, 1);
    free(copy);
}
static const aitbc_metrics_v1 labels_metrics = {sizeof labels_metrics, NULL, labels_collect};

/* Declares a topic and runs two migration steps, both from exact copies; 0 or the first error. */
static int exact_structs_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api) {
    aitbc_topic topic = {.name = PLUGIN_NAME ".events", .roles = AITBC_ROLE_ANY};
    const aitbc_migration steps[2] = {{1, "CREATE TABLE abi_exact_a (x INTEGER)"},
                                      {2, "CREATE TABLE abi_exact_b (y INTEGER)"}};
    void *t = exact_copy(&topic, sizeof topic, 1, TOPIC_DECL);
    void *m = exact_copy(steps, sizeof steps[0], 2, MIGRATION_DECL);
    int rc = !t || !m ? AITBC_ENOMEM : api->bus_topic(ctx, t);
    if (rc == 0) rc = api->migrate(ctx, m, 2);
    if (rc == 0) rc = api->service_register(ctx, "metrics:" PLUGIN_NAME "@1", &labels_metrics);
    free(t);
    free(m);
    api->log(ctx, AITBC_LOG_INFO, "exact structs: %d", rc);
    return rc;
}
#endif

#ifdef INIT_FAIL
static void never_tick(void *arg) {
    (void)arg;
    abort(); /* the host must drop a failed plugin's timers before they fire */
}
static void never_event(const char *topic, uint64_t seq, const cJSON *data, void *user) {
    abort();
}
#endif

static int plugin_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **out) {
#ifdef INIT_FAIL
    /* The init-failure rule: free what it allocated, return an error; destroy is not called.
     * What it left with the host (a timer, a subscription) is the host's to drop. */
    char *scratch = malloc(64);
    api->timer_add(ctx, 1, never_tick, scratch);
    api->bus_subscribe(ctx, "*", never_event, scratch);
    free(scratch);
    /* Long past the timer's first due time: it must still not fire (held until a start). */
    struct timespec pause = {0, 30 * 1000000L};
    nanosleep(&pause, NULL);
    api->log(ctx, AITBC_LOG_INFO, "lifecycle init failing");
    return AITBC_EINVAL;
#endif
    g_state.ctx = ctx;
    g_state.api = api;
    const cJSON *greeting = cJSON_GetObjectItem(api->config(ctx), "greeting");
    const cJSON *count = cJSON_GetObjectItem(api->config(ctx), "count");
    api->log(ctx, AITBC_LOG_INFO, "lifecycle init greeting=%s count=%d data_dir=%s",
             cJSON_IsString(greeting) ? greeting->valuestring : "-",
             cJSON_IsNumber(count) ? count->valueint : -1, api->data_dir(ctx));
#ifdef PROVIDES
    if (api->service_register(ctx, PROVIDES, &g_state) != 0) return AITBC_EINVAL;
#endif
#ifdef COMMAND
    if (api->service_register(ctx, "command:verify-chain@1", &command) != 0) return AITBC_EINVAL;
#endif
#ifdef METRICS
    if (api->service_register(ctx, "metrics:abi-metrics@1", &metrics) != 0 ||
        api->service_register(ctx, "metrics:abi-metrics-small@1", &small_metrics) != 0)
        return AITBC_EINVAL;
#endif
#ifdef EXACT_STRUCTS
    if (exact_structs_init(ctx, api) != 0) return AITBC_EINVAL;
#endif
    *out = &g_state;
    return 0;
}

__attribute__((unused)) static int plugin_start(void *st) {
    state *s = st;
    char path[96];
    snprintf(path, sizeof path, "/%s/ping", PLUGIN_NAME);
    aitbc_route r = {.method = "GET", .path = path, .roles = AITBC_ROLE_PUBLIC, .handler = ping};
    s->api->log(s->ctx, AITBC_LOG_INFO, "lifecycle start");
#ifdef LOOKUP
    s->api->log(s->ctx, AITBC_LOG_INFO, "lookup %s: %s", LOOKUP,
                s->api->service_lookup(LOOKUP) ? "found" : "none");
#endif
#ifdef PUBLISH
    cJSON *ev = cJSON_CreateObject();
    s->api->log(s->ctx, AITBC_LOG_INFO, "publish %s: %d", PUBLISH,
                s->api->bus_publish(s->ctx, PUBLISH, ev));
    cJSON_Delete(ev);
#endif
#ifdef ROUTE_SIZE
    aitbc_route *old = malloc(ROUTE_SIZE);
    if (!old) return AITBC_ENOMEM;
    memcpy(old, &r, ROUTE_SIZE);
    int rc = s->api->route(s->ctx, old);
    free(old);
    return rc;
#else
    return s->api->route(s->ctx, &r);
#endif
}

static void plugin_stop(void *st) {
    state *s = st;
    s->api->log(s->ctx, AITBC_LOG_INFO, "lifecycle stop");
}

static void plugin_destroy(void *st) {
#ifdef INIT_FAIL
    abort(); /* never called after a failed init */
#endif
    state *s = st;
    s->api->log(s->ctx, AITBC_LOG_INFO, "lifecycle destroy");
}

#ifndef COUNT_DEFAULT
#define COUNT_DEFAULT "7"
#endif
#ifdef V1_0
/* The 1.0 config key (no default, no bounds): the host must step through the array by this size. */
typedef struct cfg_key_v1_0 {
    const char *key;
    aitbc_cfg_type type;
    int required;
    const char *doc;
} cfg_key_v1_0;
static const cfg_key_v1_0 schema_v1_0[] = {
    {"greeting", AITBC_CFG_STRING, GREETING_REQUIRED, "a word to log at init"},
    {"count", AITBC_CFG_INT, 0, "any integer"},
    {0}};
#define SCHEMA ((const aitbc_cfg_key *)(const void *)schema_v1_0)
#else
static const aitbc_cfg_key schema[] = {
    {"greeting", AITBC_CFG_STRING, GREETING_REQUIRED, "a word to log at init", .def = NULL},
    {"count", AITBC_CFG_INT, 0, "a small number logged at init", .def = COUNT_DEFAULT,
     AITBC_CFG_RANGE(0, 100)},
    {0}};
#define SCHEMA schema
#endif

#ifdef PROVIDES
static const char *const provides[] = {PROVIDES, NULL};
#endif
#ifdef REQUIRES
static const char *const requires[] = {REQUIRES, NULL};
#endif
#ifdef USES
static const char *const uses[] = {USES, NULL};
#endif

static const aitbc_plugin_desc desc = {
    .abi_major = ABI_MAJOR,
    .abi_minor = ABI_MINOR,
    .struct_size = STRUCT_SIZE,
    .build_signature = AITBC_BUILD_SIGNATURE ^ SIGNATURE_XOR,
    .name = DESC_NAME,
    .version = "0.0.1",
    .description = "ABI test plugin",
#ifdef PROVIDES
    .provides = provides,
#endif
#ifdef REQUIRES
    .requires = requires,
#endif
#ifdef USES
    .uses = uses,
#endif
    .config_schema = SCHEMA,
#if defined(CFG_KEY_SIZE)
    .cfg_key_size = CFG_KEY_SIZE,
#elif !defined(V1_0)
    .cfg_key_size = sizeof(aitbc_cfg_key),
#endif
#ifndef V1_0
    .route_size = ROUTE_DECL,
    .topic_size = TOPIC_DECL,
    .migration_size = MIGRATION_DECL,
    .metric_label_size = LABEL_DECL,
#endif
    .init = plugin_init,
#ifndef NULL_START
    .start = plugin_start,
#endif
    .stop = plugin_stop,
    .destroy = plugin_destroy,
};

#ifdef NO_SYMBOL
/* Exports a describe function under the wrong name. */
AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe_v2(void);
const aitbc_plugin_desc *aitbc_plugin_describe_v2(void) {
    return &desc;
}
#else
#if defined(V1_0)
/* A 1.0-sized heap copy, so ASan sees any read past what 1.0 defined; it lives as long as the
 * .so and goes when the host unloads it (or the process ends). */
static aitbc_plugin_desc *v10_copy;
__attribute__((destructor)) static void v10_copy_free(void) {
    free(v10_copy);
}
#endif
const aitbc_plugin_desc *aitbc_plugin_describe(void) {
#ifdef NULL_DESC
    (void)&desc;
    return NULL;
#elif defined(V1_0)
    if (!v10_copy && (v10_copy = malloc(STRUCT_SIZE))) memcpy(v10_copy, &desc, STRUCT_SIZE);
    return v10_copy;
#else
    return &desc;
#endif
}
#endif
