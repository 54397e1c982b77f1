/* One HTTP exchange with an AITBC node over libcurl, for the command-line tools (the `aitbc`
 * client and aitbc-host's offline receipt check). Plain blocking calls; each program calls
 * curl_global_init once before its first request. */
#ifndef AITBC_TOOLS_HTTP_H
#define AITBC_TOOLS_HTTP_H

#include <cjson/cJSON.h>
#include <stddef.h>

/** Largest answer read (a job result may be big); more is an error. */
#define AT_HTTP_MAX_BODY (64u << 20)

typedef struct at_req {
    const char *method;          /**< "GET", "POST", "DELETE" */
    const char *url;             /**< absolute http:// or https:// URL */
    const char *api_key;         /**< X-Api-Key, or NULL */
    const char *body;            /**< JSON text, or NULL for none */
    const char *idempotency_key; /**< Idempotency-Key, or NULL */
    long timeout_s;              /**< whole exchange; 0 = 30 s */
} at_req;

typedef struct at_resp {
    long status; /**< HTTP status */
    char *body;  /**< NUL-terminated */
    size_t len;
    cJSON *json;          /**< body parsed, or NULL */
    char retry_after[16]; /**< Retry-After header, "" if none */
    char request_id[64];  /**< Request-Id header, "" if none */
} at_resp;

/** Send rq. 0 when an answer arrived (any status; caller frees with at_resp_free), or -1 with a
 *  sentence in err saying what went wrong and what to check. */
int at_http(const at_req *rq, at_resp *out, char *err, size_t cap);
void at_resp_free(at_resp *r);

/** 1 if text starts with http:// or https://. */
int at_is_url(const char *text);

#endif
