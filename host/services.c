/* The service registry: plugins provide named, versioned function tables ("ledger@1") and others
 * look them up. Providers register from init (before they start), so by the time anybody starts,
 * the registry is complete; lookups may come from any thread at any time, hence the mutex. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SERVICE_NAME_MAX 96

typedef struct service {
    char name[SERVICE_NAME_MAX];
    const void *table;
    aitbc_plugin_ctx *owner;
} service;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
/* Set once every plugin has run init: the table no longer changes until services_clear (after all
 * threads stopped), so lookups on the request path read it without the lock. */
static atomic_int g_frozen;
static service *g_services;
static size_t g_count, g_cap;

/* "name@major": name of [a-z0-9:_.-], a '@', then digits. */
static int name_valid(const char *s) {
    const char *at = s ? strrchr(s, '@') : NULL;
    if (!at || at == s || !at[1] || strlen(s) >= SERVICE_NAME_MAX) return 0;
    for (const char *p = s; p < at; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr(":_.-", *p))) return 0;
    }
    return strspn(at + 1, "0123456789") == strlen(at + 1);
}

/** @brief A requires[]/uses[] entry: "name@major" where '*' may stand for any run of the name's
 *  characters ("compute:*@1"). */
int services_pattern_valid(const char *pattern) {
    char plain[SERVICE_NAME_MAX];
    size_t n = 0;
    for (const char *p = pattern; p && *p && n + 1 < sizeof plain; p++)
        plain[n++] = *p == '*' ? 'x' : *p;
    plain[n] = '\0';
    return pattern && strlen(pattern) == n && name_valid(plain);
}

/** @brief 1 if name matches pattern, where '*' in pattern stands for any run of characters. */
int services_match(const char *pattern, const char *name) {
    const char *star = NULL, *resume = NULL;
    while (*name) {
        if (*pattern == '*') {
            star = pattern++;
            resume = name;
        } else if (*pattern == *name) {
            pattern++;
            name++;
        } else if (star) {
            pattern = star + 1;
            name = ++resume;
        } else {
            return 0;
        }
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == '\0';
}

/** @brief Register a service table under "name@major".
 *  @param owner the providing plugin (NULL for the host); it may register only until it starts.
 *  @param table borrowed until the owner is destroyed.
 *  @return 0, AITBC_EEXIST if the name is taken, AITBC_EINVAL for a bad name, NULL table or a
 *  registration after the owner started. */
int services_register(aitbc_plugin_ctx *owner, const char *name_at_version, const void *table) {
    if (!name_valid(name_at_version) || !table) return AITBC_EINVAL;
    if (owner && owner->started) {
        hlog(owner->desc ? owner->desc->name : NULL, AITBC_LOG_ERROR,
             "service %s registered after start: register services from init", name_at_version);
        return AITBC_EINVAL;
    }
    if (atomic_load_explicit(&g_frozen, memory_order_acquire)) {
        hlog(NULL, AITBC_LOG_ERROR, "service %s registered after init: register from init",
             name_at_version);
        return AITBC_EINVAL;
    }
    int rc = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_count; i++) {
        if (strcmp(g_services[i].name, name_at_version) == 0) {
            rc = AITBC_EEXIST;
            break;
        }
    }
    if (rc == 0 && g_count == g_cap) {
        size_t cap = g_cap ? g_cap * 2 : 16;
        service *grown = realloc(g_services, cap * sizeof *grown);
        if (grown) {
            g_services = grown;
            g_cap = cap;
        } else {
            rc = AITBC_ENOMEM;
        }
    }
    if (rc == 0) {
        service *s = &g_services[g_count++];
        strcpy(s->name, name_at_version); /* length checked by name_valid */
        s->table = table;
        s->owner = owner;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* The entry registered under name_at_version, copied into *out; 0 if there is none. */
static int find(const char *name_at_version, service *out) {
    int found = 0;
    if (!name_at_version) return 0;
    int frozen = atomic_load_explicit(&g_frozen, memory_order_acquire);
    if (!frozen) pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_count && !found; i++) {
        if (strcmp(g_services[i].name, name_at_version) == 0) {
            *out = g_services[i];
            found = 1;
        }
    }
    if (!frozen) pthread_mutex_unlock(&g_lock);
    return found;
}

/** @brief The table registered under name_at_version, or NULL. */
const void *services_lookup(const char *name_at_version) {
    service s;
    return find(name_at_version, &s) ? s.table : NULL;
}

/** @brief The plugin that registered name_at_version, or NULL (none, or the host itself). */
aitbc_plugin_ctx *services_owner(const char *name_at_version) {
    service s;
    return find(name_at_version, &s) ? s.owner : NULL;
}

/** @brief The auth@1 table the host calls on every authenticated request, if one is registered
 *  and its size covers authenticate (a table too small for it is as good as none). */
const aitbc_auth_v1 *services_auth(void) {
    const aitbc_auth_v1 *auth = services_lookup(AITBC_AUTH_SERVICE);
    return auth && auth->size >= END_OF(aitbc_auth_v1, authenticate) && auth->authenticate ? auth
                                                                                           : NULL;
}

/** @brief Names of the services whose name starts with prefix ("compute:"), in registration
 *  order. Writes up to max names (borrowed until the host stops) into out.
 *  @return how many match (may exceed max). */
size_t services_names(const char *prefix, const char **out, size_t max) {
    size_t n = 0, plen = prefix ? strlen(prefix) : 0;
    int frozen = atomic_load_explicit(&g_frozen, memory_order_acquire);
    if (!frozen) pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_count; i++) {
        if (plen && strncmp(g_services[i].name, prefix, plen) != 0) continue;
        if (out && n < max) out[n] = g_services[i].name;
        n++;
    }
    if (!frozen) pthread_mutex_unlock(&g_lock);
    return n;
}

/** @brief Every plugin has run init: no more registrations, lock-free lookups. */
void services_freeze(void) {
    atomic_store_explicit(&g_frozen, 1, memory_order_release);
}

/** @brief Forget every service (before the providers are destroyed; no other thread runs). */
void services_clear(void) {
    atomic_store_explicit(&g_frozen, 0, memory_order_release);
    pthread_mutex_lock(&g_lock);
    free(g_services);
    g_services = NULL;
    g_count = g_cap = 0;
    pthread_mutex_unlock(&g_lock);
}
