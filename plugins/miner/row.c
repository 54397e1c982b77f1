/* A miner row's pure helpers: freeing it, the profile dispatch and matching see, and whether a
 * registry entry fits a job. No host calls, so the wake bookkeeping's unit test links them. */
#include "miner.h"
#include <stdlib.h>
#include <string.h>

void mn_row_free(mn_row *r) {
    cJSON_Delete(r->capabilities);
    free(r->metrics);
    memset(r, 0, sizeof *r);
}

void mn_profile(const mn_row *r, aitbc_jobs_miner *m) {
    memset(m, 0, sizeof *m);
    m->address = r->address;
    m->draining = strcmp(r->status, "ONLINE") != 0;
    m->capabilities = r->capabilities;
    m->unit_price = r->unit_price;
    m->unit_type = r->unit_type;
    m->concurrency = r->concurrency;
}

int mn_live_online(const mn_live *e) {
    return strcmp(e->row.status, "ONLINE") == 0;
}

int mn_live_match(const mn_live *e, const char *type, const cJSON *constraints, int64_t max_price) {
    if (!mn_live_online(e)) return JC_MATCH_NO;
    aitbc_jobs_miner m;
    mn_profile(&e->row, &m);
    return jc_match(type, constraints, max_price, &m);
}
