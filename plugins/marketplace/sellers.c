/* The seller side of the miner registry, read through miners@1 (status(address): one indexed
 * read) when the miner plugin is loaded: an offer needs a registered miner whose capabilities
 * cover it, and the timer pauses the trades of sellers that cannot take work (DRAINING or
 * OFFLINE), resumes them with the paused time refunded, and ends those of deregistered sellers. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "marketplace.h"

const char *mk_seller_status(mk_state *ms, const char *address, cJSON **caps, int *err) {
    *err = 0;
    if (caps) *caps = NULL;
    if (!ms->miners) return "ONLINE";
    return ms->miners->status(ms->miners->self, address, caps, err);
}

typedef struct seller_row {
    char address[48];
    int any_running, any_paused;
} seller_row;

/* Sellers with ACTIVE trades (usually few): whether some are running, some paused. */
static size_t active_sellers(mk_state *ms, seller_row **out) {
    const aitbc_host_api *api = ms->api;
    seller_row *v = NULL;
    size_t n = 0, cap = 0;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, "SELECT seller, MAX(CASE WHEN paused_ms IS NULL THEN 1 ELSE 0 "
                                     "END), MAX(CASE WHEN paused_ms IS NULL THEN 0 ELSE 1 END) "
                                     "FROM marketplace_trades "
                                     "WHERE status = 'ACTIVE' GROUP BY seller LIMIT 10000")
                      : NULL;
    while (s && api->step(s) == AITBC_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *p = realloc(v, ncap * sizeof *v);
            if (!p) break;
            v = p;
            cap = ncap;
        }
        snprintf(v[n].address, sizeof v[n].address, "%s", api->col_text(s, 0));
        v[n].any_running = (int)api->col_int64(s, 1);
        v[n].any_paused = (int)api->col_int64(s, 2);
        n++;
    }
    if (s) api->stmt_done(s);
    if (t) api->txn_commit(t);
    *out = v;
    return n;
}

typedef int (*seller_step)(mk_state *, aitbc_txn *, const char *, int64_t);

static int end_all(mk_state *ms, aitbc_txn *t, const char *seller, int64_t now_ms) {
    return mk_trades_terminate(ms, t, NULL, NULL, seller, now_ms);
}

/* What a seller's registry status calls for: pause the running trades of one that cannot take
 * work, resume the paused ones of one back online, end every trade of one deregistered (st NULL).
 * NULL when nothing; *what names it for the log. */
static seller_step decide(const char *st, const seller_row *r, const char **what) {
    if (!st) {
        *what = "deregistered: its trades ended, refunded pro rata";
        return end_all;
    }
    if (strcmp(st, "ONLINE") != 0 && r->any_running) {
        *what = "cannot take work: its trades are paused";
        return mk_trades_pause;
    }
    if (strcmp(st, "ONLINE") == 0 && r->any_paused) {
        *what = "back online: its trades resumed, the paused time refunded pro rata";
        return mk_trades_resume;
    }
    return NULL;
}

/* The step the status read outside called for, if the status read again inside the write
 * transaction (under the write lock every host shares) still calls for it: the status may have
 * changed meanwhile, on this host or another whose timer runs the same check. */
static void apply(mk_state *ms, seller_step step, const seller_row *r, int64_t now_ms) {
    const aitbc_host_api *api = ms->api;
    aitbc_txn *w = api->txn_begin(AITBC_TXN_WRITE);
    int err = 0;
    const char *what = NULL;
    const char *st = w ? mk_seller_status(ms, r->address, NULL, &err) : NULL;
    if (w && (err != 0 || decide(st, r, &what) != step)) {
        api->txn_commit(w); /* nothing written: the next tick looks again */
        return;
    }
    int rc = w ? step(ms, w, r->address, now_ms) : AITBC_EBUSY;
    if (rc >= 0)
        rc = api->txn_commit(w);
    else if (w)
        api->txn_rollback(w);
    if (rc < 0)
        api->log(ms->ctx, AITBC_LOG_WARN, "seller %s: %s failed (%d); retried next tick",
                 r->address, what ? what : "settling its trades", rc);
    else
        api->log(ms->ctx, AITBC_LOG_INFO, "seller %s: %s", r->address, what);
}

void mk_sellers_check(mk_state *ms, int64_t now_ms) {
    if (!ms->miners) return;
    seller_row *sellers = NULL;
    size_t n = active_sellers(ms, &sellers);
    for (size_t i = 0; i < n; i++) {
        int err = 0;
        const char *what;
        const char *st = mk_seller_status(ms, sellers[i].address, NULL, &err);
        seller_step step = err == 0 ? decide(st, &sellers[i], &what) : NULL;
        if (step) apply(ms, step, &sellers[i], now_ms);
    }
    free(sellers);
}
