/* The exchange@1 service (exchange plugin): what other plugins may ask of the exchange. */
#ifndef AITBC_EXCHANGE_SERVICE_H
#define AITBC_EXCHANGE_SERVICE_H

#include <stdint.h>

#define AITBC_EXCHANGE_SERVICE "exchange@1"

typedef struct aitbc_exchange_v1 {
    uint32_t size; /**< sizeof(aitbc_exchange_v1) of the provider */
    void *self;    /**< first argument of every call */
    /** @brief Markets configured, and trades over all markets in the last 24 hours (one indexed
     *  count per market). 0 or a negative AITBC_E* code. Thread: the caller's (an HTTP
     *  handler); thread-safe; may block on a database read. */
    int (*stats)(void *self, int64_t *markets, int64_t *trades_24h);
} aitbc_exchange_v1;

#endif
