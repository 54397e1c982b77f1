/* Waking parked long-polls for queued jobs. Each poll parks on its miner's own wake key; a job
 * that becomes QUEUED wakes one parked poll that can take it (offers.c: among ONLINE miners that
 * fit the job and have a free slot, the least loaded relative to its slots, ties to the one
 * parked longest). Trade jobs (constraints.trade_id) run only on their seller, whom the event
 * does not name: they wake every fitting parked miner, and the seller's dispatch takes them. */
#include "miner.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Trade jobs: every fitting parked ONLINE miner (see the top). */
static void wake_all_fitting(miner_state *ms, const char *type, const cJSON *constraints) {
    size_t n = 0;
    char(*keys)[MN_WAKE_KEY_MAX] = NULL;
    pthread_mutex_lock(&ms->live_mu);
    keys = ms->n_live ? malloc(ms->n_live * sizeof *keys) : NULL;
    for (size_t i = 0; keys && i < ms->n_live; i++) {
        mn_live *e = &ms->live[i];
        if (e->parked > 0 && mn_live_match(e, type, constraints, INT64_MAX) == JC_MATCH_OK)
            mn_wake_key(e->row.address, keys[n++]);
    }
    pthread_mutex_unlock(&ms->live_mu);
    for (size_t i = 0; i < n; i++)
        ms->api->wake(keys[i]);
    free(keys);
}

/* job_assigned: tell the least-loaded fitting ONLINE miner (parked or not) to poll, for miners
 * that listen on the WebSocket instead of long-polling. */
static void hint_assigned(miner_state *ms, const char *job_id, const char *miner) {
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "job_id", job_id);
    cJSON_AddStringToObject(ev, "miner", miner);
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
        mn_offer *o = mn_offer_find(ms, job_id);
        if (o) mn_offer_close(ms, o);
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
    char key[MN_WAKE_KEY_MAX], hint[sizeof((mn_row *)0)->address] = "";
    mn_live *h = NULL;
    int64_t now = ms->api->now_ms();
    pthread_mutex_lock(&ms->live_mu);
    int wake = mn_offer_open(ms, job_id, type, c, max_price, now, key, &h);
    if (h) snprintf(hint, sizeof hint, "%s", h->row.address);
    pthread_mutex_unlock(&ms->live_mu);
    if (wake) ms->api->wake(key);
    if (hint[0]) hint_assigned(ms, job_id, hint);
}
void mn_wake_settle(miner_state *ms, const char *address, const cJSON *answer) {
    /* Every poll retry passes here; almost always no wake went to this miner, or a few did (up
     * to its slots): only more than fit on the stack take an allocation. */
    char stack[8][MN_WAKE_KEY_MAX], (*keys)[MN_WAKE_KEY_MAX] = stack;
    size_t n = 0;
    pthread_mutex_lock(&ms->live_mu);
    size_t due = mn_offer_aimed(ms, address);
    if (due > sizeof stack / sizeof stack[0]) keys = malloc(due * sizeof *keys);
    if (due && keys) n = mn_offer_settle(ms, address, answer, keys);
    pthread_mutex_unlock(&ms->live_mu);
    for (size_t i = 0; i < n; i++)
        ms->api->wake(keys[i]);
    if (keys != stack) free(keys);
}

void mn_wake_expire(miner_state *ms, int64_t now) {
    pthread_mutex_lock(&ms->live_mu);
    mn_offer_expire(ms, now);
    pthread_mutex_unlock(&ms->live_mu);
}
