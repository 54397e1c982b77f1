/* auth-bench-echo: a benchmark-only plugin with two routes that do exactly the same trivial work,
 * one public and one behind auth, so the difference in requests/s is the cost of the auth check. */
#include <stdlib.h>

#include "aitbc/aitbc.h"

typedef struct echo_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
} echo_state;

static void h_echo(aitbc_request *req, void *user) {
    echo_state *st = user;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "echo", "ok");
    st->api->respond_json(req, 200, o);
}

static int echo_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    echo_state *st = calloc(1, sizeof *st);
    if (!st) return AITBC_ENOMEM;
    st->ctx = ctx;
    st->api = api;
    *state = st;
    return 0;
}

static int echo_start(void *state) {
    echo_state *st = state;
    aitbc_route pub = {.method = "GET",
                       .path = "/v1/bench/public",
                       .roles = AITBC_ROLE_PUBLIC,
                       .handler = h_echo,
                       .user = st};
    aitbc_route auth = {.method = "GET",
                        .path = "/v1/bench/auth",
                        .roles = AITBC_ROLE_ANY,
                        .handler = h_echo,
                        .user = st};
    int rc = st->api->route(st->ctx, &pub);
    return rc ? rc : st->api->route(st->ctx, &auth);
}

static void echo_stop(void *state) {
    (void)state;
}

static void echo_destroy(void *state) {
    free(state);
}

static const char *const k_requires[] = {"auth@1", NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "auth-bench-echo",
    .version = "1.0.0",
    .description = "benchmark only: the same handler on a public and an authenticated route",
    .requires = k_requires,
    .init = echo_init,
    .start = echo_start,
    .stop = echo_stop,
    .destroy = echo_destroy,
};

const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
