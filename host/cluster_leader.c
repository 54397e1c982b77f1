/* "One writer where there must be one": leader roles elected with PostgreSQL advisory locks.
 *
 * A plugin asks `leader(ctx, role)`; the first call adds the role to the wanted list and the
 * cluster thread tries pg_try_advisory_lock(schema key, role key) on its dedicated connection
 * every poll (about a second). A session lock lives as long as the connection: a host that is
 * killed (kill -9) closes its socket, the server ends the session and frees the lock, and another
 * host's next try takes it — a takeover within a couple of polls. On taking a role the holder
 * records itself in host_leaders (role, holder, epoch + 1, since) for operators to read.
 *
 * Fencing. The in-memory "I hold it" can be stale: the connection may have died a moment ago and
 * another host may lead already. So on the writer (inside the transaction a leader's write runs
 * in) `leader()` also asks the database whether this host's cluster session still holds the lock
 * (pg_locks, by the session's backend pid). That transaction holds the database-wide write lock
 * until it commits, and a new leader's writes need it too: every write an old leader makes is
 * either checked while it still held the role, and then commits before any write of the next
 * leader, or refused. Elsewhere (a timer deciding whether to queue work at all) the answer is the
 * in-memory one, which is only a hint.
 *
 * On SQLite (no cluster) every role is this host's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"
#include "internal.h"

#define MAX_ROLES 32

typedef struct role {
    char name[CLUSTER_ROLE_MAX];
    int held;
    int pid; /* backend pid of the session holding it */
    int64_t epoch;
} role;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static role g_roles[MAX_ROLES];
static size_t g_n;
static int g_new; /* a role was asked for since the last tick */

/* Under g_mu: the role's slot, added when add is set (NULL when full). */
static role *find(const char *name, int add) {
    for (size_t i = 0; i < g_n; i++)
        if (strcmp(g_roles[i].name, name) == 0) return &g_roles[i];
    if (!add || g_n == MAX_ROLES) return NULL;
    role *r = &g_roles[g_n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

/* In the caller's write transaction: does the session with this pid hold the role's lock? */
static int fenced_check(const char *name, int pid) {
    int32_t k1, k2;
    cluster_role_keys(cluster_schema_hash(), name, &k1, &k2);
    aitbc_txn *t = store_txn_begin(AITBC_TXN_WRITE);
    if (!t) return 0;
    aitbc_stmt *s = store_stmt(t, CLUSTER_FENCE_SQL);
    int held = 0;
    if (s) {
        store_bind_int64(s, 1, (int64_t)(uint32_t)k1);
        store_bind_int64(s, 2, (int64_t)(uint32_t)k2);
        store_bind_int64(s, 3, pid);
        held = store_step(s) == AITBC_ROW;
        store_stmt_done(s);
    }
    store_txn_commit(t);
    return held;
}

int cluster_leader(aitbc_plugin_ctx *ctx, const char *name) {
    (void)ctx;
    if (!cluster_role_valid(name)) return 0;
    if (!cluster_active()) return 1;
    pthread_mutex_lock(&g_mu);
    size_t before = g_n;
    role *r = find(name, 1);
    int held = r && r->held, pid = r ? r->pid : 0, added = g_n != before;
    static int warned;
    int warn = !r && !warned;
    warned |= warn;
    g_new |= added;
    pthread_mutex_unlock(&g_mu);
    if (warn)
        hlog("cluster", AITBC_LOG_ERROR, "more than %d leader roles: %s is never taken", MAX_ROLES,
             name);
    if (!r) return 0;
    if (added) cluster_poke(); /* try it now rather than at the next poll */
    if (held && writer_in_batch()) held = fenced_check(name, pid);
    return held;
}

/* Record the new holder: an epoch that grows with every change of hands. */
static int64_t record(PGconn *c, const char *name) {
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)aitbc_now_ms());
    const char *p[3] = {name, cluster_node_id(), now};
    PGresult *r = cluster_exec(
        c,
        "INSERT INTO host_leaders(role, holder, epoch, since_ms) VALUES($1, $2, 1, $3) "
        "ON CONFLICT(role) DO UPDATE SET holder = excluded.holder, "
        "epoch = host_leaders.epoch + 1, since_ms = excluded.since_ms RETURNING epoch",
        3, p, PGRES_TUPLES_OK);
    int64_t epoch = r && PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return epoch;
}

int leader_wanted_new(void) {
    pthread_mutex_lock(&g_mu);
    int n = g_new;
    pthread_mutex_unlock(&g_mu);
    return n;
}

void leader_tick(PGconn *c) {
    char names[MAX_ROLES][CLUSTER_ROLE_MAX];
    size_t n = 0;
    pthread_mutex_lock(&g_mu);
    g_new = 0;
    for (size_t i = 0; i < g_n; i++)
        if (!g_roles[i].held) memcpy(names[n++], g_roles[i].name, CLUSTER_ROLE_MAX);
    pthread_mutex_unlock(&g_mu);
    for (size_t i = 0; i < n; i++) {
        int32_t k1, k2;
        cluster_role_keys(cluster_schema_hash(), names[i], &k1, &k2);
        char a[16], b[16];
        snprintf(a, sizeof a, "%d", (int)k1);
        snprintf(b, sizeof b, "%d", (int)k2);
        const char *p[2] = {a, b};
        PGresult *r = cluster_exec(c, "SELECT pg_try_advisory_lock($1::int4, $2::int4)", 2, p,
                                   PGRES_TUPLES_OK);
        int got = r && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (!got) continue;
        int64_t epoch = record(c, names[i]);
        pthread_mutex_lock(&g_mu);
        role *ro = find(names[i], 0);
        if (ro) {
            ro->held = 1;
            ro->pid = PQbackendPID(c);
            ro->epoch = epoch;
        }
        pthread_mutex_unlock(&g_mu);
        hlog("cluster", AITBC_LOG_INFO, "leader for %s (epoch %lld)", names[i], (long long)epoch);
    }
}

void leader_roles(cluster_stats *out) {
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < g_n && out->nroles < CLUSTER_STATS_ROLES; i++, out->nroles++) {
        memcpy(out->roles[out->nroles], g_roles[i].name, sizeof out->roles[0]);
        out->held[out->nroles] = g_roles[i].held;
    }
    pthread_mutex_unlock(&g_mu);
}

int leader_session_pid(const char *name) {
    pthread_mutex_lock(&g_mu);
    role *r = find(name, 0);
    int pid = r && r->held ? r->pid : 0;
    pthread_mutex_unlock(&g_mu);
    return pid;
}

void leader_lost_all(void) {
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < g_n; i++) {
        if (g_roles[i].held)
            hlog("cluster", AITBC_LOG_WARN, "no longer leader for %s", g_roles[i].name);
        g_roles[i].held = 0;
        g_roles[i].pid = 0;
    }
    pthread_mutex_unlock(&g_mu);
}

void leader_reset_held(void) {
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < g_n; i++)
        g_roles[i].held = 0;
    pthread_mutex_unlock(&g_mu);
}

void leader_reset(void) {
    pthread_mutex_lock(&g_mu);
    g_n = 0;
    pthread_mutex_unlock(&g_mu);
}
