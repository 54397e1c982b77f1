/* Which parked poll a queued job wakes. Pure (no host, no database), so it is unit-tested. */
#ifndef AITBC_MINER_PICK_H
#define AITBC_MINER_PICK_H

#include <stddef.h>
#include <stdint.h>

/** A parked miner that fits the job. */
typedef struct mn_cand {
    int64_t load;            /**< jobs it runs plus wakes already promised to it */
    int64_t concurrency;     /**< its slots */
    int64_t parked_since_ms; /**< when its oldest parked poll parked */
} mn_cand;

/** The candidate to wake: one with a free slot (load < concurrency), the least loaded relative
 *  to its slots, then the one parked longest, then the first. -1 when none has a free slot. */
int mn_pick(const mn_cand *c, size_t n);

#endif
