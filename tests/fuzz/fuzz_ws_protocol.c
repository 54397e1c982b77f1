/* Fuzz target: the WebSocket client protocol parser (host/ws_protocol.c). Every message a
 * client sends goes through ws_request_parse. Invariants, abort() on violation:
 *  - 0 means a valid method; subscribe/unsubscribe then carry an array of at most WS_MAX_SUBS
 *    strings; ping carries no topics;
 *  - an error means WS_M_INVALID with a code and message, and no topics;
 *  - an id, when kept, is a string or a number, and both reply builders produce JSON that our
 *    strict parser accepts (what we send back must be valid even for hostile ids). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aitbc/errors.h"
#include "aitbc/json.h"
#include "ws_internal.h"

static void check_reply(char *text) {
    if (!text) abort();
    cJSON *j = aitbc_json_parse_strict(text, strlen(text));
    if (!cJSON_IsObject(j)) abort();
    cJSON_Delete(j);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ws_request r;
    int rc = ws_request_parse((const char *)data, size, &r);
    if (rc == 0) {
        if (r.method == WS_M_INVALID || r.err_code) abort();
        if (r.method == WS_M_PING && r.topics) abort();
        if (r.method == WS_M_SUBSCRIBE || r.method == WS_M_UNSUBSCRIBE) {
            if (!cJSON_IsArray(r.topics) || cJSON_GetArraySize(r.topics) > WS_MAX_SUBS) abort();
            const cJSON *t;
            cJSON_ArrayForEach(t, r.topics) {
                if (!cJSON_IsString(t) || !t->valuestring) abort();
                (void)ws_topic_name_ok(t->valuestring);
            }
        }
    } else {
        if (rc != AITBC_EINVAL || r.method != WS_M_INVALID || !r.err_code || !r.err_msg || r.topics)
            abort();
    }
    if (r.id && !cJSON_IsString(r.id) && !cJSON_IsNumber(r.id)) abort();
    check_reply(ws_reply_error(r.id, r.err_code ? r.err_code : "invalid_argument",
                               r.err_msg ? r.err_msg : "x"));
    check_reply(ws_reply_result(r.id, cJSON_CreateObject()));
    ws_request_free(&r);
    return 0;
}
