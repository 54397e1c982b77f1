/* auth-apikey: the default auth@1 backend. API keys `aitbc_<role>_<key_id>_<secret>` stored as
 * peppered BLAKE2b hashes, per-role rate limits, a failed-attempt limit per remote address, the
 * first admin key on first start, and the key management routes. Lifecycle lives here. */
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "auth_apikey.h"

/* Last-use times reach the database at most this often, never on the request path. */
#define TICK_MS 60000

static const char *const k_provides[] = {AITBC_AUTH_SERVICE, NULL};
static const char *const k_uses[] = {AITBC_LEDGER_SERVICE, NULL}; /* owner accounts for new keys */

static const aitbc_cfg_key k_schema[] = {
    {"pepper", AITBC_CFG_STRING, 0,
     "secret (>= 16 chars) mixed into every key hash; use ${ENV}. Default: generated into "
     "<data_dir>/auth.pepper (0600). Changing it invalidates every key",
     .def = NULL},
    {"admin_key_hashes", AITBC_CFG_ARRAY, 0,
     "pre-configured admin keys as 64-hex BLAKE2b hashes (see plugins/auth-apikey/README.md); "
     "when set, no admin key is generated on first start",
     .def = NULL},
    {"rate_limits", AITBC_CFG_OBJECT, 0,
     "per-role token buckets {client:{rps,burst}, miner:{...}, admin:{...}}; defaults client "
     "20/40, "
     "miner 20/60, admin 50/100; rps 0 = unlimited",
     .def = NULL},
    {"failed_auth", AITBC_CFG_OBJECT, 0,
     "{per_minute}: failed key checks allowed per remote address (default 30, 0 = off); past it "
     "every key from that address gets 429",
     .def = NULL},
    {"signup", AITBC_CFG_OBJECT, 0,
     "{enabled (default false), per_hour (sign-ups per remote address, default 5), grant: {asset, "
     "amount} (optional starting grant), faucet_address (default: an account made at first "
     "start)}: "
     "public POST /v1/signup; the grant is a TRANSFER from the faucet, which is funded by MINT",
     .def = NULL},
    {0},
};

static void state_free(auth_state *st) {
    if (!st) return;
    kc_free(st->cache);
    ac_free(st->acct);
    rl_addr_free(st->fails);
    rl_addr_free(st->signup.limit);
    free(st->config_hashes);
    sodium_memzero(st->pepper_key, sizeof st->pepper_key);
    free(st);
}

static int auth_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (sodium_init() < 0) return AITBC_EIO;
    auth_state *st = calloc(1, sizeof *st);
    if (!st) return AITBC_ENOMEM;
    st->ctx = ctx;
    st->api = api;
    char err[256] = "";
    int rc = auth_config_load(st, err, sizeof err);
    if (rc == 0) rc = signup_config_load(st, err, sizeof err);
    if (rc != 0) api->log(ctx, AITBC_LOG_ERROR, "config: %s", err[0] ? err : "out of memory");
    if (rc == 0) rc = auth_pepper_load(st);
    if (rc == 0) {
        st->cache = kc_new(&st->limits);
        st->acct = ac_new(AUTH_ACCOUNT_CACHE_ENTRIES);
        st->fails = rl_addr_new(st->failed_per_minute, 100000);
        if (!st->cache || !st->acct || !st->fails) rc = AITBC_ENOMEM;
    }
    if (rc == 0 && (rc = store_migrate_keys(st)) != 0)
        api->log(ctx, AITBC_LOG_ERROR, "migration of auth_keys failed (%d)", rc);
    if (rc == 0) {
        /* Admins may watch revocations; the WebSocket bridge uses them to close sockets (4001). */
        aitbc_topic topic = {.name = AUTH_TOPIC_KEY_REVOKED, .roles = AITBC_ROLE_ADMIN};
        int trc = api->bus_topic(ctx, &topic);
        if (trc != 0 && trc != AITBC_EEXIST)
            api->log(ctx, AITBC_LOG_WARN, "cannot declare topic %s (%d)", topic.name, trc);
        service_init(st);
        rc = api->service_register(ctx, AITBC_AUTH_SERVICE, &st->service);
    }
    if (rc != 0) {
        state_free(st);
        return rc;
    }
    *state = st;
    return 0;
}

static int auth_start(void *state) {
    auth_state *st = state;
    st->ledger = st->api->service_lookup(AITBC_LEDGER_SERVICE);
    if (st->ledger && st->ledger->size < offsetof(aitbc_ledger_v1, for_module) + sizeof(void *))
        st->ledger = NULL; /* an older table than we know: work without balances */
    st->acct_on = routes_account_cacheable(st); /* the ledger and the driver are fixed now */
    int rc = bootstrap_admin(st);
    if (rc == 0) rc = signup_start(st);
    if (rc == 0) rc = routes_register(st);
    if (rc == 0) rc = signup_routes(st);
    if (rc == 0) {
        st->timer = st->api->timer_add(st->ctx, TICK_MS, service_tick, st);
        if (!st->timer) rc = AITBC_ENOMEM;
    }
    return rc;
}

static void auth_stop(void *state) {
    auth_state *st = state;
    if (st->timer) {
        st->api->timer_cancel(st->timer);
        st->timer = NULL;
    }
    service_tick(st); /* last-use times survive a clean shutdown */
}

static void auth_destroy(void *state) {
    state_free(state);
}

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "auth-apikey",
    .version = "1.0.0",
    .description = "API keys (hashed, peppered), roles, admin bootstrap, per-key rate limits",
    .provides = k_provides,
    .requires = NULL,
    .uses = k_uses,
    .config_schema = k_schema,
    .init = auth_init,
    .start = auth_start,
    .stop = auth_stop,
    .destroy = auth_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
