/* Token-bucket arithmetic and the per-address failure table. The table is a small chained hash
 * under one mutex: it is touched once per authenticated request (a lookup) and on failures. */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void refill(rl_bucket *b, const rl_limit *lim, int64_t now_ms) {
    if (b->last_ms == 0) {
        b->tokens = lim->burst;
    } else if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * lim->rate / 1000.0;
        if (b->tokens > lim->burst) b->tokens = lim->burst;
    }
    /* A clock that steps back never mints tokens; it just restarts the interval. */
    b->last_ms = now_ms;
}

static int retry_after(const rl_bucket *b, const rl_limit *lim) {
    double s = ceil((1.0 - b->tokens) / lim->rate);
    if (!(s >= 1.0)) return 1;
    if (s > 86400.0) return 86400;
    return (int)s;
}

int rl_take(rl_bucket *b, const rl_limit *lim, int64_t now_ms, int *retry_after_s) {
    if (lim->rate <= 0) return 1;
    refill(b, lim, now_ms);
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 1;
    }
    if (retry_after_s) *retry_after_s = retry_after(b, lim);
    return 0;
}

int rl_empty(rl_bucket *b, const rl_limit *lim, int64_t now_ms, int *retry_after_s) {
    if (lim->rate <= 0) return 0;
    refill(b, lim, now_ms);
    if (b->tokens >= 1.0) return 0;
    if (retry_after_s) *retry_after_s = retry_after(b, lim);
    return 1;
}

int rl_full(const rl_bucket *b, const rl_limit *lim, int64_t now_ms) {
    if (lim->rate <= 0 || b->last_ms == 0) return 1;
    int64_t dt = now_ms > b->last_ms ? now_ms - b->last_ms : 0;
    return b->tokens + (double)dt * lim->rate / 1000.0 >= lim->burst;
}

/* ---- per-address table ---- */

#define ADDR_MAX 64
#define ADDR_SLOTS 1024

typedef struct addr_node {
    struct addr_node *next;
    char addr[ADDR_MAX];
    rl_bucket bucket;
} addr_node;

struct rl_addr_table {
    pthread_mutex_t lock;
    rl_limit lim;
    size_t count, max;
    addr_node *slots[ADDR_SLOTS];
};

static size_t slot_of(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a: addresses are not secret, any spread will do */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % ADDR_SLOTS;
}

rl_addr_table *rl_addr_new_window(int n, int64_t window_ms, size_t max_entries) {
    rl_addr_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    pthread_mutex_init(&t->lock, NULL);
    t->lim.rate = n > 0 && window_ms > 0 ? n * 1000.0 / (double)window_ms : 0;
    t->lim.burst = n > 0 ? n : 0;
    t->max = max_entries;
    return t;
}

rl_addr_table *rl_addr_new(int per_minute, size_t max_entries) {
    return rl_addr_new_window(per_minute, 60000, max_entries);
}

void rl_addr_free(rl_addr_table *t) {
    if (!t) return;
    for (size_t i = 0; i < ADDR_SLOTS; i++) {
        for (addr_node *n = t->slots[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static addr_node *find(rl_addr_table *t, const char *addr, size_t slot) {
    for (addr_node *n = t->slots[slot]; n; n = n->next) {
        if (strcmp(n->addr, addr) == 0) return n;
    }
    return NULL;
}

int rl_addr_blocked(rl_addr_table *t, const char *addr, int64_t now_ms, int *retry_after_s) {
    if (!t || t->lim.rate <= 0 || !addr) return 0;
    size_t slot = slot_of(addr);
    pthread_mutex_lock(&t->lock);
    addr_node *n = t->count ? find(t, addr, slot) : NULL;
    int blocked = n ? rl_empty(&n->bucket, &t->lim, now_ms, retry_after_s) : 0;
    pthread_mutex_unlock(&t->lock);
    return blocked;
}

static void sweep_locked(rl_addr_table *t, int64_t now_ms) {
    for (size_t i = 0; i < ADDR_SLOTS; i++) {
        addr_node **pp = &t->slots[i];
        while (*pp) {
            addr_node *n = *pp;
            if (rl_full(&n->bucket, &t->lim, now_ms)) {
                *pp = n->next;
                free(n);
                t->count--;
            } else {
                pp = &n->next;
            }
        }
    }
}

void rl_addr_fail(rl_addr_table *t, const char *addr, int64_t now_ms) {
    if (!t || t->lim.rate <= 0 || !addr || strlen(addr) >= ADDR_MAX) return;
    size_t slot = slot_of(addr);
    pthread_mutex_lock(&t->lock);
    addr_node *n = find(t, addr, slot);
    if (!n) {
        if (t->count >= t->max) sweep_locked(t, now_ms);
        /* Still full: the table stays bounded; this address simply goes untracked. */
        if (t->count < t->max && (n = calloc(1, sizeof *n))) {
            strcpy(n->addr, addr);
            n->next = t->slots[slot];
            t->slots[slot] = n;
            t->count++;
        }
    }
    if (n) rl_take(&n->bucket, &t->lim, now_ms, NULL);
    pthread_mutex_unlock(&t->lock);
}

void rl_addr_sweep(rl_addr_table *t, int64_t now_ms) {
    if (!t) return;
    pthread_mutex_lock(&t->lock);
    sweep_locked(t, now_ms);
    pthread_mutex_unlock(&t->lock);
}

size_t rl_addr_count(rl_addr_table *t) {
    pthread_mutex_lock(&t->lock);
    size_t n = t->count;
    pthread_mutex_unlock(&t->lock);
    return n;
}
