/* The online-miner registry rebuilt from the table's rows. The rows say who is ONLINE or
 * DRAINING and with what profile; what only this host knows (the RUNNING count its polls last
 * saw, the wakes it promised, the long-polls parked on it) carries over for the miners it held.
 * Pure bookkeeping under live_mu, no host calls: unit-tested (tests/test_offers.c). */
#include "miner.h"
#include <stdlib.h>
#include <string.h>

static int listed(const mn_row *r) {
    return strcmp(r->status, "ONLINE") == 0 || strcmp(r->status, "DRAINING") == 0;
}

static const mn_live *held(const miner_state *ms, const char *address) {
    for (size_t i = 0; i < ms->n_live; i++)
        if (strcmp(ms->live[i].row.address, address) == 0) return &ms->live[i];
    return NULL;
}

int mn_live_adopt(miner_state *ms, mn_row *rows, size_t n) {
    mn_live *v = n ? calloc(n, sizeof *v) : NULL;
    if (n && !v) {
        for (size_t i = 0; i < n; i++)
            mn_row_free(&rows[i]);
        return AITBC_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!listed(&rows[i])) {
            mn_row_free(&rows[i]);
            continue;
        }
        const mn_live *old = held(ms, rows[i].address);
        if (old) {
            v[k].running = old->running;
            v[k].promised = old->promised;
            v[k].parked = old->parked;
            v[k].parked_since_ms = old->parked_since_ms;
        }
        free(rows[i].metrics); /* the registry never holds them */
        rows[i].metrics = NULL;
        v[k++].row = rows[i];
        memset(&rows[i], 0, sizeof rows[i]);
    }
    for (size_t i = 0; i < ms->n_live; i++)
        mn_row_free(&ms->live[i].row);
    free(ms->live);
    if (!k) {
        free(v);
        v = NULL;
    }
    ms->live = v;
    ms->n_live = k;
    ms->cap_live = k ? n : 0;
    return 0;
}
