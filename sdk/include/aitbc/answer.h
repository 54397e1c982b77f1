/* The HTTP glue every plugin's route handlers share: an AITBC_E* code as the documented error
 * answer, a request body that must be an object with only known fields, and a list's ?limit= and
 * ?cursor=. Each answers the request itself when it fails, with the status and error code of
 * docs/api.md, so a handler only returns. */
#ifndef AITBC_ANSWER_H
#define AITBC_ANSWER_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "jobs.h"
#include "paging.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aitbc_host_api aitbc_host_api;
typedef struct aitbc_plugin_ctx aitbc_plugin_ctx;
typedef struct aitbc_request aitbc_request;

/** A plugin's own wording for one code: which field to name (or NULL) and the message. */
typedef struct aitbc_rc_text {
    int rc; /**< an AITBC_E* code; a zeroed entry ends a list */
    const char *field;
    const char *message;
} aitbc_rc_text;

/** Answers req for a failed rc: 400 invalid_argument (EINVAL, EOVERFLOW), 400 invalid_signature,
 *  401 unauthenticated, 402 insufficient_funds, 403 forbidden, 404 not_found, 409 conflict
 *  (EEXIST, ECONFLICT), 429 rate_limited, 503 unavailable (EBUSY, EUNAVAIL), else 500 internal
 *  (logged through ctx with rc). own (a list ending with a zeroed entry, or NULL) words a code
 *  the plugin's way; the status and error code stay the table's. */
void aitbc_respond_rc(const aitbc_host_api *api, aitbc_plugin_ctx *ctx, aitbc_request *req, int rc,
                      const aitbc_rc_text *own);

/** Answers req with a job service's error (aitbc_jobs_error): its status, code, field and message;
 *  500 internal for an empty one. */
void aitbc_respond_jobs_error(const aitbc_host_api *api, aitbc_request *req,
                              const aitbc_jobs_error *e);

/** The request's JSON body when it is an object with no member outside allowed
 *  (NULL-terminated); else NULL after answering 400 invalid_argument ("body must be a JSON
 *  object", or field = the unknown member, "unknown field '<name>'"). Borrowed from req. */
const cJSON *aitbc_req_object(const aitbc_host_api *api, aitbc_request *req,
                              const char *const *allowed);

/** ?limit= (absent: AITBC_LIMIT_DEFAULT; else 1..AITBC_LIMIT_MAX): 0 and *limit, or -1 after
 *  answering 400 invalid_argument, field "limit". */
int aitbc_req_limit(const aitbc_host_api *api, aitbc_request *req, int *limit);

/** ?cursor= of the list tagged tag (aitbc_cursor_tag): 0 when absent or empty (*key and tie
 *  untouched, so preset them to "from the start"), 1 with *key and tie (may be NULL) after
 *  the cursor, or -1 after answering 400 invalid_argument, field "cursor" (malformed, or made
 *  for other filters). */
int aitbc_req_cursor(const aitbc_host_api *api, aitbc_request *req, const char *tag, int64_t *key,
                     char tie[AITBC_CURSOR_TIE_MAX]);

#ifdef __cplusplus
}
#endif

#endif
