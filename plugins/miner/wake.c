/* Waking parked long-polls for queued jobs. Each poll parks on its miner's own wake key; a job
 * that becomes QUEUED wakes one parked poll that can take it: among ONLINE miners that fit the
 * job (jc_match) and have a free slot, the least loaded relative to its slots, ties to the one
 * parked longest (mn_pick). The wake is an offer that stays open until the job leaves QUEUED
 * (its job_updates event) or the woken poll's retry takes it. A retry that did not take it lost
 * a race, or could not take it after all: the offer moves to the next fitting parked miner, each
 * miner at most once per job, so a lost wake never strands a job while another fitting miner
 * sits parked. Trade jobs (constraints.trade_id) run only on their seller, whom the event does not
 * name: they wake every fitting parked miner, and the seller's dispatch takes them. */
#include "miner.h"
#include "pick.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MN_OFFER_TRIES 8      /* miners one job is offered to before it waits for a poll */
#define MN_OFFER_MAX 4096     /* open offers kept; beyond, a job waits for its next poll */
#define MN_OFFER_TTL_MS 60000 /* a wake nobody settled (its poll vanished) is forgotten */

struct mn_offer {
    char job_id[AITBC_ID_MAX];
    char job_type[JC_TYPE_MAX];
    cJSON *constraints;
    int64_t max_price;
    int64_t since_ms;
    int tries; /* tried[tries - 1] is the miner woken now */
    char tried[MN_OFFER_TRIES][48];
};

void mn_wake_key(const char *address, char out[MN_WAKE_KEY_MAX]) {
    snprintf(out, MN_WAKE_KEY_MAX, "miner:%s", address);
}

static int tried(const mn_offer *o, const char *address) {
    for (int i = 0; i < o->tries; i++)
        if (strcmp(o->tried[i], address) == 0) return 1;
    return 0;
}

/* live_mu held. The parked ONLINE miner to wake for (type, constraints, price), skipping those o
 * (may be NULL) tried; NULL when none fits with a free slot. parked_only = 0 looks at every ONLINE
 * miner (the job_assigned hint). */
static mn_live *choose_locked(miner_state *ms, const char *type, const cJSON *constraints,
                              int64_t max_price, const mn_offer *o, int parked_only) {
    if (ms->n_live == 0) return NULL;
    mn_cand *c = malloc(ms->n_live * sizeof *c);
    size_t *at = malloc(ms->n_live * sizeof *at);
    size_t n = 0;
    for (size_t i = 0; c && at && i < ms->n_live; i++) {
        mn_live *e = &ms->live[i];
        if (strcmp(e->row.status, "ONLINE") != 0 || (parked_only && e->parked <= 0) ||
            (o && tried(o, e->row.address)))
            continue;
        aitbc_jobs_miner m;
        mn_profile(&e->row, &m);
        if (jc_match(type, constraints, max_price, &m) != JC_MATCH_OK) continue;
        c[n] = (mn_cand){e->running + e->promised, e->row.concurrency, e->parked_since_ms};
        at[n++] = i;
    }
    int k = c && at ? mn_pick(c, n) : -1;
    mn_live *best = k >= 0 ? &ms->live[at[k]] : NULL;
    free(c);
    free(at);
    return best;
}

/* live_mu held. */
static mn_offer *offer_find_locked(miner_state *ms, const char *job_id) {
    for (size_t i = 0; i < ms->n_offers; i++)
        if (strcmp(ms->offers[i].job_id, job_id) == 0) return &ms->offers[i];
    return NULL;
}

/* live_mu held. The promise to the miner woken for o is over. */
static void offer_unpromise_locked(miner_state *ms, mn_offer *o) {
    for (size_t i = 0; o->tries > 0 && i < ms->n_live; i++)
        if (strcmp(ms->live[i].row.address, o->tried[o->tries - 1]) == 0) {
            if (ms->live[i].promised > 0) ms->live[i].promised--;
            break;
        }
}

/* live_mu held. o leaves the table (the last offer moves into its place). */
static void offer_remove_locked(miner_state *ms, mn_offer *o) {
    cJSON_Delete(o->constraints);
    *o = ms->offers[--ms->n_offers];
    memset(&ms->offers[ms->n_offers], 0, sizeof ms->offers[0]);
}

static void offer_close_locked(miner_state *ms, mn_offer *o) {
    offer_unpromise_locked(ms, o);
    offer_remove_locked(ms, o);
}

/* live_mu held. Wake the next fitting parked miner o has not tried: 1 and its key in key, or 0
 * (nobody left: the caller closes o). */
static int offer_next_locked(miner_state *ms, mn_offer *o, char key[MN_WAKE_KEY_MAX]) {
    if (o->tries >= MN_OFFER_TRIES) return 0;
    mn_live *e = choose_locked(ms, o->job_type, o->constraints, o->max_price, o, 1);
    if (!e) return 0;
    e->promised++;
    snprintf(o->tried[o->tries++], sizeof o->tried[0], "%s", e->row.address);
    mn_wake_key(e->row.address, key);
    return 1;
}

/* live_mu held. A new offer for a job that just became QUEUED: 1 and the key to wake, or 0. */
static int offer_open_locked(miner_state *ms, const char *job_id, const char *type,
                             const cJSON *constraints, int64_t max_price, int64_t now,
                             char key[MN_WAKE_KEY_MAX]) {
    if (offer_find_locked(ms, job_id) || ms->n_offers >= MN_OFFER_MAX) return 0;
    if (ms->n_offers == ms->cap_offers) {
        size_t cap = ms->cap_offers ? ms->cap_offers * 2 : 16;
        mn_offer *v = realloc(ms->offers, cap * sizeof *v);
        if (!v) return 0;
        ms->offers = v;
        ms->cap_offers = cap;
    }
    mn_offer *o = &ms->offers[ms->n_offers];
    memset(o, 0, sizeof *o);
    snprintf(o->job_id, sizeof o->job_id, "%s", job_id);
    snprintf(o->job_type, sizeof o->job_type, "%s", type);
    o->constraints = constraints ? cJSON_Duplicate(constraints, 1) : NULL;
    o->max_price = max_price;
    o->since_ms = now;
    if ((constraints && !o->constraints) || !offer_next_locked(ms, o, key)) {
        cJSON_Delete(o->constraints);
        memset(o, 0, sizeof *o);
        return 0;
    }
    ms->n_offers++;
    return 1;
}

/* Trade jobs: every fitting parked ONLINE miner (see the top). */
static void wake_all_fitting(miner_state *ms, const char *type, const cJSON *constraints) {
    size_t n = 0;
    char(*keys)[MN_WAKE_KEY_MAX] = NULL;
    pthread_mutex_lock(&ms->live_mu);
    keys = ms->n_live ? malloc(ms->n_live * sizeof *keys) : NULL;
    for (size_t i = 0; keys && i < ms->n_live; i++) {
        mn_live *e = &ms->live[i];
        aitbc_jobs_miner m;
        mn_profile(&e->row, &m);
        if (strcmp(e->row.status, "ONLINE") == 0 && e->parked > 0 &&
            jc_match(type, constraints, INT64_MAX, &m) == JC_MATCH_OK)
            mn_wake_key(e->row.address, keys[n++]);
    }
    pthread_mutex_unlock(&ms->live_mu);
    for (size_t i = 0; i < n; i++)
        ms->api->wake(keys[i]);
    free(keys);
}

/* job_assigned: tell the least-loaded fitting ONLINE miner (parked or not) to poll, for miners
 * that listen on the WebSocket instead of long-polling. */
static void hint_assigned(miner_state *ms, const char *job_id, const char *type,
                          const cJSON *constraints, int64_t max_price) {
    char best[48] = "";
    pthread_mutex_lock(&ms->live_mu);
    mn_live *e = choose_locked(ms, type, constraints, max_price, NULL, 0);
    if (e) snprintf(best, sizeof best, "%s", e->row.address);
    pthread_mutex_unlock(&ms->live_mu);
    if (!best[0]) return;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "job_id", job_id);
    cJSON_AddStringToObject(ev, "miner", best);
    ms->api->bus_publish(ms->ctx, AITBC_TOPIC_JOB_ASSIGNED, ev);
    cJSON_Delete(ev);
}

void mn_on_job_update(const char *topic, uint64_t seq, const cJSON *data, void *user) {
    (void)topic;
    (void)seq;
    miner_state *ms = user;
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "state"));
    const char *job_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "job_id"));
    if (!state || !job_id || strlen(job_id) >= AITBC_ID_MAX) return;
    if (strcmp(state, "QUEUED") != 0) { /* taken or ended: its offer is settled */
        pthread_mutex_lock(&ms->live_mu);
        mn_offer *o = offer_find_locked(ms, job_id);
        if (o) offer_close_locked(ms, o);
        pthread_mutex_unlock(&ms->live_mu);
        return;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(data, "constraints");
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "job_type"));
    if (!type || strlen(type) >= JC_TYPE_MAX) return;
    if (cJSON_GetObjectItemCaseSensitive(c, "trade_id")) {
        wake_all_fitting(ms, type, c);
        return;
    }
    const char *mp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "max_price"));
    int64_t max_price = 0;
    if (!mp || aitbc_money_parse(mp, JC_AIT_DECIMALS, &max_price) != 0) return;
    char key[MN_WAKE_KEY_MAX];
    pthread_mutex_lock(&ms->live_mu);
    int wake = offer_open_locked(ms, job_id, type, c, max_price, ms->api->now_ms(), key);
    pthread_mutex_unlock(&ms->live_mu);
    if (wake) ms->api->wake(key);
    hint_assigned(ms, job_id, type, c, max_price);
}

static int took(const cJSON *answer, const char *job_id) {
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(answer, "jobs")) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "job_id"));
        if (id && strcmp(id, job_id) == 0) return 1;
    }
    return 0;
}

void mn_wake_settle(miner_state *ms, const char *address, const cJSON *answer) {
    char(*keys)[MN_WAKE_KEY_MAX] = NULL;
    size_t n = 0;
    pthread_mutex_lock(&ms->live_mu);
    for (size_t i = ms->n_offers; i-- > 0;) {
        mn_offer *o = &ms->offers[i];
        if (o->tries == 0 || strcmp(o->tried[o->tries - 1], address) != 0) continue;
        if (took(answer, o->job_id)) {
            offer_close_locked(ms, o);
            continue;
        }
        /* Lost: the promise to this miner ends, the job goes to the next one. */
        offer_unpromise_locked(ms, o);
        if (!keys) keys = malloc(ms->n_offers * sizeof *keys);
        if (keys && offer_next_locked(ms, o, keys[n]))
            n++;
        else
            offer_remove_locked(ms, o);
    }
    pthread_mutex_unlock(&ms->live_mu);
    for (size_t i = 0; i < n; i++)
        ms->api->wake(keys[i]);
    free(keys);
}

void mn_wake_expire(miner_state *ms, int64_t now) {
    pthread_mutex_lock(&ms->live_mu);
    for (size_t i = ms->n_offers; i-- > 0;)
        if (now - ms->offers[i].since_ms > MN_OFFER_TTL_MS) offer_close_locked(ms, &ms->offers[i]);
    pthread_mutex_unlock(&ms->live_mu);
}

void mn_wake_free(miner_state *ms) {
    for (size_t i = 0; i < ms->n_offers; i++)
        cJSON_Delete(ms->offers[i].constraints);
    free(ms->offers);
    ms->offers = NULL;
    ms->n_offers = ms->cap_offers = 0;
}
