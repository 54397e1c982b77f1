/* Records the integration tests' HTTP traffic for the OpenAPI check (tests/openapi/): with
 * AITBC_API_RECORD=<dir> set, every request/response pair sent through th_req* is appended as one
 * JSON line to <dir>/<test program>.<pid>.jsonl. Unset, a call costs one pthread_once check. */
#ifndef AITBC_TEST_RECORDER_H
#define AITBC_TEST_RECORDER_H

#include "harness.h"

/** 1 when AITBC_API_RECORD names a directory (read once). */
int th_recording(void);
/** Append one call. prefix: the host's http.path_prefix ("" if none). req_type: the request's
 *  Content-Type (NULL if it had no body). */
void th_record(const char *prefix, const char *method, const char *path, const char *req_type,
               const char *req_body, const th_resp *resp);

#endif
