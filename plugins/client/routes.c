/* HTTP routes of the client plugin: submit (escrow in the same transaction as the job row), get
 * (with a long-poll until terminal), receipt, list, cancel and the public receipt keys.
 * A client sees only its own jobs: anyone else's answer 404, so existence never leaks. */
#include "client.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL_JOBS_MAX_BODY (16u << 20)

/* Load a job the caller may see, without its payload: 1 and *j, or 0 after answering
 * 404/5xx. */
static int load_visible(client_state *cs, aitbc_request *req, const char *job_id, cl_job *j) {
    const aitbc_principal *p = cs->api->req_principal(req);
    aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_READ);
    if (!t) {
        aitbc_respond_rc(cs->api, cs->ctx, req, AITBC_EBUSY, NULL);
        return 0;
    }
    int rc = job_id && strlen(job_id) < AITBC_ID_MAX ? cl_job_load(cs, t, job_id, j) : 0;
    int mine =
        rc == 1 && p && (p->role == AITBC_ROLE_ADMIN || strcmp(j->client, p->owner_address) == 0);
    cs->api->txn_commit(t);
    if (rc < 0) {
        if (mine) cl_job_free(j);
        aitbc_respond_rc(cs->api, cs->ctx, req, rc, NULL);
        return 0;
    }
    if (mine) return 1;
    if (rc == 1) cl_job_free(j);
    cs->api->respond_error(req, 404, "not_found", NULL, "No such job.");
    return 0;
}

/* The per-account queue limits, inside the submit's write transaction (so two submits cannot
 * both take the last place). Read from the account's row of totals in client_queued (kept by
 * every move in or out of QUEUED): one lookup by key. 0 = room, 1 after answering 429, <0 error. */
static int queue_full(client_state *cs, aitbc_txn *t, aitbc_request *req, const cl_job *j) {
    const aitbc_host_api *api = cs->api;
    int64_t jobs, bytes;
    int rc = cl_queued_get(cs, t, j->client, &jobs, &bytes);
    if (rc != 0) return rc;
    int64_t mine = j->payload_bytes;
    if (jobs >= cs->max_queued_jobs) {
        api->respond_error(req, 429, "queue_limit", NULL,
                           "This account already has %lld QUEUED jobs, the most this node allows "
                           "per account: wait until some have started, or cancel some, then "
                           "submit again.",
                           (long long)jobs);
        return 1;
    }
    if (bytes + mine > cs->max_queued_bytes) {
        api->respond_error(req, 429, "queue_limit", "payload",
                           "This account's QUEUED jobs hold %lld bytes of payload; with this one "
                           "(%lld bytes) they would pass the %lld bytes this node allows per "
                           "account: wait until some have started, or cancel some, then submit "
                           "again.",
                           (long long)bytes, (long long)mine, (long long)cs->max_queued_bytes);
        return 1;
    }
    return 0;
}

static void h_submit(aitbc_request *req, void *user) {
    client_state *cs = user;
    const aitbc_host_api *api = cs->api;
    const aitbc_principal *p = api->req_principal(req);
    jc_submit sub;
    aitbc_jobs_error err = {0};
    if (jc_parse_submit(api->req_json(req), &sub, &err) != 0) {
        aitbc_respond_jobs_error(cs->api, req, &err);
        return;
    }
    cl_job j = {0};
    aitbc_random_id("job", j.job_id);
    snprintf(j.client, sizeof j.client, "%s", p->owner_address);
    snprintf(j.state, sizeof j.state, "QUEUED");
    snprintf(j.job_type, sizeof j.job_type, "%s", sub.job_type);
    const char *trade =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sub.constraints, "trade_id"));
    if (trade && cl_trade_bind(cs, trade, j.client, &j, &err) != 0) {
        aitbc_respond_jobs_error(cs->api, req, &err);
        return;
    }
    if (trade) sub.max_price = 0; /* paid by the trade's hours: no escrow of its own */
    snprintf(j.payment, sizeof j.payment, "%s",
             trade               ? "trade"
             : sub.max_price > 0 ? "escrowed"
                                 : "none");
    j.payload = aitbc_json_canonical(sub.payload);
    j.payload_bytes = j.payload ? (int64_t)strlen(j.payload) : 0;
    j.constraints = sub.constraints ? aitbc_json_canonical(sub.constraints) : strdup("{}");
    j.max_price = sub.max_price;
    j.unit_price = j.price = j.units = j.lease_ms = -1;
    j.assigned_ms = j.started_ms = j.completed_ms = -1;
    j.progress_ppm = j.progress_ms = -1;
    j.created_ms = api->now_ms();
    j.expires_ms = j.created_ms + sub.ttl_s * 1000;
    if (!j.payload || !j.constraints) {
        cl_job_free(&j);
        aitbc_respond_rc(cs->api, cs->ctx, req, AITBC_ENOMEM, NULL);
        return;
    }
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) {
        cl_job_free(&j);
        aitbc_respond_rc(cs->api, cs->ctx, req, AITBC_EBUSY, NULL);
        return;
    }
    cl_events ev = {0};
    int rc = queue_full(cs, t, req, &j);
    if (rc == 1) { /* answered 429 */
        api->txn_rollback(t);
        cl_job_free(&j);
        return;
    }
    char hash[AITBC_TX_HASH_MAX];
    if (rc == 0 && j.max_price > 0)
        rc = cs->ledger->lock(cs->ledger->self, t, j.client, "AIT", j.max_price, j.job_id, hash);
    if (rc == 0) rc = cl_job_insert(cs, t, &j);
    if (rc == 0) rc = cl_counter_add(cs, t, "QUEUED", 1);
    if (rc == 0) rc = cl_queued_add(cs, t, j.client, 1, j.payload_bytes);
    if (rc == 0)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    if (rc != 0) {
        cl_events_drop(&ev);
        cl_job_free(&j);
        if (rc == AITBC_EFUNDS || rc == AITBC_ENOTFOUND)
            api->respond_error(req, 402, "insufficient_funds", "max_price",
                               "Available AIT balance is below max_price.");
        else
            aitbc_respond_rc(cs->api, cs->ctx, req, rc, NULL);
        return;
    }
    /* One tree for the answer and the event: the answer is printed from it, then it loses the
     * payload and becomes the event (both built after COMMIT, so they say the same). */
    cJSON *o = cl_job_json(cs, &j, 1);
    char *text = o ? aitbc_json_print(o) : NULL;
    cl_events_take(&ev, &j, o);
    cl_events_flush(cs, &ev);
    if (text)
        api->respond_raw(req, 201, "application/json", text, strlen(text));
    else
        aitbc_respond_rc(cs->api, cs->ctx, req, AITBC_ENOMEM, NULL);
    free(text);
    cl_job_free(&j);
}

/* Answer 200 with the whole job. Its payload (up to 16 MiB) is read only here, not by a
 * long-poll that parks again on every progress wake. The host's read scope makes this read and
 * the handler's load of the job row one snapshot. */
static void answer_job(client_state *cs, aitbc_request *req, cl_job *j) {
    aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_READ);
    int rc = t ? cl_job_payload(cs, t, j) : AITBC_EBUSY;
    if (t) cs->api->txn_commit(t);
    if (rc != 0)
        aitbc_respond_rc(cs->api, cs->ctx, req, rc, NULL);
    else
        cs->api->respond_json(req, 200, cl_job_answer(cs, j));
}

/* Long-poll retry: user carries the absolute deadline (no allocation to leak at shutdown). */
static void get_retry(aitbc_request *req, void *user, int timed_out) {
    client_state *cs = g_client;
    int64_t deadline = (int64_t)(intptr_t)user;
    cl_job j;
    if (!load_visible(cs, req, cs->api->req_param(req, "job_id"), &j)) return;
    if (!timed_out && !cl_terminal(j.state) && cs->api->now_ms() < deadline) {
        char key[96];
        snprintf(key, sizeof key, "job:%s", j.job_id);
        cs->api->defer(req, key, deadline, get_retry, user);
    } else {
        answer_job(cs, req, &j);
    }
    cl_job_free(&j);
}

static int parse_wait(const char *text, int64_t *out) {
    *out = 0;
    if (!text) return 0;
    size_t n = strlen(text);
    if (n == 0 || n > 2) return -1;
    for (size_t i = 0; i < n; i++)
        if (text[i] < '0' || text[i] > '9') return -1;
    *out = atoi(text);
    return *out <= 30 ? 0 : -1;
}

static void h_get(aitbc_request *req, void *user) {
    client_state *cs = user;
    int64_t wait_s;
    if (parse_wait(cs->api->req_query(req, "wait_s"), &wait_s) != 0) {
        cs->api->respond_error(req, 400, "invalid_argument", "wait_s", "wait_s must be 0..30");
        return;
    }
    cl_job j;
    if (!load_visible(cs, req, cs->api->req_param(req, "job_id"), &j)) return;
    if (wait_s > 0 && !cl_terminal(j.state)) {
        char key[96];
        int64_t deadline = cs->api->now_ms() + wait_s * 1000;
        snprintf(key, sizeof key, "job:%s", j.job_id);
        cs->api->defer(req, key, deadline, get_retry, (void *)(intptr_t)deadline);
        /* A change that landed between the read and the park: wake ourselves to re-check. */
        cl_job now;
        aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_READ);
        if (t && cl_job_load(cs, t, j.job_id, &now) == 1) {
            if (strcmp(now.state, j.state) != 0) cs->api->wake(key);
            cl_job_free(&now);
        }
        if (t) cs->api->txn_commit(t);
    } else {
        answer_job(cs, req, &j);
    }
    cl_job_free(&j);
}

static void h_receipt(aitbc_request *req, void *user) {
    client_state *cs = user;
    cl_job j;
    if (!load_visible(cs, req, cs->api->req_param(req, "job_id"), &j)) return;
    cJSON *r = j.receipt ? cJSON_Parse(j.receipt) : NULL;
    if (r)
        cs->api->respond_json(req, 200, r);
    else if (!cl_terminal(j.state))
        cs->api->respond_error(req, 409, "not_ready", NULL,
                               "The receipt exists once the job is COMPLETED or FAILED.");
    else
        cs->api->respond_error(req, 404, "not_found", NULL, "This job never produced a receipt.");
    cl_job_free(&j);
}

static void h_list(aitbc_request *req, void *user) {
    client_state *cs = user;
    const aitbc_host_api *api = cs->api;
    const aitbc_principal *p = api->req_principal(req);
    int limit;
    if (aitbc_req_limit(api, req, &limit) != 0) return;
    cJSON *out = NULL;
    aitbc_jobs_error err = {0};
    if (cl_list(cs, api->req_query(req, "state"), p->owner_address, NULL, limit,
                api->req_query(req, "cursor"), &out, &err) != 0) {
        aitbc_respond_jobs_error(cs->api, req, &err);
        return;
    }
    api->respond_json(req, 200, out);
}

static void h_cancel(aitbc_request *req, void *user) {
    client_state *cs = user;
    const aitbc_host_api *api = cs->api;
    cl_job j;
    if (!load_visible(cs, req, api->req_param(req, "job_id"), &j)) return;
    cl_job_free(&j);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) {
        aitbc_respond_rc(cs->api, cs->ctx, req, AITBC_EBUSY, NULL);
        return;
    }
    cl_events ev = {0};
    int rc = cl_job_load(cs, t, api->req_param(req, "job_id"), &j);
    int conflict = rc == 1 && strcmp(j.state, "QUEUED") != 0 && strcmp(j.state, "RUNNING") != 0;
    if (rc == 1 && !conflict) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "code", "canceled");
        cJSON_AddStringToObject(e, "message", "canceled by the client");
        rc = cl_end_refund(cs, t, &j, "CANCELED", e, &ev);
        cJSON_Delete(e);
        if (rc == 0) rc = cl_job_payload(cs, t, &j); /* the answer is the whole Job */
    } else if (rc == 0) {
        rc = AITBC_ENOTFOUND;
    } else if (rc == 1) {
        rc = 0;
    }
    if (rc == 0 && !conflict)
        rc = api->txn_commit(t);
    else
        api->txn_rollback(t);
    if (rc != 0) {
        cl_events_drop(&ev);
        cl_job_free(&j);
        if (rc == AITBC_ENOTFOUND)
            api->respond_error(req, 404, "not_found", NULL, "No such job.");
        else
            aitbc_respond_rc(cs->api, cs->ctx, req, rc, NULL);
        return;
    }
    if (conflict) {
        api->respond_error(req, 409, "conflict", "state", "A %s job cannot be canceled.", j.state);
    } else {
        cl_events_flush(cs, &ev);
        api->respond_json(req, 200, cl_job_json(cs, &j, 1));
    }
    cl_job_free(&j);
}

static void h_public_key(aitbc_request *req, void *user) {
    client_state *cs = user;
    cJSON *o = cJSON_CreateObject(), *keys = cJSON_AddArrayToObject(o, "keys");
    cJSON *k = cJSON_CreateObject();
    cJSON_AddStringToObject(k, "key_id", cs->key.key_id);
    cJSON_AddStringToObject(k, "alg", "Ed25519");
    cJSON_AddStringToObject(k, "public_key", cs->key.pk_hex);
    cJSON_AddStringToObject(k, "status", "active");
    cJSON_AddItemToArray(keys, k);
    cs->api->respond_json(req, 200, o);
}

int cl_routes_register(client_state *cs) {
    const unsigned owner = AITBC_ROLE_CLIENT | AITBC_ROLE_ADMIN;
    const aitbc_route routes[] = {
        {"POST", "/v1/jobs", AITBC_ROLE_CLIENT, AITBC_BODY_JSON, CL_JOBS_MAX_BODY, h_submit, cs, 1,
         1},
        {"GET", "/v1/jobs", AITBC_ROLE_CLIENT, AITBC_BODY_NONE, 0, h_list, cs, 0, 0},
        {"GET", "/v1/jobs/{job_id}", owner, AITBC_BODY_NONE, 0, h_get, cs, 0, 0},
        {"GET", "/v1/jobs/{job_id}/receipt", owner, AITBC_BODY_NONE, 0, h_receipt, cs, 0, 0},
        {"POST", "/v1/jobs/{job_id}/cancel", owner, AITBC_BODY_NONE, 0, h_cancel, cs, 0, 1},
        {"GET", "/v1/receipts/public-key", AITBC_ROLE_PUBLIC, AITBC_BODY_NONE, 0, h_public_key, cs,
         0, 0},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = cs->api->route(cs->ctx, &routes[i]);
        if (rc != 0) {
            cs->api->log(cs->ctx, AITBC_LOG_ERROR, "route %s %s: %d", routes[i].method,
                         routes[i].path, rc);
            return rc;
        }
    }
    return 0;
}
