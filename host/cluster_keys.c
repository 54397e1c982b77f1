/* The cluster's pure helpers: lock keys, channel names and node ids. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "cluster_priv.h"

uint32_t cluster_hash32(const char *s) {
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

void cluster_channel_name(uint32_t schema_hash, char out[CLUSTER_CHANNEL_MAX]) {
    snprintf(out, CLUSTER_CHANNEL_MAX, "aitbc_events_%08x", (unsigned)schema_hash);
}

static int name_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < CLUSTER_NODE_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

int cluster_node_id_valid(const char *id) {
    return name_valid(id);
}

int cluster_role_valid(const char *role) {
    return name_valid(role);
}

void cluster_node_id_default(char out[CLUSTER_NODE_ID_MAX]) {
    char host[40] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++) /* keep the id within the allowed characters */
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-", *p))
            *p = '-';
    snprintf(out, CLUSTER_NODE_ID_MAX, "%s-%08x", host, (unsigned)randombytes_random());
}

void cluster_role_keys(uint32_t schema_hash, const char *role, int32_t *k1, int32_t *k2) {
    uint32_t r = cluster_hash32(role);
    memcpy(k1, &schema_hash, sizeof *k1); /* the same bits: pg_locks shows them unsigned */
    memcpy(k2, &r, sizeof *k2);
}
