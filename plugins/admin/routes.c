/* HTTP routes of the admin plugin (admin role, read-only): miners and jobs lists from miners@1
 * and jobs@1, and the node's statistics with the chain and exchange sections of the plugins that
 * are loaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin.h"

static int limit_of(admin_state *as, aitbc_request *req, int64_t *limit) {
    int v;
    if (aitbc_req_limit(as->api, req, &v) != 0) return -1;
    *limit = v;
    return 0;
}

static void h_miners(aitbc_request *req, void *user) {
    admin_state *as = user;
    int64_t limit;
    if (limit_of(as, req, &limit) != 0) return;
    cJSON *out = NULL;
    aitbc_jobs_error err = {0};
    if (as->miners->list(as->miners->self, as->api->req_query(req, "status"), limit,
                         as->api->req_query(req, "cursor"), &out, &err) != 0)
        aitbc_respond_jobs_error(as->api, req, &err);
    else
        as->api->respond_json(req, 200, out);
}

static void h_jobs(aitbc_request *req, void *user) {
    admin_state *as = user;
    const aitbc_host_api *api = as->api;
    int64_t limit;
    if (limit_of(as, req, &limit) != 0) return;
    cJSON *out = NULL;
    aitbc_jobs_error err = {0};
    if (as->jobs->list(as->jobs->self, api->req_query(req, "state"), api->req_query(req, "client"),
                       api->req_query(req, "miner"), limit, api->req_query(req, "cursor"), &out,
                       &err) != 0)
        aitbc_respond_jobs_error(as->api, req, &err);
    else
        api->respond_json(req, 200, out);
}

/* API.md: plugins:[{name, version}] of every plugin this node runs. */
static void add_plugins(admin_state *as, cJSON *o) {
    cJSON *arr = cJSON_AddArrayToObject(o, "plugins");
    const char *name, *version;
    for (size_t i = 0; as->api->plugin_info(i, &name, &version) == 0; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "name", name);
        cJSON_AddStringToObject(p, "version", version);
        cJSON_AddItemToArray(arr, p);
    }
}

static void h_stats(aitbc_request *req, void *user) {
    admin_state *as = user;
    cJSON *o = NULL;
    if (as->jobs->stats(as->jobs->self, &o) != 0) {
        as->api->respond_error(req, 503, "unavailable", NULL, "Statistics unavailable; retry.");
        return;
    }
    int64_t total = 0, online = 0, offline = 0;
    as->miners->counts(as->miners->self, &total, &online, &offline);
    cJSON *m = cJSON_AddObjectToObject(o, "miners");
    aitbc_json_add_i64(m, "total", total);
    aitbc_json_add_i64(m, "online", online);
    aitbc_json_add_i64(m, "offline", offline);
    const aitbc_ledger_v1 *l = as->ledger;
    int64_t height = 0, txs = 0;
    if (l && l->chain_info(l->self, &height, &txs) == 0) {
        cJSON *c = cJSON_AddObjectToObject(o, "chain");
        aitbc_json_add_i64(c, "height", height);
        aitbc_json_add_i64(c, "tx_count", txs);
    }
    const aitbc_exchange_v1 *x = as->exchange;
    int64_t markets = 0, trades = 0;
    if (x && x->stats(x->self, &markets, &trades) == 0) {
        cJSON *e = cJSON_AddObjectToObject(o, "exchange");
        aitbc_json_add_i64(e, "markets", markets);
        aitbc_json_add_i64(e, "trades_24h", trades);
    }
    add_plugins(as, o);
    aitbc_json_add_i64(o, "uptime_s", (as->api->now_ms() - as->api->started_ms()) / 1000);
    as->api->respond_json(req, 200, o);
}

int admin_routes_register(admin_state *as) {
    const aitbc_host_api *api = as->api;
    const aitbc_route routes[] = {
        {"GET", "/v1/admin/miners", AITBC_ROLE_ADMIN, AITBC_BODY_NONE, 0, h_miners, as, 0, 0},
        {"GET", "/v1/admin/jobs", AITBC_ROLE_ADMIN, AITBC_BODY_NONE, 0, h_jobs, as, 0, 0},
        {"GET", "/v1/admin/stats", AITBC_ROLE_ADMIN, AITBC_BODY_NONE, 0, h_stats, as, 0, 0},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = api->route(as->ctx, &routes[i]);
        if (rc != 0) return rc;
    }
    return 0;
}
