/* Fair share of HTTP connections: a deadline for request headers. Every connection gets
 * http.header_timeout_s from its accept (and again after each answer, for the next request on a
 * kept-alive connection) to deliver a complete request head; a connection still sending its head
 * then is shut down, so a peer trickling header bytes cannot hold a slot for long. (MHD's own
 * timeout is an idle timeout, reset by every byte.) The per-address connection cap is MHD's
 * MHD_OPTION_PER_IP_CONNECTION_LIMIT, set in http_daemon.c.
 *
 * Threads: MHD's threads call the notify/arm/disarm functions; one guard thread scans. The
 * socket is only shut down (never closed) here, under the lock that MHD's "closed" notification
 * takes before MHD closes the socket, so the descriptor is always the connection's. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "http_priv.h"

typedef struct guard_conn {
    int fd;
    int64_t deadline_ms; /* 0: head complete, nothing to enforce */
    struct guard_conn *prev, *next;
} guard_conn;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static guard_conn *g_head;
static int64_t g_timeout_ms;
static int g_run;
static pthread_t g_thread;
static unsigned long g_cut; /* connections shut down for a late head */

void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                  enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = NULL;
        if (g_timeout_ms <= 0) return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        guard_conn *g = ci ? calloc(1, sizeof *g) : NULL;
        if (!g) return;
        g->fd = ci->connect_fd;
        g->deadline_ms = aitbc_mono_ms() + g_timeout_ms;
        pthread_mutex_lock(&g_lock);
        g->next = g_head;
        if (g_head) g_head->prev = g;
        g_head = g;
        pthread_mutex_unlock(&g_lock);
        *socket_context = g;
        return;
    }
    guard_conn *g = *socket_context;
    if (!g) return;
    pthread_mutex_lock(&g_lock);
    if (g->prev)
        g->prev->next = g->next;
    else
        g_head = g->next;
    if (g->next) g->next->prev = g->prev;
    pthread_mutex_unlock(&g_lock);
    free(g);
    *socket_context = NULL;
}

static guard_conn *of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void guard_head_done(struct MHD_Connection *conn) {
    guard_conn *g = of(conn);
    if (!g) return;
    pthread_mutex_lock(&g_lock);
    g->deadline_ms = 0;
    pthread_mutex_unlock(&g_lock);
}

void guard_next_head(struct MHD_Connection *conn) {
    guard_conn *g = of(conn);
    if (!g) return;
    pthread_mutex_lock(&g_lock);
    g->deadline_ms = aitbc_mono_ms() + g_timeout_ms;
    pthread_mutex_unlock(&g_lock);
}

static void *guard_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_lock);
    while (g_run) {
        int64_t now = aitbc_mono_ms();
        for (guard_conn *g = g_head; g; g = g->next) {
            if (g->deadline_ms && g->deadline_ms <= now) {
                g->deadline_ms = 0;
                shutdown(g->fd, SHUT_RDWR);
                if (g_cut++ % 1000 == 0)
                    hlog("http", AITBC_LOG_WARN,
                         "closed a connection whose request head took over %lld ms (%lu so far)",
                         (long long)g_timeout_ms, g_cut);
            }
        }
        /* A quarter of the timeout between scans: a late head is cut within 1.25 × the limit. */
        int64_t step = g_timeout_ms / 4 > 0 ? g_timeout_ms / 4 : 1;
        struct timespec until = aitbc_timespec_in(CLOCK_REALTIME, step);
        pthread_cond_timedwait(&g_cond, &g_lock, &until);
    }
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

int guard_start(int header_timeout_s) {
    g_timeout_ms = (int64_t)header_timeout_s * 1000;
    if (g_timeout_ms <= 0) return 0;
    g_run = 1;
    if (pthread_create(&g_thread, NULL, guard_main, NULL) != 0) {
        g_run = 0;
        return AITBC_EIO;
    }
    return 0;
}

void guard_stop(void) {
    pthread_mutex_lock(&g_lock);
    int was = g_run;
    g_run = 0;
    pthread_cond_signal(&g_cond);
    pthread_mutex_unlock(&g_lock);
    if (was) pthread_join(g_thread, NULL);
}
