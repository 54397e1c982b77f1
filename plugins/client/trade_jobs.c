/* Jobs that run on a marketplace trade (constraints.trade_id): accepted only from the trade's
 * buyer while it runs, paid by the trade's hours (no escrow of their own), run only by its
 * seller and at most the offer's capacity at once. The trade itself lives in the marketplace
 * plugin, asked through marketplace@1. */
#include "client.h"
#include <stdio.h>
#include <string.h>

int cl_trade_bind(client_state *cs, const char *trade_id, const char *client, cl_job *j,
                  aitbc_jobs_error *err) {
    const aitbc_marketplace_v1 *mk = cl_market(cs);
    if (!mk)
        return jc_fail(err, 404, "not_found", "constraints.trade_id",
                       "No such trade: the marketplace is not enabled on this node.");
    char seller[48] = "";
    int st = mk->trade_use(mk->self, trade_id, client, seller, NULL);
    if (st == AITBC_EBUSY) return jc_fail(err, 503, "unavailable", NULL, "database busy");
    if (st < 0) return jc_fail(err, 500, "internal", NULL, "internal error");
    if (st == AITBC_TRADE_UNKNOWN)
        return jc_fail(err, 404, "not_found", "constraints.trade_id", "No such trade of yours.");
    if (st == AITBC_TRADE_ENDED)
        return jc_fail(err, 409, "conflict", "constraints.trade_id",
                       "The trade has ended: buy new hours, or submit without trade_id.");
    snprintf(j->trade_id, sizeof j->trade_id, "%s", trade_id);
    snprintf(j->seller, sizeof j->seller, "%s", seller);
    return 0;
}

int64_t cl_trade_running(client_state *cs, aitbc_txn *txn, const char *trade_id) {
    const aitbc_host_api *api = cs->api;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(api, txn, AITBC_TXN_READ, &use);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(t, "SELECT COUNT(*) FROM client_jobs WHERE trade_id = ?1 AND "
                                 "state = 'RUNNING'");
    int64_t n = AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, trade_id);
        n = api->step(s) == AITBC_ROW ? api->col_int64(s, 0) : AITBC_EIO;
        api->stmt_done(s);
    }
    aitbc_txn_leave(api, &use, 0, 0); /* a read: ending it never fails the answer */
    return n;
}

const char *cl_trade_reason(client_state *cs, const cl_job *j) {
    const aitbc_marketplace_v1 *mk = cl_market(cs);
    if (!mk) return "trade_ended";
    int64_t capacity = 0;
    int st = mk->trade_use(mk->self, j->trade_id, j->client, NULL, &capacity);
    if (st == AITBC_TRADE_ENDED || st == AITBC_TRADE_UNKNOWN) return "trade_ended";
    if (st == AITBC_TRADE_PAUSED) return "trade_paused";
    if (st == AITBC_TRADE_ACTIVE && cl_trade_running(cs, NULL, j->trade_id) >= capacity)
        return "trade_capacity";
    return "queued";
}
