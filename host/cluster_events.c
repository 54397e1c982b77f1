/* Cross-host events and wake-ups through the host_events outbox.
 *
 * Writing: what a write transaction announces (bus events, long-poll wake-ups) is held until it
 * commits (writer.c for the writer's batches, http_scope.c for an idempotent request's scope).
 * On PostgreSQL the holder also appends each one here, inside that same transaction, and
 * NOTIFYs the schema's channel with the newest seq only (NOTIFY is delivered at commit and a
 * seq is a few bytes, far under the 8000-byte payload limit). So a row exists exactly when the
 * work it reports committed.
 *
 * Ordering: every write transaction first takes the driver's database-wide advisory write lock
 * and holds it to its commit, so write transactions — and with them the seq values they draw
 * from the identity — commit one at a time in seq order. A reader that has seen seq N has seen
 * every committed row below N: "seq > last" never skips a row that commits later (rolled-back
 * transactions leave gaps, which is harmless).
 *
 * Reading (the cluster thread): rows after the last seen seq, in order; another host's are
 * published on the local bus and woken locally — through bus_publish / http_wake directly, not
 * the plugin API, so they are never captured and relayed again; this host's own rows only move
 * the cursor (it released them itself at its commit). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"
#include "internal.h"

#define CATCH_UP_PAGE 500

/* What the calling thread's transaction announces, as one JSON array ([{k, n, d}], d the
 * event's data) written by ONE statement at its end: a batch of hundreds of events costs one
 * round trip, not one each. */
static _Thread_local cJSON *tl_out;
static _Thread_local int tl_oom;

static int out_add(char kind, const char *name, const cJSON *data) {
    if (!tl_out && !(tl_out = cJSON_CreateArray())) tl_oom = 1;
    cJSON *row = tl_oom ? NULL : cJSON_CreateObject();
    char k[2] = {kind, '\0'};
    if (!row || !cJSON_AddStringToObject(row, "k", k) || !cJSON_AddStringToObject(row, "n", name) ||
        (data && !cJSON_AddItemToObject(row, "d", cJSON_Duplicate(data, 1)))) {
        cJSON_Delete(row);
        tl_oom = 1;
        return AITBC_ENOMEM;
    }
    cJSON_AddItemToArray(tl_out, row);
    return 0;
}

void cluster_outbox_discard(void) {
    cJSON_Delete(tl_out);
    tl_out = NULL;
    tl_oom = 0;
}

int cluster_outbox_event(const char *topic, const cJSON *data) {
    return cluster_active() ? out_add('e', topic, data) : 0;
}

int cluster_outbox_wake(const char *key) {
    return cluster_active() ? out_add('w', key, NULL) : 0;
}

int cluster_outbox_flush(void) {
    char *rows = cluster_active() && tl_out && !tl_oom ? cJSON_PrintUnformatted(tl_out) : NULL;
    int rc = tl_oom || (tl_out && cluster_active() && !rows) ? AITBC_ENOMEM : 0;
    cluster_outbox_discard();
    if (!rows) return rc;
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    rc = t ? 0 : AITBC_EBUSY;
    /* The rows in the order they were announced (ORDER BY the array position, so the identity
     * hands out seq in that order); the NOTIFY carries the last seq only. */
    aitbc_stmt *s =
        t ? store_stmt(t, "WITH ins AS (INSERT INTO host_events(origin, kind, name, data, at_ms) "
                          "SELECT ?, e.v->>'k', e.v->>'n', CAST(e.v->'d' AS TEXT), ? FROM "
                          "json_array_elements(CAST(? AS JSON)) WITH ORDINALITY AS e(v, i) "
                          "ORDER BY e.i RETURNING seq) "
                          "SELECT pg_notify(?, CAST(MAX(seq) AS TEXT)) FROM ins")
          : NULL;
    if (t && !s) rc = AITBC_EIO;
    if (s) {
        store_bind_text(s, 1, cluster_node_id());
        store_bind_int64(s, 2, aitbc_now_ms());
        store_bind_text(s, 3, rows);
        store_bind_text(s, 4, cluster_channel());
        rc = store_step(s) == AITBC_ROW ? 0 : AITBC_EIO;
        store_stmt_done(s);
    }
    free(rows);
    if (!t) return rc;
    if (rc == 0) return store_txn_commit(t);
    store_txn_rollback(t);
    return rc;
}

/* ---- relaying what was made outside a write transaction ----
 * A long-poll's retry, for one, writes in a transaction of its own on an HTTP thread and then
 * publishes: there is no transaction left to append to. Such events and wake-ups are queued here
 * and appended by one item on the writer (with whatever batch it joins): they reach the other
 * hosts a moment after they were delivered here, still only after the work they report
 * committed. Best effort: when that batch fails they are dropped (and logged) — the database is
 * failing, and a host that cannot write cannot tell the others anything. */
#define RELAY_MAX 10000

typedef struct relayed {
    char kind;
    char *name;
    cJSON *data; /* NULL for a wake-up */
    struct relayed *next;
} relayed;

static pthread_mutex_t g_relay_mu = PTHREAD_MUTEX_INITIALIZER;
static relayed *g_relay_head, **g_relay_tail = &g_relay_head;
static size_t g_relay_n;
static int g_relay_queued; /* an item is on the writer's queue */

static void relayed_free(relayed *r) {
    while (r) {
        relayed *next = r->next;
        free(r->name);
        cJSON_Delete(r->data);
        free(r);
        r = next;
    }
}

/* On the writer, in a batch: append everything queued so far; arg receives the list. */
static void relay_run(void *arg) {
    relayed **taken = arg;
    pthread_mutex_lock(&g_relay_mu);
    *taken = g_relay_head;
    g_relay_head = NULL;
    g_relay_tail = &g_relay_head;
    g_relay_n = 0;
    g_relay_queued = 0;
    pthread_mutex_unlock(&g_relay_mu);
    int rc = 0;
    for (relayed *r = *taken; r && rc == 0; r = r->next)
        rc = out_add(r->kind, r->name, r->data);
    rc = rc == 0 ? cluster_outbox_flush() : (cluster_outbox_discard(), rc);
    if (rc != 0)
        hlog("cluster", AITBC_LOG_WARN, "relaying events to the other hosts failed (%d)", rc);
}

static void relay_done(void *arg, int rc) {
    relayed **taken = arg;
    if (rc != 0 && *taken)
        hlog("cluster", AITBC_LOG_WARN,
             "events made outside a transaction could not be passed to the other hosts (%d)", rc);
    relayed_free(*taken);
    free(taken);
}

static void relay_add(char kind, const char *name, const cJSON *data) {
    if (!cluster_active() || bus_on_dispatcher() || !name) return;
    relayed *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(name)) || (data && !(r->data = cJSON_Duplicate(data, 1)))) {
        relayed_free(r);
        return;
    }
    r->kind = kind;
    pthread_mutex_lock(&g_relay_mu);
    int full = g_relay_n >= RELAY_MAX, submit = !full && !g_relay_queued;
    if (!full) {
        *g_relay_tail = r;
        g_relay_tail = &r->next;
        g_relay_n++;
        g_relay_queued = 1;
    }
    pthread_mutex_unlock(&g_relay_mu);
    if (full) {
        relayed_free(r);
        hlog("cluster", AITBC_LOG_WARN, "relay queue full: %s not passed to the other hosts", name);
        return;
    }
    if (!submit) return;
    relayed **taken = calloc(1, sizeof *taken);
    if (taken && writer_txn_submit(relay_run, taken, relay_done) == 0) return;
    free(taken);
    pthread_mutex_lock(&g_relay_mu);
    g_relay_queued = 0; /* the next one tries again */
    pthread_mutex_unlock(&g_relay_mu);
}

void cluster_relay_event(const char *topic, const cJSON *data) {
    if (data) relay_add('e', topic, data);
}

void cluster_relay_wake(const char *key) {
    relay_add('w', key, NULL);
}

/* What cluster_stop leaves queued is not sent. */
void cluster_relay_drop(void) {
    pthread_mutex_lock(&g_relay_mu);
    relayed *r = g_relay_head;
    g_relay_head = NULL;
    g_relay_tail = &g_relay_head;
    g_relay_n = 0;
    pthread_mutex_unlock(&g_relay_mu);
    relayed_free(r);
}

int events_start_seq(PGconn *c, int64_t *out) {
    PGresult *r =
        cluster_exec(c, "SELECT COALESCE(MAX(seq), 0) FROM host_events", 0, NULL, PGRES_TUPLES_OK);
    if (!r) return -1;
    *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

static atomic_ullong g_received;

uint64_t events_received(void) {
    return atomic_load(&g_received);
}

static void deliver(const char *kind, const char *name, const char *data) {
    if (kind[0] == 'w') {
        http_wake(name);
        return;
    }
    cJSON *j = data ? cJSON_Parse(data) : NULL;
    if (!j) {
        hlog("cluster", AITBC_LOG_WARN, "event on %s: unreadable data, skipped", name);
        return;
    }
    bus_publish_owned(name, j); /* taken whatever the outcome */
}

int events_catch_up(PGconn *c, int64_t *last) {
    int delivered = 0;
    for (;;) {
        char after[24];
        snprintf(after, sizeof after, "%lld", (long long)*last);
        const char *p[2] = {after, cluster_node_id()};
        /* Own rows come back without their data: they only move the cursor. */
        PGresult *r = cluster_exec(c,
                                   "SELECT seq, origin = $2, kind, name, "
                                   "CASE WHEN origin = $2 THEN NULL ELSE data END "
                                   "FROM host_events WHERE seq > $1 ORDER BY seq LIMIT 500",
                                   2, p, PGRES_TUPLES_OK);
        if (!r) return -1;
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            *last = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            if (PQgetvalue(r, i, 1)[0] == 't') continue;
            deliver(PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                    PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4));
            delivered++;
            atomic_fetch_add(&g_received, 1);
        }
        PQclear(r);
        if (n < CATCH_UP_PAGE) return delivered;
    }
}

void events_trim(PGconn *c, int64_t retention_ms) {
    char before[24];
    snprintf(before, sizeof before, "%lld", (long long)(aitbc_now_ms() - retention_ms));
    const char *p[1] = {before};
    PQclear(cluster_exec(c, "DELETE FROM host_events WHERE at_ms < $1", 1, p, PGRES_COMMAND_OK));
}
