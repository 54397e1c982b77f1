/* WebSocket fan-out benchmark: starts the real aitbc-host (auth-apikey + wsprobe, through the
 * integration-test harness), connects N subscribers with the test WebSocket client, and measures
 *   - throughput: events published in chunks of CHUNK (one wsprobe request each); the next chunk
 *     goes out once every subscriber has received the previous one. Reports events/s and
 *     deliveries/s (events × subscribers). The subscribers here are plain sockets that only
 *     count frames (rawsub below), so the figure is the host's, not the test client's.
 *   - latency: single events, one at a time; publish→receive per delivery from the event's t_us
 *     (CLOCK_MONOTONIC at publish, inside the host) to the client's receive time, p50/p99.
 * Usage: ws_bench [subscribers...]   (default: 100 1000). Prints one Markdown table row per N. */
#include "ws_test_plugin/ws_test_util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define CHUNK 500
#define LAT_EVENTS 200

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int subscribe_all(wsc **cs, int n) {
    for (int i = 0; i < n; i++)
        if (wsc_send(cs[i], "{\"method\":\"subscribe\",\"params\":[\"probe_public\"]}")) return -1;
    for (int i = 0; i < n; i++) {
        char *m = wsc_recv(cs[i], 30000, NULL);
        if (!m || !strstr(m, "\"subscribed\":[\"probe_public\"]")) {
            free(m);
            return -1;
        }
        free(m);
    }
    return 0;
}

/* ---- counting subscribers ----
 * The test client (ws_client.c, on lws) parses every byte and copies every message into a queue
 * for the test thread: about a microsecond per delivery, on the same two cores as the host. A
 * rawsub is a plain socket that skips each server frame by its length and counts it. */

typedef struct rawsub {
    int fd;
    long frames;           /* complete frames received (the subscribe answer is the first) */
    unsigned char hdr[10]; /* header of the frame being read */
    size_t hlen;
    uint64_t skip; /* payload bytes of the current frame still to come */
} rawsub;

static int rawsub_open(rawsub *r, int port, const char *api_key) {
    char hdr[256], buf[4096];
    const char *sub = "{\"method\":\"subscribe\",\"params\":[\"probe_public\"]}";
    memset(r, 0, sizeof(*r));
    r->fd = wst_tcp(port);
    snprintf(hdr, sizeof(hdr), "X-Api-Key: %s\r\n", api_key);
    if (r->fd < 0 || wst_raw_upgrade(r->fd, "/ws", hdr) ||
        wst_read(r->fd, buf, sizeof(buf), 30000, WST_HTTP_RESPONSE) <= 0 || !strstr(buf, " 101 ") ||
        wst_send_frame(r->fd, 0x1, sub, strlen(sub)))
        return -1;
    return fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
}

/* Server frames are unmasked: 2 header bytes, then 2 or 8 more for a longer payload. */
static void rawsub_feed(rawsub *r, const unsigned char *p, size_t n) {
    while (n) {
        if (r->skip) {
            size_t k = r->skip < n ? (size_t)r->skip : n;
            r->skip -= k;
            p += k;
            n -= k;
            r->frames += r->skip == 0;
            continue;
        }
        r->hdr[r->hlen++] = *p++;
        n--;
        unsigned l7 = r->hlen >= 2 ? r->hdr[1] & 0x7fu : 0;
        size_t need = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
        if (r->hlen < need) continue;
        uint64_t len = l7;
        if (l7 >= 126) {
            len = 0;
            for (size_t i = 2; i < need; i++)
                len = len << 8 | r->hdr[i];
        }
        r->hlen = 0;
        r->skip = len;
        r->frames += len == 0;
    }
}

/* Read until every subscriber holds `want` frames. */
static int rawsub_wait(int ep, rawsub *rs, int n, long want) {
    static unsigned char buf[1 << 18];
    int pending = 0;
    for (int i = 0; i < n; i++)
        pending += rs[i].frames < want;
    int64_t deadline = wsc_now_us() + 60 * 1000000LL;
    while (pending > 0) {
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 1000);
        if (k < 0 && errno != EINTR) return -1;
        if (wsc_now_us() > deadline) return -1;
        for (int i = 0; i < k; i++) {
            rawsub *r = evs[i].data.ptr;
            ssize_t got = recv(r->fd, buf, sizeof(buf), 0);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return -1;
            if (got < 0) continue;
            long before = r->frames;
            rawsub_feed(r, buf, (size_t)got);
            pending -= before < want && r->frames >= want;
        }
    }
    return 0;
}

static double throughput(th_host *h, const wst_key *admin, const wst_key *client, int subs,
                         int total_events, const char *data) {
    rawsub *rs = calloc((size_t)subs, sizeof(*rs));
    int ep = epoll_create1(0);
    double eps = -1;
    for (int i = 0; i < subs; i++) {
        if (rawsub_open(&rs[i], th_ws_port(h), client->api_key)) goto out;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &rs[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, rs[i].fd, &ev)) goto out;
    }
    if (rawsub_wait(ep, rs, subs, 1)) goto out; /* every subscribe answered */
    int64_t t0 = wsc_now_us();
    for (int sent = 0; sent < total_events; sent += CHUNK)
        if (wst_publish(h, admin, "probe_public", data, CHUNK) ||
            rawsub_wait(ep, rs, subs, 1 + sent + CHUNK))
            goto out;
    eps = total_events / ((double)(wsc_now_us() - t0) / 1e6);
out:
    for (int i = 0; i < subs; i++)
        if (rs[i].fd > 0) close(rs[i].fd);
    close(ep);
    free(rs);
    return eps;
}

static int run(int subs, int total_events) {
    th_host *h = th_start(WST_PLUGINS, "websocket: { listen: \"127.0.0.1:0\", max_clients: 5000,"
                                       " queue_max: 4096, max_clients_per_key: 0,"
                                       " max_clients_per_account: 0 }\n");
    if (!h) return -1;
    wst_key admin, client;
    if (wst_admin_key(h, &admin) || wst_new_key(h, &admin, "client", &client)) return -1;
    const char *data =
        "{\"market\":\"AIT-BTC\",\"price\":\"0.00001234\",\"quantity\":\"12.5\",\"side\":\"buy\"}";
    double eps = throughput(h, &admin, &client, subs, total_events, data);
    if (eps < 0) return -1;

    int port = th_ws_port(h);
    wsc_loop *l = wsc_loop_new();
    wsc **cs = calloc((size_t)subs, sizeof(*cs));
    for (int i = 0; i < subs; i++)
        cs[i] = wsc_open(l, port, &(wsc_opts){.api_key = client.api_key});
    for (int i = 0; i < subs; i++)
        if (!wsc_wait_open(cs[i], 30000)) {
            fprintf(stderr, "connection %d failed: %s\n", i, wsc_error(cs[i]));
            return -1;
        }
    if (subscribe_all(cs, subs)) return -1;

    /* Latency. */
    size_t nlat = (size_t)subs * LAT_EVENTS, k = 0;
    int64_t *lat = malloc(nlat * sizeof(*lat));
    for (int e = 0; e < LAT_EVENTS; e++) {
        if (wst_publish(h, &admin, "probe_public", data, 1)) return -1;
        for (int i = 0; i < subs; i++) {
            int64_t at;
            char *m = wsc_recv(cs[i], 30000, &at);
            cJSON *j = m ? cJSON_Parse(m) : NULL;
            free(m);
            const cJSON *t = wst_ev_data(j, "t_us");
            if (!cJSON_IsNumber(t)) return -1;
            lat[k++] = at - (int64_t)t->valuedouble;
            cJSON_Delete(j);
        }
    }
    qsort(lat, k, sizeof(*lat), cmp_i64);
    printf("| %d | %d | %.0f | %.0f | %.2f | %.2f |\n", subs, total_events, eps, eps * subs,
           lat[k / 2] / 1000.0, lat[k * 99 / 100] / 1000.0);
    fflush(stdout);
    free(lat);
    wsc_loop_free(l);
    free(cs);
    th_stop(h);
    th_free(h);
    return 0;
}

int main(int argc, char **argv) {
    printf("| subscribers | events | events/s | deliveries/s | p50 ms | p99 ms |\n");
    printf("|---:|---:|---:|---:|---:|---:|\n");
    int defaults[] = {100, 1000};
    int n = argc > 1 ? argc - 1 : 2;
    for (int i = 0; i < n; i++) {
        int subs = argc > 1 ? atoi(argv[i + 1]) : defaults[i];
        if (subs <= 0 || run(subs, subs >= 1000 ? 5000 : 20000)) {
            fprintf(stderr, "ws_bench: run with %d subscribers failed\n", subs);
            return 1;
        }
    }
    return 0;
}
