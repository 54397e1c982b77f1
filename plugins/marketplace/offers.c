/* Offers: a miner's GPU hours for sale. Create (validated field by field), list with filters
 * and keyset cursors, get, and cancel (which ends the offer's active trades pro rata). Every
 * change is published on the `offers` topic after it commits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "marketplace.h"

#define MK_PRICE_MAX ((int64_t)9007199254740991) /* 2^53 - 1: exact in every JSON reader */

cJSON *mk_offer_json(const aitbc_host_api *api, aitbc_stmt *s) {
    cJSON *o = cJSON_CreateObject();
    char ts[AITBC_TIME_MAX];
    aitbc_json_add_str(o, "offer_id", api->col_text(s, 1));
    aitbc_json_add_str(o, "provider", api->col_text(s, 2));
    aitbc_json_add_str(o, "gpu_model", api->col_text(s, 3));
    aitbc_json_add_i64(o, "gpu_memory_gb", api->col_int64(s, 4));
    aitbc_json_add_i64(o, "gpu_count", api->col_int64(s, 5));
    const char *models = api->col_text(s, 6);
    cJSON *m = models ? cJSON_Parse(models) : NULL;
    cJSON_AddItemToObject(o, "models", m ? m : cJSON_CreateArray());
    aitbc_json_add_str(o, "region", api->col_text(s, 7));
    aitbc_json_add_money(o, "price_per_hour", api->col_int64(s, 8), MK_DECIMALS);
    aitbc_json_add_i64(o, "hours_available", api->col_int64(s, 9));
    aitbc_json_add_i64(o, "hours_remaining", api->col_int64(s, 10));
    aitbc_json_add_str(o, "status", api->col_text(s, 11));
    aitbc_time_format(api->col_int64(s, 12), ts);
    aitbc_json_add_str(o, "created_at", ts);
    if (api->col_is_null(s, 13)) {
        cJSON_AddNullToObject(o, "expires_at");
    } else {
        aitbc_time_format(api->col_int64(s, 13), ts);
        aitbc_json_add_str(o, "expires_at", ts);
    }
    return o;
}

cJSON *mk_offer_load(mk_state *ms, aitbc_txn *t, const char *offer_id) {
    const aitbc_host_api *api = ms->api;
    aitbc_stmt *s =
        api->stmt(t, "SELECT " MK_OFFER_COLS " FROM marketplace_offers WHERE offer_id = ?1");
    if (!s) return NULL;
    api->bind_text(s, 1, offer_id);
    cJSON *o = api->step(s) == AITBC_ROW ? mk_offer_json(api, s) : NULL;
    api->stmt_done(s);
    return o;
}

void mk_offer_publish(mk_state *ms, const char *offer_id) {
    aitbc_txn *t = ms->api->txn_begin(AITBC_TXN_READ);
    if (!t) return;
    cJSON *o = mk_offer_load(ms, t, offer_id);
    ms->api->txn_commit(t);
    if (o) ms->api->bus_publish(ms->ctx, AITBC_TOPIC_OFFERS, o);
    cJSON_Delete(o);
}

/* Integer member in lo..hi; answers 400 itself. */
static int body_int(mk_state *ms, aitbc_request *req, const cJSON *body, const char *key,
                    int64_t lo, int64_t hi, int64_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!it || aitbc_json_int(it, out) != 0 || *out < lo || *out > hi) {
        ms->api->respond_error(req, 400, "invalid_argument", key, "must be an integer %lld..%lld",
                               (long long)lo, (long long)hi);
        return -1;
    }
    return 0;
}

static const char *body_text(mk_state *ms, aitbc_request *req, const cJSON *body, const char *key) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, key));
    if (!mk_text_ok(v, MK_TEXT_MAX)) {
        ms->api->respond_error(req, 400, "invalid_argument", key,
                               "must be 1..%d printable ASCII characters", MK_TEXT_MAX);
        return NULL;
    }
    return v;
}

/* models: array of up to MK_MAX_MODELS distinct names. Returns its JSON text (caller frees). */
static char *body_models(mk_state *ms, aitbc_request *req, const cJSON *body) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "models"), *it, *prev;
    int ok = cJSON_IsArray(arr) && cJSON_GetArraySize(arr) <= MK_MAX_MODELS;
    for (it = ok ? arr->child : NULL; it && ok; it = it->next) {
        if (!mk_text_ok(cJSON_GetStringValue(it), MK_TEXT_MAX)) ok = 0;
        for (prev = arr->child; ok && prev != it; prev = prev->next)
            if (strcmp(prev->valuestring, it->valuestring) == 0) ok = 0;
    }
    if (!ok) {
        ms->api->respond_error(req, 400, "invalid_argument", "models",
                               "must be an array of at most %d distinct model names",
                               MK_MAX_MODELS);
        return NULL;
    }
    return aitbc_json_print(arr);
}

typedef struct offer_in {
    const char *gpu_model, *region;
    int64_t memory_gb, gpu_count, price, hours, expires_ms; /* expires_ms -1 = none */
    char *models;                                           /* JSON text, owned */
} offer_in;

static int parse_offer(mk_state *ms, aitbc_request *req, offer_in *in) {
    const aitbc_host_api *api = ms->api;
    static const char *const allowed[] = {"gpu_model",       "gpu_memory_gb", "gpu_count",
                                          "models",          "region",        "price_per_hour",
                                          "hours_available", "expires_at",    NULL};
    const cJSON *body = aitbc_req_object(api, req, allowed);
    if (!body) return -1;
    if (!(in->gpu_model = body_text(ms, req, body, "gpu_model")) ||
        body_int(ms, req, body, "gpu_memory_gb", 1, MK_MAX_MEMORY_GB, &in->memory_gb) != 0 ||
        body_int(ms, req, body, "gpu_count", 1, MK_MAX_GPU_COUNT, &in->gpu_count) != 0 ||
        !(in->models = body_models(ms, req, body)) ||
        !(in->region = body_text(ms, req, body, "region")))
        return -1;
    const char *price =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "price_per_hour"));
    if (!price || aitbc_money_parse(price, MK_DECIMALS, &in->price) != 0 || in->price <= 0 ||
        in->price > MK_PRICE_MAX) {
        api->respond_error(req, 400, "invalid_argument", "price_per_hour",
                           "must be a decimal string > 0 with at most %d decimals, at most "
                           "9007199254.740991",
                           MK_DECIMALS);
        return -1;
    }
    if (body_int(ms, req, body, "hours_available", 1, MK_MAX_HOURS, &in->hours) != 0) return -1;
    int64_t total;
    if (aitbc_mul_i64(in->price, in->hours, &total) != 0) {
        api->respond_error(req, 400, "invalid_argument", "price_per_hour",
                           "price_per_hour × hours_available is too large");
        return -1;
    }
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(body, "expires_at");
    in->expires_ms = -1;
    if (exp && !cJSON_IsNull(exp)) {
        if (!cJSON_IsString(exp) || aitbc_time_parse(exp->valuestring, &in->expires_ms) != 0 ||
            in->expires_ms <= api->now_ms()) {
            api->respond_error(req, 400, "invalid_argument", "expires_at",
                               "must be an RFC 3339 time in the future");
            return -1;
        }
    }
    return 0;
}

static int insert_offer(mk_state *ms, aitbc_txn *t, const char *id, const char *provider,
                        const offer_in *in, int64_t now) {
    const aitbc_host_api *api = ms->api;
    aitbc_stmt *s = api->stmt(
        t,
        "INSERT INTO marketplace_offers(offer_id, provider, gpu_model, gpu_memory_gb, "
        "gpu_count, models, region, price, hours_available, hours_remaining, status, "
        "created_ms, expires_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 'OPEN', ?10, ?11)");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, id);
    api->bind_text(s, 2, provider);
    api->bind_text(s, 3, in->gpu_model);
    api->bind_int64(s, 4, in->memory_gb);
    api->bind_int64(s, 5, in->gpu_count);
    api->bind_text(s, 6, in->models);
    api->bind_text(s, 7, in->region);
    api->bind_int64(s, 8, in->price);
    api->bind_int64(s, 9, in->hours);
    api->bind_int64(s, 10, now);
    if (in->expires_ms < 0)
        api->bind_null(s, 11);
    else
        api->bind_int64(s, 11, in->expires_ms);
    int rc = api->step(s);
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

void mk_h_offer_create(aitbc_request *req, void *user) {
    mk_state *ms = user;
    const aitbc_host_api *api = ms->api;
    const char *me = mk_caller(ms, req);
    offer_in in = {0};
    if (!me || parse_offer(ms, req, &in) != 0) {
        free(in.models);
        return;
    }
    int err = 0;
    cJSON *caps = NULL;
    const char *st = mk_seller_status(ms, me, &caps, &err);
    const char *misfit = st && ms->miners ? mk_offer_misfit(caps, in.gpu_model, in.memory_gb,
                                                            in.gpu_count, in.region, in.models)
                                          : NULL;
    cJSON_Delete(caps);
    if (err || !st || strcmp(st, "OFFLINE") == 0) {
        free(in.models);
        if (err)
            aitbc_respond_rc(ms->api, ms->ctx, req, err, NULL);
        else if (!st)
            api->respond_error(req, 403, "forbidden", NULL,
                               "only a registered miner can offer capacity");
        else
            api->respond_error(req, 409, "conflict", NULL, "the miner is OFFLINE");
        return;
    }
    if (misfit) {
        free(in.models);
        api->respond_error(req, 400, "invalid_argument", misfit,
                           "the offer asks for more than this miner registered (%s)", misfit);
        return;
    }
    char id[AITBC_ID_MAX];
    aitbc_random_id("ofr", id);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    int rc = t ? 0 : AITBC_EBUSY;
    /* The seller's account must exist for hourly releases to land. */
    if (rc == 0) rc = ms->ledger->ensure_account(ms->ledger->self, t, me);
    if (rc == 0) rc = insert_offer(ms, t, id, me, &in, api->now_ms());
    cJSON *o = rc == 0 ? mk_offer_load(ms, t, id) : NULL;
    if (rc == 0 && !o) rc = AITBC_EIO;
    if (rc == 0)
        rc = api->txn_commit(t);
    else if (t)
        api->txn_rollback(t);
    free(in.models);
    if (rc != 0) {
        cJSON_Delete(o);
        aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return;
    }
    api->bus_publish(ms->ctx, AITBC_TOPIC_OFFERS, o);
    api->respond_json(req, 201, o);
}

static const char *query_get(void *user, const char *name) {
    mk_state *ms = ((void **)user)[0];
    return ms->api->req_query(((void **)user)[1], name);
}

static void bind_opt_text(const aitbc_host_api *api, aitbc_stmt *s, int i, const char *v) {
    if (v)
        api->bind_text(s, i, v);
    else
        api->bind_null(s, i);
}

/* The filters of the offer list. Two tests are spelled differently by SQLite and PostgreSQL
 * (README, "Storage"): "gpu_model contains ?2" (instr / strpos) and "the JSON array models has
 * ?4" (json_each / json_array_elements_text). */
#define OFFER_FILTERS(gpu_has, models_have)                                                        \
    "status = ?1 AND (CAST(?2 AS TEXT) IS NULL OR " gpu_has ")"                                    \
    " AND (CAST(?3 AS TEXT) IS NULL OR region = ?3)"                                               \
    " AND (CAST(?4 AS TEXT) IS NULL OR " models_have ")"                                           \
    " AND (CAST(?5 AS INTEGER) < 0 OR gpu_memory_gb >= ?5)"                                        \
    " AND (CAST(?6 AS INTEGER) < 0 OR price <= ?6)"                                                \
    " AND (status <> 'OPEN' OR expires_ms IS NULL OR expires_ms > ?10)"
#define OFFER_FILTERS_SQLITE                                                                       \
    OFFER_FILTERS("instr(lower(gpu_model), lower(?2)) > 0",                                        \
                  "EXISTS(SELECT 1 FROM json_each(models) WHERE value = ?4)")
#define OFFER_FILTERS_PG                                                                           \
    OFFER_FILTERS(                                                                                 \
        "strpos(lower(gpu_model), lower(?2)) > 0",                                                 \
        "EXISTS(SELECT 1 FROM json_array_elements_text(CAST(models AS json)) AS m(value)"          \
        " WHERE m.value = ?4)")
#define OFFER_BY_PRICE                                                                             \
    " AND (price > ?7 OR (price = ?7 AND seq > ?8)) ORDER BY price ASC, seq ASC LIMIT ?9"
#define OFFER_BY_AGE " AND seq < ?7 AND CAST(?8 AS INTEGER) IS NOT NULL ORDER BY seq DESC LIMIT ?9"

/* [pg][sort by price] */
static const char *const k_offer_list_sql[2][2] = {
    {"SELECT " MK_OFFER_COLS " FROM marketplace_offers WHERE " OFFER_FILTERS_SQLITE OFFER_BY_AGE,
     "SELECT " MK_OFFER_COLS " FROM marketplace_offers WHERE " OFFER_FILTERS_SQLITE OFFER_BY_PRICE},
    {"SELECT " MK_OFFER_COLS " FROM marketplace_offers WHERE " OFFER_FILTERS_PG OFFER_BY_AGE,
     "SELECT " MK_OFFER_COLS " FROM marketplace_offers WHERE " OFFER_FILTERS_PG OFFER_BY_PRICE},
};

void mk_h_offer_list(aitbc_request *req, void *user) {
    mk_state *ms = user;
    const aitbc_host_api *api = ms->api;
    mk_offer_query q;
    const char *bad = NULL;
    void *qu[2] = {ms, req};
    if (mk_offer_query_parse(query_get, qu, &q, &bad) != 0) {
        api->respond_error(req, 400, "invalid_argument", bad, "invalid %s", bad);
        return;
    }
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, k_offer_list_sql[ms->pg != 0][q.sort_price != 0]) : NULL;
    if (!s) {
        if (t) api->txn_commit(t);
        aitbc_respond_rc(ms->api, ms->ctx, req, t ? AITBC_EIO : AITBC_EBUSY, NULL);
        return;
    }
    api->bind_text(s, 1, q.status);
    bind_opt_text(api, s, 2, q.gpu);
    bind_opt_text(api, s, 3, q.region);
    bind_opt_text(api, s, 4, q.model);
    api->bind_int64(s, 5, q.min_memory_gb);
    api->bind_int64(s, 6, q.max_price);
    api->bind_int64(s, 7, q.has_cursor ? q.after_key : q.sort_price ? -1 : INT64_MAX);
    api->bind_int64(s, 8, q.has_cursor ? q.after_seq : 0);
    api->bind_int64(s, 9, q.limit + 1);
    api->bind_int64(s, 10, api->now_ms());
    cJSON *out = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(out, "items");
    int n = 0, more = 0, rc;
    int64_t last_price = 0, last_seq = 0;
    while ((rc = api->step(s)) == AITBC_ROW) {
        if (n == q.limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(items, mk_offer_json(api, s));
        last_seq = api->col_int64(s, 0);
        last_price = api->col_int64(s, 8);
        n++;
    }
    api->stmt_done(s);
    api->txn_commit(t);
    if (rc < 0) {
        cJSON_Delete(out);
        aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return;
    }
    char cur[AITBC_CURSOR_MAX];
    if (more && mk_offer_cursor(&q, last_price, last_seq, cur) == 0)
        cJSON_AddStringToObject(out, "next_cursor", cur);
    else
        cJSON_AddNullToObject(out, "next_cursor");
    api->respond_json(req, 200, out);
}

void mk_h_offer_get(aitbc_request *req, void *user) {
    mk_state *ms = user;
    const aitbc_host_api *api = ms->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) {
        aitbc_respond_rc(ms->api, ms->ctx, req, AITBC_EBUSY, NULL);
        return;
    }
    cJSON *o = mk_offer_load(ms, t, api->req_param(req, "offer_id"));
    api->txn_commit(t);
    if (o)
        api->respond_json(req, 200, o);
    else
        api->respond_error(req, 404, "not_found", NULL, "no such offer");
}

/* Inside t: the offer's provider and status. 0, or AITBC_ENOTFOUND. */
static int offer_owner(mk_state *ms, aitbc_txn *t, const char *id, char provider[48],
                       char status[16]) {
    const aitbc_host_api *api = ms->api;
    aitbc_stmt *s =
        api->stmt(t, "SELECT provider, status FROM marketplace_offers WHERE offer_id = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, id);
    int rc = api->step(s);
    if (rc == AITBC_ROW) {
        snprintf(provider, 48, "%s", api->col_text(s, 0));
        snprintf(status, 16, "%s", api->col_text(s, 1));
        rc = 0;
    } else if (rc == AITBC_DONE) {
        rc = AITBC_ENOTFOUND;
    }
    api->stmt_done(s);
    return rc;
}

void mk_h_offer_cancel(aitbc_request *req, void *user) {
    mk_state *ms = user;
    const aitbc_host_api *api = ms->api;
    const char *me = mk_caller(ms, req);
    if (!me) return;
    const char *id = api->req_param(req, "offer_id");
    char provider[48] = "", status[16] = "";
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    int rc = t ? offer_owner(ms, t, id, provider, status) : AITBC_EBUSY;
    /* Someone else's offer does not exist for this caller. */
    if (rc == 0 && strcmp(provider, me) != 0) rc = AITBC_ENOTFOUND;
    int changed = rc == 0 && strcmp(status, "CANCELED") != 0;
    if (changed) {
        aitbc_stmt *s =
            api->stmt(t, "UPDATE marketplace_offers SET status = 'CANCELED' WHERE offer_id = ?1");
        rc = s ? 0 : AITBC_EIO;
        if (s) {
            api->bind_text(s, 1, id);
            rc = api->step(s) < 0 ? AITBC_EIO : 0;
            api->stmt_done(s);
        }
        if (rc == 0) {
            int n = mk_trades_terminate(ms, t, NULL, id, NULL, api->now_ms());
            rc = n < 0 ? n : 0;
        }
    }
    cJSON *o = rc == 0 ? mk_offer_load(ms, t, id) : NULL;
    if (rc == 0 && !o) rc = AITBC_EIO;
    if (rc == 0)
        rc = api->txn_commit(t);
    else if (t)
        api->txn_rollback(t);
    if (rc != 0) {
        cJSON_Delete(o);
        if (rc == AITBC_ENOTFOUND)
            api->respond_error(req, 404, "not_found", NULL, "no such offer");
        else
            aitbc_respond_rc(ms->api, ms->ctx, req, rc, NULL);
        return;
    }
    if (changed) api->bus_publish(ms->ctx, AITBC_TOPIC_OFFERS, o);
    api->respond_json(req, 200, o);
}
