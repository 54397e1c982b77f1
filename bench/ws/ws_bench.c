/* WebSocket fan-out benchmark: starts the real aitbc-host (auth-apikey + wsprobe, through the
 * integration-test harness), connects N subscribers with the test WebSocket client, and measures
 *   - throughput: events published in chunks of CHUNK (one wsprobe request each); the next chunk
 *     goes out once every subscriber has received the previous one. Reports events/s and
 *     deliveries/s (events × subscribers).
 *   - latency: single events, one at a time; publish→receive per delivery from the event's t_us
 *     (CLOCK_MONOTONIC at publish, inside the host) to the client's receive time, p50/p99.
 * Usage: ws_bench [subscribers...]   (default: 100 1000). Prints one Markdown table row per N. */
#include "ws_test_plugin/ws_test_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Take `count` messages from every subscriber. */
static int receive_all(wsc **cs, int n, int count) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < count; k++) {
            char *m = wsc_recv(cs[i], 30000, NULL);
            if (!m) return -1;
            free(m);
        }
    return 0;
}

static int run(int subs, int total_events) {
    th_host *h = th_start(WST_PLUGINS, "websocket: { listen: \"127.0.0.1:0\", max_clients: 5000,"
                                       " queue_max: 4096, max_clients_per_key: 0,"
                                       " max_clients_per_account: 0 }\n");
    if (!h) return -1;
    wst_key admin, client;
    if (wst_admin_key(h, &admin) || wst_new_key(h, &admin, "client", &client)) return -1;
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

    /* Throughput. */
    const char *data =
        "{\"market\":\"AIT-BTC\",\"price\":\"0.00001234\",\"quantity\":\"12.5\",\"side\":\"buy\"}";
    int64_t t0 = wsc_now_us();
    for (int sent = 0; sent < total_events; sent += CHUNK) {
        if (wst_publish(h, &admin, "probe_public", data, CHUNK) || receive_all(cs, subs, CHUNK))
            return -1;
    }
    double secs = (double)(wsc_now_us() - t0) / 1e6;
    double eps = total_events / secs;

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
