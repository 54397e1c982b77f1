/* Integration test of the marketplace with the real job plugins (auth-apikey, client, miner):
 * a miner registered with its own Ed25519 key sells hours, a client buys them, the `offers`
 * topic reaches a WebSocket subscriber; while the miner drains or falls silent (DRAINING or
 * OFFLINE per miners@1) the timer pauses the trade and, once it is back, refunds the paused time
 * pro rata; an OFFLINE seller can neither sell nor be bought from until it heartbeats again; an
 * offer of hardware the miner never registered is refused naming the field. Ends with
 * conservation and --verify-chain. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include <aitbc/util.h>
#include "mk_th.h"
#include "ws_client.h"

#define TRADES "/v1/marketplace/trades"
#define OFFERS "/v1/marketplace/offers"
#define U(x) ((int64_t)(x)*1000000)

static char g_admin[200], g_client_key[200], g_client[48], g_miner_key[200], g_miner[48];
static unsigned char g_sk[64];
static char g_pk_hex[65];

static long beat_as(const char *status) {
    char path[160], body[64];
    snprintf(path, sizeof path, "/v1/miners/%s/heartbeat", g_miner);
    snprintf(body, sizeof body, "{\"status\":\"%s\"}", status);
    th_resp r;
    long st = mk_req("POST", path, g_miner_key, body, &r);
    th_resp_free(&r);
    return st;
}

static long beat(void) {
    return beat_as("ONLINE");
}

static int register_miner(void) {
    unsigned char pk[32], sig[64];
    crypto_sign_keypair(pk, g_sk);
    aitbc_hex_encode(pk, 32, g_pk_hex);
    char text[200], sig64[100], body[1024];
    int64_t ts = aitbc_now_ms() / 1000;
    snprintf(text, sizeof text, "aitbc-register\n%s\n%" PRId64, g_pk_hex, ts);
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), g_sk);
    aitbc_b64url_encode(sig, sizeof sig, sig64);
    snprintf(body, sizeof body,
             "{\"public_key\":\"%s\",\"timestamp\":%" PRId64 ",\"signature\":\"%s\","
             "\"capabilities\":{\"gpus\":[{\"name\":\"RTX 4090\",\"memory_mb\":24000}],"
             "\"models\":[\"llama3\"],\"job_types\":[\"inference\"],\"region\":\"eu\"},"
             "\"concurrency\":1,\"unit_price\":\"0.001\",\"unit_type\":\"token\"}",
             g_pk_hex, ts, sig64);
    th_resp r;
    memset(&r, 0, sizeof r);
    if (th_req(H, "POST", "/v1/miners/register", NULL, body, &r) != 0 || r.status != 201) {
        fprintf(stderr, "register: %ld %s\n", r.status, r.body ? r.body : "");
        th_resp_free(&r);
        return -1;
    }
    snprintf(g_miner_key, sizeof g_miner_key, "%s", jstr(r.json, "api_key"));
    snprintf(g_miner, sizeof g_miner, "%s", jstr(r.json, "address"));
    th_resp_free(&r);
    return 0;
}

static int group_setup(void **st) {
    (void)st;
    if (sodium_init() < 0) return -1;
    H = th_start("  auth-apikey: { rate_limits: { client: {rps: 0, burst: 1}, miner: {rps: 0, "
                 "burst: 1}, admin: {rps: 0, burst: 1} }, failed_auth: { per_minute: 0 } }\n"
                 "  chain: { block_interval_ms: 50, max_empty_interval_s: 0 }\n"
                 "  explorer: {}\n"
                 "  client: { ttl_sweep_ms: 50 }\n"
                 "  miner: { heartbeat_interval_s: 1, lease_s: 2, sweep_ms: 50 }\n"
                 "  marketplace: { hour_ms: 500, tick_ms: 20 }\n",
                 "websocket: { listen: \"127.0.0.1:0\" }\n");
    if (!H) return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/admin.key", th_data_dir(H));
    FILE *f = fopen(path, "r");
    if (!f || !fgets(g_admin, sizeof g_admin, f)) {
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    g_admin[strcspn(g_admin, "\r\n")] = '\0';
    mk_admin_key = g_admin;
    th_resp r;
    memset(&r, 0, sizeof r);
    if (th_req(H, "POST", "/v1/admin/keys", g_admin, "{\"role\":\"client\",\"label\":\"buyer\"}",
               &r) != 0 ||
        r.status != 201)
        return -1;
    snprintf(g_client_key, sizeof g_client_key, "%s", jstr(r.json, "api_key"));
    snprintf(g_client, sizeof g_client, "%s", jstr(r.json, "address"));
    th_resp_free(&r);
    return register_miner();
}

static int group_teardown(void **st) {
    (void)st;
    mk_stop();
    return 0;
}

typedef struct watch {
    char path[160];
    const char *status;
} watch;

static int trade_is(void *arg) {
    watch *w = arg;
    th_resp r;
    int yes = mk_req("GET", w->path, g_client_key, NULL, &r) == 200 &&
              strcmp(jstr(r.json, "status"), w->status) == 0;
    th_resp_free(&r);
    return yes;
}

/* Is the watched trade paused (1) or running (0), as w->status says ("paused"/"running")? */
static int trade_paused_is(void *arg) {
    watch *w = arg;
    th_resp r;
    int paused = mk_req("GET", w->path, g_client_key, NULL, &r) == 200 &&
                 jstr(r.json, "paused_since") != NULL;
    th_resp_free(&r);
    return paused == (strcmp(w->status, "paused") == 0);
}

static int64_t trade_money(const char *path, const char *key) {
    th_resp r;
    assert_int_equal(mk_req("GET", path, g_client_key, NULL, &r), 200);
    int64_t v = mk_units(jstr(r.json, key));
    th_resp_free(&r);
    return v;
}

/* Next `offers` event about offer_id, skipping others. NULL on timeout. Caller frees. */
static cJSON *offer_event(wsc *c, const char *offer_id) {
    for (int i = 0; i < 20; i++) {
        cJSON *m = wsc_recv_json(c, 5000);
        if (!m) return NULL;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "params");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "data");
        if (jstr(p, "topic") && strcmp(jstr(p, "topic"), "offers") == 0 && jstr(d, "offer_id") &&
            strcmp(jstr(d, "offer_id"), offer_id) == 0) {
            cJSON *out = cJSON_Duplicate(d, 1);
            cJSON_Delete(m);
            return out;
        }
        cJSON_Delete(m);
    }
    return NULL;
}

static void test_offline_seller_refund(void **st) {
    (void)st;
    wsc_loop *loop = wsc_loop_new();
    assert_non_null(loop);
    wsc *ws = wsc_connect(loop, th_ws_port(H), g_client_key, 5000);
    assert_true(wsc_is_open(ws));
    wsc_send(ws, "{\"id\":1,\"method\":\"subscribe\",\"params\":[\"offers\"]}");
    cJSON *ack = wsc_recv_json(ws, 5000);
    assert_non_null(ack);
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(ack, "result"), "subscribed");
    assert_int_equal(cJSON_GetArraySize(sub), 1);
    cJSON_Delete(ack);

    mk_mint(g_client, "150");
    assert_int_equal(beat(), 200);
    cJSON *o = mk_offer(g_miner_key, "RTX 4090", 24, "eu", "1", 120);
    const char *offer_id = jstr(o, "offer_id");
    assert_string_equal(jstr(o, "provider"), g_miner);
    cJSON *ev = offer_event(ws, offer_id);
    assert_non_null(ev);
    assert_string_equal(jstr(ev, "status"), "OPEN");
    assert_int_equal(jint(ev, "hours_remaining"), 120);
    cJSON_Delete(ev);

    char body[200];
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":100}", offer_id);
    th_resp r;
    assert_int_equal(mk_req("POST", TRADES, g_client_key, body, &r), 201);
    watch w = {.status = "CANCELED"};
    snprintf(w.path, sizeof w.path, TRADES "/%s", jstr(r.json, "trade_id"));
    th_resp_free(&r);
    ev = offer_event(ws, offer_id);
    assert_non_null(ev);
    assert_int_equal(jint(ev, "hours_remaining"), 20);
    cJSON_Delete(ev);

    /* DRAINING: the trade pauses; back ONLINE, the paused time goes back to the buyer. */
    watch p = w;
    p.status = "paused";
    assert_int_equal(beat_as("DRAINING"), 200);
    assert_true(th_wait_until(trade_paused_is, &p, 5000));
    assert_int_equal(trade_money(w.path, "refunded"), 0);
    assert_int_equal(beat(), 200);
    p.status = "running";
    assert_true(th_wait_until(trade_paused_is, &p, 5000));
    int64_t drained_refund = trade_money(w.path, "refunded");
    assert_true(drained_refund > 0);

    /* No more heartbeats: 3 missed intervals make the miner OFFLINE, and the trade pauses. */
    p.status = "paused";
    assert_true(th_wait_until(trade_paused_is, &p, 20000));
    int64_t av, lk;
    /* OFFLINE: no new offer, no purchase from it. */
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":1}", offer_id);
    mk_expect_error("POST", TRADES, g_client_key, body, 409, "conflict", "offer_id");
    mk_expect_error("POST", OFFERS, g_miner_key,
                    "{\"gpu_model\":\"X\",\"gpu_memory_gb\":1,\"gpu_count\":1,\"models\":[],"
                    "\"region\":\"eu\",\"price_per_hour\":\"1\",\"hours_available\":1}",
                    409, "conflict", NULL);
    /* Back online: the time it was OFFLINE is refunded, and selling works again. */
    assert_int_equal(beat(), 200);
    p.status = "running";
    assert_true(th_wait_until(trade_paused_is, &p, 5000));
    assert_true(trade_money(w.path, "refunded") > drained_refund);
    cJSON_Delete(mk_offer(g_miner_key, "RTX 4090", 24, "eu", "1", 1));
    /* Only hardware it registered: one RTX 4090 with 24 GB in eu, serving llama3. */
    static const char *const misfits[][2] = {
        {"\"gpu_model\":\"H100\",\"gpu_memory_gb\":24,\"gpu_count\":1,\"models\":[],"
         "\"region\":\"eu\"",
         "gpu_model"},
        {"\"gpu_model\":\"RTX 4090\",\"gpu_memory_gb\":48,\"gpu_count\":1,\"models\":[],"
         "\"region\":\"eu\"",
         "gpu_memory_gb"},
        {"\"gpu_model\":\"rtx 4090\",\"gpu_memory_gb\":24,\"gpu_count\":2,\"models\":[],"
         "\"region\":\"eu\"",
         "gpu_count"},
        {"\"gpu_model\":\"RTX 4090\",\"gpu_memory_gb\":24,\"gpu_count\":1,\"models\":[],"
         "\"region\":\"us\"",
         "region"},
        {"\"gpu_model\":\"RTX 4090\",\"gpu_memory_gb\":24,\"gpu_count\":1,"
         "\"models\":[\"llama3\",\"sdxl\"],\"region\":\"eu\"",
         "models"},
    };
    for (size_t i = 0; i < sizeof misfits / sizeof misfits[0]; i++) {
        char offer[400];
        snprintf(offer, sizeof offer, "{%s,\"price_per_hour\":\"1\",\"hours_available\":1}",
                 misfits[i][0]);
        mk_expect_error("POST", OFFERS, g_miner_key, offer, 400, "invalid_argument", misfits[i][1]);
    }

    /* The owner ends the offer: the seller keeps its share of the time it could work. */
    char del[200];
    snprintf(del, sizeof del, OFFERS "/%s", offer_id);
    assert_int_equal(mk_req("DELETE", del, g_miner_key, NULL, &r), 200);
    th_resp_free(&r);
    assert_true(th_wait_until(trade_is, &w, 5000));
    int64_t released = trade_money(w.path, "released");
    int64_t refunded = trade_money(w.path, "refunded");
    assert_int_equal(released + refunded, U(100));
    mk_balance(g_client, &av, &lk);
    assert_int_equal(av, U(150) - U(100) + refunded);
    assert_int_equal(lk, 0);
    mk_balance(g_miner, &av, &lk);
    assert_int_equal(av, released);

    int64_t total = 0;
    const char *who[] = {g_client, g_miner};
    for (int i = 0; i < 2; i++) {
        mk_balance(who[i], &av, &lk);
        total += av + lk;
    }
    assert_int_equal(total, mk_minted());
    assert_int_equal(mk_verify_chain(), 0);
    cJSON_Delete(o);
    wsc_loop_free(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_seller_refund),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
