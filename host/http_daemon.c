/* The libmicrohttpd daemon's lifecycle: listen (epoll thread pool, suspend/resume), report the
 * bound port, quiesce (stop accepting, release long-polls, wait for in-flight requests), stop.
 * The request pipeline itself lives in http_server.c. */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http_priv.h"

#define QUIESCE_WAIT_MS 10000
#define CONN_TIMEOUT_S 60
/* MHD 0.9.75 zeroes a connection's whole memory pool on every keep-alive reset, so its size is
 * CPU per request (16 KiB was ~25 k of ~66 k instructions of a GET /v1/account under callgrind).
 * The pool holds the request line, the headers (text and one record each) and the answer's
 * headers; bodies stream through it in pieces and never need to fit. 12 KiB still takes the
 * 8 KiB head docs/api.md promises (a 4 KiB query, cookies, a long User-Agent: test_http_edges);
 * 8 KiB took only ~4 KiB of such a head. */
#define CONN_POOL_BYTES ((size_t)12 * 1024)
/* Idempotency-Key answers are kept at least 24 h (API.md); older ones go hourly. */
#define IDEM_KEEP_MS ((int64_t)48 * 3600 * 1000)
#define IDEM_PURGE_EVERY_MS ((int64_t)3600 * 1000)

static struct MHD_Daemon *g_daemon;
static aitbc_timer *g_purge;
static aitbc_timer *g_log_flush; /* buffered access-log lines go out at least this often */
#define LOG_FLUSH_EVERY_MS 200
static MHD_socket g_listen_fd = MHD_INVALID_SOCKET;
static host_settings g_set;
static int g_port;

const host_settings *http_settings(void) {
    return &g_set;
}

int http_port(void) {
    return g_port;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    hlog("mhd", AITBC_LOG_DEBUG, "%s", line);
}

/* Enough connections for wrk-style load, well inside the fd limit. */
static unsigned connection_limit(void) {
    struct rlimit rl;
    unsigned limit = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        limit = rl.rlim_cur > 256 ? (unsigned)(rl.rlim_cur - 128) : (unsigned)(rl.rlim_cur / 2);
    return limit > 10000 ? 10000 : limit;
}

static void flush_log(void *arg) {
    (void)arg;
    hlog_flush();
}

static void purge_idempotency(void *arg) {
    (void)arg;
    idem_purge(IDEM_KEEP_MS);
}

int http_start(const host_settings *set) {
    if (g_daemon) return AITBC_EEXIST;
    g_set = *set;
    if (g_set.max_body_bytes == 0) g_set.max_body_bytes = 1024 * 1024;
    http_set_closing(0);
    int rc = http_ops_routes();
    if (rc != 0) return rc;
    /* The Idempotency-Key table; its migration is recorded, so a second call is a no-op. */
    if ((rc = idem_init()) != 0) {
        hlog("http", AITBC_LOG_ERROR, "cannot create the Idempotency-Key table");
        return rc;
    }
    if (!g_purge) g_purge = work_timer_add(NULL, IDEM_PURGE_EVERY_MS, purge_idempotency, NULL);
    if (!g_log_flush && g_set.http_access_log)
        g_log_flush = work_timer_add(NULL, LOG_FLUSH_EVERY_MS, flush_log, NULL);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
    const char *host = g_set.http_host[0] ? g_set.http_host : "127.0.0.1";
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai) {
        hlog("http", AITBC_LOG_ERROR, "cannot resolve http.listen host %s", host);
        return AITBC_EINVAL;
    }
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)g_set.http_port);
        flags |= MHD_USE_IPv6;
    } else {
        ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)g_set.http_port);
    }
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
    unsigned threads = g_set.http_threads > 0 ? (unsigned)g_set.http_threads : 4;
    if ((rc = defer_start()) != 0) return rc;
    if ((rc = guard_start(g_set.http_header_timeout_s)) != 0) {
        defer_stop();
        return rc;
    }
    g_daemon = MHD_start_daemon(
        flags, (uint16_t)g_set.http_port, NULL, NULL, http_on_access, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
        connection_limit(), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_POOL_BYTES, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        http_on_completed, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)g_set.http_max_conns_per_address,
        MHD_OPTION_NOTIFY_CONNECTION, guard_notify, NULL, MHD_OPTION_END);
    if (!g_daemon) {
        hlog("http", AITBC_LOG_ERROR, "cannot listen on %s:%d", host, g_set.http_port);
        guard_stop();
        defer_stop();
        return AITBC_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(g_daemon, MHD_DAEMON_INFO_BIND_PORT);
    g_port = di && di->port ? di->port : g_set.http_port;
    hlog("http", AITBC_LOG_INFO, "listening on %s:%d (%u threads, %s)", host, g_port, threads,
         flags & MHD_USE_EPOLL ? "epoll" : "poll");
    return 0;
}

void http_quiesce(void) {
    if (!g_daemon || http_set_closing(1)) return;
    if (g_purge) { /* before work_stop tears the timers down */
        work_timer_cancel(g_purge);
        g_purge = NULL;
    }
    if (g_log_flush) {
        work_timer_cancel(g_log_flush);
        g_log_flush = NULL;
    }
    g_listen_fd = MHD_quiesce_daemon(g_daemon);
    defer_shutdown();
    int64_t until = aitbc_mono_us() + (int64_t)QUIESCE_WAIT_MS * 1000;
    struct timespec nap = {0, 5 * 1000000L};
    while (http_inflight() > 0 && aitbc_mono_us() < until)
        nanosleep(&nap, NULL);
    int left = http_inflight();
    if (left > 0)
        hlog("http", AITBC_LOG_WARN, "%d request(s) still running after %d ms", left,
             QUIESCE_WAIT_MS);
}

void http_stop(void) {
    if (!g_daemon) return;
    http_quiesce();
    MHD_stop_daemon(g_daemon);
    g_daemon = NULL;
    if (g_listen_fd != MHD_INVALID_SOCKET) close(g_listen_fd);
    g_listen_fd = MHD_INVALID_SOCKET;
    guard_stop();
    defer_stop();
    http_routes_free();
    http_ops_free();
    hlog_flush();
    g_port = 0;
}
