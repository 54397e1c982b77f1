/* auth-static: the smallest auth backend (auth@1). Keys come from the config and never change:
 * handy for demos and tests, and a template for third-party auth plugins. Keys are kept only as
 * BLAKE2b hashes and every lookup compares against every entry, so timing says nothing about
 * which key (or how much of one) matched. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <aitbc/aitbc.h>
#include <aitbc/auth.h>

typedef struct static_key {
    unsigned char hash[crypto_generichash_BYTES];
    aitbc_principal principal;
} static_key;

typedef struct auth_static {
    const aitbc_host_api *api;
    aitbc_plugin_ctx *ctx;
    static_key *keys;
    size_t nkeys;
    aitbc_auth_v1 service;
} auth_static;

static void key_hash(const char *key, unsigned char out[crypto_generichash_BYTES]) {
    crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)key, strlen(key), NULL,
                       0);
}

static int authenticate(void *self, const char *api_key, const char *remote_addr,
                        aitbc_principal *out, int *retry_after_s) {
    (void)remote_addr;
    (void)retry_after_s;
    auth_static *a = self;
    if (!api_key) return AITBC_EAUTH;
    unsigned char hash[crypto_generichash_BYTES];
    key_hash(api_key, hash);
    const static_key *found = NULL;
    for (size_t i = 0; i < a->nkeys; i++)
        if (sodium_memcmp(hash, a->keys[i].hash, sizeof hash) == 0) found = &a->keys[i];
    if (!found) return AITBC_EAUTH;
    *out = found->principal;
    return 0;
}

static int create_key(void *self, aitbc_txn *txn, unsigned role, const char *label,
                      const char *owner_address, char api_key_out[AITBC_API_KEY_MAX],
                      char key_id_out[48], char address_out[48]) {
    (void)self, (void)txn, (void)role, (void)label, (void)owner_address;
    (void)api_key_out, (void)key_id_out, (void)address_out;
    return AITBC_EUNAVAIL; /* static keys: edit the config instead */
}

static int revoke_key(void *self, aitbc_txn *txn, const char *key_id) {
    (void)self, (void)txn, (void)key_id;
    return AITBC_EUNAVAIL;
}

static int revoke_owner(void *self, aitbc_txn *txn, const char *owner_address, unsigned role) {
    (void)self, (void)txn, (void)owner_address, (void)role;
    return AITBC_EUNAVAIL;
}

static int parse_role(const char *text, unsigned *role) {
    static const struct {
        const char *name;
        unsigned role;
    } roles[] = {
        {"client", AITBC_ROLE_CLIENT}, {"miner", AITBC_ROLE_MINER}, {"admin", AITBC_ROLE_ADMIN}};
    for (size_t i = 0; i < sizeof roles / sizeof *roles; i++)
        if (strcmp(text, roles[i].name) == 0) {
            *role = roles[i].role;
            return 0;
        }
    return AITBC_EINVAL;
}

/* One entry of `keys:` → a static_key; logs what is wrong with it. */
static int load_key(auth_static *a, const cJSON *entry, size_t index, static_key *out) {
    static const char *const allowed[] = {"key", "role", "address", NULL};
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(entry, "key");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(entry, "role");
    const cJSON *address = cJSON_GetObjectItemCaseSensitive(entry, "address");
    const char *unknown = cJSON_IsObject(entry) ? aitbc_json_unknown_key(entry, allowed) : NULL;
    const char *problem = NULL;
    if (!cJSON_IsObject(entry))
        problem = "must be a map {key, role, address?}";
    else if (unknown)
        problem = "has an unknown field (allowed: key, role, address)";
    else if (!cJSON_IsString(key) || key->valuestring[0] == '\0')
        problem = "needs `key`: a non-empty string";
    else if (!cJSON_IsString(role) || parse_role(role->valuestring, &out->principal.role) != 0)
        problem = "needs `role`: client, miner or admin";
    else if (address && !cJSON_IsNull(address) &&
             (!cJSON_IsString(address) || !aitbc_address_valid(address->valuestring)))
        problem = "has an `address` that is not ait1 + 40 lowercase hex";
    if (problem) {
        a->api->log(a->ctx, AITBC_LOG_ERROR, "keys[%zu] %s", index, problem);
        return AITBC_EINVAL;
    }
    key_hash(key->valuestring, out->hash);
    /* The key id is derived from the hash, so logs can name a key without revealing it. */
    memcpy(out->principal.key_id, "key_static_", 11);
    aitbc_hex_encode(out->hash, 8, out->principal.key_id + 11);
    if (cJSON_IsString(address)) strcpy(out->principal.owner_address, address->valuestring);
    return 0;
}

static int auth_static_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (sodium_init() < 0) return AITBC_EIO;
    auth_static *a = calloc(1, sizeof *a);
    if (!a) return AITBC_ENOMEM;
    a->api = api;
    a->ctx = ctx;
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(api->config(ctx), "keys");
    size_t n = keys ? (size_t)cJSON_GetArraySize(keys) : 0;
    a->keys = n ? calloc(n, sizeof *a->keys) : NULL;
    int rc = n && !a->keys ? AITBC_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = load_key(a, cJSON_GetArrayItem(keys, (int)i), i, &a->keys[i]);
        /* One key with two roles would make the answer depend on list order: refuse it. */
        for (size_t j = 0; rc == 0 && j < i; j++) {
            if (sodium_memcmp(a->keys[i].hash, a->keys[j].hash, sizeof a->keys[i].hash) == 0) {
                api->log(ctx, AITBC_LOG_ERROR, "keys[%zu] repeats the key of keys[%zu]", i, j);
                rc = AITBC_EINVAL;
            }
        }
    }
    a->nkeys = n;
    a->service = (aitbc_auth_v1){.size = sizeof(aitbc_auth_v1),
                                 .self = a,
                                 .authenticate = authenticate,
                                 .create_key = create_key,
                                 .revoke_key = revoke_key,
                                 .revoke_owner = revoke_owner};
    if (rc == 0) rc = api->service_register(ctx, AITBC_AUTH_SERVICE, &a->service);
    if (rc != 0) {
        free(a->keys);
        free(a);
        return rc;
    }
    if (n == 0)
        api->log(ctx, AITBC_LOG_WARN, "no keys configured: every authenticated route answers 401");
    *state = a;
    return 0;
}

static int auth_static_start(void *state) {
    (void)state;
    return 0;
}

static void auth_static_stop(void *state) {
    (void)state;
}

static void auth_static_destroy(void *state) {
    auth_static *a = state;
    sodium_memzero(a->keys, a->nkeys * sizeof *a->keys);
    free(a->keys);
    free(a);
}

static const aitbc_cfg_key auth_static_schema[] = {
    {"keys", AITBC_CFG_ARRAY, 0, "list of {key, role: client|miner|admin, address?}", .def = NULL},
    {0},
};

static const char *const auth_static_provides[] = {AITBC_AUTH_SERVICE, NULL};

static const aitbc_plugin_desc auth_static_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "auth-static",
    .version = "1.0.0",
    .description = "Example auth backend: fixed API keys from the config",
    .provides = auth_static_provides,
    .config_schema = auth_static_schema,
    .init = auth_static_init,
    .start = auth_static_start,
    .stop = auth_static_stop,
    .destroy = auth_static_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &auth_static_desc;
}
