/* The chain plugin: descriptor, config and lifecycle (its tables are in store.c). Provides ledger@1
 * and the verify-chain command; starts the block producer timer and the mint/transfer routes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chain.h"

static const aitbc_cfg_key k_schema[] = {
    {"block_interval_ms", AITBC_CFG_INT, 0, "block producer period in ms", .def = "2000",
     AITBC_CFG_RANGE(10, 3600000)},
    {"max_empty_interval_s", AITBC_CFG_INT, 0,
     "seconds without transactions before a heartbeat block (0 = never)", .def = "60",
     AITBC_CFG_RANGE(0, 86400 * 365)},
    {"assets", AITBC_CFG_ARRAY, 0,
     "[{symbol, decimals}] (default AIT 6 decimals, BTC 8); decimals never change once used",
     .def = NULL},
    {"genesis", AITBC_CFG_OBJECT, 0,
     "{timestamp (RFC 3339), accounts: [address], allocations: [{address, asset, amount}]}",
     .def = NULL},
    {"key_file", AITBC_CFG_STRING, 0, "node key path (default <data_dir>/node.key, mode 0600)",
     .def = NULL},
    {"authorities", AITBC_CFG_ARRAY, 0,
     "extra proposer public keys (hex) --verify-chain accepts besides the node key", .def = NULL},
    {0},
};

const chain_asset *chain_find_asset(const chain_state *cs, const char *symbol) {
    for (size_t i = 0; i < cs->nassets; i++)
        if (strcmp(cs->assets[i].symbol, symbol) == 0) return &cs->assets[i];
    return NULL;
}

static int symbol_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= CHAIN_SYMBOL_MAX || s[0] < 'A' || s[0] > 'Z') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return 0;
    return 1;
}

static int parse_assets(chain_state *cs, const cJSON *arr) {
    if (!arr) {
        cs->assets[0] = (chain_asset){"AIT", 6};
        cs->assets[1] = (chain_asset){"BTC", 8};
        cs->nassets = 2;
        return 0;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const char *sym = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "symbol"));
        int64_t dec = -1;
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "decimals");
        if (!symbol_ok(sym) || !d || aitbc_json_int(d, &dec) != 0 || dec < 0 || dec > 18 ||
            cs->nassets == CHAIN_MAX_ASSETS || chain_find_asset(cs, sym) ||
            cJSON_GetArraySize(it) != 2) {
            cs->api->log(cs->ctx, AITBC_LOG_ERROR,
                         "chain.assets: each entry is {symbol: [A-Z][A-Z0-9]{0,15}, decimals: "
                         "0..18}, unique, at most %d",
                         CHAIN_MAX_ASSETS);
            return AITBC_EINVAL;
        }
        snprintf(cs->assets[cs->nassets].symbol, CHAIN_SYMBOL_MAX, "%s", sym);
        cs->assets[cs->nassets++].decimals = (int)dec;
    }
    return cs->nassets ? 0 : AITBC_EINVAL;
}

static int parse_genesis(chain_state *cs, const cJSON *g) {
    if (!g) return 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, g) {
        const char *k = it->string;
        if (strcmp(k, "timestamp") == 0) {
            if (!cJSON_IsString(it) || aitbc_time_parse(it->valuestring, &cs->genesis_ms) != 0)
                goto bad;
        } else if (strcmp(k, "accounts") == 0) {
            const cJSON *a;
            if (!cJSON_IsArray(it)) goto bad;
            cJSON_ArrayForEach(a, it) if (!aitbc_address_valid(cJSON_GetStringValue(a))) goto bad;
        } else if (strcmp(k, "allocations") == 0) {
            const cJSON *a;
            if (!cJSON_IsArray(it)) goto bad;
            cJSON_ArrayForEach(a, it) {
                const char *addr =
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "address"));
                const char *sym =
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "asset"));
                const char *amt =
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "amount"));
                const chain_asset *as = sym ? chain_find_asset(cs, sym) : NULL;
                int64_t units;
                if (!aitbc_address_valid(addr) || !as || !amt ||
                    aitbc_money_parse(amt, as->decimals, &units) != 0 || units <= 0)
                    goto bad;
            }
        } else {
            goto bad;
        }
    }
    return 0;
bad:
    cs->api->log(cs->ctx, AITBC_LOG_ERROR,
                 "chain.genesis: expected {timestamp: RFC 3339, accounts: [ait1…], allocations: "
                 "[{address, asset, amount: \"decimal\"}]}");
    return AITBC_EINVAL;
}

static int parse_authorities(chain_state *cs, const cJSON *arr) {
    int n = arr ? cJSON_GetArraySize(arr) : 0;
    if (n == 0) return 0;
    cs->authorities = calloc((size_t)n, 32);
    if (!cs->authorities) return AITBC_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (chain_hex32(cJSON_GetStringValue(it), cs->authorities[cs->nauthorities]) != 0) {
            cs->api->log(cs->ctx, AITBC_LOG_ERROR, "chain.authorities: 64 lowercase hex each");
            return AITBC_EINVAL;
        }
        cs->nauthorities++;
    }
    return 0;
}

static int parse_config(chain_state *cs, const cJSON *cfg) {
    cs->block_interval_ms = aitbc_cfg_i64(cfg, "block_interval_ms");
    cs->max_empty_interval_s = aitbc_cfg_i64(cfg, "max_empty_interval_s");
    int rc = parse_assets(cs, cJSON_GetObjectItemCaseSensitive(cfg, "assets"));
    if (rc == 0) rc = parse_genesis(cs, cJSON_GetObjectItemCaseSensitive(cfg, "genesis"));
    if (rc == 0) rc = parse_authorities(cs, cJSON_GetObjectItemCaseSensitive(cfg, "authorities"));
    const char *kf = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "key_file"));
    int n =
        kf ? snprintf(cs->key_path, sizeof cs->key_path, "%s", kf)
           : snprintf(cs->key_path, sizeof cs->key_path, "%s/node.key", cs->api->data_dir(cs->ctx));
    if (rc == 0 && (n <= 0 || (size_t)n >= sizeof cs->key_path)) rc = AITBC_EINVAL;
    return rc;
}

/* Record asset decimals; refuse to start if the config changed the decimals of a stored asset
 * (every stored amount would silently change value). */
static int sync_assets(chain_state *cs) {
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cs->nassets; i++) {
        aitbc_stmt *s = api->stmt(t, "INSERT INTO chain_assets(symbol, decimals) VALUES(?1, ?2) "
                                     "ON CONFLICT(symbol) DO NOTHING");
        if (!s)
            rc = AITBC_EIO;
        else {
            api->bind_text(s, 1, cs->assets[i].symbol);
            api->bind_int64(s, 2, cs->assets[i].decimals);
            rc = api->step(s) < 0 ? AITBC_EIO : 0;
            api->stmt_done(s);
        }
        s = rc ? NULL : api->stmt(t, "SELECT decimals FROM chain_assets WHERE symbol = ?1");
        if (s) {
            api->bind_text(s, 1, cs->assets[i].symbol);
            if (api->step(s) != AITBC_ROW || api->col_int64(s, 0) != cs->assets[i].decimals) {
                api->log(cs->ctx, AITBC_LOG_ERROR,
                         "asset %s: decimals differ from the stored "
                         "chain's; refusing to reinterpret amounts",
                         cs->assets[i].symbol);
                rc = AITBC_EINVAL;
            }
            api->stmt_done(s);
        }
    }
    if (rc == 0) return api->txn_commit(t);
    api->txn_rollback(t);
    return rc;
}

static void chain_destroy(void *state);

static int chain_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    chain_state *cs = calloc(1, sizeof *cs);
    if (!cs) return AITBC_ENOMEM;
    *state = cs;
    cs->ctx = ctx;
    cs->api = api;
    cs->pg = aitbc_store_is_postgres(api);
    pthread_mutex_init(&cs->seal_mu, NULL);
    pthread_mutex_init(&cs->views_mu, NULL);
    chain_ledger_init(cs);
    chain_query_init(cs);
    cs->verify_cmd = (aitbc_command_v1){sizeof(aitbc_command_v1), cs, chain_verify_run};
    cs->release_cmd = (aitbc_command_v1){sizeof(aitbc_command_v1), cs, chain_release_locks_run};
    const cJSON *cfg = api->config(ctx);
    int rc = sodium_init() < 0 ? AITBC_EIO : 0;
    if (rc == 0) rc = parse_config(cs, cfg);
    if (rc == 0) rc = api->migrate(ctx, chain_migrations, chain_migrations_n);
    if (rc == 0) rc = sync_assets(cs);
    if (rc == 0) rc = chain_key_load_or_create(cs, cs->key_path);
    if (rc == 0) rc = chain_genesis(cs, cJSON_GetObjectItemCaseSensitive(cfg, "genesis"));
    if (rc == 0) rc = api->service_register(ctx, AITBC_LEDGER_SERVICE, &cs->ledger);
    if (rc == 0) rc = api->service_register(ctx, AITBC_CHAIN_QUERY_SERVICE, &cs->query);
    if (rc == 0) rc = api->service_register(ctx, "command:verify-chain@1", &cs->verify_cmd);
    if (rc == 0) rc = api->service_register(ctx, "command:release-locks@1", &cs->release_cmd);
    chain_metrics_init(cs);
    if (rc == 0) rc = api->service_register(ctx, "metrics:chain@1", &cs->metrics);
    aitbc_topic blocks = {AITBC_TOPIC_BLOCKS, AITBC_ROLE_ANY, NULL, NULL};
    aitbc_topic txs = {AITBC_TOPIC_TRANSACTIONS, AITBC_ROLE_ANY, NULL, NULL};
    if (rc == 0) rc = api->bus_topic(ctx, &blocks);
    if (rc == 0) rc = api->bus_topic(ctx, &txs);
    if (rc != 0) {
        api->log(ctx, AITBC_LOG_ERROR, "init failed (%d)", rc);
        chain_destroy(cs);
        *state = NULL;
    }
    return rc;
}

static int chain_start(void *state) {
    chain_state *cs = state;
    /* Funds a switched-off module locked would stay frozen: refuse until that is settled. */
    int rc = chain_lock_owners_check(cs);
    if (rc != 0) return rc;
    rc = chain_routes_register(cs);
    if (rc != 0) return rc;
    cs->timer = cs->api->timer_add(cs->ctx, cs->block_interval_ms, chain_seal_tick, cs);
    if (!cs->timer) return AITBC_EIO;
    cs->api->log(cs->ctx, AITBC_LOG_INFO, "proposer %s, block every %lld ms", cs->address,
                 (long long)cs->block_interval_ms);
    return 0;
}

static void chain_stop(void *state) {
    chain_state *cs = state;
    if (cs && cs->timer) {
        cs->api->timer_cancel(cs->timer);
        cs->timer = NULL;
    }
}

static void chain_destroy(void *state) {
    chain_state *cs = state;
    if (!cs) return;
    sodium_memzero(cs->sk, sizeof cs->sk);
    sodium_memzero(cs->custody_key, sizeof cs->custody_key);
    pthread_mutex_destroy(&cs->seal_mu);
    chain_ledger_views_free(cs);
    pthread_mutex_destroy(&cs->views_mu);
    free(cs->authorities);
    free(cs);
}

static const char *const k_provides[] = {AITBC_LEDGER_SERVICE,     AITBC_CHAIN_QUERY_SERVICE,
                                         "command:verify-chain@1", "command:release-locks@1",
                                         "metrics:chain@1",        NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "chain",
    .version = "0.1.0",
    .description = "Ledger (ledger@1) with proof-of-authority blocks; POST /v1/admin/mint, "
                   "POST /v1/transfers; aitbc-host --verify-chain",
    .provides = k_provides,
    .requires = NULL,
    .config_schema = k_schema,
    .init = chain_init,
    .start = chain_start,
    .stop = chain_stop,
    .destroy = chain_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
