/* The marketplace@1 service (marketplace plugin): lets the job plugins honour
 * constraints.trade_id — capacity a client bought from a miner in the marketplace. */
#ifndef AITBC_MARKETPLACE_H
#define AITBC_MARKETPLACE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AITBC_MARKETPLACE_SERVICE "marketplace@1"
/** Bus topic the marketplace plugin owns: an offer was created or changed. */
#define AITBC_TOPIC_OFFERS "offers"

/** Both calls run on the caller's thread (an HTTP handler or the writer), are thread-safe and
 *  may block on a database read; they never write. Pointers are borrowed for the call. */
typedef struct aitbc_marketplace_v1 {
    uint32_t size; /**< sizeof(aitbc_marketplace_v1) of the provider */
    void *self;    /**< first argument of every call */
    /** @brief Is trade_id an ACTIVE trade bought by `buyer`, with now in [created_at, ends_at)?
     *  @param seller_out receives the seller's (miner's) address when the answer is 1.
     *  @return 1 yes, 0 no (unknown id, other buyer, not ACTIVE, outside its window), or a
     *  negative AITBC_E* code. Reads only; joins a transaction open on the calling thread. */
    int (*trade_active)(void *self, const char *trade_id, const char *buyer, char seller_out[48]);
    /** @brief Can a job of `buyer` run on trade_id now? One of AITBC_TRADE_* or a negative
     *  AITBC_E* code. For ACTIVE and PAUSED, seller_out gets the seller's address and *capacity
     *  (may be NULL) how many of the trade's jobs may run at once (the offer's gpu_count).
     *  Check size before calling: providers older than this member lack it. */
    int (*trade_use)(void *self, const char *trade_id, const char *buyer, char seller_out[48],
                     int64_t *capacity);
} aitbc_marketplace_v1;

/** trade_use answers. */
enum {
    AITBC_TRADE_UNKNOWN = 0, /**< no such trade, or not this buyer's */
    AITBC_TRADE_ACTIVE = 1,  /**< running, and the seller can take work */
    AITBC_TRADE_PAUSED = 2,  /**< running, but the seller is DRAINING or OFFLINE: hours paused */
    AITBC_TRADE_ENDED = 3,   /**< COMPLETED or CANCELED, or past its end */
};

#ifdef __cplusplus
}
#endif

#endif
