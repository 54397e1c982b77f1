/* batchprobe: a test-only plugin with one write route, to drive the host's group commit.
 *
 * POST /v1/batchprobe/items (write, idempotent, any role) {"id": "...", "mode": "..."}
 *   inserts the row, publishes {"id"} on topic batchprobe_items, wakes "batchprobe:<id>", then
 *   answers 201 {"id"}. mode:
 *     "ok"        just that;
 *     "rollback"  inserts, rolls its own transaction back, answers 409 rolled_back;
 *     "poison"    also records a reference to a missing row under a DEFERRED foreign key: the
 *                 savepoint releases fine but the batch's COMMIT fails (every request in it 503);
 *     "hold"      after its work, blocks the writer until POST /v1/batchprobe/release (≤ 20 s).
 * POST /v1/batchprobe/release      (public) lets a held request go on.
 * GET  /v1/batchprobe/state        (public) {"held": 0|1, "events": n}: whether a request holds
 *   the writer now, and how many batchprobe_items events subscribers have received. */
#include "aitbc/aitbc.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define HOLD_MAX_S 20

typedef struct probe {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int held, released;
    long events;
} probe;

static probe g_probe = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static const aitbc_migration k_steps[] = {
    {1, "CREATE TABLE batchprobe_items (id TEXT PRIMARY KEY);"
        "CREATE TABLE batchprobe_refs (item_id TEXT NOT NULL"
        " REFERENCES batchprobe_items(id) DEFERRABLE INITIALLY DEFERRED);"},
};

static int exec1(const aitbc_host_api *api, aitbc_txn *t, const char *sql, const char *arg) {
    aitbc_stmt *s = api->stmt(t, sql);
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, arg);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc == AITBC_DONE ? 0 : rc < 0 ? rc : AITBC_EIO;
}

static void hold(probe *p) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += HOLD_MAX_S;
    pthread_mutex_lock(&p->mu);
    p->held = 1;
    p->released = 0;
    while (!p->released)
        if (pthread_cond_timedwait(&p->cond, &p->mu, &until) != 0) break;
    p->held = 0;
    pthread_mutex_unlock(&p->mu);
}

static void h_item(aitbc_request *req, void *user) {
    probe *p = user;
    const aitbc_host_api *api = p->api;
    const cJSON *body = api->req_json(req);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "id"));
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "mode"));
    if (!id || !mode) {
        api->respond_error(req, 400, "invalid_argument", NULL, "id and mode are strings");
        return;
    }
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    int rc = t ? exec1(api, t, "INSERT INTO batchprobe_items (id) VALUES (?)", id) : AITBC_EBUSY;
    if (rc == 0 && !strcmp(mode, "poison"))
        rc = exec1(api, t, "INSERT INTO batchprobe_refs (item_id) VALUES (?)", "no-such-item");
    if (rc == 0 && !strcmp(mode, "rollback")) {
        api->txn_rollback(t);
        api->respond_error(req, 409, "rolled_back", NULL, "rolled back on purpose");
        return;
    }
    if (rc == 0)
        rc = api->txn_commit(t);
    else if (t)
        api->txn_rollback(t);
    if (rc != 0) {
        api->respond_error(req, rc == AITBC_EEXIST ? 409 : 500, "failed", NULL, "insert: %d", rc);
        return;
    }
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "id", id);
    api->bus_publish(p->ctx, "batchprobe_items", ev);
    char key[128];
    snprintf(key, sizeof key, "batchprobe:%s", id);
    api->wake(key);
    if (!strcmp(mode, "hold")) hold(p);
    api->respond_json(req, 201, ev);
}

static void h_release(aitbc_request *req, void *user) {
    probe *p = user;
    pthread_mutex_lock(&p->mu);
    p->released = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    p->api->respond_json(req, 200, NULL);
}

static void h_state(aitbc_request *req, void *user) {
    probe *p = user;
    cJSON *o = cJSON_CreateObject();
    pthread_mutex_lock(&p->mu);
    cJSON_AddNumberToObject(o, "held", p->held);
    cJSON_AddNumberToObject(o, "events", (double)p->events);
    pthread_mutex_unlock(&p->mu);
    p->api->respond_json(req, 200, o);
}

static void on_event(const char *topic, uint64_t seq, const cJSON *data, void *user) {
    (void)topic;
    (void)seq;
    (void)data;
    probe *p = user;
    pthread_mutex_lock(&p->mu);
    p->events++;
    pthread_mutex_unlock(&p->mu);
}

static int probe_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    g_probe.ctx = ctx;
    g_probe.api = api;
    g_probe.events = 0;
    aitbc_topic topic = {.name = "batchprobe_items", .roles = AITBC_ROLE_ANY};
    int rc = api->migrate(ctx, k_steps, 1);
    if (rc == 0) rc = api->bus_topic(ctx, &topic);
    *state = &g_probe;
    return rc;
}

static int probe_start(void *state) {
    probe *p = state;
    const aitbc_route routes[] = {
        {.method = "POST",
         .path = "/v1/batchprobe/items",
         .roles = AITBC_ROLE_ANY,
         .body = AITBC_BODY_JSON,
         .handler = h_item,
         .user = p,
         .idempotent = 1,
         .write = 1},
        {.method = "POST", .path = "/v1/batchprobe/release", .handler = h_release, .user = p},
        {.method = "GET", .path = "/v1/batchprobe/state", .handler = h_state, .user = p},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = p->api->route(p->ctx, &routes[i]);
        if (rc) return rc;
    }
    return p->api->bus_subscribe(p->ctx, "batchprobe_items", on_event, p);
}

static void probe_stop(void *state) {
    probe *p = state;
    pthread_mutex_lock(&p->mu);
    p->released = 1; /* never keep the writer past shutdown */
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

static void probe_destroy(void *state) {
    (void)state;
}

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "batchprobe",
    .version = "0.1.0",
    .description = "test only: a write route that succeeds, rolls back, poisons or holds a batch",
    .init = probe_init,
    .start = probe_start,
    .stop = probe_stop,
    .destroy = probe_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
