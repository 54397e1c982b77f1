/* web: the node's web interface. Serves plain HTML/CSS/ES modules compiled into the plugin; the
 * page itself talks only to the public HTTP API and WebSocket tickets, so it works behind
 * http.path_prefix like any other client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "web.h"

static const aitbc_cfg_key k_schema[] = {
    {"websocket_url", AITBC_CFG_STRING, 0,
     "ws:// or wss:// URL of the WebSocket listener as browsers reach it (default: the page's host "
     "name, port 18001, path /ws)",
     .def = NULL},
    {0},
};

/* ws(s)://host[:port]/path → the origin part for connect-src. */
static int ws_origin(const char *url, char *out, size_t cap) {
    const char *rest = strncmp(url, "ws://", 5) == 0    ? url + 5
                       : strncmp(url, "wss://", 6) == 0 ? url + 6
                                                        : NULL;
    if (!rest || !*rest) return -1;
    size_t host = strcspn(rest, "/?#");
    for (size_t i = 0; i < host; i++)
        if (!(rest[i] == '.' || rest[i] == ':' || rest[i] == '-' || rest[i] == '[' ||
              rest[i] == ']' || (rest[i] >= '0' && rest[i] <= '9') ||
              (rest[i] >= 'a' && rest[i] <= 'z') || (rest[i] >= 'A' && rest[i] <= 'Z')))
            return -1; /* nothing that could break out of the CSP header */
    if (host == 0 || (size_t)(rest - url) + host >= cap) return -1;
    snprintf(out, cap, "%.*s", (int)((size_t)(rest - url) + host), url);
    return 0;
}

static int web_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (sodium_init() < 0) return AITBC_EIO;
    web_state *ws = calloc(1, sizeof *ws);
    if (!ws) return AITBC_ENOMEM;
    ws->ctx = ctx;
    ws->api = api;
    *state = ws;
    const char *url =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(api->config(ctx), "websocket_url"));
    char origin[256] = "ws://*:18001 wss://*:18001";
    if (url && ws_origin(url, origin, sizeof origin) != 0) {
        api->log(ctx, AITBC_LOG_ERROR, "websocket_url: must be ws://host[:port]/path or wss://…");
        return AITBC_EINVAL;
    }
    snprintf(ws->csp, sizeof ws->csp,
             "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
             "connect-src 'self' %s; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
             origin);
    return web_files_load(ws, url);
}

static int web_start(void *state) {
    return web_routes(state);
}

static void web_stop(void *state) {
    (void)state;
}

static void web_destroy(void *state) {
    web_state *ws = state;
    if (!ws) return;
    web_files_free(ws);
    free(ws);
}

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "web",
    .version = "0.1.0",
    .description = "Web interface: sign-up, account, jobs, explorer, marketplace, exchange, admin",
    .provides = NULL,
    .requires = NULL,
    .config_schema = k_schema,
    .init = web_init,
    .start = web_start,
    .stop = web_stop,
    .destroy = web_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
