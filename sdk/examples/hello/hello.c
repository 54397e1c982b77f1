/* hello: the smallest complete AITBC plugin, and the one to copy. It owns a table (through a
 * migration), a route that writes to it, a bus topic it publishes on, and a subscription to that
 * same topic so a test can see events arrive. It is built only against the public SDK headers. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <aitbc/aitbc.h>

#define HELLO_NAME_MAX 64

typedef struct hello {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api; /* borrowed for the plugin's life */
    atomic_long events_seen;   /* written on the bus thread, read on HTTP threads */
} hello;

static const aitbc_migration hello_migrations[] = {
    {1, "CREATE TABLE hello_greetings (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "created_ms INTEGER NOT NULL)"},
};

/* POST /v1/hello {"name": "..."} → 201 {"id","name","greeting"} */
static void post_hello(aitbc_request *req, void *user) {
    hello *h = user;
    const aitbc_host_api *api = h->api;
    const cJSON *body = api->req_json(req);
    static const char *const allowed[] = {"name", NULL};
    const char *unknown = body ? aitbc_json_unknown_key(body, allowed) : NULL;
    if (unknown) {
        api->respond_error(req, 400, "invalid_argument", unknown, "unknown field '%s'", unknown);
        return;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
        strlen(name->valuestring) > HELLO_NAME_MAX) {
        api->respond_error(req, 400, "invalid_argument", "name",
                           "name must be a string of 1..%d bytes", HELLO_NAME_MAX);
        return;
    }
    char id[AITBC_ID_MAX];
    aitbc_random_id("hlo", id);

    aitbc_txn *txn = api->txn_begin(AITBC_TXN_WRITE);
    aitbc_stmt *s = txn ? api->stmt(txn, "INSERT INTO hello_greetings (id, name, created_ms) "
                                         "VALUES (?, ?, ?)")
                        : NULL;
    int rc = AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, id);
        api->bind_text(s, 2, name->valuestring);
        api->bind_int64(s, 3, api->now_ms());
        rc = api->step(s);
        api->stmt_done(s);
    }
    if (rc < 0 || !txn || api->txn_commit(txn) != 0) {
        if (txn && rc < 0) api->txn_rollback(txn);
        api->respond_error(req, 503, "unavailable", NULL, "could not store the greeting; retry");
        return;
    }

    /* Publish only after commit: the event announces something that is now true. */
    cJSON *event = cJSON_CreateObject();
    aitbc_json_add_str(event, "id", id);
    aitbc_json_add_str(event, "name", name->valuestring);
    api->bus_publish(h->ctx, "hello", event); /* copies */
    cJSON_Delete(event);

    cJSON *out = cJSON_CreateObject();
    aitbc_json_add_str(out, "id", id);
    aitbc_json_add_str(out, "name", name->valuestring);
    char greeting[HELLO_NAME_MAX + 8];
    strcpy(greeting, "hello, ");
    strcat(greeting, name->valuestring);
    aitbc_json_add_str(out, "greeting", greeting);
    api->respond_json(req, 201, out); /* takes out */
}

/* GET /v1/hello → {"greetings": rows stored, "events_seen": bus events received} */
static void get_hello(aitbc_request *req, void *user) {
    hello *h = user;
    const aitbc_host_api *api = h->api;
    aitbc_txn *txn = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = txn ? api->stmt(txn, "SELECT count(*) FROM hello_greetings") : NULL;
    int64_t rows = -1;
    if (s) {
        if (api->step(s) == AITBC_ROW) rows = api->col_int64(s, 0);
        api->stmt_done(s);
    }
    if (txn) api->txn_commit(txn);
    if (rows < 0) {
        api->respond_error(req, 503, "unavailable", NULL, "could not read greetings; retry");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    aitbc_json_add_i64(out, "greetings", rows);
    aitbc_json_add_i64(out, "events_seen", atomic_load(&h->events_seen));
    api->respond_json(req, 200, out);
}

/* Runs on the bus dispatcher thread: keep it short, never block. */
static void on_hello_event(const char *topic, uint64_t seq, const cJSON *data, void *user) {
    (void)topic;
    (void)seq;
    (void)data;
    hello *h = user;
    atomic_fetch_add(&h->events_seen, 1);
}

static int hello_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (api->size < sizeof(aitbc_host_api))
        return AITBC_EINVAL; /* a host older than the SDK we were built with */
    hello *h = calloc(1, sizeof *h);
    if (!h) return AITBC_ENOMEM;
    h->ctx = ctx;
    h->api = api;
    int rc =
        api->migrate(ctx, hello_migrations, sizeof hello_migrations / sizeof *hello_migrations);
    if (rc == 0) {
        aitbc_topic topic = {.name = "hello", .roles = AITBC_ROLE_ANY};
        rc = api->bus_topic(ctx, &topic);
    }
    if (rc != 0) {
        free(h);
        return rc;
    }
    *state = h;
    return 0;
}

static int hello_start(void *state) {
    hello *h = state;
    const aitbc_route routes[] = {
        {.method = "POST",
         .path = "/v1/hello",
         .roles = AITBC_ROLE_ANY,
         .body = AITBC_BODY_JSON,
         .max_body_bytes = 4096,
         .handler = post_hello,
         .user = h},
        {.method = "GET",
         .path = "/v1/hello",
         .roles = AITBC_ROLE_PUBLIC,
         .handler = get_hello,
         .user = h},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        int rc = h->api->route(h->ctx, &routes[i]);
        if (rc != 0) return rc;
    }
    return h->api->bus_subscribe(h->ctx, "hello", on_hello_event, h);
}

static void hello_stop(void *state) {
    (void)state; /* no threads or timers of our own */
}

static void hello_destroy(void *state) {
    free(state);
}

static const aitbc_plugin_desc hello_desc = {
    AITBC_PLUGIN_HEADER, .name = "hello",
    .version = "1.0.0",  .description = "Example plugin: one table, one route pair, one bus topic",
    .init = hello_init,  .start = hello_start,
    .stop = hello_stop,  .destroy = hello_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &hello_desc;
}
