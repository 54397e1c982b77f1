/* The account cache: per stripe, a fixed pool of entries chained into hash buckets by index, and
 * a clock hand over the pool that gives each recently used entry a second chance before it is
 * evicted. Nothing is allocated after ac_new. */
#include "acctcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NONE (-1)

typedef struct ac_node {
    char key_id[AC_KEY_ID_MAX + 1]; /* "" = free */
    uint64_t version;
    int referenced; /* used since the clock hand last passed */
    int32_t next;   /* next in its bucket, or NONE */
    ac_view view;
} ac_node;

typedef struct ac_stripe {
    pthread_mutex_t mu;
    ac_node *nodes;
    int32_t *heads; /* one chain per bucket */
    size_t n;       /* nodes (and buckets) in this stripe */
    size_t hand;
    size_t count;
} ac_stripe;

struct acctcache {
    ac_stripe stripes[AC_STRIPES];
};

static uint32_t hash_of(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

acctcache *ac_new(size_t capacity) {
    acctcache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    size_t per = capacity / AC_STRIPES;
    if (per == 0) per = 1;
    for (int i = 0; i < AC_STRIPES; i++) {
        ac_stripe *s = &c->stripes[i];
        pthread_mutex_init(&s->mu, NULL);
        s->n = per;
        s->nodes = calloc(per, sizeof *s->nodes);
        s->heads = malloc(per * sizeof *s->heads);
        if (!s->nodes || !s->heads) {
            ac_free(c);
            return NULL;
        }
        for (size_t b = 0; b < per; b++)
            s->heads[b] = NONE;
    }
    return c;
}

void ac_free(acctcache *c) {
    if (!c) return;
    for (int i = 0; i < AC_STRIPES; i++) {
        ac_stripe *s = &c->stripes[i];
        if (s->n) pthread_mutex_destroy(&s->mu);
        free(s->nodes);
        free(s->heads);
    }
    free(c);
}

/* The stripe of key_id and its bucket there. */
static ac_stripe *locate(acctcache *c, const char *key_id, size_t *bucket) {
    uint32_t h = hash_of(key_id);
    ac_stripe *s = &c->stripes[h % AC_STRIPES];
    *bucket = (h / AC_STRIPES) % s->n;
    return s;
}

/* Index of key_id's node in s (NONE if absent); *link gets the link that points at it. */
static int32_t find(ac_stripe *s, size_t bucket, const char *key_id, int32_t **link) {
    int32_t *l = &s->heads[bucket];
    while (*l != NONE) {
        if (strcmp(s->nodes[*l].key_id, key_id) == 0) {
            if (link) *link = l;
            return *l;
        }
        l = &s->nodes[*l].next;
    }
    return NONE;
}

/* Unlink node i from its bucket and mark it free. */
static void drop(ac_stripe *s, int32_t i) {
    size_t bucket = (hash_of(s->nodes[i].key_id) / AC_STRIPES) % s->n;
    int32_t *link = NULL;
    if (find(s, bucket, s->nodes[i].key_id, &link) == i) *link = s->nodes[i].next;
    s->nodes[i].key_id[0] = '\0';
    s->count--;
}

static int key_ok(const char *key_id) {
    return key_id && key_id[0] && strlen(key_id) <= AC_KEY_ID_MAX;
}

int ac_get(acctcache *c, const char *key_id, uint64_t version, ac_view *out) {
    if (!key_ok(key_id)) return 0;
    size_t bucket;
    ac_stripe *s = locate(c, key_id, &bucket);
    pthread_mutex_lock(&s->mu);
    int32_t i = find(s, bucket, key_id, NULL);
    int hit = 0;
    if (i != NONE) {
        ac_node *n = &s->nodes[i];
        if (n->version == version) {
            n->referenced = 1;
            *out = n->view;
            hit = 1;
        } else {
            drop(s, i);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return hit;
}

/* A free node, or the first the clock finds unreferenced since its last pass (evicted). */
static int32_t take_node(ac_stripe *s) {
    for (size_t steps = 0; steps < 2 * s->n + 1; steps++) {
        int32_t i = (int32_t)s->hand;
        s->hand = (s->hand + 1) % s->n;
        ac_node *n = &s->nodes[i];
        if (!n->key_id[0]) return i;
        if (n->referenced) {
            n->referenced = 0;
            continue;
        }
        drop(s, i);
        return i;
    }
    return NONE; /* unreachable: the second pass finds every entry unreferenced */
}

void ac_put(acctcache *c, const char *key_id, uint64_t version, const ac_view *v) {
    if (!key_ok(key_id)) return;
    size_t bucket;
    ac_stripe *s = locate(c, key_id, &bucket);
    pthread_mutex_lock(&s->mu);
    int32_t i = find(s, bucket, key_id, NULL);
    int fresh = i == NONE;
    if (fresh && (i = take_node(s)) != NONE) {
        ac_node *n = &s->nodes[i];
        strcpy(n->key_id, key_id);
        n->next = s->heads[bucket];
        s->heads[bucket] = i;
        s->count++;
    }
    if (i != NONE) {
        ac_node *n = &s->nodes[i];
        n->version = version;
        /* A new entry earns its second chance by being read again: a stream of one-off keys
         * then evicts itself, not the keys that are asked for over and over. */
        n->referenced = !fresh;
        n->view = *v;
        n->view.label[AC_LABEL_BYTES - 1] = '\0';
        if (n->view.nbal > AC_ASSETS_MAX) n->view.nbal = AC_ASSETS_MAX;
        if (n->view.text_len >= AC_TEXT_BYTES || n->view.used_at > n->view.text_len)
            n->view.text_len = n->view.used_at = 0;
    }
    pthread_mutex_unlock(&s->mu);
}

void ac_forget(acctcache *c, const char *key_id) {
    if (!key_ok(key_id)) return;
    size_t bucket;
    ac_stripe *s = locate(c, key_id, &bucket);
    pthread_mutex_lock(&s->mu);
    int32_t i = find(s, bucket, key_id, NULL);
    if (i != NONE) drop(s, i);
    pthread_mutex_unlock(&s->mu);
}

size_t ac_count(acctcache *c) {
    size_t n = 0;
    for (int i = 0; i < AC_STRIPES; i++) {
        ac_stripe *s = &c->stripes[i];
        pthread_mutex_lock(&s->mu);
        n += s->count;
        pthread_mutex_unlock(&s->mu);
    }
    return n;
}
