/* Idempotency-Key across a crash: keyed transfers from several clients at once, the host killed
 * with SIGKILL in the middle, restarted on the same data, and every key that was sent retried.
 * Each retry must be answered (2xx, the first answer if the client saw one) and each key must
 * move money exactly once: the answer commits with the work, so no crash leaves a key that ran
 * but has no answer ("in progress" forever, or run again after a takeover). */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define ADMIN                                                                                      \
    "ait1"                                                                                         \
    "00000000000000000000000000000000000000a1"
#define BOB                                                                                        \
    "ait1"                                                                                         \
    "00000000000000000000000000000000000000b0"
#define PLUGINS                                                                                    \
    "  auth-static: { keys: [ {key: \"k-admin\", role: admin, address: \"" ADMIN "\"} ] }\n"       \
    "  chain: { genesis: { accounts: [\"" ADMIN "\", \"" BOB "\"] } }\n"                           \
    "  explorer: {}\n"

#define CLIENTS 6
#define ROUNDS 3
#define PER_CLIENT_MAX 400
#define ANSWERS_BEFORE_KILL 60
#define TRANSFER_BODY "{\"to\":\"" BOB "\",\"asset\":\"AIT\",\"amount\":\"1\"}"

typedef struct sent_key {
    char key[48];
    char hash[80]; /* the answer the client saw before the crash, or "" */
} sent_key;

typedef struct client {
    th_host *host;
    int round, index;
    sent_key sent[PER_CLIENT_MAX];
    int nsent;
    pthread_t thread;
} client;

static atomic_int g_answers;

static const char *hash_of(const th_resp *r) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->json, "hash"));
}

static int transfer(th_host *h, const char *key, th_resp *r) {
    char header[80];
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    const char *headers[] = {header, NULL};
    return th_req_ex(h, "POST", "/v1/transfers", "k-admin", TRANSFER_BODY, headers, r);
}

/* Sends keyed transfers until the host stops answering. A key counts as sent before the request
 * goes out: the crash may land before, during or after its work. */
static void *client_main(void *arg) {
    client *c = arg;
    while (c->nsent < PER_CLIENT_MAX) {
        sent_key *s = &c->sent[c->nsent++];
        snprintf(s->key, sizeof s->key, "crash-%d-%d-%d", c->round, c->index, c->nsent);
        th_resp r;
        memset(&r, 0, sizeof r);
        if (transfer(c->host, s->key, &r) != 0 || r.status == 0) {
            th_resp_free(&r); /* the host died mid-request: whatever was kept */
            break;
        }
        if (r.status == 201 && hash_of(&r)) {
            snprintf(s->hash, sizeof s->hash, "%s", hash_of(&r));
            atomic_fetch_add(&g_answers, 1);
        }
        th_resp_free(&r);
    }
    return NULL;
}

static int enough_answers(void *arg) {
    return atomic_load(&g_answers) >= *(int *)arg;
}

static long long bob_balance(th_host *h) {
    th_resp r;
    assert_int_equal(th_req(h, "GET", "/v1/explorer/address/" BOB, "k-admin", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    const cJSON *bal = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r.json, "balances"), "AIT");
    assert_non_null(cJSON_GetStringValue(bal));
    long long v = strtoll(cJSON_GetStringValue(bal), NULL, 10);
    th_resp_free(&r);
    return v;
}

/* Every key sent before the crash, retried on the restarted host: answered 201 once, with the
 * first answer when the client had seen it. Returns how many keys there were. */
static int retry_all(th_host *h, client *clients) {
    int keys = 0;
    for (int i = 0; i < CLIENTS; i++) {
        for (int k = 0; k < clients[i].nsent; k++) {
            sent_key *s = &clients[i].sent[k];
            th_resp r;
            assert_int_equal(transfer(h, s->key, &r), 0);
            if (r.status != 201)
                fail_msg("key %s after the crash: %ld %s", s->key, r.status, r.body);
            if (s->hash[0]) assert_string_equal(hash_of(&r), s->hash);
            th_resp_free(&r);
            keys++;
        }
    }
    return keys;
}

static void every_key_runs_once_across_kill_9(void **state) {
    (void)state;
    th_host *h = th_start(PLUGINS, NULL);
    assert_non_null(h);
    th_resp r;
    const char *mint_key[] = {"Idempotency-Key: crash-mint", NULL};
    assert_int_equal(th_req_ex(h, "POST", "/v1/admin/mint", "k-admin",
                               "{\"address\":\"" ADMIN
                               "\",\"asset\":\"AIT\",\"amount\":\"1000000\"}",
                               mint_key, &r),
                     0);
    assert_int_equal(r.status, 201);
    th_resp_free(&r);
    long long base = bob_balance(h);
    int total_keys = 0;
    static client clients[CLIENTS];
    for (int round = 0; round < ROUNDS; round++) {
        atomic_store(&g_answers, 0);
        for (int i = 0; i < CLIENTS; i++) {
            clients[i] = (client){.host = h, .round = round, .index = i};
            assert_int_equal(pthread_create(&clients[i].thread, NULL, client_main, &clients[i]), 0);
        }
        int want = ANSWERS_BEFORE_KILL;
        assert_true(th_wait_until(enough_answers, &want, 60000));
        assert_int_equal(th_kill(h), 128 + SIGKILL);
        for (int i = 0; i < CLIENTS; i++)
            pthread_join(clients[i].thread, NULL);
        assert_int_equal(th_restart(h, 0), 0);
        total_keys += retry_all(h, clients);
        assert_int_equal(bob_balance(h), base + total_keys);
    }
    th_stop(h);
    th_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_key_runs_once_across_kill_9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
