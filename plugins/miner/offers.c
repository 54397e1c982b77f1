/* The open wakes ("offers") of queued jobs, under live_mu, without host calls: which parked miner
 * a job wakes, and where a wake goes when the woken poll did not take its job. wake.c takes the
 * lock, calls these and wakes the keys they return. Unit-tested (tests/test_offers.c).
 *
 * An offer stays open until the job leaves QUEUED (its job_updates event) or the woken poll takes
 * it. A woken poll that did not take it lost a race, or could not take it after all: the offer
 * moves to the next fitting parked miner, each miner at most once per job, so a lost wake never
 * strands a job while another fitting miner sits parked. */
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
mn_live *mn_offer_choose(miner_state *ms, const char *type, const cJSON *constraints,
                         int64_t max_price, const mn_offer *o, int parked_only) {
    if (ms->n_live == 0) return NULL;
    mn_cand *c = malloc(ms->n_live * sizeof *c);
    size_t *at = malloc(ms->n_live * sizeof *at);
    size_t n = 0;
    for (size_t i = 0; c && at && i < ms->n_live; i++) {
        mn_live *e = &ms->live[i];
        if ((parked_only && e->parked <= 0) || (o && tried(o, e->row.address)) ||
            mn_live_match(e, type, constraints, max_price) != JC_MATCH_OK)
            continue;
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
mn_offer *mn_offer_find(miner_state *ms, const char *job_id) {
    for (size_t i = 0; i < ms->n_offers; i++)
        if (strcmp(ms->offers[i].job_id, job_id) == 0) return &ms->offers[i];
    return NULL;
}

/* live_mu held. The promise to the miner woken for o is over. */
static void offer_unpromise(miner_state *ms, mn_offer *o) {
    for (size_t i = 0; o->tries > 0 && i < ms->n_live; i++)
        if (strcmp(ms->live[i].row.address, o->tried[o->tries - 1]) == 0) {
            if (ms->live[i].promised > 0) ms->live[i].promised--;
            break;
        }
}

/* live_mu held. o leaves the table (the last offer moves into its place). */
static void offer_remove(miner_state *ms, mn_offer *o) {
    cJSON_Delete(o->constraints);
    *o = ms->offers[--ms->n_offers];
    memset(&ms->offers[ms->n_offers], 0, sizeof ms->offers[0]);
}

void mn_offer_close(miner_state *ms, mn_offer *o) {
    offer_unpromise(ms, o);
    offer_remove(ms, o);
}

/* live_mu held. Wake the next fitting parked miner o has not tried: 1 and its key in key, or 0
 * (nobody left: the caller closes o). */
static int offer_next(miner_state *ms, mn_offer *o, char key[MN_WAKE_KEY_MAX]) {
    if (o->tries >= MN_OFFER_TRIES) return 0;
    mn_live *e = mn_offer_choose(ms, o->job_type, o->constraints, o->max_price, o, 1);
    if (!e) return 0;
    e->promised++;
    snprintf(o->tried[o->tries++], sizeof o->tried[0], "%s", e->row.address);
    mn_wake_key(e->row.address, key);
    return 1;
}

/* live_mu held. A new offer for a job that just became QUEUED: 1 and the key to wake, or 0. */
int mn_offer_open(miner_state *ms, const char *job_id, const char *type, const cJSON *constraints,
                  int64_t max_price, int64_t now, char key[MN_WAKE_KEY_MAX]) {
    if (mn_offer_find(ms, job_id) || ms->n_offers >= MN_OFFER_MAX) return 0;
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
    if ((constraints && !o->constraints) || !offer_next(ms, o, key)) {
        cJSON_Delete(o->constraints);
        memset(o, 0, sizeof *o);
        return 0;
    }
    ms->n_offers++;
    return 1;
}
static int took(const cJSON *answer, const char *job_id) {
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(answer, "jobs")) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "job_id"));
        if (id && strcmp(id, job_id) == 0) return 1;
    }
    return 0;
}
size_t mn_offer_settle(miner_state *ms, const char *address, const cJSON *answer,
                       char (*keys)[MN_WAKE_KEY_MAX]) {
    size_t n = 0;
    for (size_t i = ms->n_offers; i-- > 0;) {
        mn_offer *o = &ms->offers[i];
        if (o->tries == 0 || strcmp(o->tried[o->tries - 1], address) != 0) continue;
        if (took(answer, o->job_id)) {
            mn_offer_close(ms, o);
            continue;
        }
        /* Lost: the promise to this miner ends, the job goes to the next one. */
        offer_unpromise(ms, o);
        if (offer_next(ms, o, keys[n]))
            n++;
        else
            offer_remove(ms, o);
    }
    return n;
}

void mn_offer_expire(miner_state *ms, int64_t now) {
    for (size_t i = ms->n_offers; i-- > 0;)
        if (now - ms->offers[i].since_ms > MN_OFFER_TTL_MS) mn_offer_close(ms, &ms->offers[i]);
}

void mn_offers_free(miner_state *ms) {
    for (size_t i = 0; i < ms->n_offers; i++)
        cJSON_Delete(ms->offers[i].constraints);
    free(ms->offers);
    ms->offers = NULL;
    ms->n_offers = ms->cap_offers = 0;
}
