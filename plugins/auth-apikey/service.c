/* The auth@1 service: authenticate a presented key, create keys, revoke them.
 * authenticate() does the same work for every well-formed key (one keyed hash, one constant-time
 * comparison) whether its id is known, unknown, revoked or its secret is wrong. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth_apikey.h"

/* Compared against when nothing real matches: keeps unknown ids as costly as known ones. */
static const unsigned char k_dummy_hash[KEYFMT_HASH_BYTES] = {0x5a};

void service_init(auth_state *st) {
    st->service.size = (uint32_t)sizeof st->service;
    st->service.self = st;
    st->service.authenticate = service_authenticate;
    st->service.create_key = service_create_key;
    st->service.revoke_key = service_revoke_key;
    st->service.revoke_owner = service_revoke_owner;
}

/* A configured admin hash: checks every entry (and the dummy) so the time does not say which. */
static int match_config(auth_state *st, const unsigned char hash[KEYFMT_HASH_BYTES]) {
    int match = 0;
    for (size_t i = 0; i < st->n_config_hashes; i++)
        match |= keyfmt_hash_equal(hash, st->config_hashes[i]);
    /* With no configured hashes this comparison alone stands in for the row's. */
    volatile int sink = keyfmt_hash_equal(hash, k_dummy_hash);
    (void)sink;
    return match;
}

static int fail(auth_state *st, const char *remote, int rc) {
    rl_addr_fail(st->fails, remote, st->api->now_ms());
    return rc;
}

int service_authenticate(void *self, const char *api_key, const char *remote_addr,
                         aitbc_principal *out, int *retry_after_s) {
    auth_state *st = self;
    int64_t now = st->api->now_ms();
    int retry = 1;
    if (!api_key || !*api_key) return AITBC_EAUTH; /* nothing guessed, nothing counted */
    /* An address that failed too often gets no verdict on any key until it cools down. */
    if (rl_addr_blocked(st->fails, remote_addr, now, &retry)) {
        if (retry_after_s) *retry_after_s = retry;
        return AITBC_ERATE;
    }
    keyfmt_parsed k;
    if (keyfmt_parse(api_key, &k) != 0) return fail(st, remote_addr, AITBC_EAUTH);

    unsigned char hash[KEYFMT_HASH_BYTES];
    keyfmt_hash(st->pepper_key, api_key, hash);
    sodium_memzero(&k.secret, sizeof k.secret);

    aitbc_principal p;
    /* Several hosts on one database: a key revoked on another host is revoked in its row, not
     * in this cache, so every check reads the row (the cache keeps the bucket and last use). */
    kc_result r = aitbc_store_shared(st->api)
                      ? KC_MISS
                      : kc_check(st->cache, k.key_id, k.role, hash, now, &p, &retry);
    if (r == KC_MISS) {
        kc_row row;
        int rc = store_load_key(st, k.key_id, &row);
        if (rc == 0) {
            kc_insert(st->cache, k.key_id, &row);
        } else if (rc == AITBC_ENOTFOUND) {
            int ok = match_config(st, hash) & (k.role == AITBC_ROLE_ADMIN);
            if (!ok) return fail(st, remote_addr, AITBC_EAUTH);
            memset(&row, 0, sizeof row);
            memcpy(row.hash, hash, sizeof row.hash);
            row.role = AITBC_ROLE_ADMIN;
            row.from_config = 1;
            kc_insert(st->cache, k.key_id, &row);
        } else {
            st->api->log(st->ctx, AITBC_LOG_ERROR, "key lookup failed (%d)", rc);
            return AITBC_EUNAVAIL;
        }
        r = kc_check(st->cache, k.key_id, k.role, hash, now, &p, &retry);
    }
    switch (r) {
    case KC_OK:
        *out = p;
        return 0;
    case KC_RATE:
        if (retry_after_s) *retry_after_s = retry;
        return AITBC_ERATE;
    default:
        return fail(st, remote_addr, AITBC_EAUTH);
    }
}

/* An address for a key without one: a ledger account if the chain is loaded, else the address of a
 * fresh Ed25519 key (the private half is not needed without a ledger, so it is wiped). */
static int new_address(auth_state *st, aitbc_txn *txn, char out[48]) {
    if (st->ledger) return st->ledger->create_account(st->ledger->self, txn, out);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    if (crypto_sign_keypair(pk, sk) != 0) return AITBC_EIO;
    sodium_memzero(sk, sizeof sk);
    aitbc_address_from_pubkey(pk, out);
    return 0;
}

int service_create_key(void *self, aitbc_txn *txn, unsigned role, const char *label,
                       const char *owner_address, char api_key_out[AITBC_API_KEY_MAX],
                       char key_id_out[48], char address_out[48]) {
    auth_state *st = self;
    if (!keyfmt_role_name(role) || !api_key_out || !key_id_out || !address_out) return AITBC_EINVAL;
    if (!label) label = "";
    if (strlen(label) > 4 * AUTH_LABEL_MAX) /* bytes; routes check characters */
        return AITBC_EINVAL;
    if (owner_address && !aitbc_address_valid(owner_address)) return AITBC_EINVAL;

    const aitbc_host_api *api = st->api;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EIO;
    char address[48] = {0};
    int rc = 0;
    if (owner_address)
        strncpy(address, owner_address, sizeof address - 1);
    else
        rc = new_address(st, t, address);

    char key_id[AITBC_ID_MAX];
    unsigned char secret[KEYFMT_SECRET_BYTES];
    char text[AITBC_API_KEY_MAX];
    unsigned char hash[KEYFMT_HASH_BYTES];
    if (rc == 0) {
        aitbc_random_id("key", key_id);
        randombytes_buf(secret, sizeof secret);
        rc = keyfmt_format(role, key_id, secret, text);
        sodium_memzero(secret, sizeof secret);
    }
    if (rc == 0) {
        keyfmt_hash(st->pepper_key, text, hash);
        rc = store_insert_key(st, t, key_id, role, address, label, hash, api->now_ms());
    }
    rc = aitbc_txn_leave(api, &use, rc, 1);
    if (rc == 0) {
        memcpy(api_key_out, text, AITBC_API_KEY_MAX);
        strcpy(key_id_out, key_id);
        strcpy(address_out, address);
    }
    sodium_memzero(text, sizeof text);
    return rc;
}

static void publish_revoked(auth_state *st, const char *key_id, const char *owner) {
    cJSON *ev = cJSON_CreateObject();
    if (!ev) return;
    aitbc_json_add_str(ev, "key_id", key_id);
    aitbc_json_add_str(ev, "owner_address", owner);
    st->api->bus_publish(st->ctx, AUTH_TOPIC_KEY_REVOKED, ev);
    cJSON_Delete(ev);
}

int service_revoke_key(void *self, aitbc_txn *txn, const char *key_id) {
    auth_state *st = self;
    if (!keyfmt_key_id_valid(key_id)) return AITBC_ENOTFOUND;
    char owner[48];
    int rc = store_revoke_key(st, txn, key_id, st->api->now_ms(), owner);
    if (rc != 0) return rc;
    /* Before returning: the next request with this key fails. Inside a caller's transaction that
     * later rolls back the tombstone still denies the key until the cache forgets it (fail closed).
     */
    kc_revoke(st->cache, key_id, st->api->now_ms());
    ac_forget(st->acct, key_id);
    publish_revoked(st, key_id, owner);
    return 0;
}

int service_revoke_owner(void *self, aitbc_txn *txn, const char *owner_address, unsigned role) {
    auth_state *st = self;
    if (!owner_address || !keyfmt_role_name(role)) return AITBC_EINVAL;
    const aitbc_host_api *api = st->api;
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(api, txn, AITBC_TXN_WRITE, &use);
    if (!t) return AITBC_EIO;
    char(*ids)[48] = NULL;
    size_t n = 0;
    int rc = store_owner_keys(st, t, owner_address, role, &ids, &n);
    char owner[48];
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = store_revoke_key(st, t, ids[i], api->now_ms(), owner);
    rc = aitbc_txn_leave(api, &use, rc, 1);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            kc_revoke(st->cache, ids[i], api->now_ms());
            ac_forget(st->acct, ids[i]);
            publish_revoked(st, ids[i], owner_address);
        }
    }
    free(ids);
    return rc;
}

void service_tick(void *arg) {
    auth_state *st = arg;
    int64_t now = st->api->now_ms();
    size_t n = 0;
    kc_used *used = kc_collect_used(st->cache, &n);
    store_flush_used(st, used, n);
    free(used);
    /* Tombstones outlive any transaction that could reload a stale row; idle keys reload. */
    kc_sweep(st->cache, now, 60 * 1000, 10 * 60 * 1000);
    rl_addr_sweep(st->fails, now);
    signup_sweep(st, now);
}
