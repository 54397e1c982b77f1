/* The key cache: a fixed array of chains guarded by striped mutexes, so request threads checking
 * different keys rarely meet on a lock. */
#include "keycache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KC_SLOTS 4096
#define KC_STRIPES 16

typedef struct kc_node {
    struct kc_node *next;
    char key_id[KEYFMT_KEY_ID_MAX + 1];
    kc_row row;
    int64_t revoked_ms;   /* when the tombstone was set (0: revoked in the row itself) */
    int64_t last_used_ms; /* in memory; flushed to the database by a timer */
    int64_t flushed_ms;
    int64_t touched_ms; /* last check or insert, for idle sweeping */
    rl_bucket bucket;
} kc_node;

struct keycache {
    kc_limits limits;
    pthread_mutex_t stripes[KC_STRIPES];
    kc_node *slots[KC_SLOTS];
};

/* Compared against when there is no real hash, so every path does the same comparison. */
static const unsigned char k_dummy_hash[KEYFMT_HASH_BYTES] = {0};

int kc_role_index(unsigned role) {
    return role == AITBC_ROLE_MINER ? 1 : role == AITBC_ROLE_ADMIN ? 2 : 0;
}

static size_t slot_of(const char *s) {
    /* Key ids are random base32, so a simple hash spreads them evenly. */
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % KC_SLOTS;
}

static pthread_mutex_t *lock_of(keycache *c, size_t slot) {
    return &c->stripes[slot % KC_STRIPES];
}

keycache *kc_new(const kc_limits *limits) {
    keycache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->limits = *limits;
    for (int i = 0; i < KC_STRIPES; i++)
        pthread_mutex_init(&c->stripes[i], NULL);
    return c;
}

void kc_free(keycache *c) {
    if (!c) return;
    for (size_t i = 0; i < KC_SLOTS; i++) {
        for (kc_node *n = c->slots[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    }
    for (int i = 0; i < KC_STRIPES; i++)
        pthread_mutex_destroy(&c->stripes[i]);
    free(c);
}

static kc_node *find(keycache *c, size_t slot, const char *key_id) {
    for (kc_node *n = c->slots[slot]; n; n = n->next) {
        if (strcmp(n->key_id, key_id) == 0) return n;
    }
    return NULL;
}

kc_result kc_check(keycache *c, const char *key_id, unsigned role,
                   const unsigned char hash[KEYFMT_HASH_BYTES], int64_t now_ms,
                   aitbc_principal *out, int *retry_after_s) {
    size_t slot = slot_of(key_id);
    pthread_mutex_t *lk = lock_of(c, slot);
    pthread_mutex_lock(lk);
    kc_node *n = find(c, slot, key_id);
    if (!n) {
        pthread_mutex_unlock(lk);
        return KC_MISS;
    }
    n->touched_ms = now_ms;
    /* Always one constant-time comparison; the verdict combines every condition at the end. */
    const unsigned char *stored = n->row.revoked ? k_dummy_hash : n->row.hash;
    int match = keyfmt_hash_equal(hash, stored);
    int ok = match & !n->row.revoked & (n->row.role == role);
    kc_result res = KC_BAD;
    if (ok) {
        const rl_limit *lim = &c->limits.by_role[kc_role_index(n->row.role)];
        if (!rl_take(&n->bucket, lim, now_ms, retry_after_s)) {
            res = KC_RATE;
        } else {
            res = KC_OK;
            n->last_used_ms = now_ms;
            memset(out, 0, sizeof *out);
            strcpy(out->key_id, n->key_id); /* both bounded by KEYFMT_KEY_ID_MAX < 48 */
            out->role = n->row.role;
            memcpy(out->owner_address, n->row.owner, sizeof out->owner_address);
        }
    }
    pthread_mutex_unlock(lk);
    return res;
}

static kc_node *node_new(const char *key_id, int64_t now_ms) {
    kc_node *n = calloc(1, sizeof *n);
    if (n) {
        strncpy(n->key_id, key_id, KEYFMT_KEY_ID_MAX);
        n->touched_ms = now_ms;
    }
    return n;
}

void kc_insert(keycache *c, const char *key_id, const kc_row *row) {
    size_t slot = slot_of(key_id);
    pthread_mutex_t *lk = lock_of(c, slot);
    pthread_mutex_lock(lk);
    kc_node *had = find(c, slot, key_id);
    if (had) {
        had->row.revoked |= row->revoked; /* revoked elsewhere (another host); never undone */
    } else {
        kc_node *n = node_new(key_id, 0);
        if (n) {
            n->row = *row;
            n->row.owner[sizeof n->row.owner - 1] = '\0';
            n->next = c->slots[slot];
            c->slots[slot] = n;
        }
    }
    pthread_mutex_unlock(lk);
}

void kc_revoke(keycache *c, const char *key_id, int64_t now_ms) {
    size_t slot = slot_of(key_id);
    pthread_mutex_t *lk = lock_of(c, slot);
    pthread_mutex_lock(lk);
    kc_node *n = find(c, slot, key_id);
    if (!n && (n = node_new(key_id, now_ms))) {
        n->next = c->slots[slot];
        c->slots[slot] = n;
    }
    if (n) {
        n->row.revoked = 1;
        n->revoked_ms = now_ms;
    }
    pthread_mutex_unlock(lk);
}

int64_t kc_last_used(keycache *c, const char *key_id) {
    size_t slot = slot_of(key_id);
    pthread_mutex_t *lk = lock_of(c, slot);
    pthread_mutex_lock(lk);
    kc_node *n = find(c, slot, key_id);
    int64_t v = n ? n->last_used_ms : 0;
    pthread_mutex_unlock(lk);
    return v;
}

kc_used *kc_collect_used(keycache *c, size_t *count) {
    size_t n = 0, cap = 0;
    kc_used *out = NULL;
    for (size_t s = 0; s < KC_SLOTS; s++) {
        pthread_mutex_t *lk = lock_of(c, s);
        pthread_mutex_lock(lk);
        for (kc_node *e = c->slots[s]; e; e = e->next) {
            if (e->row.from_config || e->last_used_ms <= e->flushed_ms) continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                kc_used *grown = realloc(out, ncap * sizeof *grown);
                if (!grown) break; /* the rest are flushed next time */
                out = grown;
                cap = ncap;
            }
            strcpy(out[n].key_id, e->key_id);
            out[n].last_used_ms = e->last_used_ms;
            e->flushed_ms = e->last_used_ms;
            n++;
        }
        pthread_mutex_unlock(lk);
    }
    *count = n;
    return out;
}

void kc_sweep(keycache *c, int64_t now_ms, int64_t keep_ms, int64_t idle_ms) {
    for (size_t s = 0; s < KC_SLOTS; s++) {
        pthread_mutex_t *lk = lock_of(c, s);
        pthread_mutex_lock(lk);
        kc_node **pp = &c->slots[s];
        while (*pp) {
            kc_node *e = *pp;
            int64_t idle_since = e->touched_ms > e->last_used_ms ? e->touched_ms : e->last_used_ms;
            int drop;
            if (e->revoked_ms)
                drop = now_ms - e->revoked_ms > keep_ms;
            else
                drop = now_ms - idle_since > idle_ms && e->last_used_ms <= e->flushed_ms;
            if (drop) {
                *pp = e->next;
                free(e);
            } else {
                pp = &e->next;
            }
        }
        pthread_mutex_unlock(lk);
    }
}

size_t kc_count(keycache *c) {
    size_t n = 0;
    for (size_t s = 0; s < KC_SLOTS; s++) {
        pthread_mutex_t *lk = lock_of(c, s);
        pthread_mutex_lock(lk);
        for (kc_node *e = c->slots[s]; e; e = e->next)
            n++;
        pthread_mutex_unlock(lk);
    }
    return n;
}
