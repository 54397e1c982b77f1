/* Event bus: declared topics, subscribers, and one dispatcher thread. Publishers only copy the
 * event into a bounded FIFO and return; the dispatcher delivers events in publish order, so every
 * subscriber sees each topic's events in order with a per-topic sequence number assigned at publish
 * time. Subscriber code never runs on a publisher's thread. The queue is bounded so a stuck
 * subscriber costs dropped events (logged), not all the memory. Notifications only: nothing that
 * must happen may depend on an event being delivered. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BUS_QUEUE_MAX 100000
#define TOPIC_BUCKETS 64

/* Every topic ever declared, published or subscribed to; lives until bus_stop. */
typedef struct topic_rec {
    char *name;
    aitbc_topic decl; /* decl.name == name */
    aitbc_plugin_ctx *owner;
    int declared;
    int warned;   /* "undeclared" debug line already written */
    uint64_t seq; /* last sequence assigned */
    struct topic_rec *next;
} topic_rec;

typedef struct event {
    topic_rec *topic;
    uint64_t seq;
    cJSON *data;
    struct event *next;
} event;

typedef struct sub {
    aitbc_plugin_ctx *owner; /* the subscribing plugin, NULL for the host */
    char *topic;             /* "*" = every topic */
    aitbc_event_fn fn;
    void *user;
} sub;

/* Copy-on-write subscriber list: the dispatcher holds a reference while calling subscribers, so
 * bus_subscribe (any thread, even a subscriber) never waits for delivery. */
typedef struct sub_list {
    int refs;
    size_t n;
    sub items[];
} sub_list;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_idle = PTHREAD_COND_INITIALIZER; /* a delivery finished */
static sub_list *g_inflight; /* the list the dispatcher is delivering with, or NULL */
static topic_rec *g_topics[TOPIC_BUCKETS];
static sub_list *g_subs;
static event *g_head, *g_tail;
static size_t g_queued;
static uint64_t g_dropped;
static int g_running; /* accepting publishes */
static int g_started; /* dispatcher thread exists */
static pthread_t g_thread;

static unsigned name_hash(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % TOPIC_BUCKETS;
}

/* Finds or creates the record for name. Called with g_lock held. */
static topic_rec *topic_get(const char *name, int create) {
    unsigned b = name_hash(name);
    for (topic_rec *t = g_topics[b]; t; t = t->next)
        if (!strcmp(t->name, name)) return t;
    if (!create) return NULL;
    topic_rec *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        return NULL;
    }
    t->decl.name = t->name;
    t->next = g_topics[b];
    g_topics[b] = t;
    return t;
}

static void sub_list_release(sub_list *l) {
    if (l && --l->refs == 0) { /* refs only change under g_lock */
        for (size_t i = 0; i < l->n; i++)
            free(l->items[i].topic);
        free(l);
    }
}

static void deliver(const event *e, const sub_list *l) {
    for (size_t i = 0; l && i < l->n; i++) {
        const sub *s = &l->items[i];
        if (!strcmp(s->topic, "*") || !strcmp(s->topic, e->topic->name))
            s->fn(e->topic->name, e->seq, e->data, s->user);
    }
}

/* Set on the dispatcher: what subscribers publish is their own reaction to an event. */
static _Thread_local int tl_dispatcher;

int bus_on_dispatcher(void) {
    return tl_dispatcher;
}

static void *dispatcher(void *arg) {
    (void)arg;
    tl_dispatcher = 1;
    pthread_mutex_lock(&g_lock);
    for (;;) {
        while (!g_head && g_running)
            pthread_cond_wait(&g_cond, &g_lock);
        event *e = g_head;
        if (!e) break; /* stopping and drained */
        g_head = e->next;
        if (!g_head) g_tail = NULL;
        g_queued--;
        sub_list *l = g_subs;
        if (l) l->refs++;
        g_inflight = l;
        pthread_mutex_unlock(&g_lock);
        deliver(e, l);
        cJSON_Delete(e->data);
        free(e);
        pthread_mutex_lock(&g_lock);
        g_inflight = NULL;
        pthread_cond_broadcast(&g_idle);
        sub_list_release(l);
    }
    pthread_mutex_unlock(&g_lock);
    store_thread_done();
    return NULL;
}

/** @brief Start the dispatcher thread. 0, or AITBC_EIO / AITBC_EINVAL (already running). */
int bus_start(void) {
    pthread_mutex_lock(&g_lock);
    int rc = 0;
    if (g_started) {
        rc = AITBC_EINVAL;
    } else {
        g_running = 1;
        g_dropped = 0;
        if (pthread_create(&g_thread, NULL, dispatcher, NULL) != 0) {
            g_running = 0;
            rc = AITBC_EIO;
        } else {
            g_started = 1;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (rc == AITBC_EIO)
        hlog("bus", AITBC_LOG_ERROR, "cannot start the dispatcher thread");
    else if (rc != 0)
        hlog("bus", AITBC_LOG_ERROR, "bus_start: already running");
    return rc;
}

/** @brief Declare a topic (copied). AITBC_EEXIST if it is already declared. */
int bus_declare(aitbc_plugin_ctx *ctx, const aitbc_topic *topic) {
    if (!topic || !topic->name || !topic->name[0] || !strcmp(topic->name, "*")) return AITBC_EINVAL;
    pthread_mutex_lock(&g_lock);
    topic_rec *t = topic_get(topic->name, 1);
    int rc = !t ? AITBC_ENOMEM : t->declared ? AITBC_EEXIST : 0;
    if (rc == 0) {
        t->decl.roles = topic->roles;
        t->decl.visible = topic->visible;
        t->decl.user = topic->user;
        t->owner = ctx;
        t->declared = 1;
    }
    pthread_mutex_unlock(&g_lock);
    if (rc == AITBC_EEXIST) hlog("bus", AITBC_LOG_ERROR, "topic %s is declared twice", topic->name);
    return rc;
}

/** @brief The declared topic or NULL. The pointer stays valid until bus_stop. */
const aitbc_topic *bus_find_topic(const char *name) {
    if (!name) return NULL;
    pthread_mutex_lock(&g_lock);
    topic_rec *t = topic_get(name, 0);
    const aitbc_topic *out = t && t->declared ? &t->decl : NULL;
    pthread_mutex_unlock(&g_lock);
    return out;
}

/** @brief Queue a deep copy of data for topic. 0, AITBC_EUNAVAIL (not running), AITBC_EBUSY
 *  (queue full: dropped), AITBC_EINVAL or AITBC_ENOMEM. */
int bus_publish(const char *topic, const cJSON *data) {
    if (!topic || !topic[0] || !data || !strcmp(topic, "*")) return AITBC_EINVAL;
    cJSON *copy = cJSON_Duplicate(data, 1);
    return copy ? bus_publish_owned(topic, copy) : AITBC_ENOMEM;
}

/** @brief bus_publish of data the caller hands over (a copy it already made, e.g. an event held
 *  until a commit): queued as it is, or freed here whatever the outcome. */
int bus_publish_owned(const char *topic, cJSON *data) {
    if (!topic || !topic[0] || !data || !strcmp(topic, "*")) {
        cJSON_Delete(data);
        return AITBC_EINVAL;
    }
    event *e = calloc(1, sizeof *e);
    if (!e) {
        cJSON_Delete(data);
        return AITBC_ENOMEM;
    }
    e->data = data;
    int rc = 0, warn_undeclared = 0;
    uint64_t dropped = 0;
    pthread_mutex_lock(&g_lock);
    if (!g_running) {
        rc = AITBC_EUNAVAIL;
    } else if (g_queued >= BUS_QUEUE_MAX) {
        rc = AITBC_EBUSY;
        dropped = ++g_dropped;
    } else if (!(e->topic = topic_get(topic, 1))) {
        rc = AITBC_ENOMEM;
    } else {
        if (!e->topic->declared && !e->topic->warned) warn_undeclared = e->topic->warned = 1;
        e->seq = ++e->topic->seq;
        if (g_tail)
            g_tail->next = e;
        else
            g_head = e;
        g_tail = e;
        g_queued++;
        pthread_cond_signal(&g_cond);
    }
    pthread_mutex_unlock(&g_lock);
    if (warn_undeclared) hlog("bus", AITBC_LOG_DEBUG, "publishing to undeclared topic %s", topic);
    if (rc != 0) {
        /* One line per 10000 drops keeps a stuck subscriber from flooding the log as well. */
        if (dropped % 10000 == 1)
            hlog("bus", AITBC_LOG_WARN,
                 "queue full (%d events): dropped an event of %s (%llu "
                 "dropped so far); a subscriber is too slow",
                 BUS_QUEUE_MAX, topic, (unsigned long long)dropped);
        cJSON_Delete(e->data);
        free(e);
    }
    return rc;
}

/** @brief May ctx publish on topic? Only on a topic it declared itself: 0, or AITBC_EFORBIDDEN
 *  (logged once per topic). */
int bus_check_owner(aitbc_plugin_ctx *ctx, const char *topic) {
    if (!topic || !topic[0]) return AITBC_EINVAL;
    pthread_mutex_lock(&g_lock);
    topic_rec *t = topic_get(topic, 1);
    int mine = t && t->declared && t->owner == ctx;
    int warn = t && !mine && !t->warned;
    if (warn) t->warned = 1;
    pthread_mutex_unlock(&g_lock);
    if (!t) return AITBC_ENOMEM;
    if (!mine) {
        if (warn)
            hlog(ctx && ctx->desc ? ctx->desc->name : NULL, AITBC_LOG_ERROR,
                 "publish on topic %s refused: a plugin publishes only on topics it declared "
                 "(bus_topic from init or start)",
                 topic);
        return AITBC_EFORBIDDEN;
    }
    return 0;
}

/** @brief Subscribe fn to topic ("*" = all topics); may be called at any time from any thread.
 *  owner: the plugin whose subscription it is (dropped by bus_drop_plugin), NULL for the host. */
int bus_subscribe_owned(aitbc_plugin_ctx *owner, const char *topic, aitbc_event_fn fn, void *user) {
    if (!topic || !topic[0] || !fn) return AITBC_EINVAL;
    char *name = strdup(topic);
    if (!name) return AITBC_ENOMEM;
    pthread_mutex_lock(&g_lock);
    size_t n = g_subs ? g_subs->n : 0;
    sub_list *l = malloc(sizeof *l + (n + 1) * sizeof(sub));
    if (!l) {
        pthread_mutex_unlock(&g_lock);
        free(name);
        return AITBC_ENOMEM;
    }
    l->refs = 1;
    l->n = n + 1;
    for (size_t i = 0; i < n; i++) {
        l->items[i] = g_subs->items[i];
        if (!(l->items[i].topic = strdup(g_subs->items[i].topic))) {
            while (i--)
                free(l->items[i].topic);
            pthread_mutex_unlock(&g_lock);
            free(l);
            free(name);
            return AITBC_ENOMEM;
        }
    }
    l->items[n] = (sub){.owner = owner, .topic = name, .fn = fn, .user = user};
    sub_list_release(g_subs);
    g_subs = l;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int bus_subscribe(const char *topic, aitbc_event_fn fn, void *user) {
    return bus_subscribe_owned(NULL, topic, fn, user);
}

/** @brief Remove every subscription of owner and wait until no delivery that could still call
 *  one of them is running: after this returns, none of owner's subscribers runs again. Called by
 *  the loader before the plugin's stop; never from a subscriber. */
void bus_drop_plugin(aitbc_plugin_ctx *owner) {
    pthread_mutex_lock(&g_lock);
    size_t n = g_subs ? g_subs->n : 0, keep = 0;
    sub_list *l = malloc(sizeof *l + n * sizeof(sub));
    int oom = !l;
    for (size_t i = 0; l && !oom && i < n; i++) {
        const sub *s = &g_subs->items[i];
        if (s->owner == owner) continue;
        l->items[keep] = *s;
        if (!(l->items[keep].topic = strdup(s->topic)))
            oom = 1;
        else
            keep++;
    }
    if (!oom) {
        l->refs = 1;
        l->n = keep;
        sub_list_release(g_subs);
        g_subs = l;
    } else { /* out of memory: keep the old list (its subscribers may still run) */
        while (l && keep--)
            free(l->items[keep].topic);
        free(l);
        hlog("bus", AITBC_LOG_ERROR, "out of memory dropping a plugin's subscriptions");
    }
    while (g_inflight && g_inflight != g_subs)
        pthread_cond_wait(&g_idle, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

/* Frees topics and subscriptions (after the dispatcher is gone). */
static void registry_clear(void) {
    pthread_mutex_lock(&g_lock);
    for (size_t b = 0; b < TOPIC_BUCKETS; b++) {
        while (g_topics[b]) {
            topic_rec *t = g_topics[b];
            g_topics[b] = t->next;
            free(t->name);
            free(t);
        }
    }
    sub_list_release(g_subs);
    g_subs = NULL;
    pthread_mutex_unlock(&g_lock);
}

/** @brief Refuse new publishes, deliver everything queued, join the dispatcher, forget topics and
 *  subscriptions. Do not call from a subscriber. */
void bus_stop(void) {
    pthread_mutex_lock(&g_lock);
    int started = g_started;
    g_running = 0;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    if (started) {
        pthread_join(g_thread, NULL);
        pthread_mutex_lock(&g_lock);
        g_started = 0;
        pthread_mutex_unlock(&g_lock);
        if (g_dropped)
            hlog("bus", AITBC_LOG_WARN, "%llu events were dropped (queue full)",
                 (unsigned long long)g_dropped);
    }
    registry_clear();
}
