/* The WebSocket client protocol as API.md fixes it: parsing what a client sends
 * ({"method","params","id"?}), building replies and errors, and the subscribe permission rule.
 * Pure functions over cJSON; every message is hostile input. */
#include "aitbc/errors.h"
#include "ws_internal.h"
#include "aitbc/json.h"
#include <string.h>

static void fail(ws_request *out, const char *code, const char *msg) {
    out->method = WS_M_INVALID;
    out->err_code = code;
    out->err_msg = msg;
}

static int topics_ok(const cJSON *params) {
    if (!cJSON_IsArray(params)) return 0;
    int n = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, params) {
        if (!cJSON_IsString(t) || !t->valuestring) return 0;
        n++;
    }
    return n <= WS_MAX_SUBS;
}

int ws_request_parse(const char *text, size_t len, ws_request *out) {
    memset(out, 0, sizeof(*out));
    if (!text || len > WS_MSG_MAX) {
        fail(out, "invalid_argument", "message too large");
        return AITBC_EINVAL;
    }
    cJSON *root = aitbc_json_parse_strict(text, len);
    if (!root) {
        fail(out, "invalid_json", "message is not valid JSON");
        return AITBC_EINVAL;
    }
    int rc = AITBC_EINVAL;
    if (!cJSON_IsObject(root)) {
        fail(out, "invalid_argument", "message must be a JSON object");
        goto done;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (id) {
        if (!cJSON_IsString(id) && !cJSON_IsNumber(id)) {
            fail(out, "invalid_argument", "id must be a string or a number");
            goto done;
        }
        out->id = cJSON_Duplicate(id, 0);
        if (!out->id) {
            fail(out, "internal", "out of memory");
            goto done;
        }
    }
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(root, "method");
    if (!cJSON_IsString(method) || !method->valuestring) {
        fail(out, "invalid_argument", "method must be a string");
        goto done;
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
    const char *m = method->valuestring;
    if (!strcmp(m, "ping")) {
        out->method = WS_M_PING;
        rc = 0;
        goto done;
    }
    ws_method which;
    if (!strcmp(m, "subscribe"))
        which = WS_M_SUBSCRIBE;
    else if (!strcmp(m, "unsubscribe"))
        which = WS_M_UNSUBSCRIBE;
    else {
        fail(out, "unknown_method", "unknown method (subscribe, unsubscribe, ping)");
        goto done;
    }
    if (!topics_ok(params)) {
        fail(out, "invalid_argument", "params must be an array of at most 64 topic names");
        goto done;
    }
    out->topics = cJSON_Duplicate(params, 1);
    if (!out->topics) {
        fail(out, "internal", "out of memory");
        goto done;
    }
    out->method = which;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

void ws_request_free(ws_request *r) {
    if (!r) return;
    cJSON_Delete(r->id);
    cJSON_Delete(r->topics);
    r->id = r->topics = NULL;
}

/* {"id"?, key: value}; TAKES value. */
static char *reply(const cJSON *id, const char *key, cJSON *value) {
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (!o || !value) goto out;
    if (id) {
        cJSON *copy = cJSON_Duplicate(id, 0);
        if (!copy) goto out;
        cJSON_AddItemToObject(o, "id", copy);
    }
    cJSON_AddItemToObject(o, key, value);
    value = NULL;
    text = aitbc_json_print(o);
out:
    cJSON_Delete(value);
    cJSON_Delete(o);
    return text;
}

char *ws_reply_result(const cJSON *id, cJSON *result) {
    return reply(id, "result", result);
}

char *ws_reply_error(const cJSON *id, const char *code, const char *message) {
    cJSON *e = cJSON_CreateObject();
    if (e && (!cJSON_AddStringToObject(e, "code", code) ||
              !cJSON_AddStringToObject(e, "message", message))) {
        cJSON_Delete(e);
        e = NULL;
    }
    return reply(id, "error", e);
}

ws_topic_verdict ws_topic_check(const aitbc_topic *decl, const aitbc_principal *who) {
    if (!decl) return WS_TOPIC_UNKNOWN;
    /* roles == 0 (AITBC_ROLE_PUBLIC) means nobody is kept out, like AITBC_ROLE_ANY. */
    if (decl->roles != AITBC_ROLE_PUBLIC && !(decl->roles & who->role)) return WS_TOPIC_FORBIDDEN;
    return WS_TOPIC_OK;
}

const char *ws_topic_reason(ws_topic_verdict v) {
    switch (v) {
    case WS_TOPIC_FORBIDDEN:
        return "forbidden";
    case WS_TOPIC_UNKNOWN:
        return "unknown_topic";
    default:
        return NULL;
    }
}

int ws_topic_name_ok(const char *name) {
    size_t n = 0;
    if (!name) return 0;
    for (; name[n]; n++)
        if ((unsigned char)name[n] <= 0x20 || (unsigned char)name[n] >= 0x7f ||
            n >= WS_TOPIC_MAX - 1)
            return 0;
    return n > 0;
}
