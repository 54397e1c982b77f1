/* How much of each struct a plugin hands the host its build defines. Since 1.3 the descriptor
 * says so itself (route_size, topic_size, ...; cfg_key_size since 1.2); an older plugin's
 * structs have the layout of its abi_minor. The host copies what a plugin passes into its own,
 * zeroed layout through abi_read, so no byte past what the plugin gave is ever read and fields
 * the plugin's build did not know are zero. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct abi_struct_info {
    const char *field;   /* the descriptor's size field, for messages */
    const char *what;    /* the struct, for messages */
    size_t desc_offset;  /* offset of that uint32_t size field in aitbc_plugin_desc */
    size_t v1_0;         /* the 1.0 struct: anything smaller is refused */
    size_t before_sizes; /* a plugin of minor >= 1 whose descriptor gives no size */
    size_t host;         /* this host's struct */
} abi_struct_info;

/* The 1.0 structs end at these members; fields appended later follow them. Minor 1.1 appended
 * aitbc_route.idempotent and .write; aitbc_cfg_key grew in 1.2 together with cfg_key_size, so a
 * plugin without that field has the 1.0 key whatever its minor. */
static const abi_struct_info k_structs[ABI_STRUCT_COUNT] = {
    [ABI_CFG_KEY] = {"cfg_key_size", "config key", offsetof(aitbc_plugin_desc, cfg_key_size),
                     END_OF(aitbc_cfg_key, doc), END_OF(aitbc_cfg_key, doc), sizeof(aitbc_cfg_key)},
    [ABI_ROUTE] = {"route_size", "route", offsetof(aitbc_plugin_desc, route_size),
                   END_OF(aitbc_route, user), END_OF(aitbc_route, write), sizeof(aitbc_route)},
    [ABI_TOPIC] = {"topic_size", "topic", offsetof(aitbc_plugin_desc, topic_size),
                   END_OF(aitbc_topic, user), END_OF(aitbc_topic, user), sizeof(aitbc_topic)},
    [ABI_MIGRATION] = {"migration_size", "migration step",
                       offsetof(aitbc_plugin_desc, migration_size), END_OF(aitbc_migration, sql),
                       END_OF(aitbc_migration, sql), sizeof(aitbc_migration)},
    [ABI_METRIC_LABEL] = {"metric_label_size", "metric label",
                          offsetof(aitbc_plugin_desc, metric_label_size),
                          END_OF(aitbc_metric_label, value), END_OF(aitbc_metric_label, value),
                          sizeof(aitbc_metric_label)},
};

/* The size the descriptor declares for s, or 0 when its build predates the field (or left it 0). */
static size_t declared(const aitbc_plugin_desc *d, abi_struct s) {
    const abi_struct_info *k = &k_structs[s];
    if (d->struct_size < k->desc_offset + sizeof(uint32_t)) return 0;
    uint32_t v;
    memcpy(&v, (const char *)d + k->desc_offset, sizeof v);
    return v;
}

/** @brief Bytes of one struct s (the stride of an array of them) as the plugin d was built; this
 *  host's size when d is NULL (the host's own callers). */
size_t abi_size(const aitbc_plugin_desc *d, abi_struct s) {
    const abi_struct_info *k = &k_structs[s];
    if (!d) return k->host;
    size_t n = declared(d, s);
    if (n) return n;
    return d->abi_minor >= 1 ? k->before_sizes : k->v1_0;
}

/** @brief 0, or AITBC_EINVAL with the reason in why when d declares a struct smaller than its 1.0
 *  layout (no plugin of this major can have built one: the descriptor is corrupt). */
int abi_check_sizes(const aitbc_plugin_desc *d, char *why, size_t cap) {
    for (int s = 0; s < ABI_STRUCT_COUNT; s++) {
        size_t n = declared(d, (abi_struct)s);
        if (n == 0 || n >= k_structs[s].v1_0) continue;
        snprintf(why, cap, "%s %zu is smaller than the v1.0 %s (%zu)", k_structs[s].field, n,
                 k_structs[s].what, k_structs[s].v1_0);
        return AITBC_EINVAL;
    }
    return 0;
}

/** @brief Copies the i-th struct s of the array src (as the plugin d laid it out) into dst, this
 *  host's layout, reading no byte past that element; fields the plugin does not have are zero. */
void abi_read(const aitbc_plugin_desc *d, abi_struct s, void *dst, const void *src, size_t i) {
    size_t stride = abi_size(d, s), host = k_structs[s].host;
    memset(dst, 0, host);
    memcpy(dst, (const char *)src + i * stride, stride < host ? stride : host);
}
