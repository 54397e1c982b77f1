/* at_check_receipt: inputs from files or a node, the verdict from the SDK. */
#include "receipt_check.h"
#include "files.h"
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT_RECEIPT_FILE_MAX (1u << 20) /* a receipt or a key answer is a few hundred bytes */
#define AT_DATA_FILE_MAX (64u << 20)   /* payloads and results may carry images */

static const char k_key_route[] = "/v1/receipts/public-key";

void at_key_url(const char *source, char *out, size_t cap) {
    size_t n = strlen(source), r = sizeof k_key_route - 1;
    if (n >= r && strcmp(source + n - r, k_key_route) == 0) {
        snprintf(out, cap, "%s", source);
        return;
    }
    while (n > 0 && source[n - 1] == '/')
        n--;
    snprintf(out, cap, "%.*s%s", (int)n, source, k_key_route);
}

static int fail(at_verdict *v, const char *fmt, const char *a, const char *b)
    __attribute__((format(printf, 2, 0)));
static int fail(at_verdict *v, const char *fmt, const char *a, const char *b) {
    int n = snprintf(v->reason, sizeof v->reason, fmt, a, b);
    if (n >= (int)sizeof v->reason) /* a long path or URL: the line is cut, still one line */
        memcpy(v->reason + sizeof v->reason - 4, "...", 4);
    v->ok = 0;
    return 1;
}

/* The coordinator keys, from a file or a node. NULL after filling v. */
static cJSON *load_keys(const char *source, at_verdict *v) {
    char err[512], why[AITBC_RECEIPT_REASON_MAX];
    cJSON *keys = NULL;
    if (at_is_url(source)) {
        char url[2048];
        at_key_url(source, url, sizeof url);
        at_req rq = {.method = "GET", .url = url, .timeout_s = 20};
        at_resp r;
        if (at_http(&rq, &r, err, sizeof err) != 0) {
            fail(v, "cannot fetch the coordinator key: %s%s", err, "");
            return NULL;
        }
        if (r.status != 200) {
            snprintf(err, sizeof err, "%ld", r.status);
            fail(v, "cannot fetch the coordinator key: %s answered HTTP %s", url, err);
        } else if (!(keys = aitbc_receipt_keys_parse(r.body, r.len, why, sizeof why))) {
            fail(v, "%s: %s", url, why);
        }
        at_resp_free(&r);
        return keys;
    }
    size_t n = 0;
    char *text = at_read_file(source, AT_RECEIPT_FILE_MAX, &n, err, sizeof err);
    if (!text) {
        fail(v, "cannot read the coordinator key: %s%s", err, "");
        return NULL;
    }
    keys = aitbc_receipt_keys_parse(text, n, why, sizeof why);
    free(text);
    if (!keys) fail(v, "%s: %s", source, why);
    return keys;
}

/* Optional JSON input: 0 and *out (NULL when no path), or 1 after filling v. */
static int optional_json(const char *path, const char *what, cJSON **out, at_verdict *v) {
    char err[512];
    *out = NULL;
    if (!path) return 0;
    *out = at_read_json(path, AT_DATA_FILE_MAX, err, sizeof err);
    return *out ? 0 : fail(v, "cannot read the %s: %s", what, err);
}

int at_check_receipt(const at_check_args *a, at_verdict *v) {
    char err[512];
    memset(v, 0, sizeof *v);
    snprintf(v->receipt_id, sizeof v->receipt_id, "?");
    cJSON *doc = at_read_json(a->receipt_path, AT_RECEIPT_FILE_MAX, err, sizeof err);
    if (!doc) return fail(v, "cannot read the receipt: %s%s", err, "");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "receipt");
    const char *rid = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_IsObject(r) ? r : doc, "receipt_id"));
    if (rid) snprintf(v->receipt_id, sizeof v->receipt_id, "%s", rid);
    cJSON *payload = NULL, *result = NULL, *job = NULL, *keys = NULL;
    int rc = optional_json(a->payload_path, "payload", &payload, v);
    if (rc == 0) rc = optional_json(a->result_path, "result", &result, v);
    if (rc == 0) rc = optional_json(a->job_path, "job", &job, v);
    if (rc == 0 && !(keys = load_keys(a->key_source, v))) rc = 1;
    if (rc == 0) {
        /* A job supplies what was not given separately: its payload, and its result (COMPLETED)
         * or error (FAILED), the object result_sha256 covers. */
        const cJSON *jp = cJSON_GetObjectItemCaseSensitive(job, "payload");
        const cJSON *jr = cJSON_GetObjectItemCaseSensitive(job, "result");
        if (!cJSON_IsObject(jr)) jr = cJSON_GetObjectItemCaseSensitive(job, "error");
        const cJSON *p = payload ? payload : cJSON_IsObject(jp) ? jp : NULL;
        const cJSON *res = result ? result : cJSON_IsObject(jr) ? jr : NULL;
        if (job && (!p || !res)) {
            rc = fail(v, "the job %s has no %s to check", a->job_path, p ? "result" : "payload");
        } else {
            rc = aitbc_receipt_verify(doc, keys, p, res, v->reason, sizeof v->reason) == 0 ? 0 : 1;
            v->ok = rc == 0;
        }
    }
    cJSON_Delete(doc);
    cJSON_Delete(payload);
    cJSON_Delete(result);
    cJSON_Delete(job);
    cJSON_Delete(keys);
    return rc;
}
