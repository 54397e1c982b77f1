/* The marketplace@1 service (marketplace plugin): lets the job plugins honour
 * constraints.trade_id — capacity a client bought from a miner in the marketplace. */
#ifndef AITBC_MARKETPLACE_H
#define AITBC_MARKETPLACE_H

#include <stdint.h>

#define AITBC_MARKETPLACE_SERVICE "marketplace@1"
/** Bus topic the marketplace plugin owns: an offer was created or changed. */
#define AITBC_TOPIC_OFFERS "offers"

typedef struct aitbc_marketplace_v1 {
    uint32_t size; /**< sizeof(aitbc_marketplace_v1) of the provider */
    void *self;    /**< first argument of every call */
    /** @brief Is trade_id an ACTIVE trade bought by `buyer`, with now in [created_at, ends_at)?
     *  @param seller_out receives the seller's (miner's) address when the answer is 1.
     *  @return 1 yes, 0 no (unknown id, other buyer, not ACTIVE, outside its window), or a
     *  negative AITBC_E* code. Reads only; joins a transaction open on the calling thread. */
    int (*trade_active)(void *self, const char *trade_id, const char *buyer, char seller_out[48]);
} aitbc_marketplace_v1;

#endif
