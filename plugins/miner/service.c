/* The miners@1 service: why a queued job waits (matching against the online registry), the admin
 * miners list with keyset cursors, and registry counts from the status index. */
#include "miner.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *l_pending_reason(void *self, const char *job_type, const cJSON *constraints,
                                    int64_t max_price) {
    return mn_live_reason(self, job_type, constraints, max_price);
}

/* One listed miner, for aitbc_page_collect (seq is column 0 of MN_ROW_COLS). */
static cJSON *list_row(aitbc_stmt *s, void *user) {
    miner_state *ms = user;
    mn_row r;
    mn_row_read(ms, s, &r);
    cJSON *item = mn_row_json(ms, &r, 0);
    mn_row_free(&r);
    return item;
}

static int l_list(void *self, const char *status, int64_t limit, const char *cursor, cJSON **out,
                  aitbc_jobs_error *err) {
    miner_state *ms = self;
    const aitbc_host_api *api = ms->api;
    *out = NULL;
    if (status && strcmp(status, "ONLINE") != 0 && strcmp(status, "DRAINING") != 0 &&
        strcmp(status, "OFFLINE") != 0)
        return jc_fail(err, 400, "invalid_argument", "status", "ONLINE, DRAINING or OFFLINE");
    char filters[64];
    snprintf(filters, sizeof filters, "status=%s", status ? status : "");
    char tag[AITBC_CURSOR_TAG_LEN + 1];
    const char *tag_filters[] = {filters};
    aitbc_cursor_tag("miners", tag_filters, 1, tag);
    int64_t before = INT64_MAX;
    if (cursor && aitbc_cursor_decode(cursor, tag, &before, NULL) != 0)
        return jc_fail(err, 400, "invalid_argument", "cursor",
                       "not a cursor of this list with these filters");
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return jc_fail(err, 503, "unavailable", NULL, "database busy");
    aitbc_stmt *s = api->stmt(t, status ? "SELECT " MN_ROW_COLS " FROM miner_miners WHERE "
                                          "seq < ?1 AND status = ?3 ORDER BY seq DESC LIMIT ?2"
                                        : "SELECT " MN_ROW_COLS " FROM miner_miners WHERE "
                                          "seq < ?1 ORDER BY seq DESC LIMIT ?2");
    if (!s) {
        api->txn_commit(t);
        return jc_fail(err, 500, "internal", NULL, "internal error");
    }
    api->bind_int64(s, 1, before);
    api->bind_int64(s, 2, limit + 1);
    if (status) api->bind_text(s, 3, status);
    /* A failed step is an error answer, never a short page with 200. */
    *out = aitbc_page_collect(api, s, (int)limit, 0, tag, list_row, ms);
    api->txn_commit(t);
    return *out ? 0 : jc_fail(err, 503, "unavailable", NULL, "database busy");
}

/* online counts DRAINING miners too: they are still connected. */
static int l_counts(void *self, int64_t *total, int64_t *online, int64_t *offline) {
    int64_t v[MN_NSTATUS];
    int rc = mn_count_by_status(self, v);
    *online = v[0] + v[1];
    *offline = v[2];
    *total = *online + *offline;
    return rc;
}

static const char *l_status(void *self, const char *address, cJSON **capabilities, int *err) {
    miner_state *ms = self;
    mn_row r;
    if (capabilities) *capabilities = NULL;
    int rc = address ? mn_load(ms, NULL, address, &r) : 0;
    if (err) *err = rc < 0 ? rc : 0;
    if (rc != 1) return NULL;
    const char *st = strcmp(r.status, "ONLINE") == 0     ? "ONLINE"
                     : strcmp(r.status, "DRAINING") == 0 ? "DRAINING"
                                                         : "OFFLINE";
    if (capabilities) *capabilities = cJSON_Duplicate(r.capabilities, 1);
    mn_row_free(&r);
    return st;
}

void mn_service_init(miner_state *ms) {
    aitbc_miners_v1 *m = &ms->service;
    memset(m, 0, sizeof *m);
    m->size = (uint32_t)sizeof *m;
    m->self = ms;
    m->pending_reason = l_pending_reason;
    m->list = l_list;
    m->counts = l_counts;
    m->status = l_status;
}
