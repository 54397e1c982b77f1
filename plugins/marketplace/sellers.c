/* The seller side of the miner registry, read through miners@1 when the miner plugin is loaded:
 * an offer needs a registered miner, and the timer ends the trades of sellers that went OFFLINE
 * (or were deregistered) with a pro-rata refund. miners@1 offers only a paged list, so one pass
 * reads the registry into a map {address: status}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "marketplace.h"

#define MK_REGISTRY_PAGES 200 /* 100,000 miners at 500 a page */

/* {address: status} of every registered miner, or NULL with *err. Caller frees. */
static cJSON *registry_map(mk_state *ms, int *err) {
    cJSON *map = cJSON_CreateObject();
    char cursor[AITBC_CURSOR_MAX] = "";
    for (int page = 0; page < MK_REGISTRY_PAGES; page++) {
        cJSON *out = NULL;
        aitbc_jobs_error e = {0};
        int rc = ms->miners->list(ms->miners->self, NULL, AITBC_LIMIT_MAX,
                                  cursor[0] ? cursor : NULL, &out, &e);
        if (rc != 0 || !out) {
            cJSON_Delete(out);
            cJSON_Delete(map);
            *err = rc ? rc : AITBC_EIO;
            return NULL;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(out, "items")) {
            const char *a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "address"));
            const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "status"));
            if (a && st && !cJSON_GetObjectItemCaseSensitive(map, a))
                cJSON_AddStringToObject(map, a, st);
        }
        const char *next =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out, "next_cursor"));
        int more = next && strlen(next) < sizeof cursor;
        if (more) snprintf(cursor, sizeof cursor, "%s", next);
        cJSON_Delete(out);
        if (!more) break;
    }
    return map;
}

static const char *status_static(const char *st) {
    if (!st) return NULL;
    if (strcmp(st, "ONLINE") == 0) return "ONLINE";
    if (strcmp(st, "DRAINING") == 0) return "DRAINING";
    return "OFFLINE";
}

const char *mk_seller_status(mk_state *ms, const char *address, int *err) {
    *err = 0;
    if (!ms->miners) return "ONLINE";
    cJSON *map = registry_map(ms, err);
    if (!map) return NULL;
    const char *st =
        status_static(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(map, address)));
    cJSON_Delete(map);
    return st;
}

void mk_sellers_check(mk_state *ms, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    if (!ms->miners) return;
    /* Sellers with running trades: usually few, and nothing to do without any. */
    char(*sellers)[48] = NULL;
    size_t n = 0, cap = 0;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, "SELECT DISTINCT seller FROM marketplace_trades "
                                     "WHERE status = 'ACTIVE' LIMIT 10000")
                      : NULL;
    while (s && api->step(s) == AITBC_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *p = realloc(sellers, ncap * sizeof *sellers);
            if (!p) break;
            sellers = p;
            cap = ncap;
        }
        snprintf(sellers[n++], 48, "%s", api->col_text(s, 0));
    }
    if (s) api->stmt_done(s);
    if (t) api->txn_commit(t);
    int err = 0;
    cJSON *map = n ? registry_map(ms, &err) : NULL;
    for (size_t i = 0; map && i < n; i++) {
        const char *st =
            status_static(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(map, sellers[i])));
        if (st && strcmp(st, "OFFLINE") != 0) continue;
        aitbc_txn *w = api->txn_begin(AITBC_TXN_WRITE);
        int rc = w ? mk_trades_terminate(ms, w, NULL, NULL, sellers[i], now_ms) : AITBC_EBUSY;
        if (rc >= 0)
            rc = api->txn_commit(w);
        else if (w)
            api->txn_rollback(w);
        if (rc < 0)
            api->log(ms->ctx, AITBC_LOG_WARN, "ending trades of %s failed (%d)", sellers[i], rc);
        else
            api->log(ms->ctx, AITBC_LOG_INFO,
                     "seller %s is %s: its trades ended, refunded pro rata", sellers[i],
                     st ? st : "deregistered");
    }
    cJSON_Delete(map);
    free(sellers);
}
