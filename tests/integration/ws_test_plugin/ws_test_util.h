/* Helpers shared by the WebSocket integration tests (tests/integration/test_ws*.c): keys made
 * through the real auth-apikey admin API, events published through the wsprobe plugin, a raw
 * TCP socket for what a WebSocket library hides (status lines, pings), and message checks. */
#ifndef AITBC_WS_TEST_UTIL_H
#define AITBC_WS_TEST_UTIL_H

#include "harness.h"
#include <aitbc/json.h>
#include "ws_client.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Plugins every WS test host loads: the real auth backend (no rate limits, so a thousand
 * upgrades with one key pass) and the probe. */
#define WST_PLUGINS                                                                                \
    "  auth-apikey: { rate_limits: { client: { rps: 0 }, admin: { rps: 0 } },"                     \
    " failed_auth: { per_minute: 0 } }\n"                                                          \
    "  wsprobe: {}\n"

typedef struct wst_key {
    char api_key[160];
    char key_id[48];
    char address[48];
} wst_key;

/** The first admin key auth-apikey wrote to <data_dir>/admin.key. */
static inline int wst_admin_key(th_host *h, wst_key *out) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/admin.key", th_data_dir(h));
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    memset(out, 0, sizeof(*out));
    int ok = fgets(out->api_key, sizeof(out->api_key), f) != NULL;
    fclose(f);
    out->api_key[strcspn(out->api_key, "\r\n")] = '\0';
    return ok ? 0 : -1;
}

/** A new key of `role` ("client"/"admin") with its own custodial address. */
static inline int wst_new_key(th_host *h, const wst_key *admin, const char *role, wst_key *out) {
    char body[128];
    snprintf(body, sizeof(body), "{\"role\":\"%s\",\"label\":\"ws-test\"}", role);
    th_resp r;
    memset(out, 0, sizeof(*out));
    if (th_req(h, "POST", "/v1/admin/keys", admin->api_key, body, &r) != 0) return -1;
    int rc = -1;
    const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "api_key"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "key_id"));
    const char *a = cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "address"));
    if (r.status == 201 && k && id && a) {
        snprintf(out->api_key, sizeof(out->api_key), "%s", k);
        snprintf(out->key_id, sizeof(out->key_id), "%s", id);
        snprintf(out->address, sizeof(out->address), "%s", a);
        rc = 0;
    }
    th_resp_free(&r);
    return rc;
}

/** Publish `count` events on topic through wsprobe; data_json may be NULL. 0 on success. */
static inline int wst_publish(th_host *h, const wst_key *admin, const char *topic,
                              const char *data_json, int count) {
    size_t cap = (data_json ? strlen(data_json) : 0) + 256;
    char *body = malloc(cap);
    snprintf(body, cap, "{\"topic\":\"%s\",\"data\":%s,\"count\":%d}", topic,
             data_json ? data_json : "{}", count);
    th_resp r;
    int rc = th_req(h, "POST", "/v1/wsprobe/publish", admin->api_key, body, &r);
    free(body);
    if (rc == 0 && r.status != 200) {
        fprintf(stderr, "wsprobe publish: %ld %s\n", r.status, r.body);
        rc = -1;
    }
    th_resp_free(&r);
    return rc;
}

/** Send text on c and return the next message (a reply, since the caller is not subscribed
 *  to anything that publishes meanwhile). */
static inline cJSON *wst_call(wsc *c, const char *text) {
    if (wsc_send(c, text) != 0) return NULL;
    return wsc_recv_json(c, 5000);
}

/** The message's compact JSON text (static buffer) for assertions on exact shapes. */
static inline const char *wst_text(const cJSON *j) {
    static char buf[4096];
    char *t = j ? aitbc_json_print(j) : NULL;
    snprintf(buf, sizeof(buf), "%s", t ? t : "(null)");
    free(t);
    return buf;
}

/** params.topic / params.seq / params.data.<field> of an event message. */
static inline const char *wst_ev_topic(const cJSON *m) {
    return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "params"), "topic"));
}
static inline long wst_ev_seq(const cJSON *m) {
    const cJSON *s = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "params"), "seq");
    return cJSON_IsNumber(s) ? (long)s->valuedouble : -1;
}
static inline const cJSON *wst_ev_data(const cJSON *m, const char *field) {
    return cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "params"), "data"),
                               field);
}

/* ---- raw TCP, for what the WebSocket client hides ---- */

static inline int wst_tcp(int port) {
    return th_tcp(port);
}

/* wst_read modes: th_raw_read's */
enum {
    WST_UNTIL_EOF = TH_UNTIL_EOF,
    WST_HTTP_RESPONSE = TH_HTTP_RESPONSE,
    WST_FIRST_DATA = TH_FIRST_DATA
};

static inline long wst_read(int fd, char *buf, size_t cap, int timeout_ms, int mode) {
    return th_raw_read(fd, buf, cap, timeout_ms, mode);
}

/** Build one frame of n payload bytes (n < 65536) into out (n + 8 bytes), masked as RFC 6455
 *  requires of clients unless masked is 0. Returns its length. */
static inline size_t wst_frame(unsigned char *out, unsigned opcode, const void *data, size_t n,
                               int masked) {
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    const unsigned char *p = data;
    size_t h = 0;
    out[h++] = (unsigned char)(0x80 | opcode);
    unsigned char m = masked ? 0x80 : 0;
    if (n < 126) {
        out[h++] = (unsigned char)(m | n);
    } else {
        out[h++] = (unsigned char)(m | 126);
        out[h++] = (unsigned char)(n >> 8);
        out[h++] = (unsigned char)(n & 0xff);
    }
    if (masked) {
        memcpy(out + h, mask, 4);
        h += 4;
    }
    for (size_t i = 0; i < n; i++)
        out[h + i] = masked ? p[i] ^ mask[i % 4] : p[i];
    return h + n;
}

/** Send one masked frame of n < 65536 bytes. 0 on success. */
static inline int wst_send_frame(int fd, unsigned opcode, const void *data, size_t n) {
    unsigned char *frame = malloc(n + 8);
    if (!frame) return -1;
    size_t len = wst_frame(frame, opcode, data, n, 1);
    int rc = th_send_all(fd, frame, len);
    free(frame);
    return rc;
}

/** Send a WebSocket upgrade by hand; extra_headers are "Name: value\r\n" lines or "". */
static inline int wst_raw_upgrade(int fd, const char *path, const char *extra_headers) {
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     path, extra_headers);
    return send(fd, req, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

#endif
