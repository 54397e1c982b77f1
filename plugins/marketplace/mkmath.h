/* Pure logic of the marketplace, free of the host: escrow release schedule, pro-rata split on
 * early termination, offer-list query parsing and keyset cursors. Unit-tested on its own. */
#ifndef AITBC_MARKETPLACE_MKMATH_H
#define AITBC_MARKETPLACE_MKMATH_H

#include <stdint.h>
#include <aitbc/paging.h>
#include <cjson/cJSON.h>

#define MK_ASSET "AIT"
#define MK_DECIMALS 6
#define MK_MAX_HOURS 8760 /* one year of capacity per offer */
#define MK_MAX_MEMORY_GB 4096
#define MK_MAX_GPU_COUNT 1024
#define MK_MAX_MODELS 32
#define MK_TEXT_MAX 64 /* gpu_model, region, each model name */

/** @brief Hours of a trade completed after elapsed_ms: min(hours, elapsed / hour_ms), ≥ 0. */
int64_t mk_hours_done(int64_t hours, int64_t hour_ms, int64_t elapsed_ms);

/** @brief The seller's share of total after elapsed_ms of duration_ms, rounded down:
 *  floor(total × elapsed / duration) with elapsed clamped to [0, duration]. Exact (128-bit). */
int64_t mk_prorata(int64_t total, int64_t duration_ms, int64_t elapsed_ms);

/** @brief Ending a trade early at elapsed_ms: of the escrowed total, `released` already went to
 *  the seller hour by hour. *pay (more to the seller) + *refund (back to the buyer) + released
 *  == total exactly; the seller ends with the pro-rata share. */
void mk_terminate_split(int64_t total, int64_t released, int64_t duration_ms, int64_t elapsed_ms,
                        int64_t *pay, int64_t *refund);

/** @brief Does a miner's registered capabilities ({gpus:[{name,memory_mb}], models, region})
 *  cover an offer? At least gpu_count GPUs whose name contains gpu_model (case-insensitive) with
 *  memory_gb × 1000 MB each, the same region, and every offered model. NULL when they do, else
 *  the offer field that asks for more than was registered. models is a JSON array text. */
const char *mk_offer_misfit(const cJSON *caps, const char *gpu_model, int64_t memory_gb,
                            int64_t gpu_count, const char *region, const char *models);
/** @brief 1 if s is 1..max printable ASCII characters without leading/trailing space. */
int mk_text_ok(const char *s, size_t max);

/** Parsed GET /v1/marketplace/offers query. Strings borrowed from the getter. */
typedef struct mk_offer_query {
    const char *status;    /* OPEN (default), SOLD_OUT, CANCELED, EXPIRED */
    const char *gpu;       /* case-insensitive substring of gpu_model, or NULL */
    const char *region;    /* exact, or NULL */
    const char *model;     /* offer's models contain it, or NULL */
    int64_t min_memory_gb; /* -1 = none */
    int64_t max_price;     /* base units, -1 = none */
    int sort_price;        /* 1: price ascending (then oldest first); 0: newest first */
    int limit;
    int has_cursor;
    int64_t after_key; /* price (sort_price) or seq (created) of the last row seen */
    int64_t after_seq; /* tie-break for sort_price: seq of the last row seen */
    char tag[AITBC_CURSOR_TAG_LEN + 1];
} mk_offer_query;

/** Reads a query argument by name (NULL when absent). */
typedef const char *(*mk_query_get_fn)(void *user, const char *name);

/** @brief Validate the offers query. 0, or AITBC_EINVAL with *bad_field naming the argument. */
int mk_offer_query_parse(mk_query_get_fn get, void *user, mk_offer_query *q,
                         const char **bad_field);

/** @brief next_cursor after a row with this price and seq. 0 or AITBC_EINVAL. */
int mk_offer_cursor(const mk_offer_query *q, int64_t price, int64_t seq,
                    char out[AITBC_CURSOR_MAX]);

#endif
