/* The wake choice: least loaded relative to its slots first, so work spreads over the fleet
 * instead of piling on whoever parked last; ties go to the poll that has waited longest. */
#include "pick.h"

/* a before b? Loads compare as fractions load/concurrency without division (both are small:
 * concurrency ≤ 256 and load < concurrency, so the products cannot overflow). */
static int better(const mn_cand *a, const mn_cand *b) {
    int64_t x = a->load * b->concurrency, y = b->load * a->concurrency;
    if (x != y) return x < y;
    return a->parked_since_ms < b->parked_since_ms;
}

int mn_pick(const mn_cand *c, size_t n) {
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (c[i].concurrency <= 0 || c[i].load >= c[i].concurrency) continue;
        if (best < 0 || better(&c[i], &c[best])) best = (int)i;
    }
    return best;
}
