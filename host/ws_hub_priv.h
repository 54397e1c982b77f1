/* Private to the hub (ws_hub.c, ws_queue.c): the connection, subscription and queue records,
 * and the queue primitives. Functions marked "lock held" expect the hub mutex taken. */
#ifndef AITBC_WS_HUB_PRIV_H
#define AITBC_WS_HUB_PRIV_H

#include "ws_internal.h"
#include <pthread.h>
#include <stdatomic.h>

typedef struct ws_event {
    atomic_size_t refs;
    char *topic;       /* for dropping on unsubscribe */
    char *head, *tail; /* {"method":"event","params":{"topic":T,"seq":  …  ,"data":D}} */
    size_t head_len, tail_len;
} ws_event;

typedef struct ws_msg {
    ws_event *ev; /* an event, or NULL for a reply */
    uint64_t seq;
    char *text; /* reply text (owned) when ev == NULL */
} ws_msg;

typedef struct ws_sub {
    char *topic;
    uint64_t seq; /* kept after unsubscribe so a seq is never reused on a connection */
    int active;
} ws_sub;

struct ws_conn {
    aitbc_principal who;
    void *wsi;
    ws_conn *prev, *next;
    int in_hub;
    ws_sub *subs;
    size_t nsubs, nactive;
    ws_msg *q; /* ring */
    size_t qcap, qhead, qlen;
    size_t qbytes;   /* frame bytes queued (a shared event counts whole for each holder) */
    int close_code;  /* nonzero: close decided */
    int close_drain; /* send what is queued before the close */
    int close_seen;  /* the service fn was told */
    char close_reason[64];
    int wake_pending;
    ws_conn *wake_next;
    char *wbuf; /* service thread only */
    size_t wcap;
    char *rbuf;
    size_t rlen, rcap;
    int rx_over; /* the message being assembled went over WS_MSG_MAX */
};

struct ws_hub {
    pthread_mutex_t lock;
    size_t queue_max, headroom;
    size_t queue_max_bytes; /* 0 = only the message count bounds a queue */
    ws_wake_fn wake;
    void *wake_arg;
    ws_conn *head;
    size_t count;
    ws_conn *wakes;
    atomic_size_t active_subs; /* lets publish skip rendering when nobody listens */
};

/* An event rendered once, shared (refcounted) by every queue holding it. */
ws_event *wsq_event_new(const char *topic, const cJSON *data);
void wsq_event_release(ws_event *ev);
void wsq_msg_release(ws_msg *m);
/* Bytes m takes in a queue's byte budget. */
size_t wsq_msg_bytes(const ws_msg *m);
/* lock held: 1 if a message of `bytes` still fits c's queue (count and bytes) */
int wsq_fits(const ws_hub *h, const ws_conn *c, size_t bytes);
/* lock held: append (0 or AITBC_ENOMEM), drop all, drop one topic's events */
int wsq_push(ws_hub *h, ws_conn *c, ws_msg m);
void wsq_drop(ws_conn *c);
void wsq_purge_topic(ws_conn *c, const char *topic);
/* lock held: queue c for the service thread / decide its close; 1 = call wsq_wake after unlock */
int wsq_mark_wake(ws_hub *h, ws_conn *c);
int wsq_decide_close(ws_hub *h, ws_conn *c, int code, const char *reason, int drain);
int wsq_overflow(ws_hub *h, ws_conn *c);
/* lock not held: call the hub's wake fn if needed */
void wsq_wake(ws_hub *h, int needed);
/* c is out of the hub: free it with everything it holds */
void wsq_conn_free(ws_conn *c);

#endif
