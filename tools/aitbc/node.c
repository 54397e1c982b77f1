/* Calls to the node and what to tell the user when one fails: the node's own error (code,
 * message, field), the Request-Id to quote, and the one thing most likely to fix it. */
#include "cli.h"

#include <aitbc/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_print_json(const cJSON *v) {
    char *text = aitbc_json_print(v);
    if (text) puts(text);
    free(text);
}

static const char *hint_for(const cli *c, long status, const char *code) {
    static char buf[512];
    if (status == 401) {
        snprintf(buf, sizeof buf,
                 "check the API key%s%s (--api-key, AITBC_API_KEY or api_key: in "
                 "~/.config/aitbc/config.yaml)",
                 c->key_from ? " from " : "", c->key_from ? c->key_from : "");
        return c->api_key[0] ? buf
                             : "this needs an API key: --api-key, AITBC_API_KEY or api_key: "
                               "in ~/.config/aitbc/config.yaml";
    }
    if (status == 402)
        return "top up the account: an operator mints AIT to your address (POST /v1/admin/mint), "
               "or lower --max-price";
    if (status == 403)
        return "this key's role may not do that: jobs need a client key, miner status that "
               "miner's key or an admin key";
    if (status == 404) return "check the id (jobs of other accounts are not visible)";
    if (status == 409 && code && strcmp(code, "not_ready") == 0)
        return "the job has not finished yet: aitbc job get ID --wait 30";
    if (status == 429) return "slow down and retry after the time the node asked for";
    if (status >= 500) return "the node failed; retry later and quote the Request-Id if it stays";
    return NULL;
}

static int refused(cli *c, const char *method, const char *path, at_resp *r) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
    const char *field = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "field"));
    if (c->json && e) cli_print_json(r->json);
    cli_err("%s %s: HTTP %ld %s: %s%s%s%s", method, path, r->status, code ? code : "error",
            msg ? msg : "(no message)", field ? " (field " : "", field ? field : "",
            field ? ")" : "");
    const char *hint = hint_for(c, r->status, code);
    if (hint)
        fprintf(stderr, "  %s%s%s\n", hint, r->retry_after[0] ? ": Retry-After " : "",
                r->retry_after[0] ? r->retry_after : "");
    if (r->request_id[0]) fprintf(stderr, "  Request-Id: %s\n", r->request_id);
    at_resp_free(r);
    return CLI_REFUSED;
}

int cli_call(cli *c, const char *method, const char *path, const char *body, at_resp *out) {
    char url[2048], err[1024];
    snprintf(url, sizeof url, "%s%s", c->url, path);
    at_req rq = {.method = method,
                 .url = url,
                 .api_key = c->api_key[0] ? c->api_key : NULL,
                 .body = body,
                 .timeout_s = 60};
    if (at_http(&rq, out, err, sizeof err) != 0) {
        if (c->json) {
            cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
            cJSON_AddStringToObject(e, "code", "unreachable");
            cJSON_AddStringToObject(e, "message", err);
            cli_print_json(o);
            cJSON_Delete(o);
        }
        cli_err("%s", err);
        fprintf(stderr,
                "  is the node running at %s (from %s)? Set it with --url, AITBC_URL or "
                "url: in ~/.config/aitbc/config.yaml\n",
                c->url, c->url_from ? c->url_from : "?");
        return CLI_UNREACHABLE;
    }
    if (out->status < 200 || out->status > 299) return refused(c, method, path, out);
    if (!out->json) {
        cli_err("%s %s: HTTP %ld but the answer is not JSON: is %s an AITBC node?", method, path,
                out->status, c->url);
        at_resp_free(out);
        return CLI_UNREACHABLE;
    }
    return CLI_OK;
}
