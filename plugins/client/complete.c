/* POST /v1/jobs/{job_id}/complete, the core: body checks, who may complete (403 vs 409
 * lease_lost from the attempts history), replay of the same completion, the miner's signature,
 * then COMPLETED with payment or a failure (requeue when retryable and attempts remain). */
#include "client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cl_done {
    int64_t attempt, units;
    const cJSON *result, *error;
    const char *sig;
    int retryable;
    char sha[65];
} cl_done;

static const char *const k_error_keys[] = {"code", "message", NULL};

static int parse_done(const cJSON *b, cl_done *d, aitbc_jobs_error *err) {
    static const char *const allowed[] = {"attempt", "result",    "units", "miner_signature",
                                          "error",   "retryable", NULL};
    memset(d, 0, sizeof *d);
    if (!cJSON_IsObject(b))
        return jc_fail(err, 400, "invalid_argument", NULL, "body must be a JSON object");
    const char *unknown = aitbc_json_unknown_key(b, allowed);
    if (unknown) return jc_fail(err, 400, "invalid_argument", unknown, "unknown field");
    if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(b, "attempt"), &d->attempt) != 0 ||
        d->attempt < 1)
        return jc_fail(err, 400, "invalid_argument", "attempt", "must be an integer >= 1");
    d->result = cJSON_GetObjectItemCaseSensitive(b, "result");
    d->error = cJSON_GetObjectItemCaseSensitive(b, "error");
    if (!d->result == !d->error)
        return jc_fail(err, 400, "invalid_argument", d->result ? "error" : "result",
                       "send either result (success) or error (failure)");
    if (d->result) {
        if (!cJSON_IsObject(d->result))
            return jc_fail(err, 400, "invalid_argument", "result", "must be an object");
        if (aitbc_json_int(cJSON_GetObjectItemCaseSensitive(b, "units"), &d->units) != 0 ||
            d->units < 0)
            return jc_fail(err, 400, "invalid_argument", "units", "must be an integer >= 0");
        d->sig = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "miner_signature"));
        if (!d->sig || strlen(d->sig) > 128)
            return jc_fail(err, 400, "invalid_argument", "miner_signature",
                           "must be a base64url Ed25519 signature");
        if (cJSON_GetObjectItemCaseSensitive(b, "retryable"))
            return jc_fail(err, 400, "invalid_argument", "retryable", "only with error");
        return aitbc_json_sha256_hex(d->result, d->sha) == 0
                   ? 0
                   : jc_fail(err, 400, "invalid_argument", "result", "cannot be canonicalised");
    }
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(d->error, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(d->error, "message");
    if (!cJSON_IsObject(d->error) || !cJSON_IsString(code) || strlen(code->valuestring) == 0 ||
        strlen(code->valuestring) > 64 || (msg && !cJSON_IsString(msg)) ||
        aitbc_json_unknown_key(d->error, k_error_keys))
        return jc_fail(err, 400, "invalid_argument", "error",
                       "must be {\"code\": string(1..64), \"message\": string}");
    if (cJSON_GetObjectItemCaseSensitive(b, "units") ||
        cJSON_GetObjectItemCaseSensitive(b, "miner_signature"))
        return jc_fail(err, 400, "invalid_argument", "units", "only with result");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(b, "retryable");
    if (r && !cJSON_IsBool(r))
        return jc_fail(err, 400, "invalid_argument", "retryable", "must be a boolean");
    d->retryable = cJSON_IsTrue(r);
    return aitbc_json_sha256_hex(d->error, d->sha) == 0 ? 0 : AITBC_EINVAL;
}

int cl_attempt_held(client_state *cs, aitbc_txn *t, const char *job_id, const char *miner,
                    int64_t attempt) {
    aitbc_stmt *s = cs->api->stmt(t, "SELECT 1 FROM client_attempts WHERE job_id = ?1 AND "
                                     "miner = ?2 AND (CAST(?3 AS INTEGER) = 0 OR attempt = ?3)");
    if (!s) return AITBC_EIO;
    cs->api->bind_text(s, 1, job_id);
    cs->api->bind_text(s, 2, miner);
    cs->api->bind_int64(s, 3, attempt);
    int rc = cs->api->step(s);
    cs->api->stmt_done(s);
    return rc == AITBC_ROW ? 1 : rc == AITBC_DONE ? 0 : rc;
}

static cJSON *answer_of(const cl_job *j) {
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "job_id", j->job_id);
    cJSON_AddStringToObject(a, "state", j->state);
    cJSON *r = j->receipt ? cJSON_Parse(j->receipt) : NULL;
    cJSON_AddItemToObject(a, "receipt", r ? r : cJSON_CreateNull());
    return a;
}

/* The earlier completion's answer if this is a repeat of it; NULL otherwise. */
static cJSON *replay(const cl_job *j, const char *miner, const cl_done *d) {
    if (!cl_terminal(j->state) || strcmp(j->miner, miner) != 0 || j->attempt != d->attempt ||
        !j->receipt)
        return NULL;
    cJSON *r = cJSON_Parse(j->receipt);
    const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "result_sha256"));
    int same = sha && strcmp(sha, d->sha) == 0;
    cJSON_Delete(r);
    return same ? answer_of(j) : NULL;
}

static int complete_in(client_state *cs, aitbc_txn *t, cl_job *j, const char *job_id,
                       const char *miner, const char *pk, const cl_done *d, int max_attempts,
                       cl_events *ev, cJSON **answer, aitbc_jobs_error *err) {
    int rc = cl_job_load(cs, t, job_id, j);
    if (rc < 0) return rc;
    if (rc == 0) return jc_fail(err, 404, "not_found", NULL, "no such job");
    int was_assigned = strcmp(j->miner, miner) == 0;
    if (!was_assigned && (rc = cl_attempt_held(cs, t, job_id, miner, 0)) <= 0)
        return rc < 0 ? rc : jc_fail(err, 403, "forbidden", NULL, "not the job's miner");
    if ((*answer = replay(j, miner, d))) return 0;
    if (strcmp(j->state, "RUNNING") != 0 || !was_assigned || j->attempt != d->attempt)
        return jc_fail(err, 409, "lease_lost", "attempt",
                       "the lease of this attempt is gone (job %s, attempt %lld)", j->state,
                       (long long)j->attempt);
    if (d->result) {
        char text[256];
        if (jc_result_text(job_id, d->attempt, d->sha, d->units, text, sizeof text) < 0 ||
            aitbc_ed25519_verify_b64(pk, d->sig, text, strlen(text)) != 0)
            return jc_fail(err, 400, "invalid_signature", "miner_signature",
                           "miner_signature does not verify over aitbc-result-v1");
        free(j->result);
        j->result = aitbc_json_canonical(d->result);
        j->units = d->units;
        free(j->miner_sig);
        j->miner_sig = strdup(d->sig);
        if (!j->result || !j->miner_sig) return AITBC_ENOMEM;
        rc = cl_end_completed(cs, t, j, pk, ev);
    } else {
        free(j->error);
        j->error = aitbc_json_canonical(d->error);
        if (!j->error) return AITBC_ENOMEM;
        if (d->retryable && j->attempt < max_attempts)
            rc = cl_requeue_or_fail(cs, t, j, max_attempts, "retryable", ev);
        else
            rc = cl_end_refund(cs, t, j, "FAILED", d->error, ev);
    }
    if (rc == 0) *answer = answer_of(j);
    return rc;
}

int cl_complete(void *self, const char *job_id, const char *miner, const char *miner_pubkey_hex,
                const cJSON *body, int max_attempts, cJSON **answer, aitbc_jobs_error *err) {
    client_state *cs = self;
    cl_done d;
    *answer = NULL;
    memset(err, 0, sizeof *err);
    if (parse_done(body, &d, err) != 0)
        return err->status ? AITBC_EINVAL : jc_fail(err, 400, "invalid_argument", NULL, "bad body");
    aitbc_txn *t = cs->api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return jc_fail(err, 503, "unavailable", NULL, "database busy");
    cl_events ev = {0};
    cl_job j = {0};
    int rc =
        complete_in(cs, t, &j, job_id, miner, miner_pubkey_hex, &d, max_attempts, &ev, answer, err);
    cl_job_free(&j);
    if (rc == 0 && !err->status)
        rc = cs->api->txn_commit(t);
    else
        cs->api->txn_rollback(t);
    if (rc != 0 || err->status) {
        cl_events_drop(&ev);
        cJSON_Delete(*answer);
        *answer = NULL;
        if (!err->status)
            jc_fail(err, rc == AITBC_EBUSY ? 503 : 500,
                    rc == AITBC_EBUSY ? "unavailable" : "internal", NULL,
                    "could not record the completion");
        return rc ? rc : AITBC_EINVAL;
    }
    cl_events_flush(cs, &ev);
    return 0;
}
