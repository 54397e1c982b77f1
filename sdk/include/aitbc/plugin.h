/* The plugin ABI: the one descriptor a plugin .so exports and the rules the loader checks. */
#ifndef AITBC_PLUGIN_H
#define AITBC_PLUGIN_H

#include <stdint.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "errors.h"
#include "http.h"
#include "bus.h"
#include "store.h"
#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AITBC_ABI_MAJOR 1u
#define AITBC_ABI_MINOR 3u
/** The SDK these headers are: ABI major.minor plus a patch level for header-only fixes.
 *  #if AITBC_SDK_VERSION_NUM >= 10100 guards code that needs 1.1. */
#define AITBC_SDK_VERSION_PATCH 0u
#define AITBC_SDK_VERSION_NUM                                                                      \
    (AITBC_ABI_MAJOR * 10000u + AITBC_ABI_MINOR * 100u + AITBC_SDK_VERSION_PATCH)
#define AITBC_SDK_VERSION "1.3.0"

/* Sizes of the types the ABI passes around, plus the cJSON major/minor, packed into one number.
 * Host and plugin must agree on it or the plugin is refused (like nginx's module signature). */
#define AITBC_BUILD_SIGNATURE                                                                      \
    ((uint64_t)sizeof(void *) | (uint64_t)sizeof(long) << 8 | (uint64_t)sizeof(size_t) << 16 |     \
     (uint64_t)sizeof(int64_t) << 24 | (uint64_t)sizeof(cJSON) << 32 |                             \
     (uint64_t)CJSON_VERSION_MAJOR << 48 | (uint64_t)CJSON_VERSION_MINOR << 56)

/** Name of the one symbol a plugin exports. */
#define AITBC_PLUGIN_SYMBOL "aitbc_plugin_describe"

typedef struct aitbc_host_api aitbc_host_api;
typedef struct aitbc_plugin_ctx aitbc_plugin_ctx; /* opaque: the host's record of one plugin */

/** Types a config key may have. */
typedef enum {
    AITBC_CFG_STRING = 1,
    AITBC_CFG_INT, /**< integer number */
    AITBC_CFG_BOOL,
    AITBC_CFG_NUMBER, /**< any number */
    AITBC_CFG_OBJECT,
    AITBC_CFG_ARRAY,
} aitbc_cfg_type;

/** Which of aitbc_cfg_key.min / .max apply (bits of aitbc_cfg_key.bounds). */
#define AITBC_CFG_MIN 1u
#define AITBC_CFG_MAX 2u
/** Designated-initializer shorthands for aitbc_cfg_key's bounds: {..., AITBC_CFG_RANGE(1, 60)}. */
#define AITBC_CFG_RANGE(lo, hi) .bounds = AITBC_CFG_MIN | AITBC_CFG_MAX, .min = (lo), .max = (hi)
#define AITBC_CFG_AT_LEAST(lo) .bounds = AITBC_CFG_MIN, .min = (lo)

/** One key of a plugin's config section. Arrays of these end with a zeroed entry (key == NULL).
 *  The host checks the section against it before init: unknown keys, wrong types, missing
 *  required keys and (since 1.2) values outside min..max refuse the plugin; absent keys with a
 *  default are filled in, so api->config() shows every defaulted key with its value. */
typedef struct aitbc_cfg_key {
    const char *key;
    aitbc_cfg_type type;
    int required;
    const char *doc; /**< one line: meaning and unit (the default and range are printed apart) */
    /* ---- appended in 1.2: the host reads these only when the descriptor's cfg_key_size covers
     * them (plugins built against 1.0/1.1 headers pass the four fields above only) ---- */
    /** @since 1.2. Default as text, or NULL: "60" (INT/NUMBER), "true" (BOOL), "/tmp" (STRING,
     *  taken verbatim), "[1, 2]" / "{}" (ARRAY/OBJECT, JSON). A default the type cannot read
     *  refuses the plugin. */
    const char *def;
    /** @since 1.2. AITBC_CFG_MIN | AITBC_CFG_MAX: which bounds apply (0 = none). */
    unsigned bounds;
    /** @since 1.2. Inclusive bounds of an INT or NUMBER value (ignored for other types). */
    double min, max;
} aitbc_cfg_key;

/**
 * What a plugin is. Returned by aitbc_plugin_describe(); static storage, never freed.
 * Fields are only ever appended; struct_size tells the host how much of it the plugin knows.
 */
typedef struct aitbc_plugin_desc {
    uint32_t abi_major;   /**< AITBC_ABI_MAJOR: other major → refused */
    uint32_t abi_minor;   /**< AITBC_ABI_MINOR: newer than the host → refused */
    uint32_t struct_size; /**< sizeof(aitbc_plugin_desc) as the plugin was built */
    uint32_t reserved0;
    uint64_t build_signature; /**< AITBC_BUILD_SIGNATURE */
    const char *name;         /**< unique, [a-z0-9-]+, the key under `plugins:` in the config */
    const char *version;      /**< semver of the plugin */
    const char *description;
    const char *const *provides;        /**< NULL-terminated service names "ledger@1", or NULL */
    const char *const *requires;        /**< NULL-terminated service names it needs, or NULL */
    const aitbc_cfg_key *config_schema; /**< keys allowed in its config section, or NULL = none */
    /* Threads: init, start, stop and destroy run on the host's main thread, one plugin at a time,
     * in dependency order (stop and destroy in reverse); they may block (files, the database). */
    /** Read config, run migrations, register services and topics, allocate state. No routes, no
     *  lookups, no threads yet. Required.
     *  On failure: free everything it allocated and return a negative AITBC_E* code; destroy is
     *  NOT called (the host drops any timer or subscription it left).
     *  @param ctx, api borrowed for the plugin's lifetime. @param state out: the plugin's state,
     *  owned by the plugin, handed back to every other callback. */
    int (*init)(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state);
    /** Register routes, subscriptions, timers; look up services (declared in requires/uses);
     *  start own threads. Required. A failed start is still followed by stop and destroy. */
    int (*start)(void *state);
    /** Stop and join the plugin's own threads. Before it is called the host has stopped HTTP
     *  requests, dropped the plugin's subscriptions and timers and drained the worker pool; after
     *  it returns no callback of the plugin runs. Required. */
    void (*stop)(void *state);
    /** Free state (after stop, or after a failed start). Required. */
    void (*destroy)(void *state);
    /** Optional: 0 healthy, else unhealthy; shown on /healthz. Called on an HTTP thread,
     *  concurrently with anything else: read state under the plugin's own lock, never block. */
    int (*health)(void *state);
    void *reserved[8];
    /* ---- appended in 1.1: the host reads these only when struct_size covers them ---- */
    /** @since 1.1. NULL-terminated service names the plugin looks up when present but can run
     *  without ("miners@1"), or NULL. A '*' matches any run of characters ("compute:*@1").
     *  Orders start like requires[]; lookups from init/start of anything not declared in
     *  provides[], requires[] or uses[] are refused. */
    const char *const *uses;
    /** @since 1.2. sizeof(aitbc_cfg_key) as the plugin was built: the stride of config_schema.
     *  0 (or a descriptor that does not reach here) means the 1.0 key (key, type, required, doc).
     */
    uint32_t cfg_key_size;
    /* ---- appended in 1.3: the size of every other struct the plugin hands the host, so the
     * host reads exactly what the plugin's build defines (AITBC_PLUGIN_HEADER fills them). 0, or
     * a descriptor that does not reach a field, means the layout of the plugin's abi_minor. A
     * size smaller than the 1.0 struct refuses the plugin. ---- */
    /** @since 1.3. sizeof(aitbc_route) as the plugin was built (api->route reads this much). */
    uint32_t route_size;
    /** @since 1.3. sizeof(aitbc_topic) as the plugin was built (api->bus_topic). */
    uint32_t topic_size;
    /** @since 1.3. sizeof(aitbc_migration): the stride of the steps api->migrate gets. */
    uint32_t migration_size;
    /** @since 1.3. sizeof(aitbc_metric_label): the stride of the labels a metrics collect hands
     *  the writer's sample(). */
    uint32_t metric_label_size;
} aitbc_plugin_desc;

/** Fills the ABI header fields of a descriptor. */
#define AITBC_PLUGIN_HEADER                                                                        \
    .abi_major = AITBC_ABI_MAJOR, .abi_minor = AITBC_ABI_MINOR,                                    \
    .struct_size = (uint32_t)sizeof(aitbc_plugin_desc), .build_signature = AITBC_BUILD_SIGNATURE,  \
    .cfg_key_size = (uint32_t)sizeof(aitbc_cfg_key), .route_size = (uint32_t)sizeof(aitbc_route),  \
    .topic_size = (uint32_t)sizeof(aitbc_topic),                                                   \
    .migration_size = (uint32_t)sizeof(aitbc_migration),                                           \
    .metric_label_size = (uint32_t)sizeof(aitbc_metric_label)

#if defined(__GNUC__)
#define AITBC_EXPORT __attribute__((visibility("default")))
#else
#define AITBC_EXPORT
#endif

/** Every plugin defines exactly this function. */
AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void);

#ifdef __cplusplus
}
#endif

#endif
