/* The marketplace plugin's state and the functions its files share (not part of the SDK):
 * offers (offers.c), trades and their escrow (trades.c), the settlement timer (timer.c), the
 * seller registry view over miners@1 (sellers.c) and the lifecycle (marketplace.c). */
#ifndef AITBC_MARKETPLACE_MARKETPLACE_H
#define AITBC_MARKETPLACE_MARKETPLACE_H

#include <aitbc/aitbc.h>
#include <aitbc/jobs.h>
#include <aitbc/ledger.h>
#include <aitbc/marketplace.h>
#include "mkmath.h"

typedef struct mk_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    int pg;                        /* PostgreSQL storage: the offer list's filter (README) */
    const aitbc_ledger_v1 *ledger; /* required, looked up in start */
    const aitbc_miners_v1 *miners; /* optional (miner plugin), looked up in start */
    int64_t hour_ms;               /* length of one sold hour (tests shrink it) */
    int64_t tick_ms;               /* settlement timer period */
    aitbc_marketplace_v1 service;
    aitbc_timer *timer;
} mk_state;

/** Columns of marketplace_offers every reader selects, in mk_offer_json's order. */
#define MK_OFFER_COLS                                                                              \
    "seq, offer_id, provider, gpu_model, gpu_memory_gb, gpu_count, models, region, price, "        \
    "hours_available, hours_remaining, status, created_ms, expires_ms"
/** Columns of marketplace_trades, in mk_trade_json's order. */
#define MK_TRADE_COLS                                                                              \
    "seq, trade_id, offer_id, buyer, seller, hours, price, total, status, created_ms, ends_ms, "   \
    "released, refunded, hours_released, paused_ms"

/* store.c */
extern const aitbc_migration mk_migrations[];
extern const size_t mk_migrations_n;

/* offers.c */
/** @brief Offer JSON from a row selected with MK_OFFER_COLS. Caller frees. */
cJSON *mk_offer_json(const aitbc_host_api *api, aitbc_stmt *s);
/** @brief Load one offer as JSON inside t (NULL if unknown). Caller frees. */
cJSON *mk_offer_load(mk_state *ms, aitbc_txn *t, const char *offer_id);
/** @brief Publish an Offer on the `offers` topic (after commit). */
void mk_offer_publish(mk_state *ms, const char *offer_id);
void mk_h_offer_create(aitbc_request *req, void *user);
void mk_h_offer_list(aitbc_request *req, void *user);
void mk_h_offer_get(aitbc_request *req, void *user);
void mk_h_offer_cancel(aitbc_request *req, void *user);

/* trades.c */
cJSON *mk_trade_json(const aitbc_host_api *api, aitbc_stmt *s);
void mk_h_trade_create(aitbc_request *req, void *user);
void mk_h_trade_list(aitbc_request *req, void *user);
void mk_h_trade_get(aitbc_request *req, void *user);
/** @brief Inside write transaction t: end ACTIVE trades early at now_ms — trade_id's one, or
 *  (trade_id NULL) every ACTIVE trade of offer_id, or (both NULL) every ACTIVE trade of seller.
 *  Pays the seller's pro-rata share, refunds the rest to the buyer. Returns trades ended or <0. */
int mk_trades_terminate(mk_state *ms, aitbc_txn *t, const char *trade_id, const char *offer_id,
                        const char *seller, int64_t now_ms);
/** @brief Inside t: release every completed hour of ACTIVE trades due by now_ms; trades whose
 *  last hour passed become COMPLETED. Returns trades touched or <0. */
int mk_trades_release_due(mk_state *ms, aitbc_txn *t, int64_t now_ms);
/** @brief The marketplace@1 trade_active call. */
int mk_trade_active(void *self, const char *trade_id, const char *buyer, char seller_out[48]);
/** @brief The marketplace@1 trade_use call. */
int mk_trade_use(void *self, const char *trade_id, const char *buyer, char seller_out[48],
                 int64_t *capacity);
/** @brief Inside t: pause the running ACTIVE trades of seller at now_ms (it cannot take work).
 *  Returns trades paused or <0. */
int mk_trades_pause(mk_state *ms, aitbc_txn *t, const char *seller, int64_t now_ms);
/** @brief Inside t: end the pauses of seller's ACTIVE trades at now_ms, refunding the paused
 *  time pro rata to their buyers. Returns trades resumed or <0. */
int mk_trades_resume(mk_state *ms, aitbc_txn *t, const char *seller, int64_t now_ms);

/* sellers.c */
/** @brief Registry status of a miner via miners@1: "ONLINE", "DRAINING", "OFFLINE", or NULL when
 *  it is not registered. Without miners@1, "ONLINE" (anyone with a miner key may sell).
 *  Static strings. caps (may be NULL) receives a copy of the registered capabilities (NULL
 *  without miners@1). err set to a negative code when the registry could not be read. */
const char *mk_seller_status(mk_state *ms, const char *address, cJSON **caps, int *err);
/** @brief Timer step: pause the trades of sellers that are DRAINING or OFFLINE, resume (and
 *  refund the paused time of) those back ONLINE, end those of deregistered sellers. */
void mk_sellers_check(mk_state *ms, int64_t now_ms);

/* timer.c */
void mk_tick(void *arg);

/* routes.c */
/** @brief Principal's address or answers 403 and returns NULL. */
const char *mk_caller(mk_state *ms, aitbc_request *req);
/** Registers every marketplace route (routes.c; from start). 0 or the host's error. */
int mk_routes_register(mk_state *ms);

#endif
