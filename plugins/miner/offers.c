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

/* live_mu held. One pass over the registry for a job (type, constraints, max_price): returns the
 * parked ONLINE miner with a free slot to wake, skipping those o (may be NULL) tried, NULL when
 * none fits. With hint, also the least-loaded fitting ONLINE miner, parked or not (the
 * job_assigned hint), counting the promise of the miner returned when promise is set. */
static mn_live *choose(miner_state *ms, const char *type, const cJSON *constraints,
                       int64_t max_price, const mn_offer *o, int promise, mn_live **hint) {
    if (hint) *hint = NULL;
    if (ms->n_live == 0) return NULL;
    /* all: every fitting miner; parked: those with a parked poll; at: their registry index;
     * all_of: a parked candidate's place in all. */
    mn_cand *all = malloc(ms->n_live * 2 * sizeof *all);
    size_t *at = malloc(ms->n_live * 2 * sizeof *at);
    if (!all || !at) {
        free(all);
        free(at);
        return NULL;
    }
    mn_cand *parked = all + ms->n_live;
    size_t *all_of = at + ms->n_live, na = 0, np = 0;
    for (size_t i = 0; i < ms->n_live; i++) {
        mn_live *e = &ms->live[i];
        if ((!hint && e->parked <= 0) || (o && tried(o, e->row.address)) ||
            mn_live_match(e, type, constraints, max_price) != JC_MATCH_OK)
            continue;
        all[na] = (mn_cand){e->running + e->promised, e->row.concurrency, e->parked_since_ms};
        if (e->parked > 0) {
            parked[np] = all[na];
            all_of[np++] = na;
        }
        at[na++] = i;
    }
    int k = mn_pick(parked, np);
    mn_live *wake = k >= 0 ? &ms->live[at[all_of[k]]] : NULL;
    if (hint) {
        if (wake && promise) all[all_of[k]].load++;
        int h = mn_pick(all, na);
        *hint = h >= 0 ? &ms->live[at[h]] : NULL;
    }
    free(all);
    free(at);
    return wake;
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
 * (nobody left: the caller closes o). hint as choose's. */
static int offer_next(miner_state *ms, mn_offer *o, char key[MN_WAKE_KEY_MAX], mn_live **hint) {
    if (o->tries >= MN_OFFER_TRIES) return 0;
    mn_live *e = choose(ms, o->job_type, o->constraints, o->max_price, o, 1, hint);
    if (!e) return 0;
    e->promised++;
    snprintf(o->tried[o->tries++], sizeof o->tried[0], "%s", e->row.address);
    mn_wake_key(e->row.address, key);
    return 1;
}

/* live_mu held. Without an offer the hint still needs its pass over the registry. */
static int no_offer(miner_state *ms, const char *type, const cJSON *constraints, int64_t max_price,
                    mn_live **hint) {
    if (hint) choose(ms, type, constraints, max_price, NULL, 0, hint);
    return 0;
}

/* live_mu held. A new offer for a job that just became QUEUED: 1 and the key to wake, or 0. */
int mn_offer_open(miner_state *ms, const char *job_id, const char *type, const cJSON *constraints,
                  int64_t max_price, int64_t now, char key[MN_WAKE_KEY_MAX], mn_live **hint) {
    if (mn_offer_find(ms, job_id) || ms->n_offers >= MN_OFFER_MAX)
        return no_offer(ms, type, constraints, max_price, hint);
    if (ms->n_offers == ms->cap_offers) {
        size_t cap = ms->cap_offers ? ms->cap_offers * 2 : 16;
        mn_offer *v = realloc(ms->offers, cap * sizeof *v);
        if (!v) return no_offer(ms, type, constraints, max_price, hint);
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
    if (constraints && !o->constraints) {
        memset(o, 0, sizeof *o);
        return no_offer(ms, type, constraints, max_price, hint);
    }
    if (!offer_next(ms, o, key, hint)) {
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
/* The offer's wake went to address (it is the miner o waits on now). */
static int aimed_at(const mn_offer *o, const char *address) {
    return o->tries > 0 && strcmp(o->tried[o->tries - 1], address) == 0;
}

size_t mn_offer_aimed(const miner_state *ms, const char *address) {
    size_t n = 0;
    for (size_t i = 0; i < ms->n_offers; i++)
        n += (size_t)aimed_at(&ms->offers[i], address);
    return n;
}

size_t mn_offer_settle(miner_state *ms, const char *address, const cJSON *answer,
                       char (*keys)[MN_WAKE_KEY_MAX]) {
    size_t n = 0;
    for (size_t i = ms->n_offers; i-- > 0;) {
        mn_offer *o = &ms->offers[i];
        if (!aimed_at(o, address)) continue;
        if (took(answer, o->job_id)) {
            mn_offer_close(ms, o);
            continue;
        }
        /* Lost: the promise to this miner ends, the job goes to the next one. */
        offer_unpromise(ms, o);
        if (offer_next(ms, o, keys[n], NULL))
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
