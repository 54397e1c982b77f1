/* HTTP routes: admin key management (create, list, revoke) and GET /v1/account (the caller's
 * own key and, with the chain plugin, its balances). Every input is checked before anything
 * is stored; secrets appear only in the one creation answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth_apikey.h"

/* At most AUTH_LABEL_MAX characters (UTF-8 code points, not bytes), no control characters. */
int auth_label_ok(const char *s) {
    size_t chars = 0, bytes = 0;
    for (; *s; s++, bytes++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) return 0;
        if ((c & 0xC0) != 0x80) chars++;
    }
    return chars <= AUTH_LABEL_MAX && bytes <= 4 * AUTH_LABEL_MAX;
}

static void h_create(aitbc_request *req, void *user) {
    auth_state *st = user;
    const aitbc_host_api *api = st->api;
    static const char *const allowed[] = {"role", "label", "address", NULL};
    const cJSON *body = aitbc_req_object(api, req, allowed);
    if (!body) return;
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(body, "role");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(body, "label");
    const cJSON *address = cJSON_GetObjectItemCaseSensitive(body, "address");
    unsigned r = cJSON_IsString(role) ? keyfmt_role_from_name(role->valuestring) : 0;
    if (r == AITBC_ROLE_MINER) {
        api->respond_error(req, 400, "invalid_argument", "role",
                           "miner keys are issued by POST /v1/miners/register");
        return;
    }
    if (r != AITBC_ROLE_CLIENT && r != AITBC_ROLE_ADMIN) {
        api->respond_error(req, 400, "invalid_argument", "role",
                           "role must be \"client\" or \"admin\"");
        return;
    }
    if (!cJSON_IsString(label) || !label->valuestring[0] || !auth_label_ok(label->valuestring)) {
        api->respond_error(
            req, 400, "invalid_argument", "label",
            "label must be a string of 1 to %d characters without control characters",
            AUTH_LABEL_MAX);
        return;
    }
    const char *addr = NULL;
    if (address) {
        if (!cJSON_IsString(address) || !aitbc_address_valid(address->valuestring)) {
            api->respond_error(req, 400, "invalid_argument", "address",
                               "address must be \"ait1\" followed by 40 lowercase hex digits");
            return;
        }
        addr = address->valuestring;
        if (st->ledger && st->ledger->account_exists(st->ledger->self, NULL, addr) != 1) {
            api->respond_error(req, 404, "not_found", "address", "no account has this address");
            return;
        }
    }
    char key[AITBC_API_KEY_MAX], key_id[48], out_addr[48];
    int rc = service_create_key(st, NULL, r, label->valuestring, addr, key, key_id, out_addr);
    if (rc != 0) {
        api->log(st->ctx, AITBC_LOG_ERROR, "create key failed (%d)", rc);
        api->respond_error(req, 500, "internal", NULL, "the key could not be created");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    aitbc_json_add_str(o, "key_id", key_id);
    aitbc_json_add_str(o, "api_key", key);
    aitbc_json_add_str(o, "address", out_addr);
    aitbc_json_add_str(o, "role", keyfmt_role_name(r));
    aitbc_json_add_str(o, "label", label->valuestring);
    sodium_memzero(key, sizeof key);
    api->respond_json(req, 201, o);
}

/* The key list's cursors are bound to its two filters; the position is (created_ms, key_id). */
static void cursor_tag(const char *role, const char *addr, char tag[AITBC_CURSOR_TAG_LEN + 1]) {
    const char *filters[] = {role, addr};
    aitbc_cursor_tag("admin_keys", filters, 2, tag);
}

static void h_list(aitbc_request *req, void *user) {
    auth_state *st = user;
    const aitbc_host_api *api = st->api;
    int limit;
    if (aitbc_req_limit(api, req, &limit) != 0) return;
    const char *role = api->req_query(req, "role");
    unsigned r = 0;
    if (role && !(r = keyfmt_role_from_name(role))) {
        api->respond_error(req, 400, "invalid_argument", "role",
                           "role must be client, miner or admin");
        return;
    }
    const char *addr = api->req_query(req, "address");
    if (addr && !aitbc_address_valid(addr)) {
        api->respond_error(req, 400, "invalid_argument", "address",
                           "address is not a valid address");
        return;
    }
    char tag[AITBC_CURSOR_TAG_LEN + 1];
    cursor_tag(role, addr, tag);
    int64_t after_ms = 0;
    char after_id[AITBC_CURSOR_TIE_MAX] = {0};
    int cursor = aitbc_req_cursor(api, req, tag, &after_ms, after_id);
    if (cursor < 0) return;
    if (cursor && !keyfmt_key_id_valid(after_id)) {
        api->respond_error(req, 400, "invalid_argument", "cursor", "malformed cursor");
        return;
    }
    cJSON *items = cJSON_CreateArray();
    int rc = store_list_keys(st, r, addr, after_ms, cursor ? after_id : NULL, limit, items);
    if (rc != 0) {
        cJSON_Delete(items);
        api->respond_error(req, 500, "internal", NULL, "the keys could not be listed");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    int more = cJSON_GetArraySize(items) > limit;
    const char *id = NULL;
    int64_t ms = 0;
    if (more) {
        cJSON_DeleteItemFromArray(items, limit);
        const cJSON *last = cJSON_GetArrayItem(items, limit - 1);
        id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "key_id"));
        const char *created =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "created_at"));
        more = id && created && aitbc_time_parse(created, &ms) == 0;
    }
    cJSON_AddItemToObject(out, "items", items);
    aitbc_page_set_next(out, more, tag, ms, id);
    api->respond_json(req, 200, out);
}

static void h_revoke(aitbc_request *req, void *user) {
    auth_state *st = user;
    const aitbc_host_api *api = st->api;
    const char *key_id = api->req_param(req, "key_id");
    int rc = service_revoke_key(st, NULL, key_id);
    if (rc == AITBC_ENOTFOUND) {
        api->respond_error(req, 404, "not_found", NULL, "no such key");
        return;
    }
    if (rc != 0) {
        api->respond_error(req, 500, "internal", NULL, "the key could not be revoked");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    aitbc_json_add_str(o, "key_id", key_id);
    cJSON_AddBoolToObject(o, "revoked", 1);
    api->respond_json(req, 200, o);
}

/* The assets GET /v1/account names, when the ledger knows them. */
static const char *const k_assets[] = {"AIT", "BTC"};
_Static_assert(sizeof k_assets / sizeof k_assets[0] <= AC_ASSETS_MAX, "raise AC_ASSETS_MAX");
_Static_assert(AC_LABEL_BYTES > 4 * AUTH_LABEL_MAX, "a label must fit the account cache");
_Static_assert(AC_KEY_ID_MAX >= KEYFMT_KEY_ID_MAX, "key ids must fit the account cache");

/* Balances of the assets the ledger knows, in t. 0, or the first read error. */
static int read_balances(auth_state *st, aitbc_txn *t, const char *address, ac_view *v) {
    v->balances = 1;
    for (size_t i = 0; i < sizeof k_assets / sizeof k_assets[0]; i++) {
        int d = st->ledger->asset_decimals(st->ledger->self, k_assets[i]);
        if (d < 0) continue;
        ac_balance *b = &v->bal[v->nbal];
        int rc = st->ledger->balance(st->ledger->self, t, address, k_assets[i], &b->available,
                                     &b->locked);
        if (rc != 0) return rc;
        snprintf(b->asset, sizeof b->asset, "%s", k_assets[i]);
        b->decimals = d;
        v->nbal++;
    }
    return 0;
}

/* Everything the answer shows beyond the principal, in one read transaction (one snapshot, one
 * BEGIN/COMMIT for the key row and every balance). 0 or an error. */
static int read_account(auth_state *st, const aitbc_principal *p, ac_view *v) {
    const aitbc_host_api *api = st->api;
    memset(v, 0, sizeof *v);
    aitbc_txn_use use;
    aitbc_txn *t = aitbc_txn_join(api, NULL, AITBC_TXN_READ, &use);
    if (!t) return AITBC_EBUSY;
    int rc = store_key_view(st, t, p->key_id, v);
    if (rc == AITBC_ENOTFOUND) {
        snprintf(v->label, sizeof v->label, "configured admin key"); /* admin_key_hashes */
        rc = 0;
    }
    if (rc == 0 && st->ledger && p->owner_address[0])
        rc = read_balances(st, t, p->owner_address, v);
    return aitbc_txn_leave(api, &use, rc, 0);
}

/* used_ms 0 gives "last_used_at":null (render_account's placeholder). */
static cJSON *account_json(const aitbc_principal *p, const ac_view *v, int64_t used_ms) {
    cJSON *o = cJSON_CreateObject();
    aitbc_json_add_str(o, "address", p->owner_address[0] ? p->owner_address : NULL);
    aitbc_json_add_str(o, "role", keyfmt_role_name(p->role));
    aitbc_json_add_str(o, "key_id", p->key_id);
    aitbc_json_add_str(o, "label", v->label);
    if (v->has_row) {
        auth_add_time(o, "created_at", v->created_ms);
        auth_add_time(o, "last_used_at", used_ms);
    }
    if (v->balances) {
        cJSON *bal = cJSON_AddObjectToObject(o, "balances");
        cJSON *locked = cJSON_AddObjectToObject(o, "locked");
        for (size_t i = 0; i < v->nbal; i++) {
            aitbc_json_add_money(bal, v->bal[i].asset, v->bal[i].available, v->bal[i].decimals);
            aitbc_json_add_money(locked, v->bal[i].asset, v->bal[i].locked, v->bal[i].decimals);
        }
    }
    return o;
}

#define USED_AT_KEY "\"last_used_at\":"

/* Render v's answer once into v->text, without last_used_at's value (text_len stays 0 when it
 * does not fit). The key is found by its text: a quote inside a string value is escaped, so
 * `"last_used_at":` cannot occur inside the label. */
static void render_account(const aitbc_principal *p, ac_view *v) {
    v->text_len = v->used_at = 0;
    cJSON *o = account_json(p, v, 0);
    char *text = aitbc_json_print(o);
    cJSON_Delete(o);
    size_t n = text ? strlen(text) : 0;
    if (n && n < sizeof v->text) {
        const char *key = v->has_row ? strstr(text, USED_AT_KEY "null") : NULL;
        if (key) {
            size_t at = (size_t)(key - text) + strlen(USED_AT_KEY), rest = n - at - 4;
            memcpy(v->text, text, at);
            memcpy(v->text + at, text + at + 4, rest);
            v->used_at = at;
            v->text_len = at + rest;
        } else if (!v->has_row) {
            memcpy(v->text, text, n);
            v->text_len = n;
        }
    }
    free(text);
}

/* The answer for v: its rendered text with this moment's last use spliced in (no JSON tree
 * built, printed or freed per request), or built from its fields when it has no text. */
static void answer_account(auth_state *st, aitbc_request *req, const aitbc_principal *p,
                           const ac_view *v) {
    const aitbc_host_api *api = st->api;
    int64_t used = v->has_row ? auth_last_used(st, p->key_id, v->used_ms) : 0;
    if (!v->text_len) {
        api->respond_json(req, 200, account_json(p, v, used));
        return;
    }
    char out[AC_TEXT_BYTES + AITBC_TIME_MAX + 2];
    size_t head = v->used_at ? v->used_at : v->text_len, n = head;
    memcpy(out, v->text, head);
    if (v->used_at) {
        if (used > 0) {
            out[n++] = '"';
            aitbc_time_format(used, out + n);
            n += strlen(out + n);
            out[n++] = '"';
        } else {
            memcpy(out + n, "null", 4);
            n += 4;
        }
        memcpy(out + n, v->text + head, v->text_len - head);
        n += v->text_len - head;
    }
    api->respond_raw(req, 200, "application/json", out, n);
}

/* The account cache is used only when its entries can be kept exact: the ledger (if loaded) says
 * when balances move, and no other host writes the database (on a shared one their transfers
 * would not move this host's version; checking a shared generation row instead would cost a
 * round trip per answer and a write on every ledger movement of every host). */
int routes_account_cacheable(const auth_state *st) {
    return (!st->ledger || aitbc_ledger_has_version(st->ledger)) && !aitbc_store_shared(st->api);
}

/* The version entries are valid for (key rows never change what the answer shows; without the
 * ledger nothing else is shown) and whether a read begun now sees every write made so far. */
static uint64_t account_version(auth_state *st, int *settled) {
    if (!st->ledger) {
        if (settled) *settled = 1;
        return 0;
    }
    return st->ledger->version(st->ledger->self, settled);
}

static void h_account(aitbc_request *req, void *user) {
    auth_state *st = user;
    const aitbc_host_api *api = st->api;
    const aitbc_principal *p = api->req_principal(req);
    if (!p) {
        api->respond_error(req, 401, "unauthenticated", NULL, "an API key is required");
        return;
    }
    ac_view v;
    int cacheable = st->acct_on, settled = 0;
    /* The version is taken before the read transaction begins (see ledger@1 version): stored only
     * if every balance write had ended by then and none began while reading. */
    uint64_t version = cacheable ? account_version(st, &settled) : 0;
    if (cacheable && ac_get(st->acct, p->key_id, version, &v)) {
        answer_account(st, req, p, &v);
        return;
    }
    int rc = read_account(st, p, &v);
    if (rc != 0) {
        api->log(st->ctx, AITBC_LOG_ERROR, "account read failed (%d)", rc);
        api->respond_error(req, 500, "internal", NULL, "the account could not be read");
        return;
    }
    render_account(p, &v);
    if (cacheable && settled && account_version(st, NULL) == version)
        ac_put(st->acct, p->key_id, version, &v);
    answer_account(st, req, p, &v);
}

int routes_register(auth_state *st) {
    const aitbc_route routes[] = {
        {.method = "POST",
         .path = "/v1/admin/keys",
         .roles = AITBC_ROLE_ADMIN,
         .body = AITBC_BODY_JSON,
         .max_body_bytes = 4096,
         .handler = h_create,
         .user = st,
         .write = 1},
        {.method = "GET",
         .path = "/v1/admin/keys",
         .roles = AITBC_ROLE_ADMIN,
         .handler = h_list,
         .user = st},
        {.method = "DELETE",
         .path = "/v1/admin/keys/{key_id}",
         .roles = AITBC_ROLE_ADMIN,
         .handler = h_revoke,
         .user = st,
         .write = 1},
        {.method = "GET",
         .path = "/v1/account",
         .roles = AITBC_ROLE_ANY,
         .handler = h_account,
         .user = st},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = st->api->route(st->ctx, &routes[i]);
        if (rc != 0) {
            st->api->log(st->ctx, AITBC_LOG_ERROR, "cannot register %s %s (%d)", routes[i].method,
                         routes[i].path, rc);
            return rc;
        }
    }
    return 0;
}
