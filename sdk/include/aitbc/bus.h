/* Event bus types: topics with a visibility rule, subscribers called on the dispatcher thread. */
#ifndef AITBC_BUS_H
#define AITBC_BUS_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Who may see one event of a topic (used by the WebSocket bridge).
 *  @return nonzero if `who` may see `data`. Called on the bus thread; must not block. */
typedef int (*aitbc_visible_fn)(const aitbc_principal *who, const cJSON *data, void *user);

/** A bus subscriber: runs on the one dispatcher thread, in publish order per topic, never
 *  concurrently with another subscriber. Must not block: every subscriber of every plugin waits
 *  behind it; hand slow work (the database, a network call) to api->submit() with a copy of what
 *  it needs. Not called once the host has begun stopping the plugin (see stop).
 *  @param data borrowed for the call (copy what you keep); @param seq per-topic sequence, from 1.
 */
typedef void (*aitbc_event_fn)(const char *topic, uint64_t seq, const cJSON *data, void *user);

/** Declaration of a topic. Copied by the host (as far as the descriptor's topic_size). */
typedef struct aitbc_topic {
    const char *name;         /**< "job_updates", "orderbook:AIT-BTC" */
    unsigned roles;           /**< roles that may subscribe at all; AITBC_ROLE_ANY for public */
    aitbc_visible_fn visible; /**< per-event filter, or NULL = every event to every allowed role */
    void *user;
} aitbc_topic;

#ifdef __cplusplus
}
#endif

#endif
