/* The online-miner registry: ONLINE and DRAINING miners in memory with their capabilities, load
 * and parked polls, so a queued job's wake, a long-poll retry and pending_reason do not read the
 * miners table per request. The table stays the truth: the registry is rebuilt from it at start
 * and follows every write of it (registration, heartbeat, OFFLINE sweep, deregistration). Writes
 * land here right after their SQL, before the commit; a commit that then fails leaves the entry
 * ahead of the table until the miner's next heartbeat, or until the sweep drops it for silence.
 * Several hosts on one database: other hosts' writes never pass here, so the registry also
 * remembers the registry generation (MN_GEN_TABLE) its rows were read at and reloads when it
 * moved (mn_live_sync), and the timer reloads instead of dropping entries that look silent.
 * Never call the database while holding live_mu (a writer may be waiting for it). */
#include "miner.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields dispatch and matching need (no metrics); caps is taken. */
static void copy_row(mn_row *dst, const mn_row *src, cJSON *caps) {
    memset(dst, 0, sizeof *dst);
    dst->seq = src->seq;
    snprintf(dst->address, sizeof dst->address, "%s", src->address);
    snprintf(dst->public_key, sizeof dst->public_key, "%s", src->public_key);
    snprintf(dst->status, sizeof dst->status, "%s", src->status);
    snprintf(dst->unit_type, sizeof dst->unit_type, "%s", src->unit_type);
    dst->capabilities = caps;
    dst->concurrency = src->concurrency;
    dst->unit_price = src->unit_price;
    dst->last_heartbeat_ms = src->last_heartbeat_ms;
    dst->registered_ms = src->registered_ms;
}

/* live_mu held. */
static mn_live *find_locked(miner_state *ms, const char *address) {
    for (size_t i = 0; i < ms->n_live; i++)
        if (strcmp(ms->live[i].row.address, address) == 0) return &ms->live[i];
    return NULL;
}

/* live_mu held. The last entry moves into the hole. */
static void remove_locked(miner_state *ms, mn_live *e) {
    mn_row_free(&e->row);
    *e = ms->live[--ms->n_live];
    memset(&ms->live[ms->n_live], 0, sizeof ms->live[0]);
}

/* live_mu held. Add or update; the parked polls, load and promises of a known miner stay. */
static int put_locked(miner_state *ms, const mn_row *r) {
    mn_live *e = find_locked(ms, r->address);
    if (strcmp(r->status, "ONLINE") != 0 && strcmp(r->status, "DRAINING") != 0) {
        if (e) remove_locked(ms, e);
        return 0;
    }
    cJSON *caps = cJSON_Duplicate(r->capabilities, 1);
    if (!caps) return AITBC_ENOMEM;
    if (!e) {
        if (ms->n_live == ms->cap_live) {
            size_t cap = ms->cap_live ? ms->cap_live * 2 : 16;
            mn_live *v = realloc(ms->live, cap * sizeof *v);
            if (!v) {
                cJSON_Delete(caps);
                return AITBC_ENOMEM;
            }
            ms->live = v;
            ms->cap_live = cap;
        }
        e = &ms->live[ms->n_live++];
        memset(e, 0, sizeof *e);
    }
    mn_row_free(&e->row);
    copy_row(&e->row, r, caps);
    return 0;
}

/* The ONLINE and DRAINING rows (and, shared, the generation: one snapshot) into *rows. */
static int read_listed(miner_state *ms, int shared, mn_row **rows, size_t *n, int64_t *gen) {
    const aitbc_host_api *api = ms->api;
    *rows = NULL;
    *n = 0;
    *gen = 0;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    int rc = shared ? aitbc_gen_read(api, t, MN_GEN_TABLE, MN_GEN_REGISTRY, gen) : 0;
    aitbc_stmt *s = rc ? NULL
                       : api->stmt(t, "SELECT " MN_ROW_COLS " FROM miner_miners "
                                      "WHERE status IN ('ONLINE', 'DRAINING')");
    if (rc == 0 && !s) rc = AITBC_EIO;
    size_t cap = 0;
    int st = AITBC_DONE;
    while (rc == 0 && (st = api->step(s)) == AITBC_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            mn_row *v = realloc(*rows, ncap * sizeof *v);
            if (!v) {
                rc = AITBC_ENOMEM;
                break;
            }
            *rows = v;
            cap = ncap;
        }
        mn_row_read(ms, s, &(*rows)[(*n)++]);
    }
    if (rc == 0 && st < 0) rc = st;
    if (s) api->stmt_done(s);
    api->txn_commit(t);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++)
            mn_row_free(&(*rows)[i]);
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

int mn_live_load(miner_state *ms) {
    int shared = aitbc_store_shared(ms->api);
    mn_row *rows;
    size_t n;
    int64_t gen;
    int rc = read_listed(ms, shared, &rows, &n, &gen);
    if (rc != 0) return rc;
    pthread_mutex_lock(&ms->live_mu);
    /* A reload that read an older snapshot than the one adopted meanwhile is dropped. */
    if (!shared || gen >= ms->live_gen) {
        rc = mn_live_adopt(ms, rows, n);
        if (rc == 0) ms->live_gen = gen;
    } else {
        for (size_t i = 0; i < n; i++)
            mn_row_free(&rows[i]);
    }
    pthread_mutex_unlock(&ms->live_mu);
    free(rows);
    return rc;
}

int mn_live_sync(miner_state *ms, aitbc_txn *t) {
    if (!aitbc_store_shared(ms->api)) return 0;
    int64_t gen = 0;
    int rc = aitbc_gen_read(ms->api, t, MN_GEN_TABLE, MN_GEN_REGISTRY, &gen);
    if (rc != 0) return rc;
    pthread_mutex_lock(&ms->live_mu);
    int moved = gen != ms->live_gen;
    pthread_mutex_unlock(&ms->live_mu);
    return moved ? mn_live_load(ms) : 0;
}

void mn_live_free(miner_state *ms) {
    for (size_t i = 0; i < ms->n_live; i++)
        mn_row_free(&ms->live[i].row);
    free(ms->live);
    ms->live = NULL;
    ms->n_live = ms->cap_live = 0;
}

int mn_live_put(miner_state *ms, const mn_row *r) {
    pthread_mutex_lock(&ms->live_mu);
    int rc = put_locked(ms, r);
    pthread_mutex_unlock(&ms->live_mu);
    return rc;
}

void mn_live_drop(miner_state *ms, const char *address, int64_t silent_before) {
    pthread_mutex_lock(&ms->live_mu);
    mn_live *e = find_locked(ms, address);
    if (e && e->row.last_heartbeat_ms < silent_before) remove_locked(ms, e);
    pthread_mutex_unlock(&ms->live_mu);
}

void mn_live_tidy(miner_state *ms, int64_t silent_before) {
    int shared = aitbc_store_shared(ms->api), silent = 0;
    pthread_mutex_lock(&ms->live_mu);
    for (size_t i = ms->n_live; i-- > 0;) {
        if (ms->live[i].row.last_heartbeat_ms >= silent_before) continue;
        silent = 1;
        if (!shared) remove_locked(ms, &ms->live[i]);
    }
    pthread_mutex_unlock(&ms->live_mu);
    /* Shared: a miner heartbeating to another host only looks silent here; the table (which
     * this tick's sweep has just brought up to date) says who is. */
    if (shared && (silent ? mn_live_load(ms) : mn_live_sync(ms, NULL)) != 0)
        ms->api->log(ms->ctx, AITBC_LOG_WARN, "reloading the online miners failed (next tick)");
}

int mn_live_row(miner_state *ms, const char *address, mn_row *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&ms->live_mu);
    mn_live *e = find_locked(ms, address);
    if (e) copy_row(out, &e->row, cJSON_Duplicate(e->row.capabilities, 1));
    pthread_mutex_unlock(&ms->live_mu);
    if (e && !out->capabilities) return AITBC_ENOMEM;
    return e != NULL;
}

void mn_live_load_set(miner_state *ms, const char *address, int64_t running, int64_t delta) {
    pthread_mutex_lock(&ms->live_mu);
    mn_live *e = find_locked(ms, address);
    if (e) {
        e->running = running >= 0 ? running : e->running + delta;
        if (e->running < 0) e->running = 0;
    }
    pthread_mutex_unlock(&ms->live_mu);
}

void mn_live_park(miner_state *ms, const char *address, int64_t now_ms) {
    pthread_mutex_lock(&ms->live_mu);
    mn_live *e = find_locked(ms, address);
    if (e && e->parked++ == 0) e->parked_since_ms = now_ms;
    pthread_mutex_unlock(&ms->live_mu);
}

void mn_live_unpark(miner_state *ms, const char *address) {
    pthread_mutex_lock(&ms->live_mu);
    mn_live *e = find_locked(ms, address);
    if (e && e->parked > 0) e->parked--;
    pthread_mutex_unlock(&ms->live_mu);
}

const char *mn_live_reason(miner_state *ms, const char *job_type, const cJSON *constraints,
                           int64_t max_price) {
    int online = 0, best = JC_MATCH_NO;
    /* Shared: miners that registered or changed on another host count too (a failed read keeps
     * the registry as it is: the reason is advice, the timer retries the reload). */
    mn_live_sync(ms, NULL);
    pthread_mutex_lock(&ms->live_mu);
    for (size_t i = 0; i < ms->n_live && best != JC_MATCH_OK; i++) {
        if (!mn_live_online(&ms->live[i])) continue;
        online++;
        int v = mn_live_match(&ms->live[i], job_type, constraints, max_price);
        if (v == JC_MATCH_OK || (v == JC_MATCH_PRICE && best == JC_MATCH_NO)) best = v;
    }
    pthread_mutex_unlock(&ms->live_mu);
    if (!online) return "no_miner_online";
    return best == JC_MATCH_OK      ? "queued"
           : best == JC_MATCH_PRICE ? "price_too_low"
                                    : "no_matching_miner";
}
