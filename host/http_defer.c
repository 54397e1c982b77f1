/* Long-poll: requests parked with api->defer() wait, connection suspended and no thread held,
 * until api->wake(key) or their deadline; then MHD calls the access handler again and the
 * server runs the plugin's retry callback.
 *
 * Registration happens inside http_defer (while the handler still runs) so a wake() that lands
 * between defer() and the suspension is not lost: such a request is marked "woken" and the
 * server resumes it right after suspending it. park_state: 1 registered (handler running),
 * 2 suspended and waiting, 3 woken before it was suspended. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "http_priv.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static aitbc_request *g_head; /* every registered request; wake scans by key */
static size_t g_count;
static int g_closing;
static int g_thread_run;
static pthread_t g_thread;

static void unlink_locked(aitbc_request *req) {
    if (req->pprev)
        req->pprev->pnext = req->pnext;
    else
        g_head = req->pnext;
    if (req->pnext) req->pnext->pprev = req->pprev;
    req->pnext = req->pprev = NULL;
    g_count--;
}

/* Take req out of the registry as woken (or timed out). Returns 1 if the caller must resume its
 * connection now (it is suspended); 0 if the server will see the flag right after suspending. */
static int release_locked(aitbc_request *req, int timed_out) {
    unlink_locked(req);
    req->timed_out = timed_out;
    if (req->park_state == 2) {
        req->park_state = 0;
        req->phase = PH_RESUMED;
        return 1;
    }
    req->park_state = 3;
    return 0;
}

void http_defer(aitbc_request *req, const char *key, int64_t deadline_ms, aitbc_retry_fn retry,
                void *user) {
    if (!req || !retry || req->responded || req->deferred || req->phase == PH_DONE) {
        hlog("http", AITBC_LOG_ERROR, "request %s: defer refused (already answered or deferred)",
             req ? req->id : "?");
        return;
    }
    free(req->wake_key);
    req->wake_key = key ? strdup(key) : NULL;
    req->deadline_ms = deadline_ms;
    req->retry = retry;
    req->retry_user = user;
    req->timed_out = 0;
    req->deferred = 1;
    pthread_mutex_lock(&g_lock);
    if (g_closing) {
        /* Shutting down: the server retries at once with timed_out = 1. */
        req->park_state = 3;
        req->timed_out = 1;
        pthread_mutex_unlock(&g_lock);
        return;
    }
    req->park_state = 1;
    req->pprev = NULL;
    req->pnext = g_head;
    if (g_head) g_head->pprev = req;
    g_head = req;
    g_count++;
    pthread_cond_signal(&g_cond); /* a new, maybe earlier deadline */
    pthread_mutex_unlock(&g_lock);
}

void defer_cancel(aitbc_request *req) {
    pthread_mutex_lock(&g_lock);
    if (req->park_state == 1 || req->park_state == 2) unlink_locked(req); /* still registered */
    req->park_state = 0;
    req->deferred = 0;
    req->retry = NULL;
    pthread_mutex_unlock(&g_lock);
}

void defer_park(aitbc_request *req) {
    /* Suspend first: resuming is only valid for a suspended connection. */
    MHD_suspend_connection(req->conn);
    pthread_mutex_lock(&g_lock);
    int resume_now = 0;
    if (req->park_state == 3) {
        req->park_state = 0;
        req->phase = PH_RESUMED;
        resume_now = 1;
    } else {
        req->park_state = 2;
        req->phase = PH_PARKED;
    }
    pthread_mutex_unlock(&g_lock);
    if (resume_now) MHD_resume_connection(req->conn);
}

/* Resume outside the lock: MHD takes its own locks in resume. Collected requests are out of the
 * registry and suspended, so nobody else can touch or free them until they resume. */
static void resume_all(aitbc_request **list, size_t n) {
    for (size_t i = 0; i < n; i++)
        MHD_resume_connection(list[i]->conn);
}

/* Release every registered request matching (key, or everything when key is NULL and all is
 * set, or deadline <= now when now_ms > 0). */
static void release_matching(const char *key, int all, int64_t now_ms, int timed_out) {
    aitbc_request *stack_list[64];
    aitbc_request **list = stack_list;
    size_t n = 0, cap = 64;
    pthread_mutex_lock(&g_lock);
    aitbc_request *req = g_head;
    while (req) {
        aitbc_request *next = req->pnext;
        int hit = all || (key && req->wake_key && strcmp(req->wake_key, key) == 0) ||
                  (now_ms > 0 && req->deadline_ms <= now_ms);
        if (hit && release_locked(req, timed_out)) {
            if (n == cap) {
                size_t ncap = cap * 2;
                aitbc_request **grown = malloc(ncap * sizeof *grown);
                if (!grown) {
                    /* Resume what we have under the lock rather than lose a request. */
                    resume_all(list, n);
                    n = 0;
                } else {
                    memcpy(grown, list, n * sizeof *list);
                    if (list != stack_list) free(list);
                    list = grown;
                    cap = ncap;
                }
            }
            list[n++] = req;
        }
        req = next;
    }
    pthread_mutex_unlock(&g_lock);
    resume_all(list, n);
    if (list != stack_list) free(list);
}

void http_wake(const char *key) {
    if (key && !scope_hold_wake(key)) release_matching(key, 0, 0, 0);
}

static int64_t earliest_deadline_locked(void) {
    int64_t best = INT64_MAX;
    for (aitbc_request *r = g_head; r; r = r->pnext)
        if (r->deadline_ms < best) best = r->deadline_ms;
    return best;
}

static void *deadline_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_lock);
    while (g_thread_run) {
        int64_t next = earliest_deadline_locked();
        int64_t now = aitbc_now_ms();
        if (next <= now) {
            pthread_mutex_unlock(&g_lock);
            release_matching(NULL, 0, now, 1);
            pthread_mutex_lock(&g_lock);
            continue;
        }
        /* At most one second at a time, so clock jumps are noticed. */
        int64_t until = next == INT64_MAX || next - now > 1000 ? now + 1000 : next;
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000L};
        pthread_cond_timedwait(&g_cond, &g_lock, &ts);
    }
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

int defer_start(void) {
    pthread_mutex_lock(&g_lock);
    g_closing = 0;
    g_thread_run = 1;
    pthread_mutex_unlock(&g_lock);
    if (pthread_create(&g_thread, NULL, deadline_main, NULL) != 0) {
        g_thread_run = 0;
        return AITBC_EIO;
    }
    return 0;
}

void defer_shutdown(void) {
    pthread_mutex_lock(&g_lock);
    g_closing = 1;
    pthread_mutex_unlock(&g_lock);
    release_matching(NULL, 1, 0, 1);
}

int defer_closing(void) {
    pthread_mutex_lock(&g_lock);
    int c = g_closing;
    pthread_mutex_unlock(&g_lock);
    return c;
}

size_t defer_parked(void) {
    pthread_mutex_lock(&g_lock);
    size_t n = g_count;
    pthread_mutex_unlock(&g_lock);
    return n;
}

void defer_stop(void) {
    pthread_mutex_lock(&g_lock);
    int running = g_thread_run;
    g_thread_run = 0;
    pthread_cond_signal(&g_cond);
    pthread_mutex_unlock(&g_lock);
    if (running) pthread_join(g_thread, NULL);
}
