/* One table from AITBC_E* codes to HTTP answers, and the body / paging checks every route does. */
#include "aitbc/answer.h"
#include "aitbc/errors.h"
#include "aitbc/host.h"
#include "aitbc/json.h"

#include <stddef.h>
#include <string.h>

typedef struct rc_answer {
    int rc;
    unsigned status;
    const char *code;
    const char *message;
} rc_answer;

static const rc_answer k_answers[] = {
    {AITBC_EINVAL, 400, "invalid_argument", "invalid request"},
    {AITBC_EOVERFLOW, 400, "invalid_argument", "amount too large"},
    {AITBC_ESIG, 400, "invalid_signature", "signature does not verify"},
    {AITBC_EAUTH, 401, "unauthenticated", "a valid API key is required"},
    {AITBC_EFUNDS, 402, "insufficient_funds", "available balance too low"},
    {AITBC_EFORBIDDEN, 403, "forbidden", "not allowed"},
    {AITBC_ENOTFOUND, 404, "not_found", "not found"},
    {AITBC_EEXIST, 409, "conflict", "already exists"},
    {AITBC_ECONFLICT, 409, "conflict", "state changed; not possible now"},
    {AITBC_ERATE, 429, "rate_limited", "too many requests"},
    {AITBC_EBUSY, 503, "unavailable", "database busy, retry"},
    {AITBC_EUNAVAIL, 503, "unavailable", "a required service is unavailable"},
};

void aitbc_respond_rc(const aitbc_host_api *api, aitbc_plugin_ctx *ctx, aitbc_request *req, int rc,
                      const aitbc_rc_text *own) {
    const rc_answer *a = NULL;
    for (size_t i = 0; i < sizeof k_answers / sizeof *k_answers && !a; i++)
        if (k_answers[i].rc == rc) a = &k_answers[i];
    const aitbc_rc_text *t = own;
    while (t && t->rc && t->rc != rc)
        t++;
    if (t && !t->rc) t = NULL;
    if (!a) {
        api->log(ctx, AITBC_LOG_ERROR, "request failed (%d)", rc);
        api->respond_error(req, 500, "internal", NULL, "%s", t ? t->message : "internal error");
        return;
    }
    api->respond_error(req, a->status, a->code, t ? t->field : NULL, "%s",
                       t ? t->message : a->message);
}

void aitbc_respond_jobs_error(const aitbc_host_api *api, aitbc_request *req,
                              const aitbc_jobs_error *e) {
    api->respond_error(req, e->status ? e->status : 500, e->code[0] ? e->code : "internal",
                       e->field[0] ? e->field : NULL, "%s",
                       e->message[0] ? e->message : "Internal error.");
}

const cJSON *aitbc_req_object(const aitbc_host_api *api, aitbc_request *req,
                              const char *const *allowed) {
    const cJSON *body = api->req_json(req);
    if (!cJSON_IsObject(body)) {
        api->respond_error(req, 400, "invalid_argument", NULL, "body must be a JSON object");
        return NULL;
    }
    const char *unknown = aitbc_json_unknown_key(body, allowed);
    if (unknown) {
        api->respond_error(req, 400, "invalid_argument", unknown, "unknown field '%.64s'", unknown);
        return NULL;
    }
    return body;
}

int aitbc_req_limit(const aitbc_host_api *api, aitbc_request *req, int *limit) {
    if (aitbc_page_limit(api->req_query(req, "limit"), limit) == 0) return 0;
    api->respond_error(req, 400, "invalid_argument", "limit", "limit must be an integer 1..%d",
                       AITBC_LIMIT_MAX);
    return -1;
}

int aitbc_req_cursor(const aitbc_host_api *api, aitbc_request *req, const char *tag, int64_t *key,
                     char tie[AITBC_CURSOR_TIE_MAX]) {
    const char *text = api->req_query(req, "cursor");
    if (!text || !text[0]) return 0;
    int64_t k;
    char t[AITBC_CURSOR_TIE_MAX] = {0};
    int rc = aitbc_cursor_decode(text, tag, &k, tie ? t : NULL);
    if (rc != 0) {
        api->respond_error(req, 400, "invalid_argument", "cursor",
                           rc == AITBC_ECONFLICT ? "cursor was made for other filters"
                                                 : "malformed cursor");
        return -1;
    }
    *key = k;
    if (tie) memcpy(tie, t, sizeof t);
    return 1;
}
