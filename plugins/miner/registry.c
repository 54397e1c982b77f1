/* The miner registry table: its migrations, reading and writing rows, the JSON view,
 * deregistration, and the timer that turns silent miners OFFLINE (their jobs requeue), sweeps
 * lapsed leases and prunes miners that registered but never heartbeated for a day. */
#include "miner.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const aitbc_migration k_migrations[] = {
    {1, "CREATE TABLE miner_miners(seq INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE,"
        " public_key TEXT NOT NULL, status TEXT NOT NULL, unit_type TEXT NOT NULL,"
        " capabilities TEXT NOT NULL, metrics TEXT, concurrency INTEGER NOT NULL,"
        " unit_price INTEGER NOT NULL, last_heartbeat_ms INTEGER, registered_ms INTEGER NOT NULL,"
        " last_register_ts INTEGER NOT NULL, heartbeats INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX miner_miners_status ON miner_miners(status, seq);"
        "CREATE INDEX miner_miners_live ON miner_miners(last_heartbeat_ms)"
        " WHERE status IN ('ONLINE', 'DRAINING');"},
    /* Several hosts on one database: the registry generation (MN_GEN_TABLE in miner.h). */
    {2, "CREATE TABLE miner_gen(name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO miner_gen(name, n) VALUES('registry', 0);"},
};

int mn_store_migrate(miner_state *ms) {
    return ms->api->migrate(ms->ctx, k_migrations, sizeof k_migrations / sizeof k_migrations[0]);
}

#define MN_PRUNE_MS (24 * 3600 * 1000LL)

static void copy_col(miner_state *ms, aitbc_stmt *s, int col, char *out, size_t cap) {
    const char *t = ms->api->col_text(s, col);
    snprintf(out, cap, "%s", t ? t : "");
}

void mn_row_read(miner_state *ms, aitbc_stmt *s, mn_row *r) {
    const aitbc_host_api *api = ms->api;
    memset(r, 0, sizeof *r);
    r->seq = api->col_int64(s, 0);
    copy_col(ms, s, 1, r->address, sizeof r->address);
    copy_col(ms, s, 2, r->public_key, sizeof r->public_key);
    copy_col(ms, s, 3, r->status, sizeof r->status);
    copy_col(ms, s, 4, r->unit_type, sizeof r->unit_type);
    const char *caps = api->col_text(s, 5);
    r->capabilities = caps ? cJSON_Parse(caps) : NULL;
    if (!r->capabilities) r->capabilities = cJSON_CreateObject();
    const char *m = api->col_text(s, 6);
    r->metrics = m ? strdup(m) : NULL;
    r->concurrency = api->col_int64(s, 7);
    r->unit_price = api->col_int64(s, 8);
    r->last_heartbeat_ms = api->col_is_null(s, 9) ? -1 : api->col_int64(s, 9);
    r->registered_ms = api->col_int64(s, 10);
    r->last_register_ts = api->col_int64(s, 11);
    r->heartbeats = api->col_int64(s, 12);
}

int mn_load(miner_state *ms, aitbc_txn *txn, const char *address, mn_row *r) {
    const aitbc_host_api *api = ms->api;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(api, txn, AITBC_TXN_READ, &use);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(t, "SELECT " MN_ROW_COLS " FROM miner_miners WHERE address = ?1");
    int rc = AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, address);
        rc = api->step(s);
        if (rc == AITBC_ROW) mn_row_read(ms, s, r);
        api->stmt_done(s);
    }
    aitbc_txn_leave(api, &use, 0, 0); /* a read: ending it never fails the answer */
    return rc == AITBC_ROW ? 1 : rc == AITBC_DONE ? 0 : rc;
}

int mn_upsert(miner_state *ms, aitbc_txn *t, const mn_row *r) {
    const aitbc_host_api *api = ms->api;
    char *caps = aitbc_json_print(r->capabilities);
    if (!caps) return AITBC_ENOMEM;
    aitbc_stmt *s = api->stmt(
        t, "INSERT INTO miner_miners(address, public_key, status, unit_type, capabilities, "
           "metrics, concurrency, unit_price, last_heartbeat_ms, registered_ms, last_register_ts, "
           "heartbeats) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12) ON CONFLICT(address) DO "
           "UPDATE SET public_key=excluded.public_key, status=excluded.status, "
           "unit_type=excluded.unit_type, capabilities=excluded.capabilities, "
           "metrics=excluded.metrics, concurrency=excluded.concurrency, "
           "unit_price=excluded.unit_price, last_heartbeat_ms=excluded.last_heartbeat_ms, "
           "last_register_ts=excluded.last_register_ts, heartbeats=excluded.heartbeats");
    int rc = AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, r->address);
        api->bind_text(s, 2, r->public_key);
        api->bind_text(s, 3, r->status);
        api->bind_text(s, 4, r->unit_type);
        api->bind_text(s, 5, caps);
        if (r->metrics)
            api->bind_text(s, 6, r->metrics);
        else
            api->bind_null(s, 6);
        api->bind_int64(s, 7, r->concurrency);
        api->bind_int64(s, 8, r->unit_price);
        api->bind_int64(s, 9, r->last_heartbeat_ms);
        api->bind_int64(s, 10, r->registered_ms);
        api->bind_int64(s, 11, r->last_register_ts);
        api->bind_int64(s, 12, r->heartbeats);
        rc = api->step(s);
        api->stmt_done(s);
    }
    free(caps);
    return rc < 0 ? rc : 0;
}

int mn_deregister(miner_state *ms, const char *address) {
    const aitbc_host_api *api = ms->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(t, "DELETE FROM miner_miners WHERE address = ?1");
    int rc = AITBC_EIO;
    int64_t n = 0;
    if (s) {
        api->bind_text(s, 1, address);
        rc = api->step(s);
        n = rc >= 0 ? api->changes(s) : 0;
        api->stmt_done(s);
    }
    if (rc >= 0 && n == 1) {
        rc = ms->auth->revoke_owner(ms->auth->self, t, address, AITBC_ROLE_MINER);
        if (rc == AITBC_ENOTFOUND) rc = 0;
        if (rc >= 0) rc = aitbc_gen_bump(api, t, MN_GEN_TABLE, MN_GEN_REGISTRY);
    }
    if (rc >= 0)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    if (rc != 0) return rc;
    if (n == 1) mn_live_drop(ms, address, INT64_MAX);
    if (n == 1) ms->jobs->release_miner(ms->jobs->self, address, (int)ms->max_attempts, INT64_MAX);
    return n == 1;
}

static void add_time(cJSON *o, const char *key, int64_t ms) {
    char buf[AITBC_TIME_MAX];
    if (ms < 0) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    aitbc_time_format(ms, buf);
    cJSON_AddStringToObject(o, key, buf);
}

cJSON *mn_row_json(miner_state *ms, const mn_row *r, int with_earnings) {
    int64_t running = 0, done = 0, failed = 0, earned = 0;
    ms->jobs->miner_stats(ms->jobs->self, r->address, &running, &done, &failed, &earned);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "address", r->address);
    cJSON_AddStringToObject(o, "public_key", r->public_key);
    cJSON_AddStringToObject(o, "status", r->status);
    cJSON_AddItemToObject(o, "capabilities", cJSON_Duplicate(r->capabilities, 1));
    aitbc_json_add_i64(o, "concurrency", r->concurrency);
    aitbc_json_add_i64(o, "running", running);
    aitbc_json_add_money(o, "unit_price", r->unit_price, JC_AIT_DECIMALS);
    cJSON_AddStringToObject(o, "unit_type", r->unit_type);
    add_time(o, "last_heartbeat", r->heartbeats > 0 ? r->last_heartbeat_ms : -1);
    aitbc_json_add_i64(o, "jobs_completed", done);
    aitbc_json_add_i64(o, "jobs_failed", failed);
    add_time(o, "registered_at", r->registered_ms);
    if (with_earnings) {
        aitbc_json_add_money(o, "earnings", earned, JC_AIT_DECIMALS);
        cJSON *m = r->metrics ? cJSON_Parse(r->metrics) : NULL;
        cJSON_AddItemToObject(o, "metrics", m ? m : cJSON_CreateObject());
    }
    return o;
}

/* Addresses selected by sql (?1 = a time bound), at most 64 per tick. */
static int pick(miner_state *ms, aitbc_txn *t, const char *sql, int64_t bound, char out[64][48]) {
    aitbc_stmt *s = ms->api->stmt(t, sql);
    int n = 0;
    if (!s) return 0;
    ms->api->bind_int64(s, 1, bound);
    while (n < 64 && ms->api->step(s) == AITBC_ROW) {
        const char *a = ms->api->col_text(s, 0);
        snprintf(out[n++], 48, "%s", a ? a : "");
    }
    ms->api->stmt_done(s);
    return n;
}

void mn_tick(void *arg) {
    miner_state *ms = arg;
    const aitbc_host_api *api = ms->api;
    int64_t now = api->now_ms();
    char silent[64][48], stale[64][48];
    int ns = 0, np = 0;
    /* Jobs handed out before this bound belong to the silence; a miner that came back between
     * our commit and the release keeps what its new poll was given. */
    int64_t cutoff = now - 3 * ms->heartbeat_s * 1000;
    /* Look without the write lock first: most ticks find nothing. */
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (t) {
        ns = pick(ms, t,
                  "SELECT address FROM miner_miners WHERE status IN ('ONLINE', "
                  "'DRAINING') AND last_heartbeat_ms < ?1",
                  cutoff, silent);
        np = pick(ms, t,
                  "SELECT address FROM miner_miners WHERE status = 'OFFLINE' AND "
                  "heartbeats = 0 AND registered_ms < ?1",
                  now - MN_PRUNE_MS, stale);
        api->txn_commit(t);
    }
    int marked[64] = {0};
    if (ns > 0 && (t = api->txn_begin(AITBC_TXN_WRITE))) {
        int rc = 0;
        for (int i = 0; rc == 0 && i < ns; i++) {
            /* re-checked under the write lock: a heartbeat may have landed since the look */
            aitbc_stmt *s = api->stmt(t, "UPDATE miner_miners SET status = 'OFFLINE' WHERE "
                                         "address = ?1 AND last_heartbeat_ms < ?2");
            rc = s ? 0 : AITBC_EIO;
            if (s) {
                api->bind_text(s, 1, silent[i]);
                api->bind_int64(s, 2, cutoff);
                rc = api->step(s) < 0 ? AITBC_EIO : 0;
                marked[i] = rc == 0 && api->changes(s) == 1;
                api->stmt_done(s);
            }
            if (rc == 0 && marked[i]) rc = aitbc_gen_bump(api, t, MN_GEN_TABLE, MN_GEN_REGISTRY);
        }
        if (rc == 0)
            rc = api->txn_commit(t);
        else
            api->txn_rollback(t);
        if (rc != 0) ns = 0;
    }
    for (int i = 0; i < ns; i++) {
        if (!marked[i]) /* it spoke up in time */
            continue;
        mn_live_drop(ms, silent[i], cutoff);
        api->log(ms->ctx, AITBC_LOG_INFO, "miner %s silent for 3 heartbeats: OFFLINE", silent[i]);
        ms->jobs->release_miner(ms->jobs->self, silent[i], (int)ms->max_attempts, cutoff);
    }
    for (int i = 0; i < np; i++)
        mn_deregister(ms, stale[i]);
    /* Entries whose write never committed fall silent too (see online.c). */
    mn_live_tidy(ms, cutoff);
    mn_wake_expire(ms, now);
    ms->jobs->sweep_leases(ms->jobs->self, (int)ms->max_attempts);
}

const char *const mn_statuses[MN_NSTATUS] = {"ONLINE", "DRAINING", "OFFLINE"};

int mn_count_by_status(miner_state *ms, int64_t counts[MN_NSTATUS]) {
    const aitbc_host_api *api = ms->api;
    memset(counts, 0, MN_NSTATUS * sizeof *counts);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(t, "SELECT status, COUNT(*) FROM miner_miners GROUP BY status");
    int st = AITBC_EIO;
    while (s && (st = api->step(s)) == AITBC_ROW) {
        const char *status = api->col_text(s, 0);
        for (size_t i = 0; status && i < MN_NSTATUS; i++)
            if (strcmp(status, mn_statuses[i]) == 0) counts[i] = api->col_int64(s, 1);
    }
    if (s) api->stmt_done(s);
    api->txn_commit(t);
    return st == AITBC_DONE ? 0 : st < 0 ? st : AITBC_EIO;
}
