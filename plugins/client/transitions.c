/* The job state machine's edges and the money that moves with them, inside the caller's write
 * transaction: counters, escrow release/fee/refund through ledger@1, signed receipts, and the
 * events that go out only after the commit. */
#include "client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cl_terminal(const char *state) {
    return strcmp(state, "COMPLETED") == 0 || strcmp(state, "FAILED") == 0 ||
           strcmp(state, "CANCELED") == 0 || strcmp(state, "EXPIRED") == 0;
}

void cl_events_note(client_state *cs, cl_events *ev, const cl_job *j) {
    /* Events carry what changes, not the payload (up to 16 MiB, never changes): it is one GET
     * away, and a copy in every event would pin that much per queued event. */
    cl_job slim = *j;
    slim.payload = NULL;
    /* A QUEUED job's event says why it waits, as GET does (reads join this transaction). */
    cl_events_take(ev, j, cl_job_json(cs, &slim, strcmp(j->state, "QUEUED") == 0));
}

void cl_events_take(cl_events *ev, const cl_job *j, cJSON *o) {
    if (!ev->jobs) ev->jobs = cJSON_CreateArray();
    cJSON_DeleteItemFromObjectCaseSensitive(o, "payload");
    if (o) cJSON_AddStringToObject(o, "job_type", j->job_type); /* payload.type, for matching */
    if (ev->jobs && o)
        cJSON_AddItemToArray(ev->jobs, o);
    else
        cJSON_Delete(o);
    if (strcmp(j->state, "QUEUED") == 0) ev->queued = 1;
}

void cl_events_flush(client_state *cs, cl_events *ev) {
    if (ev->queued) {
        /* The generation rises before the wake so a poll that sampled it earlier re-checks. */
        atomic_fetch_add(&cs->queued_gen, 1);
        cs->api->wake(AITBC_JOBS_WAKE_QUEUED);
    }
    cJSON *o;
    while ((o = cJSON_DetachItemFromArray(ev->jobs, 0))) {
        char key[96];
        snprintf(key, sizeof key, "job:%s",
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "job_id")));
        /* Built only to be published: handed over, not copied (the batch holds it). */
        aitbc_publish_take(cs->api, cs->ctx, AITBC_TOPIC_JOB_UPDATES, o);
        cs->api->wake(key);
    }
    cl_events_drop(ev);
}

void cl_events_drop(cl_events *ev) {
    cJSON_Delete(ev->jobs);
    ev->jobs = NULL;
    ev->queued = 0;
}

int cl_set_state(client_state *cs, aitbc_txn *t, cl_job *j, const char *state, cl_events *ev) {
    int rc = 0;
    if (strcmp(j->state, state) != 0) {
        int was_queued = strcmp(j->state, "QUEUED") == 0, queued = strcmp(state, "QUEUED") == 0;
        rc = cl_counter_add(cs, t, j->state, -1);
        if (rc == 0) rc = cl_counter_add(cs, t, state, 1);
        if (rc == 0 && was_queued != queued) /* the per-account limit's totals */
            rc = cl_queued_add(cs, t, j->client, queued ? 1 : -1,
                               queued ? j->payload_bytes : -j->payload_bytes);
        snprintf(j->state, sizeof j->state, "%s", state);
    }
    if (rc == 0) rc = cl_job_save(cs, t, j);
    if (rc == 0) cl_events_note(cs, ev, j);
    return rc;
}

static int sha_of_text(const char *text, char out[65]) {
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    int rc = v ? aitbc_json_sha256_hex(v, out) : AITBC_EINVAL;
    cJSON_Delete(v);
    return rc;
}

/* A signed receipt for a job that ran: COMPLETED (with the key miner_pk that signed the result),
 * or FAILED after an assignment (miner_pk NULL). */
static int make_receipt(client_state *cs, aitbc_txn *t, cl_job *j, const char *miner_pk) {
    char rid[AITBC_ID_MAX], psha[65], rsha[65], ts[AITBC_TIME_MAX];
    aitbc_random_id("rcpt", rid);
    int fetched = !j->payload;
    int rc = cl_job_payload(cs, t, j);
    if (rc == 0) rc = sha_of_text(j->payload, psha);
    if (fetched) { /* a sweep fails up to 200 jobs in one go: hold one payload at a time */
        free(j->payload);
        j->payload = NULL;
    }
    if (rc == 0) rc = sha_of_text(strcmp(j->state, "COMPLETED") == 0 ? j->result : j->error, rsha);
    if (rc != 0) return rc;
    cJSON *r = cJSON_CreateObject();
    if (!r) return AITBC_ENOMEM;
    aitbc_json_add_i64(r, "version", 1);
    aitbc_json_add_str(r, "receipt_id", rid);
    aitbc_json_add_str(r, "job_id", j->job_id);
    aitbc_json_add_str(r, "client", j->client);
    aitbc_json_add_str(r, "miner", j->miner);
    aitbc_json_add_str(r, "state", j->state);
    aitbc_json_add_i64(r, "attempt", j->attempt);
    aitbc_json_add_i64(r, "units", j->units > 0 ? j->units : 0);
    aitbc_json_add_str(r, "unit_type", j->unit_type[0] ? j->unit_type : NULL);
    aitbc_json_add_money(r, "unit_price", j->unit_price > 0 ? j->unit_price : 0, JC_AIT_DECIMALS);
    aitbc_json_add_money(r, "price", j->price > 0 ? j->price : 0, JC_AIT_DECIMALS);
    if (j->trade_id[0]) aitbc_json_add_str(r, "trade_id", j->trade_id); /* paid by that trade */
    aitbc_json_add_str(r, "payload_sha256", psha);
    aitbc_json_add_str(r, "result_sha256", rsha);
    aitbc_time_format(j->assigned_ms, ts);
    aitbc_json_add_str(r, "started_at", ts);
    aitbc_time_format(j->completed_ms, ts);
    aitbc_json_add_str(r, "completed_at", ts);
    aitbc_json_add_str(r, "miner_signature", j->miner_sig);
    aitbc_json_add_str(r, "miner_public_key", miner_pk);
    rc = jc_receipt_sign(r, &cs->key);
    char *text = rc == 0 ? aitbc_json_print(r) : NULL;
    cJSON_Delete(r);
    if (!text) return rc ? rc : AITBC_ENOMEM;
    free(j->receipt);
    j->receipt = text;
    return 0;
}

int cl_end_refund(client_state *cs, aitbc_txn *t, cl_job *j, const char *state,
                  const cJSON *error_json, cl_events *ev) {
    int rc = 0;
    char hash[AITBC_TX_HASH_MAX];
    if (strcmp(j->payment, "escrowed") == 0 && j->max_price > 0) {
        rc = cs->ledger->unlock(cs->ledger->self, t, j->client, "AIT", j->max_price, j->job_id,
                                hash);
        if (rc != 0) return rc;
        snprintf(j->payment, sizeof j->payment, "refunded");
    }
    j->completed_ms = cs->api->now_ms();
    j->lease_ms = -1;
    j->price = 0;
    if (error_json) {
        free(j->error);
        j->error = aitbc_json_print(error_json);
    }
    if (strcmp(state, "FAILED") == 0 && j->attempt > 0 && j->miner[0]) {
        char prev[16]; /* the receipt says FAILED; cl_set_state moves the counters */
        snprintf(prev, sizeof prev, "%s", j->state);
        snprintf(j->state, sizeof j->state, "FAILED");
        if (!j->error) j->error = strdup("{\"code\":\"failed\",\"message\":\"job failed\"}");
        rc = make_receipt(cs, t, j, NULL);
        snprintf(j->state, sizeof j->state, "%s", prev);
        if (rc == 0) rc = cl_miner_stat_add(cs, t, j->miner, 0, 1, 0);
        if (rc != 0) return rc;
    }
    return cl_set_state(cs, t, j, state, ev);
}

int cl_requeue_or_fail(client_state *cs, aitbc_txn *t, cl_job *j, int max_attempts, const char *why,
                       cl_events *ev) {
    if (j->attempt >= max_attempts) {
        cJSON *e = cJSON_CreateObject();
        aitbc_json_add_str(e, "code", why);
        cJSON_AddStringToObject(e, "message", "the job ran out of attempts");
        int rc = cl_end_refund(cs, t, j, "FAILED", e, ev);
        cJSON_Delete(e);
        return rc;
    }
    /* Back in the queue; the attempt count stays, the next assignment raises it. */
    j->miner[0] = 0;
    j->lease_ms = -1;
    j->unit_price = -1;
    j->unit_type[0] = 0;
    j->assigned_ms = -1;
    j->progress_ppm = j->progress_ms = -1; /* the next attempt starts from nothing */
    return cl_set_state(cs, t, j, "QUEUED", ev);
}

int cl_end_completed(client_state *cs, aitbc_txn *t, cl_job *j, const char *miner_pk,
                     cl_events *ev) {
    jc_money m;
    int rc =
        jc_price(j->units, j->unit_price > 0 ? j->unit_price : 0, j->max_price, cs->fee_bps, &m);
    if (rc != 0) return rc;
    const aitbc_ledger_v1 *l = cs->ledger;
    char hash[AITBC_TX_HASH_MAX];
    if (m.payout > 0)
        rc = l->settle(l->self, t, AITBC_TX_ESCROW_RELEASE, j->client, j->miner, "AIT", m.payout,
                       j->job_id, hash);
    if (rc == 0 && m.fee > 0)
        rc = l->settle(l->self, t, AITBC_TX_FEE, j->client, cs->treasury, "AIT", m.fee, j->job_id,
                       hash);
    if (rc == 0 && m.refund > 0)
        rc = l->unlock(l->self, t, j->client, "AIT", m.refund, j->job_id, hash);
    if (rc != 0) return rc;
    j->price = m.price;
    if (strcmp(j->payment, "escrowed") == 0)
        snprintf(j->payment, sizeof j->payment, "%s", m.price > 0 ? "released" : "refunded");
    j->completed_ms = cs->api->now_ms();
    j->lease_ms = -1;
    j->progress_ppm = 1000000;
    snprintf(j->state, sizeof j->state, "COMPLETED");
    rc = make_receipt(cs, t, j, miner_pk);
    snprintf(j->state, sizeof j->state, "RUNNING");
    if (rc == 0) rc = cl_miner_stat_add(cs, t, j->miner, 1, 0, m.payout);
    if (rc == 0) rc = cl_counter_add(cs, t, "dur_sum_ms", j->completed_ms - j->assigned_ms);
    if (rc == 0) rc = cl_counter_add(cs, t, "dur_n", 1);
    if (rc == 0) rc = cl_set_state(cs, t, j, "COMPLETED", ev);
    return rc;
}
