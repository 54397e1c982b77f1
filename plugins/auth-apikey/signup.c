/* Public self-service sign-up (POST /v1/signup): a new client key and custodial account, with an
 * optional starting grant paid from a faucet account as an ordinary TRANSFER, in one transaction.
 * Off unless `signup.enabled`; limited per remote address; the faucet is funded in the open
 * (an admin MINT or a genesis allocation), so no money appears that the explorer does not show. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth_apikey.h"

#define SIGNUP_DEFAULT_PER_HOUR 5
#define SIGNUP_LABEL_DEFAULT "signup"

int signup_config_load(auth_state *st, char *err, size_t errlen) {
    auth_signup *su = &st->signup;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(st->api->config(st->ctx), "signup");
    su->per_hour = SIGNUP_DEFAULT_PER_HOUR;
    if (!cfg) return 0;
    static const char *const allowed[] = {"enabled", "per_hour", "grant", "faucet_address", NULL};
    const char *bad = cJSON_IsObject(cfg) ? aitbc_json_unknown_key(cfg, allowed) : "signup";
    if (bad) {
        snprintf(err, errlen,
                 "signup: unknown key or not an object {enabled, per_hour, grant, "
                 "faucet_address} (%s)",
                 bad);
        return AITBC_EINVAL;
    }
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(cfg, "enabled");
    if (en && !cJSON_IsBool(en)) {
        snprintf(err, errlen, "signup.enabled: must be true or false");
        return AITBC_EINVAL;
    }
    su->enabled = cJSON_IsTrue(en);
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(cfg, "per_hour");
    int64_t v = 0;
    if (ph && (aitbc_json_int(ph, &v) != 0 || v < 1 || v > 1000000)) {
        snprintf(err, errlen, "signup.per_hour: must be an integer 1..1000000");
        return AITBC_EINVAL;
    }
    if (ph) su->per_hour = (int)v;
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(cfg, "faucet_address");
    if (fa && (!cJSON_IsString(fa) || !aitbc_address_valid(fa->valuestring))) {
        snprintf(err, errlen, "signup.faucet_address: must be ait1 + 40 lowercase hex digits");
        return AITBC_EINVAL;
    }
    if (fa) snprintf(su->faucet, sizeof su->faucet, "%s", fa->valuestring);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(cfg, "grant");
    if (g) {
        const cJSON *asset = cJSON_GetObjectItemCaseSensitive(g, "asset");
        const cJSON *amount = cJSON_GetObjectItemCaseSensitive(g, "amount");
        if (!cJSON_IsObject(g) ||
            aitbc_json_unknown_key(g, (const char *const[]){"asset", "amount", NULL}) ||
            !cJSON_IsString(asset) || strlen(asset->valuestring) >= sizeof su->grant_asset ||
            !cJSON_IsString(amount) || strlen(amount->valuestring) >= sizeof su->grant_text) {
            snprintf(err, errlen, "signup.grant: must be {asset: \"AIT\", amount: \"decimal\"}");
            return AITBC_EINVAL;
        }
        snprintf(su->grant_asset, sizeof su->grant_asset, "%s", asset->valuestring);
        snprintf(su->grant_text, sizeof su->grant_text, "%s", amount->valuestring);
    }
    su->limit = rl_addr_new_window(su->per_hour, 3600 * 1000, 100000);
    return su->limit ? 0 : AITBC_ENOMEM;
}

/* The faucet kept from the first start when none is configured. */
static int faucet_stored(auth_state *st, aitbc_txn *t, char out[48]) {
    const aitbc_host_api *api = st->api;
    aitbc_stmt *s = api->stmt(t, "SELECT value FROM auth_meta WHERE key = 'faucet_address'");
    if (!s) return AITBC_EIO;
    int rc = api->step(s);
    if (rc == AITBC_ROW) snprintf(out, 48, "%s", api->col_text(s, 0));
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

static int faucet_remember(auth_state *st, aitbc_txn *t, const char *addr) {
    aitbc_stmt *s =
        st->api->stmt(t, "INSERT INTO auth_meta(key, value) VALUES('faucet_address', ?1)");
    if (!s) return AITBC_EIO;
    st->api->bind_text(s, 1, addr);
    int rc = st->api->step(s) == AITBC_DONE ? 0 : AITBC_EIO;
    st->api->stmt_done(s);
    return rc;
}

int signup_start(auth_state *st) {
    auth_signup *su = &st->signup;
    const aitbc_host_api *api = st->api;
    if (!su->enabled || !su->grant_asset[0]) return 0;
    if (!st->ledger) {
        api->log(st->ctx, AITBC_LOG_ERROR, "signup.grant needs the chain plugin (ledger@1)");
        return AITBC_EINVAL;
    }
    int dec = st->ledger->asset_decimals(st->ledger->self, su->grant_asset);
    if (dec < 0 || aitbc_money_parse(su->grant_text, dec, &su->grant) != 0 || su->grant <= 0) {
        api->log(st->ctx, AITBC_LOG_ERROR,
                 "signup.grant: asset must be a ledger asset and amount a positive decimal "
                 "with at most its decimals");
        return AITBC_EINVAL;
    }
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    int rc = 0;
    if (su->faucet[0]) {
        rc = st->ledger->ensure_account(st->ledger->self, t, su->faucet);
    } else if ((rc = faucet_stored(st, t, su->faucet)) == 0 && !su->faucet[0]) {
        rc = st->ledger->create_account(st->ledger->self, t, su->faucet);
        if (rc == 0) rc = faucet_remember(st, t, su->faucet);
    }
    if (rc == 0)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    if (rc == 0)
        api->log(st->ctx, AITBC_LOG_INFO,
                 "signup grants %s %s from faucet %s (fund it with "
                 "POST /v1/admin/mint)",
                 su->grant_text, su->grant_asset, su->faucet);
    return rc;
}

/* Pay the grant inside the sign-up transaction. A dry faucet is not an error: the person still
 * gets a key; *paid says whether the TRANSFER happened. */
static int pay_grant(auth_state *st, aitbc_txn *t, const char *to, const char *ref, int *paid,
                     char hash[AITBC_TX_HASH_MAX]) {
    auth_signup *su = &st->signup;
    *paid = 0;
    if (su->grant <= 0) return 0;
    int rc = st->ledger->transfer(st->ledger->self, t, AITBC_TX_TRANSFER, su->faucet, to,
                                  su->grant_asset, su->grant, ref, hash);
    if (rc == AITBC_EFUNDS) {
        st->api->log(st->ctx, AITBC_LOG_WARN, "faucet %s cannot pay the sign-up grant: top it up",
                     su->faucet);
        return 0;
    }
    *paid = rc == 0;
    return rc;
}

static void h_signup(aitbc_request *req, void *user) {
    auth_state *st = user;
    auth_signup *su = &st->signup;
    const aitbc_host_api *api = st->api;
    const cJSON *body = api->req_json(req);
    const cJSON *label = NULL;
    if (body) {
        if (!aitbc_req_object(api, req, (const char *const[]){"label", NULL})) return;
        label = cJSON_GetObjectItemCaseSensitive(body, "label");
        if (label && !cJSON_IsNull(label) &&
            (!cJSON_IsString(label) || !auth_label_ok(label->valuestring))) {
            api->respond_error(req, 400, "invalid_argument", "label",
                               "label must be a string of at most %d characters without control "
                               "characters",
                               AUTH_LABEL_MAX);
            return;
        }
    }
    int64_t now = api->now_ms();
    int retry = 1;
    const char *remote = api->req_remote(req);
    if (rl_addr_blocked(su->limit, remote, now, &retry)) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry);
        api->resp_header(req, "Retry-After", ra);
        api->respond_error(req, 429, "rate_limited", NULL, "too many sign-ups from this address");
        return;
    }
    rl_addr_fail(su->limit, remote, now); /* counts valid sign-ups: that is what is limited */
    const char *text = cJSON_IsString(label) ? label->valuestring : SIGNUP_LABEL_DEFAULT;

    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) {
        api->respond_error(req, 503, "unavailable", NULL, "the database is busy; retry");
        return;
    }
    char key[AITBC_API_KEY_MAX], key_id[48], address[48], hash[AITBC_TX_HASH_MAX] = "";
    char ref[AITBC_ID_MAX];
    int paid = 0;
    int rc = service_create_key(st, t, AITBC_ROLE_CLIENT, text, NULL, key, key_id, address);
    if (rc == 0 && st->ledger) {
        aitbc_random_id("xfr", ref);
        rc = pay_grant(st, t, address, ref, &paid, hash);
    }
    if (rc == 0) {
        rc = api->txn_commit(t);
    } else {
        api->txn_rollback(t);
    }
    if (rc != 0) {
        sodium_memzero(key, sizeof key);
        api->log(st->ctx, AITBC_LOG_ERROR, "sign-up failed (%d)", rc);
        if (rc == AITBC_EBUSY)
            api->respond_error(req, 503, "unavailable", NULL, "the database is busy; retry");
        else
            api->respond_error(req, 500, "internal", NULL, "the account could not be created");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    aitbc_json_add_str(o, "key_id", key_id);
    aitbc_json_add_str(o, "api_key", key);
    aitbc_json_add_str(o, "address", address);
    aitbc_json_add_str(o, "role", "client");
    aitbc_json_add_str(o, "label", text);
    if (paid) {
        cJSON *g = cJSON_AddObjectToObject(o, "grant");
        aitbc_json_add_str(g, "asset", su->grant_asset);
        aitbc_json_add_str(g, "amount", su->grant_text);
        aitbc_json_add_str(g, "from", su->faucet);
        aitbc_json_add_str(g, "tx_hash", hash);
    } else {
        cJSON_AddNullToObject(o, "grant");
    }
    sodium_memzero(key, sizeof key);
    api->resp_header(req, "Cache-Control", "no-store");
    api->respond_json(req, 201, o);
}

/* What a sign-up page shows before anyone signs up: is there a grant, and can the faucet pay it. */
static void h_signup_info(aitbc_request *req, void *user) {
    auth_state *st = user;
    auth_signup *su = &st->signup;
    const aitbc_host_api *api = st->api;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "enabled", 1);
    cJSON_AddNumberToObject(o, "per_hour", su->per_hour);
    if (su->grant > 0) {
        cJSON *g = cJSON_AddObjectToObject(o, "grant");
        aitbc_json_add_str(g, "asset", su->grant_asset);
        aitbc_json_add_str(g, "amount", su->grant_text);
        aitbc_json_add_str(g, "faucet_address", su->faucet);
        int64_t avail = 0, locked = 0;
        int funded = st->ledger->balance(st->ledger->self, NULL, su->faucet, su->grant_asset,
                                         &avail, &locked) == 0 &&
                     avail >= su->grant;
        cJSON_AddBoolToObject(g, "available", funded);
    } else {
        cJSON_AddNullToObject(o, "grant");
    }
    api->respond_json(req, 200, o);
}

int signup_routes(auth_state *st) {
    if (!st->signup.enabled) return 0;
    const aitbc_route routes[] = {
        {.method = "POST",
         .path = "/v1/signup",
         .roles = AITBC_ROLE_PUBLIC,
         .body = AITBC_BODY_JSON,
         .max_body_bytes = 4096,
         .handler = h_signup,
         .user = st},
        {.method = "GET",
         .path = "/v1/signup",
         .roles = AITBC_ROLE_PUBLIC,
         .handler = h_signup_info,
         .user = st},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = st->api->route(st->ctx, &routes[i]);
        if (rc != 0) return rc;
    }
    return 0;
}

void signup_sweep(auth_state *st, int64_t now_ms) {
    rl_addr_sweep(st->signup.limit, now_ms);
}
